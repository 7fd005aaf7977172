"""``QueuesPane``: live counts of every queue, throughput, and the selected queue's jobs.

A timer on this pane ticks 5×/s; while the pane is on screen each tick starts one poll (never
two at once: a slow Redis coalesces ticks instead of queueing them) that reads cheap counts
(``stats()``) and the queue's event stream. The visible job table is listed again only when
events say something changed (or every couple of seconds as a safety net); countdowns and
elapsed times tick locally in between.
"""

from __future__ import annotations

import logging
import time
from typing import cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widgets import ContentSwitcher, Static
from textual.worker import Worker

from ...core.engine import Tickr
from ...core.errors import TickrError
from ...core.job import Job
from ...core.keys import DEFAULT_QUEUE
from ...core.records import QueueStats, event_count
from ..format import now_ms
from ..messages import LimitsFormRequested, QueueSelected
from .job_table import LIMIT, JobTable, TableStatus, theme_colors
from .queue_table import QueueTable, limits_line
from .tab_strip import TabStrip
from .throughput import BUCKET_S, BUCKETS, Throughput

log = logging.getLogger("tickr.tui")

TICK_S = 0.2
"""Refresh period: 5 refreshes a second."""
RELIST_EVERY_S = 2.0
"""List the visible table again at least this often, even without events."""
RELIST_ON_EVENTS_S = 0.5
"""Under a flood of events, rebuild the visible table at most twice a second: the counts still
update five times a second, and a table rebuild is the UI's most expensive step (it starved
key presses while 1,000+ jobs/s ran through the same loop)."""
SERVED_EVERY_S = 2.0
"""How often the worker registry is read to mark queues no live worker serves."""
EVENT_BATCH = 500
HISTORY_EVENTS = 5000
"""Events per queue read once at start to draw the throughput of the last minutes."""
PROCESSED_EVENTS = frozenset({"succeeded", "dead", "retry", "recovered"})
"""Events that each count one processed attempt (the ``processed`` counter)."""

TABLES: tuple[tuple[TableStatus, str], ...] = (
    ("ready", "Ready"),
    ("waiting", "Waiting"),
    ("active", "Active"),
    ("dead", "Dead"),
    ("finished", "Finished"),
)


