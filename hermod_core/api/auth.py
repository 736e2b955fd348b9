"""X-Api-Key authentication for the command API (docs/PROTOCOL.md §3)."""

import logging
from typing import Any

from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from hermod_core import observability
from hermod_core.api import ratelimit
from hermod_core.api.errors import UNAUTHORIZED_MESSAGE, ApiError
from hermod_core.models import CaSettings, Client
from hermod_core.protocol.api_key import (
    MalformedApiKey,
    read_api_key_header,
    trailing_whitespace_hint,
)
from hermod_core.proxies import budget_address, client_address
from hermod_core.selectors.ca import ca_settings_for_verifier
from hermod_core.selectors.clients import client_for_authentication
from hermod_core.services.credentials import KeyMatch, api_key_check, ca_verifier_hash

logger = logging.getLogger("hermod.auth")


class ApiKeyRefused(ApiError):
    """The uniform 401, carrying why (for the server log only, never for the client): one body
    for every failure, missing, malformed, unknown client, disabled or wrong key."""

    def __init__(self, reason: str) -> None:
        super().__init__(401, "UNAUTHORIZED", UNAUTHORIZED_MESSAGE)
        self.reason = reason


def _shown(client_id: str) -> str:
    # A client id comes from the caller: repr() escapes newlines and quotes, so a forged id cannot
    # write a line of its own into the log.
    return repr(client_id[:100])


def client_authenticate(header: str | None) -> Client:
    """The enabled client whose key the header carries, or the uniform 401 (``ApiKeyRefused``,
    whose ``reason`` tells the operator which check failed).

    The HMAC and both comparisons (the key, and the previous key within its grace period) run
    whether or not the client exists, so the answer time does not tell whether a client id is
    known.
    """
    parsed = read_api_key_header(header)
    if isinstance(parsed, MalformedApiKey):
        api_key_check("", None, None)
        raise ApiKeyRefused(f"malformed header: {parsed.reason}")
    client = client_for_authentication(parsed.client_id)
    match = api_key_check(
        parsed.key,
        client.key_hash if client else None,
        client.previous_key_hash_at(timezone.now()) if client else None,
    )
    if client is None:
        hint = trailing_whitespace_hint(parsed.client_id)
        raise ApiKeyRefused(f"unknown client {_shown(parsed.client_id)}{hint}")
    if match is KeyMatch.NONE:
        rotated = client.key_rotated_at
        when = f"; its key was last set {rotated:%Y-%m-%d %H:%M} UTC" if rotated else ""
        hint = trailing_whitespace_hint(parsed.key)
        raise ApiKeyRefused(f"wrong key for client {_shown(client.client_id)}{hint}{when}")
    if not client.enabled:
        raise ApiKeyRefused(f"client {_shown(client.client_id)} is disabled")
    return client


class ApiKeyAuthentication(BaseAuthentication):
    """X-Api-Key: a request budget per proven client, a failure budget per client address.

    Authentication comes first (one HMAC and one indexed lookup): a valid key always proceeds,
    subject only to its own client's request budget. Only a failed attempt counts against the
    failure budget of its address (``hermod_core.proxies.client_address``), and once that is
    spent the address's failing attempts get 429 instead of 401 — the same for every claimed
    client id, so the answer tells nothing about which ids exist.

    The failure budget keys on the address alone, not on (address, claimed client id): the id is
    chosen freely by the caller, so a per-id key would hand a guesser a fresh budget with every
    id it invents, while keys are random enough that guessing one client's key is no easier than
    another's. It cannot hurt a client sharing the address either: a valid key never consults it.
    """

    def authenticate(self, request: Request) -> tuple[Client, None]:
        try:
            client = client_authenticate(request.META.get("HTTP_X_API_KEY"))
        except ApiKeyRefused as refused:
            address = client_address(request)
            # Counted first: once the address's failure budget is spent it gets 429 and no
            # line, so a flood of bad keys writes at most one budget's worth of lines.
            ratelimit.failed(ratelimit.auth_failures(), budget_address(address))
            logger.warning("API key refused from %s: %s", address, refused.reason)
            raise
        observability.client_id.set(client.client_id)
        ratelimit.hit(ratelimit.per_client(), client.client_id)
        return client, None

    def authenticate_header(self, request: Request) -> str:
        return "X-Api-Key"


class IsClient(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, Client)


CA_VERIFIER_UNAUTHORIZED_MESSAGE = "A valid CA verifier credential is required."


def ca_verifier_authenticate(header: str | None) -> CaSettings:
    """The CA whose verifier credential ``Authorization: Bearer <credential>`` carries, or 401.

    The lookup is by the credential's keyed digest (a 256-bit random secret: an index lookup on
    its HMAC tells an attacker nothing), and every failure gets the same body.
    """
    scheme, _, credential = (header or "").partition(" ")
    credential = credential.strip()
    ca = None
    if scheme.lower() == "bearer" and 0 < len(credential) <= 200:
        ca = ca_settings_for_verifier(ca_verifier_hash(credential))
    if ca is None:
        raise ApiError(401, "UNAUTHORIZED", CA_VERIFIER_UNAUTHORIZED_MESSAGE)
    return ca


class CaVerifierAuthentication(BaseAuthentication):
    """A group CA's verifier credential, with the same failure budget per address as X-Api-Key
    (only failed attempts count; a valid credential always proceeds)."""

    def authenticate(self, request: Request) -> tuple[CaSettings, None]:
        try:
            ca = ca_verifier_authenticate(request.META.get("HTTP_AUTHORIZATION"))
        except ApiError:
            ratelimit.failed(ratelimit.auth_failures(), budget_address(client_address(request)))
            raise
        return ca, None

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


class IsCaVerifier(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, CaSettings)
