"""Rate limits (429 + Retry-After): per API key, per box token, and per source address for
failed authentications (API key brute force) and unknown boxes or tokens (token guessing)."""

import uuid

import pytest

from hermod_core.api import ratelimit
from tests.required_services import port_open, service_missing

pytestmark = pytest.mark.django_db

POLL = "/hermod/rest/command/poll/1"


def assert_429(response) -> None:
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(response["Retry-After"]) <= 60


def test_api_key_brute_force_from_one_address_ends_in_429(client, client_a, settings) -> None:
    settings.HERMOD_RATE_LIMIT_AUTH_FAILURES = 5
    wrong = {"HTTP_X_API_KEY": "aWRtOndyb25n"}  # idm:wrong
    for _ in range(5):
        assert client.get(POLL, **wrong).status_code == 401
    assert_429(client.get(POLL, **wrong))
    assert client.get(POLL, **client_a.headers).status_code == 404  # a valid key is served
    other = client.get(POLL, REMOTE_ADDR="10.0.0.9", **wrong)
    assert other.status_code == 401  # another address has its own budget


def test_each_client_has_a_request_budget(client, client_a, client_b, settings) -> None:
    settings.HERMOD_RATE_LIMIT_CLIENT = 3
    for _ in range(3):
        assert client.get(POLL, **client_a.headers).status_code == 404
    assert_429(client.get(POLL, **client_a.headers))
    assert client.get(POLL, **client_b.headers).status_code == 404


def test_token_guessing_ends_in_429_with_uniform_404s_before(client, settings) -> None:
    settings.HERMOD_RATE_LIMIT_NOT_FOUND = 10
    bodies = set()
    for _ in range(10):
        response = client.get(f"/hermod/rest/ms/{uuid.uuid4()}", HTTP_AUTHORIZATION="Bearer x")
        assert response.status_code == 404
        bodies.add(response.content)
    assert len(bodies) == 1
    assert_429(client.get(f"/hermod/rest/ms/{uuid.uuid4()}?token=guess"))


def test_a_zero_limit_is_off(client, settings) -> None:
    settings.HERMOD_RATE_LIMIT_AUTH_FAILURES = 0
    for _ in range(30):
        assert client.get(POLL).status_code == 401


def test_counters_are_shared_through_redis_when_configured(client, settings) -> None:
    if not port_open("127.0.0.1", 6379):
        service_missing("Redis not reachable at 127.0.0.1:6379")
    settings.HERMOD_RATE_LIMIT_REDIS_URL = "redis://127.0.0.1:6379/15"
    settings.HERMOD_RATE_LIMIT_AUTH_FAILURES = 2
    ratelimit._redis.cache_clear()
    address = f"192.0.2.{uuid.uuid4().int % 250}"
    store = ratelimit._redis()
    assert store is not None
    for key in store.scan_iter(f"hermod:rl:auth-fail:{address}:*"):
        store.delete(key)
    for _ in range(2):
        assert client.get(POLL, REMOTE_ADDR=address).status_code == 401
    assert_429(client.get(POLL, REMOTE_ADDR=address))
    assert any(store.scan_iter(f"hermod:rl:auth-fail:{address}:*"))


def test_an_unreachable_store_lets_requests_through(client, client_a, settings) -> None:
    settings.HERMOD_RATE_LIMIT_REDIS_URL = "redis://127.0.0.1:1/0"
    settings.HERMOD_RATE_LIMIT_CLIENT = 1
    ratelimit._redis.cache_clear()
    for _ in range(3):
        assert client.get(POLL, **client_a.headers).status_code == 404
