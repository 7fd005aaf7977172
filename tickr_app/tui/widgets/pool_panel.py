"""``PoolPanel``: this process's own pool — concurrency, busy slots, paused — and what each busy
slot is running. Read from the pool object itself (no Redis), plus job progress when given."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from ...core.job import Job
from ...core.pool import RunningJob, WorkerPool
from ..format import duration, progress_bar, short_id
from .job_table import theme_colors

SLOT_COLUMNS = (
    ("slot", "Slot"),
    ("job", "Job"),
    ("type", "Type"),
    ("queue", "Queue"),
    ("attempt", "Attempt"),
    ("elapsed", "Elapsed"),
    ("progress", "Progress"),
)


class PoolPanel(Vertical):
    DEFAULT_CSS = """
    PoolPanel { height: 1fr; }
    PoolPanel > DataTable { height: 1fr; }
    """

    def __init__(self, pool: WorkerPool | None, worker_id: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pool = pool
        self.worker_id = worker_id
        self._progress: dict[str, Job] = {}
        self._slot_ids: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static(id="pool-summary")
        if self.pool is not None:
            table: DataTable[Text] = DataTable(id="slot-table", cursor_type="row", zebra_stripes=True)
            for key, label in SLOT_COLUMNS:
                table.add_column(label, key=key)
            yield table

    def set_progress(self, jobs: Mapping[str, Job]) -> None:
        self._progress = dict(jobs)

    def refresh_pool(self) -> None:
        summary = self.query_one("#pool-summary", Static)
        c = theme_colors(self.app)
        if self.pool is None:
            summary.update(
                Text.assemble(
                    ("Attached", "bold"),
                    " — this TUI runs no pool of its own. Select a worker process above: ",
                    ("p", "bold"), " pauses/resumes it, ", ("+ -", "bold"), " scale it; ",
                    ("P", "bold"), " pauses the queue for every process.",
                )
            )
            return
        pool = self.pool
        state = (
            Text("paused", style=f"bold {c.get('warning', '')}")
            if pool.paused
            else Text("running", style=f"bold {c.get('success', '')}")
        )
        load = pool.busy / pool.concurrency * 100 if pool.concurrency else 0.0
        summary.update(
            Text.assemble(
                ("This pool  ", "bold"),
                (self.worker_id, "dim"),
                "   ",
                state,
                f"   {pool.busy} busy / {pool.concurrency} slots   ",
                progress_bar(load, c.get("accent", ""), width=12),
                f"   in flight {pool.in_flight}",
            )
        )
        table = self.query_one("#slot-table", DataTable)
        running = sorted(pool.running(), key=lambda r: r.slot)
        ids = [r.job_id for r in running]
        if ids != self._slot_ids:
            table.clear()
            for r in running:
                table.add_row(*self._cells(r, c), key=r.job_id)
            self._slot_ids = ids
        else:
            keys = [k for k, _ in SLOT_COLUMNS]
            for r in running:
                for key, cell in zip(keys, self._cells(r, c)):
                    if key in ("elapsed", "progress"):
                        table.update_cell(r.job_id, key, cell, update_width=True)

    def _cells(self, r: RunningJob, c: dict[str, str]) -> tuple[Text, ...]:
        job = self._progress.get(r.job_id)
        pct = job.progress if job is not None else 0.0
        return (
            Text(str(r.slot), justify="right"),
            Text(short_id(r.job_id), style=c.get("accent", "")),
            Text(r.type, style="bold"),
            Text(r.queue),
            Text(str(r.attempt), justify="right"),
            Text(duration(r.elapsed)),
            progress_bar(pct, c.get("success", "")),
        )
