"""FcmProvider against a local HTTP/2 endpoint acting as Google's OAuth token endpoint and FCM."""

import json
from collections.abc import Callable

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from hermod_core.push.apns import apns_payload
from hermod_core.push.base import PushOutcome, PushTarget
from hermod_core.push.fcm import REFRESH_MARGIN, SCOPE, FcmProvider
from hermod_core.push.transport import ProviderConfigError, retry_after_in
from tests.hermod_core.push.conftest import (
    FCM_TOKEN,
    MESSAGE_ID,
    NOTICE,
    FakeClock,
    send_from_threads,
    send_while_down_then_up,
)
from tests.push_endpoints import FcmEndpoint, break_http, fcm_error, private_pem

MakeProvider = Callable[..., FcmProvider]


@pytest.fixture
def make_provider(fcm_endpoint: FcmEndpoint, ca: str, clock: FakeClock) -> MakeProvider:
    def make(account: str | None = None, **overrides: object) -> FcmProvider:
        options: dict[str, object] = {
            "api_base": fcm_endpoint.url,
            "verify": ca,
            "timeout": 2.0,
            "clock": clock,
        }
        options.update(overrides)
        return FcmProvider(account or fcm_endpoint.service_account_json(), **options)  # type: ignore[arg-type]

    return make


@pytest.fixture
def provider(make_provider: MakeProvider) -> FcmProvider:
    return make_provider()


def _bearer(fcm: FcmEndpoint, index: int) -> str:
    return fcm.send_requests()[index].headers["authorization"].removeprefix("Bearer ")


def test_a_notice_is_sent_with_an_access_token_from_a_signed_jwt_bearer_grant(
    provider: FcmProvider, fcm_endpoint: FcmEndpoint, fcm_target: PushTarget, clock: FakeClock
) -> None:
    result = provider.send(fcm_target, NOTICE)

    assert result.outcome is PushOutcome.DELIVERED
    assert result.status == 200
    assert result.detail.startswith("HTTP 200 projects/hermod-test/messages/0:")
    [grant] = fcm_endpoint.token_requests()
    assert (grant.method, grant.path) == ("POST", "/token")
    assert grant.headers["content-type"] == "application/x-www-form-urlencoded"
    form = grant.form()
    assert set(form) == {"grant_type", "assertion"}
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    public = fcm_endpoint.private_key.public_key()
    assert jwt.get_unverified_header(form["assertion"]) == {
        "alg": "RS256",
        "kid": fcm_endpoint.private_key_id,
        "typ": "JWT",
    }
    claims = jwt.decode(
        form["assertion"],
        public,
        algorithms=["RS256"],
        audience=fcm_endpoint.token_uri,
        options={"verify_iat": False, "verify_exp": False},
    )
    now = int(clock.now)
    assert claims == {
        "iss": fcm_endpoint.client_email,
        "scope": SCOPE,
        "aud": fcm_endpoint.token_uri,
        "iat": now,
        "exp": now + 3600,
    }

    [send] = fcm_endpoint.send_requests()
    assert (send.method, send.path) == ("POST", "/v1/projects/hermod-test/messages:send")
    assert send.headers["authorization"] == f"Bearer {next(iter(fcm_endpoint.access_tokens))}"
    assert send.headers["content-type"] == "application/json; charset=utf-8"
    assert send.headers[":scheme"] == "https"
    # Ids and type only, as strings; never message content nor the box token.
    assert send.json() == {
        "message": {
            "token": FCM_TOKEN,
            "data": {
                "messageId": MESSAGE_ID,
                "pushId": NOTICE.push_id,
                "requestor": "Acme VPN",
                "type": "AUTH",
            },
            "android": {"priority": "high", "ttl": "300s"},
            "apns": {
                "headers": {
                    "apns-push-type": "alert",
                    "apns-priority": "10",
                    "apns-expiration": str(now + 300),
                },
                "payload": apns_payload(NOTICE),
            },
        }
    }


def test_the_access_token_is_cached_until_shortly_before_it_expires(
    provider: FcmProvider, fcm_endpoint: FcmEndpoint, fcm_target: PushTarget, clock: FakeClock
) -> None:
    provider.send(fcm_target, NOTICE)
    clock.advance(fcm_endpoint.token_lifetime - REFRESH_MARGIN - 1)
    provider.send(fcm_target, NOTICE)
    clock.advance(1)
    provider.send(fcm_target, NOTICE)

    assert len(fcm_endpoint.token_requests()) == 2
    assert _bearer(fcm_endpoint, 0) == _bearer(fcm_endpoint, 1) != _bearer(fcm_endpoint, 2)


