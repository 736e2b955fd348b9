"""SCEP pkiMessages (RFC 8894 §3): building PKCSReq/CertPoll/CertRep and reading them back.

A pkiMessage is a SignedData whose signed attributes carry the SCEP fields and whose content is an
EnvelopedData (the pkcsPKIEnvelope) holding the request or the issued certificates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import core  # type: ignore[import-untyped, unused-ignore]
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from hermod_core.scep import cms
from hermod_core.scep.ciphers import ContentCipher
from hermod_core.scep.csr import public_key_der
from hermod_core.scep.errors import ScepProtocolError
from hermod_core.scep.results import FAIL_INFO_NAMES, EnrollResult, PkiStatus

# RFC 8894 §3.2.1: id-VeriSign pki-attributes, plus the PKIX failInfoText.
OID_MESSAGE_TYPE = "2.16.840.1.113733.1.9.2"
OID_PKI_STATUS = "2.16.840.1.113733.1.9.3"
OID_FAIL_INFO = "2.16.840.1.113733.1.9.4"
OID_SENDER_NONCE = "2.16.840.1.113733.1.9.5"
OID_RECIPIENT_NONCE = "2.16.840.1.113733.1.9.6"
OID_TRANSACTION_ID = "2.16.840.1.113733.1.9.7"
OID_FAIL_INFO_TEXT = "1.3.6.1.5.5.7.24.1"

# RFC 8894 §3.2.1.2 messageType values (PrintableString decimal).
CERT_REP = "3"
PKCS_REQ = "19"
CERT_POLL = "20"

NONCE_SIZE = 16


class IssuerAndSubject(core.Sequence):  # type: ignore[misc]
    """RFC 8894 §3.3.3: the CertPoll content, naming the CA and the requested subject."""

    _fields = [("issuer", asn1_x509.Name), ("subject", asn1_x509.Name)]


def issuer_and_subject(issuer: x509.Name, subject: x509.Name) -> bytes:
    value = IssuerAndSubject(
        {
            "issuer": asn1_x509.Name.load(issuer.public_bytes()),
            "subject": asn1_x509.Name.load(subject.public_bytes()),
        }
    )
    return bytes(value.dump())


def build_request(
    *,
    message_type: str,
    transaction_id: str,
    sender_nonce: bytes,
    inner: bytes,
    recipient: x509.Certificate,
    cipher: ContentCipher,
    signer_key: rsa.RSAPrivateKey,
    signer_cert: x509.Certificate,
    digest: str,
) -> bytes:
    """A PKCSReq or CertPoll pkiMessage: `inner` enveloped to `recipient`, signed by the RA.

    The RA certificate travels in the SignedData because the CA encrypts its reply to the
    certificates it finds there (micromdm does exactly that).
    """
    envelope = cms.build_enveloped_data(inner, recipient, cipher)
    return cms.build_signed_data(
        content=envelope,
        signer_key=signer_key,
        signer_cert=signer_cert,
        attributes=[
            (OID_MESSAGE_TYPE, core.PrintableString(message_type)),
            (OID_TRANSACTION_ID, core.PrintableString(transaction_id)),
            (OID_SENDER_NONCE, core.OctetString(sender_nonce)),
        ],
        digest=digest,
        certificates=[signer_cert],
    )


@dataclass(frozen=True)
class PkiMessage:
    """A pkiMessage whose signature verified; SCEP attributes decoded (absent ones are None)."""

    message_type: str | None
    transaction_id: str | None
    sender_nonce: bytes | None
    recipient_nonce: bytes | None
    pki_status: str | None
    fail_info: str | None
    fail_info_text: str | None
    content: bytes
    has_content: bool
    signer: x509.Certificate


def read_pki_message(
    data: bytes, trusted: Sequence[x509.Certificate], what: str = "pkiMessage"
) -> PkiMessage:
    """Verify a pkiMessage against `trusted` and decode its SCEP attributes."""
    signed = cms.open_signed_data(data, trusted, what)
    attrs = signed.attributes
    with cms.malformed(what):
        return PkiMessage(
            message_type=_string(attrs.get(OID_MESSAGE_TYPE)),
            transaction_id=_string(attrs.get(OID_TRANSACTION_ID)),
            sender_nonce=_octets(attrs.get(OID_SENDER_NONCE)),
            recipient_nonce=_octets(attrs.get(OID_RECIPIENT_NONCE)),
            pki_status=_string(attrs.get(OID_PKI_STATUS)),
            fail_info=_string(attrs.get(OID_FAIL_INFO)),
            fail_info_text=_string(attrs.get(OID_FAIL_INFO_TEXT)),
            content=signed.content,
            has_content=signed.has_content,
            signer=signed.signer,
        )


def _string(der: bytes | None) -> str | None:
    # PrintableString per the RFC, but CAs differ (UTF8String, IA5String): accept any string.
    if der is None:
        return None
    value = core.Any.load(der, strict=False).native
    if isinstance(value, bytes):
        return value.decode("ascii")
    if not isinstance(value, str):
        raise ValueError("expected a string attribute")
    return value


def _octets(der: bytes | None) -> bytes | None:
    return None if der is None else cms.octets(core.OctetString.load(der, strict=False))


def read_cert_rep(
    data: bytes,
    *,
    trusted: Sequence[x509.Certificate],
    transaction_id: str,
    sender_nonce: bytes,
    ra_key: rsa.RSAPrivateKey,
    ra_cert: x509.Certificate,
    csr_public_key: bytes,
) -> EnrollResult:
    """Interpret a CertRep to our request; raises `ScepProtocolError` unless it is trustworthy.

    Guarantees on return: signed by a trusted CA/RA certificate, messageType CertRep, the
    transactionID is ours, recipientNonce equals our senderNonce; on SUCCESS the first certificate
    holds exactly the CSR's public key.
    """
    message = read_pki_message(data, trusted, "CertRep")
    if message.message_type != CERT_REP:
        raise ScepProtocolError("SCEP_MALFORMED_REPLY", "the reply is not a CertRep")
    if message.transaction_id != transaction_id:
        raise ScepProtocolError(
            "SCEP_TRANSACTION_MISMATCH", "the CertRep answers another transaction"
        )
    # The nonce proves the reply is fresh, not a replay of an older CertRep for this transaction.
    if message.recipient_nonce != sender_nonce:
        raise ScepProtocolError("SCEP_NONCE_MISMATCH", "the CertRep does not echo our nonce")
    status = PkiStatus.from_wire(message.pki_status or "")
    if status is None:
        raise ScepProtocolError("SCEP_MALFORMED_REPLY", "the CertRep has no valid pkiStatus")
    if status is PkiStatus.FAILURE:
        fail_info = message.fail_info
        return EnrollResult(
            status=status,
            transaction_id=transaction_id,
            fail_info=FAIL_INFO_NAMES.get(fail_info, fail_info) if fail_info else None,
            fail_info_text=message.fail_info_text,
        )
    if status is PkiStatus.PENDING:
        return EnrollResult(status=status, transaction_id=transaction_id)
    if not message.has_content:
        raise ScepProtocolError("SCEP_MALFORMED_REPLY", "the SUCCESS CertRep carries nothing")
    degenerate = cms.open_enveloped_data(message.content, ra_key, ra_cert, "CertRep envelope")
    certificates = cms.signed_data_certificates(degenerate, "issued certificates")
    issued = [c for c in certificates if public_key_der(c) == csr_public_key]
    if not issued:
        raise ScepProtocolError(
            "SCEP_NO_MATCHING_CERTIFICATE", "the CA returned no certificate for the CSR's key"
        )
    others = [c for c in certificates if c is not issued[0]]
    return EnrollResult(
        status=status, transaction_id=transaction_id, certificates=(issued[0], *others)
    )
