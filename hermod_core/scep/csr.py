"""What the SCEP client reads from a device's PKCS#10 CSR (it never re-signs it)."""

from __future__ import annotations

import hashlib
import re

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import AttributeOID

from hermod_core.scep.errors import ScepConfigError

# X.680 PrintableString: the alphabet transactionID must use (RFC 8894 §3.2.1.1).
_PRINTABLE = re.compile(r"[A-Za-z0-9 '()+,\-./:=?]{1,128}")


def load_csr(csr_der: bytes) -> x509.CertificateSigningRequest:
    """Parse a DER CSR whose self-signature verifies (a CA would reject anything else)."""
    try:
        csr = x509.load_der_x509_csr(csr_der)
        valid = csr.is_signature_valid
    except ValueError as exc:
        raise ScepConfigError("SCEP_BAD_CSR", "the CSR is not a valid DER PKCS#10") from exc
    if not valid:
        raise ScepConfigError("SCEP_BAD_CSR", "the CSR's signature does not verify")
    return csr


def public_key_der(key: x509.Certificate | x509.CertificateSigningRequest) -> bytes:
    """The SubjectPublicKeyInfo DER, the byte string two keys are compared by."""
    return key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def transaction_id_for(csr: x509.CertificateSigningRequest) -> str:
    """Upper-case hex SHA-256 of the CSR's SubjectPublicKeyInfo.

    Deterministic on purpose: re-sending the same CSR after a crash reuses the transaction, so the
    CA sees one enrolment rather than two (RFC 8894 §3.2.1.1 allows any unique string).
    """
    return hashlib.sha256(public_key_der(csr)).hexdigest().upper()


def check_transaction_id(transaction_id: str) -> str:
    if not _PRINTABLE.fullmatch(transaction_id):
        raise ScepConfigError(
            "SCEP_BAD_TRANSACTION_ID", "a transaction id must be 1-128 PrintableString characters"
        )
    return transaction_id


def challenge_password(csr: x509.CertificateSigningRequest) -> str | None:
    """The CSR's challengePassword attribute (RFC 2985 §5.4.1), or None."""
    try:
        value = csr.attributes.get_attribute_for_oid(AttributeOID.CHALLENGE_PASSWORD).value
    except x509.AttributeNotFound:
        return None
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)
