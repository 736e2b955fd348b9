"""A live Hermod server (pytest-django's live_server) with the public URL pointing at it, an API
client for application-server calls, and the reference device as the peer."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from hermod_core.emulator.device import Device, Faults
from tests.conftest import Persona
from tests.e2e.receiver import Receiver


class Api:
    """The application server's side: calls the command API with its X-Api-Key."""

    def __init__(self, base_url: str, persona: Persona) -> None:
        self.base_url = base_url
        self.persona = persona
        self.session = requests.Session()
        self.session.headers["X-Api-Key"] = persona.api_key_header

    def command(self, name: str, body: dict[str, Any]) -> requests.Response:
        return self.session.post(f"{self.base_url}/hermod/rest/command/{name}", json=body)

    def create(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.command(name, body)
        assert response.status_code == 200, response.text
        return response.json()

    def poll(self, command_id: str) -> dict[str, Any]:
        response = self.session.get(f"{self.base_url}/hermod/rest/command/poll/{command_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def cancel(self, command_id: str) -> requests.Response:
        return self.session.post(f"{self.base_url}/hermod/rest/command/cancel/{command_id}")


@pytest.fixture
def hermod(live_server: Any, settings: Any) -> str:
    settings.HERMOD_PUBLIC_URL = f"{live_server.url}/hermod/rest/ms"
    return str(live_server.url)


@pytest.fixture
def api_a(hermod: str, client_a: Persona) -> Api:
    return Api(hermod, client_a)


@pytest.fixture
def api_a2(hermod: str, client_a2: Persona) -> Api:
    return Api(hermod, client_a2)


@pytest.fixture
def api_b(hermod: str, client_b: Persona) -> Api:
    return Api(hermod, client_b)


@pytest.fixture
def make_device(tmp_path: Path) -> Any:
    def make(name: str = "phone", **options: Any) -> Device:
        return Device(tmp_path / name, **options)

    return make


@pytest.fixture
def device(make_device: Any) -> Device:
    return make_device()


@pytest.fixture
def faulty(make_device: Any) -> Any:
    def make(**faults: bool) -> Device:
        return make_device(f"faulty-{'-'.join(sorted(faults))}", faults=Faults(**faults))

    return make


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()
