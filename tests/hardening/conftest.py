"""The hardening tests' shared wiring: the server in-process through Django's test client, the
reference device talking to it through a requests adapter (no live server, no threads), and rate
limits switched off unless a test turns them on."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import requests.adapters
from django.test import Client as HttpClient

from hermod_core.emulator.device import Device
from tests.conftest import Persona
from tests.hermod_core.emulator.messages import KeyPool

PUBLIC_URL = "http://testserver/hermod/rest/ms"
COMMAND = "/hermod/rest/command"

# One pool for the whole run: RSA keys are generated once, then handed out in turn.
KEYS = KeyPool()


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


def token_of(destination: dict[str, Any]) -> str:
    """The one-time token in a destination's plug-out URI."""
    return parse_qs(urlsplit(destination["uri"]).query)["token"][0]


def path_of(url: str) -> str:
    return urlsplit(url).path


class Api:
    """The application server's side of the command API, in-process."""

    def __init__(self, http: HttpClient, persona: Persona) -> None:
        self.http = http
        self.persona = persona

    def command(self, name: str, body: Any, **extra: Any) -> Any:
        raw = body if isinstance(body, bytes | str) else json.dumps(body)
        return self.http.post(
            f"{COMMAND}/{name}",
            raw,
            content_type="application/json",
            **self.persona.headers,
            **extra,
        )

    def create(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.command(name, body)
        assert response.status_code == 200, response.content
        result: dict[str, Any] = response.json()
        return result

    def poll(self, command_id: str) -> Any:
        return self.http.get(f"{COMMAND}/poll/{command_id}", **self.persona.headers)

    def cancel(self, command_id: str) -> Any:
        return self.http.post(f"{COMMAND}/cancel/{command_id}", **self.persona.headers)


@pytest.fixture
def hermod(settings: Any) -> str:
    """Every location and plug-out URI points at the in-process server."""
    settings.HERMOD_PUBLIC_URL = PUBLIC_URL
    return PUBLIC_URL


@pytest.fixture
def no_rate_limits(settings: Any) -> None:
    """Tests that send hundreds of requests on purpose are not about the rate limiter."""
    settings.HERMOD_RATE_LIMIT_AUTH_FAILURES = 0
    settings.HERMOD_RATE_LIMIT_NOT_FOUND = 0
    settings.HERMOD_RATE_LIMIT_CLIENT = 0
    settings.HERMOD_RATE_LIMIT_BOX = 0


@pytest.fixture
def api_a(client: HttpClient, client_a: Persona, hermod: str) -> Api:
    return Api(client, client_a)


@pytest.fixture
def api_a2(client: HttpClient, client_a2: Persona, hermod: str) -> Api:
    return Api(client, client_a2)


@pytest.fixture
def api_b(client: HttpClient, client_b: Persona, hermod: str) -> Api:
    return Api(client, client_b)


@pytest.fixture
def device_session(client: HttpClient) -> requests.Session:
    session = requests.Session()
    session.mount("http://testserver/", InProcess(client))
    return session


@pytest.fixture
def make_device(
    tmp_path: Path, hermod: str, device_session: requests.Session
) -> Callable[..., Device]:
    def make(name: str = "phone", **options: Any) -> Device:
        return Device(tmp_path / name, session=device_session, key_factory=KEYS, **options)

    return make
