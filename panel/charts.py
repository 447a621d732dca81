"""Line charts drawn on the server as inline SVG (the page runs no script, loads nothing from a
CDN): this computes the coordinates, panel/templates/panel/queue_chart.html draws them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.formats import date_format

WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 10, 24  # room for the axis labels


@dataclass(frozen=True)
class Line:
    name: str  # a queue name: the CSS class colours it (series-deferred, ...)
    points: str  # "x,y x,y ..." for <polyline points=...>
    last: int


@dataclass(frozen=True)
class Chart:
    lines: list[Line]
    y_ticks: list[tuple[float, int]]  # (y, value)
    x_ticks: list[tuple[float, str, str]]  # (x, label, text-anchor)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom_y: int = HEIGHT - BOTTOM
    right_x: int = WIDTH - RIGHT


def _nice_max(value: int) -> int:
    """1, 2, 5 × 10^n at or above `value` (at least 5), so the axis reads round numbers."""
    value = max(value, 5)
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def line_chart(rows: list[dict], fields: tuple[str, ...], key: str = "taken_at") -> Chart | None:
    """One line per field over time. `rows` are dicts with `key` (a datetime) and the fields,
    oldest first. None when there is nothing to draw."""
    if not rows:
        return None
    times = [row[key] for row in rows]
    t0, t1 = times[0].timestamp(), times[-1].timestamp()
    span = max(t1 - t0, 60.0)
    top = _nice_max(max((row[f] or 0) for row in rows for f in fields))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: datetime) -> float:
        return round(LEFT + (t.timestamp() - t0) / span * plot_w, 1)

    def y(v: int) -> float:
        return round(TOP + plot_h - (v or 0) / top * plot_h, 1)

    lines = [
        Line(
            name=f,
            points=" ".join(f"{x(row[key])},{y(row[f])}" for row in rows),
            last=rows[-1][f] or 0,
        )
        for f in fields
    ]
    y_ticks = [(y(top * i // 4), top * i // 4) for i in range(5)]
    x_ticks = []
    for i in range(5):
        t = t0 + span * i / 4
        moment = timezone.localtime(datetime.fromtimestamp(t, tz=timezone.get_current_timezone()))
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"  # stay inside the box
        x_ticks.append((round(LEFT + plot_w * i / 4, 1), date_format(moment, "H:i"), anchor))
    return Chart(lines=lines, y_ticks=y_ticks, x_ticks=x_ticks)
