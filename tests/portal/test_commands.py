"""Commands in the console: the filtered list, the live timeline, cancelling."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from hermod_core.models import (
    AuditEvent,
    CallbackAttempt,
    CallbackDelivery,
    Command,
    DeliveryState,
    Message,
    MessageState,
)
from hermod_core.protocol.commands import parse_command_request
from hermod_core.services.commands import command_create
from tests.factories import make_profile
from tests.seeds import provisioning_command


def _prov(client, userid: str = "userA") -> Command:
    body = provisioning_command()
    body["provCommand"]["userid"] = userid
    return command_create(client=client, request=parse_command_request("provision", body))


def _ping(client, profile) -> Command:
    body = {"pingCommand": {"profileid": str(profile.pk), "deviceinfo": "true"}}
    return command_create(client=client, request=parse_command_request("ping", body))


def test_the_list_filters_by_type_state_client_user_and_time(operator, client_a, client_a2):
    profile = make_profile(client_a.client, "bob")
    prov = _prov(client_a.client, "carol")
    ping = _ping(client_a2.client, profile)
    Command.objects.filter(pk=prov.pk).update(created_at=timezone.now() - timedelta(days=2))
    url = reverse("portal:commands")

    def ids(**params) -> set[int]:
        return {c.pk for c in operator.get(url, params).context["page"]}

    assert ids() == {prov.pk, ping.pk}
    assert ids(type="PING") == {ping.pk}
    assert ids(state="IN_PROGRESS") == {prov.pk, ping.pk}
    assert ids(state="COMPLETED") == set()
    assert ids(client="idm") == {prov.pk}
    assert ids(user="bob") == {ping.pk}
    assert ids(user="carol") == {prov.pk}
    since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert ids(created_from=since) == {ping.pk}
    assert ids(created_to=since) == {prov.pk}


def test_the_list_is_paginated_in_a_fixed_number_of_queries(
    operator, client_a, django_assert_max_num_queries
):
    profile = make_profile(client_a.client, "bob")
    for _ in range(60):
        _ping(client_a.client, profile)
    with django_assert_max_num_queries(7):
        response = operator.get(reverse("portal:commands"))
    page = response.context["page"]
    assert (len(page.object_list), page.paginator.count, page.has_next()) == (50, 60, True)
    second = operator.get(reverse("portal:commands"), {"page": 2, "type": "PING"})
    assert len(second.context["page"].object_list) == 10
    assert "type=PING" in second.content.decode()


def test_the_list_comes_as_a_fragment_for_htmx(operator, client_a):
    _prov(client_a.client)
    response = operator.get(reverse("portal:commands"), HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert "<html" not in page
    assert "PROV" in page


def test_the_detail_shows_a_live_timeline_while_in_progress(operator, client_a):
    command = _prov(client_a.client)
    page = operator.get(reverse("portal:command", args=[command.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in page
    assert reverse("portal:command_live", args=[command.pk]) in page
    live = operator.get(reverse("portal:command_live", args=[command.pk]), HTTP_HX_REQUEST="true")
    assert live.status_code == 200
    assert "Created by idm" in live.content.decode()


def test_the_timeline_records_fetch_answer_verdict_and_callback_attempts(
    operator, client_a, django_assert_max_num_queries
):
    command = _prov(client_a.client)
    now = timezone.now()
    Message.objects.filter(command=command).update(
        state=MessageState.ANSWERED, fetched_at=now, answered_at=now
    )
    Command.objects.filter(pk=command.pk).update(
        state="FAILED",
        finished_at=now,
        failure_code="NONCE_MISMATCH",
        failure_reason="The nonce is not the command's.",
    )
    delivery = CallbackDelivery.objects.get(command=command)
    CallbackDelivery.objects.filter(pk=delivery.pk).update(
        state=DeliveryState.EXHAUSTED, body={}, attempts=2, last_error="HTTP 500"
    )
    CallbackAttempt.objects.create(delivery=delivery, number=1, status_code=500, error="HTTP 500")
    CallbackAttempt.objects.create(delivery=delivery, number=2, error="ConnectionError: refused")
    # session, user, role, command, messages, callback row, attempts
    with django_assert_max_num_queries(7):
        live = operator.get(reverse("portal:command_live", args=[command.pk]))
    assert live.status_code == 286  # final: htmx stops polling
    page = live.content.decode()
    for text in (
        "Fetched from box @tmp",
        "Answered in box @tmp",
        "FAILED: NONCE_MISMATCH",
        "nonce is not the command",
        "Callback attempt 1: failed",
        "HTTP 500",
        "ConnectionError: refused",
    ):
        assert text in page
    detail = operator.get(reverse("portal:command", args=[command.pk])).content.decode()
    assert 'hx-trigger="every 2s"' not in detail


def test_cancelling_a_command(operator, operator_user, client_a):
    command = _prov(client_a.client)
    response = operator.post(reverse("portal:command_cancel", args=[command.pk]))
    assert response.status_code == 302
    command.refresh_from_db()
    assert (command.state, command.failure_code) == ("CANCELLED", "CANCELLED")
    assert "oscar-operator" in command.failure_reason
    assert CallbackDelivery.objects.get(command=command).state == DeliveryState.PENDING
    event = AuditEvent.objects.get(action="command.cancel")
    assert (event.actor_user, event.details) == (operator_user, {"cancelled": True})
    again = operator.post(reverse("portal:command_cancel", args=[command.pk]), follow=True)
    assert "had already ended" in again.content.decode()


def test_an_unknown_command_is_404(operator, db):
    assert operator.get(reverse("portal:command", args=[999])).status_code == 404
    assert operator.get(reverse("portal:command_live", args=[999])).status_code == 404


def test_the_command_page_shows_smart_card_admin_keys_masked(operator, client_a):
    key, old = "a1" * 24, "b2" * 24
    body = provisioning_command()
    body["provCommand"]["vscinfo"] = {"smartcardid": "card-1", "adminkey": key, "oldadminkey": old}
    command = command_create(
        client=client_a.client, request=parse_command_request("provision", body)
    )
    page = operator.get(reverse("portal:command", args=[command.pk])).content.decode()
    assert "card-1" in page
    assert key not in page
    assert old not in page
    assert "&quot;adminkey&quot;: &quot;********&quot;" in page
