"""What the FCM and APNs clients share: one HTTP/2 client per process, and the classification
of what went wrong on the way (timeouts, refused connections, ``Retry-After``) into a result.

Nothing here raises past a provider's ``send``: every network failure becomes ``RETRY``.
"""

import email.utils
import logging
import os
import re
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

import certifi
import httpx

from hermod_core.push.base import PushNotice, PushOutcome, PushResult, PushTarget

# How a RETRY result carries the provider's Retry-After: ``"HTTP 429 QUOTA_EXCEEDED; retry after
# 30 s"``. ``retry_after_in(detail)`` reads it back, so the outbox can wait at least that long.
_RETRY_AFTER = re.compile(r"; retry after (\d+) s$")
# A provider asking for more than a day is answered with the outbox's own backoff instead.
_RETRY_AFTER_CAP = 86_400
# Answers that say "not now" rather than "never": too many requests, the provider's own trouble.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Failures of a connection that was open, not of the provider: worth one immediate new try.
_STALE_CONNECTION = (httpx.WriteError, httpx.ReadError, httpx.RemoteProtocolError)


class ProviderConfigError(ValueError):
    """A provider's configuration cannot work (unreadable key, missing field); the message names
    the field, so the console can show it as a form error."""


def tls_context(verify: str | bool) -> ssl.SSLContext:
    """``True``: the public trust store (certifi); a path: that CA bundle (a test CA, a proxy's);
    ``False``: no verification, for a throw-away local endpoint only."""
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    cafile = certifi.where() if verify is True else verify
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise ProviderConfigError(f"verify: cannot read the CA bundle {cafile!r}: {exc}") from exc


class Http2Client:
    """A pooled ``httpx.Client`` speaking HTTP/2 for each thread, made on its first use there.

    httpcore's synchronous HTTP/2 connection is not safe for threads multiplexing streams on it:
    one stream closing races another starting, and a send ends in a ``KeyError`` or loses its
    answer (encode/httpx#3072). So each thread owns its client and connection; a Celery worker
    (prefork, one thread per process) still keeps one connection per provider.

    Celery's prefork pool forks after import; a connection opened in the parent must not be
    shared by the children (two processes writing frames into one TLS stream), so a client is
    also owned by the process id that made it.
    """

    def __init__(self, *, verify: str | bool, timeout: float) -> None:
        self._context = tls_context(verify)
        self._timeout = httpx.Timeout(timeout)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._made: list[tuple[int, httpx.Client]] = []  # (process id, client), for close()

    def get(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None or self._local.pid != os.getpid():
            client = httpx.Client(
                http2=True, verify=self._context, timeout=self._timeout, follow_redirects=False
            )
            self._local.client, self._local.pid = client, os.getpid()
            with self._lock:
                self._made.append((os.getpid(), client))
        return client

    def post(self, url: str, **options: Any) -> httpx.Response:
        """POST, once more at once if a pooled connection turned out dead.

        A provider closes idle HTTP/2 connections (APNs sends GOAWAY, a NAT forgets the flow);
        the first request after that fails on write or read without the provider having
        answered. Trying again on a new connection keeps the wake-up from waiting for the
        outbox's backoff; at worst the device gets the notice twice, which it tolerates.
        """
        try:
            return self.get().post(url, **options)
        except _STALE_CONNECTION:
            return self.get().post(url, **options)

    def close(self) -> None:
        """Close every client this process made, in any thread; the next ``get`` makes anew."""
        with self._lock:
            made, self._made = self._made, []
        self._local = threading.local()
        for pid, client in made:
            if pid == os.getpid():
                client.close()


def transport_failure(exc: httpx.HTTPError) -> PushResult:
    """A request that got no HTTP answer: always worth another try later.

    A timed-out request may still have reached the provider; the device then gets the notice
    twice at worst, and it fetches by message id, so a repeat wakes it for nothing more.
    """
    if isinstance(exc, httpx.TimeoutException):
        detail = f"timeout ({type(exc).__name__})"
    elif isinstance(exc, httpx.ConnectError) and "refused" in str(exc).lower():
        detail = "connection refused"
    elif isinstance(exc, httpx.ConnectError):
        detail = f"connection failed: {one_line(str(exc))}"
    else:
        detail = f"{type(exc).__name__}: {one_line(str(exc))}"
    return PushResult(PushOutcome.RETRY, detail)


def retry_after_seconds(value: str | None, *, now: float | None = None) -> int | None:
    """``Retry-After`` as whole seconds from now: delta-seconds or an HTTP date (RFC 9110
    §10.2.3); ``None`` when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(int(value), _RETRY_AFTER_CAP)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    delta = when.timestamp() - (time.time() if now is None else now)
    return min(max(0, int(delta + 0.999)), _RETRY_AFTER_CAP)


def retry_result(detail: str, status: int | None, retry_after: str | None) -> PushResult:
    """A RETRY result whose detail ends with ``; retry after N s`` when the provider said so."""
    seconds = retry_after_seconds(retry_after)
    if seconds is not None:
        detail = f"{detail}; retry after {seconds} s"
    return PushResult(PushOutcome.RETRY, detail, status)


def retry_after_in(detail: str) -> int | None:
    """The wait a provider asked for, read back from a RETRY result's detail (``None``: none)."""
    match = _RETRY_AFTER.search(detail)
    return int(match.group(1)) if match else None


def one_line(text: str, limit: int = 200) -> str:
    """A provider's text made fit for the one-line console detail."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


class TokenSlot:
    """The bearer token of one credential, shared by every provider object made from it in this
    process: a worker that builds a provider per notice still reuses one token (Apple refuses a
    new provider token more often than every 20 minutes; Google's token endpoint is slow and
    rate-limited). ``value`` is ``(token, time)``; hold ``lock`` to read or change it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.value: tuple[str, float] | None = None


_slots: dict[tuple[str, ...], TokenSlot] = {}
_clients: dict[tuple[str | bool, float], Http2Client] = {}
_registry_lock = threading.Lock()


def token_slot(*credential: str) -> TokenSlot:
    with _registry_lock:
        return _slots.setdefault(credential, TokenSlot())


def shared_client(verify: str | bool, timeout: float) -> Http2Client:
    """One pooled client per TLS trust and timeout, so providers share their connections."""
    with _registry_lock:
        client = _clients.get((verify, timeout))
        if client is None:
            client = _clients[(verify, timeout)] = Http2Client(verify=verify, timeout=timeout)
        return client


def _forget_after_fork() -> None:
    # A lock held by another thread at fork time would never be released in the child.
    global _registry_lock
    _registry_lock = threading.Lock()
    _slots.clear()
    _clients.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


class Http2Provider:
    """What FCM and APNs share: a pooled HTTP/2 client, a clock, the notice's lifetime, and a
    ``send`` that never raises."""

    name = ""

    def __init__(
        self, *, verify: str | bool, timeout: float, ttl: int, clock: Callable[[], float]
    ) -> None:
        self.ttl = ttl  # seconds a notice is worth delivering (the provider may hold it so long)
        self._clock = clock
        self._http = shared_client(verify, timeout)

    def send(self, target: PushTarget, notice: PushNotice) -> PushResult:
        try:
            return self._send(target, notice)
        except Exception as exc:  # a bug must not kill the worker's loop: classify, log it
            logging.getLogger(f"hermod.push.{self.name}").exception("send failed unexpectedly")
            return PushResult(PushOutcome.REJECTED, f"internal error: {type(exc).__name__}")

    def close(self) -> None:
        self._http.close()

    def _send(self, target: PushTarget, notice: PushNotice) -> PushResult:
        raise NotImplementedError
