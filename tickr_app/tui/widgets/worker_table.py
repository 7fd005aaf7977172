"""``WorkerTable``: every worker process on this Redis (this one first, marked ●); the process
the user highlighted is the one that ``p``, ``+`` and ``-`` command on the Workers pane. A
process whose heartbeats stopped is shown dimmed, "stale Ns", until its record expires."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from ...core.queue_policy import describe_weights
from ...core.records import WorkerInfo
from ..format import ago, duration, lag_ms, pool_state, progress_bar
from .job_table import theme_colors
from .live_table import Column, LiveTable

COLUMNS = (
    Column("process", "Process"),
    Column("queues", "Queues"),
    Column("slots", "Busy", "right"),
    Column("load", "Load"),
    Column("state", "State"),
    Column("lag", "Loop lag", "right"),
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
        self.stale: dict[str, float] = {}
        """Seconds since each stale process's last heartbeat (absent: fresh)."""
        self.chosen: str | None = None
        """The process the user put the cursor on (None: this process, the default). Keyed by
        id, so rows coming, going or reordering never change what the keys act on."""
        self._updating = False

    @property
    def target_id(self) -> str | None:
        return self.chosen if self.chosen is not None else self.this_worker

    @property
    def selected_worker(self) -> WorkerInfo | None:
        """The process ``p``, ``+`` and ``-`` act on; None if it is gone (see ``missing``)."""
        target = self.target_id
        return None if target is None else self.processes.get(target)

    @property
    def missing(self) -> str | None:
        """The chosen process, if it has left the registry: the keys refuse rather than act on
        whichever row the cursor fell onto."""
        target = self.target_id
        return target if target is not None and target not in self.processes else None

    def watch_cursor_row(self, old: int, new: int) -> None:
        super().watch_cursor_row(old, new)
        if not self._updating and self.cursor_key is not None:
            self.chosen = self.cursor_key  # the user moved it (keys or a click)

    def _cells(self, w: WorkerInfo, now: int) -> tuple[Text, ...]:
        c = theme_colors(self.app)
        me = w.id == self.this_worker
        stale = self.stale.get(w.id)
        name = Text.assemble(("● " if me else "  ", c.get("accent", "")), (w.id, "bold" if me else ""))
        load = (w.busy / w.concurrency * 100) if w.concurrency else 0.0
        state = pool_state(w.paused, w.concurrency, c)
        if stale is not None:
            state = Text(f"stale {duration(stale)}", style=f"bold {c.get('error', '')}")
        cells = (
            name,
            Text(queues_and_weights(w), style="dim"),
            Text(f"{w.busy}/{w.concurrency}"),
            progress_bar(load, c.get("accent", ""), width=6),
            state,
            _lag(w, c),
            Text(ago(w.heartbeat_at, now), style="dim"),
            Text(duration((now - w.started_at) / 1000) if w.started_at else ""),
        )
        if stale is not None:  # dimmed: no heartbeat for a while, and it goes if none comes
            for cell in cells:
                cell.stylize("dim")
        return cells

    def update_workers(self, workers: Sequence[WorkerInfo], now: int, stale: dict[str, float] | None = None) -> None:
        ordered = sorted(workers, key=lambda w: (w.id != self.this_worker, w.host, w.pid, w.id))
        self.processes = {w.id: w for w in ordered}
        self.stale = dict(stale or {})
        self._updating = True
        try:
            self.set_rows([(w.id, self._cells(w, now)) for w in ordered])
            if self.chosen is None and self.this_worker is None and ordered:
                self.chosen = self.cursor_key  # attached: the first process shown stays the target
            target = self.target_id
            if target in self.processes and self.cursor_key != target:
                self.cursor_row = self.row_keys.index(target)
        finally:
            self._updating = False

    def on_live_table_selected(self, event: LiveTable.Selected) -> None:
        event.stop()


STALL_MS = 100.0


def queues_and_weights(w: WorkerInfo) -> str:
    """``high:5 default:3`` (weighted), ``strict high>default``, or plain names."""
    return describe_weights(w.weights or dict.fromkeys(w.queues, 1), w.strict)


def _lag(w: WorkerInfo, colors: dict[str, str]) -> Text:
    """The process's loop lag in its last heartbeat period; warning colour from 100 ms."""
    if w.loop is None:
        return Text("—", style="dim")
    style = f"bold {colors.get('warning', '')}" if w.loop.lag_ms >= STALL_MS else ""
    return Text(lag_ms(w.loop.lag_ms), style=style)
