"""A live Hermod server (pytest-django's live_server) with the public URL pointing at it, an API
client for application-server calls, and the reference device as the peer; for the modules that
need production's processes, one production-shaped stack per module (tests/stack.py)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hermod_core.emulator.device import Device, Faults
from tests.api_client import Api
from tests.e2e.receiver import Receiver
from tests.factories import Persona
from tests.stack import Hermod, hermod_stack


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
