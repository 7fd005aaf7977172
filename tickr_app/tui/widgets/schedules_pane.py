"""``SchedulesPane``: every schedule on this Redis with its next run (and a countdown), its last
run and that run's outcome, and whether it is paused; keys to pause/resume, run now, delete
(asks first) and add one (a form with a live preview of the next five runs).

The keys are the pane's own bindings, active while its table has focus. It polls
``list_schedules`` twice a second in an exclusive worker, only while it is on screen; the
countdowns are redrawn from the last poll in between.
"""

from __future__ import annotations

import logging
import time
from typing import Any, ClassVar

from redis.exceptions import RedisError
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.widgets import DataTable, Static

from ...core.engine import Tickr
from ...core.errors import TickrError
from ...core.records import Schedule
from ..format import clock, countdown, now_ms
from ..messages import ConfirmRequested, ScheduleFormRequested
from .job_table import theme_colors
from .pane_commands import PaneCommands

log = logging.getLogger("tickr.tui")

TICK_S = 0.25
POLL_EVERY_S = 0.5
COLUMNS = ("Schedule", "Type", "When", "Next run", "In", "Last run", "Outcome", "State")
OUTCOME_STYLE = {"succeeded": "success", "dead": "error", "cancelled": "warning", "active": "accent"}


def short_clock(ms: int, now: int) -> str:
    """Local time: ``14:05:00`` today, ``12-24 09:00`` another day (the table stays narrow)."""
    t, today = time.localtime(ms / 1000), time.localtime(now / 1000)
    if t[:3] == today[:3]:
        return time.strftime("%H:%M:%S", t)
    return time.strftime("%m-%d %H:%M" if t.tm_year == today.tm_year else "%Y-%m-%d %H:%M", t)


def describe_timing(s: Schedule) -> str:
    if s.cron:
        return f"{s.cron} ({s.tz})" if s.tz != "UTC" else s.cron
    from ...core.slots import format_interval

    return f"every {format_interval(s.every_ms or 0)}"


class ScheduleTable(DataTable[Any]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", "Add schedule"),
        Binding("p,space", "toggle_pause", "Pause/resume"),
        Binding("n", "trigger", "Run now"),
        Binding("D,shift+d", "delete", "Delete", key_display="D"),
    ]

    def action_add(self) -> None:
        pane = self._pane()
        if pane is not None:
            pane.open_form()

    def action_toggle_pause(self) -> None:
        pane = self._pane()
        if pane is not None:
            pane.toggle_pause()

    def action_trigger(self) -> None:
        pane = self._pane()
        if pane is not None:
            pane.trigger()

    def action_delete(self) -> None:
        pane = self._pane()
        if pane is not None:
            pane.delete()

    def _pane(self) -> SchedulesPane | None:
        for node in self.ancestors:
            if isinstance(node, SchedulesPane):
                return node
        return None


