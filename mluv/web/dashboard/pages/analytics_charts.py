"""Charts as plain data for the analytics templates: bar (stacked) and line geometry in a fixed viewBox.

The template draws each mark as an SVG element with a <title> (its value) and the same figures as a table
below the chart, so a screen reader or a copy-paste gets the numbers, not only the shapes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

WIDTH = 600.0
HEIGHT = 160.0
GAP = 0.2  # share of each slot left empty between bars


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    colour: str  # a CSS class (static/dashboard.css: .k-*)


@dataclass(frozen=True)
class Mark:
    colour: str
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class Line:
    colour: str
    points: str  # an SVG polyline's points


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    summary: str  # the SVG's aria-label
    series: list[Series]
    totals: list[int]  # per series, over every column
    labels: list[str]  # one per column (a day, a bucket)
    rows: list[list[int]]  # per column, per series: the table under the chart
    marks: list[Mark]
    lines: list[Line]
    peak: int
    categorical: bool = False  # labels are categories (each shown), not a run of days (first and last)
    width: float = WIDTH
    height: float = HEIGHT

    @property
    def empty(self) -> bool:
        return self.peak == 0

    @property
    def legend(self) -> list[tuple[Series, int]]:
        return list(zip(self.series, self.totals, strict=True))

    @property
    def table(self) -> list[tuple[str, list[tuple[str, int]]]]:
        """Per column, its label and each series' (label, value)."""
        return [
            (label, [(s.label, value) for s, value in zip(self.series, row, strict=True)])
            for label, row in zip(self.labels, self.rows, strict=True)
        ]


def _table(
    labels: Sequence[str], series: Sequence[Series], values: Sequence[Mapping[str, int]]
) -> tuple[list[list[int]], list[int]]:
    rows = [[int(column.get(s.key, 0)) for s in series] for column in values]
    totals = [sum(row[i] for row in rows) for i in range(len(series))]
    return rows, totals


def _summary(title: str, labels: Sequence[str], series: Sequence[Series], totals: Sequence[int]) -> str:
    span = f"{labels[0]} to {labels[-1]}" if labels else "no data"
    parts = ", ".join(f"{s.label} {total:,}" for s, total in zip(series, totals, strict=True))
    return f"{title}, {span}: {parts}"


def bar_chart(
    key: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    values: Sequence[Mapping[str, int]],
    *,
    categorical: bool = False,
) -> Chart:
    """One bar per label, its series stacked bottom-up in the given order, scaled to the tallest bar."""
    rows, totals = _table(labels, series, values)
    peak = max((sum(row) for row in rows), default=0)
    slot = WIDTH / max(len(labels), 1)
    marks = []
    for index, (label, row) in enumerate(zip(labels, rows, strict=True)):
        base = HEIGHT
        for s, value in zip(series, row, strict=True):
            if value <= 0:
                continue
            height = HEIGHT * value / peak
            base -= height
            marks.append(
                Mark(
                    s.colour,
                    round(index * slot + slot * GAP / 2, 2),
                    round(base, 2),
                    round(slot * (1 - GAP), 2),
                    round(height, 2),
                    f"{label}: {value:,} {s.label}",
                )
            )
    return Chart(
        key, title, _summary(title, labels, series, totals), list(series), totals, list(labels), rows, marks,
        [], peak, categorical,
    )  # fmt: skip


def line_chart(
    key: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    values: Sequence[Mapping[str, int]],
) -> Chart:
    """One polyline per series through each label's value; a single point is drawn as a flat line."""
    rows, _ = _table(labels, series, values)
    peak = max((max(row, default=0) for row in rows), default=0)
    slot = WIDTH / max(len(labels), 1)
    lines = []
    for i, s in enumerate(series):
        points = [
            (index * slot + slot / 2, HEIGHT - (HEIGHT * row[i] / peak if peak else 0.0))
            for index, row in enumerate(rows)
        ]
        if len(points) == 1:
            points = [(0.0, points[0][1]), (WIDTH, points[0][1])]
        lines.append(Line(s.colour, " ".join(f"{x:.1f},{y:.1f}" for x, y in points)))
    # A line chart's totals are not sums (a count at each moment): the summary gives the last values.
    last = rows[-1] if rows else [0] * len(series)
    return Chart(
        key, title, _summary(title, labels, series, last), list(series), last, list(labels), rows, [], lines,
        peak,
    )  # fmt: skip
