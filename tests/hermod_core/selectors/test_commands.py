"""The result body of a command (docs/PROTOCOL.md §8) is gathered by a selector
(``command_result_view``: plain values, the profile and certificates read only for a completed
provisioning) and rendered by the pure ``result_body``. Query-count baselines of create and poll,
the two requests that answer it most."""

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hermod_core.emulator.device import Device
from hermod_core.models import Command
from hermod_core.protocol.results import ProfileView, result_body
from hermod_core.selectors.commands import command_result_view
from tests.factories import Persona
from tests.matchers import PROVISIONED
from tests.seeds import provisioning_command

PREFIX = f"/{settings.HERMOD_API_PREFIX}"
_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def _counted(call: Any) -> tuple[Any, int]:
    """The response and the statements that read or write (transaction control left out)."""
    with CaptureQueriesContext(connection) as context:
        response = call()
    return response, len([q for q in context.captured_queries if not q["sql"].startswith(_CONTROL)])


def post_json(client: Any, path: str, body: Any, **extra: Any) -> Any:
    return client.post(path, body, content_type="application/json", **extra)


def _provisioned(client: Any, client_a: Persona, tmp_path: Path) -> dict[str, Any]:
    """A provisioning command answered by the reference device: its result body."""
    created = post_json(
        client, f"{PREFIX}/command/provision", provisioning_command(), **client_a.headers
    ).json()
    destination = created["destinations"][0]
    token = parse_qs(urlsplit(destination["uri"]).query)["token"][0]
    path = urlsplit(destination["location"]).path
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    message = client.get(path, **bearer).json()
    answer = Device(tmp_path / "phone").build_answer(destination["location"], message).body
    assert post_json(client, path, answer, **bearer).json() == PROVISIONED
    return created


def test_an_authentication_is_created_and_polled_in_few_queries(
    client: Any, client_a: Persona, tmp_path: Path
) -> None:
    created = _provisioned(client, client_a, tmp_path)
    profile_id = str(Command.objects.get(pk=created["commandId"]).profile_id)
    body = {"commandHeader": {"externalId": "q"}, "authCommand": {"profileid": profile_id}}
    made, create_queries = _counted(
        lambda: post_json(client, f"{PREFIX}/command/authenticate", body, **client_a.headers)
    )
    assert made.status_code == 200
    # the client, its in-progress tally, the profile with its box, the group's push settings;
    # then the command, its message, the callback row and the tally: one statement on
    # PostgreSQL (sql.command_insert), four elsewhere. The body is built from what was written.
    assert create_queries == (5 if connection.vendor == "postgresql" else 8)

    command_id = made.json()["commandId"]
    polled, poll_queries = _counted(
        lambda: client.get(f"{PREFIX}/command/poll/{command_id}", **client_a.headers)
    )
    assert polled.json() == made.json()
    assert poll_queries == 3  # the client, the command, its messages


def test_a_completed_provisioning_shows_its_profile_read_in_three_more_queries(
    client: Any, client_a: Persona, tmp_path: Path
) -> None:
    created = _provisioned(client, client_a, tmp_path)
    polled, poll_queries = _counted(
        lambda: client.get(f"{PREFIX}/command/poll/{created['commandId']}", **client_a.headers)
    )
    # the client, the command, its messages; the profile with user and box, its keys, its
    # certificates from the CA step
    assert poll_queries == 6
    command = Command.objects.get(pk=created["commandId"])
    view = command_result_view(command)
    assert isinstance(view.profile, ProfileView)
    assert view.profile.id == str(command.profile_id)
    assert [key.keyid for key in view.profile.keys] == [
        key["keyid"] for key in polled.json()["profile"]["keys"]
    ]
    assert result_body(view) == polled.json()


def test_the_view_takes_the_messages_the_caller_read(client: Any, client_a: Persona) -> None:
    created = post_json(
        client, f"{PREFIX}/command/provision", provisioning_command(), **client_a.headers
    ).json()
    command = Command.objects.get(pk=created["commandId"])
    messages = list(command.messages.all())
    with CaptureQueriesContext(connection) as context:
        view = command_result_view(command, messages=messages)
    assert context.captured_queries == []
    assert result_body(view) == created
