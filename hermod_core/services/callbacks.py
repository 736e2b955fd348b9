"""Delivering callbacks from the outbox (docs/PROTOCOL.md §8): at least once, one event id per
row."""

import base64
import hashlib
import hmac
import json
import logging
import random
import ssl
import threading
import time
from collections.abc import MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import certifi
import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from hermod_core import callback_http, sql
from hermod_core.models import CallbackDelivery, Client, DeliveryState
from hermod_core.protocol.results import iso
from hermod_core.selectors.clients import client_for_delivery
from hermod_core.services.audit import Actor, audit_record
from hermod_core.services.dispatch import enqueue_callback, enqueue_callbacks
from hermod_core.services.errors import ServiceError

logger = logging.getLogger("hermod.callbacks")

# A claimed attempt holds the row this long; a worker that died mid-attempt releases it by time.
LEASE_MARGIN = timedelta(seconds=5)
# Rows due for longer than this were probably lost by the broker; the sweep enqueues them again.
LOST_AFTER = timedelta(seconds=10)
# Attempts of one batch task sent at the same time (threads of the worker thread running it).
BATCH_CONCURRENCY = 8


def body_bytes(body: object) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signature(secret: str, payload: bytes) -> str:
    """``X-Hermod-Signature``: ``sha256=<hex HMAC-SHA256 of the exact body bytes>``."""
    return "sha256=" + hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def ca_bundle() -> str | bool:
    """The system trust store plus the *.cer/*.pem of HERMOD_CALLBACK_CA_DIR, as one file."""
    folder = settings.HERMOD_CALLBACK_CA_DIR
    if folder is None or not Path(folder).is_dir():
        return True
    extra = sorted([*Path(folder).glob("*.cer"), *Path(folder).glob("*.pem")])
    if not extra:
        return True
    system = ssl.get_default_verify_paths().cafile or certifi.where()
    parts = [Path(system).read_text(encoding="utf-8")] if Path(system).exists() else []
    parts += [p.read_text(encoding="utf-8") for p in extra]
    bundle = Path(settings.VAR_DIR) / "callback-ca-bundle.pem"
    bundle.parent.mkdir(parents=True, exist_ok=True)
    content = "\n".join(parts)
    if not bundle.exists() or bundle.read_text(encoding="utf-8") != content:
        bundle.write_text(content, encoding="utf-8")
    return str(bundle)


def retry_delay(attempts: int, client_delay: int | None = None) -> timedelta:
    """Seconds before the next attempt: retry-delay (the client's own, else the server's),
    doubled per attempt with jitter if enabled."""
    base = client_delay or settings.HERMOD_CALLBACK_RETRY_DELAY
    if settings.HERMOD_CALLBACK_BACKOFF:
        base = min(base * 2 ** max(attempts - 1, 0), 3600)
        base = base * random.uniform(0.9, 1.1)
    return timedelta(seconds=base)


_local = threading.local()


def _session() -> requests.Session:
    """One session per worker thread (a session is not shared between threads): connections to a
    receiver are kept alive and reused. It reads nothing from the environment itself: ``_route``
    does, once per receiver and batch."""
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
        session.trust_env = False
    return session


@dataclass(frozen=True)
class _Route:
    """What requests takes from the environment for a receiver's URL: proxies (``HTTPS_PROXY``,
    ``NO_PROXY``), a CA bundle variable (``REQUESTS_CA_BUNDLE``) over ``verify``, ``.netrc``
    credentials. Requests reads them on every request, walking the whole environment (about a
    third of an attempt's CPU); a batch reads them once per receiver and passes them on. With
    them, the URLs of the batch as requests prepares them (``urls``, by delivery path).

    ``direct``: no proxy, no ``.netrc`` credentials and TLS verified, so that a POST needs
    nothing of requests and goes out through ``hermod_core.callback_http`` (a quarter of the CPU);
    the others are sent by requests."""

    proxies: MutableMapping[str, str]
    verify: str | bool
    auth: tuple[str, str] | None
    direct: bool
    urls: dict[str, str] = field(default_factory=dict)

    def url(self, delivery: CallbackDelivery) -> str:
        """The URL of ``delivery`` as ``Session.post`` would send it to (requests' own
        preparation: checks, IDNA host, quoting), which ``callback_http`` posts to. The same
        URL gives the same string every time, so it is made once per path and batch."""
        prepared = self.urls.get(delivery.path)
        if prepared is None:
            preparing = requests.PreparedRequest()
            preparing.prepare_url(_url(delivery), None)
            prepared = self.urls[delivery.path] = str(preparing.url)
        return prepared


def _route(url: str, verify: str | bool) -> _Route:
    found = requests.Session().merge_environment_settings(url, {}, None, verify, None)
    proxies, verified = found["proxies"], found["verify"] or False
    auth = requests.utils.get_netrc_auth(url)
    direct = (
        auth is None and verified is not False and not requests.utils.select_proxy(url, proxies)
    )
    return _Route(proxies, verified, auth, direct)


