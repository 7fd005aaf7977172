"""The Schedules pane driven with Pilot against a real engine on a real Redis: the table, the
keys (pause/resume, run now, delete with confirmation) and the add form with its preview."""

from __future__ import annotations

from typing import Any

from helpers import pilot_wait_for as wait_for
from pydantic import BaseModel, Field
from textual.widgets import Input, Select, Static

from tickr_app import Registry
from tickr_app.core.errors import ScheduleNotFound
from tickr_app.tui import TickrApp
from tickr_app.tui.screens.confirm import ConfirmScreen
from tickr_app.tui.screens.schedule_form import ScheduleFormScreen, preview
from tickr_app.tui.widgets.payload_form import PayloadForm
from tickr_app.tui.widgets.schedules_pane import SchedulesPane

SIZE = (130, 40)


class Greeting(BaseModel):
    name: str = Field(description="who to greet")
    times: int = Field(1, ge=1, le=10)


def register(registry: Registry) -> None:
    @registry.job("greet")
    async def greet(payload: Greeting) -> dict[str, str]:
        return {"hello": payload.name}


def test_preview_reads_cron_or_interval() -> None:
    now = 1_900_000_000_000  # a Sunday, 2030-03-17 17:46:40 UTC
    assert preview("30s", None, now) == [now - now % 30_000 + 30_000 * i for i in range(1, 6)]
    weekdays = preview("0 9 * * MON-FRI", "Europe/Berlin", now)
    assert len(weekdays) == 5 and weekdays == sorted(weekdays)
    import pytest

    from tickr_app.core.errors import InvalidRequest

    with pytest.raises(InvalidRequest):
        preview("0 99 * * *", None, now)


async def test_schedules_pane_lists_and_commands_schedules(make_tickr, registry: Registry) -> None:
    register(registry)
    tickr = await make_tickr(workers=2)
    await tickr.schedule("nightly", "greet", {"name": "Ada"}, cron="0 3 * * *", tz="Europe/Berlin")
    app = TickrApp(tickr)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        pane = app.query_one(SchedulesPane)
        assert app.pane == "schedules"
        await wait_for(pilot, lambda: pane.table.row_count == 1, "the schedule row")
        row = [str(c) for c in pane.table.get_row("nightly")]
        assert row[0] == "nightly" and row[1] == "greet" and "Europe/Berlin" in row[2]
        assert row[4].startswith("in ") and row[5] == "never" and row[7] == "active"  # countdown, never run
        assert "next runs:" in str(pane.query_one("#schedule-detail", Static).content)

        await pilot.press("p")  # pause for every process
        await wait_for(pilot, lambda: _paused(tickr, True), "the schedule paused in Redis")
        await wait_for(pilot, lambda: str(pane.table.get_row("nightly")[7]) == "paused", "the paused state shown")
        await pilot.press("p")
        await wait_for(pilot, lambda: _paused(tickr, False), "the schedule resumed")

        await pilot.press("ctrl+p")  # the same commands in the palette
        await pilot.press(*"pause/resume schedule")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: _paused(tickr, True), "the palette command to pause the schedule")
        await pilot.press("p")
        await wait_for(pilot, lambda: _paused(tickr, False), "resumed again")

        await pilot.press("n")  # run now
        await wait_for(pilot, lambda: _last_status(tickr, "succeeded"), "the triggered run to succeed")
        await wait_for(pilot, lambda: str(pane.table.get_row("nightly")[6]) == "succeeded", "the outcome shown")

        await pilot.press("D")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # changed my mind
        assert (await tickr.get_schedule("nightly")).id == "nightly"
        await pilot.press("D")
        await pilot.press("y")
        await wait_for(pilot, lambda: _gone(tickr, "nightly"), "the schedule deleted")
        await wait_for(pilot, lambda: pane.table.row_count == 0, "the row removed")


async def test_add_form_previews_runs_and_saves_a_schedule(make_tickr, registry: Registry) -> None:
    register(registry)
    tickr = await make_tickr(workers=2)
    app = TickrApp(tickr)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ScheduleFormScreen), "the form")
        form_screen = app.screen
        assert form_screen.query_one("#sched-type", Select).value == "greet"
        shown = form_screen.query_one("#schedule-preview", Static)

        form_screen.query_one("#sched-when", Input).focus()
        await pilot.press(*"0 99 * * *")
        await wait_for(pilot, lambda: "invalid cron" in str(shown.content), "the preview reports the bad expression")
        when = form_screen.query_one("#sched-when", Input)
        when.value = ""
        when.focus()
        await pilot.press(*"5m")
        await wait_for(pilot, lambda: str(shown.content).count("\n") == 5, "five next runs previewed")

        await pilot.press("ctrl+s")  # no id, no name: errors, nothing saved
        await wait_for(
            pilot, lambda: "required" in str(form_screen.query_one("#sched-error-id", Static).content), "the id error"
        )
        assert await tickr.list_schedules() == []

        form_screen.query_one("#sched-id", Input).value = "every5"
        form = form_screen.query_one(PayloadForm)
        form.control("name").value = "Grace"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, ScheduleFormScreen), "the form closed")
        s = await tickr.get_schedule("every5")
        assert s.every_ms == 300_000 and s.payload == {"name": "Grace", "times": 1} and s.type == "greet"
        pane = app.query_one(SchedulesPane)
        await wait_for(pilot, lambda: pane.table.row_count == 1, "the new schedule listed")


async def _paused(tickr: Any, paused: bool) -> bool:
    return (await tickr.get_schedule("nightly")).paused is paused


async def _last_status(tickr: Any, status: str) -> bool:
    return (await tickr.get_schedule("nightly")).last_status == status


async def _gone(tickr: Any, schedule_id: str) -> bool:
    try:
        await tickr.get_schedule(schedule_id)
    except ScheduleNotFound:
        return True
    return False
