"""Push end to end on a production-shaped stack (PostgreSQL, Redis, gunicorn, Celery workers and
beat): create → push received → fetch → answer → callback, with the reference device's own Web
Push endpoint and a local relay notification server; and the faults of issue 12: provider down
then up, 410, a worker killed mid-send — nothing lost, no message pushed twice with other
content.
"""

import json
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from hermod_core.emulator.device import Device
from hermod_core.emulator.push import WebPushReceiver, answer_notice, register_profiles
from tests.api_client import Api
from tests.e2e.receiver import Receiver
from tests.e2e.steps import make_client, provision
from tests.stack import Hermod, Postgres, hermod_stack

pytestmark = pytest.mark.services

PUSH_ENV = {
    "HERMOD_PUSH_ALLOW_HTTP": "true",
    "HERMOD_PUSH_RETRY_DELAY": "1",
    "HERMOD_PUSH_TIMEOUT": "3",
}


@pytest.fixture(scope="module")
def pushed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hermod, Postgres]]:
    folder = tmp_path_factory.mktemp("push-stack")
    with hermod_stack(folder, workers=2, env=PUSH_ENV) as (hermod, postgres, _redis):
        yield hermod, postgres


def push_rows(postgres: Postgres) -> list[tuple[str, str, int]]:
    """(message id, state, attempts) of every push row."""
    with psycopg.connect(postgres.url) as connection:
        rows = connection.execute(
            "SELECT message_id::text, state, attempts FROM hermod_push_delivery ORDER BY id"
        ).fetchall()
    return [(str(m), str(s), int(a)) for m, s, a in rows]


def wait_rows(postgres: Postgres, done: Any, timeout: float = 60) -> list[tuple[str, str, int]]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        rows = push_rows(postgres)
        if done(rows):
            return rows
        time.sleep(0.2)
    raise AssertionError(f"push rows did not settle: {push_rows(postgres)}")


def provisioned(hermod: Hermod, receiver: Receiver, tmp_path: Path, group: str) -> Any:
    client = make_client(hermod, receiver, group=group)
    device = Device(tmp_path / "phone")
    provision(client, device)
    return client, device, device.profiles[0].profile_id


def ping(client: Api, profile_id: str) -> str:
    created = client.create("ping", {"pingCommand": {"profileid": profile_id}})
    (destination,) = created["destinations"]
    return str(destination["location"]).rsplit("/", 1)[1]


def test_create_wakes_the_device_which_fetches_answers_and_the_client_is_called_back(
    pushed, receiver, tmp_path
) -> None:
    hermod, postgres = pushed
    client, device, profile_id = provisioned(hermod, receiver, tmp_path, "webpush-group")
    hermod.manage("hermod_push", "set", "webpush-group", "--webpush", "on")
    web = WebPushReceiver().start()
    try:
        assert register_profiles(device, web) == 1
        created = client.create("authenticate", {"authCommand": {"profileid": profile_id}})
        mid = str(created["destinations"][0]["location"]).rsplit("/", 1)[1]
        received = web.wait(30)
        assert received is not None, "no push within 30 s"
        assert web.problems == []
        # Ids and the type only: no content, no token (the requestor is the client's id).
        assert sorted(received.notice) == ["messageId", "pushId", "requestor", "type"]
        assert (received.notice["messageId"], received.notice["pushId"]) == (mid, profile_id)
        assert received.notice["type"] == "AUTH"
        assert received.notice["requestor"].startswith("client-")
        (outcome,) = answer_notice(device, received.notice)
        assert outcome.body == {"state": "COMPLETED"}, outcome.body
        callbacks = receiver.wait_for(2)  # the provisioning's and the authentication's
        assert callbacks[-1].body["commandId"] == created["commandId"]
        assert callbacks[-1].body["state"] == "COMPLETED"
        assert [r for r in push_rows(postgres) if r[0] == mid] == [(mid, "DELIVERED", 1)]
    finally:
        web.stop()


