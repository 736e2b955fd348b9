"""RFC 8894 SCEP client: GetCACaps, GetCACert, PKCSReq and CertPoll over HTTP.

Hermod acts as a registration authority: it forwards a device's own CSR (signed by the device's
key, never re-signed) inside a pkiMessage signed with the group's RA key. One `ScepClient` serves
one task run; it caches the CA's capabilities and certificates for its lifetime only.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, field
from types import TracebackType

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hermod_core.scep import caps as scep_caps
from hermod_core.scep import cms, message
from hermod_core.scep.ciphers import choose_cipher
from hermod_core.scep.csr import (
    challenge_password,
    check_transaction_id,
    load_csr,
    public_key_der,
    transaction_id_for,
)
from hermod_core.scep.errors import (
    ScepConfigError,
    ScepProtocolError,
    ScepTransientError,
)
from hermod_core.scep.results import CaChain, EnrollResult

# A CA reply is a few kilobytes; anything far larger is a misbehaving or hostile server.
MAX_REPLY_BYTES = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class ScepConfig:
    """A group's SCEP CA settings (docs/PROTOCOL.md §10), handed in by the caller — no Django here.

    `ra_key`/`ra_cert` is the identity Hermod signs requests with and the CA encrypts replies to.
    `challenge_password` is what the CA expects in the CSR's challengePassword attribute; since
    the device signs the CSR, the client cannot add it, only insist that one is there.
    `ca_fingerprint_sha256` (hex, colons allowed) pins the CA certificate GetCACert must return.
    `extra_ca_certs` are further certificates trusted to sign CertReps.
    """

    url: str
    ra_key: rsa.RSAPrivateKey = field(repr=False)
    ra_cert: x509.Certificate
    challenge_password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    extra_ca_certs: tuple[x509.Certificate, ...] = ()
    ca_fingerprint_sha256: str | None = None

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ScepConfigError("SCEP_BAD_URL", "the SCEP URL must be http:// or https://")
        if self.timeout <= 0:
            raise ScepConfigError("SCEP_BAD_TIMEOUT", "the SCEP timeout must be positive")
        if not isinstance(self.ra_key, rsa.RSAPrivateKey):
            raise ScepConfigError("SCEP_RA_KEY_NOT_RSA", "the RA key must be an RSA key")
        if public_key_der(self.ra_cert) != self.ra_key.public_key().public_bytes(
            Encoding.DER, PublicFormat.SubjectPublicKeyInfo
        ):
            raise ScepConfigError(
                "SCEP_RA_MISMATCH", "the RA certificate does not belong to the RA key"
            )


@dataclass(frozen=True)
class _Reply:
    status: int
    content_type: str
    body: bytes


class ScepClient:
    """Talks SCEP to one CA. Methods raise only `ScepError` subclasses."""

    def __init__(self, config: ScepConfig, session: requests.Session | None = None) -> None:
        self.config = config
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()
        self._caps: frozenset[str] | None = None
        self._chain: CaChain | None = None

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> ScepClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- GetCACaps / GetCACert ---------------------------------------------------------------

    def get_ca_caps(self) -> frozenset[str]:
        """The CA's capabilities; an empty or 4xx answer means none (RFC 8894 §3.5.2)."""
        reply = self._http("GetCACaps")
        if reply.status == 200:
            self._caps = scep_caps.parse_caps(reply.body)
        elif _is_transient(reply.status):
            raise _transient_status(reply.status)
        else:
            # Old CAs do not implement GetCACaps at all; the RFC says to assume no options.
            self._caps = scep_caps.DEFAULT_CAPS
        return self._caps

    def get_ca_cert(self) -> CaChain:
        """The CA certificate and, when the CA uses one, its RA certificate(s), sorted by role."""
        reply = self._http("GetCACert")
        _require_ok(reply, "GetCACert")
        received = _parse_ca_certs(reply.content_type, reply.body)
        self._chain = _sort_roles(
            received, self.config.extra_ca_certs, self.config.ca_fingerprint_sha256
        )
        return self._chain

    # --- PKIOperation ------------------------------------------------------------------------

    def enroll(self, csr_der: bytes, *, transaction_id: str | None = None) -> EnrollResult:
        """Send a PKCSReq for the device's CSR and return the verified CertRep.

        The transaction id defaults to the hex SHA-256 of the CSR's public key, so re-sending the
        same CSR continues the same transaction. FAILURE is returned, not raised
        (`EnrollResult.raise_for_failure()` converts it).
        """
        csr = load_csr(csr_der)
        if self.config.challenge_password is not None and challenge_password(csr) is None:
            # A CA that enforces a challenge would certainly answer badRequest; say why instead.
            raise ScepConfigError(
                "SCEP_CSR_WITHOUT_CHALLENGE",
                "the CA expects a challenge password but the CSR carries none",
            )
        tid = check_transaction_id(transaction_id) if transaction_id else transaction_id_for(csr)
        return self._exchange(message.PKCS_REQ, tid, csr_der, csr)

    def poll(self, transaction_id: str, csr_der: bytes) -> EnrollResult:
        """Send a CertPoll (IssuerAndSubject) for a PENDING transaction."""
        csr = load_csr(csr_der)
        chain = self._known_chain()
        inner = message.issuer_and_subject(chain.ca.subject, csr.subject)
        return self._exchange(message.CERT_POLL, check_transaction_id(transaction_id), inner, csr)

    def _exchange(
        self,
        message_type: str,
        transaction_id: str,
        inner: bytes,
        csr: x509.CertificateSigningRequest,
    ) -> EnrollResult:
        caps = self._known_caps()
        chain = self._known_chain()
        nonce = os.urandom(message.NONCE_SIZE)
        request = message.build_request(
            message_type=message_type,
            transaction_id=transaction_id,
            sender_nonce=nonce,
            inner=inner,
            recipient=chain.recipient,
            cipher=choose_cipher(caps),
            signer_key=self.config.ra_key,
            signer_cert=self.config.ra_cert,
            digest="sha256" if scep_caps.supports_sha256(caps) else "sha1",
        )
        reply = self._http("PKIOperation", request, post=scep_caps.supports_post(caps))
        _require_ok(reply, "PKIOperation")
        return message.read_cert_rep(
            reply.body,
            trusted=chain.certificates,
            transaction_id=transaction_id,
            sender_nonce=nonce,
            ra_key=self.config.ra_key,
            ra_cert=self.config.ra_cert,
            csr_public_key=public_key_der(csr),
        )

    def _known_caps(self) -> frozenset[str]:
        return self._caps if self._caps is not None else self.get_ca_caps()

    def _known_chain(self) -> CaChain:
        return self._chain if self._chain is not None else self.get_ca_cert()

    # --- HTTP --------------------------------------------------------------------------------

    def _http(self, operation: str, payload: bytes | None = None, *, post: bool = False) -> _Reply:
        params = {"operation": operation}
        try:
            if post:
                response = self._session.post(
                    self.config.url,
                    params=params,
                    data=payload,
                    headers={"Content-Type": "application/x-pki-message"},
                    timeout=self.config.timeout,
                    stream=True,
                )
            else:
                if payload is not None:
                    # RFC 8894 §4.1: base64, then URL-encoded (requests percent-encodes +/=).
                    params["message"] = base64.b64encode(payload).decode("ascii")
                response = self._session.get(
                    self.config.url, params=params, timeout=self.config.timeout, stream=True
                )
            with response:
                body = _read_capped(response)
                return _Reply(response.status_code, response.headers.get("Content-Type", ""), body)
        except requests.Timeout as exc:
            raise ScepTransientError("SCEP_TIMEOUT", f"{operation} timed out") from exc
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema) as exc:
            raise ScepConfigError("SCEP_BAD_URL", "the SCEP URL is not usable") from exc
        except requests.ConnectionError as exc:
            raise ScepTransientError("SCEP_UNREACHABLE", f"{operation}: CA unreachable") from exc
        except requests.RequestException as exc:
            raise ScepTransientError("SCEP_HTTP_ERROR", f"{operation}: HTTP failure") from exc


