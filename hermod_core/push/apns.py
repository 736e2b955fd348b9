"""Apple Push Notification service, token-based (``.p8``) authentication over HTTP/2.

``POST {base_url}/3/device/{hex token}`` with ``authorization: bearer <ES256 JWT>`` (header
``kid`` = key id, claims ``iss`` = team id and ``iat``), ``apns-topic`` = the app's bundle id,
and a payload that carries only the notice's ids and type (issue 12).

Why an alert push and not a background one: Apple treats background pushes
(``content-available`` alone, ``apns-priority: 5``) as low priority, may hold or drop them, and
asks senders to stay under two or three an hour; an authentication request is time-critical and
must reach the user now. So Hermod sends ``apns-push-type: alert`` at ``apns-priority: 10`` with a
localisable alert (``loc-key``, text from the app's own strings: no message content leaves the
server), ``content-available: 1`` so the app also wakes to fetch, and ``mutable-content: 1`` so a
notification service extension may fetch and rewrite the alert. docs/push-providers.md.
"""

import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
)

from hermod_core.push.base import PushNotice, PushOutcome, PushResult, PushTarget
from hermod_core.push.transport import (
    RETRY_STATUSES,
    Http2Provider,
    ProviderConfigError,
    one_line,
    retry_result,
    token_slot,
    transport_failure,
)

PRODUCTION = "https://api.push.apple.com"
SANDBOX = "https://api.sandbox.push.apple.com"

# Apple refuses a provider token older than an hour (ExpiredProviderToken) and one refreshed
# more often than every 20 minutes (TooManyProviderTokenUpdates): reuse one for 50 minutes.
TOKEN_REUSE_SECONDS = 50 * 60
TOKEN_MIN_REFRESH_SECONDS = 20 * 60

# Device tokens are hex; Apple says not to assume a length (32 bytes today). Anything else would
# also change the request path, so it is never sent.
_DEVICE_TOKEN = re.compile(r"(?:[0-9a-fA-F]{2}){8,128}")
_TEN_CHARS = re.compile(r"[A-Z0-9]{10}")

# The token is dead for this app: drop the registration (Apple's "reason" values).
_DEAD_TOKEN_REASONS = frozenset({"BadDeviceToken", "Unregistered", "DeviceTokenNotForTopic"})


def is_device_token(token: str) -> bool:
    """Whether ``token`` has the shape of an APNs device token (hex, whole bytes)."""
    return _DEVICE_TOKEN.fullmatch(token) is not None


def aps_dictionary(notice: PushNotice) -> dict[str, Any]:
    """The ``aps`` member of every iOS wake-up Hermod sends, directly or through FCM.

    The alert text comes from the app's localisable strings (``HERMOD_<TYPE>``, with the
    requestor's display name as its one argument); Apple shows the key itself if the app lacks it.
    """
    return {
        "alert": {
            "title-loc-key": "HERMOD_TITLE",
            "loc-key": f"HERMOD_{notice.type}",
            "loc-args": [notice.requestor],
        },
        "sound": "default",
        "content-available": 1,
        "mutable-content": 1,
        "interruption-level": "time-sensitive",
    }


def apns_payload(notice: PushNotice) -> dict[str, Any]:
    """``{"aps": {...}, "messageId", "pushId", "requestor", "type"}``: ids and type only."""
    return {"aps": aps_dictionary(notice), **notice.as_relay_body()}


