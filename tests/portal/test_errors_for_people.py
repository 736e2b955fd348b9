"""Errors written for people: on their field with what is valid, callback failures summarised
with the raw detail folded, an expired request said so, and re-issued from a filled-in form."""

from datetime import timedelta

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from hermod_core.lifecycle import State
from hermod_core.models import CallbackDelivery, Client, Command, Message
from hermod_core.protocol.errors import ProtocolError
from hermod_core.protocol.results import result_body
from hermod_core.selectors.commands import command_result_view
from hermod_core.services.audit import Actor
from hermod_core.services.commands import command_transition
from portal.callback_errors import callback_problem, error_cause
from portal.forms.provision import (
    ProvisionForm,
)
from portal.rendering import attach_error
from portal.services.invitations import (
    invitation_create,
)
from tests.factories import exhausted_deliveries, provision_data, provision_spec

REFUSED = (
    "ConnectionError: HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded with "
    "url: /callback/provision (Caused by NewConnectionError('<urllib3.connection.HTTPConnection"
    " object at 0x7f>: Failed to establish a new connection: [Errno 111] Connection refused'))"
)


@pytest.mark.parametrize(
    ("raw", "cause"),
    [
        (REFUSED, "connection refused"),
        ("HTTP 500", "HTTP 500"),
        ("timeout after 10 s", "no answer within 10 s"),
        (
            "ConnectionError: HTTPSConnectionPool(host='nohost.invalid', port=443): "
            "NameResolutionError: Failed to resolve 'nohost.invalid' ([Errno -2] Name or service "
            "not known)",
            "host name not found",
        ),
        (
            "SSLError: HTTPSConnectionPool(host='x', port=443): [SSL: CERTIFICATE_VERIFY_FAILED] "
            "certificate verify failed: self-signed certificate",
            "TLS certificate not trusted",
        ),
        ("ConnectionError: ('Connection aborted.', RemoteDisconnected(...))", "connection dropped"),
        ("WeirdError: something", "failed (WeirdError)"),
    ],
)
def test_a_raw_callback_error_becomes_a_few_words(raw, cause) -> None:
    assert error_cause(raw) == cause


def test_an_exhausted_delivery_says_how_many_attempts_failed() -> None:
    problem = callback_problem(
        state="EXHAUSTED", attempts=5, max_attempts=5, last_error="HTTP 500", last_status=500
    )
    assert problem is not None
    assert problem.summary == "HTTP 500 after 5 attempts"
    retrying = callback_problem(
        state="PENDING", attempts=2, max_attempts=5, last_error=REFUSED, last_status=None
    )
    assert retrying is not None
    assert retrying.summary == "connection refused (attempt 2 of 5, retrying)"
    assert retrying.detail == REFUSED
    assert (
        callback_problem(
            state="DELIVERED", attempts=1, max_attempts=5, last_error="", last_status=200
        )
        is None
    )


def test_the_callbacks_page_summarises_and_folds_the_raw_detail(operator, client_a) -> None:
    # Deliveries of commands: a console test callback is not a failing callback (item 8).
    for delivery, (error, status) in zip(
        exhausted_deliveries(client_a.client, 2), ((REFUSED, None), ("HTTP 500", 500)), strict=True
    ):
        CallbackDelivery.objects.filter(pk=delivery.pk).update(last_error=error, last_status=status)
    page = operator.get(reverse("portal:callbacks")).content.decode()
    assert "<summary data-callback-problem>connection refused after 5 attempts</summary>" in page
    assert "<span data-callback-problem>HTTP 500 after 5 attempts</span>" in page
    # The raw detail is there, folded inside <details>.
    assert "Max retries exceeded" in page.split("<details", 1)[1]


# --- form errors on their field -------------------------------------------------------------


def test_a_timeout_shorter_than_the_lifespan_is_attached_to_the_timeout(operator, client_a) -> None:
    response = operator.post(
        reverse("portal:provision"), provision_data(client_a.client, lifespan=600, timeout=60)
    )
    assert response.status_code == 400
    assert response.context["form"].errors["timeout"] == [
        "The timeout must be at least the lifespan."
    ]


def test_a_protocol_error_naming_a_field_lands_on_that_field(client_a) -> None:
    form = ProvisionForm(data={}, clients=Client.objects.none())
    form.is_valid()
    attach_error(form, ProtocolError("X", "Must be at most 86400.", "commandHeader.lifespan"))
    assert "Must be at most 86400. (commandHeader.lifespan)" in form.errors["lifespan"]
    attach_error(form, ProtocolError("X", "Bad certreq.", "provCommand.profile.x[0].certreq"))
    assert "Bad certreq. (provCommand.profile.x[0].certreq)" in form.non_field_errors()


