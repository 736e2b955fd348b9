"""Enrol a CSR and wait out PENDING answers until a deadline (docs/PROTOCOL.md §10)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from hermod_core.scep.csr import load_csr, transaction_id_for
from hermod_core.scep.errors import ScepDeadlineError
from hermod_core.scep.results import EnrollResult, PkiStatus


class Enroller(Protocol):
    """The two operations `enroll_until_done` needs (`ScepClient` satisfies it)."""

    def enroll(self, csr_der: bytes, *, transaction_id: str | None = None) -> EnrollResult: ...

    def poll(self, transaction_id: str, csr_der: bytes) -> EnrollResult: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


def enroll_until_done(
    client: Enroller,
    csr_der: bytes,
    *,
    deadline: datetime,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = _utc_now,
    initial_delay: float = 2,
    max_delay: float = 60,
    transaction_id: str | None = None,
) -> EnrollResult:
    """Send a PKCSReq, then CertPoll while the CA answers PENDING, until SUCCESS or `deadline`.

    Returns only SUCCESS results. Raises `ScepRejectedError` on FAILURE, `ScepDeadlineError` when
    the request is still PENDING at the deadline (no sleep ever runs past it; one last poll is
    made at the deadline), and lets transient errors propagate unchanged: the task that called us
    owns retries, and re-sending the same CSR resumes the same transaction id.
    Delays double from `initial_delay` up to `max_delay`. `deadline` must be timezone-aware.
    """
    tid = transaction_id or transaction_id_for(load_csr(csr_der))
    if now() >= deadline:
        raise ScepDeadlineError("the deadline passed before enrolment began", transaction_id=tid)
    result = client.enroll(csr_der, transaction_id=tid)
    delay = initial_delay
    while result.status is PkiStatus.PENDING:
        remaining = (deadline - now()).total_seconds()
        if remaining <= 0:
            raise ScepDeadlineError(
                "the CA still answered PENDING at the deadline", transaction_id=tid
            )
        sleep(min(delay, remaining))
        delay = min(delay * 2, max_delay)
        result = client.poll(tid, csr_der)
    return result.raise_for_failure()
