"""How long the FCM and APNs clients take per notice against the local HTTP/2 endpoints:
the first send (TCP, TLS, HTTP/2 settings, token) and warm sends on the pooled connection.

    .venv/bin/python -m tests.bench.push_clients [--count 300]

It measures Hermod's side only (signing, HTTP/2 framing, classification); the real services
add their network round trip.
"""

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hermod_core.settings")
django.setup()

from hermod_core.push.apns import ApnsProvider  # noqa: E402 - after django.setup()
from hermod_core.push.base import PushNotice, PushOutcome, PushProvider, PushTarget  # noqa: E402
from hermod_core.push.fcm import FcmProvider  # noqa: E402
from tests.push_endpoints import ApnsEndpoint, FcmEndpoint  # noqa: E402
from tests.tls_ca import make_tls_files  # noqa: E402

NOTICE = PushNotice("3f2c1d0e-5b6a-4c7d-8e9f-0a1b2c3d4e5f", "push-id", "Acme VPN", "AUTH")


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _measure(name: str, make: Callable[[], PushProvider], target: PushTarget, count: int) -> str:
    started = time.perf_counter()
    provider = make()
    first = provider.send(target, NOTICE)
    cold = time.perf_counter() - started
    warm: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        result = provider.send(target, NOTICE)
        warm.append(time.perf_counter() - started)
        assert result.outcome is PushOutcome.DELIVERED, result
    assert first.outcome is PushOutcome.DELIVERED, first
    return (
        f"{name}: first send {cold * 1000:.1f} ms; warm p50 {_percentile(warm, 0.5) * 1000:.2f} ms,"
        f" p99 {_percentile(warm, 0.99) * 1000:.2f} ms (n={count})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    count = parser.parse_args().count
    tls = make_tls_files(Path(tempfile.mkdtemp(prefix="hermod-push-bench-")))
    ca = str(tls.ca_pem)
    with ApnsEndpoint(tls) as apple, FcmEndpoint(tls) as google:
        print(
            _measure(
                "APNs",
                lambda: ApnsProvider(
                    apple.key_p8,
                    key_id=apple.key_id,
                    team_id=apple.team_id,
                    topic=apple.topic,
                    base_url=apple.url,
                    verify=ca,
                ),
                PushTarget("apns", "a1" * 32, "ios"),
                count,
            )
        )
        print(
            _measure(
                "FCM",
                lambda: FcmProvider(google.service_account_json(), api_base=google.url, verify=ca),
                PushTarget("fcm", "f" * 160, "android"),
                count,
            )
        )
        assert apple.violations == []
        assert google.violations == []


if __name__ == "__main__":
    main()
