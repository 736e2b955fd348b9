"""Faults while commands finish (the workers issue): every callback is delivered, no event id is
delivered twice with different content, no command is stuck.

Each test runs its own throwaway PostgreSQL and Redis and stops only those, by pid.
"""

import time
from pathlib import Path

import pytest
import requests

from tests.api_client import Api
from tests.e2e.steps import (
    assert_all_delivered_once,
    assert_none_stuck,
    finish_commands,
    make_client,
)
from tests.seeds import provisioning_command
from tests.stack import hermod_stack

pytestmark = pytest.mark.services


def create_expiring(client: Api, count: int) -> list[str]:
    """``count`` commands that expire two seconds from now."""
    body = provisioning_command()
    body["commandHeader"] = {"lifespan": 2, "timeout": 2}
    return [client.create("provision", body)["commandId"] for _ in range(count)]


def test_kill_9_of_a_worker_in_the_middle_of_deliveries(tmp_path: Path, receiver) -> None:
    with hermod_stack(tmp_path, workers=2) as (hermod, _pg, _redis):
        client = make_client(hermod, receiver)
        receiver.hang_next = 4  # the first deliveries hang inside the workers
        receiver.hang_seconds = 20
        ids = finish_commands(client, 6)
        time.sleep(1.5)
        victim = hermod.workers[0]
        victim.kill()  # SIGKILL: no chance to ack or requeue; the supervisor starts another
        assert_all_delivered_once(receiver, ids)
        assert_none_stuck(client, ids)


def test_redis_stopped_and_restarted_while_commands_finish(tmp_path: Path, receiver) -> None:
    with hermod_stack(tmp_path, workers=1) as (hermod, _pg, redis):
        client = make_client(hermod, receiver)
        before = finish_commands(client, 2)
        redis.stop()
        during = finish_commands(client, 3)  # the API still answers; rows wait in PostgreSQL
        redis.start()  # the same port, empty: every queued task is gone
        assert_all_delivered_once(receiver, before + during)
        assert_none_stuck(client, before + during)


def test_postgresql_restarted_while_workers_run(tmp_path: Path, receiver) -> None:
    with hermod_stack(tmp_path, workers=2) as (hermod, postgres, _redis):
        client = make_client(hermod, receiver)
        before = finish_commands(client, 2)
        postgres.stop()
        response = client.session.get(f"{hermod.url}/hermod/rest/command/poll/{before[0]}")
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
        assert "Traceback" not in response.text
        health = requests.get(f"{hermod.url}/healthz", timeout=5)
        assert health.status_code == 503
        postgres.start()  # the same cluster on the same port
        deadline = time.time() + 30
        while time.time() < deadline and not hermod.healthy():
            time.sleep(0.5)
        assert hermod.healthy()
        after = finish_commands(client, 2)
        assert_all_delivered_once(receiver, before + after)
        assert_none_stuck(client, before + after)


def test_four_workers_racing_the_expiry_sweep_expire_each_command_once(
    tmp_path: Path, receiver
) -> None:
    with hermod_stack(tmp_path, workers=4) as (hermod, _pg, _redis):
        client = make_client(hermod, receiver)
        ids = create_expiring(client, 40)
        # Besides beat's schedule, flood the workers with sweeps so that they race.
        hermod.manage(
            "shell", "-c",
            "from celery_app import app\n"
            "for _ in range(40): app.send_task('hermod.sweep')",
        )  # fmt: skip
        assert_all_delivered_once(receiver, ids)
        for item in receiver.received:
            assert item.body["state"] == "EXPIRED"
        time.sleep(2)
        assert len(receiver.received) == len(ids)  # nothing arrives twice later either


def test_kill_9_of_the_workers_in_the_middle_of_a_batch_of_expiry_callbacks(
    tmp_path: Path, receiver
) -> None:
    with hermod_stack(tmp_path, workers=2) as (hermod, _pg, _redis):
        client = make_client(hermod, receiver)
        receiver.hang_next = 8  # every first attempt hangs inside a worker's batch
        receiver.hang_seconds = 20
        ids = create_expiring(client, 8)
        deadline = time.time() + 30
        while len(receiver.attempts) < 8 and time.time() < deadline:
            time.sleep(0.1)
        assert len(receiver.attempts) == 8
        for worker in list(hermod.workers):
            worker.kill()  # SIGKILL mid-batch; the supervisor starts them again
        # Nothing recorded: the claims' leases run out and the sweep hands the rows out again.
        assert_all_delivered_once(receiver, ids)
        assert all(item.body["state"] == "EXPIRED" for item in receiver.received)
        assert_none_stuck(client, ids)
