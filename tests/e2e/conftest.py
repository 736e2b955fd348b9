"""A live Hermod server (pytest-django's live_server) with the public URL pointing at it, an API
client for application-server calls, and the reference device as the peer; for the modules that
need production's processes, one production-shaped stack per module (tests/stack.py)."""

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from hermod_core.emulator.device import Device, Faults
from tests.conftest import Persona
from tests.e2e.receiver import Receiver
from tests.stack import Hermod, hermod_stack


class Api:
    """The application server's side: calls the command API with its X-Api-Key."""

    def __init__(self, base_url: str, api_key_header: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["X-Api-Key"] = api_key_header

    def command(self, name: str, body: dict[str, Any] | None) -> requests.Response:
        return self.session.post(f"{self.base_url}/hermod/rest/command/{name}", json=body)

    def create(self, name: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """POSTs a command (or ``cancel/<id>``, without a body) and expects 200."""
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
    return Api(hermod, client_a.api_key_header)


@pytest.fixture
def api_a2(hermod: str, client_a2: Persona) -> Api:
    return Api(hermod, client_a2.api_key_header)


@pytest.fixture
def api_b(hermod: str, client_b: Persona) -> Api:
    return Api(hermod, client_b.api_key_header)


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


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hermod]:
    """PostgreSQL, Redis, gunicorn, two Celery workers and beat, shared by one module's tests."""
    with hermod_stack(tmp_path_factory.mktemp("stack"), workers=2) as (hermod, _pg, _redis):
        yield hermod


_client_numbers = itertools.count()


def make_client(stack: Hermod, receiver: Receiver, group: str = "smartid", **options: str) -> Api:
    """A new client of ``stack`` (``manage.py hermod_client create``) calling back ``receiver``;
    ``options`` are more ``hermod_client create`` options (``callback_basic_auth=...``)."""
    key = stack.create_client(
        f"client-{next(_client_numbers)}-{int(time.time() * 1000)}",
        group=group,
        callback_url=receiver.url,
        **options,
    )
    return Api(stack.url, key)
