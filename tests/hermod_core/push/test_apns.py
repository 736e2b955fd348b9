"""ApnsProvider against a local HTTP/2 endpoint that checks requests as APNs does."""

import logging
import threading
from collections.abc import Callable

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from hermod_core.push.apns import ApnsProvider, apns_payload, is_device_token
from hermod_core.push.base import PushOutcome, PushTarget
from hermod_core.push.transport import ProviderConfigError, retry_after_in
from tests.hermod_core.push.conftest import APNS_TOKEN, MESSAGE_ID, NOTICE, FakeClock
from tests.push_endpoints import ApnsEndpoint, break_http, private_pem
from tests.tls_ca import TlsFiles

MakeProvider = Callable[..., ApnsProvider]


@pytest.fixture
def make_provider(apns_endpoint: ApnsEndpoint, ca: str, clock: FakeClock) -> MakeProvider:
    def make(**overrides: object) -> ApnsProvider:
        options: dict[str, object] = {
            "key_id": apns_endpoint.key_id,
            "team_id": apns_endpoint.team_id,
            "topic": apns_endpoint.topic,
            "base_url": apns_endpoint.url,
            "verify": ca,
            "timeout": 2.0,
            "clock": clock,
        }
        options.update(overrides)
        return ApnsProvider(apns_endpoint.key_p8, **options)  # type: ignore[arg-type]

    return make


@pytest.fixture
def provider(make_provider: MakeProvider) -> ApnsProvider:
    return make_provider()


def _token_of(request_headers: dict[str, str]) -> str:
    scheme, _, token = request_headers["authorization"].partition(" ")
    assert scheme == "bearer"
    return token


def test_a_notice_reaches_apns_over_http2_with_every_header_and_a_signed_token(
    provider: ApnsProvider, apns_endpoint: ApnsEndpoint, apns_target: PushTarget, clock: FakeClock
) -> None:
    result = provider.send(apns_target, NOTICE)

    assert result.outcome is PushOutcome.DELIVERED
    assert result.status == 200
    assert result.detail == f"HTTP 200 apns-id {MESSAGE_ID}"
    [request] = apns_endpoint.received
    assert request.method == "POST"
    assert request.path == f"/3/device/{APNS_TOKEN}"
    headers = {k: v for k, v in request.headers.items() if not k.startswith(":")}
    token = _token_of(headers)
    assert headers == {
        "authorization": f"bearer {token}",
        "apns-topic": "com.example.hermod",
        "apns-push-type": "alert",
        "apns-priority": "10",
        "apns-expiration": str(int(clock.now) + 300),
        "apns-id": MESSAGE_ID,
        "content-type": "application/json",
        "content-length": str(len(request.body)),
        "accept": "*/*",
        "accept-encoding": headers["accept-encoding"],
        "user-agent": headers["user-agent"],
    }
    assert request.headers[":scheme"] == "https"
    assert request.headers[":authority"] == f"127.0.0.1:{apns_endpoint.port}"
    # The provider token: ES256 by the .p8 key, kid = key id, iss = team id, iat = now.
    public = apns_endpoint.private_key.public_key()
    assert jwt.get_unverified_header(token) == {
        "alg": "ES256",
        "kid": apns_endpoint.key_id,
        "typ": "JWT",
    }
    assert jwt.decode(token, public, algorithms=["ES256"], options={"verify_iat": False}) == {
        "iss": apns_endpoint.team_id,
        "iat": int(clock.now),
    }
    # Ids and type only: nothing of the message itself, no box token.
    assert request.json() == {
        "aps": {
            "alert": {
                "title-loc-key": "HERMOD_TITLE",
                "loc-key": "HERMOD_AUTH",
                "loc-args": ["Acme VPN"],
            },
            "sound": "default",
            "content-available": 1,
            "mutable-content": 1,
            "interruption-level": "time-sensitive",
        },
        "messageId": MESSAGE_ID,
        "pushId": NOTICE.push_id,
        "requestor": "Acme VPN",
        "type": "AUTH",
    }
    assert request.json() == apns_payload(NOTICE)


def test_a_tampered_token_would_be_refused_by_the_endpoint(
    apns_endpoint: ApnsEndpoint, push_tls: TlsFiles, clock: FakeClock, apns_target: PushTarget
) -> None:
    """The endpoint really verifies the signature: a key that is not the account's is refused."""
    pem = private_pem(ec.generate_private_key(ec.SECP256R1()))
    stranger = ApnsProvider(
        pem,
        key_id=apns_endpoint.key_id,
        team_id=apns_endpoint.team_id,
        topic=apns_endpoint.topic,
        base_url=apns_endpoint.url,
        verify=str(push_tls.ca_pem),
        clock=clock,
    )

    result = stranger.send(apns_target, NOTICE)

    assert (result.outcome, result.status) == (PushOutcome.REJECTED, 403)
    assert result.detail == "HTTP 403 InvalidProviderToken"
    assert apns_endpoint.violations == ["403 InvalidProviderToken"]
    apns_endpoint.violations.clear()


