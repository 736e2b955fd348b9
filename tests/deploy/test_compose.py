"""docker/compose.yaml end to end: the image built here, the stack started by podman-compose,
a client and the reference device driving it from outside (issue 14, items 1 and 2).

One stack for the module: provision, authenticate, callbacks; then the worker and the broker
containers restarted while commands finish, and nothing is lost or delivered twice.
"""

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.deploy.compose import ComposeStack, authenticate, provision
from tests.deploy.conftest import FIGURES, make_client, make_device, stack_up
from tests.e2e.receiver import Receiver
from tests.e2e.steps import assert_all_delivered_once, assert_none_stuck, finish_commands

pytestmark = pytest.mark.services


def go_seconds(duration: str) -> float:
    """A Go duration as podman prints it ("20s", "1m30s") in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"([\d.]+)(ms|h|m|s)", duration)
    assert "".join(n + u for n, u in parts) == duration.strip(), duration
    return sum(float(number) * units[unit] for number, unit in parts)


@pytest.fixture(scope="module")
def stack(images: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeStack]:
    stack = stack_up(tmp_path_factory.mktemp("compose"), project="hermod-e2e")
    FIGURES["stack start-up (compose up to /healthz 200, migrations included)"] = (
        f"{stack.started_in:.1f} s"
    )
    yield stack
    stack.down()


def test_the_image_runs_as_a_non_root_user_with_a_healthcheck(stack: ComposeStack) -> None:
    from tests.deploy.compose import IMAGE, run

    user = run(["podman", "image", "inspect", "--format", "{{.Config.User}}", IMAGE]).stdout
    assert user.strip() == "hermod"
    check = run(["podman", "image", "inspect", "--format", "{{.Config.Healthcheck}}", IMAGE])
    assert "healthcheck" in check.stdout
    # The stack is up once web answers; the worker may still be starting. The image's
    # HEALTHCHECK gives every container its start period: each must be healthy within it.
    start_period = go_seconds(
        run(["podman", "image", "inspect", "--format", "{{.Config.Healthcheck.StartPeriod}}",
             IMAGE]).stdout
    )  # fmt: skip
    assert 0 < start_period <= 60
    for service in ("web", "worker", "beat"):
        deadline = time.monotonic() + start_period
        while True:
            result = run(["podman", "exec", stack.container(service), "hermod-entrypoint",
                          "healthcheck"], check=False)  # fmt: skip
            if result.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert result.returncode == 0, (service, result.stdout, result.stderr)
    whoami = run(["podman", "exec", stack.container("web"), "id", "-un"]).stdout
    assert whoami.strip() == "hermod"


def test_a_device_provisions_and_authenticates_and_every_callback_arrives(
    stack: ComposeStack, receiver: Receiver, tmp_path: Path
) -> None:
    client = make_client(stack, receiver)
    device = make_device(stack, tmp_path / "phone")
    provisioned, profile_id = provision(client, device)
    authenticated = authenticate(client, device, profile_id)
    received = receiver.wait_for(2, timeout=60)
    assert sorted(r.body["commandId"] for r in received) == sorted([provisioned, authenticated])
    assert {r.body["state"] for r in received} == {"COMPLETED"}
    metrics = requests.get(
        f"{stack.url}/metrics",
        headers={"Authorization": f"Bearer {stack.settings['HERMOD_METRICS_TOKEN']}"},
        timeout=10,
    )
    assert metrics.status_code == 200
    assert "hermod_" in metrics.text


def test_the_worker_and_the_broker_restarted_mid_flow_lose_nothing(
    stack: ComposeStack, receiver: Receiver, tmp_path: Path
) -> None:
    client = make_client(stack, receiver)
    device = make_device(stack, tmp_path / "phone")
    provisioned, profile_id = provision(client, device)

    receiver.hang_next, receiver.hang_seconds = 3, 15  # deliveries in flight in the worker
    before = finish_commands(client, 4)
    time.sleep(1.5)
    stack.restart("worker")  # SIGTERM then SIGKILL after 10 s: hanging deliveries die
    waiting = client.create("authenticate", {"authCommand": {"profileid": profile_id}})
    stack.restart("redis")  # the broker goes away and comes back (its append-only file kept)
    during = finish_commands(client, 3)
    (outcome,) = device.run_once()  # the device answers while the broker was away
    assert outcome.body == {"state": "COMPLETED"}, outcome.body
    stack.stop("redis")
    after = finish_commands(client, 2)  # the API answers; rows wait in PostgreSQL
    stack.start("redis")
    everything = [provisioned, *before, *during, waiting["commandId"], *after]
    assert_all_delivered_once(receiver, everything)
    assert_none_stuck(client, everything)
    assert stack.healthy(stack.url)


def test_a_backup_restored_on_new_volumes_keeps_clients_and_devices_working(
    stack: ComposeStack, receiver: Receiver, tmp_path: Path
) -> None:
    client = make_client(stack, receiver)
    device = make_device(stack, tmp_path / "phone")
    provisioned, profile_id = provision(client, device)
    receiver.wait_for(1, timeout=60)
    dump = tmp_path / "hermod.dump"
    stack.backup(dump)

    stack.down()  # the disaster: containers and volumes gone
    stack.up(restore=dump)  # the same docker/.env (secrets), new volumes, the dump restored

    assert client.poll(provisioned)["state"] == "COMPLETED"  # the client's key still works
    authenticated = authenticate(client, device, profile_id)  # so does the device's box token
    received = receiver.wait_for(2, timeout=60)
    assert sorted(r.body["commandId"] for r in received) == sorted([provisioned, authenticated])
