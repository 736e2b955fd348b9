"""Secrets the server hands out: API keys, one-time message tokens, box tokens, one-time SCEP
challenges and CA verifier credentials.

Nothing here is stored in the clear. API keys are stored as HMAC-SHA256 digests keyed with
HERMOD_KEY_HASH_SECRET and compared with ``hmac.compare_digest``. Message and box tokens are
derived from the same secret and the message or box id, so the database holds only their digests
while the server can still rebuild a destination's plug-out URI for poll and callback bodies.
"""

import base64
import hashlib
import hmac
import secrets
import uuid

from django.conf import settings


def _mac(purpose: str, value: str) -> bytes:
    return hmac.new(
        settings.HERMOD_KEY_HASH_SECRET.encode(), f"{purpose}:{value}".encode(), hashlib.sha256
    ).digest()


def api_key_generate() -> str:
    """A new client key: 64 lowercase hex characters, 256 random bits (PROTOCOL.md §3)."""
    return secrets.token_hex(32)


def api_key_hash(key: str) -> str:
    return _mac("api-key", key).hex()


# Compared against when the client does not exist, so that an unknown client costs the same
# HMAC and comparison as a wrong key (no timing oracle on client ids).
_DUMMY_HASH = "0" * 64


def api_key_matches(key: str, stored_hash: str | None) -> bool:
    """Constant-time comparison of a presented key with a stored digest."""
    candidate = api_key_hash(key)
    return hmac.compare_digest(candidate, stored_hash or _DUMMY_HASH) and bool(stored_hash)


def message_token(message_id: uuid.UUID) -> str:
    """The one-time token of a destination, shaped like the UUIDs real deployments hand out."""
    return str(uuid.UUID(bytes=_mac("message-token", str(message_id))[:16], version=4))


def box_token(box_id: uuid.UUID) -> str:
    """The box token of a permanent box (PROTOCOL.md §6): 256 bits, base64url."""
    return base64.urlsafe_b64encode(_mac("box-token", str(box_id))).rstrip(b"=").decode("ascii")


def token_hash(token: str) -> str:
    """The stored, indexed digest of a message or box token."""
    return _mac("token", token).hex()


def ca_challenge_generate() -> str:
    """A one-time SCEP challenge: 160 random bits as 40 lowercase hex characters.

    Hex, because challengePassword is a DirectoryString that every CA reads as plain ASCII.
    Random, not derived: nothing on the server can recompute it.
    """
    return secrets.token_hex(20)


def ca_challenge_hash(challenge: str) -> str:
    """The stored, indexed digest of a one-time challenge."""
    return _mac("ca-challenge", challenge).hex()


CA_VERIFIER_PREFIX = "hcv_"


def ca_verifier_generate() -> str:
    """A CA verifier credential: ``hcv_`` and 256 random bits, base64url (shown once)."""
    return CA_VERIFIER_PREFIX + secrets.token_urlsafe(32)


def ca_verifier_hash(credential: str) -> str:
    """The stored, indexed digest of a CA verifier credential."""
    return _mac("ca-verifier", credential).hex()