def test_the_provider_token_is_reused_for_50_minutes_then_renewed(
    provider: ApnsProvider, apns_endpoint: ApnsEndpoint, apns_target: PushTarget, clock: FakeClock
) -> None:
    first_iat = int(clock.now)
    provider.send(apns_target, NOTICE)
    clock.advance(49 * 60)
    provider.send(apns_target, NOTICE)
    clock.advance(60)
    provider.send(apns_target, NOTICE)

    tokens = [_token_of(r.headers) for r in apns_endpoint.wait_for(3)]
    assert tokens[0] == tokens[1] != tokens[2]
    public = apns_endpoint.private_key.public_key()
    claims = jwt.decode(tokens[2], public, algorithms=["ES256"], options={"verify_iat": False})
    assert claims["iat"] == first_iat + 50 * 60
    assert len(apns_endpoint.provider_tokens) == 2


def test_expired_provider_token_renews_the_token_and_asks_for_a_retry(
    provider: ApnsProvider, apns_endpoint: ApnsEndpoint, apns_target: PushTarget, clock: FakeClock
) -> None:
    provider.send(apns_target, NOTICE)
    clock.advance(25 * 60)
    apns_endpoint.respond(403, {"reason": "ExpiredProviderToken"})

    refused = provider.send(apns_target, NOTICE)
    again = provider.send(apns_target, NOTICE)

    assert (refused.outcome, refused.status) == (PushOutcome.RETRY, 403)
    assert refused.detail == "HTTP 403 ExpiredProviderToken: provider token renewed"
    assert again.outcome is PushOutcome.DELIVERED
    tokens = [_token_of(r.headers) for r in apns_endpoint.received]
    assert tokens[0] == tokens[1] != tokens[2]


def test_a_token_really_older_than_an_hour_is_never_sent(
    provider: ApnsProvider, apns_endpoint: ApnsEndpoint, apns_target: PushTarget, clock: FakeClock
) -> None:
    provider.send(apns_target, NOTICE)
    clock.advance(61 * 60)

    assert provider.send(apns_target, NOTICE).outcome is PushOutcome.DELIVERED
    assert len(apns_endpoint.provider_tokens) == 2


def test_a_fresh_token_called_expired_is_kept_and_the_clock_blamed(
    provider: ApnsProvider, apns_endpoint: ApnsEndpoint, apns_target: PushTarget, clock: FakeClock
) -> None:
    """Renewing a token younger than 20 minutes would earn TooManyProviderTokenUpdates."""
    provider.send(apns_target, NOTICE)
    clock.advance(5 * 60)
    apns_endpoint.respond(403, {"reason": "ExpiredProviderToken"})

    refused = provider.send(apns_target, NOTICE)
    provider.send(apns_target, NOTICE)

    assert refused.outcome is PushOutcome.RETRY
    assert refused.detail == (
        "HTTP 403 ExpiredProviderToken for a token made 300 s ago: check this server's clock"
    )
    assert len({_token_of(r.headers) for r in apns_endpoint.received}) == 1


def test_an_unregistered_device_answers_410_and_the_registration_is_dead(
    provider: ApnsProvider, apns_endpoint: ApnsEndpoint, apns_target: PushTarget
) -> None:
    apns_endpoint.unregister(APNS_TOKEN)

    result = provider.send(apns_target, NOTICE)

    assert (result.outcome, result.status) == (PushOutcome.UNREGISTERED, 410)
    assert result.detail == "HTTP 410 Unregistered"


