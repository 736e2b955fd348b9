"""The periodic sweep (docs/PROTOCOL.md §7): expire commands and messages on time, tidy temporary
boxes, and hand work whose task was lost (a callback, a CA step, a content resolution, a push) to
workers again.

Rows are claimed with ``select_for_update(skip_locked=True)`` in small batches, so several workers
running the sweep at once share the work instead of waiting on each other; ``command_transition``
makes each expiry happen exactly once even if two sweeps see the same command.
"""

import logging
import time
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from hermod_core.lifecycle import State
from hermod_core.models import Command, CommandState, Mailbox, MailboxKind, Message, MessageState
from hermod_core.services.ca import ca_requeue_stalled
from hermod_core.services.callbacks import callbacks_requeue_lost
from hermod_core.services.commands import commands_transition, messages_transition
from hermod_core.services.content import content_requeue_lost
from hermod_core.services.push import pushes_requeue_lost

logger = logging.getLogger("hermod.sweep")


@dataclass(frozen=True)
class SweepResult:
    commands_expired: int
    messages_expired: int
    boxes_closed: int
    callbacks_requeued: int
    ca_steps_given_up: int
    content_requeued: int = 0
    pushes_requeued: int = 0


def commands_expire(*, batch: int) -> int:
    """End up to ``batch`` commands past their timeout as EXPIRED, with their callbacks."""
    with transaction.atomic():
        due = list(
            Command.objects.select_for_update(skip_locked=True)
            .filter(state=CommandState.IN_PROGRESS, expires_at__lte=timezone.now())
            .order_by("expires_at")
            .values_list("pk", flat=True)[:batch]
        )
        return commands_transition(
            command_ids=due,
            to=State.EXPIRED,
            failure_code="EXPIRED",
            failure_reason="No valid answer before the command's timeout.",
        )


def messages_expire(*, batch: int) -> int:
    """Withdraw unfetched messages past their lifespan (the command itself lives on)."""
    now = timezone.now()
    with transaction.atomic():
        due = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(state=MessageState.WAITING, expires_at__lte=now)
            .values_list("pk", flat=True)[:batch]
        )
        # Only unfetched ones: a fetched message lives until its command ends.
        return messages_transition(
            where=Q(pk__in=due, state=MessageState.WAITING), to=MessageState.EXPIRED
        )


def temporary_boxes_close(*, batch: int) -> int:
    """Close temporary boxes whose messages are all over (used, withdrawn or expired)."""
    now = timezone.now()
    open_messages = Q(messages__state__in=[MessageState.WAITING, MessageState.FETCHED])
    ids = list(
        Mailbox.objects.filter(kind=MailboxKind.TEMPORARY, closed_at__isnull=True)
        .filter(Q(expires_at__lte=now) | ~open_messages)
        .values_list("pk", flat=True)[:batch]
    )
    return Mailbox.objects.filter(pk__in=ids, closed_at__isnull=True).update(closed_at=now)


def sweep(*, batch: int, budget_seconds: float = 0.0) -> SweepResult:
    """One sweep run. With a time budget, command expiry goes on batch after batch while full
    batches keep coming, so a burst of due commands is cleared within one run, not one batch per
    beat interval."""
    started = time.monotonic()
    expired = commands_expire(batch=batch)
    last = expired
    while last == batch and time.monotonic() - started < budget_seconds:
        last = commands_expire(batch=batch)
        expired += last
    result = SweepResult(
        commands_expired=expired,
        messages_expired=messages_expire(batch=batch),
        boxes_closed=temporary_boxes_close(batch=batch),
        callbacks_requeued=callbacks_requeue_lost(batch=batch),
        ca_steps_given_up=ca_requeue_stalled(batch=batch),
        content_requeued=content_requeue_lost(batch=batch),
        pushes_requeued=pushes_requeue_lost(batch=batch),
    )
    if result.commands_expired or result.callbacks_requeued:
        logger.info(
            "sweep: %d commands expired, %d messages expired, %d callbacks re-enqueued",
            result.commands_expired,
            result.messages_expired,
            result.callbacks_requeued,
        )
    return result
