"""crypto.tokens: the one keyed hash, constant-time digest comparison and sealing, with the
secret passed in (no Django)."""

import hashlib
import hmac

from hermod_core.crypto.tokens import digest_matches, keyed_hash, seal, unseal

SECRET = "a-test-secret-of-enough-length-0123456789"


def test_the_keyed_hash_is_hmac_sha256_of_purpose_and_value() -> None:
    expected = hmac.new(SECRET.encode(), b"token:abc", hashlib.sha256).digest()
    assert keyed_hash(SECRET, "token", "abc") == expected
    assert keyed_hash(SECRET, "api-key", "abc") != expected
    assert keyed_hash("another-secret", "token", "abc") != expected


def test_digests_match_only_when_stored_and_equal() -> None:
    digest = keyed_hash(SECRET, "token", "abc").hex()
    dummy = "0" * 64
    assert digest_matches(digest, digest, dummy)
    assert not digest_matches(digest, keyed_hash(SECRET, "token", "abd").hex(), dummy)
    assert not digest_matches(digest, None, dummy)
    assert not digest_matches(dummy, "", dummy)  # nothing stored never matches, even the dummy


def test_a_seal_opens_only_with_its_secret_and_purpose() -> None:
    sealed = seal(SECRET, "message-token", "plug-out")
    assert "plug-out" not in sealed
    assert unseal(SECRET, "message-token", sealed) == "plug-out"
    assert unseal(SECRET, "other-purpose", sealed) == ""
    assert unseal("another-secret", "message-token", sealed) == ""
    assert unseal(SECRET, "message-token", "") == ""
    assert unseal(SECRET, "message-token", "not a fernet token") == ""
