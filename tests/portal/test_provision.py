"""Issuing a provisioning request from the console, as the API would create it."""

import base64
import re
from datetime import timedelta
from urllib.parse import quote, quote_plus

import pytest
from django.urls import reverse

from hermod_core.crypto.csr import parse_csr_b64
from hermod_core.models import AuditEvent, Command, Message, MessageState
from hermod_core.protocol.commands import parse_command_request
from hermod_core.protocol.results import result_body
from hermod_core.selectors.commands import command_result_view
from portal.models import EnrollmentInvitation
from portal.services.invitations import (
    invitation_code_hash,
)
from tests.factories import complete, make_profile, ping_from_page, provision_data


def test_the_form_offers_clients_subject_keys_and_desktop_options(operator, client_a, client_b):
    page = operator.get(reverse("portal:provision")).content.decode()
    for text in (
        "idm (group smartid)",
        "other-tenant (group acme)",
        "emailAddress",
        "keys-TOTAL_FORMS",
        "provisionreader",
        "hybridprofile",
        "disablepinresetbutton",
        "congratsmessage",
        "desktopKeyProtectionLevel",
        "oldadminkey",
        "BIOMETRICS",
    ):
        assert text in page


def test_issuing_creates_the_command_exactly_as_the_api_would(operator, operator_user, client_a):
    data = provision_data(
        client_a.client,
        smartcardid="card-7",
        adminkey="0" * 48,
        oldadminkey="f" * 48,
        provisionreader="2TPM",
        flag_singleprofile="true",
        flag_hybridprofile="false",
        congratsmessage="Welcome aboard!",
        protection_level="CONSENT",
    )
    response = operator.post(reverse("portal:provision"), data)
    command = Command.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:provision_session", args=[command.pk])
    assert (command.command_type, command.client, command.external_id) == (
        "PROV",
        client_a.client,
        "ext-1",
    )
    assert (command.lifespan, command.timeout) == (300, 600)
    body = command.body
    assert body["userid"] == "alice@example.com"
    assert body["profile"]["name"] == "Work phone"
    assert body["profile"]["servername"] == "hermod-test"
    keys = body["profile"]["keygenrequests"]
    assert [k["keyid"] for k in keys] == ["signer", "auth"]
    assert keys[1]["keytypeprios"] == [
        {"keytype": "EC", "keylength": "256", "responsemechanism": "ES256"}
    ]
    assert keys[1]["storageprios"] == ["TPM", "OS"]
    subject = parse_csr_b64(keys[0]["certreq"]).subject_string
    assert "CN=alice@example.com" in subject
    assert "O=Acme" in subject
    assert body["vscinfo"] == {
        "smartcardid": "card-7",
        "adminkey": "0" * 48,
        "oldadminkey": "f" * 48,
    }
    assert body["desktopExtensions"] == [
        {"key": "provisionreader", "data": "2TPM"},
        {"key": "singleprofile", "data": "true"},
        {"key": "hybridprofile", "data": "false"},
        {"key": "congratsmessage", "data": "Welcome aboard!"},
    ]
    assert body["desktopKeyProtectionLevel"] == "CONSENT"
    # The stored body is one the API accepts as is.
    parse_command_request("provision", {"commandHeader": command.header, "provCommand": body})
    event = AuditEvent.objects.get(action="command.issue")
    assert (event.actor_user, event.details["type"]) == (operator_user, "PROV")


def test_the_session_page_shows_the_qr_code_link_and_countdown(operator, client_a):
    operator.post(reverse("portal:provision"), provision_data(client_a.client))
    command = Command.objects.get()
    page = operator.get(reverse("portal:provision_session", args=[command.pk])).content.decode()
    uri = result_body(command_result_view(command))["destinations"][0]["uri"]
    assert '<div class="qr" id="enroll-qr"><svg' in page
    assert f'href="{uri.replace("&", "&amp;")}"' in page
    assert "Open in the desktop app" in page
    assert "data-countdown=" in page
    assert 'hx-trigger="every 2s"' in page