def next_line(process: subprocess.Popen[str], timeout: float = 60) -> dict[str, Any]:
    """The device's next JSON output line, or a failure after ``timeout`` seconds."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, f"hermod-device printed nothing within {timeout} s"
    return dict(json.loads(process.stdout.readline()))


def test_hermod_device_run_push_webpush_answers_without_polling(pushed, receiver, tmp_path) -> None:
    """The command-line device: registers its own endpoint, then answers on each push; its
    safety poll (--interval) is far longer than the test, so only a push can have woken it."""
    hermod, _postgres = pushed
    client, _device, profile_id = provisioned(hermod, receiver, tmp_path, "cli-group")
    hermod.manage("hermod_push", "set", "cli-group", "--webpush", "on")
    process = subprocess.Popen(
        [sys.executable, "-m", "hermod_core.emulator.cli", "--state", str(tmp_path / "phone"),
         "run", "--push", "webpush", "--interval", "600"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        started = next_line(process)
        assert started["push"] == "webpush"
        assert started["profiles"] == 1
        created = client.create("authenticate", {"authCommand": {"profileid": profile_id}})
        answered = next_line(process)
        assert answered["commandType"] == "AUTH"
        assert answered["state"] == "COMPLETED"
        assert client.poll(created["commandId"])["state"] == "COMPLETED"
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_a_410_from_the_push_service_removes_the_registration(pushed, receiver, tmp_path) -> None:
    hermod, postgres = pushed
    client, device, profile_id = provisioned(hermod, receiver, tmp_path, "gone-group")
    hermod.manage("hermod_push", "set", "gone-group", "--webpush", "on")
    web = WebPushReceiver().start()
    try:
        register_profiles(device, web)
        web.gone = True
        mid = ping(client, profile_id)
        wait_rows(postgres, lambda rows: (mid, "UNREGISTERED", 1) in rows)
        later = ping(client, profile_id)
        time.sleep(2)
        assert later not in [r[0] for r in push_rows(postgres)]  # the device polls now
        assert web.attempts == 1
    finally:
        web.stop()


def test_a_relay_down_then_up_gets_every_push_once(pushed, receiver, tmp_path) -> None:
    hermod, postgres = pushed
    relay = Receiver(basic_auth="hermod:relay-pw")  # not started: the relay is down
    client, _device, profile_id = provisioned(hermod, receiver, tmp_path, "relay-group")
    credential = tmp_path / "relay-credential"
    credential.write_text("hermod:relay-pw")
    hermod.manage(
        "hermod_push", "set", "relay-group", "--relay-url", relay.url + "/push",
        "--relay-auth", "basic", "--relay-credential-file", str(credential),
        "--requestor", "Example Bank",
    )  # fmt: skip
    mids = [ping(client, profile_id) for _ in range(3)]
    wait_rows(
        postgres,
        lambda rows: all(any(r[0] == m and r[2] >= 1 for r in rows) for m in mids),
    )
    relay.start()
    try:
        received = relay.wait_for(3, timeout=60)
        assert sorted(r.body["messageId"] for r in received) == sorted(mids)
        assert {r.body["requestor"] for r in received} == {"Example Bank"}
        assert {r.body["type"] for r in received} == {"PING"}
        assert relay.problems == []
        rows = wait_rows(postgres, lambda rows: all((m, "DELIVERED") in {r[:2] for r in rows}
                                                    for m in mids))  # fmt: skip
        assert all(attempts >= 2 for m, _, attempts in rows if m in mids)
    finally:
        relay.stop()


def test_a_worker_killed_mid_send_loses_no_push_and_sends_none_twice_with_other_content(
    tmp_path, receiver
) -> None:
    relay = Receiver().start()
    try:
        with hermod_stack(tmp_path, workers=2, env=PUSH_ENV) as (hermod, postgres, _redis):
            client, _device, profile_id = provisioned(hermod, receiver, tmp_path, "kill-group")
            hermod.manage("hermod_push", "set", "kill-group", "--relay-url", relay.url)
            relay.hang_next = 3  # the first pushes hang inside the workers
            relay.hang_seconds = 20
            mids = [ping(client, profile_id) for _ in range(6)]
            time.sleep(1.5)
            hermod.workers[0].kill()  # SIGKILL: no ack, no record; the supervisor restarts it
            received = relay.wait_for(6, timeout=90)
            by_message: dict[str, set[bytes]] = {}
            for item in received:
                by_message.setdefault(item.body["messageId"], set()).add(item.raw)
            assert sorted(by_message) == sorted(mids)
            assert all(len(copies) == 1 for copies in by_message.values())
            rows = wait_rows(postgres, lambda rows: {r[1] for r in rows} == {"DELIVERED"})
            assert sorted(r[0] for r in rows) == sorted(mids)  # one row per message
    finally:
        relay.stop()
