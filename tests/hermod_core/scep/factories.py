"""Keys, certificates and CSRs for the SCEP tests."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import AttributeOID, NameOID

from hermod_core.crypto.certs import key_usage
from hermod_core.scep.identity import make_ra_identity


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
