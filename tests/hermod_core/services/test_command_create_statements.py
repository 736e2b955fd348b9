"""What a create writes, statement by statement: a command whose rows are only its own (command,
messages, callback row, tally) is one statement on PostgreSQL and needs no transaction of its
own; a command that brings more rows (a temporary box, push rows) writes them all in one."""

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hermod_core.models import CallbackDelivery, Command, GroupPushSettings, Message, PushDelivery
from hermod_core.protocol.commands import parse_command_request
from hermod_core.selectors.commands import commands_in_progress
from hermod_core.services.commands import command_create_with_messages
from tests.conftest import Persona
from tests.factories import make_profile
from tests.seeds import provisioning_command

pytestmark = pytest.mark.django_db

WRITES = ("INSERT", "UPDATE", "DELETE", "WITH")
# Transaction control: BEGIN/COMMIT outside a transaction, SAVEPOINT/RELEASE inside the test's.
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def created_with(persona: Persona, endpoint: str, body: dict[str, Any]) -> tuple[Command, Any]:
    request = parse_command_request(endpoint, body)
    with CaptureQueriesContext(connection) as captured:
        created = command_create_with_messages(client=persona.client, request=request)
    return created.command, [q["sql"] for q in captured.captured_queries]


def test_an_authentication_to_a_profile_is_one_writing_statement(client_a: Persona) -> None:
    profile = make_profile(client_a.client)
    command, statements = created_with(
        client_a, "authenticate", {"authCommand": {"profileid": str(profile.pk)}}
    )
    writes = [s for s in statements if s.startswith(WRITES)]
    # Elsewhere than PostgreSQL the same rows take four statements, in a transaction of their own.
    assert len(writes) == (1 if connection.vendor == "postgresql" else 4)
    if connection.vendor == "postgresql":
        assert not [s for s in statements if s.startswith(CONTROL)]
    assert Message.objects.filter(command=command).count() == 1
    assert CallbackDelivery.objects.filter(command=command).exists()
    assert commands_in_progress(client_id=client_a.client.pk) == 1


def test_a_command_that_brings_more_rows_writes_them_in_one_transaction(
    client_a: Persona,
) -> None:
    profile = make_profile(client_a.client)
    GroupPushSettings.objects.create(
        group=client_a.client.group, relay_url="https://relay.example.com/push"
    )
    for endpoint, body in [
        ("provision", provisioning_command()),  # a temporary box
        ("authenticate", {"authCommand": {"profileid": str(profile.pk)}}),  # a push row
    ]:
        command, statements = created_with(client_a, endpoint, body)
        control = [s for s in statements if s.startswith(CONTROL)]
        # Inside the test's own transaction, the service's is a savepoint.
        assert [s.split()[0] for s in control] == ["SAVEPOINT", "RELEASE"]
        first, last = statements.index(control[0]), statements.index(control[1])
        assert all(first < statements.index(s) < last for s in statements if s.startswith(WRITES))
        assert CallbackDelivery.objects.filter(command=command).exists()
    assert PushDelivery.objects.filter(message__command=command).count() == 1