class QueuesPane(Vertical):
    BINDINGS = [
        Binding("left_square_bracket", "cycle_table(-1)", "Prev table", key_display="[", show=False),
        Binding("right_square_bracket", "cycle_table(1)", "Next table", key_display="]", show=False),
        Binding(
            "l", "edit_limits", "Limits", show=False, tooltip="Set or clear the selected queue's rate and concurrency limit"
        ),
    ]

    def __init__(self, tickr: Tickr, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tickr = tickr
        self.queue = DEFAULT_QUEUE
        """The queue whose jobs the tables show."""
        self.stats: dict[str, QueueStats] = {}
        self._poll: Worker[None] | None = None
        self._force = True
        self._cursor: tuple[str, str] | None = None  # (queue, last event id)
        self._shown: tuple[str, str] | None = None  # (queue, status) the visible table holds
        self._listed_at = 0.0
        self._events = 0
        self._picked_default = False
        self._history: list[float] | None = None  # ages (s) of processed events, read once
        self._served_at = 0.0
        self.served: frozenset[str] | None = None
        """Queues that some live worker process serves (from the worker registry)."""
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="queues-top"):
            yield QueueTable(id="queue-table")
            yield Throughput(id="throughput")
        yield TabStrip(TABLES, active="active", id="job-tabs")
        with ContentSwitcher(id="job-tables", initial="table-active"):
            for status, _title in TABLES:
                yield JobTable(status, id=f"table-{status}")
        yield Static(id="queues-status")

    def on_mount(self) -> None:
        self.set_interval(TICK_S, self._tick)

    # -- selection -------------------------------------------------------------------------

    @property
    def visible_status(self) -> TableStatus:
        return cast(TableStatus, self.query_one("#job-tabs", TabStrip).active)

    @property
    def visible_table(self) -> JobTable:
        return self.query_one(f"#table-{self.visible_status}", JobTable)

    @property
    def selected_job_id(self) -> str | None:
        return self.visible_table.selected_job_id

    def show_table(self, status: TableStatus, *, focus: bool = True) -> None:
        self.query_one("#job-tabs", TabStrip).active = status
        self.query_one("#job-tables", ContentSwitcher).current = f"table-{status}"
        if focus:
            self.query_one(f"#table-{status}", JobTable).focus()
        self.refresh_now()

    def action_cycle_table(self, step: int) -> None:
        order = [s for s, _ in TABLES]
        self.show_table(order[(order.index(self.visible_status) + step) % len(order)])

    @on(TabStrip.Selected, "#job-tabs")
    def _tab_clicked(self, event: TabStrip.Selected) -> None:
        event.stop()
        self.show_table(cast(TableStatus, event.tab))

    def on_queue_selected(self, message: QueueSelected) -> None:
        message.stop()
        if message.queue != self.queue:
            self.queue = message.queue
            for table in self.query(JobTable):
                table.set_jobs([])
            self.refresh_now()

    def action_edit_limits(self) -> None:
        queue = self.queue

        def saved(summary: str | None) -> None:
            if summary is not None:
                self.notify(f"Queue {queue}: {summary}.", title="Limits")
                self.refresh_now()

        self.post_message(LimitsFormRequested(queue, saved))

    # -- refreshing ------------------------------------------------------------------------

    def refresh_now(self) -> None:
        """List again on the next poll, and poll now if none is running."""
        self._force = True
        self._tick()

    def _tick(self) -> None:
        if not self.is_on_screen:
            return  # hidden pane: no Redis traffic
        if self._poll is not None and self._poll.is_running:
            self.visible_table.tick()
            return  # a poll is still out: coalesce
        self._poll = self._poll_redis()

    async def _read_events(self, queue: str) -> set[str]:
        tickr = self.tickr
        if self._cursor is None or self._cursor[0] != queue:
            self._cursor = (queue, await tickr.last_event_id(queue))
            return {"*"}
        events = await tickr.read_events(queue, self._cursor[1], count=EVENT_BATCH)
        if not events:
            return set()
        self._events += len(events)
        last = events[-1][0]
        if len(events) == EVENT_BATCH:  # a flood: skip to the newest, everything is stale anyway
            last = await tickr.last_event_id(queue)
        self._cursor = (queue, last)
        return {fields.get("e", "") for _eid, fields in events}

    async def _read_history(self, queues: list[str]) -> list[float]:
        """Ages of the processed attempts of the last minutes, from the event streams (their
        ids are Redis timestamps), so the throughput chart starts with its history."""
        tickr = self.tickr
        now = await tickr.redis_time_ms()
        since = f"{now - int(BUCKET_S * BUCKETS * 1000)}-0"
        ages: list[float] = []
        for queue in queues:
            for eid, fields in await tickr.read_events(queue, since, count=HISTORY_EVENTS):
                if fields.get("e") in PROCESSED_EVENTS:
                    # A batch event (e.g. one ack call) stands for several jobs.
                    ages.extend([(now - int(eid.split("-", 1)[0])) / 1000] * event_count(fields))
        return ages

    async def _list(self, queue: str, status: TableStatus) -> list[Job]:
        job_type = self.type_filter  # Tickr filters by type (among the first 10,000 of a status)
        if status != "finished":
            return await self.tickr.list_jobs(queue, status, LIMIT, job_type=job_type)
        done = await self.tickr.list_jobs(queue, "succeeded", LIMIT, job_type=job_type)
        done += await self.tickr.list_jobs(queue, "cancelled", LIMIT, job_type=job_type)
        done.sort(key=lambda j: j.finished_at or 0, reverse=True)
        return done[:LIMIT]

    # -- job type filter and lookup --------------------------------------------------------

    @property
    def type_filter(self) -> str | None:
        return self.visible_table.type_filter

    def set_type_filter(self, job_type: str | None) -> None:
        """Show only this type's jobs in every job table (None: all types)."""
        for table in self.query(JobTable):
            table.type_filter = job_type
            table.set_jobs([])
        self.refresh_now()

    def shown_job_ids(self) -> list[str]:
        """Ids of the jobs the tables hold, to resolve a short id typed by the user."""
        return [job.id for table in self.query(JobTable) for job in table.jobs]

    @work(exclusive=True, group="poll-queues", exit_on_error=False)
    async def _poll_redis(self) -> None:
        queue, status = self.queue, self.visible_status
        try:
            stats = await self.tickr.stats()
            if time.monotonic() - self._served_at > SERVED_EVERY_S:
                workers = await self.tickr.worker_processes()
                self.served = frozenset(q for w in workers for q in w.queues)
                self._served_at = time.monotonic()
            if self._history is None:
                self._history = await self._read_history(sorted(stats))
            kinds = await self._read_events(queue)
            if status != "active":
                kinds.discard("progress")
            jobs: list[Job] | None = None
            since_listed = time.monotonic() - self._listed_at
            if (
                self._force
                or self._shown != (queue, status)
                or (kinds and since_listed > RELIST_ON_EVENTS_S)
                or since_listed > RELIST_EVERY_S
            ):
                self._force = False
                jobs = await self._list(queue, status)
                self._listed_at = time.monotonic()
            self.error = None
            self._apply(stats, queue, status, jobs)
        except TickrError as exc:
            self.error = exc.message[:160]
            self._render_status()
            return
        except NoMatches:
            return  # the app is closing: the pane's children are already gone
        except Exception as exc:  # a bug must not stop the dashboard: log it, show it, carry on
            log.exception("refreshing the queues failed")
            self.error = f"refresh failed: {type(exc).__name__}: {exc}"[:160]
            self._render_status()

    def _apply(self, stats: dict[str, QueueStats], queue: str, status: TableStatus, jobs: list[Job] | None) -> None:
        self.stats = stats
        table = self.query_one(QueueTable)
        table.update_stats(stats, self.served)
        if not self._picked_default and stats:
            self._picked_default = True
            table.select_queue(queue if queue in stats else sorted(stats)[0])
        throughput = self.query_one(Throughput)
        if self._history:
            throughput.seed(self._history)
            self._history = []
        throughput.record(sum(s.processed for s in stats.values()))
        if queue == self.queue and status == self.visible_status:
            visible = self.visible_table
            if jobs is not None:
                visible.set_jobs(jobs, now_ms())
                self._shown = (queue, status)
            else:
                visible.tick()
        self._render_status()

    def _render_status(self) -> None:
        c = theme_colors(self.app)
        line = Text()
        if self.error:
            line.append("● ", style=c.get("error", ""))
            line.append(self.error, style=c.get("error", ""))
        else:
            current = self.stats.get(self.queue)
            line.append("● live", style=c.get("success", ""))
            line.append(f" · queue {self.queue}")
            if current is not None and current.paused:
                line.append("  PAUSED for every process (P resumes)", style=f"bold {c.get('warning', '')}")
            if current is not None and current.limits is not None:
                style = f"bold {c.get('warning', '')}" if current.limits.throttled else "dim"
                line.append(f"  {limits_line(current.limits)} (l changes)", style=style)
            if self.served is not None and self.queue not in self.served:
                line.append("  no live worker serves it: its jobs wait", style=f"bold {c.get('error', '')}")
            if self.type_filter is not None:
                line.append(f"  type {self.type_filter} only (f changes)", style=f"bold {c.get('accent', '')}")
            shown = len(self.visible_table.jobs)
            line.append(f"  ·  {shown} shown (max {LIMIT})  ·  {self._events:,} events seen", style="dim")
            line.append("  ·  [ ] switch table  ·  enter opens a job", style="dim")
        self.query_one("#queues-status", Static).update(line, layout=False)  # one line, always
