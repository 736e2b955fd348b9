"""The callbacks' HTTP client (``hermod_core.callback_http``) against real local receivers: what
requests did for a callback, it does too — TLS verified with the host name, no redirect
followed, the timeout kept, failures named as requests named them — and a kept-alive connection
the receiver closed meanwhile is not reused."""

import ssl
import time
from pathlib import Path
from typing import Any

import certifi
import pytest

from hermod_core.callback_http import (
    ANSWER_LIMIT,
    KEPT_CONNECTIONS,
    CallbackHttpError,
    CallbackTimeout,
    post,
)
from hermod_core.emulator.local_http import Answer, serve_posts, stop_serving
from portal.callback_errors import error_cause
from tests.required_services import free_port
from tests.tls_ca import make_tls_files

BODY = b'{"state":"EXPIRED"}'
HEADERS = {"Content-Type": "application/json", "X-Hermod-Event-Id": "e-1"}


class Recorder:
    """Answers each POST with ``answer`` and records (path, headers, body)."""

    def __init__(self, answer: Answer = (200, {}, b"")) -> None:
        self.answer = answer
        self.seen: list[tuple[str, dict[str, str], bytes]] = []
        self.delay = 0.0

    def __call__(self, path: str, headers: dict[str, str], raw: bytes) -> Answer:
        self.seen.append((path, headers, raw))
        time.sleep(self.delay)
        return self.answer


class Servers:
    """Receivers of ``serve_posts`` keeping connections alive, stopped after the test."""

    def __init__(self) -> None:
        self.running: list[Any] = []

    def __call__(self, recorder: Recorder, **options: Any) -> str:
        server = serve_posts(recorder, keep_alive=True, **options)
        self.running.append(server)
        host, port = server.server_address[:2]
        return f"{'https' if options.get('tls') else 'http'}://{host}:{port}"


@pytest.fixture
def served() -> Any:
    servers = Servers()
    yield servers
    for server in servers.running:
        stop_serving(server)


def test_a_post_sends_the_body_and_headers_and_returns_the_status(served: Servers) -> None:
    recorder = Recorder((202, {}, b"thanks"))
    url = served(recorder)
    assert post(f"{url}/hermod/callback/auth?x=1", BODY, HEADERS, timeout=5, verify=True) == 202
    ((path, headers, raw),) = recorder.seen
    assert (path, raw) == ("/hermod/callback/auth?x=1", BODY)
    assert headers["X-Hermod-Event-Id"] == "e-1"
    assert headers["Content-Length"] == str(len(BODY))


def test_posts_one_after_another_share_one_kept_alive_connection(served: Servers) -> None:
    recorder = Recorder()
    server_url = served(recorder)
    for _ in range(3):
        assert post(f"{server_url}/cb", BODY, HEADERS, timeout=5, verify=True) == 200
    assert len(recorder.seen) == 3
    (server,) = served.running
    assert server.connections_accepted == 1  # all three came on one


def test_a_thread_keeps_connections_to_the_last_receivers_only(served: Servers) -> None:
    """An installation with many clients: the least recently used connections are closed, so
    that a worker thread does not hold a socket per receiver."""
    urls = [served(Recorder()) for _ in range(KEPT_CONNECTIONS + 2)]
    for url in urls:
        assert post(f"{url}/cb", BODY, HEADERS, timeout=5, verify=True) == 200
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(s.open_connections for s in served.running[:2]):
        time.sleep(0.02)
    assert [len(s.open_connections) for s in served.running] == [0, 0] + [1] * KEPT_CONNECTIONS


def test_a_connection_the_receiver_closed_meanwhile_is_not_reused(served: Servers) -> None:
    recorder = Recorder()
    server_url = served(recorder)
    assert post(f"{server_url}/cb", BODY, HEADERS, timeout=5, verify=True) == 200
    port = int(server_url.rsplit(":", 1)[1])
    stop_serving(served.running.pop())  # the receiver restarts: its connections end
    served(recorder, port=port)
    assert post(f"{server_url}/cb", BODY, HEADERS, timeout=5, verify=True) == 200
    assert len(recorder.seen) == 2


def test_a_redirect_is_answered_as_it_is_not_followed(served: Servers) -> None:
    recorder = Recorder((302, {"Location": "http://169.254.169.254/latest"}, b""))
    url = served(recorder)
    assert post(f"{url}/cb", BODY, HEADERS, timeout=5, verify=True) == 302
    assert len(recorder.seen) == 1