def test_threads_starting_cold_fetch_one_access_token(
    provider: FcmProvider, fcm_endpoint: FcmEndpoint, fcm_target: PushTarget
) -> None:
    assert send_from_threads(provider, fcm_target) == [PushOutcome.DELIVERED] * 8
    assert len(fcm_endpoint.token_requests()) == 1


def test_threads_sending_at_once_each_get_their_own_answer(
    provider: FcmProvider, fcm_endpoint: FcmEndpoint, fcm_target: PushTarget
) -> None:
    # httpcore's HTTP/2 connection shared by threads lost a stream now and then (KeyError in
    # _response_closed, seen on a loaded CI machine): each thread now has its own connection.
    for _ in range(10):
        assert send_from_threads(provider, fcm_target, 16) == [PushOutcome.DELIVERED] * 16
    assert len(fcm_endpoint.send_requests()) == 160


def test_an_unregistered_token_answers_404_and_the_registration_is_dead(
    provider: FcmProvider, fcm_endpoint: FcmEndpoint, fcm_target: PushTarget
) -> None:
    fcm_endpoint.unregister(FCM_TOKEN)

    result = provider.send(fcm_target, NOTICE)

    assert (result.outcome, result.status) == (PushOutcome.UNREGISTERED, 404)
    assert result.detail == "HTTP 404 UNREGISTERED: Requested entity was not found."


def test_a_malformed_registration_token_is_dead(
    provider: FcmProvider, fcm_endpoint: FcmEndpoint
) -> None:
    target = PushTarget(provider="fcm", token="not-a-token", os="android")

    result = provider.send(target, NOTICE)

    assert (result.outcome, result.status) == (PushOutcome.UNREGISTERED, 400)
    assert result.detail == (
        "HTTP 400 INVALID_ARGUMENT: The registration token is not a valid FCM registration token"
    )


def test_an_empty_registration_token_is_never_sent(
    provider: FcmProvider, fcm_endpoint: FcmEndpoint
) -> None:
    result = provider.send(PushTarget(provider="fcm", token="", os="android"), NOTICE)

    assert result.outcome is PushOutcome.UNREGISTERED
    assert fcm_endpoint.received == []