@pytest.mark.parametrize(
    ("status", "reason", "outcome"),
    [
        (410, "ExpiredToken", PushOutcome.UNREGISTERED),
        (400, "BadDeviceToken", PushOutcome.UNREGISTERED),
        (400, "Unregistered", PushOutcome.UNREGISTERED),
        (400, "DeviceTokenNotForTopic", PushOutcome.UNREGISTERED),
        (400, "TopicDisallowed", PushOutcome.REJECTED),
        (400, "PayloadEmpty", PushOutcome.REJECTED),
        (403, "InvalidProviderToken", PushOutcome.REJECTED),
        (403, "Forbidden", PushOutcome.REJECTED),
        (404, "BadPath", PushOutcome.REJECTED),
        (413, "PayloadTooLarge", PushOutcome.REJECTED),
        (429, "TooManyRequests", PushOutcome.RETRY),
        (429, "TooManyProviderTokenUpdates", PushOutcome.RETRY),
        (500, "InternalServerError", PushOutcome.RETRY),
        (503, "ServiceUnavailable", PushOutcome.RETRY),
    ],
)
def test_each_apns_answer_is_classified(
    provider: ApnsProvider,
    apns_endpoint: ApnsEndpoint,
    apns_target: PushTarget,
    status: int,
    reason: str,
    outcome: PushOutcome,
) -> None:
    apns_endpoint.respond(status, {"reason": reason})

    result = provider.send(apns_target, NOTICE)

    assert (result.outcome, result.status, result.detail) == (
        outcome,
        status,
        f"HTTP {status} {reason}",
    )


def test_a_retry_after_from_apns_is_carried_in_the_detail(
    provider: ApnsProvider, apns_endpoint: ApnsEndpoint, apns_target: PushTarget
) -> None:
    apns_endpoint.respond(503, {"reason": "ServiceUnavailable"}, headers={"retry-after": "7"})

    result = provider.send(apns_target, NOTICE)

    assert result.outcome is PushOutcome.RETRY
    assert result.detail == "HTTP 503 ServiceUnavailable; retry after 7 s"
    assert retry_after_in(result.detail) == 7


def test_an_answer_that_is_not_json_is_summarised_not_trusted(
    provider: ApnsProvider, apns_endpoint: ApnsEndpoint, apns_target: PushTarget
) -> None:
    apns_endpoint.respond(502)

    result = provider.send(apns_target, NOTICE)

    assert (result.outcome, result.detail) == (PushOutcome.RETRY, "HTTP 502")


def test_an_endpoint_that_never_answers_is_a_timeout_to_retry(
    make_provider: MakeProvider, apns_endpoint: ApnsEndpoint, apns_target: PushTarget
) -> None:
    apns_endpoint.hang()

    result = make_provider(timeout=0.5).send(apns_target, NOTICE)

    assert result.outcome is PushOutcome.RETRY
    assert result.detail == "timeout (ReadTimeout)"
    assert result.status is None


def test_a_server_that_never_finishes_the_tls_handshake_is_a_timeout_to_retry(
    make_provider: MakeProvider, silent_url: str, apns_target: PushTarget
) -> None:
    result = make_provider(base_url=silent_url, timeout=0.5).send(apns_target, NOTICE)

    assert (result.outcome, result.detail) == (PushOutcome.RETRY, "timeout (ConnectTimeout)")


def test_a_refused_connection_is_retried(
    make_provider: MakeProvider, refused_url: str, apns_target: PushTarget
) -> None:
    result = make_provider(base_url=refused_url).send(apns_target, NOTICE)

    assert (result.outcome, result.detail) == (PushOutcome.RETRY, "connection refused")


def test_an_untrusted_certificate_is_never_talked_to(
    make_provider: MakeProvider, apns_endpoint: ApnsEndpoint, apns_target: PushTarget
) -> None:
    result = make_provider(verify=True).send(apns_target, NOTICE)

    assert result.outcome is PushOutcome.RETRY
    assert "CERTIFICATE_VERIFY_FAILED" in result.detail
    assert apns_endpoint.received == []


def test_apns_down_then_up_again_delivers_on_a_new_connection(
    provider: ApnsProvider, apns_endpoint: ApnsEndpoint, apns_target: PushTarget
) -> None:
    assert provider.send(apns_target, NOTICE).outcome is PushOutcome.DELIVERED
    apns_endpoint.stop()

    down = provider.send(apns_target, NOTICE)
    apns_endpoint.start()
    up = provider.send(apns_target, NOTICE)

    assert down.outcome is PushOutcome.RETRY
    assert up.outcome is PushOutcome.DELIVERED
    assert len(apns_endpoint.received) == 2


def test_concurrent_sends_share_one_connection_pool_and_one_token(
    provider: ApnsProvider, apns_endpoint: ApnsEndpoint, apns_target: PushTarget
) -> None:
    results = []

    def send() -> None:
        results.append(provider.send(apns_target, NOTICE).outcome)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [PushOutcome.DELIVERED] * 8
    assert len(apns_endpoint.provider_tokens) == 1


