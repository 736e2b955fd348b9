"""The container tests (``make deploy-test``): the image built here, docker/compose.yaml run by
podman-compose, driven from outside. Not collected by ``make test`` (tests/conftest.py)."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from hermod_core.emulator.device import Device
from tests.api_client import Api
from tests.deploy.compose import ComposeStack, build_images, image_size
from tests.e2e.receiver import Receiver


@pytest.fixture(autouse=True)
def _session_verify_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests lets REQUESTS_CA_BUNDLE (set on this machine) override a Session's `verify`:
    # without it, the sessions trust the stack's own certificate as they are told.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


# Figures printed at the end of the run (image size, start-up times, scaled-test numbers).
FIGURES: dict[str, str] = {}


@pytest.fixture(scope="session")
def images() -> None:
    timings = build_images()
    for what, seconds in timings.items():
        FIGURES[f"build: {what}"] = f"{seconds:.0f} s"
    FIGURES["image size (Debian-built base)"] = f"{image_size() / 1e6:.0f} MB"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("deployment figures")
        for what, value in FIGURES.items():
            terminalreporter.write_line(f"{what}: {value}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


def stack_up(folder: Path, **options: Any) -> ComposeStack:
    stack = ComposeStack(folder, **options)
    try:
        stack.up()
    except BaseException:
        stack.down()
        raise
    return stack


_numbers = iter(range(10_000))


def make_client(stack: ComposeStack, receiver: Receiver, **options: str) -> Api:
    """A new client (``manage.py hermod_client create`` in the web container) calling back
    ``receiver``; its API calls go where clients go (the TLS proxy when there is one)."""
    key = stack.create_client(
        f"deploy-{next(_numbers)}-{int(time.time() * 1000)}",
        group="smartid",
        callback_url=receiver.url,
        **options,
    )
    api = Api(stack.url, key)
    api.session.verify = str(stack.certificate)
    return api


def make_device(stack: ComposeStack, folder: Path) -> Device:
    session = requests.Session()
    session.verify = str(stack.certificate)
    return Device(folder, session=session)
