"""The reference device's Web Push receiver: a push service endpoint of its own (RFC 8030).

A phone's push service holds the subscription and hands the app what arrives; here the device
is its own push service, on a local port: it creates the subscription keys (a P-256 key pair
and a 16-byte auth secret, RFC 8291), answers ``201`` to each POST, decrypts the ``aes128gcm``
body, checks the VAPID signature when it knows the server's key (RFC 8292), and queues the
notice (``{"messageId", "pushId", "requestor", "type"}``) for the app to act on.
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import secrets
import time
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from py_vapid import Vapid

from hermod_core.emulator.device import AnswerOutcome, Device
from hermod_core.emulator.http import DeviceError
from hermod_core.emulator.local_http import serve_posts, stop_serving

logger = logging.getLogger(__name__)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class PushReceived:
    """One notice as decrypted, with when it arrived (``time.time()``) and its headers."""

    notice: dict[str, Any]
    at: float
    headers: dict[str, str]


@dataclass
class WebPushReceiver:
    """``start()`` listens on ``host:port`` (0: any free port); ``registration()`` is the body of
    ``PUT /ms/{bid}/push``. ``gone`` makes it answer 410, as a push service does for an
    unsubscribed endpoint; ``down`` closes it (``stop()``/``start()`` keep the port)."""

    host: str = "127.0.0.1"
    port: int = 0
    vapid_public_key: str = ""  # learnt from the server's answer to the registration
    gone: bool = False
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    path: str = field(default_factory=lambda: "/push/" + secrets.token_urlsafe(16))
    notices: queue.Queue[PushReceived] = field(default_factory=queue.Queue)
    problems: list[str] = field(default_factory=list)
    attempts: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    def registration(self, os_name: str = "linux") -> dict[str, str]:
        public = self.key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return {
            "provider": "webpush",
            "token": self.endpoint,
            "os": os_name,
            "p256dh": _b64url(public),
            "auth": _b64url(self.auth),
        }

    def start(self) -> WebPushReceiver:
        self._server = serve_posts(
            lambda path, headers, raw: (self._accept(path, headers, raw), {}, b""),
            host=self.host,
            port=self.port,
        )
        self.port = self._server.server_address[1]
        return self

    def stop(self) -> None:
        stop_serving(self._server)
        self._server = None

    def _accept(self, path: str, headers: dict[str, str], raw: bytes) -> int:
        self.attempts += 1
        if path != self.path or self.gone:
            return 410
        problem = self._problem(headers)
        if problem:
            self.problems.append(problem)
            return 401
        try:
            plain = http_ece.decrypt(
                raw, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
            )
            notice = json.loads(plain)
        except Exception as exc:  # any undecryptable body is the sender's fault: 400
            self.problems.append(f"undecryptable body: {exc.__class__.__name__}")
            return 400
        self.notices.put(PushReceived(notice, time.time(), headers))
        return 201

    def _problem(self, headers: dict[str, str]) -> str:
        """What is wrong with the VAPID authorization (``vapid t=<JWT>, k=<key>``), if anything."""
        lowered = {k.lower(): v for k, v in headers.items()}
        if lowered.get("content-encoding") != "aes128gcm":
            return "content-encoding is not aes128gcm"
        auth = lowered.get("authorization", "")
        if not auth.startswith("vapid "):
            return "no VAPID authorization"
        parts = dict(p.strip().split("=", 1) for p in auth[6:].split(",") if "=" in p)
        if self.vapid_public_key and parts.get("k") != self.vapid_public_key:
            return "VAPID key is not the server's"
        try:
            if not Vapid.verify(auth):
                return "VAPID signature does not verify"
            payload = parts["t"].split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except Exception:  # a malformed token or key does not verify either
            return "VAPID signature does not verify"
        if claims.get("aud") != f"http://{self.host}:{self.port}":
            return "VAPID audience is not this push service"
        if not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
            return "VAPID token expired"
        return ""

    def wait(self, timeout: float) -> PushReceived | None:
        """The next notice, or None after ``timeout`` seconds."""
        try:
            return self.notices.get(timeout=timeout)
        except queue.Empty:
            return None


def register_profiles(device: Device, receiver: WebPushReceiver, os_name: str = "linux") -> int:
    """Register the receiver's endpoint for every stored profile with a box token; the server's
    VAPID key is remembered so that only its pushes are accepted. Returns how many."""
    count = 0
    for profile in device.profiles:
        if not profile.boxtoken:
            continue
        answer = device.http.register_push(
            profile.boxurl, profile.boxtoken, receiver.registration(os_name)
        )
        receiver.vapid_public_key = str(answer.get("vapidPublicKey") or "")
        count += 1
    return count


def answer_notice(device: Device, notice: dict[str, Any]) -> list[AnswerOutcome]:
    """What the app does when woken: fetch the message the notice names from the box of the
    profile it names, and answer it. A message already gone (answered, withdrawn: 404) is not
    an error; an unknown profile falls back to one pass over every box."""
    profile = next(
        (p for p in device.profiles if p.profile_id == notice.get("pushId") and p.boxtoken),
        None,
    )
    message_id = notice.get("messageId")
    if profile is None or not isinstance(message_id, str):
        return device.run_once()
    location = f"{profile.boxurl}/{message_id}"
    try:
        message = device.fetch(location, profile.boxtoken)
    except DeviceError as exc:
        if exc.http_status == 404:
            return []
        raise
    return [device.answer(location, profile.boxtoken, message)]


def run_woken(
    device: Device,
    receiver: WebPushReceiver,
    *,
    safety_interval: float,
    report: Any,
    should_stop: Any = lambda: False,
) -> None:
    """Sleep until a push arrives, then fetch and answer; poll once every ``safety_interval``
    seconds anyway (a real app is also woken now and then), and once at the start."""
    report(device.run_once())
    while not should_stop():
        received = receiver.wait(safety_interval)
        try:
            if received is None:
                report(device.run_once())
                continue
            logger.info("woken by a push for %s", received.notice.get("messageId"))
            report(answer_notice(device, received.notice))
        except DeviceError as exc:
            logger.warning("%s (%s)", exc.message, exc.code)
