"""``GET /metrics`` in the Prometheus text format (commands, validation failures, callbacks,
queue depth), behind the bearer token HERMOD_METRICS_TOKEN."""

import hmac
import logging
from pathlib import Path

import redis
from amqp.exceptions import AMQPError
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from kombu.connection import Connection
from kombu.exceptions import KombuError

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
        if url.startswith(("amqp://", "amqps://", "pyamqp://")):
            with Connection(url, connect_timeout=1) as conn:  # type: ignore[no-untyped-call]
                declared = conn.default_channel.queue_declare("celery", passive=True)
                return int(declared.message_count)
    except (redis.RedisError, OSError, AMQPError, KombuError) as exc:
        logger.warning("queue depth unavailable: %s", exc)
    return None


def render_metrics() -> str:
    """Every family in the Prometheus text format; each query is bounded (selectors.metrics)."""
    lines: list[str] = []
    window = int(metrics.WINDOW.total_seconds())

    def family(name: str, kind: str, help_text: str) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")

    family("hermod_metrics_window_seconds", "gauge", "The window of the *_recent families.")
    lines.append(f"hermod_metrics_window_seconds {window}")
    family("hermod_commands_in_progress", "gauge", "Commands in progress, by client.")
    for client_id, n in metrics.commands_in_progress_by_client():
        lines.append(f'hermod_commands_in_progress{{client="{_label(client_id)}"}} {n}')
    recent = metrics.commands_recent(now=timezone.now())
    family(
        "hermod_commands_recent",
        "gauge",
        f"Commands created in the last {window} s, by type and their state now.",
    )
    for command_type, state, n in recent.by_type_and_state:
        lines.append(f'hermod_commands_recent{{type="{command_type}",state="{state}"}} {n}')
    family(
        "hermod_answer_failures_recent",
        "gauge",
        f"Failed commands created in the last {window} s, by the rule their answer broke.",
    )
    for rule, n in recent.failures_by_rule:
        lines.append(f'hermod_answer_failures_recent{{rule="{_label(rule)}"}} {n}')
    family(
        "hermod_callbacks_recent",
        "gauge",
        f"Callback deliveries of the commands created in the last {window} s, by state.",
    )
    for state, n in metrics.callbacks_recent(since=recent.since):
        lines.append(f'hermod_callbacks_recent{{state="{state}"}} {n}')
    family(
        "hermod_pushes_recent",
        "gauge",
        f"Pushes written in the last {window} s, by provider and state (docs/push.md).",
    )
    for provider, state, n in metrics.pushes_recent(since=recent.since):
        lines.append(f'hermod_pushes_recent{{provider="{provider}",state="{state}"}} {n}')
    attempts = metrics.callback_attempts_recent()
    sample = metrics.ATTEMPT_SAMPLE
    family(
        "hermod_callback_attempts_recent",
        "gauge",
        f"The latest {sample} callback delivery attempts, by outcome.",
    )
    ok, count = attempts["ok"], attempts["count"]
    lines.append(f'hermod_callback_attempts_recent{{outcome="ok"}} {ok}')
    lines.append(f'hermod_callback_attempts_recent{{outcome="error"}} {count - ok}')
    family(
        "hermod_callback_attempt_seconds_recent",
        "gauge",
        f"Duration of the latest {sample} callback attempts (cumulative buckets).",
    )
    for bucket in metrics.LATENCY_BUCKETS_MS:
        value = attempts[f"le_{bucket}"]
        lines.append(
            f'hermod_callback_attempt_seconds_recent_bucket{{le="{bucket / 1000}"}} {value}'
        )
    lines.append(f'hermod_callback_attempt_seconds_recent_bucket{{le="+Inf"}} {count}')
    lines.append(f"hermod_callback_attempt_seconds_recent_sum {attempts['sum_ms'] / 1000}")
    lines.append(f"hermod_callback_attempt_seconds_recent_count {count}")
    depth = _queue_depth()
    if depth is not None:
        family("hermod_queue_depth", "gauge", "Tasks waiting in the broker queue.")
        lines.append(f'hermod_queue_depth{{queue="celery"}} {depth}')
    return "\n".join(lines) + "\n"


def metrics_view(request: HttpRequest) -> HttpResponse:
    """``GET /metrics`` with ``Authorization: Bearer <HERMOD_METRICS_TOKEN>``. The settings refuse
    to start without a token unless DJANGO_DEBUG is on; only then is an empty token open."""
    token = settings.HERMOD_METRICS_TOKEN
    if token or not settings.DEBUG:
        given = request.META.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ").strip()
        if not token or not hmac.compare_digest(given.encode(), token.encode()):
            return error_response(401, "UNAUTHORIZED", "A valid metrics token is required.")
    return HttpResponse(render_metrics(), content_type="text/plain; version=0.0.4")
