"""The one helper that hands work to the workers: only after the transaction commits.

A row is written first (the ledger); the task only carries its id. If the broker is down at
commit time the row stays due and the periodic sweep enqueues it again, so nothing is lost.
"""

import logging

from django.db import transaction

from celery_app import app

logger = logging.getLogger("hermod.dispatch")

# Deliveries per ``hermod.callbacks.deliver_batch`` task.
CALLBACK_BATCH = 50


def _send(task_name: str, args: list[object], countdown: float | None) -> None:
    try:
        app.send_task(task_name, args=args, countdown=countdown)
    except Exception as exc:  # the broker is down: the sweep will pick the row up later
        logger.warning("could not enqueue %s%r: %s", task_name, args, exc)


def _send_all(task_name: str, arguments: list[list[object]]) -> None:
    try:
        with app.producer_or_acquire() as producer:  # one connection for the whole batch
            for args in arguments:
                app.send_task(task_name, args=args, producer=producer)
    except Exception as exc:  # as above: the sweep re-enqueues what was not sent
        logger.warning("could not enqueue %d x %s: %s", len(arguments), task_name, exc)


def _send_each(task_name: str, ids: list[int]) -> None:
    _send_all(task_name, [[one] for one in ids])


def enqueue_after_commit(task_name: str, *args: object, countdown: float | None = None) -> None:
    transaction.on_commit(lambda: _send(task_name, list(args), countdown))


def enqueue_callbacks(delivery_ids: list[int]) -> None:
    """A single delivery (an answer's callback) as its own task; more (the expiry sweep's, the
    lost ones it hands out again) as one task per ``CALLBACK_BATCH`` of them, which delivers them
    concurrently: a burst costs the broker a few messages, not one per callback. Several tasks
    still spread a large batch over the worker threads and workers."""
    ids = list(delivery_ids)
    if len(ids) == 1:
        enqueue_callback(ids[0])
    elif ids:
        chunks: list[list[object]] = [
            [ids[at : at + CALLBACK_BATCH]] for at in range(0, len(ids), CALLBACK_BATCH)
        ]
        transaction.on_commit(lambda: _send_all("hermod.callbacks.deliver_batch", chunks))


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
