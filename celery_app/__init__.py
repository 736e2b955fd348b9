"""The Celery application: settings from Django (``CELERY_*``) and the beat schedule."""

import os

from celery import Celery
from celery.signals import task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hermod_core.settings")

app = Celery("hermod")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["hermod_core", "portal"])


@task_prerun.connect
def _fresh_connections(**kwargs: object) -> None:
    # What Django does at the start of a request: drop a connection that is too old or broken
    # (after a database restart), keep a healthy one.
    from django.db import close_old_connections

    close_old_connections()


@app.on_after_finalize.connect
def _schedule(sender: Celery, **kwargs: object) -> None:
    from django.conf import settings

    # Expiry within 5 s of the deadline (docs/PROTOCOL.md §7): the sweep runs every few seconds and
    # expires a message whose run is late only by the interval.
    sender.add_periodic_task(
        float(settings.HERMOD_SWEEP_INTERVAL),
        sender.signature("hermod.sweep"),
        name="hermod.sweep",
        expires=float(settings.HERMOD_SWEEP_INTERVAL) * 5,
    )
    sender.add_periodic_task(
        60.0,
        sender.signature("hermod.portal.requeue_stalled"),
        name="hermod.portal.requeue_stalled",
        expires=55.0,
    )


__all__ = ["app"]
