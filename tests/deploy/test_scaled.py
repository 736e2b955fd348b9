"""Scaled out (issue 14, item 3): two web containers behind nginx terminating TLS (the compose
tls profile as load balancer) and two workers, one PostgreSQL and one Redis. No callback is
delivered twice, each expiry happens once, rate limits are shared by every web process, and the
proxy's X-Forwarded-For is believed while a client's own is not.
"""

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.deploy.compose import ComposeStack, authenticate, provision
from tests.deploy.conftest import FIGURES, make_client, make_device, stack_up
from tests.e2e.receiver import Receiver
from tests.e2e.steps import assert_all_delivered_once, assert_none_stuck, start_well_inside_window
from tests.seeds import provisioning_command

pytestmark = pytest.mark.services

COMMANDS = 120  # half cancelled, half left to expire
WINDOW = 60  # the default HERMOD_RATE_LIMIT_WINDOW, which the stack keeps


def served_by(stack: ComposeStack, service: str, marker: str) -> int:
    return stack.logs(service).count(marker)


def test_two_webs_and_two_workers_deliver_once_expire_once_and_share_rate_limits(
    images: None, tmp_path: Path, receiver: Receiver
) -> None:
    stack = stack_up(tmp_path / "scaled", project="hermod-scaled", scaled=True)
    try:
        FIGURES["scaled stack start-up (2 web, 2 workers, nginx TLS)"] = f"{stack.started_in:.1f} s"
        client = make_client(stack, receiver)
        device = make_device(stack, tmp_path / "phone")

        # Through the TLS proxy: a device provisions and authenticates.
        provisioned, profile_id = provision(client, device)
        authenticated = authenticate(client, device, profile_id)

        # Load through the balancer from 8 threads: half cancelled at once, half expiring.
        expiring = provisioning_command()
        expiring["commandHeader"] = {"lifespan": 3, "timeout": 3}

        def one(index: int) -> tuple[str, float]:
            started = time.monotonic()
            if index % 2:
                created = client.create("provision", expiring)
            else:
                created = client.create("provision", provisioning_command())
                client.create(f"cancel/{created['commandId']}")
            return created["commandId"], time.monotonic() - started

        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(one, range(COMMANDS)))
        elapsed = time.monotonic() - started
        created_by = time.time()
        ids = [command_id for command_id, _ in results]
        requests_sent = COMMANDS + COMMANDS // 2  # creates + cancels
        median = statistics.median(seconds for _, seconds in results)
        FIGURES["scaled: API requests through nginx (8 threads)"] = (
            f"{requests_sent / elapsed:.0f} req/s, median {median * 1000:.0f} ms per command"
        )
        # A worker killed -9 while deliveries are in flight: nothing lost, nothing twice.
        stack.kill("worker")
        stack.start("worker")
        everything = [provisioned, authenticated, *ids]
        assert_all_delivered_once(receiver, everything)
        assert_none_stuck(client, everything)
        last = max(r.at for r in receiver.received)
        FIGURES["scaled: every callback delivered, a worker killed -9 meanwhile"] = (
            f"{last - created_by:.1f} s after the last create ({len(receiver.received)} "
            "callbacks, each once; half of them expiries)"
        )
        expired = [r for r in receiver.received if r.body["state"] == "EXPIRED"]
        assert len(expired) == COMMANDS // 2
        time.sleep(3)
        assert len(receiver.received) == len(everything)  # nothing arrives twice later either

        # Both web containers served: the balancer spreads the load.
        web1 = served_by(stack, "web", "/hermod/rest/command/")
        web2 = served_by(stack, "web2", "/hermod/rest/command/")
        FIGURES["scaled: command API requests served by web / web2"] = f"{web1} / {web2}"
        assert web1 > 0
        assert web2 > 0

        # Rate limits are shared: 20 failed authentications per address and window in all,
        # whichever web process answers; a client's own X-Forwarded-For changes nothing.
        statuses = []
        start_well_inside_window(WINDOW, margin=20)
        for attempt in range(30):
            response = requests.post(
                f"{stack.url}/hermod/rest/command/provision",
                json=provisioning_command(),
                headers={"X-Api-Key": "bm9ib2R5Om5vdGhpbmc=",
                         "X-Forwarded-For": f"198.51.100.{attempt}"},
                verify=str(stack.certificate), timeout=10,
            )  # fmt: skip
            statuses.append(response.status_code)
        assert statuses.count(401) == 20, statuses
        assert statuses[20:] == [429] * 10, statuses
        # A valid key is never refused by that budget.
        assert client.poll(ids[0])["commandId"] == ids[0]
    finally:
        stack.down()
