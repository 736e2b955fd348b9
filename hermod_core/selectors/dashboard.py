"""Aggregates for the console dashboard."""

from django.db.models import Count

from hermod_core.models import Command, CommandState


def command_counts_by_state() -> dict[str, int]:
    counts = {state.value: 0 for state in CommandState}
    for row in Command.objects.order_by().values("state").annotate(n=Count("id")):
        counts[row["state"]] = row["n"]
    return counts