# --- an expired request says so; "Issue a new request" is filled in -------------------------


def _expired_prov(client) -> Command:
    issued = invitation_create(
        actor=Actor(name="x"), client=client, spec=provision_spec(congrats="Welcome!")
    )
    command_transition(
        command_id=issued.invitation.command_id,
        to=State.EXPIRED,
        failure_code="EXPIRED",
        failure_reason="No valid answer before the command's timeout.",
    )
    return Command.objects.get(pk=issued.invitation.command_id)


def test_an_expired_command_says_so_and_offers_a_new_request(operator, client_a) -> None:
    command = _expired_prov(client_a.client)
    page = operator.get(reverse("portal:command", args=[command.pk])).content.decode()
    assert 'id="command-expired"' in page
    assert "No valid answer before the command&#x27;s timeout." in page
    assert f'href="{reverse("portal:provision")}?from={command.pk}"' in page


def test_a_new_request_is_prefilled_from_the_expired_one(operator, client_a) -> None:
    command = _expired_prov(client_a.client)
    response = operator.get(reverse("portal:provision"), {"from": command.pk})
    form = response.context["form"]
    assert form.initial["client"] == client_a.client.pk
    assert form.initial["userid"] == "dave@example.com"
    assert (form.initial["profile_name"], form.initial["servername"]) == ("Laptop", "hermod-test")
    assert (form.initial["lifespan"], form.initial["timeout"]) == (120, 600)
    assert form.initial["subject_CN"] == "{userid}"
    assert form.initial["congratsmessage"] == "Welcome!"
    keys = response.context["keys"]
    assert keys.forms[0].initial["keyid"] == "signer"
    assert keys.forms[0].initial["keytype"] == "RSA-2048"
    page = response.content.decode()
    assert 'value="dave@example.com"' in page
    # Submitting it issues a new request for the same user.
    assert Command.objects.count() == 1


def test_a_completed_command_offers_no_new_request(operator, client_a) -> None:
    issued = invitation_create(actor=Actor(name="x"), client=client_a.client, spec=provision_spec())
    page = operator.get(reverse("portal:command", args=[issued.invitation.command_id]))
    assert 'id="reissue"' not in page.content.decode()


@pytest.mark.parametrize("value", ["", "abc", "999999", "-1"])
def test_a_bad_from_gives_the_plain_form(operator, client_a, value) -> None:
    response = operator.get(reverse("portal:provision"), {"from": value})
    assert response.status_code == 200
    assert "userid" not in response.context["form"].initial


@pytest.mark.parametrize(
    ("url", "form", "field", "data"),
    [
        ("portal:group_ca_save", "ca_form", "scep_url", {"scep_url": "ca.example.com/scep"}),
        ("portal:client_callback", "form", "callback_url", {"callback_url": "ftp://x"}),
        ("portal:client_callback", "form", "callback_basic_auth", {"callback_basic_auth": "u"}),
        (
            "portal:client_content",
            "content_form",
            "content_provider_url",
            {"content_provider_url": "x"},
        ),
    ],
)
def test_settings_errors_are_on_their_field_saying_what_is_valid(
    admin, client_a, url, form, field, data
) -> None:
    target = "smartid" if url == "portal:group_ca_save" else "idm"
    response = admin.post(reverse(url, args=[target]), data)
    assert response.status_code == 400
    (message,) = response.context[form].errors[field]
    assert "e.g. https://" in message or "user:password" in message


def test_the_device_finds_an_expired_code_gone_as_the_protocol_says(client_a) -> None:
    """docs/PROTOCOL.md §7: an expired token answers 404 for its box, identical to an unknown box
    (no oracle); checked here for a code past its lifespan, before any sweep."""
    issued = invitation_create(actor=Actor(name="x"), client=client_a.client, spec=provision_spec())
    destination = result_body(command_result_view(issued.invitation.command))["destinations"][0]
    box, token = destination["location"], destination["uri"].rsplit("token=", 1)[1]
    path = "/" + box.split("/", 3)[3]  # /hermod/rest/ms/<bid>/<mid>
    http = HttpClient()
    listed = http.get(path.rsplit("/", 1)[0], HTTP_AUTHORIZATION=f"Bearer {token}")
    assert len(listed.json()["messages"]) == 1  # listing does not fetch it
    Message.objects.filter(command=issued.invitation.command).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    expired = http.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")
    unknown = http.get(path.rsplit("/", 1)[0] + "/" + "0" * 32, HTTP_AUTHORIZATION="Bearer x")
    assert expired.status_code == unknown.status_code == 404
    assert expired.content == unknown.content
