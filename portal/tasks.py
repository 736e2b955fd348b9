"""Celery tasks of the portal: thin wrappers that load by id and call a service."""

from celery import shared_task
from django.conf import settings

from portal.services.bulk import (
    BULK_TASK,
    bulk_job_run,
    bulk_jobs_requeue_stalled,
)


@shared_task(name=BULK_TASK, acks_late=True, reject_on_worker_lost=True)
def bulk_provision(job_id: int) -> str:
    """Run a bulk provisioning job (idempotent: rows already done are skipped)."""
    return bulk_job_run(job_id=job_id)


@shared_task(name="hermod.portal.requeue_stalled", acks_late=True)
def requeue_stalled_bulk_jobs() -> int:
    """Re-enqueue bulk jobs whose task was lost (broker restarted, worker killed)."""
    return bulk_jobs_requeue_stalled(batch=settings.HERMOD_SWEEP_BATCH)
