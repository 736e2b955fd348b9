"""The application server's side of the command API (docs/PROTOCOL.md §2), one client for every
test that plays it: the end-to-end and deployment tests reach a live server or a stack over
HTTP; the hardening tests reach the server in-process, through ``InProcess``, a requests
transport that hands each request to Django's test client (no live server, no threads). The
transport differs, the client is one."""

import base64
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import requests.adapters
from django.test import Client as HttpClient

COMMAND = "/hermod/rest/command"
IN_PROCESS_URL = "http://testserver"


class Api:
    """Calls the command API with a client's X-Api-Key (``api_key_header``)."""

    def __init__(
        self, base_url: str, api_key_header: str, session: requests.Session | None = None
    ) -> None:
        self.base_url = base_url
        self.session = session or requests.Session()
        self.session.headers["X-Api-Key"] = api_key_header

    def command(self, name: str, body: Any) -> requests.Response:
        """POSTs ``body`` to ``command/<name>``: JSON, or bytes and text sent as they are (a
        malformed body on purpose); None sends no body (``cancel/<id>``)."""
        url = f"{self.base_url}{COMMAND}/{name}"
        if body is None:
            return self.session.post(url)
        raw = body if isinstance(body, bytes | str) else json.dumps(body)
        return self.session.post(url, data=raw, headers={"Content-Type": "application/json"})

    def create(self, name: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """POSTs a command (or ``cancel/<id>``, without a body) and expects 200."""
        response = self.command(name, body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def poll_response(self, command_id: str) -> requests.Response:
        return self.session.get(f"{self.base_url}{COMMAND}/poll/{command_id}")

    def poll(self, command_id: str) -> dict[str, Any]:
        """The poll body of a command, expecting 200."""
        response = self.poll_response(command_id)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def cancel(self, command_id: str) -> requests.Response:
        return self.session.post(f"{self.base_url}{COMMAND}/cancel/{command_id}")


class InProcess(requests.adapters.BaseAdapter):
    """A requests transport that hands each request to Django's test client."""

    def __init__(self, http: HttpClient) -> None:
        super().__init__()
        self.http = http

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        parts = urlsplit(str(request.url))
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        skip = {"content-length", "content-type", "host"}
        headers = {k: v for k, v in request.headers.items() if k.lower() not in skip}
        body = request.body or b""
        answer = self.http.generic(
            str(request.method),
            path,
            data=body.encode() if isinstance(body, str) else body,
            content_type=request.headers.get("Content-Type", ""),
            headers=headers,
        )
        response = requests.Response()
        response.status_code = answer.status_code
        response._content = answer.content
        response.headers.update(dict(answer.items()))
        response.url = str(request.url)
        response.request = request
        return response

    def close(self) -> None:
        pass


def in_process_session(http: HttpClient) -> requests.Session:
    """A requests session whose requests to ``IN_PROCESS_URL`` go to Django's test client."""
    session = requests.Session()
    session.mount(f"{IN_PROCESS_URL}/", InProcess(http))
    return session


def b64(text: str) -> str:
    """``text`` in base64, as an X-Api-Key header carries ``<client id>:<key>``."""
    return base64.b64encode(text.encode()).decode()


def token_of(destination: dict[str, Any]) -> str:
    """The one-time token in a destination's plug-out URI."""
    return parse_qs(urlsplit(destination["uri"]).query)["token"][0]


def path_of(url: str) -> str:
    return urlsplit(url).path