@pytest.mark.parametrize("token", ["", "zz" * 32, "a1" * 31 + "/x", "../../3/device/" + "a1" * 32])
def test_a_token_that_is_not_hex_is_never_sent(
    provider: ApnsProvider, apns_endpoint: ApnsEndpoint, token: str
) -> None:
    result = provider.send(PushTarget(provider="apns", token=token, os="ios"), NOTICE)

    assert result.outcome is PushOutcome.UNREGISTERED
    assert result.detail == "not an APNs device token (hex expected)"
    assert apns_endpoint.received == []
    assert not is_device_token(token)


def test_a_message_id_that_is_not_a_uuid_leaves_apns_id_to_apple(
    provider: ApnsProvider, apns_endpoint: ApnsEndpoint, apns_target: PushTarget
) -> None:
    notice = NOTICE.__class__(message_id="42", push_id="p", requestor="r", type="SIGN")

    assert provider.send(apns_target, notice).outcome is PushOutcome.DELIVERED
    [request] = apns_endpoint.received
    assert "apns-id" not in request.headers
    assert request.json()["messageId"] == "42"
    assert request.json()["aps"]["alert"]["loc-key"] == "HERMOD_SIGN"


def test_send_never_raises_even_on_a_bug(
    provider: ApnsProvider, apns_target: PushTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    break_http(provider, monkeypatch, RuntimeError("boom"))

    result = provider.send(apns_target, NOTICE)

    assert (result.outcome, result.detail) == (PushOutcome.REJECTED, "internal error: RuntimeError")


@pytest.mark.parametrize(
    ("key", "options", "message"),
    [
        ("not a key", {}, "key_p8: not a PEM private key"),
        (
            private_pem(ec.generate_private_key(ec.SECP384R1())),
            {},
            "key_p8: an APNs auth key is an EC P-256 key",
        ),
        (None, {"key_id": "short"}, "key_id: expected the 10-character key id"),
        (None, {"team_id": "lowercase1"}, "team_id: expected the 10-character Apple team id"),
        (None, {"topic": ""}, "topic: expected the app's bundle id"),
        (None, {"base_url": "http://api.push.apple.com"}, "base_url: APNs is reached over https"),
    ],
)
def test_a_configuration_that_cannot_work_is_refused_with_the_field_named(
    key: str | None, options: dict[str, str], message: str
) -> None:
    p8 = key if key is not None else private_pem(ec.generate_private_key(ec.SECP256R1()))
    settings = {"key_id": "ABCDE12345", "team_id": "TEAM123456", "topic": "com.example.app"}
    settings.update(options)

    with pytest.raises(ProviderConfigError, match=message):
        ApnsProvider(p8, **settings)  # type: ignore[arg-type]


def test_the_device_token_never_reaches_the_log(
    provider: ApnsProvider,
    apns_endpoint: ApnsEndpoint,
    apns_target: PushTarget,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """httpx logs each request line at INFO; settings keep it at WARNING (the URL holds it)."""
    caplog.set_level(logging.DEBUG)

    provider.send(apns_target, NOTICE)
    apns_endpoint.respond(500, {"reason": "InternalServerError"})
    provider.send(apns_target, NOTICE)

    assert APNS_TOKEN not in caplog.text


def test_a_connection_dropped_while_idle_is_replaced_without_failing_the_notice(
    provider: ApnsProvider, apns_endpoint: ApnsEndpoint, apns_target: PushTarget
) -> None:
    provider.send(apns_target, NOTICE)
    apns_endpoint.drop_connections()

    result = provider.send(apns_target, NOTICE)

    assert result.outcome is PushOutcome.DELIVERED
    assert len(apns_endpoint.received) == 2


def test_providers_made_from_one_key_share_one_provider_token(
    make_provider: MakeProvider, apns_endpoint: ApnsEndpoint, apns_target: PushTarget
) -> None:
    """A worker may build a provider per notice: a token per notice would earn Apple's
    TooManyProviderTokenUpdates (the endpoint checks it)."""
    for _ in range(3):
        assert make_provider().send(apns_target, NOTICE).outcome is PushOutcome.DELIVERED

    assert len(apns_endpoint.provider_tokens) == 1


def test_a_token_refused_after_another_thread_renewed_it_leaves_the_new_one_alone(
    provider: ApnsProvider, apns_endpoint: ApnsEndpoint, apns_target: PushTarget, clock: FakeClock
) -> None:
    """Two requests with the old token can both come back ExpiredProviderToken; the second
    answer must not throw away the token the first one caused to be made."""
    old = provider.provider_token()
    clock.advance(51 * 60)
    new = provider.provider_token()

    result = provider._expired_provider_token(old, "HTTP 403 ExpiredProviderToken", 403)

    assert result.outcome is PushOutcome.RETRY
    assert provider.provider_token() == new != old
