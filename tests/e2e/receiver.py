"""A local HTTP callback receiver for end-to-end tests: records what it got, answers on demand.

It can answer 500 (``fail_next``), any status in turn (``status_next``), hang past the callback
timeout (``hang_next``) or be down (``stop()`` / ``start()`` on the same port), and it checks
Basic auth and the HMAC signature.
"""

import base64
import hashlib
import hmac
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

from hermod_core.emulator.local_http import serve_posts, stop_serving
from tests.required_services import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes
    at: float

    @property
    def body(self) -> Any:
        return json.loads(self.raw)

    @property
    def event_id(self) -> str:
        return self.headers.get("X-Hermod-Event-Id", "")


@dataclass
class Receiver:
    basic_auth: str | None = None
    signing_secret: str | None = None
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    attempts: list[Received] = field(default_factory=list)  # every POST, whatever the answer
    fail_next: int = 0
    status_next: list[int] = field(default_factory=list)  # answered in turn, before anything else
    hang_next: int = 0
    hang_seconds: float = 15.0
    problems: list[str] = field(default_factory=list)
    tls: ssl.SSLContext | None = None
    keep_alive: bool = False  # HTTP/1.1 connections served one request after another
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}/hermod"

    def start(self) -> "Receiver":
        self._server = serve_posts(
            lambda path, headers, raw: (self._answer(path, headers, raw), {}, b""),
            port=self.port,
            tls=self.tls,
            keep_alive=self.keep_alive,
        )
        return self

    def stop(self) -> None:
        stop_serving(self._server)
        self._server = None

    def _answer(self, path: str, headers: dict[str, str], raw: bytes) -> int:
        with self._lock:
            self.attempts.append(Received(path, headers, raw, time.time()))
            if self.status_next:
                return self.status_next.pop(0)
            hang = self.hang_next > 0
            self.hang_next -= int(hang)
            fail = not hang and self.fail_next > 0
            self.fail_next -= int(fail)
        if hang:
            time.sleep(self.hang_seconds)
            return 200
        if self.basic_auth is not None:
            expected = "Basic " + base64.b64encode(self.basic_auth.encode()).decode()
            if headers.get("Authorization") != expected:
                self.problems.append(f"bad basic auth on {path}")
                return 401
        if self.signing_secret is not None:
            digest = hmac.new(self.signing_secret.encode(), raw, hashlib.sha256).hexdigest()
            if headers.get("X-Hermod-Signature") != f"sha256={digest}":
                self.problems.append(f"bad signature on {path}")
                return 401
        if fail:
            return 500
        with self._lock:
            self.received.append(Received(path, headers, raw, time.time()))
        return 200

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"received {len(self.received)} callbacks, expected {count}")

    def by_event(self) -> dict[str, list[Received]]:
        events: dict[str, list[Received]] = {}
        for item in self.received:
            events.setdefault(item.event_id, []).append(item)
        return events
