"""Content-encryption ciphers of SCEP envelopes (RFC 8894 §3.5.2, CMS RFC 5652 §6).

We encrypt with the strongest cipher the CA advertises (AES-128-CBC > DES3-CBC > DES-CBC, the RFC's
fallback order) and decrypt whatever a CA answers with, because CAs pick their own: micromdm's
scepserver answers with single DES-CBC regardless of what we sent.
"""

from __future__ import annotations

import enum
import os

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from hermod_core.scep.caps import supports_aes, supports_des3
from hermod_core.scep.errors import ScepProtocolError


class ContentCipher(enum.Enum):
    """A CBC content cipher; the value is the asn1crypto `EncryptionAlgorithmId` name."""

    AES_128_CBC = "aes128_cbc"
    AES_192_CBC = "aes192_cbc"
    AES_256_CBC = "aes256_cbc"
    DES3_CBC = "tripledes_3key"
    DES_CBC = "des"

    @property
    def key_size(self) -> int:
        return _KEY_SIZES[self]

    @property
    def block_size(self) -> int:
        return 8 if self in (ContentCipher.DES3_CBC, ContentCipher.DES_CBC) else 16

    @classmethod
    def from_algorithm_name(cls, name: str) -> ContentCipher:
        for cipher in cls:
            if cipher.value == name:
                return cipher
        raise ScepProtocolError("SCEP_UNSUPPORTED_CIPHER", f"unsupported content cipher {name}")


_KEY_SIZES = {
    ContentCipher.AES_128_CBC: 16,
    ContentCipher.AES_192_CBC: 24,
    ContentCipher.AES_256_CBC: 32,
    ContentCipher.DES3_CBC: 24,
    ContentCipher.DES_CBC: 8,
}


def choose_cipher(caps: frozenset[str]) -> ContentCipher:
    """The cipher to encrypt requests with, given GetCACaps (RFC 8894 §3.5.2 fallback order)."""
    if supports_aes(caps):
        return ContentCipher.AES_128_CBC
    if supports_des3(caps):
        return ContentCipher.DES3_CBC
    return ContentCipher.DES_CBC


def new_key(cipher: ContentCipher) -> bytes:
    return os.urandom(cipher.key_size)


def new_iv(cipher: ContentCipher) -> bytes:
    return os.urandom(cipher.block_size)


def _cipher(cipher: ContentCipher, key: bytes, iv: bytes) -> Cipher[modes.CBC]:
    if len(key) != cipher.key_size:
        raise ScepProtocolError("SCEP_BAD_ENVELOPE", "the content key has the wrong length")
    if len(iv) != cipher.block_size:
        raise ScepProtocolError("SCEP_BAD_ENVELOPE", "the IV has the wrong length")
    algorithm: algorithms.AES | TripleDES
    if cipher is ContentCipher.DES_CBC:
        # `cryptography` has no single DES; 3DES-EDE with K1=K2=K3 is single DES exactly
        # (E_K(D_K(E_K(x))) = E_K(x)).
        algorithm = TripleDES(key * 3)
    elif cipher is ContentCipher.DES3_CBC:
        algorithm = TripleDES(key)
    else:
        algorithm = algorithms.AES(key)
    return Cipher(algorithm, modes.CBC(iv))


def encrypt(cipher: ContentCipher, key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    """CBC-encrypt with PKCS#7 padding (CMS RFC 5652 §6.3)."""
    padder = padding.PKCS7(cipher.block_size * 8).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = _cipher(cipher, key, iv).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def decrypt(cipher: ContentCipher, key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    """CBC-decrypt and strip PKCS#7 padding; a wrong key or corrupt data is a protocol error."""
    if not ciphertext or len(ciphertext) % cipher.block_size:
        raise ScepProtocolError("SCEP_BAD_ENVELOPE", "the encrypted content is not whole blocks")
    decryptor = _cipher(cipher, key, iv).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(cipher.block_size * 8).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:
        raise ScepProtocolError(
            "SCEP_BAD_ENVELOPE", "the encrypted content does not decrypt with our key"
        ) from exc
