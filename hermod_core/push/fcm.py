"""Firebase Cloud Messaging, HTTP v1 API, authenticated as a Google service account.

1. An OAuth 2.0 access token: a JWT-bearer grant (RFC 7523) signed RS256 with the service
   account's private key, POSTed to its ``token_uri``, scope ``firebase.messaging``; cached until
   five minutes before it expires, fetched by one thread at a time.
2. ``POST {api_base}/v1/projects/{project_id}/messages:send`` with ``Authorization: Bearer``.

The message is a data message (``data`` = the notice's ids and type, as strings) at Android
``high`` priority, which wakes the app from Doze; for an iOS token FCM forwards the ``apns``
block, the same alert wake-up ``ApnsProvider`` sends (hermod_core/push/apns.py says why).
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from hermod_core.push.apns import apns_payload
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

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL, not a secret
ASSERTION_LIFETIME = 3600  # Google's maximum for the grant's assertion
REFRESH_MARGIN = 300  # fetch a new access token this long before the cached one expires

_FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"


@dataclass(frozen=True)
class ServiceAccount:
    """The members of a service-account key file that FCM needs."""

    project_id: str
    client_email: str
    private_key_id: str
    private_key: rsa.RSAPrivateKey
    token_uri: str


def service_account_parse(text: str) -> ServiceAccount:
    """Read the JSON key file downloaded from the Firebase console (Project settings, Service
    accounts); ``ProviderConfigError`` names the member that is missing or wrong."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProviderConfigError("service account: not JSON") from exc
    if not isinstance(data, dict) or data.get("type") != "service_account":
        raise ProviderConfigError('service account: expected a key file of "type" service_account')
    members: dict[str, str] = {}
    for name in ("project_id", "client_email", "private_key_id", "private_key"):
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ProviderConfigError(f"service account: {name} is missing")
        members[name] = value
    token_uri = data.get("token_uri", DEFAULT_TOKEN_URI)
    if not isinstance(token_uri, str) or not token_uri.startswith("https://"):
        # The signed assertion is as good as the key for an hour: never send it in clear.
        raise ProviderConfigError("service account: token_uri must be an https URL")
    try:
        key = load_pem_private_key(members["private_key"].encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ProviderConfigError("service account: private_key is not a PEM key") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ProviderConfigError("service account: private_key must be an RSA key")
    return ServiceAccount(
        project_id=members["project_id"],
        client_email=members["client_email"],
        private_key_id=members["private_key_id"],
        private_key=key,
        token_uri=token_uri,
    )


class _TokenFailure(Exception):
    """The OAuth token endpoint did not give an access token; ``result`` says why."""

    def __init__(self, result: PushResult) -> None:
        super().__init__(result.detail)
        self.result = result


class FcmProvider(Http2Provider):
    """One Firebase project; ``send`` never raises, it classifies."""

    name = "fcm"

    def __init__(
        self,
        service_account_json: str,
        *,
        api_base: str = "https://fcm.googleapis.com",
        verify: str | bool = True,
        timeout: float = 10.0,
        ttl: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.account = service_account_parse(service_account_json)
        if not api_base.startswith("https://"):
            raise ProviderConfigError("api_base: FCM is reached over https only")
        self.send_url = (
            f"{api_base.rstrip('/')}/v1/projects/{self.account.project_id}/messages:send"
        )
        super().__init__(verify=verify, timeout=timeout, ttl=ttl, clock=clock)
        # (access token, refresh after), shared by every provider of this account in this process
        self._token = token_slot(
            "fcm", self.account.token_uri, self.account.client_email, self.account.private_key_id
        )

    def message(self, target: PushTarget, notice: PushNotice) -> dict[str, Any]:
        """The ``messages:send`` body: ids and type only, never message content."""
        return {
            "message": {
                "token": target.token,
                "data": notice.as_relay_body(),
                "android": {"priority": "high", "ttl": f"{self.ttl}s"},
                "apns": {
                    "headers": {
                        "apns-push-type": "alert",
                        "apns-priority": "10",
                        "apns-expiration": str(int(self._clock()) + self.ttl),
                    },
                    "payload": apns_payload(notice),
                },
            }
        }

    def assertion(self) -> str:
        """The signed JWT of the JWT-bearer grant (RFC 7523 §2.1)."""
        now = int(self._clock())
        return jwt.encode(
            {
                "iss": self.account.client_email,
                "scope": SCOPE,
                "aud": self.account.token_uri,
                "iat": now,
                "exp": now + ASSERTION_LIFETIME,
            },
            self.account.private_key,
            algorithm="RS256",
            headers={"kid": self.account.private_key_id},
        )

    def access_token(self) -> str:
        """A cached access token, or a new one; raises ``_TokenFailure`` with the result."""
        with self._token.lock:  # one fetch at a time: the other threads then use its token
            if self._token.value is not None and self._clock() < self._token.value[1]:
                return self._token.value[0]
            token, lifetime = self._fetch_token()
            self._token.value = (token, self._clock() + max(0, lifetime - REFRESH_MARGIN))
            return token

    def forget_access_token(self, refused: str) -> None:
        """Drop ``refused`` from the cache (not a newer token another thread fetched since)."""
        with self._token.lock:
            if self._token.value is not None and self._token.value[0] == refused:
                self._token.value = None

    def _fetch_token(self) -> tuple[str, int]:
        try:
            response = self._http.post(
                self.account.token_uri,
                data={"grant_type": JWT_BEARER, "assertion": self.assertion()},
                headers={"accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            detail = f"OAuth token: {transport_failure(exc).detail}"
            raise _TokenFailure(PushResult(PushOutcome.RETRY, detail)) from exc
        status = response.status_code
        body = _json_object(response)
        if status == 200:
            token, lifetime = body.get("access_token"), body.get("expires_in", 3600)
            if isinstance(token, str) and token and isinstance(lifetime, int):
                return token, lifetime
            raise _TokenFailure(
                PushResult(PushOutcome.RETRY, "OAuth token: answer without access_token", status)
            )
        error = " ".join(
            one_line(str(body.get(name, "")), 120) for name in ("error", "error_description")
        ).strip()
        detail = f"OAuth token: HTTP {status} {error}".rstrip()
        if status in RETRY_STATUSES:
            raise _TokenFailure(retry_result(detail, status, response.headers.get("retry-after")))
        # invalid_grant (a deleted key, a clock far off), invalid_client...: fix the settings.
        raise _TokenFailure(PushResult(PushOutcome.REJECTED, detail, status))

    def _send(self, target: PushTarget, notice: PushNotice) -> PushResult:
        if not target.token:
            return PushResult(PushOutcome.UNREGISTERED, "empty FCM registration token")
        body = json.dumps(self.message(target, notice), separators=(",", ":")).encode()
        try:
            response, used = self._post(body)
            if response.status_code == 401 and _error_code(response) != "THIRD_PARTY_AUTH_ERROR":
                # An access token revoked before its time: one more try with a new one.
                self.forget_access_token(used)
                response, used = self._post(body)
        except _TokenFailure as failure:
            return failure.result
        except httpx.HTTPError as exc:
            return transport_failure(exc)
        return self._classify(response, used)

    def _post(self, body: bytes) -> tuple[httpx.Response, str]:
        token = self.access_token()
        response = self._http.post(
            self.send_url,
            content=body,
            headers={
                "authorization": f"Bearer {token}",
                "content-type": "application/json; charset=utf-8",
            },
        )
        return response, token

    def _classify(self, response: httpx.Response, access_token: str) -> PushResult:
        status = response.status_code
        if status == 200:
            name = one_line(str(_json_object(response).get("name", "")))
            return PushResult(PushOutcome.DELIVERED, f"HTTP 200 {name}", status)
        error = _error_of(response)
        code = _fcm_error_code(error) or one_line(str(error.get("status", "")), 40)
        detail = f"HTTP {status} {code}: {one_line(str(error.get('message', '')), 120)}"
        detail = detail.rstrip(": ")
        if _token_is_dead(status, error):
            return PushResult(PushOutcome.UNREGISTERED, detail, status)
        if status in (401, 403):
            # Wrong or revoked credentials, SENDER_ID_MISMATCH, THIRD_PARTY_AUTH_ERROR: the next
            # notice starts with a new access token, and the operator sees this detail.
            self.forget_access_token(access_token)
            return PushResult(PushOutcome.REJECTED, detail, status)
        if status in RETRY_STATUSES:
            return retry_result(detail, status, response.headers.get("retry-after"))
        return PushResult(PushOutcome.REJECTED, detail, status)


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error_of(response: httpx.Response) -> dict[str, Any]:
    """The ``error`` member of a Google API error body (``{}`` when there is none)."""
    found = _json_object(response).get("error")
    return found if isinstance(found, dict) else {}


def _error_code(response: httpx.Response) -> str:
    return _fcm_error_code(_error_of(response))


def _details(error: dict[str, Any]) -> list[dict[str, Any]]:
    details = error.get("details")
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def _fcm_error_code(error: dict[str, Any]) -> str:
    for detail in _details(error):
        if detail.get("@type") == _FCM_ERROR and isinstance(detail.get("errorCode"), str):
            return one_line(detail["errorCode"], 40)
    return ""


def _token_is_dead(status: int, error: dict[str, Any]) -> bool:
    """404 UNREGISTERED, or 400 INVALID_ARGUMENT about the token itself.

    FCM answers 400 INVALID_ARGUMENT for a malformed token and for a malformed message alike;
    only the first is the device's fault. A ``BadRequest`` naming another field than
    ``message.token`` is ours: dropping the registration for it would silence a good device.
    """
    code = _fcm_error_code(error)
    if status == 404:
        return code == "UNREGISTERED"
    if status != 400 or code != "INVALID_ARGUMENT":
        return False
    fields = [
        violation.get("field")
        for detail in _details(error)
        if detail.get("@type") == _BAD_REQUEST
        for violation in detail.get("fieldViolations") or []
        if isinstance(violation, dict)
    ]
    return all(field == "message.token" for field in fields)
