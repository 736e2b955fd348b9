"""X-Api-Key authentication (docs/PROTOCOL.md §3): one uniform 401 for every failure."""

import base64

import pytest

from hermod_core.services.audit import Actor
from hermod_core.services.clients import client_set_enabled
from tests.api_client import b64
from tests.factories import Persona
from tests.matchers import EXPECTED_401

pytestmark = pytest.mark.django_db

POLL = "/hermod/rest/command/poll/1"


@pytest.fixture
def bad_headers(client_a: Persona) -> dict[str, dict[str, str]]:
    client_id = client_a.client.client_id
    return {
        "no header": {},
        "not base64": {"HTTP_X_API_KEY": "%%%not-base64%%%"},
        "no colon": {"HTTP_X_API_KEY": b64(f"{client_id}{client_a.key}")},
        "empty key": {"HTTP_X_API_KEY": b64(f"{client_id}:")},
        "unknown client": {"HTTP_X_API_KEY": b64(f"nobody:{client_a.key}")},
        "wrong key": {"HTTP_X_API_KEY": b64(f"{client_id}:{'0' * 64}")},
        "not utf-8": {"HTTP_X_API_KEY": base64.b64encode(b"\xff\xfe:\xff").decode()},
    }


def test_every_bad_key_gets_the_same_401(client, bad_headers) -> None:
    bodies = {}
    for name, headers in bad_headers.items():
        response = client.get(POLL, **headers)
        assert response.status_code == 401, name
        bodies[name] = response.json()
    assert all(body == EXPECTED_401 for body in bodies.values()), bodies


def test_a_disabled_client_gets_the_same_401(client, client_a: Persona) -> None:
    client_set_enabled(client=client_a.client, enabled=False, actor=Actor.system("test"))
    response = client.get(POLL, **client_a.headers)
    assert response.status_code == 401
    assert response.json() == EXPECTED_401


def test_a_valid_key_passes_authentication(client, client_a: Persona) -> None:
    response = client.get(POLL, **client_a.headers)
    assert response.status_code == 404  # authenticated; there is no command 1
    assert response.json()["error"]["code"] == "COMMAND_NOT_FOUND"


def test_the_unprefixed_alias_authenticates_the_same_way(client, client_a: Persona) -> None:
    assert client.get("/command/poll/1").status_code == 401
    assert client.get("/command/poll/1", **client_a.headers).status_code == 404
