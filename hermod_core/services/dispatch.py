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


def enqueue_after_commit(task_name: str, *args: object, countdown: float | None = None) -> None:
    transaction.on_commit(lambda: _send(task_name, list(args), countdown))


def enqueue_callback(delivery_id: int, *, countdown: float | None = None) -> None:
    enqueue_after_commit("hermod.callbacks.deliver", delivery_id, countdown=countdown)


def enqueue_ca_enrollment(command_id: int) -> None:
    enqueue_after_commit("hermod.ca.enroll", command_id)