@pytest.mark.parametrize(
    ("status", "body", "outcome", "detail"),
    [
        (
            400,
            fcm_error(400, "INVALID_ARGUMENT", "Invalid value", field_violation="message.data"),
            PushOutcome.REJECTED,
            "HTTP 400 INVALID_ARGUMENT: Invalid value",
        ),
        (
            400,
            fcm_error(
                400, "INVALID_ARGUMENT", "bad", "INVALID_ARGUMENT", field_violation="message.ttl"
            ),
            PushOutcome.REJECTED,
            "HTTP 400 INVALID_ARGUMENT: bad",
        ),
        (
            400,
            fcm_error(
                400, "INVALID_ARGUMENT", "bad", "INVALID_ARGUMENT", field_violation="message.token"
            ),
            PushOutcome.UNREGISTERED,
            "HTTP 400 INVALID_ARGUMENT: bad",
        ),
        (
            404,
            fcm_error(404, "NOT_FOUND", "Requested entity was not found."),
            PushOutcome.REJECTED,
            "HTTP 404 NOT_FOUND: Requested entity was not found.",
        ),
        (
            403,
            fcm_error(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH"),
            PushOutcome.REJECTED,
            "HTTP 403 SENDER_ID_MISMATCH: SenderId mismatch",
        ),
        (
            401,
            fcm_error(401, "UNAUTHENTICATED", "APNs auth", "THIRD_PARTY_AUTH_ERROR"),
            PushOutcome.REJECTED,
            "HTTP 401 THIRD_PARTY_AUTH_ERROR: APNs auth",
        ),
        (
            429,
            fcm_error(429, "RESOURCE_EXHAUSTED", "quota", "QUOTA_EXCEEDED"),
            PushOutcome.RETRY,
            "HTTP 429 QUOTA_EXCEEDED: quota",
        ),
        (
            500,
            fcm_error(500, "INTERNAL", "internal", "INTERNAL"),
            PushOutcome.RETRY,
            "HTTP 500 INTERNAL: internal",
        ),
        (
            503,
            fcm_error(503, "UNAVAILABLE", "overloaded", "UNAVAILABLE"),
            PushOutcome.RETRY,
            "HTTP 503 UNAVAILABLE: overloaded",
        ),
        (502, "<html>bad gateway</html>", PushOutcome.RETRY, "HTTP 502"),
    ],
)
def test_each_fcm_answer_is_classified(
    provider: FcmProvider,
    fcm_endpoint: FcmEndpoint,
    fcm_target: PushTarget,
    status: int,
    body: object,
    outcome: PushOutcome,
    detail: str,
) -> None:
    fcm_endpoint.respond(status, body)

    result = provider.send(fcm_target, NOTICE)

    assert (result.outcome, result.status, result.detail) == (outcome, status, detail)
    assert len(fcm_endpoint.send_requests()) == 1  # THIRD_PARTY_AUTH_ERROR is not tried again


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_drop_the_cached_access_token(
    provider: FcmProvider, fcm_endpoint: FcmEndpoint, fcm_target: PushTarget, status: int
) -> None:
    provider.send(fcm_target, NOTICE)
    fcm_endpoint.respond(status, fcm_error(status, "PERMISSION_DENIED", "no"), times=2)
    provider.send(fcm_target, NOTICE)
    provider.send(fcm_target, NOTICE)

    expected_grants = 3 if status == 401 else 2  # a 401 also fetched one for its second try
    assert len(fcm_endpoint.token_requests()) == expected_grants


def test_a_revoked_access_token_is_replaced_and_the_notice_still_delivered(
    provider: FcmProvider, fcm_endpoint: FcmEndpoint, fcm_target: PushTarget
) -> None:
    provider.send(fcm_target, NOTICE)
    fcm_endpoint.revoke_tokens()

    result = provider.send(fcm_target, NOTICE)

    assert result.outcome is PushOutcome.DELIVERED
    assert [r.path for r in fcm_endpoint.received] == [
        "/token",
        fcm_endpoint.send_path,
        fcm_endpoint.send_path,  # 401: the revoked token
        "/token",
        fcm_endpoint.send_path,
    ]


def test_a_retry_after_from_fcm_is_carried_in_the_detail(
    provider: FcmProvider, fcm_endpoint: FcmEndpoint, fcm_target: PushTarget
) -> None:
    fcm_endpoint.respond(
        429,
        fcm_error(429, "RESOURCE_EXHAUSTED", "quota", "QUOTA_EXCEEDED"),
        headers={"retry-after": "120"},
    )

    result = provider.send(fcm_target, NOTICE)

    assert result.outcome is PushOutcome.RETRY
    assert result.detail == "HTTP 429 QUOTA_EXCEEDED: quota; retry after 120 s"
    assert retry_after_in(result.detail) == 120


@pytest.mark.parametrize(
    ("status", "body", "outcome", "detail"),
    [
        (
            400,
            {"error": "invalid_grant", "error_description": "Invalid JWT Signature."},
            PushOutcome.REJECTED,
            "OAuth token: HTTP 400 invalid_grant Invalid JWT Signature.",
        ),
        (
            401,
            {"error": "invalid_client", "error_description": "The OAuth client was not found."},
            PushOutcome.REJECTED,
            "OAuth token: HTTP 401 invalid_client The OAuth client was not found.",
        ),
        (503, {"error": "unavailable"}, PushOutcome.RETRY, "OAuth token: HTTP 503 unavailable"),
        (
            200,
            {"token_type": "Bearer"},
            PushOutcome.RETRY,
            "OAuth token: answer without access_token",
        ),
    ],
)
def test_a_failed_token_grant_is_classified_and_nothing_is_sent(
    provider: FcmProvider,
    fcm_endpoint: FcmEndpoint,
    fcm_target: PushTarget,
    status: int,
    body: object,
    outcome: PushOutcome,
    detail: str,
) -> None:
    fcm_endpoint.respond_token(status, body)

    result = provider.send(fcm_target, NOTICE)

    assert (result.outcome, result.status, result.detail) == (outcome, status, detail)
    assert fcm_endpoint.send_requests() == []


def test_a_token_endpoint_that_never_answers_is_a_timeout_to_retry(
    make_provider: MakeProvider, fcm_endpoint: FcmEndpoint, fcm_target: PushTarget
) -> None:
    fcm_endpoint.hang_token()

    result = make_provider(timeout=0.5).send(fcm_target, NOTICE)

    assert (result.outcome, result.detail) == (
        PushOutcome.RETRY,
        "OAuth token: timeout (ReadTimeout)",
    )
    assert fcm_endpoint.send_requests() == []


def test_fcm_that_never_answers_is_a_timeout_to_retry(
    make_provider: MakeProvider, fcm_endpoint: FcmEndpoint, fcm_target: PushTarget
) -> None:
    fcm_endpoint.hang()

    result = make_provider(timeout=0.5).send(fcm_target, NOTICE)

    assert (result.outcome, result.detail) == (PushOutcome.RETRY, "timeout (ReadTimeout)")


def test_a_refused_connection_is_retried(
    make_provider: MakeProvider,
    fcm_endpoint: FcmEndpoint,
    fcm_target: PushTarget,
    refused_url: str,
) -> None:
    make_provider().send(fcm_target, NOTICE)  # the access token is cached; only FCM is down

    result = make_provider(api_base=refused_url).send(fcm_target, NOTICE)

    assert (result.outcome, result.detail) == (PushOutcome.RETRY, "connection refused")


def test_a_refused_token_endpoint_is_retried(
    make_provider: MakeProvider, fcm_endpoint: FcmEndpoint, fcm_target: PushTarget
) -> None:
    account = fcm_endpoint.service_account_json()
    fcm_endpoint.stop()

    result = make_provider(account).send(fcm_target, NOTICE)

    assert (result.outcome, result.detail) == (PushOutcome.RETRY, "OAuth token: connection refused")


def test_fcm_down_then_up_again_delivers(
    provider: FcmProvider, fcm_endpoint: FcmEndpoint, fcm_target: PushTarget
) -> None:
    down, up = send_while_down_then_up(provider, fcm_endpoint, fcm_target)

    assert (down.outcome, down.detail) == (PushOutcome.RETRY, "connection refused")
    assert up.outcome is PushOutcome.DELIVERED
    assert len(fcm_endpoint.token_requests()) == 1


def test_send_never_raises_even_on_a_bug(
    provider: FcmProvider, fcm_target: PushTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    break_http(provider, monkeypatch, KeyError("boom"))

    result = provider.send(fcm_target, NOTICE)

    assert (result.outcome, result.detail) == (PushOutcome.REJECTED, "internal error: KeyError")


def _account(fcm: FcmEndpoint, **changes: object) -> str:
    data = json.loads(fcm.service_account_json())
    for name, value in changes.items():
        if value is None:
            del data[name]
        else:
            data[name] = value
    return json.dumps(data)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"type": "authorized_user"}, 'expected a key file of "type" service_account'),
        ({"project_id": None}, "project_id is missing"),
        ({"client_email": ""}, "client_email is missing"),
        ({"private_key": "-----BEGIN PRIVATE KEY-----\nAAAA"}, "private_key is not a PEM key"),
        ({"private_key": private_pem(ec.generate_private_key(ec.SECP256R1()))}, "an RSA key"),
        ({"token_uri": "http://oauth2.googleapis.com/token"}, "token_uri must be an https URL"),
    ],
)
def test_a_service_account_that_cannot_work_is_refused_with_the_member_named(
    fcm_endpoint: FcmEndpoint, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ProviderConfigError, match=message):
        FcmProvider(_account(fcm_endpoint, **changes))


