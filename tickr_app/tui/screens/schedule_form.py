"""``ScheduleFormScreen``: add (or update) a schedule: an id, a job type and its payload form,
and one field for a cron expression or an interval that previews the next five runs as you type.

The field reads as cron when it has spaces or starts with ``@`` (``0 9 * * MON-FRI``,
``@daily``), else as an interval (``30s``, ``5m``, ``1h30m``). Saving goes through
``Tickr.schedule`` (an upsert): its validation errors appear next to the fields.
"""

from __future__ import annotations

import time
from typing import Any

from redis.exceptions import RedisError
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from ...core.engine import Tickr
from ...core.errors import InvalidPayload, InvalidRequest, TickrError
from ...core.slots import make_timing, parse_interval, upcoming
from ..format import clock
from ..schema_form import collect
from ..widgets.payload_form import PayloadForm, field_label

PREVIEW_RUNS = 5


def read_timing(text: str, tz: str | None) -> tuple[str | None, float | None]:
    """(cron, every seconds) from the one field; raises InvalidRequest naming the field."""
    text = text.strip()
    if not text:
        raise InvalidRequest(
            "cron: give a cron expression or an interval", details=[{"field": "cron", "message": "required"}]
        )
    if " " in text or text.startswith("@"):
        return text, None
    return None, parse_interval(text) / 1000


def preview(text: str, tz: str | None, now_ms: int | None = None) -> list[int]:
    """The next runs of what the field says (pure; raises InvalidRequest when it is invalid)."""
    cron, every = read_timing(text, tz)
    timing = make_timing(cron=cron, every_ms=None if every is None else round(every * 1000), tz=tz or None)
    now = int(time.time() * 1000) if now_ms is None else now_ms
    return upcoming(timing, now, PREVIEW_RUNS)


