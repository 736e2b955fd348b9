"""Callbacks delivered in batches (the expiry sweep's, ``hermod.callbacks.deliver_batch``): sent
concurrently, each claimed, recorded and retried on its own, against real local receivers."""

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from celery_app import app
from hermod_core import sql
from hermod_core.lifecycle import State
from hermod_core.models import CallbackAttempt, CallbackDelivery, Client, Command
from hermod_core.protocol.commands import parse_command_request
from hermod_core.services.callbacks import (
    BATCH_CONCURRENCY,
    LEASE_MARGIN,
    LOST_AFTER,
    _claim,
    callback_deliver,
    callbacks_deliver,
    callbacks_requeue_lost,
)
from hermod_core.services.commands import command_create, command_transition
from hermod_core.services.dispatch import CALLBACK_BATCH
from hermod_core.services.expiry import commands_expire
from hermod_core.tasks import deliver_callbacks
from tests.conftest import Persona
from tests.e2e.receiver import Receiver
from tests.seeds import provisioning_command

pytestmark = pytest.mark.django_db


@pytest.fixture
def receivers() -> Any:
    started = [Receiver().start(), Receiver().start()]
    yield started
    for receiver in started:
        receiver.stop()


def _called_back_by(persona: Persona, receiver: Receiver) -> Client:
    Client.objects.filter(pk=persona.client.pk).update(callback_url=receiver.url)
    persona.client.refresh_from_db()
    return persona.client


def _command(client: Client) -> Command:
    return command_create(
        client=client, request=parse_command_request("provision", provisioning_command())
    )


def _finished(client: Client, count: int) -> list[CallbackDelivery]:
    """``count`` cancelled commands of ``client``: their deliveries PENDING and due."""
    deliveries = []
    for _ in range(count):
        command = _command(client)
        command_transition(command_id=command.pk, to=State.CANCELLED, failure_code="CANCELLED")
        deliveries.append(CallbackDelivery.objects.get(command=command))
    return deliveries


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[Any]]]:
    """What would have been published to the broker: (task name, arguments)."""
    published: list[tuple[str, list[Any]]] = []

    def send_task(name: str, args: list[Any], **options: Any) -> None:
        published.append((name, args))

    monkeypatch.setattr(app, "send_task", send_task)
    return published


def test_a_batch_sends_each_delivery_once_with_one_attempt_row_each(
    client_a: Persona, receivers: list[Receiver]
) -> None:
    deliveries = _finished(_called_back_by(client_a, receivers[0]), 12)
    ids = [d.pk for d in deliveries]
    assert deliver_callbacks(ids) == {"DELIVERED": 12}
    assert sorted(r.event_id for r in receivers[0].received) == sorted(
        str(d.event_id) for d in deliveries
    )
    for delivery in CallbackDelivery.objects.filter(pk__in=ids):
        assert (delivery.state, delivery.attempts, delivery.last_status) == ("DELIVERED", 1, 200)
        assert delivery.next_attempt_at is None
        assert delivery.delivered_at is not None
    assert CallbackAttempt.objects.filter(delivery__in=ids, number=1, status_code=200).count() == 12
    assert callbacks_deliver(delivery_ids=ids) == {}  # delivered: never sent again
    assert len(receivers[0].attempts) == 12


def test_a_failure_in_a_batch_retries_only_that_delivery(
    client_a: Persona,
    client_b: Persona,
    receivers: list[Receiver],
    django_capture_on_commit_callbacks: Any,
    sent: list[tuple[str, list[Any]]],
) -> None:
    good = _finished(_called_back_by(client_a, receivers[0]), 3)
    (bad,) = _finished(_called_back_by(client_b, receivers[1]), 1)
    receivers[1].fail_next = 1
    ids = [d.pk for d in [*good, bad]]
    with django_capture_on_commit_callbacks(execute=True):
        states = callbacks_deliver(delivery_ids=ids)
    assert states == {**{d.pk: "DELIVERED" for d in good}, bad.pk: "PENDING"}
    bad.refresh_from_db()
    assert (bad.attempts, bad.last_status, bad.last_error) == (1, 500, "HTTP 500")
    assert bad.next_attempt_at > timezone.now()
    # Only the failed one is scheduled again, as its own task with the retry delay.
    assert sent == [("hermod.callbacks.deliver", [bad.pk])]

    CallbackDelivery.objects.filter(pk=bad.pk).update(next_attempt_at=timezone.now())
    assert callbacks_deliver(delivery_ids=ids) == {bad.pk: "DELIVERED"}
    assert len(receivers[0].received) == 3  # the delivered ones were not sent again
    assert [a.status_code for a in CallbackAttempt.objects.filter(delivery=bad)] == [500, 200]
    assert {r.event_id for r in receivers[1].attempts} == {str(bad.event_id)}


