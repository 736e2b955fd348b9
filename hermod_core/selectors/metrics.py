"""Aggregates for /metrics: each is one grouped query, cheap enough for a scrape interval."""

from django.db.models import Count, Q, Sum

from hermod_core.models import CallbackAttempt, CallbackDelivery, Command, CommandState

LATENCY_BUCKETS_MS = (10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


def commands_by_type_and_state() -> list[tuple[str, str, int]]:
    rows = Command.objects.order_by().values("command_type", "state").annotate(n=Count("id"))
    return [(r["command_type"], r["state"], r["n"]) for r in rows]


def validation_failures_by_rule() -> list[tuple[str, int]]:
    rows = (
        Command.objects.order_by()
        .filter(state=CommandState.FAILED)
        .exclude(failure_code="")
        .values("failure_code")
        .annotate(n=Count("id"))
    )
    return [(r["failure_code"], r["n"]) for r in rows]


def callbacks_by_state() -> list[tuple[str, int]]:
    rows = CallbackDelivery.objects.order_by().values("state").annotate(n=Count("id"))
    return [(r["state"], r["n"]) for r in rows]


def callback_attempts() -> dict[str, object]:
    """Attempt counts by outcome and a latency histogram (cumulative buckets, in ms)."""
    ok = Q(status_code__gte=200, status_code__lt=300)
    buckets = {f"le_{b}": Count("id", filter=Q(duration_ms__lte=b)) for b in LATENCY_BUCKETS_MS}
    totals = CallbackAttempt.objects.aggregate(
        count=Count("id"),
        ok=Count("id", filter=ok),
        sum_ms=Sum("duration_ms"),
        **buckets,
    )
    return totals
