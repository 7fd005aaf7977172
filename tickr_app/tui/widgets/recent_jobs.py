"""``RecentJobs``: the jobs submitted from this TUI, with their live status (polled 2×/s while
on screen); Enter opens one."""

from __future__ import annotations

from collections import defaultdict

from rich.text import Text
from textual import work
from textual.worker import Worker

from ...core.engine import Tickr
from ...core.errors import TickrError
from ...core.job import Job
from ..format import ago, now_ms, short_id
from ..messages import OpenJob
from .job_table import theme_colors
from .live_table import Column, LiveTable

KEEP = 20
POLL_S = 0.5
COLUMNS = (Column("id", "Job"), Column("type", "Type"), Column("status", "Status"), Column("submitted", "Submitted"))
STATUS_COLOR = {"succeeded": "success", "dead": "error", "active": "accent", "cancelled": "warning"}


class RecentJobs(LiveTable):
    DEFAULT_CSS = """
    RecentJobs { height: 1fr; }
    """

    def __init__(self, tickr: Tickr, *, id: str | None = None) -> None:
        super().__init__(COLUMNS, zebra_stripes=True, id=id)
        self.tickr = tickr
        self.jobs: list[Job] = []
        self._poll: Worker[None] | None = None

    def on_mount(self) -> None:
        self.set_interval(POLL_S, self._tick)

    def add_job(self, job: Job) -> None:
        self.jobs = [job, *[j for j in self.jobs if j.id != job.id]][:KEEP]
        self._redraw()

    def _cells(self, job: Job, now: int) -> tuple[Text, ...]:
        c = theme_colors(self.app)
        return (
            Text(short_id(job.id), style=c.get("accent", "")),
            Text(job.type, style="bold"),
            Text(job.status, style=c.get(STATUS_COLOR.get(job.status, ""), "")),
            Text(ago(job.created_at, now), style="dim"),
        )

    def _redraw(self) -> None:
        now = now_ms()
        self.set_rows([(job.id, self._cells(job, now)) for job in self.jobs])

    def _tick(self) -> None:
        if not self.jobs or not self.is_on_screen:
            return
        if self._poll is not None and self._poll.is_running:
            return
        self._poll = self._refresh_statuses()

    @work(exclusive=True, group="poll-recent", exit_on_error=False)
    async def _refresh_statuses(self) -> None:
        if not self.tickr.running:
            return
        by_queue: dict[str, list[str]] = defaultdict(list)
        for job in self.jobs:
            by_queue[job.queue].append(job.id)
        fresh: dict[str, Job] = {}
        try:
            for queue, ids in by_queue.items():
                for job in await self.tickr.get_many(queue, ids):
                    fresh[job.id] = job
        except TickrError:
            return
        self.jobs = [fresh.get(job.id, job) for job in self.jobs]
        self._redraw()

    def on_live_table_selected(self, event: LiveTable.Selected) -> None:
        event.stop()
        self.post_message(OpenJob(event.key))
