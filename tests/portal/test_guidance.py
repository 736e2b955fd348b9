"""Guidance on every page (issue 16 item 5): empty states that say what to do next, legends of
command types and states, help for every desktop option and key state, "expires in" countdowns,
and the enrollment page on a phone offering the same-device link before a QR code."""

import re

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from hermod_core.services.audit import Actor
from hermod_core.services.clients import client_set_enabled
from portal.guidance import (
    BOX_TOKEN_STATES,
    COMMAND_STATES,
    COMMAND_TYPES,
    FIELD_HELP,
    KEY_HELP,
    KEY_STATES,
)

PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Mobile Safari/537.36"
)
DESKTOP_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


@pytest.mark.parametrize("page", ["portal:provision", "portal:bulk"])
def test_provision_and_bulk_say_create_a_client_first(admin, operator, db, page) -> None:
    html = admin.get(reverse(page)).content.decode()
    assert 'id="no-clients"' in html
    assert "Create a client first" in html
    assert f'href="{reverse("portal:client_list")}#client-create"' in html
    # An operator cannot create one: told whom to ask instead.
    assert "Ask an admin to create one" in operator.get(reverse(page)).content.decode()


def test_a_disabled_client_does_not_count(admin, client_a) -> None:
    assert 'id="no-clients"' not in admin.get(reverse("portal:provision")).content.decode()
    client_set_enabled(client=client_a.client, enabled=False, actor=Actor.system("test"))
    assert 'id="no-clients"' in admin.get(reverse("portal:provision")).content.decode()


@pytest.mark.parametrize(
    ("page", "next_step"),
    [
        ("portal:client_list", "Create the first below"),
        ("portal:groups", "create a client first"),
        ("portal:invitations", "Create an enrollment link"),
        ("portal:bulk", "Upload a CSV above"),
        ("portal:commands", "Issue one from"),
        ("portal:callbacks", "Deliveries that fail appear here"),
        ("portal:users", "A user appears when a device is provisioned"),
        ("portal:audit", "Every change in the console"),
    ],
)
def test_every_empty_list_says_what_to_do_next(admin, db, page, next_step) -> None:
    html = admin.get(reverse(page)).content.decode()
    assert next_step in html


def test_a_filtered_empty_list_offers_to_clear_the_filters(admin, db) -> None:
    html = admin.get(reverse("portal:commands") + "?type=SIGN").content.decode()
    assert "No command matches these filters" in html


def escaped(text: str) -> str:
    return text.replace("'", "&#x27;").replace("<", "&lt;").replace(">", "&gt;")


def test_the_commands_page_has_a_legend_of_types_and_states(admin, db) -> None:
    html = admin.get(reverse("portal:commands")).content.decode()
    for code, text in [*COMMAND_TYPES.items(), *COMMAND_STATES.items()]:
        assert code in html
        assert escaped(text) in html
    assert "PROV" in COMMAND_TYPES
    assert COMMAND_TYPES["PROV"].startswith("provisioning")


def test_every_desktop_option_and_key_column_has_help(admin, client_a) -> None:
    html = admin.get(reverse("portal:provision")).content.decode()
    for text in [*FIELD_HELP.values(), *KEY_HELP.values()]:
        assert escaped(text) in html


def test_countdowns_read_expires_in(operator, client_a, invitation) -> None:
    html = HttpClient().get(reverse("enroll:page", args=[invitation.code])).content.decode()
    assert 'data-countdown-format="expires in {}"' in html
    assert re.search(r"The code <span[^>]*>expires at \d\d:\d\d UTC</span>", html)


def test_on_a_phone_the_enrollment_page_leads_with_the_app_link(invitation) -> None:
    url = reverse("enroll:page", args=[invitation.code])
    phone = HttpClient(HTTP_USER_AGENT=PHONE_UA).get(url).content.decode()
    assert 'id="enroll-code" class="on-phone"' in phone
    assert phone.index('id="app-link"') < phone.index('id="enroll-qr"')
    assert '<details class="other-device"' in phone  # the QR code folded away
    desktop = HttpClient(HTTP_USER_AGENT=DESKTOP_UA).get(url).content.decode()
    assert 'id="enroll-code" class="not-phone"' in desktop
    assert '<details class="other-device"' not in desktop
    assert 'id="enroll-qr"' in desktop


def test_the_profile_page_explains_key_states_and_the_box_token(operator, client_a) -> None:
    from tests.factories import make_profile

    profile = make_profile(client_a.client)
    html = operator.get(reverse("portal:profile", args=[profile.pk])).content.decode()
    assert f'<abbr title="{escaped(KEY_STATES["ACTIVE"])}">ACTIVE</abbr>' in html
    # make_profile's box has no token: it reads as revoked, with what that means.
    assert f'revoked <span class="helptext">{escaped(BOX_TOKEN_STATES["revoked"])}' in html
