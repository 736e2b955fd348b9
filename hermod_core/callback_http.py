"""The callbacks' HTTP client: a POST on a kept-alive connection of this thread to the receiver,
made with the standard library's ``http.client``.

requests, which the callbacks used before, spends about four times the CPU on a POST (0.74
against 0.17 ms on the benchmark machine, docs/performance.md): a worker delivering a burst of
EXPIRED callbacks is bound by it. What requests adds and a callback needs stays with it: a
receiver reached through a proxy from the environment or with ``.netrc`` credentials is posted to
by requests (``services.callbacks`` decides); everything else comes here, with the same checks:
TLS verified against the same CA bundle (certifi's, or the bundle of
``HERMOD_CALLBACK_CA_DIR``), the host name checked, no redirect followed, the same timeout for
connecting and for each read, the whole answer read. A failure is raised as
``CallbackHttpError`` whose text names it as requests did (``ConnectionError: …``,
``SSLError: …``), which is what ``portal.callback_errors`` reads.
"""

from __future__ import annotations

import http.client
import os
import select
import ssl
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import certifi

# An answer's body is read to keep the connection usable; past this much the connection is
# closed instead (a receiver has nothing to say to a callback beyond its status).
ANSWER_LIMIT = 64 * 1024
# Receivers a thread keeps a connection open to, the least recently used closed first (as
# urllib3's pools, 10 per requests session): an installation with many clients does not hold a
# socket per receiver in every thread.
KEPT_CONNECTIONS = 10

_local = threading.local()


class CallbackTimeout(Exception):
    """No connection or no answer within the timeout."""


class CallbackHttpError(Exception):
    """The POST got no answer: ``str()`` is ``"<kind>: <cause>"``, kind as requests names it."""


@dataclass(frozen=True)
class _Target:
    https: bool
    host: str
    port: int
    path: str  # with the query string

    @classmethod
    def of(cls, url: str) -> _Target:
        """``url`` as requests prepared it (``_Route.url``): IDNA host, quoted path."""
        parts = urlsplit(url)
        https = parts.scheme == "https"
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CallbackHttpError(f"InvalidURL: not an http(s) URL with a host: {url!r}")
        try:
            port = parts.port or (443 if https else 80)
        except ValueError as exc:
            raise CallbackHttpError(f"InvalidURL: {exc}") from None
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(https, parts.hostname, port, path)


def _ca_file(verify: str | bool) -> str:
    """The CA bundle a ``verify`` of requests means: True is certifi's, as requests reads it."""
    return certifi.where() if verify is True else str(verify)


@lru_cache(maxsize=8)
def _tls_context(ca_file: str, _stamp: tuple[int, int]) -> ssl.SSLContext:
    """One context per bundle and version of it (``_stamp``: its modification time and size, so
    that a bundle rewritten with a new CA gives a new context)."""
    return ssl.create_default_context(cafile=ca_file)


def _trust(verify: str | bool) -> tuple[str, tuple[int, int]]:
    """The CA bundle of ``verify`` and the version of it that is on disk now."""
    ca_file = _ca_file(verify)
    found = os.stat(ca_file)
    return ca_file, (found.st_mtime_ns, found.st_size)


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """Whether an idle kept-alive connection can no longer carry a request: the receiver closed
    it (or wrote to it unasked), so reading it would not block. urllib3 checks the same before
    reusing a connection."""
    sock = connection.sock
    if sock is None:
        return False  # not connected: http.client connects on the next request
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _connection(target: _Target, timeout: float, verify: str | bool) -> http.client.HTTPConnection:
    """This thread's connection to ``target``, kept alive between POSTs."""
    connections: OrderedDict[tuple[object, ...], http.client.HTTPConnection] | None = getattr(
        _local, "connections", None
    )
    if connections is None:
        connections = _local.connections = OrderedDict()
    try:
        trust = _trust(verify) if target.https else None
        context = _tls_context(*trust) if trust is not None else None
    except (OSError, ssl.SSLError) as exc:  # a CA bundle that is missing or not PEM
        raise CallbackHttpError(f"SSLError: the CA bundle cannot be read: {exc}") from None
    key = (target.host, target.port, trust)  # a bundle changed: connections verified anew
    connection = connections.get(key)
    if connection is not None and _dropped(connection):
        connection.close()
        connection = None
    if connection is None:
        if context is not None:
            connection = http.client.HTTPSConnection(
                target.host, target.port, timeout=timeout, context=context
            )
        else:
            connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
        connections[key] = connection
    connections.move_to_end(key)
    while len(connections) > KEPT_CONNECTIONS:
        _, oldest = connections.popitem(last=False)
        oldest.close()
    connection.timeout = timeout
    if connection.sock is not None:
        connection.sock.settimeout(timeout)
    return connection


def post(
    url: str, body: bytes, headers: dict[str, str], *, timeout: float, verify: str | bool
) -> int:
    """POST ``body`` to ``url`` (as requests prepared it) and return the answer's status; raises
    ``CallbackTimeout`` or ``CallbackHttpError``. A redirect is a status like any other."""
    target = _Target.of(url)
    connection = _connection(target, timeout, verify)
    try:
        connection.request("POST", target.path, body=body, headers={"Accept": "*/*", **headers})
        response = connection.getresponse()
        response.read(ANSWER_LIMIT)
        if not response.isclosed():  # more than a receiver should say: not worth reading on
            response.close()
            connection.close()
        return response.status
    except TimeoutError as exc:
        connection.close()
        raise CallbackTimeout(str(exc)) from None
    except ssl.SSLError as exc:
        connection.close()
        raise CallbackHttpError(f"SSLError: {exc}") from None
    except (OSError, http.client.HTTPException) as exc:
        connection.close()
        raise CallbackHttpError(f"ConnectionError: {exc.__class__.__name__}: {exc}") from None
    except (ValueError, UnicodeError) as exc:  # a host or header http.client refuses to send
        connection.close()
        raise CallbackHttpError(f"InvalidURL: {exc}") from None