def _read_capped(response: requests.Response) -> bytes:
    body = bytearray()
    for chunk in response.iter_content(chunk_size=64 * 1024):
        body += chunk
        if len(body) > MAX_REPLY_BYTES:
            raise ScepProtocolError("SCEP_REPLY_TOO_LARGE", "the CA's reply is too large")
    return bytes(body)


def _is_transient(status: int) -> bool:
    return status == 429 or status >= 500


def _transient_status(status: int) -> ScepTransientError:
    return ScepTransientError("SCEP_SERVER_ERROR", f"the CA answered HTTP {status}")


def _require_ok(reply: _Reply, operation: str) -> None:
    if reply.status == 200:
        return
    if _is_transient(reply.status):
        raise _transient_status(reply.status)
    raise ScepProtocolError("SCEP_HTTP_STATUS", f"{operation} answered HTTP {reply.status}")


# --- GetCACert reply -------------------------------------------------------------------------


def _parse_ca_certs(content_type: str, body: bytes) -> list[x509.Certificate]:
    media_type = content_type.split(";")[0].strip().lower()
    with cms.malformed("GetCACert reply"):
        if media_type == "application/x-x509-ca-ra-cert":
            certs = list(cms.signed_data_certificates(body, "GetCACert reply"))
        elif body.lstrip().startswith(b"-----BEGIN"):
            # Some CAs send PEM despite the media type; it is unambiguous, so accept it.
            certs = x509.load_pem_x509_certificates(body)
        elif media_type == "application/x-x509-ca-cert":
            certs = [x509.load_der_x509_certificate(body)]
        else:
            raise ScepProtocolError(
                "SCEP_MALFORMED_REPLY", f"GetCACert answered unexpected type {media_type!r}"
            )
    if not certs:
        raise ScepProtocolError("SCEP_MALFORMED_REPLY", "GetCACert returned no certificate")
    return certs


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _can_encrypt_to(cert: x509.Certificate) -> bool:
    if not isinstance(cert.public_key(), rsa.RSAPublicKey):
        return False
    try:
        return bool(cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_encipherment)
    except x509.ExtensionNotFound:
        return True  # no KeyUsage extension: every usage is allowed (RFC 5280 §4.2.1.3)


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _sort_roles(
    received: list[x509.Certificate],
    extras: tuple[x509.Certificate, ...],
    fingerprint: str | None,
) -> CaChain:
    cas = [c for c in received if _is_ca(c)] or received[:1]
    others = [c for c in received if all(c is not ca for ca in cas)]
    # The issuing CA is the one that is not itself the issuer of another CA in the bundle
    # (intermediate before root); among several, prefer the one that issued an RA certificate.
    leaves = [c for c in cas if not any(o is not c and o.issuer == c.subject for o in cas)] or cas
    ca = next((c for c in leaves if any(_issued_by(o, c) for o in others)), leaves[0])
    if fingerprint is not None:
        wanted = fingerprint.replace(":", "").strip().lower()
        actual = hashlib.sha256(ca.public_bytes(Encoding.DER)).hexdigest()
        if actual != wanted:
            raise ScepProtocolError(
                "SCEP_CA_FINGERPRINT_MISMATCH", "the CA certificate is not the configured one"
            )
    # An RA certificate is trusted only when the CA really issued it; otherwise anyone able to
    # tamper with the unauthenticated GetCACert answer could slip in a signer of their own.
    ras = [c for c in others if _issued_by(c, ca)]
    recipient = next((c for c in ras if _can_encrypt_to(c)), ca)
    trusted: list[x509.Certificate] = []
    for cert in (*cas, *ras, *extras):
        if cert not in trusted:
            trusted.append(cert)
    return CaChain(ca=ca, recipient=recipient, certificates=tuple(trusted))
