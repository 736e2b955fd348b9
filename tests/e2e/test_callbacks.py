"""Callbacks delivered by real Celery workers on Redis, from a real PostgreSQL (docs/PROTOCOL.md
§8)."""

import json
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.receiver import Receiver
from tests.e2e.steps import make_client
from tests.seeds import provisioning_command

pytestmark = pytest.mark.services


def test_a_cancelled_command_is_called_back_with_auth_signature_and_event_id(
    stack, receiver
) -> None:
    receiver.basic_auth, receiver.signing_secret = "idm:s3cret", "sign-me"
    client = make_client(
        stack, receiver, callback_basic_auth="idm:s3cret", callback_signing_secret="sign-me"
    )
    created = client.create("provision", provisioning_command())
    cancelled = client.create(f"cancel/{created['commandId']}")
    (callback,) = receiver.wait_for(1)
    assert receiver.problems == []
    assert callback.path == "/hermod/callback/provision"
    assert callback.headers["Content-Type"] == "application/json"
    assert len(callback.event_id) == 36
    assert callback.body == cancelled
    assert callback.body["state"] == "CANCELLED"
    assert callback.body == client.poll(created["commandId"])


def test_a_receiver_answering_500_is_retried_until_it_accepts(stack, receiver) -> None:
    client = make_client(stack, receiver)
    receiver.fail_next = 2
    created = client.create("provision", provisioning_command())
    client.create(f"cancel/{created['commandId']}")
    (callback,) = receiver.wait_for(1, timeout=30)
    assert callback.body["commandId"] == created["commandId"]
    # Each retry is the same event (the receiver de-duplicates on it) with the same body.
    assert len(receiver.attempts) >= 3
    assert {attempt.event_id for attempt in receiver.attempts} == {callback.event_id}
    assert {attempt.raw for attempt in receiver.attempts} == {callback.raw}


def test_an_expired_command_is_called_back_within_five_seconds_of_its_timeout(
    stack, receiver
) -> None:
    client = make_client(stack, receiver)
    body = provisioning_command()
    body["commandHeader"] = {"lifespan": 2, "timeout": 2}
    started = time.time()
    created = client.create("provision", body)
    (callback,) = receiver.wait_for(1, timeout=15)
    assert callback.body["state"] == "EXPIRED"
    assert callback.body["commandId"] == created["commandId"]
    assert callback.at - started <= 2 + 5


def test_the_receiver_down_for_a_while_then_up_gets_everything(stack) -> None:
    receiver = Receiver()
    client = make_client(stack, receiver)  # nothing listens yet: connection refused
    ids = []
    for _ in range(3):
        created = client.create("provision", provisioning_command())
        client.create(f"cancel/{created['commandId']}")
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
    logs = {log.name: log.read_text(errors="replace") for log in Path(stack.folder).glob("*.log")}
    assert {"web.log", "worker0.log", "worker1.log", "beat.log"} <= logs.keys()
    for name, text in logs.items():
        assert "Traceback" not in text, name
