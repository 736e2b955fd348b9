"""The one helper that hands work to the workers: only after the transaction commits.

A row is written first (the ledger); the task only carries its id. If the broker is down at
commit time the row stays due and the periodic sweep enqueues it again, so nothing is lost.
"""

import logging

from django.db import transaction

from celery_app import app

logger = logging.getLogger("hermod.dispatch")


def _send(task_name: str, args: list[object], countdown: float | None) -> None:
    try:
        app.send_task(task_name, args=args, countdown=countdown)
    except Exception as exc:  # the broker is down: the sweep will pick the row up later
        logger.warning("could not enqueue %s%r: %s", task_name, args, exc)


def _send_each(task_name: str, ids: list[int]) -> None:
    try:
        with app.producer_or_acquire() as producer:  # one connection for the whole batch
            for one in ids:
                app.send_task(task_name, args=[one], producer=producer)
    except Exception as exc:  # as above: the sweep re-enqueues what was not sent
        logger.warning("could not enqueue %d x %s: %s", len(ids), task_name, exc)


def enqueue_after_commit(task_name: str, *args: object, countdown: float | None = None) -> None:
    transaction.on_commit(lambda: _send(task_name, list(args), countdown))


def enqueue_callbacks(delivery_ids: list[int]) -> None:
    """One task per delivery (workers deliver them in parallel), published over one connection."""
    if delivery_ids:
        ids = list(delivery_ids)
        transaction.on_commit(lambda: _send_each("hermod.callbacks.deliver", ids))


def enqueue_callback(delivery_id: int, *, countdown: float | None = None) -> None:
    enqueue_after_commit("hermod.callbacks.deliver", delivery_id, countdown=countdown)


def enqueue_ca_enrollment(command_id: int) -> None:
    enqueue_after_commit("hermod.ca.enroll", command_id)


def enqueue_content_resolution(command_id: int, *, countdown: float | None = None) -> None:
    enqueue_after_commit("hermod.content.resolve", command_id, countdown=countdown)


def enqueue_pushes(push_ids: list[int]) -> None:
    if push_ids:
        ids = list(push_ids)
        transaction.on_commit(lambda: _send_each("hermod.push.deliver", ids))


def enqueue_push(push_id: int, *, countdown: float | None = None) -> None:
    enqueue_after_commit("hermod.push.deliver", push_id, countdown=countdown)
