"""The built-in ``report`` job: a summary of every queue, written as Markdown or CSV.

It works in visible steps (each reports progress) so the demo shows a progress bar moving,
and writes ``TICKR_HOME/reports/<job id>.md`` (or ``.csv``) atomically.
"""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tickr_app.core.context import JobContext
from tickr_app.core.registry import Registry

from .files import write_atomically

JOB_NAME = "report"

COUNT_COLUMNS = (
    "ready",
    "waiting",
    "active",
    "dead",
    "paused",
    "enqueued",
    "processed",
    "succeeded",
    "failed",
    "retried",
    "cancelled",
)
TYPE_COLUMNS = ("enqueued", "succeeded", "failed", "retried", "dead")


class ReportPayload(BaseModel):
    """A queue summary report; ``steps`` x ``step_delay`` paces it so progress is visible."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(default="Tickr report", min_length=1, max_length=200)
    format: Literal["markdown", "csv"] = "markdown"
    steps: int = Field(default=5, ge=1, le=100)
    step_delay: float = Field(default=0.2, ge=0, le=5)


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def render_markdown(title: str, job_id: str, generated: datetime, stats: dict[str, dict[str, Any]]) -> str:
    lines = [
        f"# {_md_escape(title)}",
        "",
        f"Generated {generated.isoformat(timespec='seconds')} by job `{job_id}`.",
        "",
        "## Queues",
        "",
        "| queue | " + " | ".join(COUNT_COLUMNS) + " |",
        "|---|" + "---:|" * len(COUNT_COLUMNS),
    ]
    totals = dict.fromkeys(COUNT_COLUMNS, 0)
    for name in sorted(stats):
        s = stats[name]
        lines.append(f"| {_md_escape(name)} | " + " | ".join(_cell(s.get(c, 0)) for c in COUNT_COLUMNS) + " |")
        for c in COUNT_COLUMNS:
            if c != "paused":
                totals[c] += int(s.get(c, 0) or 0)
    lines.append(
        "| **total** | "
        + " | ".join("" if c == "paused" else f"**{totals[c]}**" for c in COUNT_COLUMNS)
        + " |"
    )
    by_type = [(q, t, counts) for q in sorted(stats) for t, counts in sorted((stats[q].get("by_type") or {}).items())]
    if by_type:
        lines += [
            "",
            "## Job types",
            "",
            "| queue | type | " + " | ".join(TYPE_COLUMNS) + " |",
            "|---|---|" + "---:|" * len(TYPE_COLUMNS),
        ]
        for q, t, counts in by_type:
            lines.append(
                f"| {_md_escape(q)} | {_md_escape(t)} | " + " | ".join(str(counts.get(c, 0)) for c in TYPE_COLUMNS) + " |"
            )
    return "\n".join(lines) + "\n"


def render_csv(stats: dict[str, dict[str, Any]]) -> str:
    """One row per queue (type ``*``), then one per queue and job type."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["queue", "type", *COUNT_COLUMNS])
    for name in sorted(stats):
        s = stats[name]
        writer.writerow([name, "*", *(int(s.get(c, 0) or 0) for c in COUNT_COLUMNS)])
    for name in sorted(stats):
        for t, counts in sorted((stats[name].get("by_type") or {}).items()):
            writer.writerow([name, t, *(counts.get(c, "") if c in TYPE_COLUMNS else "" for c in COUNT_COLUMNS)])
    return out.getvalue()


async def generate_report(payload: ReportPayload, ctx: JobContext) -> dict[str, Any]:
    """Summarise every queue's counts into a Markdown or CSV file under TICKR_HOME/reports."""
    suffix = "md" if payload.format == "markdown" else "csv"
    path = ctx.home / "reports" / f"{ctx.id}.{suffix}"
    stats: dict[str, dict[str, Any]] = {}
    for step in range(1, payload.steps + 1):
        if payload.step_delay:
            await asyncio.sleep(payload.step_delay)
        if step == 1:
            stats = await ctx.queue_stats()
            message = f"read {len(stats)} queues"
        else:
            message = f"step {step} of {payload.steps}"
        if step == payload.steps:
            if payload.format == "markdown":
                text = render_markdown(payload.title, ctx.id, datetime.now(timezone.utc), stats)
            else:
                text = render_csv(stats)
            await asyncio.to_thread(write_atomically, path, text.encode("utf-8"))
            message = f"wrote {path.name}"
        await ctx.progress(step * 100 / payload.steps, message)
    return {"path": str(path), "queues": len(stats), "format": payload.format}


def register(registry: Registry) -> None:
    """Add the ``report`` job type to ``registry`` (idempotent)."""
    if JOB_NAME in registry:
        return
    # steps x step_delay can reach 500 s; the timeout leaves room for that.
    registry.job(JOB_NAME, timeout=600, max_attempts=3, backoff_base=1.0)(generate_report)
