"""The sweep runs every 2 seconds: a run that did nothing writes no log line (issue 16 item 8),
neither its own nor Celery's routine "received"/"succeeded"/"Sending due task" lines; a run that
expired something says so, and a failing run still logs."""

import logging
from collections.abc import Iterator

import pytest
from celery.app import trace
from django.conf import settings

from hermod_core.observability import QuietTaskFilter
from hermod_core.services.expiry import sweep


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.addFilter(QuietTaskFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


# The loggers Celery's worker and beat write these lines to, and the sweep's own.
LOGGERS = ("celery.worker.strategy", "celery.app.trace", "celery.beat", "hermod.sweep")


@pytest.fixture
def collected() -> Iterator[Collect]:
    """The filter on a handler of its own, on loggers set to INFO whatever earlier tests (a
    Celery worker's start-up configures its loggers) left them at."""
    handler = Collect()
    saved = []
    for name in LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level, logger.disabled, logger.propagate))
        logger.setLevel(logging.INFO)
        logger.disabled = False
        logger.propagate = False
        logger.addHandler(handler)
    yield handler
    for logger, level, disabled, propagate in saved:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.disabled = disabled
        logger.propagate = propagate


def test_the_console_handler_applies_the_filter() -> None:
    assert "quiet_tasks" in settings.LOGGING["handlers"]["console"]["filters"]


def celery_lines(task: str) -> None:
    """What Celery's worker and beat write for one run of ``task``, by their own functions."""
    context = {"id": "1", "name": task, "args": "()", "kwargs": "{}", "eta": None}
    logging.getLogger("celery.worker.strategy").info(
        trace.LOG_RECEIVED, context, extra={"data": context}
    )
    trace.info(trace.LOG_SUCCESS, {**context, "return_value": "{}", "runtime": 0.01})
    logging.getLogger("celery.beat").info("Scheduler: Sending due task %s (%s)", task, task)


def test_celery_routine_lines_about_the_sweep_are_dropped(collected: Collect) -> None:
    celery_lines("hermod.sweep")
    assert collected.records == []


def test_celery_lines_about_other_tasks_stay(collected: Collect) -> None:
    celery_lines("hermod.callbacks.deliver")
    assert len(collected.records) == 3


def test_a_failing_sweep_still_logs(collected: Collect) -> None:
    context = {"id": "1", "name": "hermod.sweep", "description": "raised", "exc": "boom"}
    logging.getLogger("celery.app.trace").error(trace.LOG_FAILURE, context, extra={"data": context})
    assert [r.levelno for r in collected.records] == [logging.ERROR]


@pytest.mark.django_db
def test_a_sweep_that_did_nothing_writes_nothing(collected: Collect) -> None:
    result = sweep(batch=100)
    assert result.commands_expired == 0
    assert [r for r in collected.records if r.levelno >= logging.INFO] == []