def _claim(delivery_ids: list[int]) -> list[CallbackDelivery]:
    """Take the next attempt of each due delivery of ``delivery_ids``; those another worker has,
    or that are not due, are left out.

    The conditional UPDATE pushes each row's ``next_attempt_at`` past the time its attempt can
    take (a batch's attempts go out ``BATCH_CONCURRENCY`` at a time, each within the callback
    timeout): only the worker whose UPDATE matched a row sends it, so one attempt never goes out
    twice at the same time, and the rows of a worker that died mid-batch are due again when
    their lease ends. Every callback attempt starts here: one tuned statement (``hermod_core.sql``).
    """
    now = timezone.now()
    rounds = -(-len(delivery_ids) // BATCH_CONCURRENCY)
    lease = now + rounds * timedelta(seconds=settings.HERMOD_CALLBACK_TIMEOUT) + LEASE_MARGIN
    deliveries = sql.callbacks_claim(delivery_ids=delivery_ids, now=now, lease=lease)
    clients = {pk: client_for_delivery(pk) for pk in {d.client_id for d in deliveries}}
    for delivery in deliveries:
        delivery.client = clients[delivery.client_id]
    return deliveries


def _headers(delivery: CallbackDelivery, client: Client, payload: bytes) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "X-Hermod-Event-Id": str(delivery.event_id),
        "User-Agent": f"Hermod/{settings.VERSION}",
    }
    if client.callback_basic_auth:
        token = base64.b64encode(client.callback_basic_auth.encode()).decode("ascii")
        headers["Authorization"] = f"Basic {token}"
    if client.callback_signing_secret:
        headers["X-Hermod-Signature"] = signature(client.callback_signing_secret, payload)
    return headers


@dataclass(frozen=True)
class _Outcome:
    """What one attempt got: the receiver's status (None without an answer), an error ("" for a
    2xx), how long it took."""

    status: int | None
    error: str
    duration_ms: int


def _url(delivery: CallbackDelivery) -> str:
    return str(delivery.client.callback_url).rstrip("/") + delivery.path


def _attempt(delivery: CallbackDelivery, route: _Route) -> _Outcome:
    """POST one delivery's body to its client's receiver (no database access: it runs in the
    batch's threads)."""
    client = delivery.client
    payload = body_bytes(delivery.body)
    status: int | None = None
    error = ""
    started = time.monotonic()
    timeout = settings.HERMOD_CALLBACK_TIMEOUT
    try:
        url, headers = route.url(delivery), _headers(delivery, client, payload)
        if route.direct:
            status = callback_http.post(url, payload, headers, timeout=timeout, verify=route.verify)
        else:  # through a proxy, or with .netrc credentials: requests does it
            response = _session().post(
                url,
                data=payload,
                headers=headers,
                timeout=timeout,
                verify=route.verify,
                proxies=route.proxies,
                auth=route.auth,
                allow_redirects=False,
            )
            status = response.status_code
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except (requests.Timeout, callback_http.CallbackTimeout):
        error = f"timeout after {timeout} s"
    except requests.RequestException as exc:
        error = f"{exc.__class__.__name__}: {str(exc)[:300]}"
    except callback_http.CallbackHttpError as exc:
        error = str(exc)[:340]
    return _Outcome(status, error, int((time.monotonic() - started) * 1000))


def _pool() -> ThreadPoolExecutor:
    """The threads that send one batch's attempts at the same time: one pool per worker thread
    (each batch task has all of them; their sessions keep connections alive across batches)."""
    pool: ThreadPoolExecutor | None = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = ThreadPoolExecutor(
            max_workers=BATCH_CONCURRENCY, thread_name_prefix="callback"
        )
    return pool


def callback_deliver(*, delivery_id: int) -> str:
    """Make one attempt at a due delivery and record it; returns the delivery's state after
    ("skipped" if it was not due or another worker has it)."""
    return callbacks_deliver(delivery_ids=[delivery_id]).get(delivery_id, "skipped")


def callbacks_deliver(*, delivery_ids: list[int]) -> dict[int, str]:
    """Make one attempt at each due delivery of ``delivery_ids`` and record each; returns the
    state after of each delivery claimed (the others are left out: not due, or another worker's).

    A batch (the expiry sweep's callbacks, the lost ones the sweep hands out again) is one task:
    its attempts go out ``BATCH_CONCURRENCY`` at a time, and each is claimed and recorded as a
    single delivery's would be — its own lease, its own attempt row, its own retry schedule —
    so a failing receiver retries only its deliveries and a delivered one is never sent again.
    """
    deliveries = _claim(delivery_ids)
    if not deliveries:
        return {}
    verify = ca_bundle()
    routes: dict[str, _Route] = {}
    for delivery in deliveries:
        base = delivery.client.callback_url
        if base not in routes:
            routes[base] = _route(_url(delivery), verify)
    if len(deliveries) == 1:
        outcomes = [_attempt(deliveries[0], routes[deliveries[0].client.callback_url])]
    else:
        outcomes = list(
            _pool().map(lambda d: _attempt(d, routes[d.client.callback_url]), deliveries)
        )
    return _record(list(zip(deliveries, outcomes, strict=True)))


