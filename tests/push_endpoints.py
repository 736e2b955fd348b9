"""Local HTTP/2 endpoints that act like FCM (OAuth token + ``messages:send``) and APNs.

Each is a TLS server on 127.0.0.1 that offers only ALPN ``h2`` (as APNs does), one thread per
connection, built on the ``h2`` library. They check the protocol the way the real services do
and answer a bad request with the real service's error; every such finding is also appended to
``violations``, which a test (or a fixture at teardown) asserts empty.

API shared by both endpoints::

    endpoint = ApnsEndpoint(tls).start()      # or FcmEndpoint(tls); also a context manager
    provider = ApnsProvider(endpoint.key_p8, key_id=endpoint.key_id, team_id=endpoint.team_id,
                            topic=endpoint.topic, base_url=endpoint.url, verify=str(tls.ca_pem))
    endpoint.respond(503, {"reason": "ServiceUnavailable"}, headers={"retry-after": "7"})
    endpoint.hang()                           # the next request gets no answer at all
    endpoint.unregister(device_token)         # 410 Unregistered (APNs) / 404 UNREGISTERED (FCM)
    endpoint.received                         # every request: method, path, headers, body
    endpoint.wait_for(1)                      # block until that many requests arrived
    endpoint.drop_connections()               # the open connections die, the listener stays
    endpoint.stop()                           # closes the listener and every connection

``respond``/``hang`` script the message route (APNs ``/3/device/…``, FCM ``messages:send``); the
FCM token route has ``respond_token``/``hang_token``, and ``revoke_tokens()`` makes the access
tokens issued so far answer 401. A scripted answer is used once, in order, after the request
was checked (so a scripted test still catches a malformed request). Both take ``clock=`` (like
``time.time``) so that a test can move past token lifetimes without waiting.
"""

import contextlib
import json
import re
import secrets
import socket
import ssl
import threading
import time
import urllib.parse
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Self

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.required_services import free_port
from tests.tls_ca import TlsFiles

Headers = dict[str, str]
_MAX_STREAMS = h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: Headers  # lower-case names, pseudo-headers included (":authority", ":scheme")
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.body.decode(), strict_parsing=True))


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: Headers = field(default_factory=dict)
    hang: bool = False
    open_streams: int | None = None  # then allow this many concurrent streams on the connection


def json_reply(status: int, body: object, headers: Headers | None = None) -> Reply:
    headers = {"content-type": "application/json", **(headers or {})}
    return Reply(status, json.dumps(body).encode(), headers)