def test_text_that_is_not_json_is_refused() -> None:
    with pytest.raises(ProviderConfigError, match="service account: not JSON"):
        FcmProvider("{not json")


def test_an_api_base_without_tls_is_refused(fcm_endpoint: FcmEndpoint) -> None:
    with pytest.raises(ProviderConfigError, match="api_base"):
        FcmProvider(fcm_endpoint.service_account_json(), api_base="http://fcm.googleapis.com")


def test_the_default_token_uri_is_googles(fcm_endpoint: FcmEndpoint) -> None:
    provider = FcmProvider(_account(fcm_endpoint, token_uri=None))

    assert provider.account.token_uri == "https://oauth2.googleapis.com/token"
    assert provider.send_url == ("https://fcm.googleapis.com/v1/projects/hermod-test/messages:send")


def test_a_connection_dropped_while_idle_is_replaced_without_failing_the_notice(
    provider: FcmProvider, fcm_endpoint: FcmEndpoint, fcm_target: PushTarget
) -> None:
    provider.send(fcm_target, NOTICE)
    fcm_endpoint.drop_connections()

    result = provider.send(fcm_target, NOTICE)

    assert result.outcome is PushOutcome.DELIVERED
    assert len(fcm_endpoint.send_requests()) == 2


def test_providers_made_from_one_service_account_share_one_access_token(
    make_provider: MakeProvider, fcm_endpoint: FcmEndpoint, fcm_target: PushTarget
) -> None:
    """A worker may build a provider per notice: Google is still asked once."""
    for _ in range(3):
        assert make_provider().send(fcm_target, NOTICE).outcome is PushOutcome.DELIVERED

    assert len(fcm_endpoint.token_requests()) == 1
    assert len({r.headers["authorization"] for r in fcm_endpoint.send_requests()}) == 1


def test_credentials_refused_twice_are_rejected_after_one_new_token(
    provider: FcmProvider, fcm_endpoint: FcmEndpoint, fcm_target: PushTarget
) -> None:
    unauthenticated = fcm_error(401, "UNAUTHENTICATED", "Request had invalid credentials.")
    fcm_endpoint.respond(401, unauthenticated, times=2)

    result = provider.send(fcm_target, NOTICE)

    assert (result.outcome, result.status) == (PushOutcome.REJECTED, 401)
    assert result.detail == "HTTP 401 UNAUTHENTICATED: Request had invalid credentials."
    assert len(fcm_endpoint.send_requests()) == 2
    assert len(fcm_endpoint.token_requests()) == 2
