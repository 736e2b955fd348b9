"""Secrets the server hands out: API keys, one-time message tokens, box tokens, one-time SCEP
challenges and CA verifier credentials.

Every secret is random (``secrets``), never computed from a server secret and public ids, so no
one who learns ``HERMOD_KEY_HASH_SECRET`` can mint a key or a token. The database holds only a
keyed hash (HMAC-SHA256 with ``HERMOD_KEY_HASH_SECRET``) of each, looked up by that digest and
compared with ``hmac.compare_digest``. A one-time token is also kept sealed (authenticated
encryption under a key of its own purpose) so that poll and callback bodies can show its
plug-out URI again (PROTOCOL.md §4.2): reading it back needs both the database and the secret.
"""

import base64
import hashlib
import hmac
import secrets
import uuid

from cryptography.fernet import Fernet, InvalidToken
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


def message_token_generate() -> str:
    """A destination's one-time token: 128 random bits, spelled as a UUID like the tokens of
    the real product's plug-out URIs (seed 001), but with every bit random (no version bits)."""
    return str(uuid.UUID(bytes=secrets.token_bytes(16)))


def box_token_generate() -> str:
    """A permanent box's token (PROTOCOL.md §6): 256 random bits, base64url."""
    return secrets.token_urlsafe(32)


def account_invitation_token_hash(token: str) -> str:
    """The stored, indexed digest of a console account invitation's token (256 random bits,
    ``secrets.token_urlsafe(32)``)."""
    return _mac("account-invitation", token).hex()


def token_hash(token: str) -> str:
    """The stored, indexed digest of a message or box token."""
    return _mac("token", token).hex()


def token_matches(token: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented token with a stored digest (empty: revoked)."""
    return bool(stored_hash) and hmac.compare_digest(token_hash(token), stored_hash)


# What seal() keeps for poll and callback bodies: a destination's one-time token.
MESSAGE_TOKEN = "message-token"  # noqa: S105 (a purpose, not a secret)


def _sealer(purpose: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_mac("seal", purpose)))


def seal(purpose: str, text: str) -> str:
    """``text`` encrypted and authenticated under the key of ``purpose``."""
    return _sealer(purpose).encrypt(text.encode()).decode("ascii")


def unseal(purpose: str, sealed: str) -> str:
    """What ``seal(purpose, …)`` sealed, or "" when it cannot be read (none stored, another
    purpose, or the secret changed since)."""
    if not sealed:
        return ""
    try:
        return _sealer(purpose).decrypt(sealed.encode()).decode()
    except InvalidToken:
        return ""


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
