"""The fault tests of test_faults.py with RabbitMQ as the broker (docs/operations.md "Broker"):
publisher confirms, acknowledgements after the task. Every callback delivered once, no command
stuck, when a worker is killed -9 mid-delivery or the broker is killed and started again.

Each test runs its own RabbitMQ node (the machine's rabbitmq-server, its own ports and data
folder) and stops only that one: the machine's shared broker on 5672 is never touched.
"""

import time
from pathlib import Path

import pytest
import requests

from tests.e2e.steps import (
    assert_all_delivered_once,
    assert_none_stuck,
    finish_commands,
    make_client,
)
from tests.stack import hermod_stack

pytestmark = pytest.mark.services


def test_the_stack_reports_rabbitmq_as_its_healthy_broker(tmp_path: Path) -> None:
    with hermod_stack(tmp_path, workers=1, broker="rabbitmq") as (hermod, _pg, _rabbit):
        health = requests.get(f"{hermod.url}/healthz", timeout=5).json()
        assert health["broker"] == {"ok": True, "transport": "amqp"}


def test_kill_9_of_a_worker_in_the_middle_of_deliveries_on_rabbitmq(
    tmp_path: Path, receiver
) -> None:
    with hermod_stack(tmp_path, workers=2, broker="rabbitmq") as (hermod, _pg, _rabbit):
        client = make_client(hermod, receiver)
        receiver.hang_next = 4  # the first deliveries hang inside the workers
        receiver.hang_seconds = 20
        ids = finish_commands(client, 6)
        time.sleep(1.5)
        hermod.workers[0].kill()  # SIGKILL: RabbitMQ requeues its unacknowledged deliveries
        assert_all_delivered_once(receiver, ids)
        assert_none_stuck(client, ids)


def test_rabbitmq_killed_and_restarted_while_commands_finish(tmp_path: Path, receiver) -> None:
    with hermod_stack(tmp_path, workers=1, broker="rabbitmq") as (hermod, _pg, rabbit):
        client = make_client(hermod, receiver)
        receiver.hang_next = 2  # two deliveries in flight when the broker dies
        receiver.hang_seconds = 5
        before = finish_commands(client, 3)
        time.sleep(1)
        rabbit.stop()
        during = finish_commands(client, 3)  # the API still answers; rows wait in PostgreSQL
        rabbit.start()  # the same node, port and data folder
        assert_all_delivered_once(receiver, before + during)
        assert_none_stuck(client, before + during)
