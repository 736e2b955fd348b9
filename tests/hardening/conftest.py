"""The hardening tests' shared wiring: the server in-process through Django's test client, the
reference device talking to it through a requests adapter (no live server, no threads), and rate
limits switched off unless a test turns them on."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from django.test import Client as HttpClient

from hermod_core.emulator.device import Device
from tests.api_client import IN_PROCESS_URL, Api, in_process_session
from tests.factories import Persona
from tests.hermod_core.emulator.messages import KeyPool

PUBLIC_URL = f"{IN_PROCESS_URL}/hermod/rest/ms"

# One pool for the whole run: RSA keys are generated once, then handed out in turn.
KEYS = KeyPool()


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
    return Api(IN_PROCESS_URL, client_a.api_key_header, in_process_session(client))


@pytest.fixture
def api_a2(client: HttpClient, client_a2: Persona, hermod: str) -> Api:
    return Api(IN_PROCESS_URL, client_a2.api_key_header, in_process_session(client))


@pytest.fixture
def api_b(client: HttpClient, client_b: Persona, hermod: str) -> Api:
    return Api(IN_PROCESS_URL, client_b.api_key_header, in_process_session(client))


@pytest.fixture
def device_session(client: HttpClient) -> requests.Session:
    return in_process_session(client)


@pytest.fixture
def make_device(
    tmp_path: Path, hermod: str, device_session: requests.Session
) -> Callable[..., Device]:
    def make(name: str = "phone", **options: Any) -> Device:
        return Device(tmp_path / name, session=device_session, key_factory=KEYS, **options)

    return make
