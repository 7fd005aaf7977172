"""``LimitsFormScreen``: set or clear a queue's cluster-wide rate and concurrency limit, live.

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
from textual.widgets import Button, Input, Label, Static

from ...core.engine import Tickr
from ...core.errors import InvalidRequest, TickrError
from ...core.limits import QueueLimits
from ..widgets.payload_form import field_label


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

    def compose(self) -> ComposeResult:
        live = self.current.limits if self.current is not None else None
        with Vertical(id="limits-dialog", classes="dialog"):
            yield Static(Text(f"Limits of queue {self.queue} (every process)", style="bold"), classes="dialog-title")
            yield Static(Text(describe(self.current), style="dim"), id="limits-now")
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
        try:
            if rate is None or concurrency is None:
                await tickr.clear_limits(queue, rate=rate is None, concurrency=concurrency is None)
            if rate is not None or concurrency is not None:
                await tickr.set_limits(queue, rate=rate, concurrency=concurrency)
        except InvalidRequest as exc:
            key = "concurrency" if "concurrency" in exc.message else "rate"
            self._error(key, exc.message)
            return
        except (TickrError, RedisError, OSError) as exc:
            self.query_one("#limits-form-error", Static).update(Text(str(getattr(exc, "message", exc))))
            return
        self.dismiss(f"rate {rate or 'none'}, concurrency {concurrency or 'none'}")