def _record(attempted: list[tuple[CallbackDelivery, _Outcome]]) -> dict[int, str]:
    """Write each attempt's row and its delivery's new state; schedule the failed ones again.

    Every update is conditional on the row still being PENDING, so a delivery that somebody else
    finished meanwhile (after its lease ran out) is never changed back. The whole batch is one
    statement (``sql.callbacks_record``); the retry tasks are enqueued after it. A delivered one
    counts one more attempt than its row has then; a failed one, one more than it had when
    claimed, due again after the retry delay, or exhausted after its last attempt."""
    now = timezone.now()
    records = []
    retries: list[tuple[int, timedelta]] = []
    for delivery, outcome in attempted:
        number = delivery.attempts + 1
        attempts: int | None = None
        state: str = DeliveryState.DELIVERED
        next_attempt_at: datetime | None = None
        delivered_at: datetime | None = now
        if outcome.error:
            attempts, state, delivered_at = number, DeliveryState.PENDING, None
            if number >= delivery.max_attempts:
                state = DeliveryState.EXHAUSTED
                logger.warning(
                    "callback %s exhausted after %d attempts: %s",
                    delivery.pk,
                    number,
                    outcome.error,
                )
            else:
                delay = retry_delay(number, delivery.client.callback_retry_delay)
                next_attempt_at = now + delay
                retries.append((delivery.pk, delay))
        records.append(
            sql.AttemptRecord(
                delivery_id=delivery.pk,
                number=number,
                status_code=outcome.status,
                error=outcome.error,
                duration_ms=outcome.duration_ms,
                at=now,
                attempts=attempts,
                state=str(state),
                next_attempt_at=next_attempt_at,
                delivered_at=delivered_at,
            )
        )
    sql.callbacks_record(records)
    for pk, delay in retries:
        enqueue_callback(pk, countdown=delay.total_seconds())
    return {record.delivery_id: record.state for record in records}


def callbacks_requeue_lost(*, batch: int) -> int:
    """Enqueue deliveries due for a while (their task was lost with a broker or a worker)."""
    cutoff = timezone.now() - LOST_AFTER
    ids = list(
        CallbackDelivery.objects.filter(
            state=DeliveryState.PENDING, next_attempt_at__lte=cutoff
        ).values_list("pk", flat=True)[:batch]
    )
    enqueue_callbacks(ids)
    return len(ids)


@transaction.atomic
def callback_resend(*, delivery: CallbackDelivery, actor: Actor) -> None:
    """Give an exhausted delivery a fresh set of attempts (same event id and body)."""
    CallbackDelivery.objects.filter(pk=delivery.pk, state=DeliveryState.EXHAUSTED).update(
        state=DeliveryState.PENDING,
        max_attempts=F("attempts")
        + (delivery.client.callback_attempts or settings.HERMOD_CALLBACK_ATTEMPTS),
        next_attempt_at=timezone.now(),
    )
    audit_record(
        actor=actor,
        action="callback.resend",
        target_type="callback",
        target_id=str(delivery.event_id),
        group=delivery.client.group,
    )
    enqueue_callback(delivery.pk)


# --- from the console: a test callback, resending every exhausted one -------------------------

TEST_CALLBACK_PATH = "/callback/test"


@transaction.atomic
def callback_send_test(*, client: Client, actor: Actor) -> CallbackDelivery:
    """Send a small test callback to ``<callback-url>/callback/test``, through the outbox.

    A delivery row without a command, due now and allowed one attempt (a test shows whether
    the receiver works; retries would hide it), handed to the workers after commit like any
    callback — so it is signed and authenticated exactly as real callbacks are.
    """
    if not client.callback_url:
        raise ServiceError(f"Client {client.client_id} has no callback URL.")
    now = timezone.now()
    delivery = CallbackDelivery.objects.create(
        command=None,
        client=client,
        path=TEST_CALLBACK_PATH,
        state=DeliveryState.PENDING,
        body={
            "test": True,
            "clientId": client.client_id,
            "message": "Test callback from the Hermod console.",
            "sentAt": iso(now),
        },
        max_attempts=1,
        next_attempt_at=now,
    )
    audit_record(
        actor=actor,
        action="callback.test",
        about=client,
        details={"event_id": str(delivery.event_id)},
    )
    enqueue_callback(delivery.pk)
    return delivery


@transaction.atomic
def callbacks_resend_exhausted(*, actor: Actor) -> int:
    """Resend every exhausted delivery of a command (same event ids and bodies; test callbacks
    are not resent); returns how many."""
    deliveries = list(
        CallbackDelivery.objects.select_related("client__group").filter(
            state=DeliveryState.EXHAUSTED, command__isnull=False
        )
    )
    for delivery in deliveries:
        callback_resend(delivery=delivery, actor=actor)
    return len(deliveries)
