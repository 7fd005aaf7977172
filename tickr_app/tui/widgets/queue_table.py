"""``QueueTable``: one row per queue with its live counts; the highlighted row is the queue
the job tables show."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text

from ...core.limits import QueueLimits
from ...core.records import QueueStats
from ..messages import QueueSelected
from .job_table import theme_colors
from .live_table import Column, LiveTable

COLUMNS = (
    Column("queue", "Queue", shrink=True),
    Column("ready", "Ready", "right"),
    Column("waiting", "Waiting", "right"),
    Column("active", "Active", "right"),
    Column("dead", "Dead", "right"),
    Column("processed", "Processed", "right"),
    Column("failed", "Failed", "right"),
    Column("state", "State"),
)


def limits_line(limits: QueueLimits) -> str:
    """The limits of the selected queue in words, with the current rate, for the status line
    under the tables (the table's State column says "limited" or "throttled")."""
    s = limits.limits
    parts = []
    if s.rate:
        parts.append(f"rate {s.rate} (now {s.current_rate:g}/s)" if s.current_rate is not None else f"rate {s.rate}")
    if s.concurrency:
        parts.append(f"concurrency {s.running}/{s.concurrency}")
    for name, t in limits.types.items():
        bits = [b for b in (t.rate, f"≤{t.concurrency}" if t.concurrency else None) if b]
        extra = f", {t.held} held" if t.held else ""
        extra += f", paused {t.paused_ms / 1000:.0f}s" if t.paused_ms else ""
        parts.append(f"{name} {' '.join(bits) or 'paused'}{extra}")
    text = "limits: " + "; ".join(parts)
    return text + ("  THROTTLED" if limits.throttled else "")


def _count(n: int, style: str = "") -> Text:
    return Text(f"{n:,}", style=style if n else "dim")


class QueueTable(LiveTable):
    DEFAULT_CSS = """
    QueueTable { height: auto; max-height: 7; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(COLUMNS, id=id)
        self.stats: dict[str, QueueStats] = {}
        self.served: frozenset[str] | None = None
        """Queues some live worker process serves (None: not known yet)."""

    @property
    def selected_queue(self) -> str | None:
        return self.cursor_key

    def select_queue(self, name: str) -> None:
        if name in self.row_keys:
            self.move_cursor(row=self.row_keys.index(name))

    def _cells(self, s: QueueStats) -> tuple[Text, ...]:
        c = theme_colors(self.app)
        unserved = self.served is not None and s.name not in self.served
        if s.paused:  # the status line under the tables also says when no worker serves it
            state = Text("paused", style=f"bold {c.get('warning', '')}")
        elif unserved:  # its jobs would wait forever: say so where the user looks
            state = Text("no worker", style=f"bold {c.get('error', '')}")
        elif s.limits is not None and s.limits.throttled:  # a limit holds work back (l shows it)
            state = Text("throttled", style=f"bold {c.get('warning', '')}")
        elif s.limits is not None and s.limits.any:  # limits set, nothing held back now
            state = Text("limited", style=c.get("accent", ""))
        else:
            state = Text("running", style="dim")
        return (
            Text(s.name, style="bold"),
            _count(s.ready, "bold"),
            _count(s.waiting),
            _count(s.active, f"bold {c.get('accent', '')}"),
            _count(s.dead, f"bold {c.get('error', '')}"),
            _count(s.processed),
            _count(s.failed, c.get("error", "")),
            state,
        )

    def update_stats(self, stats: Mapping[str, QueueStats], served: frozenset[str] | None = None) -> None:
        """``served``: the queues live workers serve; queues outside it are marked "no worker"."""
        self.stats = dict(stats)
        if served is not None:
            self.served = served
        self.set_rows([(name, self._cells(stats[name])) for name in sorted(stats)])

    def on_live_table_highlighted(self, event: LiveTable.Highlighted) -> None:
        event.stop()
        if event.key is not None:
            self.post_message(QueueSelected(event.key))

    def on_live_table_selected(self, event: LiveTable.Selected) -> None:
        event.stop()
