"""The enrollment portal: a one-time link, no account, nothing leaked."""

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from hermod_core.lifecycle import State
from hermod_core.models import Command, Message, MessageState
from hermod_core.selectors.commands import command_result
from hermod_core.services.commands import command_transition
from hermod_core.services.console import ConsoleActor
from portal.provisioning import KeySpec, ProvisionSpec
from portal.services import IssuedInvitation, invitation_create
from tests.portal.helpers import complete, make_profile


def _spec(userid: str = "dave@example.com", congrats: str = "") -> ProvisionSpec:
    return ProvisionSpec(
        userid=userid,
        profile_name="Laptop",
        servername="hermod-test",
        subject=(("CN", "{userid}"),),
        keys=(KeySpec("signer", "SIG", "RSA", 2048, "RS256"),),
        lifespan=120,
        timeout=600,
        congratsmessage=congrats,
    )


@pytest.fixture
def invitation(client_a) -> IssuedInvitation:
    return invitation_create(
        actor=ConsoleActor(name="alice-admin"),
        client=client_a.client,
        spec=_spec(congrats="Welcome to Acme, Dave!"),
    )


def _page(invitation: IssuedInvitation):
    return HttpClient().get(reverse("enroll:page", args=[invitation.code]))


def _status(invitation: IssuedInvitation):
    return HttpClient().get(
        reverse("enroll:status", args=[invitation.code]), HTTP_HX_REQUEST="true"
    )


def test_the_page_shows_the_qr_code_desktop_button_countdown_and_live_status(invitation):
    response = _page(invitation)
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    page = response.content.decode()
    uri = command_result(invitation.invitation.command)["destinations"][0]["uri"]
    assert '<div class="qr" id="enroll-qr"><svg' in page
    assert f'href="{uri.replace("&", "&amp;")}"' in page
    assert "Open in the desktop app" in page
    assert "data-countdown=" in page
    assert f'hx-get="{reverse("enroll:status", args=[invitation.code])}"' in page
    assert 'hx-trigger="every 2s"' in page
    # Nothing about the user or the console.
    assert "dave@example.com" not in page
    assert "/console/" not in page
    invitation.invitation.refresh_from_db()
    assert invitation.invitation.opened_at is not None


def test_the_qr_code_disappears_once_the_app_fetched_it(invitation):
    Message.objects.filter(command=invitation.invitation.command).update(
        state=MessageState.FETCHED, fetched_at=timezone.now()
    )
    fragment = _status(invitation)
    assert fragment.status_code == 200
    text = fragment.content.decode()
    assert '<div id="enroll-code" hx-swap-oob="true"></div>' in text
    assert 'data-phase="FETCHED"' in text
    assert "<svg" not in _page(invitation).content.decode()


def test_the_status_ends_with_the_congratulations_and_stops_polling(invitation, client_a):
    complete(invitation.invitation.command, make_profile(client_a.client, "dave@example.com"))
    fragment = _status(invitation)
    assert fragment.status_code == 286
    assert "Welcome to Acme, Dave!" in fragment.content.decode()


def test_without_a_congratsmessage_a_plain_success_is_shown(client_a):
    issued = invitation_create(
        actor=ConsoleActor(name="x"), client=client_a.client, spec=_spec("erin")
    )
    complete(issued.invitation.command, make_profile(client_a.client, "erin"))
    assert "Your device is enrolled" in _status(issued).content.decode()


@pytest.mark.parametrize(
    ("state", "text"),
    [
        (State.FAILED, "did not succeed"),
        (State.EXPIRED, "has expired"),
        (State.CANCELLED, "was cancelled"),
    ],
)
def test_a_failed_expired_or_cancelled_enrollment_says_what_to_do(invitation, state, text):
    command_transition(
        command_id=invitation.invitation.command_id,
        to=state,
        failure_code="X",
        failure_reason="internal reason ABC",
    )
    fragment = _status(invitation)
    assert fragment.status_code == 286
    body = fragment.content.decode()
    assert text in body
    assert "new link" in body
    assert "internal reason ABC" not in body


def test_a_used_link_shows_a_friendly_page(invitation, client_a):
    complete(invitation.invitation.command, make_profile(client_a.client, "dave@example.com"))
    response = _page(invitation)
    assert response.status_code == 410
    page = response.content.decode()
    assert "already been used" in page
    assert "<svg" not in page
    assert "dave@example.com" not in page


def test_a_link_past_its_deadline_is_expired_even_before_the_sweep(invitation):
    Command.objects.filter(pk=invitation.invitation.command_id).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = _page(invitation)
    assert response.status_code == 410
    assert "has expired" in response.content.decode()


def test_an_unfetched_code_past_its_lifespan_is_expired(invitation):
    Message.objects.filter(command=invitation.invitation.command).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert "has expired" in _status(invitation).content.decode()


@pytest.mark.parametrize(
    "code",
    ["x" * 32, "short", "a" * 65, "not-a-code-but-long-enough-1234", "%00" * 10],
)
def test_an_unknown_or_malformed_code_gets_a_friendly_404(db, code):
    response = HttpClient().get(f"/enroll/{code}")
    assert response.status_code == 404
    assert "This link is not valid" in response.content.decode()


def test_the_status_of_an_unknown_code_stops_polling(db):
    response = HttpClient().get(reverse("enroll:status", args=["x" * 32]), HTTP_HX_REQUEST="true")
    assert response.status_code == 286
    assert "no longer valid" in response.content.decode()


def test_one_users_code_shows_nothing_of_another(client_a, client_b):
    mine = invitation_create(actor=ConsoleActor(name="x"), client=client_a.client, spec=_spec("me"))
    theirs = invitation_create(
        actor=ConsoleActor(name="x"), client=client_b.client, spec=_spec("them")
    )
    page = _page(mine).content.decode()
    their_uri = command_result(theirs.invitation.command)["destinations"][0]["uri"]
    assert their_uri.split("token=")[1] not in page
    assert "them" not in page


def test_the_page_offers_the_app_link_for_a_user_on_the_phone_returning_to_the_page(
    invitation, settings
):
    settings.HERMOD_APP_LINK_SCHEME = "acme-id"  # a branded app
    page = _page(invitation).content.decode()
    destination = command_result(invitation.invitation.command)["destinations"][0]
    token = destination["uri"].rsplit("token=", 1)[1]
    location = destination["location"].removeprefix("http://")
    back = quote(f"http://testserver{reverse('enroll:page', args=[invitation.code])}", safe="")
    link = f"acme-id://{location}?title=hermod-test&redirect={back}&token={token}"
    assert f'id="app-link" href="{link.replace("&", "&amp;")}"' in page
