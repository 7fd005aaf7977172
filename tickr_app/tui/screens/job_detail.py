"""``JobDetailScreen``: everything about one job — payload, attempts, error and traceback,
result, timestamps — refreshed every second while open. ``r`` ``c`` ``D`` act on this job."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static
from textual.worker import Worker

from ...core.engine import Tickr
from ...core.errors import TickrError
from ...core.job import Job
from ..format import ago, clock, countdown, duration, now_ms, pretty_json, progress_bar
from ..widgets.job_table import theme_colors
from ..widgets.key_bar import KeyBar

REFRESH_S = 1.0
STATUS_COLOR = {
    "succeeded": "success",
    "dead": "error",
    "active": "accent",
    "cancelled": "warning",
    "waiting": "primary",
}


class JobDetailScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q", "close", "Close")]

    def __init__(self, tickr: Tickr, job_id: str) -> None:
        super().__init__()
        self.tickr = tickr
        self.job_id = job_id
        self.job: Job | None = None
        self.missing = False
        self._poll: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="detail-dialog"):
            yield Static(id="detail-title")
            with VerticalScroll(id="detail-body"):
                yield Static(id="detail-meta")
                yield Static("Payload", classes="section-title")
                yield Static(id="detail-payload", classes="code")
                yield Static("Result", classes="section-title", id="result-title")
                yield Static(id="detail-result", classes="code")
                yield Static("Last error", classes="section-title", id="error-title")
                yield Static(id="detail-error", classes="code error-text")
                yield Static("Traceback", classes="section-title", id="traceback-title")
                yield Static(id="detail-traceback", classes="code")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#detail-title", Static).update(Text.assemble(("Job ", "bold"), (self.job_id, "bold")))
        self.reload()
        self.set_interval(REFRESH_S, self.reload)

    def action_close(self) -> None:
        self.dismiss(None)

    def reload(self) -> None:
        if self._poll is not None and self._poll.is_running:
            return
        self._poll = self._load()

    @work(exclusive=True, group="detail", exit_on_error=False)
    async def _load(self) -> None:
        try:
            job = await self.tickr.get(self.job_id)
        except TickrError as exc:
            self.query_one("#detail-meta", Static).update(Text(exc.message))
            return
        self.job = job
        self.missing = job is None
        self._render_job()

    def _render_job(self) -> None:
        c = theme_colors(self.app)
        job = self.job
        title = self.query_one("#detail-title", Static)
        if job is None:
            title.update(
                Text.assemble(("Job ", "bold"), (self.job_id, "bold"), ("  no longer exists", c.get("warning", "")))
            )
            self.query_one("#detail-meta", Static).update(
                Text("It was deleted, or its record expired after the retention period.", style="dim")
            )
            for ident in ("payload", "result", "error", "traceback"):
                self.query_one(f"#detail-{ident}", Static).update("")
            return
        now = now_ms()
        status_style = f"bold reverse {c.get(STATUS_COLOR.get(job.status, ''), '')}"
        title.update(
            Text.assemble((f" {job.status} ", status_style), "  ", (job.type, "bold"), "  ", (job.id, c.get("accent", "")))
        )

        meta = Table.grid(padding=(0, 2))
        meta.add_column(style="bold", no_wrap=True)
        meta.add_column()
        meta.add_row("Queue", Text(job.queue))
        if job.workflow_id:
            meta.add_row("Workflow", Text(f"{job.workflow_id}  node {job.node}"))
        meta.add_row("Attempts", Text(f"{job.attempts} of {job.max_attempts}"))
        if job.worker:
            meta.add_row("Worker", Text(job.worker))
        meta.add_row("Created", Text(f"{clock(job.created_at)}  ({ago(job.created_at, now)})"))
        due = clock(job.due_at)
        if job.status == "waiting":
            due += f"  ({countdown(job.due_at, now)})"
        meta.add_row("Due", Text(due))
        if job.started_at:
            meta.add_row("Started", Text(f"{clock(job.started_at)}  ({ago(job.started_at, now)})"))
        if job.finished_at:
            took = f", took {duration((job.finished_at - job.started_at) / 1000)}" if job.started_at else ""
            meta.add_row("Finished", Text(f"{clock(job.finished_at)}  ({ago(job.finished_at, now)}{took})"))
        if job.status == "active" or job.progress:
            progress = progress_bar(job.progress, c.get("success", ""), width=20)
            if job.progress_message:
                progress.append(f"  {job.progress_message}", style="dim")
            meta.add_row("Progress", progress)
        if job.timeout_ms:
            meta.add_row("Timeout", Text(duration(job.timeout_ms / 1000)))
        if job.idempotency_key:
            meta.add_row("Idempotency key", Text(job.idempotency_key))
        if job.cancel_requested:
            meta.add_row("Cancel", Text("requested", style=c.get("warning", "")))
        keys = Text("r", style="bold")
        keys.append(" retry  ", style="dim")
        keys.append("c", style="bold")
        keys.append(" cancel  ", style="dim")
        keys.append("D", style="bold")
        keys.append(" delete  ", style="dim")
        keys.append("esc", style="bold")
        keys.append(" close", style="dim")
        meta.add_row("Keys", keys)
        self.query_one("#detail-meta", Static).update(meta)

        self.query_one("#detail-payload", Static).update(Text(pretty_json(job.payload)))
        self._section("result", None if job.result is None else pretty_json(job.result))
        self._section("error", job.error)
        self._section("traceback", job.traceback)

    def _section(self, name: str, text: str | None) -> None:
        self.query_one(f"#{name}-title", Static).display = text is not None
        body = self.query_one(f"#detail-{name}", Static)
        body.display = text is not None
        body.update(Text(text or ""))
