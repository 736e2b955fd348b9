"""Pure helpers for the secrets the server hands out: random generation, the one keyed hash
(HMAC-SHA256 over ``purpose:value``) every stored digest uses, constant-time comparison, and
sealing under a key of its own purpose.

No Django here: the caller passes the server's hashing secret (``HERMOD_KEY_HASH_SECRET``), so
services and selectors share one implementation without selectors importing services.
"""

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken

# What a seal keeps for poll and callback bodies: a destination's one-time token.
MESSAGE_TOKEN = "message-token"  # noqa: S105 (a purpose, not a secret)


def keyed_hash(secret: str, purpose: str, value: str) -> bytes:
    """HMAC-SHA256 of ``purpose:value`` under ``secret``: the purpose keeps two kinds of secret
    with the same value (an API key, a token) from ever sharing a digest."""
    return hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).digest()


def digest_matches(candidate: str, stored: str | None, dummy: str) -> bool:
    """Constant-time comparison of two hex digests; with nothing stored, ``dummy`` is compared
    instead, so that a missing row costs the same as a wrong secret (no timing oracle)."""
    return hmac.compare_digest(candidate, stored or dummy) and bool(stored)


def _sealer(secret: str, purpose: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(keyed_hash(secret, "seal", purpose)))


def seal(secret: str, purpose: str, text: str) -> str:
    """``text`` encrypted and authenticated under the key of ``purpose``."""
    return _sealer(secret, purpose).encrypt(text.encode()).decode("ascii")


def unseal(secret: str, purpose: str, sealed: str) -> str:
    """What ``seal(secret, purpose, …)`` sealed, or "" when it cannot be read (none stored,
    another purpose, or the secret changed since)."""
    if not sealed:
        return ""
    try:
        return _sealer(secret, purpose).decrypt(sealed.encode()).decode()
    except InvalidToken:
        return ""