def test_the_status_hides_the_code_once_fetched_and_stops_when_done(operator, client_a):
    operator.post(reverse("portal:provision"), provision_data(client_a.client))
    command = Command.objects.get()
    url = reverse("portal:provision_status", args=[command.pk])
    waiting = operator.get(url, HTTP_HX_REQUEST="true")
    assert waiting.status_code == 200
    assert 'hx-swap-oob="true"' not in waiting.content.decode()
    Message.objects.filter(command=command).update(state=MessageState.FETCHED)
    fetched = operator.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert '<div id="enroll-code" hx-swap-oob="true"></div>' in fetched
    assert 'data-phase="FETCHED"' in fetched
    profile = make_profile(client_a.client, "alice@example.com")
    complete(command, profile)
    done = operator.get(url, HTTP_HX_REQUEST="true")
    assert done.status_code == 286
    assert reverse("portal:profile", args=[profile.pk]) in done.content.decode()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"adminkey": "ABC"}, "48 lowercase hexadecimal"),
        ({"provisionreader": "SomeTPM"}, "CreateTPM, FreeTPM"),
        ({"lifespan": 600, "timeout": 300}, "at least the lifespan"),
        ({"keys-0-keyid": "", "keys-2-keyid": ""}, "at least one key request"),
        ({"keys-2-keyid": "signer"}, "its own key id"),
        ({"keys-0-storages": "CLOUD"}, "comma-separated"),
        ({"keys-0-mechanism": "ES256"}, "An RSA key answers"),
        ({"subject_O": "", "subject_CN": ""}, "at least one attribute"),
        ({"subject_C": "Sweden"}, "at most 2 characters"),
        ({"userid": ""}, "This field is required"),
    ],
)
def test_invalid_requests_are_explained_and_create_nothing(operator, client_a, overrides, message):
    response = operator.post(
        reverse("portal:provision"), provision_data(client_a.client, **overrides)
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Command.objects.exists()


def test_protocol_errors_from_the_api_rules_are_shown(operator, client_a, settings):
    settings.HERMOD_MAX_IN_PROGRESS = 1
    operator.post(reverse("portal:provision"), provision_data(client_a.client))
    response = operator.post(reverse("portal:provision"), provision_data(client_a.client))
    assert response.status_code == 400
    assert "already has 1 commands in progress" in response.content.decode()


def test_a_non_provisioning_command_has_no_session_page(operator, client_a):
    profile = make_profile(client_a.client, "bob")
    ping_from_page(operator, profile, client_a.client)
    command = Command.objects.get()
    assert operator.get(reverse("portal:provision_session", args=[command.pk])).status_code == 404


def test_creating_an_invitation_shows_a_one_time_link_and_stores_its_hash(
    operator, client_a, operator_user
):
    posted = operator.post(
        reverse("portal:provision"), provision_data(client_a.client, action="invite")
    )
    # POST → redirect → GET: a reload of the result page issues no second invitation.
    assert posted.status_code == 302
    invitation = EnrollmentInvitation.objects.get()
    assert posted["Location"] == reverse("portal:invitation", args=[invitation.pk])
    response = operator.get(posted["Location"])
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    link = response.context["link"]
    code = re.fullmatch(r"http://testserver/enroll/([A-Za-z0-9_-]+)", link).group(1)
    assert len(base64.urlsafe_b64decode(code + "==")) * 8 >= 128
    assert invitation.code_hash == invitation_code_hash(code)
    assert code not in str(EnrollmentInvitation.objects.values().get())
    assert (invitation.userid, invitation.command.client) == ("alice@example.com", client_a.client)
    # The link's own lifetime (HERMOD_INVITATION_LIFETIME_HOURS), not the QR code's lifespan.
    assert invitation.expires_at - invitation.created_at >= timedelta(hours=72) - timedelta(
        seconds=5
    )
    assert invitation.expires_at > invitation.command.expires_at
    # Shown once: a reload of the result page shows no link and creates nothing.
    again = operator.get(posted["Location"]).content.decode()
    assert code not in again
    assert "shown once when it was made" in again
    assert EnrollmentInvitation.objects.count() == 1
    assert AuditEvent.objects.filter(action="invitation.create", actor_user=operator_user).exists()
    page = operator.get(reverse("portal:invitations")).content.decode()
    assert "alice@example.com" in page
    assert code not in page


def test_the_invitation_list_in_a_fixed_number_of_queries(
    operator, client_a, django_assert_max_num_queries
):
    for n in range(5):
        operator.post(
            reverse("portal:provision"),
            provision_data(client_a.client, action="invite", userid=f"u{n}"),
        )
    with django_assert_max_num_queries(5):
        page = operator.get(reverse("portal:invitations")).content.decode()
    assert all(f"u{n}" in page for n in range(5))


def test_the_session_page_offers_the_same_device_app_link_back_to_itself(operator, client_a):
    operator.post(reverse("portal:provision"), provision_data(client_a.client))
    command = Command.objects.get()
    session = reverse("portal:provision_session", args=[command.pk])
    page = operator.get(session).content.decode()
    destination = result_body(command_result_view(command))["destinations"][0]
    token = destination["uri"].rsplit("token=", 1)[1]
    location = destination["location"].removeprefix("http://")
    redirect = quote(f"http://testserver{session}", safe="")
    title = quote_plus(command.body["profile"]["servername"])
    link = f"personal://{location}?title={title}&redirect={redirect}&token={token}"
    assert f'id="app-link" href="{link.replace("&", "&amp;")}"' in page
    assert "Open in the app on this phone" in page
