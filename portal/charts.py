"""Stacked bar charts as geometry for a server-rendered SVG (no JavaScript chart library).

Pure: buckets of counts in, rectangles, axis ticks and grid lines out. The template draws them;
colours come from the stylesheet by series name (``.series-COMPLETED``).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class Slot(Protocol):
    @property
    def start(self) -> datetime: ...

    @property
    def counts(self) -> dict[str, int]: ...


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    series: str
    title: str


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class GridLine:
    y: float
    label: str


@dataclass(frozen=True)
class StackedBarChart:
    title: str
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    rects: tuple[Rect, ...]
    ticks: tuple[Tick, ...]
    grid: tuple[GridLine, ...]
    series: tuple[str, ...]
    total: int

    @property
    def value_label_x(self) -> float:
        return self.left - 4

    @property
    def tick_label_y(self) -> float:
        return self.height - 6


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 × 10^k at least ``value`` (at least 1)."""
    if value <= 1:
        return 1
    magnitude = int(10 ** math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def stacked_bars(
    slots: Sequence[Slot],
    series: Sequence[str],
    *,
    title: str,
    label_every: int,
    label_format: str,
    width: int = 960,
    height: int = 160,
) -> StackedBarChart:
    """One bar per slot, stacked by series in the given order, scaled to the tallest bar."""
    left, right, top, bottom = 36.0, float(width - 8), 8.0, float(height - 22)
    totals = [sum(slot.counts.get(name, 0) for name in series) for slot in slots]
    scale_max = nice_ceiling(max(totals, default=0))
    plot_height = bottom - top
    step = (right - left) / max(len(slots), 1)
    bar_width = max(step * 0.8, 1.0)
    rects: list[Rect] = []
    ticks: list[Tick] = []
    for index, slot in enumerate(slots):
        x = left + index * step + (step - bar_width) / 2
        y = bottom
        label = slot.start.strftime(label_format)
        for name in series:
            count = slot.counts.get(name, 0)
            if not count:
                continue
            bar_height = plot_height * count / scale_max
            y -= bar_height
            rects.append(
                Rect(
                    x=round(x, 2),
                    y=round(y, 2),
                    width=round(bar_width, 2),
                    height=round(bar_height, 2),
                    series=name,
                    title=f"{label}: {count} {name}",
                )
            )
        if index % label_every == 0:
            ticks.append(Tick(x=round(left + index * step + step / 2, 2), label=label))
    grid = tuple(
        GridLine(
            y=round(bottom - plot_height * fraction, 2), label=str(round(scale_max * fraction))
        )
        for fraction in (0.0, 0.5, 1.0)
        if fraction == 0.0 or scale_max * fraction == int(scale_max * fraction)
    )
    return StackedBarChart(
        title=title,
        width=width,
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        rects=tuple(rects),
        ticks=tuple(ticks),
        grid=grid,
        series=tuple(series),
        total=sum(totals),
    )
