"""The in-progress tally (models.commands.InProgressTally) follows the commands it counts: every
create adds one, every command ended (answered, cancelled, expired in a batch, deleted at once)
takes one away, and the cap reads it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from hermod_core.lifecycle import State
from hermod_core.models import CallbackDelivery, Command, InProgressTally
from hermod_core.protocol.commands import parse_command_request
from hermod_core.selectors.commands import commands_in_progress
from hermod_core.services.commands import (
    CommandError,
    command_cancel,
    command_create,
    command_transition,
    commands_transition,
)
from hermod_core.services.expiry import sweep
from tests.factories import Persona, make_profile
from tests.seeds import provisioning_command

pytestmark = pytest.mark.django_db


def create(persona: Persona) -> Command:
    return command_create(
        client=persona.client, request=parse_command_request("provision", provisioning_command())
    )


def assert_tally_matches(persona: Persona) -> None:
    counted = Command.objects.filter(client=persona.client, state=State.IN_PROGRESS).count()
    assert commands_in_progress(client_id=persona.client.pk) == counted


def test_the_tally_follows_creates_and_every_way_a_command_ends(
    client_a: Persona, client_b: Persona
) -> None:
    commands = [create(client_a) for _ in range(6)]
    create(client_b)
    assert commands_in_progress(client_id=client_a.client.pk) == 6
    assert commands_in_progress(client_id=client_b.client.pk) == 1

    assert command_cancel(command=commands[0])
    assert not command_cancel(command=commands[0])  # already final: nothing taken twice
    assert command_transition(command_id=commands[1].pk, to=State.COMPLETED)
    due = [c.pk for c in commands[2:5]]
    Command.objects.filter(pk__in=due).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert sweep(batch=100).commands_expired == 3

    assert_tally_matches(client_a)
    assert commands_in_progress(client_id=client_a.client.pk) == 1
    assert commands_in_progress(client_id=client_b.client.pk) == 1
    # Spread over slots, never more than the slots there are.
    assert InProgressTally.objects.filter(client=client_a.client).count() <= InProgressTally.SLOTS


def test_a_command_without_a_waiting_callback_row_is_taken_off_its_own_client_s_tally(
    client_a: Persona, client_b: Persona
) -> None:
    """The tally takes the client ids the callback release read; a command it did not read (no
    waiting row, as none written by an older version) has its client read instead."""
    released, unreleased, theirs = create(client_a), create(client_a), create(client_b)
    CallbackDelivery.objects.filter(command_id__in=[unreleased.pk, theirs.pk]).delete()
    ids = [released.pk, unreleased.pk, theirs.pk]
    assert commands_transition(command_ids=ids, to=State.CANCELLED) == 3
    assert commands_in_progress(client_id=client_a.client.pk) == 0
    assert commands_in_progress(client_id=client_b.client.pk) == 0


def test_a_delete_ended_at_once_leaves_the_tally_as_it_was(client_a: Persona) -> None:
    profile = make_profile(client_a.client)
    body = {"deleteCommand": {"profileid": str(profile.pk), "confirmed": "false"}}
    command = command_create(client=client_a.client, request=parse_command_request("delete", body))
    assert command.state == State.COMPLETED
    assert commands_in_progress(client_id=client_a.client.pk) == 0
    assert_tally_matches(client_a)


def test_the_cap_reads_the_tally(client_a: Persona, settings) -> None:
    settings.HERMOD_MAX_IN_PROGRESS = 2
    first, _ = create(client_a), create(client_a)
    with pytest.raises(CommandError) as refused:
        create(client_a)
    assert refused.value.code == "TOO_MANY_IN_PROGRESS"
    assert command_cancel(command=first)
    create(client_a)  # room again
    assert_tally_matches(client_a)
