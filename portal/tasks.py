"""Celery tasks of the portal: thin wrappers that load by id and call a service."""

from celery import shared_task

from portal.services import BULK_TASK, bulk_job_run


@shared_task(name=BULK_TASK, acks_late=True, reject_on_worker_lost=True)
def bulk_provision(job_id: int) -> str:
    """Run a bulk provisioning job (idempotent: rows already done are skipped)."""
    return bulk_job_run(job_id=job_id)