class ScheduleFormScreen(ModalScreen["str | None"]):
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Save")]
    DEFAULT_CSS = """
    ScheduleFormScreen { align: center middle; }
    #schedule-dialog {
        width: 90%; max-width: 110; height: 90%; border: thick $primary; background: $surface; padding: 0 1;
    }
    #schedule-form { height: 1fr; }
    #schedule-preview { height: auto; min-height: 6; padding: 0 1; }
    #schedule-buttons { height: auto; align-horizontal: right; }
    """

    def __init__(self, tickr: Tickr) -> None:
        super().__init__()
        self.tickr = tickr
        self.names = sorted(t.name for t in tickr.registry)

    def compose(self) -> ComposeResult:
        form = PayloadForm(id="schedule-payload")
        if self.names:
            form.set_schema(self.tickr.registry.get(self.names[0]).json_schema())
        with Vertical(id="schedule-dialog", classes="dialog"):
            yield Static(Text("Add or update a schedule", style="bold"), classes="dialog-title")
            with VerticalScroll(id="schedule-form"):
                yield from self._field(
                    "id", "Schedule id", Input(placeholder="e.g. nightly-report", id="sched-id", compact=True)
                )
                with Horizontal(classes="field"):
                    yield Label(field_label("Job type", True), classes="field-label")
                    with Vertical(classes="field-body"):
                        if self.names:
                            yield Select([(n, n) for n in self.names], value=self.names[0], allow_blank=False,
                                         id="sched-type", compact=True)  # fmt: skip
                        else:
                            yield Static("No job types registered.", id="sched-type-missing")
                when = Input(
                    placeholder="0 9 * * MON-FRI  ·  @daily  ·  30s  ·  5m  ·  1h30m", id="sched-when", compact=True
                )
                yield from self._field("cron", "Cron or interval", when)
                tz = Input(placeholder="UTC (IANA name, e.g. Europe/Berlin)", id="sched-tz", compact=True)
                yield from self._field("tz", "Time zone", tz, required=False)
                yield Static(
                    Text("next runs: type a cron expression or an interval", style="dim"), id="schedule-preview"
                )
                yield Static("Payload", classes="section-title")
                yield form
            yield Static("", id="schedule-form-error")
            with Horizontal(id="schedule-buttons"):
                yield Button("Save  ^s", id="schedule-save", variant="primary", disabled=not self.names)
                yield Button("Cancel  esc", id="schedule-cancel")

    def _field(self, key: str, title: str, control: Input, *, required: bool = True) -> ComposeResult:
        with Horizontal(classes="field"):
            yield Label(field_label(title, required), classes="field-label")
            with Vertical(classes="field-body"):
                yield control
                yield Static("", classes="field-error", id=f"sched-error-{key}")

    def on_mount(self) -> None:
        self.query_one("#sched-id", Input).focus()

    # -- live preview ----------------------------------------------------------------------

    @on(Input.Changed, "#sched-when")
    @on(Input.Changed, "#sched-tz")
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self.update_preview()

    def update_preview(self) -> None:
        text = self.query_one("#sched-when", Input).value
        tz = self.query_one("#sched-tz", Input).value.strip() or None
        target = self.query_one("#schedule-preview", Static)
        if not text.strip():
            target.update(Text("next runs: type a cron expression or an interval", style="dim"))
            return
        try:
            runs = preview(text, tz)
        except InvalidRequest as exc:
            target.update(Text(f"✗ {exc.message}", style="bold red"))
            return
        except Exception as exc:  # whatever is typed, the form must never crash the app
            target.update(Text(f"✗ cannot read this: {type(exc).__name__}", style="bold red"))
            return
        if not runs:
            target.update(Text("no run ahead", style="dim"))
            return
        target.update(Text("next runs:\n" + "\n".join(f"  {clock(ms)[:19]}" for ms in runs)))

    # -- job type --------------------------------------------------------------------------

    @on(Select.Changed, "#sched-type")
    async def _type_changed(self, event: Select.Changed) -> None:
        event.stop()
        form = self.query_one(PayloadForm)
        form.set_schema(self.tickr.registry.get(str(event.value)).json_schema())
        await form.recompose()

    # -- saving ----------------------------------------------------------------------------

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#schedule-cancel")
    def _cancel_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    @on(Button.Pressed, "#schedule-save")
    def _save_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_save()

    def _clear_errors(self) -> None:
        for key in ("id", "cron", "tz"):
            self.query_one(f"#sched-error-{key}", Static).update("")
            self.query_one(f"#sched-error-{key}", Static).remove_class("-shown")
        self.query_one("#schedule-form-error", Static).update("")
        self.query_one(PayloadForm).clear_errors()

    def _error(self, key: str, message: str) -> None:
        target = self.query_one(f"#sched-error-{key}", Static)
        target.update(Text(message))
        target.add_class("-shown")

    def action_save(self) -> None:
        if not self.names:
            return
        self._clear_errors()
        form = self.query_one(PayloadForm)
        collected = collect(form.specs, form.raw_values())
        schedule_id = self.query_one("#sched-id", Input).value.strip()
        tz = self.query_one("#sched-tz", Input).value.strip() or None
        ok = True
        if not schedule_id:
            self._error("id", "required")
            ok = False
        try:
            cron, every = read_timing(self.query_one("#sched-when", Input).value, tz)
        except InvalidRequest as exc:
            self._error("cron", exc.message)
            ok = False
        if collected.errors:
            form.show_errors({"field": k, "message": v} for k, v in collected.errors.items())
            ok = False
        if ok:
            select = self.query_one("#sched-type", Select)
            self._save(schedule_id, str(select.value), collected.payload, cron, every, tz)

    @work(exclusive=True, group="save-schedule", exit_on_error=False)
    async def _save(
        self,
        schedule_id: str,
        job_type: str,
        payload: dict[str, Any],
        cron: str | None,
        every: float | None,
        tz: str | None,
    ) -> None:
        try:
            await self.tickr.schedule(schedule_id, job_type, payload, cron=cron, every=every, tz=tz)
        except InvalidPayload as exc:
            unmatched = self.query_one(PayloadForm).show_errors(exc.details or [])
            self.query_one("#schedule-form-error", Static).update(Text("; ".join([exc.message, *unmatched])))
            return
        except InvalidRequest as exc:
            fields = [d.get("field") for d in exc.details or [] if isinstance(d, dict)]
            key = {"every": "cron", "start": "cron", "end": "cron"}.get(fields[0], fields[0]) if fields else None
            if key in ("id", "cron", "tz"):
                self._error(key, exc.message)
            else:
                self.query_one("#schedule-form-error", Static).update(Text(exc.message))
            return
        except (TickrError, RedisError, OSError) as exc:
            self.query_one("#schedule-form-error", Static).update(Text(str(getattr(exc, "message", exc))))
            return
        self.dismiss(schedule_id)
