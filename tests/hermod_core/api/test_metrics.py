"""/metrics in the Prometheus text format, and structured JSON logs with request ids."""

import json
import logging
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hermod_core.lifecycle import State
from hermod_core.models import CallbackAttempt, CallbackDelivery, Command
from hermod_core.observability import JsonFormatter
from hermod_core.protocol.commands import parse_command_request
from hermod_core.selectors import metrics
from hermod_core.services.commands import command_create, command_transition
from tests.seeds import provisioning_command

pytestmark = pytest.mark.django_db


@pytest.fixture
def scrape(client, settings):
    """GET /metrics as Prometheus does, with the bearer token."""
    settings.HERMOD_METRICS_TOKEN = "scrape-me"

    def get():  # type: ignore[no-untyped-def]
        return client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me")

    return get


def test_metrics_count_commands_failures_callbacks_and_attempts(scrape, client_a) -> None:
    request = parse_command_request("provision", provisioning_command())
    done = command_create(client=client_a.client, request=request)
    command_create(client=client_a.client, request=request)
    command_transition(
        command_id=done.pk, to=State.FAILED, failure_code="NONCE_MISMATCH", failure_reason="x"
    )
    delivery = CallbackDelivery.objects.get(command=done)
    CallbackAttempt.objects.create(delivery=delivery, number=1, status_code=200, duration_ms=40)
    CallbackAttempt.objects.create(delivery=delivery, number=2, status_code=None, duration_ms=900)
    response = scrape()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert "hermod_metrics_window_seconds 300" in text
    assert 'hermod_commands_in_progress{client="idm"} 1' in text
    assert 'hermod_commands_recent{type="PROV",state="FAILED"} 1' in text
    assert 'hermod_commands_recent{type="PROV",state="IN_PROGRESS"} 1' in text
    assert 'hermod_answer_failures_recent{rule="NONCE_MISMATCH"} 1' in text
    assert 'hermod_callbacks_recent{state="PENDING"} 1' in text
    assert 'hermod_callbacks_recent{state="WAITING"} 1' in text
    assert 'hermod_callback_attempts_recent{outcome="ok"} 1' in text
    assert 'hermod_callback_attempts_recent{outcome="error"} 1' in text
    assert 'hermod_callback_attempt_seconds_recent_bucket{le="0.05"} 1' in text
    assert 'hermod_callback_attempt_seconds_recent_bucket{le="+Inf"} 2' in text
    assert "hermod_queue_depth" in text


def test_commands_older_than_the_window_count_only_in_the_in_progress_gauge(
    scrape, client_a
) -> None:
    request = parse_command_request("provision", provisioning_command())
    old = command_create(client=client_a.client, request=request)
    ended = command_create(client=client_a.client, request=request)
    command_transition(command_id=ended.pk, to=State.FAILED, failure_code="NONCE_MISMATCH")
    Command.objects.filter(pk__in=[old.pk, ended.pk]).update(
        created_at=timezone.now() - metrics.WINDOW - timedelta(seconds=1)
    )
    text = scrape().content.decode()
    assert 'hermod_commands_in_progress{client="idm"} 1' in text
    assert "hermod_commands_recent{" not in text
    assert "hermod_answer_failures_recent{" not in text
    assert "hermod_callbacks_recent{" not in text


def test_every_metrics_query_is_bounded(scrape, client_a) -> None:
    """No statement of a scrape reads a whole table: commands and their callbacks by a window
    of creation times, attempts by a LIMIT, in progress from the tally."""
    command_create(
        client=client_a.client,
        request=parse_command_request("provision", provisioning_command()),
    )
    with CaptureQueriesContext(connection) as captured:
        assert scrape().status_code == 200
    statements = [q["sql"] for q in captured.captured_queries]
    assert len(statements) == 6
    for sql in statements:
        if '"hermod_command"' in sql:
            assert '"hermod_command"."created_at" >=' in sql, sql
        if '"hermod_push_delivery"' in sql:
            assert '"hermod_push_delivery"."created_at" >=' in sql, sql
        if '"hermod_callback_attempt"' in sql:
            assert "LIMIT 10000" in sql, sql
        assert '"hermod_message"' not in sql, sql
    assert any('"hermod_in_progress_tally"' in sql for sql in statements)


def test_the_recent_commands_are_found_through_the_creation_time_index(client_a) -> None:
    queryset = (
        Command.objects.order_by()
        .filter(created_at__gte=timezone.now() - metrics.WINDOW)
        .values("command_type", "state", "failure_code")
        .annotate(n=Count("id"))
    )
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
            assert "USING INDEX command_by_time (created_at>?)" in plan, plan
            return
        # PostgreSQL scans a table this small whole; without that option the index must serve.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = " ".join(str(row[0]) for row in cursor.fetchall())
    assert "command_by_time" in plan, plan


def test_metrics_require_the_token(client, settings) -> None:
    settings.HERMOD_METRICS_TOKEN = "scrape-me"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-you").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me").status_code == 200


def test_an_empty_token_opens_metrics_only_with_debug_on(client, settings) -> None:
    settings.HERMOD_METRICS_TOKEN = ""
    settings.DEBUG = False
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401
    settings.DEBUG = True
    assert client.get("/metrics").status_code == 200


def test_every_response_carries_a_request_id(client) -> None:
    generated = client.get("/healthz")["X-Request-Id"]
    assert len(generated) == 32
    assert client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")["X-Request-Id"] == "abc-123"
    assert client.get("/healthz", HTTP_X_REQUEST_ID="bad id;")["X-Request-Id"] != "bad id;"


def test_json_logs_carry_the_context_ids() -> None:
    record = logging.makeLogRecord(
        {"name": "hermod.x", "levelname": "INFO", "msg": "hello %s", "args": ("you",)}
    )
    record.request_id, record.client_id, record.command_id = "r1", "idm", "42"
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "hello you"
    assert (entry["request_id"], entry["client_id"], entry["command_id"]) == ("r1", "idm", "42")
    assert entry["level"] == "INFO"
