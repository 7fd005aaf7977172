"""``WorkersPane``: every worker process on this Redis, and this process's pool.

Its own timer refreshes the local pool (no Redis) 5×/s and polls the worker registry 2×/s in
an exclusive worker, only while the pane is on screen.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import replace
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.widgets import Static
from textual.worker import Worker

from ...core.engine import Tickr
from ...core.errors import TickrError
from ...core.job import Job
from ...core.records import WorkerInfo
from ..format import now_ms
from .job_table import theme_colors
from .live_table import LiveTable
from .pool_panel import PoolPanel
from .worker_table import WorkerTable

log = logging.getLogger("tickr.tui")

TICK_S = 0.2
REGISTRY_EVERY_S = 0.5
PENDING_S = 3.0
"""How long a command sent to a remote process is shown before its heartbeat confirms it."""
STALE_AFTER_S = 3.0
"""No new heartbeat for this long (three missed at the default 1 s) shows a process as stale;
it leaves the list only when its record expires (``core.presence.REGISTRY_TTL_BEATS``)."""


class WorkersPane(Vertical):
    def __init__(self, tickr: Tickr, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tickr = tickr
        self._poll: Worker[None] | None = None
        self._polled_at = 0.0
        self._pending: dict[str, tuple[float, dict[str, Any]]] = {}
        self._beats: dict[str, tuple[int, float]] = {}
        """Per process: its last heartbeat_at, and when (local monotonic time) it last changed.
        Staleness is measured on this process's clock, so clock skew between hosts is harmless."""
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="workers-title", classes="pane-title")
        yield WorkerTable(self.tickr.worker_id if self.tickr.has_pool else None, id="worker-table")
        yield PoolPanel(self.tickr, id="pool-panel")

    def on_mount(self) -> None:
        self._render_title()
        self.set_interval(TICK_S, self._tick)

    # -- what the keys act on --------------------------------------------------------------

    @property
    def table(self) -> WorkerTable:
        return self.query_one(WorkerTable)

    @property
    def selected_worker(self) -> WorkerInfo | None:
        info = self.table.selected_worker
        return self.effective(info) if info is not None else None

    def effective(self, info: WorkerInfo) -> WorkerInfo:
        """The process as last seen, with commands sent to it but not yet confirmed."""
        pending = self._pending.get(info.id)
        if pending is None or time.monotonic() > pending[0]:
            return info
        return replace(info, **pending[1])

    def expect(self, worker_id: str, **changes: Any) -> None:
        _deadline, before = self._pending.get(worker_id, (0.0, {}))
        self._pending[worker_id] = (time.monotonic() + PENDING_S, {**before, **changes})
        self.refresh_now()

    @property
    def missing(self) -> str | None:
        """The process the user chose, if it has gone from the registry."""
        return self.table.missing if self.table.chosen is not None else None

    def _render_title(self) -> None:
        target = self.selected_worker
        if self.missing is not None:
            what = f"{self.missing} — gone; select a process"
        elif target is None or target.id == self.tickr.worker_id:
            what = "this pool" if self.tickr.has_pool else "— select a process"
        else:
            what = f"{target.id} (remote)"
        stale = len(self.table.stale)
        n = len(self.table.processes) - stale
        counts = f"  {n} live" + (f", {stale} stale" if stale else "") + " on this Redis   "
        title = Text.assemble(("Worker processes", "bold"), counts, ("p + -", "bold"), f" act on: {what}")
        if self.error:
            title.append(f"   {self.error}", style=theme_colors(self.app).get("error", ""))
        title.no_wrap, title.overflow = True, "ellipsis"
        self.query_one("#workers-title", Static).update(title, layout=False)  # a fixed height

    # -- refreshing ------------------------------------------------------------------------

    def refresh_now(self) -> None:
        self._polled_at = 0.0
        self._tick()

    def _tick(self) -> None:
        if not self.is_on_screen:
            return
        self.query_one(PoolPanel).refresh_pool()
        self._render_title()
        if time.monotonic() - self._polled_at < REGISTRY_EVERY_S:
            return
        if self._poll is not None and self._poll.is_running:
            return  # the previous poll is still waiting on Redis: coalesce
        self._polled_at = time.monotonic()
        self._poll = self._poll_registry()

    @work(exclusive=True, group="poll-workers", exit_on_error=False)
    async def _poll_registry(self) -> None:
        tickr = self.tickr
        try:
            workers = await tickr.worker_processes()
            progress: dict[str, Job] = {}
            state = tickr.pool_state()
            if state is not None:
                by_queue: dict[str, list[str]] = defaultdict(list)
                for r in state.running:
                    by_queue[r.queue].append(r.job_id)
                for queue, ids in by_queue.items():
                    for job in await tickr.get_many(queue, ids):
                        progress[job.id] = job
            self.error = None
            self._apply(workers, progress)
        except TickrError as exc:
            self.error = exc.message[:120]
            self._render_title()
        except NoMatches:
            return  # the app is closing: the pane's children are already gone
        except Exception as exc:  # a bug must not stop the dashboard: log it, show it, carry on
            log.exception("refreshing the workers failed")
            self.error = f"refresh failed: {type(exc).__name__}: {exc}"[:120]
            self._render_title()

    def _apply(self, workers: list[WorkerInfo], progress: dict[str, Job]) -> None:
        now = time.monotonic()
        confirmed = []
        for w in workers:
            pending = self._pending.get(w.id)
            if pending and (now > pending[0] or all(getattr(w, k) == v for k, v in pending[1].items())):
                confirmed.append(w.id)
        for wid in confirmed:
            self._pending.pop(wid, None)
        self.table.update_workers([self.effective(w) for w in workers], now_ms(), self._stale(workers, now))
        self.query_one(PoolPanel).set_progress(progress)
        self._render_title()

    def _stale(self, workers: list[WorkerInfo], now: float) -> dict[str, float]:
        """Seconds without a heartbeat, for the processes past ``STALE_AFTER_S``."""
        wall = now_ms()
        beats: dict[str, tuple[int, float]] = {}
        for w in workers:
            last = self._beats.get(w.id)
            if last is not None and last[0] == w.heartbeat_at:
                beats[w.id] = last
            elif last is not None:
                beats[w.id] = (w.heartbeat_at, now)
            else:  # first sight: trust its age by the wall clock, never a negative one
                beats[w.id] = (w.heartbeat_at, now - max(wall - w.heartbeat_at, 0) / 1000)
        self._beats = beats
        ages = {wid: now - changed for wid, (_at, changed) in beats.items()}
        return {wid: age for wid, age in ages.items() if age > STALE_AFTER_S}

    def on_live_table_highlighted(self, event: LiveTable.Highlighted) -> None:
        self._render_title()
