"""``LimitsFormScreen``: set or clear a queue's cluster-wide rate and concurrency limit, live, or
those of one job type in it (the Scope select).

An empty field means no limit (the live one is removed); saving goes through the facade's
``set_limits``/``clear_limits``, whose validation errors appear next to the fields. Every
process's next fetch obeys the new limits, without restarts.
"""

from __future__ import annotations

from typing import ClassVar

from redis.exceptions import RedisError
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from ...core.engine import Tickr
from ...core.errors import InvalidRequest, TickrError
from ...core.limits import LimitState, QueueLimits
from ..widgets.payload_form import field_label

QUEUE_SCOPE = "*queue*"
"""The Scope select's value for the queue itself (a job type is never named this)."""


def describe(limits: QueueLimits | None) -> str:
    """One line on what the queue's limits do now."""
    if limits is None:
        return "no limits"
    s = limits.limits
    parts = [f"rate {s.rate or '-'}", f"concurrency {s.concurrency or '-'} (running {s.running})"]
    if s.current_rate is not None:
        parts.append(f"now {s.current_rate:g}/s")
    if limits.types:
        parts.append(
            "types: " + ", ".join(f"{n} {t.rate or '-'}/{t.concurrency or '-'}" for n, t in limits.types.items())
        )
    if limits.throttled:
        parts.append("THROTTLED")
    return "  ·  ".join(parts)


class LimitsFormScreen(ModalScreen["str | None"]):
    """Dismisses with a one-line summary of what changed (None when cancelled)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Save")]
    DEFAULT_CSS = """
    LimitsFormScreen { align: center middle; }
    #limits-dialog { width: 80%; max-width: 90; height: auto; border: thick $primary; background: $surface; padding: 0 1; }
    #limits-buttons { height: auto; align-horizontal: right; }
    """

    def __init__(self, tickr: Tickr, queue: str, current: QueueLimits | None = None) -> None:
        super().__init__()
        self.tickr = tickr
        self.queue = queue
        self.current = current
        known = {t.name for t in tickr.registry if t.queue == queue}
        self.types = sorted(known | set(current.types if current is not None else ()))

    def _state(self, scope: str) -> LimitState | None:
        if self.current is None:
            return None
        return self.current.limits if scope == QUEUE_SCOPE else self.current.types.get(scope)

    @property
    def scope(self) -> str:
        return str(self.query_one("#limits-scope", Select).value)

    def compose(self) -> ComposeResult:
        live = self._state(QUEUE_SCOPE)
        with Vertical(id="limits-dialog", classes="dialog"):
            yield Static(Text(f"Limits of queue {self.queue} (every process)", style="bold"), classes="dialog-title")
            yield Static(Text(describe(self.current), style="dim"), id="limits-now")
            options = [("the whole queue", QUEUE_SCOPE)] + [(f"job type {t}", t) for t in self.types]
            scope = Select(options, value=QUEUE_SCOPE, allow_blank=False, id="limits-scope", compact=True)
            with Horizontal(classes="field"):
                yield Label(field_label("Scope", False), classes="field-label")
                with Vertical(classes="field-body"):
                    yield scope
            rate = Input(
                value=(live.live_rate or "") if live else "",
                placeholder="e.g. 100/s, 10/min, 5/30s — empty: no rate limit",
                id="limits-rate",
                compact=True,
            )
            yield from self._field("rate", "Rate (starts per period)", rate)
            conc = Input(
                value=str(live.live_concurrency) if live and live.live_concurrency else "",
                placeholder="e.g. 3 — empty: no concurrency limit",
                id="limits-concurrency",
                compact=True,
            )
            yield from self._field("concurrency", "Concurrency (running at once)", conc)
            yield Static("", id="limits-form-error")
            with Horizontal(id="limits-buttons"):
                yield Button("Save  ^s", id="limits-save", variant="primary")
                yield Button("Clear both", id="limits-clear")
                yield Button("Cancel  esc", id="limits-cancel")

    def _field(self, key: str, title: str, control: Input) -> ComposeResult:
        with Horizontal(classes="field"):
            yield Label(field_label(title, False), classes="field-label")
            with Vertical(classes="field-body"):
                yield control
                yield Static("", classes="field-error", id=f"limits-error-{key}")

    def on_mount(self) -> None:
        self.query_one("#limits-rate", Input).focus()

    @on(Select.Changed, "#limits-scope")
    def _scope_changed(self, event: Select.Changed) -> None:
        """Show the live limits of the scope picked (a job type's are scoped to this queue)."""
        event.stop()
        live = self._state(self.scope)
        self.query_one("#limits-rate", Input).value = (live.live_rate or "") if live else ""
        conc = live.live_concurrency if live else None
        self.query_one("#limits-concurrency", Input).value = str(conc) if conc else ""

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#limits-cancel")
    def _cancel_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    @on(Button.Pressed, "#limits-save")
    def _save_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_save()

    @on(Button.Pressed, "#limits-clear")
    def _clear_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.query_one("#limits-rate", Input).value = ""
        self.query_one("#limits-concurrency", Input).value = ""
        self.action_save()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def _error(self, key: str, message: str) -> None:
        target = self.query_one(f"#limits-error-{key}", Static)
        target.update(Text(message))
        target.add_class("-shown")

    def action_save(self) -> None:
        for key in ("rate", "concurrency"):
            self.query_one(f"#limits-error-{key}", Static).update("")
            self.query_one(f"#limits-error-{key}", Static).remove_class("-shown")
        rate = self.query_one("#limits-rate", Input).value.strip() or None
        text = self.query_one("#limits-concurrency", Input).value.strip()
        concurrency: int | None = None
        if text:
            try:
                concurrency = int(text)
            except ValueError:
                self._error("concurrency", "a whole number of jobs, e.g. 3")
                return
        self._save(rate, concurrency)

    @work(exclusive=True, group="save-limits", exit_on_error=False)
    async def _save(self, rate: str | None, concurrency: int | None) -> None:
        tickr, queue = self.tickr, self.queue
        job_type = None if self.scope == QUEUE_SCOPE else self.scope
        try:
            if rate is None or concurrency is None:
                await tickr.clear_limits(queue, job_type, rate=rate is None, concurrency=concurrency is None)
            if rate is not None or concurrency is not None:
                await tickr.set_limits(queue, job_type, rate=rate, concurrency=concurrency)
        except InvalidRequest as exc:
            key = "concurrency" if "concurrency" in exc.message else "rate"
            self._error(key, exc.message)
            return
        except (TickrError, RedisError, OSError) as exc:
            self.query_one("#limits-form-error", Static).update(Text(str(getattr(exc, "message", exc))))
            return
        where = "" if job_type is None else f"type {job_type}: "
        self.dismiss(f"{where}rate {rate or 'none'}, concurrency {concurrency or 'none'}")