class SchedulesPane(Vertical):
    DEFAULT_CSS = """
    SchedulesPane { height: 1fr; }
    SchedulesPane > ScheduleTable { height: 1fr; }
    SchedulesPane > #schedule-detail { height: auto; max-height: 8; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, tickr: Tickr, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tickr = tickr
        self.schedules: list[Schedule] = []
        self.error: str | None = None
        self._polled_at = 0.0
        self._polling = False

    def compose(self) -> ComposeResult:
        yield Static(id="schedules-title", classes="pane-title")
        table = ScheduleTable(id="schedule-table", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table
        yield Static(id="schedule-detail")

    def on_mount(self) -> None:
        self._render_title()
        self.set_interval(TICK_S, self._tick)

    @property
    def table(self) -> ScheduleTable:
        return self.query_one(ScheduleTable)

    @property
    def selected(self) -> Schedule | None:
        table = self.table
        if not self.schedules or table.row_count == 0:
            return None
        row = table.cursor_row
        if 0 <= row < len(self.schedules):
            return self.schedules[row]
        return None

    # -- refreshing ------------------------------------------------------------------------

    def refresh_now(self) -> None:
        self._polled_at = 0.0
        self._tick()

    def _tick(self) -> None:
        if not self.is_on_screen:
            return
        self._draw()
        if time.monotonic() - self._polled_at < POLL_EVERY_S or self._polling:
            return
        self._polled_at = time.monotonic()
        self._polling = True
        self._poll()

    @work(exclusive=True, group="poll-schedules", exit_on_error=False)
    async def _poll(self) -> None:
        try:
            self.schedules = sorted(await self.tickr.list_schedules(), key=lambda s: s.id)
            self.error = None
            self._draw()
        except (TickrError, RedisError, OSError) as exc:
            self.error = f"Redis unavailable: {getattr(exc, 'message', exc)}"[:120]
            self._render_title()
        except NoMatches:
            return  # closing
        except Exception as exc:  # a bug must not stop the dashboard
            log.exception("refreshing the schedules failed")
            self.error = f"refresh failed: {type(exc).__name__}: {exc}"[:120]
            self._render_title()
        finally:
            self._polling = False

    def _render_title(self) -> None:
        n = len(self.schedules)
        title = Text.assemble(
            ("Schedules", "bold"),
            f"  {n} on this Redis   ",
            ("a", "bold"), " add  ", ("p", "bold"), " pause/resume  ", ("n", "bold"), " run now  ",
            ("D", "bold"), " delete",
        )  # fmt: skip
        if self.error:
            title.append(f"   {self.error}", style=theme_colors(self.app).get("error", ""))
        title.no_wrap, title.overflow = True, "ellipsis"
        self.query_one("#schedules-title", Static).update(title, layout=False)

    def _draw(self) -> None:
        self._render_title()
        table = self.table
        now = now_ms()
        colors = theme_colors(self.app)
        ids = [s.id for s in self.schedules]
        current = [str(k.value) for k in table.rows]
        if ids != current:
            cursor = table.cursor_row
            table.clear()
            for s in self.schedules:
                table.add_row(*self._cells(s, now, colors), key=s.id)
            if table.row_count:
                table.move_cursor(row=min(max(cursor, 0), table.row_count - 1))
        else:
            for s in self.schedules:
                for col, cell in zip(table.columns, self._cells(s, now, colors)):
                    table.update_cell(s.id, col, cell)
        self._draw_detail()

    def _cells(self, s: Schedule, now: int, colors: dict[str, str]) -> list[Any]:
        if s.paused:
            state = Text("paused", style=colors.get("warning", ""))
        elif s.next_run_at is None:
            state = Text("ended", style="dim")
        else:
            state = Text("active", style=colors.get("success", ""))
        outcome = Text(s.last_status or "—", style=colors.get(OUTCOME_STYLE.get(s.last_status or "", ""), ""))
        return [
            s.id,
            s.type,
            describe_timing(s),
            short_clock(s.next_run_at, now) if s.next_run_at else "—",
            "" if s.paused or s.next_run_at is None else countdown(s.next_run_at, now),
            short_clock(s.last_run_at, now) if s.last_run_at else "never",
            outcome,
            state,
        ]

    def _draw_detail(self) -> None:
        s = self.selected
        detail = self.query_one("#schedule-detail", Static)
        if s is None:
            detail.update(Text("No schedules yet: press a to add one.", style="dim"))
            return
        lines = [
            (
                f"{s.id}: {s.type} on queue {s.queue} · misfire {s.misfire} · overlap {s.overlap} · "
                f"fired {s.fired} · skipped {s.skipped} · run now {s.triggered}"
            )
        ]
        if s.next_run_at is not None:
            runs = [s.next_run_at, *s.upcoming(s.next_run_at, 4)]
            lines.append("next runs: " + "  ".join(clock(ms)[:19] for ms in runs))
        detail.update(Text("\n".join(lines)))

    # -- commands --------------------------------------------------------------------------

    def _command(self, title: str, call: Any, done: str) -> None:
        async def run() -> None:
            try:
                await call()
            except TickrError as exc:
                self.notify(exc.message, title=title, severity="error")
                return
            except (RedisError, OSError) as exc:
                self.notify(f"Redis unavailable: {exc}", title=title, severity="error")
                return
            self.notify(done, title=title)
            self.refresh_now()

        self.run_worker(run(), group="schedule-commands", exit_on_error=False)

    def _selected_or_warn(self) -> Schedule | None:
        s = self.selected
        if s is None:
            self.notify("No schedule selected.", severity="warning")
        return s

    def toggle_pause(self) -> None:
        s = self._selected_or_warn()
        if s is None:
            return
        if s.paused:
            self._command("Resume", lambda: self.tickr.resume_schedule(s.id), f"Schedule {s.id} resumed.")
        else:
            self._command("Pause", lambda: self.tickr.pause_schedule(s.id), f"Schedule {s.id} paused.")

    def trigger(self) -> None:
        s = self._selected_or_warn()
        if s is not None:
            self._command("Run now", lambda: self.tickr.trigger(s.id), f"Schedule {s.id}: a run was enqueued.")

    def delete(self) -> None:
        s = self._selected_or_warn()
        if s is None:
            return

        self.post_message(
            ConfirmRequested(
                "Delete schedule?",
                f"Delete schedule {s.id}? Jobs it already ran stay.",
                "Delete",
                lambda: self._command("Delete", lambda: self.tickr.unschedule(s.id), f"Schedule {s.id} deleted."),
            )
        )

    def open_form(self) -> None:
        def saved(schedule_id: str | None) -> None:
            if schedule_id:
                self.notify(f"Schedule {schedule_id} saved.", title="Schedule")
                self.refresh_now()

        self.post_message(ScheduleFormRequested(saved))


class ScheduleCommands(PaneCommands):
    """The Schedules pane's keys in the command palette, offered while that pane is shown."""

    PANE = "schedules"
    PANE_TYPE = SchedulesPane
    COMMANDS: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("Add schedule", "open_form", "Add or update a schedule (a), with a preview of its next runs"),
        ("Pause/resume schedule", "toggle_pause", "Pause or resume the selected schedule for every process (p)"),
        ("Run schedule now", "trigger", "Enqueue the selected schedule's job once now (n)"),
        ("Delete schedule", "delete", "Delete the selected schedule, asking first (D)"),
    )
