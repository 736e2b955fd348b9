"""Every change of a message's state goes through services.commands.messages_transition: one
conditional UPDATE following the destination table of lifecycle.py (docs/PROTOCOL.md §7)."""

from typing import Any

import pytest
from django.conf import settings
from django.db.models import Q

from hermod_core.models import Message, MessageState
from hermod_core.services.commands import messages_transition
from tests.factories import Persona
from tests.seeds import provisioning_command

PREFIX = f"/{settings.HERMOD_API_PREFIX}"


@pytest.fixture
def message(client: Any, client_a: Persona) -> Message:
    response = client.post(
        f"{PREFIX}/command/provision",
        provisioning_command(),
        content_type="application/json",
        **client_a.headers,
    )
    assert response.status_code == 200
    return Message.objects.get(command_id=response.json()["commandId"])


def test_a_waiting_message_is_fetched_once(message: Message) -> None:
    assert messages_transition(where=Q(pk=message.pk), to=MessageState.FETCHED) == 1
    assert messages_transition(where=Q(pk=message.pk), to=MessageState.FETCHED) == 0
    message.refresh_from_db()
    assert message.state == MessageState.FETCHED


def test_an_answered_message_is_never_expired_withdrawn_or_answered_again(
    message: Message,
) -> None:
    assert messages_transition(where=Q(pk=message.pk), to=MessageState.ANSWERED) == 1
    for to in (MessageState.EXPIRED, MessageState.WITHDRAWN, MessageState.ANSWERED):
        assert messages_transition(where=Q(pk=message.pk), to=to) == 0
    message.refresh_from_db()
    assert message.state == MessageState.ANSWERED


def test_the_changes_are_written_with_the_state_and_only_by_the_winner(message: Message) -> None:
    assert messages_transition(where=Q(pk=message.pk), to=MessageState.WITHDRAWN) == 1
    assert messages_transition(where=Q(pk=message.pk), to=MessageState.EXPIRED) == 0
    moved = messages_transition(
        where=Q(pk=message.pk), to=MessageState.ANSWERED, answered_at=message.created_at
    )
    assert moved == 0
    message.refresh_from_db()
    assert (message.state, message.answered_at) == (MessageState.WITHDRAWN, None)
