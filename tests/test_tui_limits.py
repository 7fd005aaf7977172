"""The Queues pane's limits, driven with Pilot against a real engine on a real Redis: the State
column ("limited", "throttled"), the limits and current rate under the tables, and the form
that sets and clears a queue's limits live."""

from __future__ import annotations

from helpers import Gate
from helpers import pilot_wait_for as wait_for
from textual.widgets import Input, Select, Static

from tickr_app import JobContext, JobRequest, Registry
from tickr_app.tui import TickrApp
from tickr_app.tui.screens.limits_form import LimitsFormScreen
from tickr_app.tui.widgets.queue_table import QueueTable

SIZE = (140, 40)


async def test_queues_pane_shows_limits_and_sets_them_live(make_tickr, registry: Registry) -> None:
    gate = Gate()

    @registry.job("work")
    async def work(payload: dict, ctx: JobContext) -> None:
        await gate.hold(ctx.id)

    tickr = await make_tickr(workers=4)
    app = TickrApp(tickr)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        table = app.query_one(QueueTable)
        await wait_for(pilot, lambda: "default" in table.row_keys, "the default queue row")

        def cell(column: str) -> str:
            return str(table.get_cell("default", column))

        assert cell("state") == "running", "no limit yet"
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, LimitsFormScreen), "the limits form")
        form = app.screen
        form.query_one("#limits-rate", Input).value = "0/s"  # a bad value: an error next to the field
        await pilot.press("ctrl+s")
        await wait_for(
            pilot, lambda: "invalid rate" in str(form.query_one("#limits-error-rate", Static).content), "the rate error"
        )
        form.query_one("#limits-rate", Input).value = "50/s"
        form.query_one("#limits-concurrency", Input).value = "2"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, LimitsFormScreen), "the form to close")
        limits = await tickr.get_limits("default")
        assert (limits.limits.rate, limits.limits.concurrency) == ("50/s", 2)
        await wait_for(pilot, lambda: cell("state") == "limited", "the limited state")

        jobs = await tickr.submit_many([JobRequest("work", {}) for _ in range(4)])
        await wait_for(pilot, lambda: gate.inside == 2, "two jobs to run under concurrency 2")
        await wait_for(pilot, lambda: cell("state") == "throttled", "the throttled state")
        status = str(app.query_one("#queues-status", Static).content)
        assert "rate 50/s (now 2/s)" in status and "concurrency 2/2" in status and "THROTTLED" in status

        await pilot.press("l")  # clear both, live: the waiting jobs start without a restart
        await wait_for(pilot, lambda: isinstance(app.screen, LimitsFormScreen), "the limits form again")
        await pilot.click("#limits-clear")
        await wait_for(pilot, lambda: gate.inside == 4, "all four jobs to run once the limit is gone")
        await wait_for(pilot, lambda: cell("state") == "running", "no limit shown")
        gate.open.set()
        for job in jobs:
            await tickr.wait(job.id, 10)

        await pilot.press("l")  # one job type's limits, from the same form
        await wait_for(pilot, lambda: isinstance(app.screen, LimitsFormScreen), "the limits form for a type")
        app.screen.query_one("#limits-scope", Select).value = "work"
        await pilot.pause()
        app.screen.query_one("#limits-concurrency", Input).value = "1"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, LimitsFormScreen), "the form to close again")
        state = (await tickr.get_limits("default")).types["work"]
        assert (state.concurrency, state.rate) == (1, None)
        assert (await tickr.get_limits("default")).limits.concurrency is None, "the queue itself is untouched"
