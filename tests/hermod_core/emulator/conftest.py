"""Fixtures of the reference-device tests. Pure tests: no server, no database."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from hermod_core.emulator.device import Device, Faults
from tests.hermod_core.emulator.messages import KeyPool


@pytest.fixture(scope="session")
def key_pool() -> KeyPool:
    return KeyPool()


@pytest.fixture
def make_device(tmp_path: Path, key_pool: KeyPool) -> Any:
    """`make_device(faults=..., quirky_jwk=..., ...)`: a Device in a fresh state folder."""
    counter = itertools.count()

    def make(**options: Any) -> Device:
        options.setdefault("faults", Faults())
        return Device(tmp_path / f"device-{next(counter)}", key_factory=key_pool, **options)

    return make
