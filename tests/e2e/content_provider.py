"""A local content provider for end-to-end tests (docs/PROTOCOL.md §13): answers
``POST <url>/getcontent`` with ``{"contentId": ...}`` from a table of contents, records every
request, checks Basic auth, and can fail (HTTP 500) a number of times or for good."""

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

from hermod_core.emulator.local_http import Answer, serve_posts, stop_serving
from tests.required_services import free_port

# A 1x1 PNG and a 1x1 JPEG-like payload: what the device receives must be these bytes.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
JPEG = b"\xff\xd8\xff\xe0" + b"hermod card" + b"\xff\xd9"


def image(data: bytes, content_type: str) -> dict[str, str]:
    return {
        "data": base64.b64encode(data).decode(),
        "content_type": content_type,
        "content_encoding": "base64",
    }


@dataclass
class ContentProvider:
    contents: dict[str, Any] = field(default_factory=dict)
    basic_auth: str | None = None
    fail_next: int = 0
    fail_always: bool = False
    port: int = field(default_factory=free_port)
    requests: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/content"

    def start(self) -> "ContentProvider":
        self._server = serve_posts(self._answer_json, port=self.port)
        return self

    def stop(self) -> None:
        stop_serving(self._server)
        self._server = None

    def _answer_json(self, path: str, headers: dict[str, str], raw: bytes) -> Answer:
        status, answer = self._answer(path, headers, raw)
        return status, {"Content-Type": "application/json"}, json.dumps(answer).encode()

    def _answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        with self._lock:
            body = json.loads(raw or b"null")
            self.requests.append({"path": path, "body": body, "headers": headers})
            if self.basic_auth is not None:
                expected = "Basic " + base64.b64encode(self.basic_auth.encode()).decode()
                if headers.get("Authorization") != expected:
                    self.problems.append(f"bad basic auth on {path}")
                    return 401, {"error": "unauthorized"}
            if path != "/content/getcontent":
                self.problems.append(f"unexpected path {path}")
                return 404, {"error": "not found"}
            if self.fail_always or self.fail_next > 0:
                self.fail_next -= 1
                return 500, {"error": "provider down"}
            content = self.contents.get(body.get("contentId"))
            if content is None:
                return 404, {"error": "unknown content id"}
            return 200, content
