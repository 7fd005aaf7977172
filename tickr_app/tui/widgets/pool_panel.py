"""``PoolPanel``: this process's own pool — concurrency, busy slots, paused — and what each busy
slot is running. Read from ``Tickr.pool_state()`` (local, no Redis), plus job progress when given."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from ...core.engine import Tickr
from ...core.job import Job
from ...core.records import RunningJob
from ..format import duration, pool_state, progress_bar, short_id
from .job_table import theme_colors
from .live_table import Column, LiveTable

SLOT_COLUMNS = (
    Column("slot", "Slot", "right"),
    Column("job", "Job"),
    Column("type", "Type"),
    Column("queue", "Queue"),
    Column("attempt", "Attempt", "right"),
    Column("elapsed", "Elapsed"),
    Column("progress", "Progress"),
)


class PoolPanel(Vertical):
    DEFAULT_CSS = """
    PoolPanel { height: 1fr; }
    PoolPanel > LiveTable { height: 1fr; }
    """

    def __init__(self, tickr: Tickr, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tickr = tickr
        self.worker_id = tickr.worker_id
        self._progress: dict[str, Job] = {}

    def compose(self) -> ComposeResult:
        yield Static(id="pool-summary")
        if self.tickr.has_pool:
            yield LiveTable(SLOT_COLUMNS, zebra_stripes=True, id="slot-table")

    def set_progress(self, jobs: Mapping[str, Job]) -> None:
        self._progress = dict(jobs)

    def refresh_pool(self) -> None:
        summary = self.query_one("#pool-summary", Static)
        c = theme_colors(self.app)
        pool = self.tickr.pool_state()
        if pool is None:
            if summary.has_class("-attached"):
                return  # says the same every tick
            summary.add_class("-attached")
            summary.update(
                Text.assemble(
                    ("Attached", "bold"),
                    " — this TUI runs no pool of its own. Select a worker process above: ",
                    ("p", "bold"), " pauses/resumes it, ", ("+ -", "bold"), " scale it; ",
                    ("P", "bold"), " pauses the queue for every process.",
                )
            )
            return
        state = pool_state(pool.paused, pool.concurrency, c)
        load = pool.busy / pool.concurrency * 100 if pool.concurrency else 0.0
        line = Text.assemble(
            ("This pool  ", "bold"),
            (self.worker_id, "dim"),
            "   ",
            state,
            f"   {pool.busy} busy / {pool.concurrency} slots   ",
            progress_bar(load, c.get("accent", ""), width=12),
            f"   in flight {pool.in_flight}",
        )
        line.no_wrap, line.overflow = True, "ellipsis"
        summary.update(line, layout=False)  # one line of a fixed height: 5 updates a second need no layout
        running = sorted(pool.running, key=lambda r: r.slot)
        self.query_one("#slot-table", LiveTable).set_rows([(r.job_id, self._cells(r, c)) for r in running])

    def _cells(self, r: RunningJob, c: dict[str, str]) -> tuple[Text, ...]:
        job = self._progress.get(r.job_id)
        pct = job.progress if job is not None else 0.0
        return (
            Text(str(r.slot)),
            Text(short_id(r.job_id), style=c.get("accent", "")),
            Text(r.type, style="bold"),
            Text(r.queue),
            Text(str(r.attempt)),
            Text(duration(r.elapsed)),
            progress_bar(pct, c.get("success", "")),
        )
