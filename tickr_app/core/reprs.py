"""Rich displays for notebooks: ``_repr_html_`` and readable text for jobs, queue stats and
worker processes.

Jupyter shows ``Job``, ``QueueStats`` and ``WorkerInfo`` (and what ``Tickr.stats()``,
``Tickr.list_jobs()`` and ``Tickr.worker_processes()`` return) as small HTML tables, and IPython
consoles as a few readable lines. Everything that comes from a job or from Redis is escaped with
``html.escape``: payloads, results, errors and queue names are user data.

This module imports nothing else from Tickr at run time (the records import it lazily), and
neither IPython nor any web library: the hooks are plain methods that Jupyter looks up.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from .queue_policy import describe_weights

if TYPE_CHECKING:
    from .job import Job
    from .records import QueueStats, WorkerInfo

__all__ = [
    "JobList",
    "StatsReport",
    "WorkerList",
    "job_html",
    "job_text",
    "jobs_html",
    "jobs_text",
    "queue_stats_html",
    "queue_stats_text",
    "stats_html",
    "stats_text",
    "worker_html",
    "worker_text",
    "workers_html",
    "workers_text",
]

VALUE_LIMIT = 2_000
"""Characters of a payload, result or traceback shown before it is cut (the record keeps all)."""
INLINE_LIMIT = 80
"""Characters of a payload or result in a one-line (table or text) view."""

_STATUS_COLORS = {
    "waiting": "#8a6d00",
    "ready": "#1f5fbf",
    "active": "#b35900",
    "succeeded": "#1e7b34",
    "dead": "#b3261e",
    "cancelled": "#6b6b6b",
    "paused": "#8a6d00",
    "running": "#1e7b34",
}
_TABLE = 'style="border-collapse:collapse;font-size:0.9em;text-align:left"'
_CELL = 'style="padding:2px 8px;text-align:left;vertical-align:top"'
_HEAD = 'style="padding:2px 8px;text-align:left;vertical-align:top;font-weight:600"'
_PRE = 'style="margin:0;white-space:pre-wrap;word-break:break-word;text-align:left"'


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json(value: Any, *, indent: bool = False) -> str:
    """JSON text of a payload or result (anything orjson cannot encode is shown with str)."""
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_INDENT_2 if indent else 0)
    try:
        return orjson.dumps(value, option=option, default=str).decode()
    except (TypeError, orjson.JSONEncodeError):
        return repr(value)


def fmt_time(ms: int | None) -> str:
    """Epoch milliseconds as local time, e.g. ``2025-01-31 14:05:09.120``."""
    if ms is None:
        return "—"
    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def fmt_duration(ms: float | None) -> str:
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 120:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _ago(ms: int | None) -> str:
    if ms is None:
        return "—"
    return fmt_duration(max(0.0, time.time() * 1000 - ms)) + " ago"


def _badge(status: str) -> str:
    color = _STATUS_COLORS.get(status, "#6b6b6b")
    return (
        f'<span style="background:{color};color:#fff;border-radius:3px;padding:0 6px;'
        f'font-size:0.9em">{_e(status)}</span>'
    )


def _progress_bar(percent: float) -> str:
    pct = max(0.0, min(100.0, float(percent)))
    return f'<progress value="{pct:.1f}" max="100" style="width:8em;vertical-align:middle"></progress> {pct:.0f}%'


def _block(value: Any) -> str:
    """A payload or result for a card: one line when short, indented JSON when not."""
    compact = _json(value)
    return _pre(compact if len(compact) <= 100 else _json(value, indent=True))


def _pre(text: str) -> str:
    return f"<pre {_PRE}>{_e(_cut(text, VALUE_LIMIT))}</pre>"


def _rows(rows: Iterable[tuple[str, str]]) -> str:
    """Rows of a two-column card; values are HTML already escaped by the caller."""
    return "".join(f"<tr><th {_HEAD}>{_e(k)}</th><td {_CELL}>{v}</td></tr>" for k, v in rows)


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]], caption: str = "") -> str:
    cap = f'<caption style="text-align:left;font-weight:600;padding:2px 0">{_e(caption)}</caption>' if caption else ""
    head = "".join(f"<th {_HEAD}>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td {_CELL}>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table {_TABLE}>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _took(job: Job) -> float | None:
    if job.started_at is None:
        return None
    end = job.finished_at if job.finished_at is not None else time.time() * 1000
    return max(0, end - job.started_at)


# -- jobs -------------------------------------------------------------------------------------


def job_html(job: Job) -> str:
    rows: list[tuple[str, str]] = [
        ("status", _badge(job.status) + (" (cancel requested)" if job.cancel_requested else "")),
        ("type", f"<code>{_e(job.type)}</code>"),
        ("queue", _e(job.queue)),
        ("attempts", f"{job.attempts}/{job.max_attempts}"),
    ]
    if job.priority:
        rows.append(("priority", f"{job.priority:+d}"))
    if job.progress or job.progress_message or job.status == "active":
        rows.append(("progress", _progress_bar(job.progress) + (f" {_e(job.progress_message)}" if job.progress_message else "")))
    rows.append(("payload", _block(job.payload)))
    if job.result is not None:
        rows.append(("result", _block(job.result)))
    if job.error:
        rows.append(("error", f'<span style="color:#b3261e">{_e(_cut(job.error, VALUE_LIMIT))}</span>'))
    if job.traceback:
        rows.append(("traceback", f"<details><summary>show</summary>{_pre(job.traceback)}</details>"))
    rows.append(("created", _e(fmt_time(job.created_at))))
    if job.due_at is not None and job.status == "waiting":
        rows.append(("due", _e(fmt_time(job.due_at))))
    if job.started_at is not None:
        rows.append(("started", _e(fmt_time(job.started_at))))
    if job.finished_at is not None:
        rows.append(("finished", f"{_e(fmt_time(job.finished_at))} (took {_e(fmt_duration(_took(job)))})"))
    if job.worker:
        rows.append(("worker", _e(job.worker)))
    if job.idempotency_key:
        rows.append(("idempotency key", _e(job.idempotency_key)))
    caption = f'<caption style="text-align:left;padding:2px 0"><b>Job</b> <code>{_e(job.id)}</code></caption>'
    return f'<table class="tickr-job" {_TABLE}>{caption}<tbody>{_rows(rows)}</tbody></table>'


def job_text(job: Job) -> str:
    head = f"Job {job.id} {job.type} [{job.status}] queue {job.queue}, attempt {job.attempts}/{job.max_attempts}"
    lines = [head]
    if job.progress or job.progress_message or job.status == "active":
        lines.append(f"  progress {job.progress:.0f}% {job.progress_message}".rstrip())
    lines.append(f"  payload  {_cut(_json(job.payload), VALUE_LIMIT)}")
    if job.result is not None:
        lines.append(f"  result   {_cut(_json(job.result), VALUE_LIMIT)}")
    if job.error:
        lines.append(f"  error    {_cut(job.error, VALUE_LIMIT)}")
    times = f"  created  {fmt_time(job.created_at)}"
    if job.finished_at is not None:
        times += f", finished {fmt_time(job.finished_at)} (took {fmt_duration(_took(job))})"
    elif job.started_at is not None:
        times += f", started {fmt_time(job.started_at)}"
    elif job.status == "waiting" and job.due_at is not None:
        times += f", due {fmt_time(job.due_at)}"
    lines.append(times)
    return "\n".join(lines)


def _job_row(job: Job) -> list[str]:
    outcome = job.error if job.error else (_json(job.result) if job.result is not None else "")
    return [
        f"<code>{_e(job.id[:8])}</code>",
        _e(job.type),
        _badge(job.status),
        f"{job.attempts}/{job.max_attempts}",
        _progress_bar(job.progress),
        _e(_cut(_json(job.payload), INLINE_LIMIT)),
        _e(_cut(outcome, INLINE_LIMIT)),
        _e(fmt_time(job.created_at)),
    ]


def jobs_html(jobs: Iterable[Job]) -> str:
    jobs = list(jobs)
    if not jobs:
        return "<p><i>no jobs</i></p>"
    headers = ("id", "type", "status", "attempts", "progress", "payload", "result / error", "created")
    return _table(headers, (_job_row(j) for j in jobs), caption=f"{len(jobs)} job{'s' if len(jobs) != 1 else ''}")


def jobs_text(jobs: Iterable[Job]) -> str:
    jobs = list(jobs)
    if not jobs:
        return "no jobs"
    return "\n".join(
        f"{j.id[:8]}  {j.type:<12} {j.status:<9} {j.attempts}/{j.max_attempts}  {j.progress:3.0f}%  "
        f"{_cut(_json(j.payload), INLINE_LIMIT)}"
        for j in jobs
    )


# -- queue stats ------------------------------------------------------------------------------

_STATS_COLUMNS = ("ready", "waiting", "active", "dead", "processed", "succeeded", "failed", "retried", "cancelled")


def _stats_row(s: QueueStats) -> list[str]:
    return [
        f"<b>{_e(s.name)}</b>" + (" " + _badge("paused") if s.paused else ""),
        *(f"{getattr(s, c)}" for c in _STATS_COLUMNS),
    ]


def stats_html(stats: Iterable[QueueStats]) -> str:
    rows = [_stats_row(s) for s in stats]
    if not rows:
        return "<p><i>no queues</i></p>"
    return _table(("queue", *_STATS_COLUMNS), rows)


def queue_stats_html(stats: QueueStats) -> str:
    html_ = stats_html([stats])
    if stats.by_type:
        kinds = sorted({k for counts in stats.by_type.values() for k in counts})
        rows = [[f"<code>{_e(t)}</code>", *(_e(counts.get(k, 0)) for k in kinds)] for t, counts in sorted(stats.by_type.items())]
        html_ += _table(("type", *kinds), rows, caption="by job type")
    return html_


def stats_text(stats: Iterable[QueueStats]) -> str:
    stats = list(stats)
    if not stats:
        return "no queues"
    width = max(5, *(len(s.name) for s in stats))
    head = f"{'queue':<{width}}  " + " ".join(f"{c:>9}" for c in _STATS_COLUMNS)
    lines = [head]
    for s in stats:
        name = s.name + (" (paused)" if s.paused else "")
        lines.append(f"{name:<{width}}  " + " ".join(f"{getattr(s, c):>9}" for c in _STATS_COLUMNS))
    return "\n".join(lines)


def queue_stats_text(stats: QueueStats) -> str:
    return stats_text([stats])


# -- worker processes -------------------------------------------------------------------------


def _worker_row(w: WorkerInfo) -> list[str]:
    state = _badge("paused" if w.paused else "running")
    return [
        f"<code>{_e(w.id)}</code>",
        _e(w.host),
        _e(w.pid),
        _e(describe_weights(w.weights or dict.fromkeys(w.queues, 1), w.strict)),
        f"{w.busy}/{w.concurrency}",
        state,
        _e(_loop_text(w)),
        _e(_ago(w.started_at)),
        _e(_ago(w.heartbeat_at)),
    ]


def _loop_text(w: WorkerInfo) -> str:
    """The process's loop lag, and who held the loop in its last stall (issue #12)."""
    if w.loop is None:
        return "—"
    text = f"{w.loop.lag_ms:.0f} ms"
    if w.loop.offender:
        text += f" (last stall {w.loop.offender_ms:.0f} ms: {w.loop.offender[:80]})"
    return text


