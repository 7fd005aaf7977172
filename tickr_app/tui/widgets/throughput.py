"""``Throughput``: jobs processed per second over the last minutes, as a Sparkline.

Fed with the cumulative ``processed`` counters from ``stats()`` (exact across every process on
the Redis); a gap between samples (the pane was hidden) is spread evenly over its buckets.
"""

from __future__ import annotations

import time
from collections import deque

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

BUCKET_S = 2.0
BUCKETS = 60
"""60 buckets of 2 s: the last two minutes."""


class Throughput(Vertical):
    DEFAULT_CSS = """
    Throughput { height: auto; }
    Throughput > Sparkline { height: 3; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._counts: dict[int, float] = {}
        self._last: tuple[float, int] | None = None
        self._recent: deque[tuple[float, int]] = deque(maxlen=64)
        self.rate = 0.0
        """Jobs per second over the last few seconds."""
        self.peak = 0.0

    def compose(self) -> ComposeResult:
        yield Static("Throughput", id="throughput-label")
        yield Sparkline([0.0] * BUCKETS, id="throughput-spark")

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
        self.query_one(Sparkline).data = data
        self.query_one("#throughput-label", Static).update(
            f"Throughput {self.rate:,.1f}/s · peak {self.peak:,.1f}/s · last 2 min", layout=False
        )
