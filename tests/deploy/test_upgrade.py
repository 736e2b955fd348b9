"""Upgrade (issue 14, item 5): a database filled by the previous release (its code and
migrations, tests/deploy/compose.py PREVIOUS_RELEASE) is migrated by this release's image while
a client keeps sending commands; then web, worker and beat are replaced. Devices, clients and
commands in flight carry on; no callback is lost or sent twice.
"""

import threading
import time
from pathlib import Path

import pytest
import requests

from tests.deploy.compose import IMAGE, PREVIOUS_IMAGE, build_previous_image, provision
from tests.deploy.conftest import FIGURES, make_client, make_device, stack_up
from tests.e2e.receiver import Receiver
from tests.e2e.steps import assert_all_delivered_once, assert_none_stuck
from tests.seeds import provisioning_command

pytestmark = pytest.mark.services


def test_the_previous_release_upgraded_with_traffic_in_flight_loses_nothing(
    images: None, tmp_path: Path, receiver: Receiver
) -> None:
    build_previous_image(tmp_path / "previous")
    stack = stack_up(
        tmp_path / "stack", project="hermod-upgrade", env={"HERMOD_IMAGE": PREVIOUS_IMAGE}
    )
    try:
        assert stack.image_of("web").endswith("previous-release")
        # Filled by the previous release: a client, a provisioned device, commands waiting.
        client = make_client(stack, receiver)
        device = make_device(stack, tmp_path / "phone")
        provisioned, profile_id = provision(client, device)
        waiting = [
            client.create("authenticate", {"authCommand": {"profileid": profile_id}})["commandId"]
            for _ in range(3)
        ]

        # Traffic while the new release migrates and replaces the containers.
        created: list[str] = []
        refused: list[str] = []
        stop = threading.Event()

        def traffic() -> None:
            while not stop.is_set():
                try:
                    command = client.command("provision", provisioning_command())
                    if command.status_code != 200:
                        refused.append(str(command.status_code))
                        continue
                    command_id = command.json()["commandId"]
                    created.append(command_id)  # from here on its callback is owed
                    client.cancel(command_id)
                except requests.RequestException as exc:
                    refused.append(type(exc).__name__)
                    time.sleep(0.2)

        sender = threading.Thread(target=traffic)
        sender.start()
        started = time.monotonic()
        try:
            time.sleep(2)
            stack.set_image(IMAGE)
            stack.replace("migrate")
            stack.wait_migrated()
            stack.replace("worker", "beat", "web")
            stack.wait_healthy(timeout=120)
            time.sleep(2)
        finally:
            stop.set()
            sender.join(timeout=30)
        FIGURES["upgrade: migrate + replace web, worker, beat under traffic"] = (
            f"{time.monotonic() - started:.0f} s, {len(created)} commands created meanwhile, "
            f"{len(refused)} requests refused during the switch"
        )
        assert stack.image_of("web") == IMAGE
        assert stack.image_of("worker") == IMAGE
        assert created

        # The device answers what the previous release gave it; every command finishes once.
        outcomes = device.run_once()
        assert [o.body for o in outcomes] == [{"state": "COMPLETED"}] * len(waiting)
        # A cancel lost in the switch leaves its command in progress: cancel it again now.
        for command_id in created:
            if client.poll(command_id)["state"] == "IN_PROGRESS":
                client.cancel(command_id)
        everything = [provisioned, *waiting, *created]
        assert_all_delivered_once(receiver, everything)
        assert_none_stuck(client, everything)
    finally:
        stack.down()
