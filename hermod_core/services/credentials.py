"""Secrets the server hands out: API keys, one-time message tokens, box tokens, one-time SCEP
challenges and CA verifier credentials.

Every secret is random (``secrets``), never computed from a server secret and public ids, so no
one who learns ``HERMOD_KEY_HASH_SECRET`` can mint a key or a token. The database holds only a
keyed hash (HMAC-SHA256 with ``HERMOD_KEY_HASH_SECRET``) of each, looked up by that digest and
compared with ``hmac.compare_digest``. A one-time token is also kept sealed (authenticated
encryption under a key of its own purpose) so that poll and callback bodies can show its
plug-out URI again (docs/PROTOCOL.md §4.2): reading it back needs both the database and the secret.
"""

import enum
import secrets
import uuid

from django.conf import settings

from hermod_core.crypto import tokens
from hermod_core.crypto.tokens import MESSAGE_TOKEN

__all__ = ["MESSAGE_TOKEN"]  # re-exported: the purpose callers seal one-time tokens under


def _mac(purpose: str, value: str) -> bytes:
    return tokens.keyed_hash(settings.HERMOD_KEY_HASH_SECRET, purpose, value)


def keyed_digest(purpose: str, value: str) -> str:
    """The server's keyed hash (hex) of ``value`` for ``purpose``: how every stored digest of
    a secret is made (``crypto.tokens.keyed_hash``)."""
    return _mac(purpose, value).hex()


def api_key_generate() -> str:
    """A new client key: 64 lowercase hex characters, 256 random bits (docs/PROTOCOL.md §3)."""
    return secrets.token_hex(32)


def api_key_hash(key: str) -> str:
    return _mac("api-key", key).hex()


# Compared against when the client does not exist, so that an unknown client costs the same
# HMAC and comparison as a wrong key (no timing oracle on client ids).
_DUMMY_HASH = "0" * 64


def api_key_matches(key: str, stored_hash: str | None) -> bool:
    """Constant-time comparison of a presented key with a stored digest."""
    return tokens.digest_matches(api_key_hash(key), stored_hash, _DUMMY_HASH)


class KeyMatch(enum.Enum):
    NONE = "none"
    CURRENT = "current"
    PREVIOUS = "previous"  # the key replaced by a rotation, within its grace period


def api_key_check(key: str, current_hash: str | None, previous_hash: str | None) -> KeyMatch:
    """Which of a client's keys ``key`` is, compared in constant time with both digests.

    Both comparisons always run, each against a dummy digest when there is no such key, so the
    answer time tells neither whether the client exists nor whether it has a previous key.
    """
    candidate = api_key_hash(key)
    current = tokens.digest_matches(candidate, current_hash, _DUMMY_HASH)
    previous = tokens.digest_matches(candidate, previous_hash, _DUMMY_HASH)
    if current:
        return KeyMatch.CURRENT
    return KeyMatch.PREVIOUS if previous else KeyMatch.NONE


def message_token_generate() -> str:
    """A destination's one-time token: 128 random bits, spelled as a UUID like the tokens of
    the real product's plug-out URIs (seed 001), but with every bit random (no version bits)."""
    return str(uuid.UUID(bytes=secrets.token_bytes(16)))


def box_token_generate() -> str:
    """A permanent box's token (docs/PROTOCOL.md §6): 256 random bits, base64url."""
    return secrets.token_urlsafe(32)


def account_invitation_token_hash(token: str) -> str:
    """The stored, indexed digest of a console account invitation's token (256 random bits,
    ``secrets.token_urlsafe(32)``)."""
    return _mac("account-invitation", token).hex()


def token_hash(token: str) -> str:
    """The stored, indexed digest of a message or box token."""
    return _mac("token", token).hex()


# Longer than any token the server hands out (a box token has 43 characters): not hashed at all.
_MAX_TOKEN = 200


def presented_token_hash(token: str | None) -> str | None:
    """The digest of a token a device presented (``token_hash``), or None when it cannot be a
    token the server handed out (none, or too long): nothing opens with it."""
    if not token or len(token) > _MAX_TOKEN:
        return None
    return token_hash(token)


def token_matches(token: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented token with a stored digest (empty: revoked)."""
    return tokens.digest_matches(token_hash(token), stored_hash, _DUMMY_HASH)


def seal(purpose: str, text: str) -> str:
    """``text`` encrypted and authenticated under the key of ``purpose``."""
    return tokens.seal(settings.HERMOD_KEY_HASH_SECRET, purpose, text)


def unseal(purpose: str, sealed: str) -> str:
    """What ``seal(purpose, …)`` sealed, or "" when it cannot be read (none stored, another
    purpose, or the secret changed since)."""
    return tokens.unseal(settings.HERMOD_KEY_HASH_SECRET, purpose, sealed)


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
