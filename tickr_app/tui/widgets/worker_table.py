"""``WorkerTable``: every live worker process on this Redis (this one first, marked ●); the
highlighted row is the process that ``p``, ``+`` and ``-`` command on the Workers pane."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

from ...core.broker import WorkerInfo
from ..format import ago, duration, progress_bar
from .job_table import theme_colors

COLUMNS = (
    ("process", "Process"),
    ("queues", "Queues"),
    ("slots", "Busy"),
    ("load", "Load"),
    ("state", "State"),
    ("heartbeat", "Seen"),
    ("up", "Up"),
)


class WorkerTable(DataTable[Text]):
    DEFAULT_CSS = """
    WorkerTable { height: auto; max-height: 12; }
    """

    def __init__(self, this_worker: str | None, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row")
        self.this_worker = this_worker
        self.processes: dict[str, WorkerInfo] = {}
        self._ids: list[str] = []
        self._rendered: dict[str, tuple[Text, ...]] = {}

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    @property
    def selected_worker(self) -> WorkerInfo | None:
        if not self._ids or not (0 <= self.cursor_row < len(self._ids)):
            return None
        return self.processes.get(self._ids[self.cursor_row])

    def _cells(self, w: WorkerInfo, now: int) -> tuple[Text, ...]:
        c = theme_colors(self.app)
        me = w.id == self.this_worker
        name = Text.assemble(("● " if me else "  ", c.get("accent", "")), (w.id, "bold" if me else ""))
        load = (w.busy / w.concurrency * 100) if w.concurrency else 0.0
        state = (
            Text("paused", style=f"bold {c.get('warning', '')}")
            if w.paused
            else Text("running", style=c.get("success", ""))
        )
        return (
            name,
            Text(",".join(w.queues), style="dim"),
            Text(f"{w.busy}/{w.concurrency}", justify="right"),
            progress_bar(load, c.get("accent", ""), width=6),
            state,
            Text(ago(w.heartbeat_at, now), style="dim"),
            Text(duration((now - w.started_at) / 1000) if w.started_at else ""),
        )

    def update_workers(self, workers: Sequence[WorkerInfo], now: int) -> None:
        ordered = sorted(workers, key=lambda w: (w.id != self.this_worker, w.host, w.pid, w.id))
        ids = [w.id for w in ordered]
        self.processes = {w.id: w for w in ordered}
        if ids != self._ids:
            selected = self.selected_worker.id if self.selected_worker else None
            index = self.cursor_row
            self.clear()
            self._rendered = {}
            for w in ordered:
                cells = self._cells(w, now)
                self._rendered[w.id] = cells
                self.add_row(*cells, key=w.id)
            self._ids = ids
            if ids:
                row = ids.index(selected) if selected in self.processes else min(max(index, 0), len(ids) - 1)
                self.move_cursor(row=row, animate=False)
            return
        keys = [k for k, _ in COLUMNS]
        for w in ordered:
            cells = self._cells(w, now)
            old = self._rendered.get(w.id, ())
            for i, cell in enumerate(cells):
                if i >= len(old) or old[i] != cell:
                    self.update_cell(w.id, keys[i], cell, update_width=True)
            self._rendered[w.id] = cells

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
