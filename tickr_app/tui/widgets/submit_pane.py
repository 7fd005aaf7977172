"""``SubmitPane``: pick a job type, fill in the form its payload model generates, submit.

Validation is the engine's (the payload model through ``Tickr.submit``): its field errors are
shown next to the fields and nothing is enqueued. The new job's id is shown (selectable, and a
button copies it), and the jobs submitted here keep their live status on the right.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Static
from textual.worker import Worker

from ...core.engine import Tickr
from ...core.errors import InvalidPayload, InvalidRequest, TickrError
from ...core.job import Job
from ...core.priority import PRIORITY_RULE
from ..format import countdown, now_ms
from ..messages import JobsChanged, OpenJob
from ..schema_form import collect
from .job_table import theme_colors
from .payload_form import PayloadForm, field_label
from .recent_jobs import RecentJobs

RESULT_EVERY_S = 0.5
"""How often the "Last submitted" box is redrawn (its countdown, its job's status)."""


def now_status(job: Job, now: int, colors: dict[str, str]) -> Text:
    """Where the job is now, in words: "waiting, runs in 12s", "running", "succeeded"…"""
    if job.status == "waiting":
        return Text(f"waiting, runs {countdown(job.due_at, now)}")
    words = {"ready": "ready, not started yet", "active": "running now"}
    color = {"succeeded": "success", "dead": "error", "active": "accent", "cancelled": "warning"}.get(job.status)
    return Text(words.get(job.status, job.status), style=f"bold {colors.get(color, '')}" if color else "")


class SubmitPane(Horizontal):
    BINDINGS = [Binding("escape", "leave_form", "Leave form", show=False)]

    def __init__(self, tickr: Tickr, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tickr = tickr
        self.last_job: Job | None = None
        self.form_type: str | None = None
        """The job type whose fields the form shows (set once they are mounted)."""
        self._follow: Worker[None] | None = None

    @property
    def type_names(self) -> list[str]:
        return sorted(t.name for t in self.tickr.registry)

    def compose(self) -> ComposeResult:
        names = self.type_names
        form = PayloadForm(id="payload-form")
        if names:
            form.set_schema(self.tickr.registry.get(names[0]).json_schema())
        with VerticalScroll(id="submit-form"):
            with Horizontal(classes="field"):
                yield Label(field_label("Job type", True), classes="field-label")
                with Vertical(classes="field-body"):
                    if names:
                        yield Select(
                            [(n, n) for n in names], value=names[0], allow_blank=False, id="job-type", compact=True
                        )
                    else:
                        yield Static(
                            Text("No job types registered: start tickr with --jobs MODULE.", style="bold"),
                            id="job-type-missing",
                        )
                    yield Static(id="type-info", classes="field-help")
            yield Static("Payload", classes="section-title")
            yield form
            yield Static("Options", classes="section-title")
            with Horizontal(classes="field"):
                yield Label("Delay (s)", classes="field-label")
                with Vertical(classes="field-body"):
                    yield Input(placeholder="0: run now", type="number", valid_empty=True, id="delay", compact=True)
                    yield Static("", classes="field-error", id="error-delay")
            with Horizontal(classes="field"):
                yield Label("Max attempts", classes="field-label")
                with Vertical(classes="field-body"):
                    yield Input(type="integer", valid_empty=True, id="max-attempts", compact=True)
                    yield Static("", classes="field-error", id="error-max-attempts")
            with Horizontal(classes="field"):
                yield Label("Priority", classes="field-label")
                with Vertical(classes="field-body"):
                    yield Input(type="integer", valid_empty=True, id="priority", compact=True)
                    yield Static("", classes="field-error", id="error-priority")
            with Horizontal(id="submit-actions"):
                yield Button("Submit  ^s", id="submit-button", variant="primary", disabled=not names)
            yield Static("", id="form-error")
        with Vertical(id="submit-side"):
            yield Static("Last submitted", classes="section-title")
            with Vertical(id="submit-result"):
                yield Static(Text("Nothing submitted yet.", style="dim"), id="new-job")
                with Horizontal(id="result-buttons"):
                    yield Button("Copy id", id="copy-id", disabled=True, compact=True)
                    yield Button("Details", id="open-job", disabled=True, compact=True)
            yield Static("Submitted from here", classes="section-title")
            yield RecentJobs(self.tickr, id="recent-jobs")

    def on_mount(self) -> None:
        self.form_type = self.job_type
        self._describe_type()
        self.set_interval(RESULT_EVERY_S, self._follow_last_job)

    # -- job type --------------------------------------------------------------------------

    @property
    def job_type(self) -> str | None:
        try:
            select = self.query_one("#job-type", Select)
        except Exception:
            return None
        return None if select.is_blank() else str(select.value)

    def _describe_type(self) -> None:
        name = self.job_type
        if name is None:
            return
        jt = self.tickr.registry.get(name)
        parts = [f"queue {jt.queue}", f"max attempts {jt.max_attempts}"]
        if jt.timeout:
            parts.append(f"timeout {jt.timeout:g} s")
        info = Text(" · ".join(parts), style="dim")
        if jt.description:
            info = Text.assemble(Text(jt.description.splitlines()[0]), "\n", info)
        self.query_one("#type-info", Static).update(info)
        self.query_one("#max-attempts", Input).placeholder = f"{jt.max_attempts} (the type's default)"
        self.query_one("#priority", Input).placeholder = f"{jt.priority} (the type's default; higher runs first)"

    @on(Select.Changed, "#job-type")
    async def _type_changed(self, event: Select.Changed) -> None:
        event.stop()
        name = self.job_type
        if name is None:
            return
        form = self.query_one(PayloadForm)
        form.set_schema(self.tickr.registry.get(name).json_schema())
        await form.recompose()
        # The options were chosen for the previous type: start the new one from its defaults.
        for ident in ("#delay", "#max-attempts", "#priority"):
            self.query_one(ident, Input).value = ""
        self.form_type = name
        self._clear_errors()
        self._describe_type()

    # -- submitting ------------------------------------------------------------------------

    def action_leave_form(self) -> None:
        """Escape: leave the inputs so the pane keys (1 2 3, q …) work again."""
        self.screen.set_focus(None)

    @on(Button.Pressed, "#submit-button")
    def _submit_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.submit()

    def _clear_errors(self) -> None:
        self.query_one(PayloadForm).clear_errors()
        for ident in ("#error-delay", "#error-max-attempts", "#error-priority", "#form-error"):
            self.query_one(ident, Static).update("")
            self.query_one(ident, Static).remove_class("-shown")
        for ident in ("#delay", "#max-attempts", "#priority"):
            self.query_one(ident, Input).remove_class("-invalid")

    def _field_error(self, which: str, message: str) -> None:
        error = self.query_one(f"#error-{which}", Static)
        error.update(Text(message))
        error.add_class("-shown")
        self.query_one(f"#{which}", Input).add_class("-invalid")

    def _form_error(self, message: str) -> None:
        error = self.query_one("#form-error", Static)
        error.update(Text(message, style=theme_colors(self.app).get("error", "")))
        error.add_class("-shown")

    def submit(self) -> None:
        """Validate what can only be checked here, then submit in a worker (never blocks)."""
        name = self.job_type
        if name is None:
            self._form_error("No job type to submit.")
            return
        self._clear_errors()
        form = self.query_one(PayloadForm)
        collected = collect(form.specs, form.raw_values())
        delay: float | None = None
        max_attempts: int | None = None
        ok = True
        delay_text = self.query_one("#delay", Input).value.strip()
        if delay_text:
            try:
                delay = float(delay_text)
            except ValueError:
                self._field_error("delay", "a number of seconds, e.g. 30 or 0.5")
                ok = False
        attempts_text = self.query_one("#max-attempts", Input).value.strip()
        if attempts_text:
            try:
                max_attempts = int(attempts_text)
            except ValueError:
                self._field_error("max-attempts", "a whole number, e.g. 3")
                ok = False
        priority: int | None = None
        priority_text = self.query_one("#priority", Input).value.strip()
        if priority_text:
            try:
                priority = int(priority_text)
            except ValueError:
                self._field_error("priority", PRIORITY_RULE)
                ok = False
        if collected.errors:
            form.show_errors({"field": k, "message": v} for k, v in collected.errors.items())
            ok = False
        if not ok:
            self._form_error("Fix the fields marked in red.")
            return
        self._send(name, collected.payload, delay, max_attempts, priority)

    @work(exclusive=True, group="submit", exit_on_error=False)
    async def _send(
        self, name: str, payload: dict[str, Any], delay: float | None, max_attempts: int | None, priority: int | None = None
    ) -> None:
        button = self.query_one("#submit-button", Button)
        button.disabled = True
        try:
            job = await self.tickr.submit(name, payload, delay=delay, max_attempts=max_attempts, priority=priority)
        except InvalidPayload as exc:
            form = self.query_one(PayloadForm)
            unmatched = form.show_errors(exc.details or [])
            self._form_error("; ".join([exc.message, *unmatched]))
            form.focus_first_error()
            return
        except InvalidRequest as exc:
            if "delay" in exc.message or "run_at" in exc.message:
                self._field_error("delay", exc.message)
            elif "max_attempts" in exc.message:
                self._field_error("max-attempts", exc.message)
            elif "priority" in exc.message:
                self._field_error("priority", exc.message)
            else:
                self._form_error(exc.message)
            return
        except TickrError as exc:
            self._form_error(exc.message)
            return
        finally:
            button.disabled = False
        self._show_result(job)
        self.query_one(RecentJobs).add_job(job)
        self.post_message(JobsChanged(job.queue))

    def _show_result(self, job: Job) -> None:
        self.last_job = job
        c = theme_colors(self.app)
        self.query_one("#new-job", Static).update(
            Text.assemble(
                ("✓ ", f"bold {c.get('success', '')}"),
                (job.type, "bold"),
                f" job submitted to queue {job.queue}: ",
                now_status(job, now_ms(), c),
                "\n",
                (job.id, f"bold {c.get('accent', '')}"),
            )
        )
        for ident in ("#copy-id", "#open-job"):
            self.query_one(ident, Button).disabled = False

    def _follow_last_job(self) -> None:
        """Keep the box true: a countdown that counts, and its job's status as it changes."""
        if self.last_job is None or not self.is_on_screen:
            return
        if self._follow is None or not self._follow.is_running:
            self._follow = self._reload_last_job(self.last_job)

    @work(exclusive=True, group="submit-follow", exit_on_error=False)
    async def _reload_last_job(self, job: Job) -> None:
        try:
            fresh = await self.tickr.get(job.id)
        except TickrError:  # RedisUnavailable included
            fresh = None  # the countdown still moves; the status catches up when Redis is back
        if self.last_job is not None and self.last_job.id == job.id:
            self._show_result(fresh or self.last_job)

    @on(Button.Pressed, "#copy-id")
    def _copy(self, event: Button.Pressed) -> None:
        event.stop()
        if self.last_job is not None:
            self.app.copy_to_clipboard(self.last_job.id)
            self.notify(self.last_job.id, title="Job id copied")

    @on(Button.Pressed, "#open-job")
    def _open(self, event: Button.Pressed) -> None:
        event.stop()
        if self.last_job is not None:
            self.post_message(OpenJob(self.last_job.id))
