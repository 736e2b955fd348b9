"""Resolving content ids with the client's content provider (docs/PROTOCOL.md §13).

``command_create`` writes the job row (``ContentResolution``) in its transaction and hands it
to the workers after commit; until the job is DONE the command's messages are hidden from
devices (``Command.content_ready``). ``content_resolve`` (the worker) asks the provider for
every id, with the callback's timeout and TLS trust, retrying transient failures with backoff
within the message's lifespan. A provider that still fails, or answers something unusable,
ends the command FAILED with the reason, and so its callback.
"""

import base64
import json
import logging
import random
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from hermod_core.http_sessions import thread_session
from hermod_core.lifecycle import State
from hermod_core.models import (
    Client,
    Command,
    CommandState,
    ContentResolution,
    ContentResolutionState,
)
from hermod_core.protocol.commands import BY_TYPE, CommandType
from hermod_core.protocol.content import (
    ContentRef,
    ProviderAnswerError,
    content_refs,
    parse_provider_answer,
    provider_request,
)
from hermod_core.services.callbacks import ca_bundle
from hermod_core.services.commands import command_transition
from hermod_core.services.dispatch import enqueue_content_resolution
from hermod_core.services.push import push_release

logger = logging.getLogger("hermod.content")

FAILURE_CODE = "CONTENT_PROVIDER_FAILED"
LEASE_MARGIN = timedelta(seconds=5)
# Jobs due for longer than this were probably lost by the broker; the sweep enqueues them again.
LOST_AFTER = timedelta(seconds=10)
_TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def _retry_delay(attempts: int) -> timedelta:
    base = settings.HERMOD_CONTENT_RETRY_DELAY * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(base, 300) * random.uniform(0.9, 1.1))


class _Failure(Exception):
    """One provider call that did not give usable content; ``transient`` ones are retried."""

    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


def _headers(client: Client) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": f"Hermod/{settings.VERSION}",
    }
    if client.content_provider_basic_auth:
        token = base64.b64encode(client.content_provider_basic_auth.encode()).decode("ascii")
        headers["Authorization"] = f"Basic {token}"
    return headers


def _read_limited(response: requests.Response, limit: int) -> bytes:
    body = b""
    for chunk in response.iter_content(64 * 1024):
        body += chunk
        if len(body) > limit:
            raise _Failure(f"the answer is larger than {limit} bytes", transient=False)
    return body


def _fetch(client: Client, ref: ContentRef) -> dict[str, object]:
    """``POST <url>/getcontent`` for one id; the checked content, or ``_Failure``."""
    url = client.content_provider_url.rstrip("/") + "/getcontent"
    timeout = settings.HERMOD_CALLBACK_TIMEOUT
    try:
        with thread_session("content").post(
            url,
            data=json.dumps(provider_request(ref.content_id)).encode(),
            headers=_headers(client),
            timeout=timeout,
            verify=ca_bundle(),
            allow_redirects=False,
            stream=True,
        ) as response:
            status = response.status_code
            if not 200 <= status < 300:
                raise _Failure(
                    f"the provider answered HTTP {status} for {ref.content_id}",
                    transient=status in _TRANSIENT_STATUS,
                )
            raw = _read_limited(response, settings.HERMOD_MAX_BODY_BYTES)
    except requests.Timeout:
        raise _Failure(f"the provider did not answer within {timeout} s", transient=True) from None
    except requests.RequestException as exc:
        # The exception names the URL, never the Authorization header.
        reason = f"the provider is unreachable ({exc.__class__.__name__})"
        raise _Failure(reason, transient=True) from None
    try:
        return parse_provider_answer(ref, json.loads(raw))
    except (ValueError, ProviderAnswerError) as exc:
        reason = f"the provider's answer for {ref.content_id} is unusable: {exc}"
        raise _Failure(reason, transient=False) from None


def _claim(command_id: int) -> tuple[ContentResolution, tuple[ContentRef, ...]] | None:
    """Take the job's next attempt, with its placeholders; None if another worker has it or it
    is not due.

    A conditional UPDATE (as callbacks): only the worker whose UPDATE matched calls the
    provider. The lease covers one timeout per distinct id, so a slow provider's attempt is not
    handed to a second worker by the sweep while it runs.
    """
    job = (
        ContentResolution.objects.select_related("command", "command__client")
        .filter(command_id=command_id, state=ContentResolutionState.PENDING)
        .first()
    )
    if job is None:
        return None
    command = job.command
    endpoint = BY_TYPE[CommandType(command.command_type)]
    refs = content_refs(command.command_type, command.body, endpoint.body_key)
    distinct = len({(ref.kind, ref.content_id) for ref in refs})
    now = timezone.now()
    lease = now + timedelta(seconds=settings.HERMOD_CALLBACK_TIMEOUT * (distinct + 1))
    claimed = ContentResolution.objects.filter(
        pk=job.pk, state=ContentResolutionState.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=lease + LEASE_MARGIN)
    return (job, refs) if claimed else None


