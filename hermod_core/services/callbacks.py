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
from datetime import timedelta
from pathlib import Path

import certifi
import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from hermod_core import sql
from hermod_core.models import CallbackAttempt, CallbackDelivery, Client, DeliveryState
from hermod_core.protocol.results import iso
from hermod_core.selectors.clients import client_for_delivery
from hermod_core.services.audit import Actor, audit_record
from hermod_core.services.dispatch import enqueue_callback
from hermod_core.services.errors import ServiceError

logger = logging.getLogger("hermod.callbacks")

# A claimed attempt holds the row this long; a worker that died mid-attempt releases it by time.
LEASE_MARGIN = timedelta(seconds=5)
# Rows due for longer than this were probably lost by the broker; the sweep enqueues them again.
LOST_AFTER = timedelta(seconds=10)


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
    receiver are kept alive and reused."""
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


def _claim(delivery_id: int) -> CallbackDelivery | None:
    """Take the next attempt of a due delivery; None if another worker has it or it is not due.

    The conditional UPDATE pushes ``next_attempt_at`` past the attempt's timeout: only the worker
    whose UPDATE matched the row sends, so one attempt never goes out twice at the same time.
    Every callback attempt starts here: one tuned statement (``hermod_core.sql``).
    """
    now = timezone.now()
    lease = now + timedelta(seconds=settings.HERMOD_CALLBACK_TIMEOUT) + LEASE_MARGIN
    delivery = sql.callback_claim(delivery_id=delivery_id, now=now, lease=lease)
    if delivery is not None:
        delivery.client = client_for_delivery(delivery.client_id)
    return delivery


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


def callback_deliver(*, delivery_id: int) -> str:
    """Make one attempt at a due delivery and record it; returns the delivery's state after."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return "skipped"
    client = delivery.client
    payload = body_bytes(delivery.body)
    url = client.callback_url.rstrip("/") + delivery.path
    status: int | None = None
    error = ""
    started = time.monotonic()
    try:
        response = _session().post(
            url,
            data=payload,
            headers=_headers(delivery, client, payload),
            timeout=settings.HERMOD_CALLBACK_TIMEOUT,
            verify=ca_bundle(),
            allow_redirects=False,
        )
        status = response.status_code
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except requests.Timeout:
        error = f"timeout after {settings.HERMOD_CALLBACK_TIMEOUT} s"
    except requests.RequestException as exc:
        error = f"{exc.__class__.__name__}: {str(exc)[:300]}"
    duration_ms = int((time.monotonic() - started) * 1000)
    return _record(delivery, status=status, error=error, duration_ms=duration_ms)


@transaction.atomic
def _record(delivery: CallbackDelivery, *, status: int | None, error: str, duration_ms: int) -> str:
    now = timezone.now()
    attempts = delivery.attempts + 1
    CallbackAttempt.objects.create(
        delivery=delivery,
        number=attempts,
        status_code=status,
        error=error,
        duration_ms=duration_ms,
    )
    changes: dict[str, object] = {"attempts": attempts, "last_status": status, "last_error": error}
    if not error:
        changes |= {"state": DeliveryState.DELIVERED, "delivered_at": now, "next_attempt_at": None}
    elif attempts >= delivery.max_attempts:
        changes |= {"state": DeliveryState.EXHAUSTED, "next_attempt_at": None}
        logger.warning("callback %s exhausted after %d attempts: %s", delivery.pk, attempts, error)
    else:
        delay = retry_delay(attempts, delivery.client.callback_retry_delay)
        changes |= {"next_attempt_at": now + delay}
        enqueue_callback(delivery.pk, countdown=delay.total_seconds())
    CallbackDelivery.objects.filter(pk=delivery.pk, state=DeliveryState.PENDING).update(**changes)
    return str(changes.get("state", DeliveryState.PENDING))


def callbacks_requeue_lost(*, batch: int) -> int:
    """Enqueue deliveries due for a while (their task was lost with a broker or a worker)."""
    cutoff = timezone.now() - LOST_AFTER
    ids = list(
        CallbackDelivery.objects.filter(
            state=DeliveryState.PENDING, next_attempt_at__lte=cutoff
        ).values_list("pk", flat=True)[:batch]
    )
    for delivery_id in ids:
        enqueue_callback(delivery_id)
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
        target_type="client",
        target_id=client.client_id,
        group=client.group,
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
