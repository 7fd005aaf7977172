"""``WorkerTable``: every live worker process on this Redis (this one first, marked ●); the
highlighted row is the process that ``p``, ``+`` and ``-`` command on the Workers pane."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from ...core.broker import WorkerInfo
from ..format import ago, duration, pool_state, progress_bar
from .job_table import theme_colors
from .live_table import Column, LiveTable

COLUMNS = (
    Column("process", "Process"),
    Column("queues", "Queues"),
    Column("slots", "Busy", "right"),
    Column("load", "Load"),
    Column("state", "State"),
    Column("heartbeat", "Seen"),
    Column("up", "Up"),
)


class WorkerTable(LiveTable):
    DEFAULT_CSS = """
    WorkerTable { height: auto; max-height: 12; }
    """

    def __init__(self, this_worker: str | None, *, id: str | None = None) -> None:
        super().__init__(COLUMNS, id=id)
        self.this_worker = this_worker
        self.processes: dict[str, WorkerInfo] = {}

    @property
    def selected_worker(self) -> WorkerInfo | None:
        key = self.cursor_key
        return None if key is None else self.processes.get(key)

    def _cells(self, w: WorkerInfo, now: int) -> tuple[Text, ...]:
        c = theme_colors(self.app)
        me = w.id == self.this_worker
        name = Text.assemble(("● " if me else "  ", c.get("accent", "")), (w.id, "bold" if me else ""))
        load = (w.busy / w.concurrency * 100) if w.concurrency else 0.0
        state = pool_state(w.paused, w.concurrency, c)
        return (
            name,
            Text(",".join(w.queues), style="dim"),
            Text(f"{w.busy}/{w.concurrency}"),
            progress_bar(load, c.get("accent", ""), width=6),
            state,
            Text(ago(w.heartbeat_at, now), style="dim"),
            Text(duration((now - w.started_at) / 1000) if w.started_at else ""),
        )

    def update_workers(self, workers: Sequence[WorkerInfo], now: int) -> None:
        ordered = sorted(workers, key=lambda w: (w.id != self.this_worker, w.host, w.pid, w.id))
        self.processes = {w.id: w for w in ordered}
        self.set_rows([(w.id, self._cells(w, now)) for w in ordered])

    def on_live_table_selected(self, event: LiveTable.Selected) -> None:
        event.stop()
