"""Callbacks delivered by real Celery workers on Redis, from a real PostgreSQL (PROTOCOL.md §8)."""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.receiver import Receiver
from tests.seeds import provisioning_command
from tests.stack import Hermod, hermod_stack

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hermod]:
    with hermod_stack(tmp_path_factory.mktemp("stack"), workers=2) as (hermod, _pg, _redis):
        yield hermod


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver(basic_auth="idm:s3cret", signing_secret="sign-me").start()
    yield receiver
    receiver.stop()


class Client:
    def __init__(self, hermod: Hermod, api_key: str) -> None:
        self.hermod = hermod
        self.session = requests.Session()
        self.session.headers["X-Api-Key"] = api_key

    def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.session.post(f"{self.hermod.url}/hermod/rest/command/{path}", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def poll(self, command_id: str) -> dict[str, Any]:
        response = self.session.get(f"{self.hermod.url}/hermod/rest/command/poll/{command_id}")
        return response.json()


_counter = iter(range(10_000))


def make_client(
    stack: Hermod, receiver: Receiver, group: str = "smartid", **options: str
) -> Client:
    key = stack.create_client(
        f"client-{next(_counter)}-{int(time.time() * 1000)}",
        group=group,
        callback_url=receiver.url,
        **options,
    )
    return Client(stack, key)


def test_a_cancelled_command_is_called_back_with_auth_signature_and_event_id(
    stack, receiver
) -> None:
    client = make_client(
        stack, receiver, callback_basic_auth="idm:s3cret", callback_signing_secret="sign-me"
    )
    created = client.post("provision", provisioning_command())
    cancelled = client.post(f"cancel/{created['commandId']}")
    (callback,) = receiver.wait_for(1)
    assert receiver.problems == []
    assert callback.path == "/hermod/callback/provision"
    assert callback.headers["Content-Type"] == "application/json"
    assert len(callback.event_id) == 36
    assert callback.body == cancelled
    assert callback.body["state"] == "CANCELLED"
    assert callback.body == client.poll(created["commandId"])


def test_a_receiver_answering_500_is_retried_until_it_accepts(stack, receiver) -> None:
    receiver.basic_auth = receiver.signing_secret = None
    client = make_client(stack, receiver)
    receiver.fail_next = 2
    created = client.post("provision", provisioning_command())
    client.post(f"cancel/{created['commandId']}")
    (callback,) = receiver.wait_for(1, timeout=30)
    assert callback.body["commandId"] == created["commandId"]


def test_an_expired_command_is_called_back_within_five_seconds_of_its_timeout(
    stack, receiver
) -> None:
    receiver.basic_auth = receiver.signing_secret = None
    client = make_client(stack, receiver)
    body = provisioning_command()
    body["commandHeader"] = {"lifespan": 2, "timeout": 2}
    started = time.time()
    created = client.post("provision", body)
    (callback,) = receiver.wait_for(1, timeout=15)
    assert callback.body["state"] == "EXPIRED"
    assert callback.body["commandId"] == created["commandId"]
    assert callback.at - started <= 2 + 5


def test_the_receiver_down_for_a_while_then_up_gets_everything(stack) -> None:
    receiver = Receiver()
    client = make_client(stack, receiver)  # nothing listens yet: connection refused
    ids = []
    for _ in range(3):
        created = client.post("provision", provisioning_command())
        client.post(f"cancel/{created['commandId']}")
        ids.append(created["commandId"])
    time.sleep(2)
    receiver.start()
    try:
        received = receiver.wait_for(3, timeout=60)
        assert sorted(r.body["commandId"] for r in received) == sorted(ids)
        assert all(len(events) == 1 for events in receiver.by_event().values())
    finally:
        receiver.stop()


def test_health_reports_the_real_services(stack) -> None:
    body = json.loads(requests.get(f"{stack.url}/healthz", timeout=5).content)
    assert body["database"] == {"ok": True, "vendor": "postgresql"}
    assert body["broker"] == {"ok": True, "transport": "redis"}


def test_no_log_shows_a_traceback(stack) -> None:
    for log in Path(stack.folder).glob("*.log"):
        assert "Traceback" not in log.read_text(errors="replace"), log.name
