"""A private CA and a server certificate for 127.0.0.1, as PEM files and a PKCS#12 key store:
what an installer gets from an internal CA to let Hermod serve TLS itself."""

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hermod_core.emulator.testca import make_self_signed_ca


@dataclass(frozen=True)
class TlsFiles:
    ca_pem: Path
    cert_pem: Path  # the server certificate followed by the CA's (the chain)
    key_pem: Path
    p12: Path
    p12_password: str


def make_tls_files(folder: Path, password: str = "p12-pass") -> TlsFiles:  # noqa: S107
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = make_self_signed_ca("Hermod test private CA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    files = TlsFiles(
        ca_pem=folder / "ca.pem",
        cert_pem=folder / "server.pem",
        key_pem=folder / "server.key",
        p12=folder / "server.p12",
        p12_password=password,
    )
    files.ca_pem.write_bytes(ca_cert.public_bytes(pem))
    files.cert_pem.write_bytes(cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    files.key_pem.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    files.key_pem.chmod(0o600)
    files.p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"hermod", key, cert, [ca_cert],
            serialization.BestAvailableEncryption(password.encode()),
        )
    )  # fmt: skip
    return files
