"""The server-side SVG chart geometry."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from portal.charts import nice_ceiling, stacked_bars


@dataclass
class Slot:
    start: datetime
    counts: dict[str, int]


T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10), (11, 20), (240, 500), (1000, 1000)],
)
def test_the_scale_ends_on_a_round_number(value, ceiling):
    assert nice_ceiling(value) == ceiling


def test_bars_stack_by_series_in_order_and_scale_to_the_top():
    slots = [
        Slot(T0, {"COMPLETED": 2, "FAILED": 2}),
        Slot(T0 + timedelta(minutes=1), {}),
        Slot(T0 + timedelta(minutes=2), {"COMPLETED": 1}),
    ]
    chart = stacked_bars(
        slots, ["COMPLETED", "FAILED"], title="t", label_every=2, label_format="%H:%M", height=130
    )
    assert chart.total == 5
    plot = chart.bottom - chart.top  # 100 px for a scale of 5
    first, second, third = chart.rects
    assert (first.series, second.series, third.series) == ("COMPLETED", "FAILED", "COMPLETED")
    assert first.height == pytest.approx(plot * 2 / 5)
    assert first.y + first.height == pytest.approx(chart.bottom)
    assert second.y + second.height == pytest.approx(first.y)
    assert first.x == second.x
    assert third.x > first.x
    assert [t.label for t in chart.ticks] == ["12:00", "12:02"]
    assert first.title == "12:00: 2 COMPLETED"
    assert [g.label for g in chart.grid] == ["0", "5"]


def test_an_empty_chart_draws_no_bars():
    chart = stacked_bars([Slot(T0, {})], ["COMPLETED"], title="t", label_every=1, label_format="%H")
    assert chart.rects == ()
    assert chart.total == 0
