"""``GET /metrics`` in the Prometheus text format (commands, validation failures, callbacks,
queue depth). Protected by a bearer token when HERMOD_METRICS_TOKEN is set."""

import hmac
import logging
from pathlib import Path

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from hermod_core.api.errors import error_response
from hermod_core.selectors import metrics

logger = logging.getLogger("hermod.metrics")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _queue_depth() -> int | None:
    url = settings.CELERY_BROKER_URL
    try:
        if url.startswith(("redis://", "rediss://")):
            client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
            return int(client.llen("celery"))
        if url.startswith("filesystem://"):
            folder = Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]))
            return sum(1 for _ in folder.glob("*.msg"))
    except (redis.RedisError, OSError) as exc:
        logger.warning("queue depth unavailable: %s", exc)
    return None


def render_metrics() -> str:
    lines: list[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")

    family("hermod_commands", "gauge", "Commands by type and state.")
    for command_type, state, n in metrics.commands_by_type_and_state():
        lines.append(f'hermod_commands{{type="{command_type}",state="{state}"}} {n}')
    family("hermod_answer_failures", "gauge", "Failed commands by the rule their answer broke.")
    for rule, n in metrics.validation_failures_by_rule():
        lines.append(f'hermod_answer_failures{{rule="{_label(rule)}"}} {n}')
    family("hermod_callbacks", "gauge", "Callback deliveries by state.")
    for state, n in metrics.callbacks_by_state():
        lines.append(f'hermod_callbacks{{state="{state}"}} {n}')
    attempts = metrics.callback_attempts()
    family("hermod_callback_attempts_total", "counter", "Callback delivery attempts.")
    ok = int(attempts["ok"] or 0)  # type: ignore[call-overload]
    count = int(attempts["count"] or 0)  # type: ignore[call-overload]
    lines.append(f'hermod_callback_attempts_total{{outcome="ok"}} {ok}')
    lines.append(f'hermod_callback_attempts_total{{outcome="error"}} {count - ok}')
    family("hermod_callback_attempt_seconds", "histogram", "Duration of callback attempts.")
    for bucket in metrics.LATENCY_BUCKETS_MS:
        value = attempts[f"le_{bucket}"]
        lines.append(f'hermod_callback_attempt_seconds_bucket{{le="{bucket / 1000}"}} {value}')
    lines.append(f'hermod_callback_attempt_seconds_bucket{{le="+Inf"}} {count}')
    total_ms = int(attempts["sum_ms"] or 0)  # type: ignore[call-overload]
    lines.append(f"hermod_callback_attempt_seconds_sum {total_ms / 1000}")
    lines.append(f"hermod_callback_attempt_seconds_count {count}")
    depth = _queue_depth()
    if depth is not None:
        family("hermod_queue_depth", "gauge", "Tasks waiting in the broker queue.")
        lines.append(f'hermod_queue_depth{{queue="celery"}} {depth}')
    return "\n".join(lines) + "\n"


def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.HERMOD_METRICS_TOKEN
    if token:
        given = request.META.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return error_response(401, "UNAUTHORIZED", "A valid metrics token is required.")
    return HttpResponse(render_metrics(), content_type="text/plain; version=0.0.4")