class H2Endpoint:
    """The HTTP/2-over-TLS server both fakes share; subclasses implement ``handle``."""

    streams_at_first: int | None = None  # SETTINGS_MAX_CONCURRENT_STREAMS of a new connection

    def __init__(self, tls: TlsFiles, *, clock: Callable[[], float] = time.time) -> None:
        self.tls = tls
        self.clock = clock
        self.port = free_port()
        self.received: list[ReceivedRequest] = []
        self.violations: list[str] = []
        self._scripted: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._acceptor = threading.Thread()
        self._connections: set[socket.socket] = set()
        self._running = False

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    # -- the documented API ---------------------------------------------------------------

    def start(self) -> Self:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.tls.cert_pem, self.tls.key_pem)
        context.set_alpn_protocols(["h2"])
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        self._running = True
        self._acceptor = threading.Thread(
            target=self._accept, args=(listener, context), daemon=True
        )
        self._acceptor.start()
        return self

    def stop(self) -> None:
        self._running = False
        if self._listener is not None:
            # Shut down only (a bare close leaves accept() blocked); _accept closes it.
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener = None
            self._acceptor.join(5)  # the port is free again when stop() returns
        self.drop_connections()

    def drop_connections(self) -> None:
        """Close every open connection without a word, as an idle one dies behind a NAT; the
        endpoint keeps listening."""
        with self._lock:
            connections, self._connections = self._connections, set()
        for sock in connections:
            # Only shut down: the thread serving it wakes and closes it. Closing it here could
            # hand its descriptor number to a new connection while that thread still uses it.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def respond(
        self, status: int, body: object = None, *, headers: Headers | None = None, times: int = 1
    ) -> None:
        """The next ``times`` requests on the message route get this answer."""
        if body is None:
            reply = Reply(status, b"", headers or {})
        else:
            reply = json_reply(status, body, headers)
        with self._lock:
            self._scripted.extend([reply] * times)

    def hang(self, times: int = 1) -> None:
        """The next ``times`` requests on the message route are read and never answered."""
        with self._lock:
            self._scripted.extend([Reply(0, hang=True)] * times)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedRequest]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"received {len(self.received)} requests, expected {count}")

    # -- for subclasses ----------------------------------------------------------------------

    def handle(self, request: ReceivedRequest) -> Reply:
        raise NotImplementedError

    def violation(self, text: str) -> None:
        with self._lock:
            self.violations.append(text)

    def scripted(self) -> Reply | None:
        with self._lock:
            return self._scripted.popleft() if self._scripted else None

    # -- the server ----------------------------------------------------------------------------

    def _accept(self, listener: socket.socket, context: ssl.SSLContext) -> None:
        with listener:
            while self._running:
                try:
                    raw, _ = listener.accept()
                except OSError:
                    return
                threading.Thread(target=self._serve, args=(raw, context), daemon=True).start()

    def _serve(self, raw: socket.socket, context: ssl.SSLContext) -> None:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle delay in answers
        raw.settimeout(5)
        try:
            sock = context.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            _close(raw)
            return
        if sock.selected_alpn_protocol() != "h2":
            self.violation("the client did not negotiate HTTP/2 (ALPN h2)")
            _close(sock)
            return
        sock.settimeout(None)
        with self._lock:
            self._connections.add(sock)
        try:
            self._h2_loop(sock)
        except h2.exceptions.TooManyStreamsError as exc:
            self.violation(f"more concurrent streams than the endpoint allows: {exc}")
        except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
            pass
        finally:
            with self._lock:
                self._connections.discard(sock)
            _close(sock)

    def _h2_loop(self, sock: ssl.SSLSocket) -> None:
        conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        if self.streams_at_first is not None:
            conn.local_settings = h2.settings.Settings(
                client=False,
                initial_values={
                    h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: self.streams_at_first
                },
            )
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        streams: dict[int, tuple[Headers, bytearray]] = {}
        while self._running:
            data = sock.recv(65536)
            if not data:
                return
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    # header_encoding="utf-8" makes h2 hand over str names and values.
                    fields = {str(k).lower(): str(v) for k, v in event.headers}
                    streams[event.stream_id] = (fields, bytearray())
                elif isinstance(event, h2.events.DataReceived):
                    streams[event.stream_id][1].extend(event.data)
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    fields, body = streams.pop(event.stream_id)
                    self._answer(conn, event.stream_id, fields, bytes(body))
                elif isinstance(event, h2.events.StreamReset):
                    streams.pop(event.stream_id, None)
                elif isinstance(event, h2.events.ConnectionTerminated):
                    sock.sendall(conn.data_to_send())
                    return
            sock.sendall(conn.data_to_send())

    def _answer(
        self, conn: h2.connection.H2Connection, stream_id: int, headers: Headers, body: bytes
    ) -> None:
        request = ReceivedRequest(
            method=headers.get(":method", ""),
            path=headers.get(":path", ""),
            headers=headers,
            body=body,
            at=time.time(),
        )
        with self._lock:
            self.received.append(request)
        reply = self.handle(request)
        if reply.hang:
            return
        response = [(":status", str(reply.status)), ("content-length", str(len(reply.body)))]
        response += list(reply.headers.items())
        conn.send_headers(stream_id, response, end_stream=not reply.body)
        if reply.body:
            conn.send_data(stream_id, reply.body, end_stream=True)
        if reply.open_streams is not None and (
            conn.local_settings.max_concurrent_streams != reply.open_streams
        ):
            conn.update_settings(
                {h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: reply.open_streams}
            )


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@cache
def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    """A private key as unencrypted PKCS#8 PEM text, the form of a ``.p8`` or key-file member."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


# ------------------------------------------------------------------------------------------
# APNs
# ------------------------------------------------------------------------------------------

_APNS_PATH = re.compile(r"/3/device/([^/?]+)")
_HEX_TOKEN = re.compile(r"(?:[0-9a-fA-F]{2}){8,128}")
_PUSH_TYPES = {
    "alert",
    "background",
    "location",
    "voip",
    "complication",
    "fileprovider",
    "mdm",
    "liveactivity",
    "pushtotalk",
    "widgets",
}


class ApnsEndpoint(H2Endpoint):
    """Apple's provider API, token-based authentication, as documented by Apple.

    It verifies the provider token's ES256 signature with the public half of ``key_p8``, its
    ``kid``/``iss``/``iat``, and refuses a token older than an hour (ExpiredProviderToken) or a
    new token less than 20 minutes after the previous one (TooManyProviderTokenUpdates).
    Like APNs, a new connection allows one stream until a request carries a valid token.
    """

    streams_at_first = 1

    def __init__(
        self,
        tls: TlsFiles,
        *,
        clock: Callable[[], float] = time.time,
        topic: str = "com.example.hermod",
    ) -> None:
        super().__init__(tls, clock=clock)
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.key_id = secrets.token_hex(5).upper()
        self.team_id = secrets.token_hex(5).upper()
        self.topic = topic
        self.dead_tokens: dict[str, int] = {}  # token -> when it stopped being valid (ms)
        self.provider_tokens: list[tuple[str, float]] = []  # distinct tokens, first seen at

    @property
    def key_p8(self) -> str:
        return private_pem(self.private_key)

    def unregister(self, device_token: str) -> None:
        self.dead_tokens[device_token] = int(self.clock() * 1000)

    def handle(self, request: ReceivedRequest) -> Reply:
        problem = self._check(request)
        if problem is not None:
            status, reason, is_violation = problem
            if is_violation:
                self.violation(f"{status} {reason}")
            return self._error(status, reason, request)
        token = _APNS_PATH.fullmatch(request.path).group(1)  # type: ignore[union-attr]
        scripted = self.scripted()
        if scripted is not None:
            return scripted
        if token in self.dead_tokens:
            return self._error(410, "Unregistered", request, timestamp=self.dead_tokens[token])
        return Reply(200, b"", {"apns-id": self._apns_id(request)}, open_streams=1000)

    def _check(self, request: ReceivedRequest) -> tuple[int, str, bool] | None:
        """The first thing wrong with a request: (status, Apple's reason, is it our bug?)."""
        headers = request.headers
        if request.method != "POST":
            return 405, "MethodNotAllowed", True
        match = _APNS_PATH.fullmatch(request.path)
        if match is None:
            return 404, "BadPath", True
        auth_problem = self._check_provider_token(headers.get("authorization"))
        if auth_problem is not None:
            return auth_problem
        if headers.get("apns-topic") is None:
            return 400, "MissingTopic", True
        if headers["apns-topic"] != self.topic:
            return 400, "TopicDisallowed", True
        push_type = headers.get("apns-push-type")
        if push_type not in _PUSH_TYPES:
            return 400, "InvalidPushType", True
        priority = headers.get("apns-priority", "10")
        if priority not in {"1", "5", "10"} or (push_type == "background" and priority == "10"):
            return 400, "BadPriority", True
        if not headers.get("apns-expiration", "0").isdigit():
            return 400, "BadExpirationDate", True
        if "apns-id" in headers and not _is_canonical_uuid(headers["apns-id"]):
            return 400, "BadMessageId", True
        if not request.body:
            return 400, "PayloadEmpty", True
        if len(request.body) > 4096:
            return 413, "PayloadTooLarge", True
        try:
            payload = request.json()
        except ValueError:
            return 400, "BadPayload", True  # not an Apple reason name; Apple drops such a push
        aps = payload.get("aps") if isinstance(payload, dict) else None
        if not isinstance(aps, dict):
            return 400, "BadPayload", True
        if push_type == "alert" and not {"alert", "sound", "badge"} & aps.keys():
            return 400, "BadPayload", True  # an alert push that shows nothing
        if push_type == "background" and aps != {"content-available": 1}:
            return 400, "BadPayload", True
        if not _HEX_TOKEN.fullmatch(match.group(1)):
            return 400, "BadDeviceToken", False  # the device's fault, not the provider's
        return None

    def _check_provider_token(self, authorization: str | None) -> tuple[int, str, bool] | None:
        if not authorization:
            return 403, "MissingProviderToken", True
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return 403, "InvalidProviderToken", True
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(
                token,
                self.private_key.public_key(),
                algorithms=["ES256"],
                options={"verify_iat": False, "require": ["iss", "iat"]},
            )
        except jwt.PyJWTError:
            return 403, "InvalidProviderToken", True
        if header.get("kid") != self.key_id or claims.get("iss") != self.team_id:
            return 403, "InvalidProviderToken", True
        if set(claims) != {"iss", "iat"} or not isinstance(claims["iat"], int):
            return 403, "InvalidProviderToken", True
        now = self.clock()
        if claims["iat"] > now + 60:
            return 403, "InvalidProviderToken", True
        if now - claims["iat"] > 3600:
            # Expected when a test moves the clock on; a violation only if the client then
            # keeps sending it (see test_apns), so not recorded here.
            return 403, "ExpiredProviderToken", False
        with self._lock:
            if all(token != seen for seen, _ in self.provider_tokens):
                if self.provider_tokens and now - self.provider_tokens[-1][1] < 20 * 60:
                    self.provider_tokens.append((token, now))
                    return 429, "TooManyProviderTokenUpdates", True
                self.provider_tokens.append((token, now))
        return None

    def _error(
        self, status: int, reason: str, request: ReceivedRequest, timestamp: int | None = None
    ) -> Reply:
        body: dict[str, object] = {"reason": reason}
        if timestamp is not None:
            body["timestamp"] = timestamp
        return json_reply(status, body, {"apns-id": self._apns_id(request)})

    @staticmethod
    def _apns_id(request: ReceivedRequest) -> str:
        given = request.headers.get("apns-id", "")
        return given if _is_canonical_uuid(given) else str(uuid.uuid4()).upper()


def _is_canonical_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower() and len(value) == 36
    except ValueError:
        return False


# ------------------------------------------------------------------------------------------
# FCM
# ------------------------------------------------------------------------------------------

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_GOOGLE_TYPES = "type.googleapis.com"
_FCM_TOKEN = re.compile(r"[A-Za-z0-9_:\-]{20,4096}")
_RESERVED_DATA_KEYS = {"from", "notification", "message_type", "gcm"}
_ANDROID_PRIORITIES = {"normal", "high", "NORMAL", "HIGH"}


def fcm_error(
    status: int,
    grpc_status: str,
    message: str,
    error_code: str | None = None,
    field_violation: str | None = None,
) -> dict[str, Any]:
    """An FCM v1 error body, as Google answers one (``error.details`` with ``FcmError`` and/or
    ``BadRequest``)."""
    details: list[dict[str, Any]] = []
    if error_code is not None:
        details.append(
            {"@type": f"{_GOOGLE_TYPES}/google.firebase.fcm.v1.FcmError", "errorCode": error_code}
        )
    if field_violation is not None:
        details.append(
            {
                "@type": f"{_GOOGLE_TYPES}/google.rpc.BadRequest",
                "fieldViolations": [{"field": field_violation, "description": message}],
            }
        )
    error: dict[str, Any] = {"code": status, "message": message, "status": grpc_status}
    if details:
        error["details"] = details
    return {"error": error}


class FcmEndpoint(H2Endpoint):
    """Google's OAuth token endpoint (JWT-bearer grant) and FCM's ``messages:send``.

    ``service_account_json`` is a key file whose ``token_uri`` points here; the grant's assertion
    is verified with its public key. Access tokens live ``token_lifetime`` seconds by ``clock``;
    ``revoke_tokens()`` makes the issued ones answer 401 as a revoked token would.
    """

    def __init__(
        self,
        tls: TlsFiles,
        *,
        clock: Callable[[], float] = time.time,
        project_id: str = "hermod-test",
        token_lifetime: int = 3599,
    ) -> None:
        super().__init__(tls, clock=clock)
        self.project_id = project_id
        self.private_key = _rsa_key()
        self.private_key_id = secrets.token_hex(20)
        self.client_email = f"firebase-adminsdk@{project_id}.iam.gserviceaccount.com"
        self.token_lifetime = token_lifetime
        self.access_tokens: dict[str, float] = {}  # issued token -> expires at
        self.revoked: set[str] = set()
        self.dead_tokens: set[str] = set()
        self._token_scripted: deque[Reply] = deque()

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    @property
    def send_path(self) -> str:
        return f"/v1/projects/{self.project_id}/messages:send"

    def service_account_json(self) -> str:
        return json.dumps(
            {
                "type": "service_account",
                "project_id": self.project_id,
                "private_key_id": self.private_key_id,
                "private_key": private_pem(self.private_key),
                "client_email": self.client_email,
                "client_id": "1" * 21,
                "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                "token_uri": self.token_uri,
            }
        )

    def respond_token(
        self, status: int, body: object, *, headers: Headers | None = None, times: int = 1
    ) -> None:
        with self._lock:
            self._token_scripted.extend([json_reply(status, body, headers)] * times)

    def hang_token(self, times: int = 1) -> None:
        with self._lock:
            self._token_scripted.extend([Reply(0, hang=True)] * times)

    def revoke_tokens(self) -> None:
        with self._lock:
            self.revoked |= set(self.access_tokens)
            self.access_tokens.clear()

    def unregister(self, registration_token: str) -> None:
        self.dead_tokens.add(registration_token)

    def token_requests(self) -> list[ReceivedRequest]:
        return [r for r in self.received if r.path == "/token"]

    def send_requests(self) -> list[ReceivedRequest]:
        return [r for r in self.received if r.path == self.send_path]

    def handle(self, request: ReceivedRequest) -> Reply:
        if request.path == "/token":
            return self._token(request)
        if request.path.startswith("/v1/projects/"):
            return self._send(request)
        self.violation(f"unknown path {request.path}")
        return json_reply(404, fcm_error(404, "NOT_FOUND", "Not Found"))

    # -- OAuth --------------------------------------------------------------------------------

    def _token(self, request: ReceivedRequest) -> Reply:
        problem = self._check_grant(request)
        if problem is not None:
            self.violation(f"OAuth grant: {problem}")
            return json_reply(400, {"error": "invalid_grant", "error_description": problem})
        with self._lock:
            scripted = self._token_scripted.popleft() if self._token_scripted else None
        if scripted is not None:
            return scripted
        token = "ya29." + secrets.token_urlsafe(32)
        with self._lock:
            self.access_tokens[token] = self.clock() + self.token_lifetime
        return json_reply(
            200,
            {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"},
            {"cache-control": "no-store"},
        )

    def _check_grant(self, request: ReceivedRequest) -> str | None:
        if request.method != "POST":
            return f"method {request.method}"
        if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return "content-type is not application/x-www-form-urlencoded"
        try:
            form = request.form()
        except ValueError:
            return "body is not a form"
        if set(form) != {"grant_type", "assertion"}:
            return f"form members {sorted(form)}"
        if form["grant_type"] != JWT_BEARER:
            return f"grant_type {form['grant_type']}"
        try:
            header = jwt.get_unverified_header(form["assertion"])
            claims = jwt.decode(
                form["assertion"],
                self.private_key.public_key(),
                algorithms=["RS256"],
                audience=self.token_uri,
                options={
                    "verify_iat": False,
                    "verify_exp": False,
                    "require": ["iss", "aud", "iat", "exp", "scope"],
                },
            )
        except jwt.PyJWTError as exc:
            return f"assertion: {exc}"
        if header.get("kid") != self.private_key_id or header.get("alg") != "RS256":
            return f"assertion header {header}"
        if claims["iss"] != self.client_email or claims["scope"] != FCM_SCOPE:
            return f"assertion claims {claims}"
        now = self.clock()
        if not (now - 300 <= claims["iat"] <= now + 60) or not (
            0 < claims["exp"] - claims["iat"] <= 3600
        ):
            return f"assertion times iat={claims['iat']} exp={claims['exp']} now={now}"
        return None

    # -- messages:send ------------------------------------------------------------------------

    def _send(self, request: ReceivedRequest) -> Reply:
        if request.path != self.send_path or request.method != "POST":
            self.violation(f"{request.method} {request.path}")
            return json_reply(404, fcm_error(404, "NOT_FOUND", "Requested entity was not found."))
        auth = self._check_bearer(request.headers.get("authorization", ""))
        if auth is not None:
            return auth
        problem = self._check_message(request)
        if problem is not None:
            self.violation(f"message: {problem}")
            return json_reply(
                400, fcm_error(400, "INVALID_ARGUMENT", problem, field_violation="message")
            )
        scripted = self.scripted()
        if scripted is not None:
            return scripted
        token = request.json()["message"]["token"]
        if not _FCM_TOKEN.fullmatch(token):
            text = "The registration token is not a valid FCM registration token"
            return json_reply(400, fcm_error(400, "INVALID_ARGUMENT", text, "INVALID_ARGUMENT"))
        if token in self.dead_tokens:
            return json_reply(
                404, fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
            )
        name = f"projects/{self.project_id}/messages/0:{secrets.randbelow(10**16)}"
        return json_reply(200, {"name": name})

    def _check_bearer(self, authorization: str) -> Reply | None:
        unauthenticated = json_reply(
            401,
            fcm_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."),
            {"www-authenticate": 'Bearer realm="https://accounts.google.com/"'},
        )
        scheme, _, token = authorization.partition(" ")
        if scheme != "Bearer" or not token:
            self.violation(f"authorization header {authorization[:20]!r}")
            return unauthenticated
        with self._lock:
            expires = self.access_tokens.get(token)
            revoked = token in self.revoked
        if revoked:
            return unauthenticated
        if expires is None or expires <= self.clock():
            self.violation("an unknown or expired access token")
            return unauthenticated
        return None

    def _check_message(self, request: ReceivedRequest) -> str | None:
        if not request.headers.get("content-type", "").startswith("application/json"):
            return "content-type is not application/json"
        try:
            body = request.json()
        except ValueError:
            return "body is not JSON"
        if not isinstance(body, dict) or set(body) - {"message", "validate_only"}:
            return f"top-level members {sorted(body) if isinstance(body, dict) else body}"
        message = body.get("message")
        if not isinstance(message, dict):
            return "no message"
        targets = {"token", "topic", "condition"} & message.keys()
        if len(targets) != 1:
            return f"targets {sorted(targets)}"
        if set(message) - {
            "token",
            "data",
            "notification",
            "android",
            "apns",
            "webpush",
            "fcm_options",
            "name",
        }:
            return f"unknown message members {sorted(message)}"
        data = message.get("data", {})
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()
        ):
            return "data values must be strings"
        if (_RESERVED_DATA_KEYS & data.keys()) or any(k.startswith("google") for k in data):
            return f"reserved data keys {sorted(data)}"
        if len(json.dumps(data)) > 4096:
            return "data larger than 4096 bytes"
        android = message.get("android", {})
        if android.get("priority", "normal") not in _ANDROID_PRIORITIES:
            return f"android.priority {android.get('priority')}"
        if "ttl" in android and not re.fullmatch(r"\d+(\.\d{1,9})?s", str(android["ttl"])):
            return f"android.ttl {android['ttl']}"
        return self._check_apns_block(message.get("apns"))

    @staticmethod
    def _check_apns_block(apns: object) -> str | None:
        if apns is None:
            return None
        if not isinstance(apns, dict):
            return "apns is not an object"
        headers = apns.get("headers", {})
        if not all(isinstance(v, str) for v in headers.values()):
            return "apns.headers values must be strings"
        aps = apns.get("payload", {}).get("aps", {})
        # Google's own rule: a data-only (background) push to Apple must not be high priority.
        if set(aps) == {"content-available"} and headers.get("apns-priority", "10") == "10":
            return "a background APNs push at priority 10"
        return None


def break_http(provider: Any, monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    """Every HTTP call of ``provider`` raises ``error``: a bug, not a network failure."""

    def broken(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(provider._http, "post", broken)
