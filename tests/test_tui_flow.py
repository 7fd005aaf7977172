"""Flow control in the TUI (issue #14): the Queues pane's priority spread and job priority
form, the Workers pane's queues:weights and its live weights form, on real engines."""

from __future__ import annotations

from typing import Any

from test_tui import SIZE, show_table, wait_for
from textual.widgets import Checkbox, Input

from tickr_app import Registry
from tickr_app.tui import TickrApp
from tickr_app.tui.screens.flow import PriorityScreen, WeightsScreen


def _register(registry: Registry) -> None:
    @registry.job("note")
    async def note(payload: dict[str, Any]) -> None: ...


async def test_queues_pane_shows_the_priority_spread_and_i_sets_a_priority(make_tickr: Any, registry: Registry) -> None:
    _register(registry)
    producer = await make_tickr(workers=0)
    low = await producer.submit("note", priority=-2)
    plain = await producer.submit("note")
    high = await producer.submit("note", priority=7)
    app = TickrApp(producer)
    async with app.run_test(size=SIZE) as pilot:
        ready = await show_table(pilot, app, "ready")
        queues = app.query_one("#queue-table")
        await wait_for(pilot, lambda: str(queues.get_cell("default", "prio")) == "2 ≤+7", "the priority spread")
        await wait_for(
            pilot, lambda: [j.id for j in ready.jobs] == [high.id, plain.id, low.id], "the ready jobs in fetch order"
        )
        ready.focus()
        ready.move_cursor(row=2)
        await wait_for(pilot, lambda: ready.selected_job_id == low.id, "the low job selected")
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, PriorityScreen), "the priority form")
        field = app.screen.query_one("#priority-value", Input)
        assert field.value == "-2"
        field.value = "9"
        await pilot.press("enter")

        async def moved() -> bool:
            job = await producer.get(low.id)
            return job is not None and job.priority == 9

        await wait_for(pilot, moved, "the new priority in Redis")
        await wait_for(pilot, lambda: str(queues.get_cell("default", "prio")) == "2 ≤+9", "the spread to follow")
        await wait_for(pilot, lambda: bool(ready.jobs) and ready.jobs[0].id == low.id, "the job first in line")


async def test_workers_pane_shows_and_changes_weights_live(make_tickr: Any, registry: Registry) -> None:
    _register(registry)
    worker = await make_tickr(workers=2, queues={"high": 5, "default": 1})
    producer = await make_tickr(workers=0)
    app = TickrApp(producer, attach=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        table = app.workers_pane.table
        await wait_for(pilot, lambda: worker.worker_id in table.processes, "the worker process listed")
        assert str(table.get_cell(worker.worker_id, "queues")) == "high:5 default:1"
        await pilot.press("W")
        await wait_for(pilot, lambda: isinstance(app.screen, WeightsScreen), "the weights form")
        field = app.screen.query_one("#weights-value", Input)
        assert field.value == "high=5 default=1"
        field.value = "high=2 default=3"
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: worker.pool_state().weights == {"high": 2, "default": 3}, "the remote pool reweighed"
        )
        await wait_for(
            pilot, lambda: str(table.get_cell(worker.worker_id, "queues")) == "high:2 default:3", "the table to follow"
        )
        await pilot.press("W")
        await wait_for(pilot, lambda: isinstance(app.screen, WeightsScreen), "the weights form again")
        app.screen.query_one("#weights-strict", Checkbox).value = True
        app.screen.query_one("#weights-value", Input).value = "high=0"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, WeightsScreen), "the form closed")
        await pilot.pause()
        assert worker.pool_state().weights == {"high": 2, "default": 3}, "a bad weight changes nothing"
        await pilot.press("W")
        await wait_for(pilot, lambda: isinstance(app.screen, WeightsScreen), "the weights form a third time")
        app.screen.query_one("#weights-strict", Checkbox).value = True
        await pilot.press("enter")
        await wait_for(pilot, lambda: worker.pool_state().strict, "strict order applied")
        await wait_for(
            pilot, lambda: str(table.get_cell(worker.worker_id, "queues")) == "strict high>default", "shown as strict"
        )
