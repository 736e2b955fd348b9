"""/metrics in the Prometheus text format, and structured JSON logs with request ids."""

import json
import logging

import pytest

from hermod_core.lifecycle import State
from hermod_core.models import CallbackAttempt, CallbackDelivery
from hermod_core.observability import JsonFormatter
from hermod_core.protocol.commands import parse_command_request
from hermod_core.services.commands import command_create, command_transition
from tests.seeds import provisioning_command

pytestmark = pytest.mark.django_db


def test_metrics_count_commands_failures_callbacks_and_attempts(client, client_a) -> None:
    request = parse_command_request("provision", provisioning_command())
    done = command_create(client=client_a.client, request=request)
    command_create(client=client_a.client, request=request)
    command_transition(
        command_id=done.pk, to=State.FAILED, failure_code="NONCE_MISMATCH", failure_reason="x"
    )
    delivery = CallbackDelivery.objects.get(command=done)
    CallbackAttempt.objects.create(delivery=delivery, number=1, status_code=200, duration_ms=40)
    CallbackAttempt.objects.create(delivery=delivery, number=2, status_code=None, duration_ms=900)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert 'hermod_commands{type="PROV",state="FAILED"} 1' in text
    assert 'hermod_commands{type="PROV",state="IN_PROGRESS"} 1' in text
    assert 'hermod_answer_failures{rule="NONCE_MISMATCH"} 1' in text
    assert 'hermod_callbacks{state="PENDING"} 1' in text
    assert 'hermod_callback_attempts_total{outcome="ok"} 1' in text
    assert 'hermod_callback_attempts_total{outcome="error"} 1' in text
    assert 'hermod_callback_attempt_seconds_bucket{le="0.05"} 1' in text
    assert 'hermod_callback_attempt_seconds_bucket{le="+Inf"} 2' in text
    assert "hermod_queue_depth" in text


def test_metrics_can_require_a_token(client, settings) -> None:
    settings.HERMOD_METRICS_TOKEN = "scrape-me"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-you").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me").status_code == 200


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
