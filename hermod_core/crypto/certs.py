"""X.509 certificates as the protocol carries them (base64 DER, docs/PROTOCOL.md §5.2 and §10).

Parsing here checks structure and extracts what the server stores and shows; it does not
validate chains or dates — a certificate command installs whatever the integrator's CA issued,
and the only security check the server makes is that its key is the profile key's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import warnings
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.utils import CryptographyDeprecationWarning

from hermod_core.crypto.digests import der_from_pem_or_b64
from hermod_core.crypto.errors import CertificateError, CryptoError, ErrorCode
from hermod_core.crypto.jwk import PublicKey, public_keys_equal, require_supported_public_key
from hermod_core.crypto.names import name_to_string

# Real end-entity certificates are 1-3 KiB; 64 KiB leaves room for large extensions.
MAX_CERTIFICATE_CHARS: Final = 64 * 1024
_PEM_LABELS: Final = ("CERTIFICATE",)
# What malformed DER can make cryptography raise while it decodes lazily-parsed parts.
_DECODE_ERRORS: Final = (ValueError, TypeError, UnsupportedAlgorithm, x509.InvalidVersion)


def key_usage(*, cert_sign: bool = False, key_encipherment: bool = False) -> x509.KeyUsage:
    """The KeyUsage of the certificates made here (test CAs, the RA identity): digital
    signature always; a CA's also signs certificates and CRLs; ``key_encipherment`` for a
    key that receives encrypted content (the SCEP RA's CertRep)."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


@dataclass(frozen=True)
class ParsedCertificate:
    """A certificate that decoded, with a supported (RSA/EC) key; not chain- or date-checked.

    `not_before`/`not_after` are timezone-aware UTC; `sha256_fingerprint` is lowercase hex of
    SHA-256 over the DER, without separators.
    """

    der: bytes
    certificate: x509.Certificate
    subject: str
    issuer: str
    serial_number: int
    not_before: dt.datetime
    not_after: dt.datetime
    public_key: PublicKey
    sha256_fingerprint: str


def _invalid(message: str) -> CertificateError:
    return CertificateError(ErrorCode.CERT_INVALID, message)


def parse_certificate_der(der: bytes) -> ParsedCertificate:
    """Decode a DER certificate; raises `CertificateError` / `UnsupportedKeyError` only."""
    if not isinstance(der, bytes):
        raise _invalid("A certificate must be DER bytes.")
    try:
        # A non-positive serial number (forbidden by RFC 5280) is only a deprecation warning in
        # cryptography today and an error tomorrow: refuse it now, the same way in both.
        with warnings.catch_warnings():
            warnings.simplefilter("error", CryptographyDeprecationWarning)
            certificate = x509.load_der_x509_certificate(der)
            subject = name_to_string(certificate.subject)
            issuer = name_to_string(certificate.issuer)
            serial_number = certificate.serial_number
            not_before = certificate.not_valid_before_utc
            not_after = certificate.not_valid_after_utc
            raw_key = certificate.public_key()
    except (*_DECODE_ERRORS, CryptographyDeprecationWarning) as exc:
        raise _invalid("The value is not a valid X.509 certificate.") from exc
    return ParsedCertificate(
        der=der,
        certificate=certificate,
        subject=subject,
        issuer=issuer,
        serial_number=serial_number,
        not_before=not_before,
        not_after=not_after,
        public_key=require_supported_public_key(raw_key),
        sha256_fingerprint=hashlib.sha256(der).hexdigest(),
    )


def parse_certificate_b64(text: str) -> ParsedCertificate:
    """Decode base64 DER (the wire form; whitespace tolerated) or PEM; `CryptoError` only."""
    try:
        der = der_from_pem_or_b64(text, _PEM_LABELS, max_chars=MAX_CERTIFICATE_CHARS)
    except CryptoError as exc:
        raise _invalid("The certificate is not base64 DER or PEM.") from exc
    return parse_certificate_der(der)


def certificate_matches_key(
    certificate: ParsedCertificate | x509.Certificate, public_key: PublicKey
) -> bool:
    """Whether the certificate certifies exactly `public_key` (docs/PROTOCOL.md §5.2)."""
    if isinstance(certificate, ParsedCertificate):
        return public_keys_equal(certificate.public_key, public_key)
    try:
        certified = require_supported_public_key(certificate.public_key())
    except (*_DECODE_ERRORS, CryptoError):
        return False
    return public_keys_equal(certified, public_key)
