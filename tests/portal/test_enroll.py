"""The enrollment portal: a one-time link, no account, nothing leaked."""

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from hermod_core.lifecycle import State
from hermod_core.models import AuditEvent, Client, Command, Message, MessageState
from hermod_core.protocol.results import result_body
from hermod_core.selectors.commands import command_result_view
from hermod_core.services.audit import Actor
from hermod_core.services.commands import command_transition
from portal.models import EnrollmentInvitation
from portal.services.invitations import (
    IssuedInvitation,
    invitation_create,
    invitation_revoke,
)
from tests.factories import complete, make_profile, provision_spec


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
    uri = result_body(command_result_view(invitation.invitation.command))["destinations"][0]["uri"]
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
        actor=Actor(name="x"), client=client_a.client, spec=provision_spec("erin")
    )
    complete(issued.invitation.command, make_profile(client_a.client, "erin"))
    assert "Your device is enrolled" in _status(issued).content.decode()


@pytest.mark.parametrize(
    ("state", "text"),
    [
        (State.FAILED, "did not succeed"),
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


def test_an_expired_link_says_so_and_what_to_do(invitation):
    command_transition(
        command_id=invitation.invitation.command_id,
        to=State.EXPIRED,
        failure_code="X",
        failure_reason="internal reason ABC",
    )
    EnrollmentInvitation.objects.filter(pk=invitation.invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    fragment = _status(invitation)
    assert fragment.status_code == 286
    body = fragment.content.decode()
    assert "has expired" in body
    assert "new link" in body
    assert "internal reason ABC" not in body
    page = _page(invitation)
    assert page.status_code == 410
    assert "It has expired: it was valid until" in page.content.decode()


def test_a_used_link_shows_a_friendly_page(invitation, client_a):
    complete(invitation.invitation.command, make_profile(client_a.client, "dave@example.com"))
    response = _page(invitation)
    assert response.status_code == 410
    page = response.content.decode()
    assert "already been used" in page
    assert "<svg" not in page
    assert "dave@example.com" not in page


def test_a_link_past_its_deadline_is_expired_even_before_the_sweep(invitation):
    EnrollmentInvitation.objects.filter(pk=invitation.invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = _page(invitation)
    assert response.status_code == 410
    assert "has expired" in response.content.decode()
    assert "<svg" not in response.content.decode()


def test_the_link_outlives_its_qr_code_and_asks_for_a_new_request(invitation, client_a):
    """The link has its own lifetime (72 h by default): a request not used within its
    lifespan is replaced, on a POST from the page, by a new one from the same spec."""
    first = invitation.invitation.command_id
    assert invitation.invitation.expires_at - invitation.invitation.created_at > timedelta(hours=71)
    Command.objects.filter(pk=first).update(expires_at=timezone.now() - timedelta(seconds=1))
    page = _page(invitation)
    assert page.status_code == 200
    text = page.content.decode()
    assert 'data-phase="RENEWABLE"' in text
    assert "<svg" not in text
    # Opening the link (a mail scanner's GET) creates nothing.
    assert Command.objects.count() == 1
    renew = reverse("enroll:renew", args=[invitation.code])
    response = HttpClient().post(renew)
    assert response.status_code == 302
    invitation.invitation.refresh_from_db()
    second = invitation.invitation.command_id
    assert second != first
    assert Command.objects.get(pk=first).state == State.EXPIRED
    new = Command.objects.get(pk=second)
    assert (new.state, new.client_id, new.body["userid"]) == (
        State.IN_PROGRESS,
        client_a.client.pk,
        "dave@example.com",
    )
    assert new.body["profile"]["name"] == "Laptop"
    assert invitation.invitation.requests_issued == 2
    assert '<div class="qr" id="enroll-qr"><svg' in _page(invitation).content.decode()
    # A second press while the new code is usable creates nothing.
    HttpClient().post(renew)
    assert Command.objects.count() == 2
    assert AuditEvent.objects.filter(action="invitation.renew").count() == 1


def test_a_renewal_the_client_can_no_longer_issue_fails_kindly(invitation, client_a):
    Client.objects.filter(pk=client_a.client.pk).update(enabled=False)
    first = invitation.invitation.command_id
    Command.objects.filter(pk=first).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = HttpClient().post(reverse("enroll:renew", args=[invitation.code]))
    assert response.status_code == 409
    text = response.content.decode()
    assert "A new code cannot be made now" in text
    assert "disabled" not in text
    assert Command.objects.count() == 1
    assert not AuditEvent.objects.filter(action="invitation.renew").exists()


def test_a_request_used_by_the_app_is_not_renewed(invitation):
    Message.objects.filter(command=invitation.invitation.command).update(
        state=MessageState.FETCHED, fetched_at=timezone.now()
    )
    HttpClient().post(reverse("enroll:renew", args=[invitation.code]))
    assert Command.objects.count() == 1


def test_a_revoked_link_says_it_was_withdrawn_and_cannot_be_renewed(invitation):
    invitation_revoke(actor=Actor(name="alice-admin"), invitation=invitation.invitation)
    assert Command.objects.get().state == State.CANCELLED
    response = _page(invitation)
    assert response.status_code == 410
    assert "withdrew it" in response.content.decode()
    HttpClient().post(reverse("enroll:renew", args=[invitation.code]))
    assert Command.objects.count() == 1
    assert 'data-phase="REVOKED"' in _status(invitation).content.decode()


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
    mine = invitation_create(
        actor=Actor(name="x"), client=client_a.client, spec=provision_spec("me")
    )
    theirs = invitation_create(
        actor=Actor(name="x"), client=client_b.client, spec=provision_spec("them")
    )
    page = _page(mine).content.decode()
    their_uri = result_body(command_result_view(theirs.invitation.command))["destinations"][0][
        "uri"
    ]
    assert their_uri.split("token=")[1] not in page
    assert "them" not in page


def test_the_page_offers_the_app_link_for_a_user_on_the_phone_returning_to_the_page(
    invitation, settings
):
    settings.HERMOD_APP_LINK_SCHEME = "acme-id"  # a branded app
    page = _page(invitation).content.decode()
    destination = result_body(command_result_view(invitation.invitation.command))["destinations"][0]
    token = destination["uri"].rsplit("token=", 1)[1]
    location = destination["location"].removeprefix("http://")
    back = quote(f"http://testserver{reverse('enroll:page', args=[invitation.code])}", safe="")
    link = f"acme-id://{location}?title=hermod-test&redirect={back}&token={token}"
    assert f'id="app-link" href="{link.replace("&", "&amp;")}"' in page