_WORKER_HEADERS = ("id", "host", "pid", "queues", "busy", "state", "loop lag", "started", "heartbeat")


def workers_html(workers: Iterable[WorkerInfo]) -> str:
    rows = [_worker_row(w) for w in workers]
    if not rows:
        return "<p><i>no live worker processes</i></p>"
    return _table(_WORKER_HEADERS, rows, caption=f"{len(rows)} worker process{'es' if len(rows) != 1 else ''}")


def worker_html(worker: WorkerInfo) -> str:
    return workers_html([worker])


def worker_text(w: WorkerInfo) -> str:
    return (
        f"worker {w.id} on {w.host} pid {w.pid}: {w.busy}/{w.concurrency} busy"
        f"{', paused' if w.paused else ''}, queues {describe_weights(w.weights or dict.fromkeys(w.queues, 1), w.strict) or '—'}, heartbeat {_ago(w.heartbeat_at)}"
        f"{f', loop lag {_loop_text(w)}' if w.loop is not None else ''}"
    )


def workers_text(workers: Iterable[WorkerInfo]) -> str:
    lines = [worker_text(w) for w in workers]
    return "\n".join(lines) if lines else "no live worker processes"


# -- containers the engine returns ------------------------------------------------------------


class StatsReport(dict[str, "QueueStats"]):
    """What ``Tickr.stats()`` returns: a plain ``dict`` of queue name to ``QueueStats`` that
    Jupyter shows as one table."""

    def _repr_html_(self) -> str:
        return stats_html(self.values())

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text("StatsReport(...)" if cycle else stats_text(self.values()))


class JobList(list["Job"]):
    """What ``Tickr.list_jobs()`` returns: a plain ``list`` of ``Job`` shown as one table."""

    def _repr_html_(self) -> str:
        return jobs_html(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text("JobList(...)" if cycle else jobs_text(self))


class WorkerList(list["WorkerInfo"]):
    """What ``Tickr.worker_processes()`` returns: a plain ``list`` of ``WorkerInfo`` shown as
    one table."""

    def _repr_html_(self) -> str:
        return workers_html(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text("WorkerList(...)" if cycle else workers_text(self))
