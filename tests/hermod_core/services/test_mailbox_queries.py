"""Query-count baselines of the device API (docs/PROTOCOL.md §6): list, fetch and answer.

Counted are the statements that read or write; transaction control (BEGIN, SAVEPOINT, …) is left
out, since under the test's wrapping transaction it differs from production. The answer counts
include the command's transition and callback release (services.commands).
"""

import base64
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hermod_core.emulator.device import Device
from hermod_core.emulator.testca import issue_certificate, make_self_signed_ca
from hermod_core.models import Certificate, Key, Message, MessageState
from tests.factories import Persona
from tests.matchers import PROVISIONED
from tests.seeds import certificate_command, provisioning_command

PREFIX = f"/{settings.HERMOD_API_PREFIX}"
_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


class Counted:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def queries(self) -> int:
        return len([s for s in self.statements if not s.startswith(_CONTROL)])


def counted(call: Any) -> tuple[Any, Counted]:
    result = Counted()
    with CaptureQueriesContext(connection) as context:
        response = call()
    result.statements = [q["sql"] for q in context.captured_queries]
    return response, result


def post_json(client: Any, path: str, body: Any, **extra: Any) -> Any:
    return client.post(path, body, content_type="application/json", **extra)


@pytest.fixture
def provisioned(client: Any, client_a: Persona, tmp_path: Path) -> tuple[Device, str, str]:
    """A device provisioned through its plug-out link: (device, profile id, box token)."""
    created = post_json(
        client, f"{PREFIX}/command/provision", provisioning_command(), **client_a.headers
    ).json()
    device = Device(tmp_path / "phone")
    destination = created["destinations"][0]
    token = parse_qs(urlsplit(destination["uri"]).query)["token"][0]
    message = client.get(
        urlsplit(destination["location"]).path, HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    built = device.build_answer(destination["location"], message.json())
    answered = post_json(
        client,
        urlsplit(destination["location"]).path,
        built.body,
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert answered.json() == PROVISIONED
    device.remember(built, answered.json())
    profile = device.profiles[0]
    return device, profile.profile_id, profile.boxtoken


def test_a_box_token_lists_fetches_and_answers_an_authentication_in_few_queries(
    client: Any, client_a: Persona, provisioned: tuple[Device, str, str]
) -> None:
    device, profile_id, boxtoken = provisioned
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {boxtoken}"}
    created = post_json(
        client,
        f"{PREFIX}/command/authenticate",
        {"commandHeader": {"externalId": "q"}, "authCommand": {"profileid": profile_id}},
        **client_a.headers,
    ).json()
    location = created["destinations"][0]["location"]
    path = urlsplit(location).path

    listing, listed = counted(lambda: client.get(path.rsplit("/", 1)[0], **bearer))
    assert [m["location"] for m in listing.json()["messages"]] == [location]
    assert listed.queries == 2  # the box token, the live messages with their commands

    message, fetched = counted(lambda: client.get(path, **bearer))
    assert message.status_code == 200
    assert fetched.queries == 3  # the box token, the message with its command, FETCHED

    again, refetched = counted(lambda: client.get(path, **bearer))
    assert again.json() == message.json()
    assert refetched.queries == 2  # already FETCHED: nothing to write

    answer = device.build_answer(location, message.json()).body
    answered, counted_answer = counted(lambda: post_json(client, path, answer, **bearer))
    assert answered.json() == {"state": "COMPLETED"}
    # box token, message + command + profile, the claim, the candidate keys, the accepted
    # signature's row; then the transition: command, withdrawals, the callback release (delivery
    # with command and client, the command's messages, one update of body and state) and the
    # client's in-progress tally (the client id as the release read it: no statement of its own).
    assert counted_answer.queries == 11


def test_an_empty_box_is_listed_in_two_queries(
    client: Any, provisioned: tuple[Device, str, str]
) -> None:
    device, _, boxtoken = provisioned
    path = urlsplit(device.profiles[0].boxurl).path
    listing, listed = counted(lambda: client.get(path, HTTP_AUTHORIZATION=f"Bearer {boxtoken}"))
    assert listing.json()["messages"] == []
    assert listed.queries == 2


def test_a_one_time_token_reads_its_message_once_per_request(
    client: Any, client_a: Persona, tmp_path: Path
) -> None:
    created = post_json(
        client, f"{PREFIX}/command/provision", provisioning_command(), **client_a.headers
    ).json()
    destination = created["destinations"][0]
    token = parse_qs(urlsplit(destination["uri"]).query)["token"][0]
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    path = urlsplit(destination["location"]).path

    listing, listed = counted(lambda: client.get(path.rsplit("/", 1)[0], **bearer))
    assert [m["mid"] for m in listing.json()["messages"]] == [destination["mid"]]
    assert listed.queries == 2  # not a box token; the token's message with its command

    message, fetched = counted(lambda: client.get(path, **bearer))
    assert "assigned" in message.json()
    assert fetched.queries == 3  # the same two, and FETCHED

    answer = Device(tmp_path / "phone").build_answer(destination["location"], message.json())
    answered, counted_answer = counted(lambda: post_json(client, path, answer.body, **bearer))
    assert answered.json() == PROVISIONED
    assert counted_answer.queries == 19

    again, counted_again = counted(lambda: post_json(client, path, answer.body, **bearer))
    assert again.status_code == 409
    assert counted_again.queries == 2
    assert Message.objects.get(pk=destination["mid"]).state == MessageState.ANSWERED


def _certify(client: Any, client_a: Persona, profile_id: str) -> tuple[dict[str, Any], str]:
    """A certificate command for the profile's key, certified by a test CA: (body, location)."""
    key = Key.objects.get(profile_id=profile_id)
    ca_key, ca_cert = make_self_signed_ca("Test CA")
    certificate = issue_certificate(base64.b64decode(key.certreq), ca_key, ca_cert)
    body = certificate_command()
    body["certCommand"]["profileid"] = profile_id
    body["certCommand"]["certificates"][0]["keyid"] = key.keyid
    body["certCommand"]["certificates"][0]["data"] = base64.b64encode(
        certificate.public_bytes(serialization.Encoding.DER)
    ).decode()
    created = post_json(client, f"{PREFIX}/command/certificate", body, **client_a.headers)
    assert created.status_code == 200, created.content
    return body, created.json()["destinations"][0]["location"]


def test_a_certificate_answer_stores_its_certificates_in_one_statement_and_keeps_a_known_one(
    client: Any, client_a: Persona, provisioned: tuple[Device, str, str]
) -> None:
    device, profile_id, boxtoken = provisioned
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {boxtoken}"}
    body, location = _certify(client, client_a, profile_id)
    for _ in range(2):  # the same certificate sent again: stored once, the first row kept
        path = urlsplit(location).path
        message = client.get(path, **bearer).json()
        answer = device.build_answer(location, message).body
        answered, counted_answer = counted(partial(post_json, client, path, answer, **bearer))
        assert answered.json() == {"state": "COMPLETED"}
        # PostgreSQL: INSERT INTO … ON CONFLICT DO NOTHING; SQLite: INSERT OR IGNORE INTO ….
        inserts = [
            s
            for s in counted_answer.statements
            if s.startswith("INSERT") and ' INTO "hermod_certificate"' in s
        ]
        assert len(inserts) == 1
        first = Certificate.objects.get(profile_id=profile_id)
        assert first.der_b64 == body["certCommand"]["certificates"][0]["data"]
        assert first.source == Certificate.Source.COMMAND
        created = post_json(client, f"{PREFIX}/command/certificate", body, **client_a.headers)
        location = created.json()["destinations"][0]["location"]
    assert Certificate.objects.get(profile_id=profile_id).pk == first.pk
