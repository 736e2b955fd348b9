"""Personas shared by every test: client A and A2 (same group), client B (another group)."""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from hermod_core.models import Client
from hermod_core.services.audit import Actor
from hermod_core.services.clients import IssuedKey, client_create
from tests.scepserver import scepserver_factory  # noqa: F401 - a fixture for every test

# The container tests build images and run compose (minutes, podman, root): `make deploy-test`
# runs them, `make test` does not collect them.
collect_ignore = [] if os.environ.get("HERMOD_DEPLOY_TEST") == "1" else ["deploy"]


@dataclass
class Persona:
    client: Client
    key: str
    api_key_header: str

    @property
    def headers(self) -> dict[str, str]:
        return {"HTTP_X_API_KEY": self.api_key_header}


def _persona(issued: IssuedKey) -> Persona:
    return Persona(client=issued.client, key=issued.key, api_key_header=issued.api_key_header)


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
    return _persona(
        client_create(
            client_id="idm",
            group_name="smartid",
            callback_url="https://idm.example.com/ws/hermod",
            actor=Actor.system("test"),
        )
    )


@pytest.fixture
def client_a2(client_a: Persona) -> Persona:
    """Another client of client A's group (the access gateway beside the identity manager)."""
    return _persona(
        client_create(
            client_id="da",
            group_name="smartid",
            callback_url="https://da.example.com/personalmessaging",
            actor=Actor.system("test"),
        )
    )


@pytest.fixture
def client_b(db: None) -> Persona:
    return _persona(
        client_create(
            client_id="other-tenant",
            group_name="acme",
            callback_url="https://acme.example.com/hermod",
            actor=Actor.system("test"),
        )
    )