def test_a_batch_leaves_out_what_another_worker_holds(
    client_a: Persona, receivers: list[Receiver]
) -> None:
    held, free = _finished(_called_back_by(client_a, receivers[0]), 2)
    now = timezone.now()
    assert sql.callback_claim(delivery_id=held.pk, now=now, lease=now + timedelta(minutes=1))
    assert callbacks_deliver(delivery_ids=[held.pk, free.pk]) == {free.pk: "DELIVERED"}
    assert [r.event_id for r in receivers[0].received] == [str(free.event_id)]
    assert CallbackAttempt.objects.filter(delivery=held).count() == 0


def test_a_batch_whose_worker_died_is_due_again_after_its_lease_and_handed_out_again(
    client_a: Persona,
    receivers: list[Receiver],
    django_capture_on_commit_callbacks: Any,
    sent: list[tuple[str, list[Any]]],
) -> None:
    deliveries = _finished(_called_back_by(client_a, receivers[0]), 20)
    ids = [d.pk for d in deliveries]
    before = timezone.now()
    # The worker claims the batch, then dies before it sends or records anything.
    claimed = _claim(ids)
    assert len(claimed) == 20
    # The lease covers the whole batch: its attempts go out BATCH_CONCURRENCY at a time.
    rounds = -(-20 // BATCH_CONCURRENCY)
    timeout = timedelta(seconds=settings.HERMOD_CALLBACK_TIMEOUT)
    for delivery in CallbackDelivery.objects.filter(pk__in=ids):
        assert delivery.next_attempt_at >= before + rounds * timeout + LEASE_MARGIN
    assert callback_deliver(delivery_id=ids[0]) == "skipped"  # held while the lease runs
    with django_capture_on_commit_callbacks(execute=True):
        assert callbacks_requeue_lost(batch=100) == 0
    # The lease ran out a while ago: the sweep hands them out again, as one batch task.
    CallbackDelivery.objects.filter(pk__in=ids).update(
        next_attempt_at=timezone.now() - LOST_AFTER - timedelta(seconds=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert callbacks_requeue_lost(batch=100) == 20
    ((name, (batch,)),) = sent
    assert name == "hermod.callbacks.deliver_batch"
    assert sorted(batch) == sorted(ids)
    assert deliver_callbacks(batch) == {"DELIVERED": 20}
    assert len(receivers[0].received) == 20


def test_the_sweep_publishes_one_message_per_batch_of_callbacks(
    client_a: Persona,
    receivers: list[Receiver],
    django_capture_on_commit_callbacks: Any,
    sent: list[tuple[str, list[Any]]],
) -> None:
    client = _called_back_by(client_a, receivers[0])
    count = CALLBACK_BATCH + 3
    commands = [_command(client) for _ in range(count)]
    Command.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert commands_expire(batch=1000) == count
    assert [name for name, _ in sent] == ["hermod.callbacks.deliver_batch"] * 2
    batches = [args[0] for _, args in sent]
    assert [len(b) for b in batches] == [CALLBACK_BATCH, 3]
    expected = CallbackDelivery.objects.filter(command__in=commands).values_list("pk", flat=True)
    assert sorted(pk for b in batches for pk in b) == sorted(expected)
    for delivery in CallbackDelivery.objects.filter(command__in=commands):
        assert (delivery.state, delivery.body["state"]) == ("PENDING", "EXPIRED")
        assert delivery.body["commandId"] == str(delivery.command_id)


def test_a_single_released_callback_is_its_own_task(
    client_a: Persona,
    receivers: list[Receiver],
    django_capture_on_commit_callbacks: Any,
    sent: list[tuple[str, list[Any]]],
) -> None:
    command = _command(_called_back_by(client_a, receivers[0]))
    with django_capture_on_commit_callbacks(execute=True):
        command_transition(command_id=command.pk, to=State.CANCELLED)
    assert sent == [("hermod.callbacks.deliver", [command.callback.pk])]
