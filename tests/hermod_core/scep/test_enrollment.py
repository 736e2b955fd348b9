"""`enroll_until_done`: backoff, deadline and outcome classification, on a fake clock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from hermod_core.scep.enrollment import enroll_until_done
from hermod_core.scep.errors import ScepDeadlineError, ScepRejectedError, ScepTransientError
from hermod_core.scep.results import EnrollResult, PkiStatus
from tests.hermod_core.scep import factories
from tests.hermod_core.scep.conftest import Keys

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    now: datetime = START
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)


@dataclass
class ScriptedCa:
    """Answers from a script; PENDING forever once the script runs out."""

    script: Sequence[EnrollResult | Exception]
    calls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._steps = list(self.script)

    def _next(self, transaction_id: str) -> EnrollResult:
        step = self._steps.pop(0) if self._steps else _status(PkiStatus.PENDING, transaction_id)
        if isinstance(step, Exception):
            raise step
        return step

    def enroll(self, csr_der: bytes, *, transaction_id: str | None = None) -> EnrollResult:
        self.calls.append(f"enroll {transaction_id}")
        return self._next(transaction_id or "")

    def poll(self, transaction_id: str, csr_der: bytes) -> EnrollResult:
        self.calls.append(f"poll {transaction_id}")
        return self._next(transaction_id)


def _status(status: PkiStatus, tid: str = "TID", fail_info: str | None = None) -> EnrollResult:
    return EnrollResult(status=status, transaction_id=tid, fail_info=fail_info)


@pytest.fixture(scope="module")
def csr(keys: Keys) -> bytes:
    return factories.csr(keys.devices[1], "device-poll")


def _run(
    ca: ScriptedCa,
    clock: FakeClock,
    csr: bytes,
    *,
    deadline: datetime = START + timedelta(hours=1),
    initial_delay: float = 2,
    max_delay: float = 60,
) -> EnrollResult:
    return enroll_until_done(
        ca,
        csr,
        deadline=deadline,
        sleep=clock.sleep,
        now=lambda: clock.now,
        initial_delay=initial_delay,
        max_delay=max_delay,
        transaction_id="TID",
    )


def test_it_returns_at_once_when_the_ca_issues_immediately(csr: bytes) -> None:
    ca, clock = ScriptedCa([_status(PkiStatus.SUCCESS)]), FakeClock()

    assert _run(ca, clock, csr).status is PkiStatus.SUCCESS
    assert clock.sleeps == []
    assert ca.calls == ["enroll TID"]


def test_pending_is_polled_with_doubling_delays_under_the_same_transaction(csr: bytes) -> None:
    pending = _status(PkiStatus.PENDING)
    ca = ScriptedCa([pending, pending, pending, _status(PkiStatus.SUCCESS)])
    clock = FakeClock()

    assert _run(ca, clock, csr).status is PkiStatus.SUCCESS
    assert clock.sleeps == [2, 4, 8]
    assert ca.calls == ["enroll TID", "poll TID", "poll TID", "poll TID"]


def test_the_delay_is_capped_at_max_delay(csr: bytes) -> None:
    ca = ScriptedCa([_status(PkiStatus.PENDING)] * 5 + [_status(PkiStatus.SUCCESS)])
    clock = FakeClock()

    _run(ca, clock, csr, initial_delay=2, max_delay=5)

    assert clock.sleeps == [2, 4, 5, 5, 5]


def test_it_gives_up_at_the_deadline_without_sleeping_past_it(csr: bytes) -> None:
    ca, clock = ScriptedCa([]), FakeClock()

    with pytest.raises(ScepDeadlineError) as raised:
        _run(ca, clock, csr, deadline=START + timedelta(seconds=10))

    # 2 + 4 = 6 s, then only the 4 s left (not 8): one last poll exactly at the deadline.
    assert clock.sleeps == [2, 4, 4]
    assert clock.now == START + timedelta(seconds=10)
    assert ca.calls[-1] == "poll TID"
    assert raised.value.transaction_id == "TID"
    assert raised.value.code == "SCEP_DEADLINE_EXCEEDED"
    assert not raised.value.retryable


def test_a_deadline_already_past_never_contacts_the_ca(csr: bytes) -> None:
    ca, clock = ScriptedCa([]), FakeClock()

    with pytest.raises(ScepDeadlineError):
        _run(ca, clock, csr, deadline=START)

    assert ca.calls == []


def test_failure_after_pending_raises_rejected(csr: bytes) -> None:
    ca = ScriptedCa([_status(PkiStatus.PENDING), _status(PkiStatus.FAILURE, fail_info="badCertId")])

    with pytest.raises(ScepRejectedError) as raised:
        _run(ca, FakeClock(), csr)

    assert raised.value.fail_info == "badCertId"


def test_a_transient_error_while_polling_propagates_for_the_task_to_retry(csr: bytes) -> None:
    ca = ScriptedCa([_status(PkiStatus.PENDING), ScepTransientError("SCEP_UNREACHABLE", "down")])

    with pytest.raises(ScepTransientError):
        _run(ca, FakeClock(), csr)


def test_the_default_transaction_id_comes_from_the_csr(csr: bytes) -> None:
    ca, clock = ScriptedCa([_status(PkiStatus.SUCCESS)]), FakeClock()

    enroll_until_done(
        ca, csr, deadline=START + timedelta(minutes=1), sleep=clock.sleep, now=lambda: clock.now
    )

    assert ca.calls[0].startswith("enroll ")
    assert len(ca.calls[0].split()[1]) == 64
