"""Fixtures for the FCM and APNs clients: one test CA per session, a fresh local endpoint per
test (started, and checked for protocol violations when the test ends), and a clock that tests
move by hand so that token lifetimes can be crossed without waiting."""

import socket
import threading
from collections.abc import Iterator

import pytest

from hermod_core.push.base import PushNotice, PushOutcome, PushProvider, PushResult, PushTarget
from tests.push_endpoints import ApnsEndpoint, FcmEndpoint, H2Endpoint
from tests.required_services import free_port
from tests.tls_ca import TlsFiles, make_tls_files

MESSAGE_ID = "3f2c1d0e-5b6a-4c7d-8e9f-0a1b2c3d4e5f"
NOTICE = PushNotice(
    message_id=MESSAGE_ID,
    push_id="9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a",
    requestor="Acme VPN",
    type="AUTH",
)
APNS_TOKEN = "a1" * 32
FCM_TOKEN = "fGcM-token_" + "x" * 140 + ":APA91b"


class FakeClock:
    """``time.time`` that stands still until a test moves it."""

    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def send_from_threads(
    provider: PushProvider, target: PushTarget, count: int = 8
) -> list[PushOutcome]:
    """Send NOTICE from ``count`` threads at once; the outcomes, in the order they ended."""
    outcomes: list[PushOutcome] = []

    def send() -> None:
        outcomes.append(provider.send(target, NOTICE).outcome)

    threads = [threading.Thread(target=send) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def send_while_down_then_up(
    provider: PushProvider, endpoint: H2Endpoint, target: PushTarget
) -> tuple[PushResult, PushResult]:
    """Deliver NOTICE once, then send it while ``endpoint`` is stopped and again once it is
    started: the results (down, up)."""
    assert provider.send(target, NOTICE).outcome is PushOutcome.DELIVERED
    endpoint.stop()
    down = provider.send(target, NOTICE)
    endpoint.start()
    return down, provider.send(target, NOTICE)


@pytest.fixture(scope="session")
def push_tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("push-tls"))


@pytest.fixture
def ca(push_tls: TlsFiles) -> str:
    return str(push_tls.ca_pem)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def apns_endpoint(push_tls: TlsFiles, clock: FakeClock) -> Iterator[ApnsEndpoint]:
    with ApnsEndpoint(push_tls, clock=clock) as endpoint:
        yield endpoint
    assert endpoint.violations == []


@pytest.fixture
def fcm_endpoint(push_tls: TlsFiles, clock: FakeClock) -> Iterator[FcmEndpoint]:
    with FcmEndpoint(push_tls, clock=clock) as endpoint:
        yield endpoint
    assert endpoint.violations == []


@pytest.fixture
def apns_target() -> PushTarget:
    return PushTarget(provider="apns", token=APNS_TOKEN, os="ios")


@pytest.fixture
def fcm_target() -> PushTarget:
    return PushTarget(provider="fcm", token=FCM_TOKEN, os="android")


@pytest.fixture
def refused_url() -> str:
    """An https URL on a loopback port where nothing listens."""
    return f"https://127.0.0.1:{free_port()}"


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A listener that accepts TCP connections and never says a word (no TLS handshake)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()
    for sock in held:
        sock.close()