def test_an_answer_too_long_to_read_ends_its_connection_and_the_next_post_works(
    served: Servers,
) -> None:
    recorder = Recorder((200, {}, b"x" * (4 * ANSWER_LIMIT)))
    url = served(recorder)
    assert post(f"{url}/cb", BODY, HEADERS, timeout=5, verify=True) == 200
    recorder.answer = (200, {}, b"")
    assert post(f"{url}/cb", BODY, HEADERS, timeout=5, verify=True) == 200
    assert len(recorder.seen) == 2


def test_a_receiver_slower_than_the_timeout_is_a_timeout(served: Servers) -> None:
    recorder = Recorder()
    recorder.delay = 2.0
    url = served(recorder)
    started = time.monotonic()
    with pytest.raises(CallbackTimeout):
        post(f"{url}/cb", BODY, HEADERS, timeout=0.3, verify=True)
    assert time.monotonic() - started < 1.5


def test_a_refused_connection_reads_as_connection_refused() -> None:
    with pytest.raises(CallbackHttpError) as raised:
        post(f"http://127.0.0.1:{free_port()}/cb", BODY, HEADERS, timeout=5, verify=True)
    assert str(raised.value).startswith("ConnectionError: ConnectionRefusedError")
    assert error_cause(str(raised.value)) == "connection refused"


def test_a_url_that_is_not_http_is_refused_before_connecting() -> None:
    with pytest.raises(CallbackHttpError, match=r"^InvalidURL"):
        post("ftp://127.0.0.1/cb", BODY, HEADERS, timeout=5, verify=True)


def _tls(tmp_path: Path) -> tuple[ssl.SSLContext, str]:
    files = make_tls_files(tmp_path / "tls")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files.cert_pem, files.key_pem)
    return context, str(files.ca_pem)


def test_tls_trusts_the_given_bundle_and_not_the_default_one(
    served: Servers, tmp_path: Path
) -> None:
    context, bundle = _tls(tmp_path)
    recorder = Recorder()
    url = served(recorder, tls=context)
    with pytest.raises(CallbackHttpError) as raised:
        post(f"{url}/cb", BODY, HEADERS, timeout=5, verify=True)  # certifi's CAs
    assert str(raised.value).startswith("SSLError")
    assert error_cause(str(raised.value)) == "TLS certificate not trusted"
    assert recorder.seen == []
    assert post(f"{url}/cb", BODY, HEADERS, timeout=5, verify=bundle) == 200


def test_tls_checks_the_host_name(served: Servers, tmp_path: Path) -> None:
    """The certificate names 127.0.0.1 and localhost: the same server at 127.0.0.2 is refused."""
    context, bundle = _tls(tmp_path)
    recorder = Recorder()
    url = served(recorder, tls=context, host="127.0.0.2")
    with pytest.raises(CallbackHttpError, match=r"^SSLError.*(mismatch|match)"):
        post(f"{url}/cb", BODY, HEADERS, timeout=5, verify=bundle)
    assert recorder.seen == []


def test_a_ca_bundle_that_cannot_be_read_fails_the_post_not_the_worker(
    served: Servers, tmp_path: Path
) -> None:
    context, _ = _tls(tmp_path)
    url = served(Recorder(), tls=context)
    not_pem = tmp_path / "not-pem.pem"
    not_pem.write_text("not a certificate\n")
    for bundle in (str(tmp_path / "missing.pem"), str(not_pem)):
        with pytest.raises(CallbackHttpError, match=r"^SSLError: the CA bundle cannot be read"):
            post(f"{url}/cb", BODY, HEADERS, timeout=5, verify=bundle)


def test_a_bundle_rewritten_with_another_ca_is_read_again(served: Servers, tmp_path: Path) -> None:
    context, bundle = _tls(tmp_path)
    url = served(Recorder(), tls=context)
    other = tmp_path / "bundle.pem"
    other.write_text(Path(certifi.where()).read_text())
    with pytest.raises(CallbackHttpError, match=r"^SSLError"):
        post(f"{url}/cb", BODY, HEADERS, timeout=5, verify=str(other))
    other.write_text(Path(bundle).read_text())
    assert post(f"{url}/cb", BODY, HEADERS, timeout=5, verify=str(other)) == 200
