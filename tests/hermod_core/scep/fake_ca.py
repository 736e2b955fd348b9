"""A tiny SCEP CA over real HTTP, built from the client's own message builders.

It verifies and decrypts what the client sends (so a request the client builds wrongly fails
here too) and can be told to answer PENDING, FAILURE, HTTP errors or tampered CertReps.
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from asn1crypto import cms as asn1_cms
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from hermod_core.scep import cms, message
from hermod_core.scep.ciphers import ContentCipher
from hermod_core.scep.results import PkiStatus
from tests.hermod_core.scep import ber, factories


@dataclass(frozen=True)
class Seen:
    """One PKIOperation the fake CA received, as it decoded it."""

    http_method: str
    message_type: str | None
    transaction_id: str | None
    cipher: str
    digest: str
    inner: bytes


@dataclass
class FakeCa:
    ca_key: rsa.RSAPrivateKey
    ca_cert: x509.Certificate
    url: str = ""
    caps: bytes = b"POSTPKIOperation\nSHA-256\nAES\nDES3\n"
    ca_cert_reply: tuple[str, bytes] | None = None
    # Who decrypts requests and who signs replies (default: the CA itself).
    encryption: tuple[rsa.RSAPrivateKey, x509.Certificate] | None = None
    signer: tuple[rsa.RSAPrivateKey, x509.Certificate] | None = None
    pending_replies: int = 0
    fail_info: str | None = None
    tamper: str | None = None
    http_status: int = 200
    caps_status: int = 200
    reply_cipher: ContentCipher = ContentCipher.AES_128_CBC
    ber_form: str | None = None
    seen: list[Seen] = field(default_factory=list)
    _csrs: dict[str, x509.CertificateSigningRequest] = field(default_factory=dict)

    def answer(self, request: bytes, http_method: str) -> tuple[int, str, bytes]:
        # The RA certificate travels in the request; a real RA-mode CA would check it against
        # its allow-list, the fake trusts it (the client under test is what we examine).
        msg = message.read_pki_message(request, cms.signed_data_certificates(request, "req"))
        dec_key, dec_cert = self.encryption or (self.ca_key, self.ca_cert)
        inner = cms.open_enveloped_data(msg.content, dec_key, dec_cert, "request envelope")
        tid = msg.transaction_id or ""
        if msg.message_type == message.PKCS_REQ:
            self._csrs[tid] = x509.load_der_x509_csr(inner)
        elif msg.message_type == message.CERT_POLL:
            polled = message.IssuerAndSubject.load(inner)
            assert polled["issuer"].dump() == self.ca_cert.subject.public_bytes()
            assert polled["subject"].dump() == self._csrs[tid].subject.public_bytes()
        self.seen.append(
            Seen(
                http_method=http_method,
                message_type=msg.message_type,
                transaction_id=tid,
                cipher=_envelope_cipher(msg.content),
                digest=_digest_name(request),
                inner=inner,
            )
        )
        if self.http_status != 200:
            return self.http_status, "text/plain", b"internal error"
        return 200, "application/x-pki-message", self._cert_rep(msg, tid)

    def _cert_rep(self, msg: message.PkiMessage, tid: str) -> bytes:
        signer_key, signer_cert = self.signer or (self.ca_key, self.ca_cert)
        if self.fail_info is not None:
            status = PkiStatus.FAILURE
        elif self.pending_replies > 0:
            self.pending_replies -= 1
            status = PkiStatus.PENDING
        else:
            status = PkiStatus.SUCCESS
        csr = self._csrs[tid]
        subject_key = csr.public_key()
        if self.tamper == "wrong_key":
            subject_key = self.ca_key.public_key()
        assert isinstance(subject_key, rsa.RSAPublicKey)
        issued = factories.issue(csr.subject, subject_key, self.ca_key, self.ca_cert)
        recipient = self.ca_cert if self.tamper == "recipient" else msg.signer
        nonce = os.urandom(16) if self.tamper == "nonce" else (msg.sender_nonce or b"")
        reply_tid = "SOMEONE-ELSES-TRANSACTION" if self.tamper == "transaction" else tid
        if self.ber_form is not None and status is PkiStatus.SUCCESS:
            return ber.ber_success_cert_rep(
                issued=[self.ca_cert, issued],
                recipient=recipient,
                cipher=self.reply_cipher,
                transaction_id=reply_tid,
                recipient_nonce=nonce,
                signer_key=signer_key,
                signer_cert=signer_cert,
                indefinite=self.ber_form == "indefinite",
            )
        reply = factories.build_cert_rep(
            status=status,
            transaction_id=reply_tid,
            recipient_nonce=nonce,
            sender_nonce=os.urandom(16),
            signer_key=signer_key,
            signer_cert=signer_cert,
            recipient=recipient,
            issued=[self.ca_cert, issued],
            cipher=self.reply_cipher,
            fail_info=self.fail_info,
        )
        if self.tamper == "signature":
            reply = flip_signature_bit(reply)
        return reply


def flip_signature_bit(cert_rep: bytes) -> bytes:
    info = asn1_cms.ContentInfo.load(cert_rep)
    signer_info = info["content"]["signer_infos"][0]
    signature = bytearray(signer_info["signature"].native)
    signature[-1] ^= 0x01
    signer_info["signature"] = bytes(signature)
    return bytes(info.dump(force=True))


def _envelope_cipher(envelope: bytes) -> str:
    info = asn1_cms.ContentInfo.load(envelope)
    eci = info["content"]["encrypted_content_info"]
    return str(eci["content_encryption_algorithm"]["algorithm"].native)


def _digest_name(request: bytes) -> str:
    info = asn1_cms.ContentInfo.load(request)
    return str(info["content"]["signer_infos"][0]["digest_algorithm"]["algorithm"].native)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._handle(None)

    def do_POST(self) -> None:
        self._handle(self.rfile.read(int(self.headers.get("Content-Length", "0"))))

    def _handle(self, body: bytes | None) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        operation = query.get("operation", [""])[0]
        ca = self.server.ca
        if operation == "GetCACaps":
            self._send(ca.caps_status, "text/plain", ca.caps)
        elif operation == "GetCACert":
            ctype, data = ca.ca_cert_reply or (
                "application/x-x509-ca-cert",
                factories.der(ca.ca_cert),
            )
            self._send(200, ctype, data)
        elif operation == "PKIOperation":
            if body is None:
                request, method = base64.b64decode(query["message"][0]), "GET"
            else:
                request, method = body, "POST"
            self._send(*ca.answer(request, method))
        else:
            self._send(404, "text/plain", b"unknown operation")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Silence per-request logging."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    ca: FakeCa


@contextmanager
def serve_fake_ca(ca_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate) -> Iterator[FakeCa]:
    server = _Server(("127.0.0.1", 0), _Handler)
    ca = FakeCa(ca_key=ca_key, ca_cert=ca_cert, url=f"http://127.0.0.1:{server.server_port}/scep")
    server.ca = ca
    # A short poll interval keeps shutdown() (and so each test's teardown) fast.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield ca
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
