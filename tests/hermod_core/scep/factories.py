"""Keys, certificates and CSRs for the SCEP tests."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from asn1crypto import cms as asn1_cms  # type: ignore[import-untyped, unused-ignore]
from asn1crypto import core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import AttributeOID, NameOID

from hermod_core.crypto.certs import key_usage
from hermod_core.scep import cms, message
from hermod_core.scep.ciphers import ContentCipher
from hermod_core.scep.identity import make_ra_identity
from hermod_core.scep.results import PkiStatus


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def ra_identity(common_name: str) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    return make_ra_identity(common_name)


def _certificate(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: rsa.RSAPublicKey,
    signer: rsa.RSAPrivateKey,
    *,
    ca: bool,
    usage: x509.KeyUsage,
) -> x509.Certificate:
    """A certificate valid from an hour ago for 30 days, with a random serial."""
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(secrets.randbits(64))
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .sign(signer, hashes.SHA256())
    )


def self_signed_ca(key: rsa.RSAPrivateKey, common_name: str) -> x509.Certificate:
    subject = name(common_name)
    return _certificate(
        subject, subject, key.public_key(), key, ca=True, usage=key_usage(cert_sign=True)
    )


def ca_identity(common_name: str) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa_key()
    return key, self_signed_ca(key, common_name)


def issue(
    subject: x509.Name,
    public_key: rsa.RSAPublicKey,
    ca_key: rsa.RSAPrivateKey,
    ca_cert: x509.Certificate,
    *,
    key_encipherment: bool = False,
) -> x509.Certificate:
    """An end-entity certificate for `public_key`, issued by the CA."""
    return _certificate(
        subject,
        ca_cert.subject,
        public_key,
        ca_key,
        ca=False,
        usage=key_usage(key_encipherment=key_encipherment),
    )


def csr(key: rsa.RSAPrivateKey, common_name: str, *, challenge: str | None = None) -> bytes:
    """A device CSR (DER), optionally carrying a challengePassword attribute."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(name(common_name))
    if challenge is not None:
        builder = builder.add_attribute(AttributeOID.CHALLENGE_PASSWORD, challenge.encode())
    return builder.sign(key, hashes.SHA256()).public_bytes(Encoding.DER)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


# --- the CA's side of the exchange (Hermod is only ever the client) ------------------------------

# RFC 8894 §3.2.1.3 pkiStatus values (PrintableString decimal).
_WIRE_STATUS = {PkiStatus.SUCCESS: "0", PkiStatus.FAILURE: "2", PkiStatus.PENDING: "3"}


def build_degenerate(certificates: Sequence[x509.Certificate]) -> bytes:
    """A certs-only SignedData (RFC 8894 §3.4): no content, no signers."""
    signed_data = asn1_cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [],
            "encap_content_info": {"content_type": "data"},
            "certificates": [
                asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in certificates
            ],
            "signer_infos": [],
        }
    )
    info = asn1_cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
    return bytes(info.dump())


def build_cert_rep(
    *,
    status: PkiStatus,
    transaction_id: str,
    recipient_nonce: bytes,
    sender_nonce: bytes,
    signer_key: rsa.RSAPrivateKey,
    signer_cert: x509.Certificate,
    recipient: x509.Certificate | None = None,
    issued: Sequence[x509.Certificate] = (),
    cipher: ContentCipher = ContentCipher.AES_128_CBC,
    fail_info: str | None = None,
    digest: str = "sha256",
) -> bytes:
    """A CertRep as a CA would answer.

    SUCCESS envelopes a degenerate SignedData of `issued` to `recipient`; PENDING and FAILURE
    carry no content (RFC 8894 §3.3.2). `fail_info` is the wire digit ("0".."4").
    """
    attributes: list[tuple[str, core.Asn1Value]] = [
        (message.OID_MESSAGE_TYPE, core.PrintableString(message.CERT_REP)),
        (message.OID_TRANSACTION_ID, core.PrintableString(transaction_id)),
        (message.OID_PKI_STATUS, core.PrintableString(_WIRE_STATUS[status])),
        (message.OID_SENDER_NONCE, core.OctetString(sender_nonce)),
        (message.OID_RECIPIENT_NONCE, core.OctetString(recipient_nonce)),
    ]
    if fail_info is not None:
        attributes.append((message.OID_FAIL_INFO, core.PrintableString(fail_info)))
    content = None
    if status is PkiStatus.SUCCESS:
        if recipient is None:
            raise ValueError("a SUCCESS CertRep needs the requester's certificate to encrypt to")
        content = cms.build_enveloped_data(build_degenerate(issued), recipient, cipher)
    return cms.build_signed_data(
        content=content,
        signer_key=signer_key,
        signer_cert=signer_cert,
        attributes=attributes,
        digest=digest,
        certificates=[signer_cert],
    )
