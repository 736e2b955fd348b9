"""Fixtures of every test: the client personas (tests/factories.py) and fresh rate limits."""

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.factories import Persona, persona
from tests.scepserver import scepserver_factory  # noqa: F401 - a fixture for every test

# The container tests build images and run compose (minutes, podman, root): `make deploy-test`
# runs them, `make test` does not collect them.
collect_ignore = [] if os.environ.get("HERMOD_DEPLOY_TEST") == "1" else ["deploy"]


@pytest.fixture(autouse=True)
def _fresh_rate_limits(settings: Any) -> Iterator[None]:
    """Each test starts with empty rate-limit counters in this process's cache (not Redis)."""
    from django.core.cache import cache

    from hermod_core.api import ratelimit

    settings.HERMOD_RATE_LIMIT_REDIS_URL = ""
    ratelimit._redis.cache_clear()
    cache.clear()
    yield
    ratelimit._redis.cache_clear()


@pytest.fixture
def client_a(db: None) -> Persona:
    return persona("client_a")


@pytest.fixture
def client_a2(client_a: Persona) -> Persona:
    """Another client of client A's group (the access gateway beside the identity manager)."""
    return persona("client_a2")


@pytest.fixture
def client_b(db: None) -> Persona:
    return persona("client_b")
