"""Serving TLS without a proxy, for small installs (README "Configuration").

Either a PEM certificate (chain) and key, ``HERMOD_TLS_CERT_FILE`` + ``HERMOD_TLS_KEY_FILE``, or
the real product's PKCS#12 key store (``server.ssl.key-store``), ``HERMOD_TLS_P12_FILE`` +
``HERMOD_TLS_P12_PASSWORD`` (or ``HERMOD_TLS_P12_PASSWORD_FILE``). Read by the settings (a
malformed combination stops start-up naming the variable) and by ``gunicorn_conf``, which
serves with the context built here: TLS 1.2 at least, the key loaded once in the master.

No Django import: gunicorn's master reads this before the application is loaded.
"""

import os
import secrets
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from hermod_core.env import EnvError

CERT, KEY = "HERMOD_TLS_CERT_FILE", "HERMOD_TLS_KEY_FILE"
P12, P12_PASSWORD = "HERMOD_TLS_P12_FILE", "HERMOD_TLS_P12_PASSWORD"


@dataclass(frozen=True)
class TlsFiles:
    """Where the server's certificate and key are: PEM files, or one PKCS#12 file."""

    cert_file: Path | None = None
    key_file: Path | None = None
    p12_file: Path | None = None
    p12_password: str = ""

    @property
    def main_file(self) -> Path:
        """The file gunicorn checks for existence (``certfile``)."""
        found = self.p12_file or self.cert_file
        assert found is not None
        return found


def _path(environ: Mapping[str, str], name: str) -> Path | None:
    value = (environ.get(name) or "").strip()
    if not value:
        return None
    path = Path(value)
    if not path.is_file() or not os.access(path, os.R_OK):
        raise EnvError(name, f"cannot read {value!r}")
    return path


def _password(environ: Mapping[str, str]) -> str:
    value = environ.get(P12_PASSWORD)
    file_name = environ.get(f"{P12_PASSWORD}_FILE")
    if value is None and file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise EnvError(f"{P12_PASSWORD}_FILE", f"cannot read {file_name!r}") from exc
    return value or ""


def tls_from_env(environ: Mapping[str, str]) -> TlsFiles | None:
    """The TLS files the environment names, checked; None when the server speaks plain HTTP.

    Raises ``EnvError`` for a half-given pair, both forms at once, or a file that cannot be read.
    """
    cert, key, p12 = _path(environ, CERT), _path(environ, KEY), _path(environ, P12)
    if p12 is not None:
        if cert is not None or key is not None:
            raise EnvError(P12, f"give either {P12} or {CERT} and {KEY}, not both")
        return TlsFiles(p12_file=p12, p12_password=_password(environ))
    if (cert is None) != (key is None):
        missing = KEY if key is None else CERT
        raise EnvError(missing, f"must be set together with {CERT if key is None else KEY}")
    if cert is None:
        return None
    return TlsFiles(cert_file=cert, key_file=key)


def _p12_pem(files: TlsFiles, passphrase: bytes) -> bytes:
    """The key store's certificate chain and key as PEM, the key encrypted with ``passphrase``."""
    assert files.p12_file is not None
    try:
        key, certificate, chain = pkcs12.load_key_and_certificates(
            files.p12_file.read_bytes(), files.p12_password.encode() or None
        )
    except ValueError:
        raise EnvError(P12, "cannot open the key store (wrong password or not PKCS#12)") from None
    if key is None or certificate is None:
        raise EnvError(P12, "the key store must hold a private key and its certificate")
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )
    for cert in [certificate, *chain]:
        pem += cert.public_bytes(serialization.Encoding.PEM)
    return pem


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """The server's TLS context (TLS 1.2 or newer). A PKCS#12 key is passed to OpenSSL through a
    private temporary file holding it encrypted with a random passphrase, removed at once."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        if files.p12_file is None:
            context.load_cert_chain(str(files.cert_file), str(files.key_file))
            return context
        passphrase = secrets.token_urlsafe(32)
        with tempfile.TemporaryDirectory(prefix="hermod-tls-") as folder:
            path = Path(folder) / "server.pem"
            path.touch(mode=0o600)
            path.write_bytes(_p12_pem(files, passphrase.encode()))
            context.load_cert_chain(str(path), password=passphrase)
    except ssl.SSLError as exc:
        name = P12 if files.p12_file else KEY
        raise EnvError(name, f"the certificate and key do not load ({exc.reason})") from None
    return context
