"""``Throughput``: jobs processed per second over the last two minutes, as bars drawn against
a labelled scale.

Fed with the cumulative ``processed`` counters from ``stats()`` (exact across every process on
the Redis); a gap between samples (the pane was hidden) is spread evenly over its buckets: the
average of that time, never a spike. The bars are honest: a bar's height is its rate divided by
the scale shown on its axis (top: "5", bottom: "0" jobs/s), and the scale never drops below ``SCALE_FLOOR``,
so a trickle of jobs draws low bars instead of being stretched to full height (Textual's
``Sparkline`` scales from the data's minimum to its maximum, which made 0.03/s look like a flood).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static

BUCKET_S = 2.0
BUCKETS = 60
"""60 buckets of 2 s: the last two minutes."""
SCALE_FLOOR = 1.0
"""Jobs/s: the lowest top of the scale, so that an idle-ish system looks idle."""
BARS = "▁▂▃▄▅▆▇█"
AXIS = 5
"""Columns of the scale on the left of the bars: "  5k▕"."""


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 × 10^k at or above ``value`` (a scale a reader can take in)."""
    value = max(value, SCALE_FLOOR)
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        top = step * 10**exponent
        if top >= value * (1 - 1e-9):
            return float(top)
    return float(10 ** (exponent + 1))


def rate_text(rate: float) -> str:
    """Jobs/s with the precision the number needs: 12k · 1.2k · 120 · 12 · 1.5 · 0.03 · 0."""
    if rate >= 10_000:
        return f"{rate / 1000:.0f}k"
    if rate >= 1000:
        return f"{rate / 1000:.1f}k"
    if rate >= 100:
        return f"{rate:.0f}"
    if rate >= 10:
        return f"{rate:.0f}"
    if rate >= 1:
        return f"{rate:.1f}"
    if rate == 0:
        return "0"
    return f"{rate:.2f}" if rate >= 0.01 else "<0.01"


def scale_text(top: float) -> str:
    """A 1-2-5 scale value, short: 1 · 20 · 500 · 2k · 50k."""
    return f"{top / 1000:g}k" if top >= 1000 else f"{top:g}"


class RateBars(Widget):
    """Bars of ``data`` against ``top``, the newest on the right; several buckets share a
    column (their maximum) when the widget is narrower than the data."""

    DEFAULT_CSS = """
    RateBars { height: 3; color: $success; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.data: list[float] = []
        self.top = SCALE_FLOOR

    def show(self, data: Sequence[float], top: float) -> None:
        self.data, self.top = list(data), top
        self.refresh()

    def columns(self, width: int) -> list[float]:
        data = self.data
        if width <= 0 or not data:
            return []
        if len(data) <= width:
            return data
        per = math.ceil(len(data) / width)
        start = len(data) % per
        head = [max(data[:start])] if start else []
        return head + [max(data[i : i + per]) for i in range(start, len(data), per)]

    def levels(self, width: int, height: int) -> list[int]:
        """Each column's height in eighths of a line; any work at all shows at least one."""
        total = height * len(BARS)
        out = []
        for value in self.columns(width):
            level = 0 if value <= 0 else max(1, round(value / self.top * total))
            out.append(min(level, total))
        return out

    def render(self) -> Text:
        """An axis on the left (the scale's top, and 0 at the bottom), then the bars."""
        height = max(self.size.height, 1)
        width = max(self.size.width - AXIS, 0)
        levels = self.levels(width, height)
        pad = " " * (width - len(levels))
        out = Text(no_wrap=True, end="")
        for row in range(height):
            floor = (height - 1 - row) * len(BARS)
            cells = []
            for level in levels:
                part = min(max(level - floor, 0), len(BARS))
                cells.append(BARS[part - 1] if part else " ")
            mark = scale_text(self.top) if row == 0 else ("0" if row == height - 1 else "")
            out.append(f"{mark:>{AXIS - 1}}▕", style="dim")
            out.append(pad + "".join(cells) + ("\n" if row < height - 1 else ""))
        return out


class Throughput(Vertical):
    DEFAULT_CSS = """
    Throughput { height: auto; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._counts: dict[int, float] = {}
        self._last: tuple[float, int] | None = None
        self._recent: deque[tuple[float, int]] = deque(maxlen=64)
        self.rate = 0.0
        """Jobs per second over the last few seconds."""
        self.peak = 0.0
        self.top = SCALE_FLOOR
        """The rate a full-height bar stands for (shown at the top of the axis)."""

    def compose(self) -> ComposeResult:
        yield Static("Throughput", id="throughput-label")
        yield RateBars(id="throughput-spark")

    def seed(self, ages: list[float], t: float | None = None) -> None:
        """Fill the history from events seen before the app started (ages in seconds), so the
        chart is meaningful at once, e.g. when attaching to a busy system."""
        t = time.monotonic() if t is None else t
        for age in ages:
            if 0 <= age < BUCKET_S * BUCKETS:
                bucket = int((t - age) // BUCKET_S)
                self._counts[bucket] = self._counts.get(bucket, 0.0) + 1

    def record(self, processed: int, t: float | None = None) -> None:
        t = time.monotonic() if t is None else t
        if self._last is not None and processed >= self._last[1]:
            t0, n0 = self._last
            self._spread(t0, t, processed - n0)
        self._last = (t, processed)
        self._recent.append((t, processed))
        while len(self._recent) > 2 and t - self._recent[0][0] > 5.0:
            self._recent.popleft()
        first_t, first_n = self._recent[0]
        self.rate = (processed - first_n) / (t - first_t) if t - first_t > 0.5 else 0.0
        self._draw(t)

    def _spread(self, t0: float, t1: float, delta: int) -> None:
        if delta <= 0 or t1 <= t0:
            return
        per_s = delta / (t1 - t0)
        start = t0
        while start < t1:
            bucket = int(start // BUCKET_S)
            end = min(t1, (bucket + 1) * BUCKET_S)
            self._counts[bucket] = self._counts.get(bucket, 0.0) + per_s * (end - start)
            start = end

    @property
    def data(self) -> list[float]:
        return self.query_one(RateBars).data

    def _draw(self, t: float) -> None:
        current = int(t // BUCKET_S)
        first = current - BUCKETS + 1
        for old in [b for b in self._counts if b < first]:
            del self._counts[old]
        # The current bucket is still filling: rate over its elapsed part.
        elapsed = max(t - current * BUCKET_S, 0.5)
        data = [self._counts.get(b, 0.0) / BUCKET_S for b in range(first, current)]
        data.append(self._counts.get(current, 0.0) / elapsed)
        self.peak = max(max(data), self.rate)
        self.top = nice_ceiling(self.peak)
        self.query_one(RateBars).show(data, self.top)
        self.query_one("#throughput-label", Static).update(
            f"Throughput {rate_text(self.rate)}/s · peak {rate_text(self.peak)}/s · 2 min", layout=False
        )
