"""Aggregates for /metrics, each bounded whatever the size of the tables, cheap at every scrape.

Nothing here counts a whole table: commands (and their callbacks) are counted over those created
in the last ``WINDOW`` (a range of the ``command_by_time`` index), the in-progress gauge is the
sum of the per-client tally slots (``InProgressTally``: a few rows per client), and callback
attempts are the latest ``ATTEMPT_SAMPLE`` (a range of the primary key).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q, Sum

from hermod_core.models import (
    CallbackAttempt,
    CallbackDelivery,
    Client,
    Command,
    CommandState,
    InProgressTally,
    PushDelivery,
)

LATENCY_BUCKETS_MS = (10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
WINDOW = timedelta(minutes=5)
ATTEMPT_SAMPLE = 10_000


@dataclass(frozen=True)
class RecentCommands:
    """Commands created since ``since``: by type and state now, and the failed ones by rule."""

    since: datetime
    by_type_and_state: list[tuple[str, str, int]]
    failures_by_rule: list[tuple[str, int]]


def commands_recent(*, now: datetime) -> RecentCommands:
    """One grouped query over the commands created in the last ``WINDOW``."""
    since = now - WINDOW
    rows = (
        Command.objects.order_by()
        .filter(created_at__gte=since)
        .values("command_type", "state", "failure_code")
        .annotate(n=Count("id"))
    )
    by_type: dict[tuple[str, str], int] = {}
    by_rule: dict[str, int] = {}
    for row in rows:
        key = (row["command_type"], row["state"])
        by_type[key] = by_type.get(key, 0) + row["n"]
        if row["state"] == CommandState.FAILED and row["failure_code"]:
            by_rule[row["failure_code"]] = by_rule.get(row["failure_code"], 0) + row["n"]
    return RecentCommands(
        since=since,
        by_type_and_state=[(t, s, n) for (t, s), n in sorted(by_type.items())],
        failures_by_rule=sorted(by_rule.items()),
    )


def commands_in_progress_by_client() -> list[tuple[str, int]]:
    """Commands in progress per client, from the tally slots (no command row is read)."""
    rows = (
        InProgressTally.objects.order_by()
        .values("client_id")
        .annotate(n=Sum("count"))
        .values_list("client_id", "n")
    )
    totals = dict(rows)
    names = dict(Client.objects.filter(pk__in=totals).values_list("pk", "client_id"))
    return sorted((names[pk], int(n or 0)) for pk, n in totals.items() if pk in names)


def callbacks_recent(*, since: datetime) -> list[tuple[str, int]]:
    """Callback deliveries of the commands created since ``since``, by state."""
    rows = (
        CallbackDelivery.objects.order_by()
        .filter(command__created_at__gte=since)
        .values("state")
        .annotate(n=Count("id"))
    )
    return sorted((r["state"], r["n"]) for r in rows)


def pushes_recent(*, since: datetime) -> list[tuple[str, str, int]]:
    """Pushes written since ``since`` (docs/push.md), by provider and state."""
    rows = (
        PushDelivery.objects.order_by()
        .filter(created_at__gte=since)
        .values("provider", "state")
        .annotate(n=Count("id"))
    )
    return sorted((r["provider"], r["state"], r["n"]) for r in rows)


def callback_attempts_recent() -> dict[str, int]:
    """The latest ``ATTEMPT_SAMPLE`` attempts: how many, how many 2xx, their total duration and
    a latency histogram (cumulative buckets, in ms)."""
    latest = CallbackAttempt.objects.order_by("-id").values("id")[:ATTEMPT_SAMPLE]
    ok = Q(status_code__gte=200, status_code__lt=300)
    buckets = {f"le_{b}": Count("id", filter=Q(duration_ms__lte=b)) for b in LATENCY_BUCKETS_MS}
    totals = CallbackAttempt.objects.filter(id__in=latest).aggregate(
        count=Count("id"),
        ok=Count("id", filter=ok),
        sum_ms=Sum("duration_ms"),
        **buckets,
    )
    return {name: int(value or 0) for name, value in totals.items()}
