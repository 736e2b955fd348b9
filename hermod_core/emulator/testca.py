"""A deliberately tiny certificate authority for tests, the reference device and console demos.

It is not a CA to run in production: no policy, no revocation, no key protection. It issues
exactly what it says — the CSR's subject and key (after checking the CSR's signature), a
fresh random serial, and end-entity extensions of its own; nothing is copied from the CSR's
requested extensions. Real deployments get certificates from a SCEP CA (docs/PROTOCOL.md §10).
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hermod_core.crypto.certs import key_usage
from hermod_core.crypto.csr import default_hash, parse_csr_der, verify_csr_signature
from hermod_core.crypto.jwk import PrivateKey

# Backdate validity so a certificate is already valid on a peer whose clock runs a little behind.
_CLOCK_SKEW: Final = dt.timedelta(minutes=5)


def make_self_signed_ca(
    common_name: str, *, key: PrivateKey | None = None, days: int = 3650
) -> tuple[PrivateKey, x509.Certificate]:
    """A fresh CA key (EC P-256 unless `key` is given) and its self-signed CA certificate."""
    ca_key: PrivateKey = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    public_key = ca_key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(ca_key, default_hash(ca_key))
    )
    return ca_key, certificate


def issue_certificate(
    csr_der: bytes,
    ca_key: PrivateKey,
    ca_cert: x509.Certificate,
    days: int = 365,
    *,
    hash_alg: hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None = None,
) -> x509.Certificate:
    """An end-entity certificate for the CSR's subject and key, signed by the CA.

    Raises `CsrError` if the CSR does not parse or its signature does not verify.
    """
    request = parse_csr_der(csr_der)
    verify_csr_signature(request)
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(request.subject)
        .issuer_name(ca_cert.subject)
        .public_key(request.public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage(), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(request.public_key), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hash_alg or default_hash(ca_key))
    )