def _deadline(command: Command) -> datetime:
    """The last moment resolved content is any use: the messages' lifespan (and timeout)."""
    lifespan_end = command.created_at + timedelta(seconds=command.lifespan)
    return min(lifespan_end, command.expires_at)


def content_resolve(*, command_id: int) -> str:
    """Make one attempt at resolving a command's content ids; returns the job's state after.

    The command's own body is re-read: the ids are those it stores. A command that ended
    meanwhile (expired, cancelled) abandons its job without calling the provider.
    """
    claimed = _claim(command_id)
    if claimed is None:
        return "skipped"
    job, refs = claimed
    command = job.command
    if command.state != CommandState.IN_PROGRESS:
        _end(job, ContentResolutionState.ABANDONED, "The command ended before its content.")
        return ContentResolutionState.ABANDONED
    resolved: list[dict[str, object]] = []
    cache: dict[tuple[str, str], dict[str, object]] = {}
    try:
        for ref in refs:
            key = (ref.kind, ref.content_id)
            if key not in cache:
                cache[key] = _fetch(command.client, ref)
            resolved.append({"path": list(ref.path), "kind": ref.kind, "content": cache[key]})
    except _Failure as failure:
        return _failed(job, command, failure)
    with transaction.atomic():
        done = ContentResolution.objects.filter(
            pk=job.pk, state=ContentResolutionState.PENDING
        ).update(
            state=ContentResolutionState.DONE,
            resolved=resolved,
            attempts=job.attempts + 1,
            last_error="",
            next_attempt_at=None,
            finished_at=timezone.now(),
        )
        if done:
            # The messages become visible to devices with this commit.
            Command.objects.filter(pk=command.pk).update(content_ready=True)
            push_release(command_id=command.pk)
    return ContentResolutionState.DONE


def _failed(job: ContentResolution, command: Command, failure: _Failure) -> str:
    attempts = job.attempts + 1
    now = timezone.now()
    delay = _retry_delay(attempts)
    if failure.transient and attempts < job.max_attempts and now + delay < _deadline(command):
        with transaction.atomic():
            ContentResolution.objects.filter(
                pk=job.pk, state=ContentResolutionState.PENDING
            ).update(attempts=attempts, last_error=failure.reason, next_attempt_at=now + delay)
            enqueue_content_resolution(command.pk, countdown=delay.total_seconds())
        logger.info("content of command %s: attempt %d failed, retrying", command.pk, attempts)
        return ContentResolutionState.PENDING
    logger.warning("content of command %s failed: %s", command.pk, failure.reason)
    with transaction.atomic():
        ended = ContentResolution.objects.filter(
            pk=job.pk, state=ContentResolutionState.PENDING
        ).update(
            state=ContentResolutionState.FAILED,
            attempts=attempts,
            last_error=failure.reason,
            next_attempt_at=None,
            finished_at=now,
        )
        if ended:
            command_transition(
                command_id=command.pk,
                to=State.FAILED,
                failure_code=FAILURE_CODE,
                failure_reason=f"The content provider failed: {failure.reason}.",
            )
    return ContentResolutionState.FAILED


def _end(job: ContentResolution, state: ContentResolutionState, reason: str) -> None:
    ContentResolution.objects.filter(pk=job.pk, state=ContentResolutionState.PENDING).update(
        state=state, last_error=reason, next_attempt_at=None, finished_at=timezone.now()
    )


def content_requeue_lost(*, batch: int) -> int:
    """Enqueue jobs due for a while (their task was lost with a broker or a worker)."""
    cutoff = timezone.now() - LOST_AFTER
    ids = list(
        ContentResolution.objects.filter(
            state=ContentResolutionState.PENDING, next_attempt_at__lte=cutoff
        ).values_list("command_id", flat=True)[:batch]
    )
    with transaction.atomic():
        for command_id in ids:
            enqueue_content_resolution(command_id)
    return len(ids)
