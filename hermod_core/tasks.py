"""Celery tasks: thin wrappers that load by id and call a service (docs/STYLE.md, Celery)."""

import dataclasses
import random
from collections import Counter
from typing import Any

from celery import shared_task
from django.conf import settings

from hermod_core import observability
from hermod_core.scep import ScepTransientError
from hermod_core.services.ca import ca_enroll
from hermod_core.services.callbacks import callback_deliver, callbacks_deliver
from hermod_core.services.content import content_resolve
from hermod_core.services.expiry import sweep
from hermod_core.services.push import push_deliver


@shared_task(name="hermod.callbacks.deliver", acks_late=True, reject_on_worker_lost=True)
def deliver_callback(delivery_id: int) -> str:
    return callback_deliver(delivery_id=delivery_id)


@shared_task(name="hermod.callbacks.deliver_batch", acks_late=True, reject_on_worker_lost=True)
def deliver_callbacks(delivery_ids: list[int]) -> dict[str, int]:
    """One attempt at each of a batch of deliveries, sent concurrently; the service claims,
    records and schedules the retry of each on its own. Returns how many ended in each state."""
    states = callbacks_deliver(delivery_ids=delivery_ids)
    return dict(Counter(states.values()))


@shared_task(name="hermod.push.deliver", acks_late=True, reject_on_worker_lost=True)
def deliver_push(push_id: int) -> str:
    """One attempt at a push; the service schedules any retry itself."""
    return push_deliver(push_id=push_id)


@shared_task(name="hermod.content.resolve", acks_late=True, reject_on_worker_lost=True)
def resolve_content(command_id: int) -> str:
    """One attempt at a command's content ids; the service schedules any retry itself."""
    observability.command_id.set(str(command_id))
    return content_resolve(command_id=command_id)


@shared_task(name="hermod.sweep", acks_late=True, reject_on_worker_lost=True)
def run_sweep() -> dict[str, int]:
    result = sweep(
        batch=settings.HERMOD_SWEEP_BATCH, budget_seconds=settings.HERMOD_SWEEP_INTERVAL * 0.8
    )
    return dataclasses.asdict(result)


@shared_task(
    bind=True,
    name="hermod.ca.enroll",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=5,
)
def enroll_at_ca(self: Any, command_id: int) -> str:
    """Enroll a provisioning's CSRs at the group's CA; transient CA errors retry with backoff."""
    final = self.request.retries >= self.max_retries
    observability.command_id.set(str(command_id))
    try:
        return ca_enroll(command_id=command_id, final_attempt=final)
    except ScepTransientError as exc:
        countdown = min(10 * 2**self.request.retries, 300) * random.uniform(0.8, 1.2)
        raise self.retry(exc=exc, countdown=countdown) from None
