"""Time from create to the device being woken (issue 12): push against polling.

On a running stack: a group with Web Push, ``devices`` reference devices provisioned and each
registered with its own Web Push endpoint (``hermod_core.emulator.push``), then ``count``
authentications created one after another to those devices, spread over the devices. The figure
is the time from the client sending ``POST /command/authenticate`` to the device's endpoint
having the decrypted notice (clock of this one machine), p50/p95/p99.

A phone that polls every T seconds instead sees a message after a wait uniform in [0, T) plus
one request: p50 = T/2, p99 = 0.99 T. The poll interval that matches push's p50 (or p99) is so
2 × p50 (or p99 / 0.99), and costs 86,400 / T requests a day per phone, waking its radio each
time; push costs one request per message.

Standalone: ``python -m tests.bench.push_wake [--quick]`` (its own stack); ``make bench`` runs it
as a phase on the benchmark's stack.
"""

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from hermod_core.emulator.device import Device
from hermod_core.emulator.push import WebPushReceiver, register_profiles
from tests.seeds import provisioning_command
from tests.stack import Hermod, hermod_stack

GROUP = "push-bench"
PUSH_ENV = {"HERMOD_PUSH_ALLOW_HTTP": "true"}


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def measure(hermod: Hermod, folder: Path, *, devices: int = 5, count: int = 200) -> dict[str, Any]:
    """Run the measurement on ``hermod`` (its environment must allow http push endpoints)."""
    key = hermod.create_client(f"push-bench-{int(time.time())}", group=GROUP)
    session = requests.Session()
    session.headers["X-Api-Key"] = key
    session.verify = hermod.verify
    hermod.manage("hermod_push", "set", GROUP, "--webpush", "on")
    phones: list[tuple[str, WebPushReceiver]] = []
    try:
        for index in range(devices):
            body = provisioning_command()
            body["provCommand"]["userid"] = f"push-bench-{index}"
            created = session.post(f"{hermod.url}/hermod/rest/command/provision", json=body)
            created.raise_for_status()
            device = Device(folder / f"push-device-{index}", session=requests.Session())
            device.http.session.verify = hermod.verify
            outcome = device.enroll(created.json()["destinations"][0]["uri"])
            if not outcome.completed:
                raise RuntimeError(f"provisioning push device {index}: {outcome.as_json()}")
            receiver = WebPushReceiver().start()
            register_profiles(device, receiver)
            phones.append((device.profiles[0].profile_id, receiver))
        woken: list[float] = []
        lost = 0
        for number in range(count):
            profile_id, receiver = phones[number % len(phones)]
            started = time.time()
            response = session.post(
                f"{hermod.url}/hermod/rest/command/authenticate",
                json={"authCommand": {"profileid": profile_id}},
            )
            response.raise_for_status()
            mid = str(response.json()["destinations"][0]["location"]).rsplit("/", 1)[1]
            received = receiver.wait(10)
            while received is not None and received.notice.get("messageId") != mid:
                received = receiver.wait(10)  # a late duplicate of an earlier one
            if received is None:
                lost += 1
                continue
            woken.append((received.at - started) * 1000)
            if any(r.problems for _, r in phones):
                raise RuntimeError(f"push receiver problems: {phones[0][1].problems}")
    finally:
        for _, receiver in phones:
            receiver.stop()
    if not woken:
        raise RuntimeError("no push arrived")
    p50, p95, p99 = (_percentile(woken, f) for f in (0.5, 0.95, 0.99))
    poll_p50 = 2 * p50 / 1000
    poll_p99 = p99 / 0.99 / 1000
    return {
        "count": count,
        "devices": devices,
        "lost": lost,
        "woken_ms": {
            "p50": round(p50, 1),
            "p95": round(p95, 1),
            "p99": round(p99, 1),
            "mean": round(statistics.fmean(woken), 1),
        },
        "poll_interval_for_same_latency_s": {"p50": round(poll_p50, 3), "p99": round(poll_p99, 3)},
        "poll_requests_per_day_for_same_p99": round(86400 / poll_p99),
    }


def describe(figures: dict[str, Any]) -> str:
    woken = figures["woken_ms"]
    poll = figures["poll_interval_for_same_latency_s"]
    return (
        f"create → device woken by Web Push: p50 {woken['p50']} ms, p95 {woken['p95']} ms, "
        f"p99 {woken['p99']} ms ({figures['count']} messages, {figures['lost']} lost); "
        f"polling would need an interval of {poll['p50']} s for the same p50 and "
        f"{poll['p99']} s for the same p99 "
        f"({figures['poll_requests_per_day_for_same_p99']:,} requests a day per phone)"
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.push_wake", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20 messages to 2 devices")
    options = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="hermod-push-bench-"))
    try:
        with hermod_stack(folder / "stack", workers=1, env=PUSH_ENV, worker_concurrency=4) as (
            hermod,
            _postgres,
            _redis,
        ):
            figures = measure(
                hermod,
                folder,
                devices=2 if options.quick else 5,
                count=20 if options.quick else 300,
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(figures, indent=2))
    print(describe(figures))
    return figures


if __name__ == "__main__":
    main()