class ApnsProvider(Http2Provider):
    """One app (``topic``) of one Apple team; ``send`` never raises, it classifies."""

    name = "apns"

    def __init__(
        self,
        key_p8: str,
        *,
        key_id: str,
        team_id: str,
        topic: str,
        base_url: str = PRODUCTION,
        verify: str | bool = True,
        timeout: float = 10.0,
        ttl: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = _signing_key(key_p8)
        if not _TEN_CHARS.fullmatch(key_id):
            raise ProviderConfigError("key_id: expected the 10-character key id of the .p8 key")
        if not _TEN_CHARS.fullmatch(team_id):
            raise ProviderConfigError("team_id: expected the 10-character Apple team id")
        if not topic or any(c.isspace() for c in topic):
            raise ProviderConfigError("topic: expected the app's bundle id")
        if not base_url.startswith("https://"):
            raise ProviderConfigError("base_url: APNs is reached over https only")
        self.key_id = key_id
        self.team_id = team_id
        self.topic = topic
        self.base_url = base_url.rstrip("/")
        super().__init__(verify=verify, timeout=timeout, ttl=ttl, clock=clock)
        public = self._key.public_key().public_bytes(
            Encoding.DER, PublicFormat.SubjectPublicKeyInfo
        )
        # (jwt, issued at), shared by every provider of this key in this process
        self._token = token_slot("apns", team_id, key_id, hashlib.sha256(public).hexdigest())

    def provider_token(self) -> str:
        """The current ES256 provider token, made anew once it is 50 minutes old."""
        now = self._clock()
        with self._token.lock:
            if self._token.value is None or now - self._token.value[1] >= TOKEN_REUSE_SECONDS:
                issued = int(now)
                token = jwt.encode(
                    {"iss": self.team_id, "iat": issued},
                    self._key,
                    algorithm="ES256",
                    headers={"kid": self.key_id},
                )
                self._token.value = (token, issued)
            return self._token.value[0]

    def headers(self, notice: PushNotice, provider_token: str) -> dict[str, str]:
        headers = {
            "authorization": f"bearer {provider_token}",
            "apns-topic": self.topic,
            "apns-push-type": "alert",
            "apns-priority": "10",
            # After this the notice is stale (the request it announces has expired): drop it.
            "apns-expiration": str(int(self._clock()) + self.ttl),
            "content-type": "application/json",
        }
        message_id = _canonical_uuid(notice.message_id)
        if message_id is not None:
            headers["apns-id"] = message_id
        return headers

    def _send(self, target: PushTarget, notice: PushNotice) -> PushResult:
        if not is_device_token(target.token):
            return PushResult(PushOutcome.UNREGISTERED, "not an APNs device token (hex expected)")
        body = json.dumps(apns_payload(notice), separators=(",", ":")).encode()
        provider_token = self.provider_token()
        try:
            response = self._http.post(
                f"{self.base_url}/3/device/{target.token}",
                content=body,
                headers=self.headers(notice, provider_token),
            )
        except httpx.HTTPError as exc:
            return transport_failure(exc)
        return self._classify(response, provider_token)

    def _classify(self, response: httpx.Response, provider_token: str) -> PushResult:
        status = response.status_code
        if status == 200:
            apns_id = response.headers.get("apns-id", "")
            return PushResult(PushOutcome.DELIVERED, f"HTTP 200 apns-id {apns_id}", status)
        reason = _reason(response)
        detail = f"HTTP {status} {reason}".rstrip()
        if status == 410 or (status == 400 and reason in _DEAD_TOKEN_REASONS):
            return PushResult(PushOutcome.UNREGISTERED, detail, status)
        if status == 403 and reason == "ExpiredProviderToken":
            return self._expired_provider_token(provider_token, detail, status)
        if status in RETRY_STATUSES:
            return retry_result(detail, status, response.headers.get("retry-after"))
        return PushResult(PushOutcome.REJECTED, detail, status)

    def _expired_provider_token(self, refused: str, detail: str, status: int) -> PushResult:
        """Drop the refused token so that the next try makes a new one; but a token younger
        than 20 minutes is kept (Apple would refuse the refresh, and a fresh token called
        expired means the clock is wrong, which a new token cannot mend)."""
        now = self._clock()
        with self._token.lock:
            made = self._token.value
            # Otherwise another thread has already replaced the refused token.
            if made is not None and made[0] == refused:
                age = int(now - made[1])
                if age < TOKEN_MIN_REFRESH_SECONDS:
                    return PushResult(
                        PushOutcome.RETRY,
                        f"{detail} for a token made {age} s ago: check this server's clock",
                        status,
                    )
                self._token.value = None
        return PushResult(PushOutcome.RETRY, f"{detail}: provider token renewed", status)


def _signing_key(key_p8: str) -> ec.EllipticCurvePrivateKey:
    try:
        key = load_pem_private_key(key_p8.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ProviderConfigError(
            "key_p8: not a PEM private key (paste the whole AuthKey_<id>.p8 file)"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ProviderConfigError("key_p8: an APNs auth key is an EC P-256 key")
    return key


def _canonical_uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _reason(response: httpx.Response) -> str:
    """Apple's ``{"reason": "BadDeviceToken"}``; anything else is summarised, never trusted."""
    try:
        body = response.json()
    except ValueError:
        return one_line(response.text, 80)
    reason = body.get("reason") if isinstance(body, dict) else None
    return one_line(reason, 80) if isinstance(reason, str) else ""
