"""The device's HTTP side of docs/PROTOCOL.md §6: list a box, fetch a message, post an answer.

Nothing here knows what an answer contains; `Device` decides that. Every request carries the
one-time token or box token as `Authorization: Bearer` (or, if asked, the `token` query
parameter — both are accepted by the server, §6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import requests

# Generous enough for a slow CI server answering an 8-key provisioning; bounded so a dead server
# cannot hang a test run.
DEFAULT_TIMEOUT: Final = (10.0, 60.0)


class DeviceError(Exception):
    """The device could not do what it was asked (bad URI, no token, server unreachable or
    refusing to open the box). `code` is the server's error code when it sent one."""

    def __init__(self, message: str, *, code: str = "DEVICE_ERROR", http_status: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status


@dataclass(frozen=True)
class HttpResult:
    """A response's status and JSON body (a non-JSON body becomes an `HTTP_<status>` error)."""

    status: int
    body: dict[str, Any]

    @property
    def error_code(self) -> str:
        error = self.body.get("error")
        return str(error.get("code", "")) if isinstance(error, dict) else ""


class MailboxClient:
    """`GET` box, `GET` message, `POST` answer, with the token where the server looks for it."""

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        token_in_query: bool = False,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.session = session or requests.Session()
        self.token_in_query = token_in_query
        self.timeout = timeout

    def _request(
        self, method: str, url: str, token: str, body: dict[str, Any] | None = None
    ) -> HttpResult:
        headers = {"Accept": "application/json"}
        params: dict[str, str] = {}
        if self.token_in_query:
            params["token"] = token
        else:
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = self.session.request(
                method,
                url,
                headers=headers,
                params=params,
                json=body,
                timeout=self.timeout,
                allow_redirects=False,  # a redirect would carry the token somewhere unplanned
                # Explicitly: requests lets REQUESTS_CA_BUNDLE override a session's own bundle
                # (--ca-bundle), which would then never be used on such a machine.
                verify=self.session.verify,
            )
        except requests.RequestException as exc:
            raise DeviceError(f"{method} {url} failed: {exc}", code="UNREACHABLE") from exc
        try:
            parsed = response.json()
        except ValueError:  # requests' JSONDecodeError is one
            parsed = None
        if not isinstance(parsed, dict):
            text = response.text[:200]
            parsed = {"error": {"code": f"HTTP_{response.status_code}", "message": text}}
        return HttpResult(response.status_code, parsed)

    def _ok(
        self, method: str, url: str, token: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        result = self._request(method, url, token, body)
        if result.status != 200:
            code = result.error_code or f"HTTP_{result.status}"
            raise DeviceError(
                f"{method} {url} answered {result.status} {code}",
                code=code,
                http_status=result.status,
            )
        return result.body

    def list_box(self, box_url: str, token: str) -> list[dict[str, Any]]:
        """The waiting messages (`mid`, `location`, `commandType`, `expires`), oldest first."""
        body = self._ok("GET", box_url, token)
        messages = body.get("messages")
        if not isinstance(messages, list):
            raise DeviceError(f"GET {box_url}: the answer has no message list", code="BAD_ANSWER")
        return [m for m in messages if isinstance(m, dict)]

    def fetch(self, location: str, token: str) -> dict[str, Any]:
        """The message at `location` (`messageHeader`, the command object, `assigned` …)."""
        body = self._ok("GET", location, token)
        if not isinstance(body.get("messageHeader"), dict):
            raise DeviceError(f"GET {location}: no messageHeader", code="BAD_ANSWER")
        return body

    def post_answer(self, location: str, token: str, answer: dict[str, Any]) -> HttpResult:
        """Post `answer`; the server's status and body, whatever they are (200/4xx alike)."""
        return self._request("POST", location, token, answer)

    def rotate_box_token(self, box_url: str, token: str) -> str:
        """`POST <box url>/token` with the current box token: the new one (the old is dead)."""
        body = self._ok("POST", f"{box_url}/token", token)
        boxtoken = body.get("boxtoken")
        if not isinstance(boxtoken, str) or not boxtoken:
            raise DeviceError(f"POST {box_url}/token: no boxtoken", code="BAD_ANSWER")
        return boxtoken

    def register_push(
        self, box_url: str, token: str, registration: dict[str, Any]
    ) -> dict[str, Any]:
        """`PUT <box url>/push` with the box token (docs/PROTOCOL.md §14): the registration as
        kept."""
        return self._ok("PUT", f"{box_url}/push", token, registration)
