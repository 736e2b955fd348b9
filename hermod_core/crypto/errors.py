"""The crypto package's error taxonomy: one base class, one stable code per failure.

Every parser and verifier in `hermod_core.crypto` raises only `CryptoError` (a subclass per area)
for bad input, whatever the bytes, so callers need exactly one `except` to turn any untrusted blob
into a docs/PROTOCOL.md §12 error body. Callers branch on `code` (stable, UPPER_SNAKE), never on the
message. Messages are one sentence for a person and never contain key material.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Every code this package raises; the value is the wire spelling of docs/PROTOCOL.md §12."""

    BASE64_INVALID = "BASE64_INVALID"
    KEY_UNSUPPORTED = "KEY_UNSUPPORTED"
    JWK_INVALID = "JWK_INVALID"
    JWS_MALFORMED = "JWS_MALFORMED"
    JWS_TOO_LARGE = "JWS_TOO_LARGE"
    JWS_ALG_NOT_ALLOWED = "JWS_ALG_NOT_ALLOWED"
    JWS_ALG_KEY_MISMATCH = "JWS_ALG_KEY_MISMATCH"
    JWS_BAD_SIGNATURE = "JWS_BAD_SIGNATURE"
    CSR_INVALID = "CSR_INVALID"
    CSR_BAD_SIGNATURE = "CSR_BAD_SIGNATURE"
    CERT_INVALID = "CERT_INVALID"
    CMS_INVALID = "CMS_INVALID"
    CMS_UNSUPPORTED = "CMS_UNSUPPORTED"
    CMS_SIGNER_NOT_FOUND = "CMS_SIGNER_NOT_FOUND"
    CMS_WRONG_KEY = "CMS_WRONG_KEY"
    CMS_CONTENT_MISMATCH = "CMS_CONTENT_MISMATCH"
    CMS_BAD_SIGNATURE = "CMS_BAD_SIGNATURE"
    RAW_BAD_SIGNATURE = "RAW_BAD_SIGNATURE"


class CryptoError(Exception):
    """Base of every error this package raises for bad input; `code` is an `ErrorCode` value."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code: str = str(code)
        self.message = message


class EncodingError(CryptoError):
    """Text that should be base64 or base64url is not (strictly) so."""


class UnsupportedKeyError(CryptoError):
    """A key of a type or size this package does not support."""


class JwkError(CryptoError):
    """A JSON Web Key that cannot be turned into a supported public key."""


class JwsError(CryptoError):
    """A compact JWS that is malformed, uses a forbidden algorithm, or does not verify."""


class CsrError(CryptoError):
    """A PKCS#10 certificate request that cannot be parsed, built, or whose signature fails."""


class CertificateError(CryptoError):
    """An X.509 certificate that cannot be parsed or uses an unsupported key."""


class CmsError(CryptoError):
    """A CMS SignedData that is malformed, unsupported, or does not verify."""
