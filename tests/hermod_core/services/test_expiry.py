from datetime import timedelta

import pytest
from django.utils import timezone

from hermod_core.lifecycle import State
from hermod_core.models import CallbackDelivery, Command, Mailbox, Message
from hermod_core.protocol.commands import parse_command_request
from hermod_core.services.commands import command_create, command_transition, commands_transition
from hermod_core.services.expiry import sweep
from tests.seeds import provisioning_command

pytestmark = pytest.mark.django_db


def create(client_a, lifespan: int = 60, timeout: int = 120) -> Command:
    body = provisioning_command()
    body["commandHeader"] = {"lifespan": lifespan, "timeout": timeout}
    return command_create(client=client_a.client, request=parse_command_request("provision", body))


def test_a_due_command_expires_once_with_its_callback(client_a) -> None:
    due, later = create(client_a), create(client_a)
    Command.objects.filter(pk=due.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert sweep(batch=100).commands_expired == 1
    assert sweep(batch=100).commands_expired == 0
    due.refresh_from_db()
    assert (due.state, due.failure_code) == ("EXPIRED", "EXPIRED")
    assert due.messages.get().state == "EXPIRED"
    assert CallbackDelivery.objects.get(command=due).body["state"] == "EXPIRED"
    assert Command.objects.get(pk=later.pk).state == "IN_PROGRESS"


def test_an_unfetched_message_past_its_lifespan_is_withdrawn_the_command_lives_on(
    client_a,
) -> None:
    command = create(client_a)
    Message.objects.filter(command=command).update(expires_at=timezone.now() - timedelta(seconds=1))
    result = sweep(batch=100)
    assert result.messages_expired == 1
    assert result.boxes_closed == 1
    assert Command.objects.get(pk=command.pk).state == "IN_PROGRESS"
    assert Mailbox.objects.get().closed_at is not None


def test_a_fetched_message_outlives_its_lifespan(client_a) -> None:
    command = create(client_a)
    Message.objects.filter(command=command).update(
        state="FETCHED", expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert sweep(batch=100).messages_expired == 0


def test_the_sweep_is_batch_limited(client_a) -> None:
    for _ in range(3):
        create(client_a)
    Command.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert sweep(batch=2).commands_expired == 2
    assert sweep(batch=2).commands_expired == 1


def test_with_a_time_budget_a_burst_is_cleared_in_one_run(client_a) -> None:
    for _ in range(5):
        create(client_a)
    Command.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert sweep(batch=2, budget_seconds=10).commands_expired == 5


def test_a_batch_transition_touches_only_the_commands_it_won(client_a) -> None:
    cancelled, due = create(client_a), create(client_a)
    assert command_transition(command_id=cancelled.pk, to=State.CANCELLED)
    body_before = CallbackDelivery.objects.get(command=cancelled).body
    assert commands_transition(command_ids=[cancelled.pk, due.pk], to=State.EXPIRED) == 1
    assert Command.objects.get(pk=cancelled.pk).state == "CANCELLED"
    assert CallbackDelivery.objects.get(command=cancelled).body == body_before
    assert Message.objects.get(command=cancelled).state == "WITHDRAWN"
    assert Message.objects.get(command=due).state == "EXPIRED"
    assert CallbackDelivery.objects.get(command=due).body["state"] == "EXPIRED"
