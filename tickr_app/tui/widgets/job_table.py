"""``JobTable``: one status's jobs of one queue, bounded, updated in place.

Rows are keyed by job id, so the cursor follows its job while the queue moves; time columns
(countdowns, elapsed, "… ago") are re-rendered locally on every tick without asking Redis.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from ...core.job import Job
from ..format import (
    ago,
    countdown,
    duration,
    now_ms,
    one_line,
    plain,
    progress_bar,
    short_id,
)
from ..messages import OpenJob
from .live_table import Cell, Column, LiveTable

TableStatus = Literal["ready", "waiting", "active", "dead", "finished"]
LIMIT = 50
"""Rows per table: a dashboard shows the head of each list, not all of it."""

Colors = dict[str, str]
Render = Callable[[Job, int, Colors], Cell]


def _attempts(job: Job, _now: int, _c: Colors) -> Cell:
    return plain(f"{job.attempts}/{job.max_attempts}")


def _type(job: Job, _now: int, _c: Colors) -> Cell:
    return plain(job.type, "bold")


def _id(job: Job, _now: int, c: Colors) -> Cell:
    return plain(short_id(job.id), c.get("accent", ""))


def _waiting_why(job: Job, _now: int, c: Colors) -> Cell:
    if job.attempts > 0:
        return plain(f"retry after: {one_line(job.error, 50)}", c.get("warning", ""))
    return plain("delayed", "dim")


def _elapsed(job: Job, now: int, _c: Colors) -> Cell:
    return plain(duration((now - job.started_at) / 1000) if job.started_at else "")


def _progress(job: Job, _now: int, c: Colors) -> Cell:
    return progress_bar(job.progress, c.get("success", ""))


def _finished_status(job: Job, _now: int, c: Colors) -> Cell:
    color = c.get("success", "") if job.status == "succeeded" else c.get("warning", "")
    return plain(job.status, color)


def _took(job: Job, _now: int, _c: Colors) -> Cell:
    if job.started_at and job.finished_at:
        return plain(duration((job.finished_at - job.started_at) / 1000))
    return plain("")


COLUMNS: dict[TableStatus, Sequence[tuple[str, str, Render]]] = {
    "ready": (
        ("id", "Job", _id),
        ("type", "Type", _type),
        ("attempts", "Attempts", _attempts),
        ("age", "Ready since", lambda j, now, c: plain(ago(j.due_at or j.created_at, now))),
        ("payload", "Payload", lambda j, now, c: plain(one_line(j.payload, 60), "dim")),
    ),
    "waiting": (
        ("id", "Job", _id),
        ("type", "Type", _type),
        ("due", "Runs", lambda j, now, c: plain(countdown(j.due_at, now), "bold")),
        ("attempts", "Attempts", _attempts),
        ("why", "Why", _waiting_why),
    ),
    "active": (
        ("id", "Job", _id),
        ("type", "Type", _type),
        ("worker", "Worker", lambda j, now, c: plain(j.worker or "")),
        ("attempts", "Attempt", _attempts),
        ("elapsed", "Elapsed", _elapsed),
        ("progress", "Progress", _progress),
        ("message", "Message", lambda j, now, c: plain(one_line(j.progress_message, 40), "dim")),
    ),
    "dead": (
        ("id", "Job", _id),
        ("type", "Type", _type),
        ("attempts", "Attempts", _attempts),
        ("died", "Died", lambda j, now, c: plain(ago(j.finished_at, now))),
        ("error", "Last error", lambda j, now, c: plain(one_line(j.error, 70), c.get("error", ""))),
    ),
    "finished": (
        ("id", "Job", _id),
        ("type", "Type", _type),
        ("status", "Status", _finished_status),
        ("took", "Took", _took),
        ("finished", "Finished", lambda j, now, c: plain(ago(j.finished_at, now))),
        ("result", "Result", lambda j, now, c: plain(one_line(j.result, 60), "dim")),
    ),
}


def theme_colors(app: Any) -> Colors:
    """The current theme's semantic colors, so rows stay readable in light and dark themes."""
    theme = app.current_theme
    return {
        name: value
        for name in ("success", "error", "warning", "accent", "primary")
        if (value := getattr(theme, name, None))
    }


class JobTable(LiveTable):
    """Jobs in one status; Enter opens the one under the cursor."""

    DEFAULT_CSS = """
    JobTable { height: 1fr; }
    """

    def __init__(self, status: TableStatus, *, id: str | None = None) -> None:
        columns = [Column(key, label) for key, label, _render in COLUMNS[status]]
        super().__init__(columns, zebra_stripes=True, id=id)
        self.status: TableStatus = status
        self._jobs: dict[str, Job] = {}
        self.type_filter: str | None = None
        """Show only jobs of this type (None: every type)."""

    @property
    def jobs(self) -> list[Job]:
        return [self._jobs[key] for key in self.row_keys]

    @property
    def selected_job_id(self) -> str | None:
        return self.cursor_key

    def _cells(self, job: Job, now: int, colors: Colors) -> tuple[Cell, ...]:
        return tuple(render(job, now, colors) for _key, _label, render in COLUMNS[self.status])

    def set_jobs(self, jobs: Sequence[Job], now: int | None = None) -> None:
        """Show these jobs (in this order, the first ``LIMIT`` of the type filter's); the
        cursor follows its job."""
        kept = [j for j in jobs if self.type_filter is None or j.type == self.type_filter]
        self._jobs = {j.id: j for j in kept[:LIMIT]}
        self.tick(now)

    def tick(self, now: int | None = None) -> None:
        """Re-render time columns (countdowns, elapsed, progress) without asking Redis: only
        rows whose text changed are drawn again."""
        now = now_ms() if now is None else now
        colors = theme_colors(self.app)
        self.set_rows([(job_id, self._cells(job, now, colors)) for job_id, job in self._jobs.items()])

    def on_live_table_selected(self, event: LiveTable.Selected) -> None:
        event.stop()
        self.post_message(OpenJob(event.key))
