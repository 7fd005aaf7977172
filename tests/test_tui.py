"""The Textual app driven with Pilot against a real engine on a real Redis.

Every wait is a condition polled with a deadline (``wait_for``), never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import html
import time
from typing import Any, Literal

import pytest
from helpers import pilot_wait_for, run_palette_command
from pydantic import BaseModel, Field
from textual.pilot import Pilot
from textual.widgets import Select, Static
from timing import deadline

from tickr_app import Registry, Tickr
from tickr_app.tui import TickrApp
from tickr_app.tui.screens.confirm import ConfirmScreen
from tickr_app.tui.screens.drain import DrainScreen
from tickr_app.tui.screens.help import HelpScreen
from tickr_app.tui.screens.job_detail import JobDetailScreen
from tickr_app.tui.widgets.job_table import JobTable
from tickr_app.tui.widgets.payload_form import PayloadForm
from tickr_app.tui.widgets.submit_pane import SubmitPane

SIZE = (120, 40)


class Greeting(BaseModel):
    name: str = Field(description="who to greet")
    times: int = Field(1, ge=1, le=10)
    loud: bool = False
    tone: Literal["warm", "cool"] = "warm"


class Jobs:
    """Test job types: ``greet`` (quick), ``hold`` (waits for ``gate``), ``flaky`` (fails
    while ``fail`` is set, one attempt only)."""

    def __init__(self, registry: Registry) -> None:
        self.gate = asyncio.Event()
        self.fail = True

        @registry.job("greet")
        async def greet(payload: Greeting) -> dict[str, str]:
            return {"hello": payload.name}

        @registry.job("hold", timeout=30)
        async def hold(payload: dict[str, Any]) -> str:
            await self.gate.wait()
            return "released"

        @registry.job("mailer", queue="mail")
        async def mailer(payload: dict[str, Any]) -> str:
            await self.gate.wait()
            return "sent"

        @registry.job("flaky", max_attempts=1)
        async def flaky(payload: dict[str, Any]) -> str:
            if self.fail:
                raise RuntimeError("boom: flaky failed on purpose")
            return "ok"


@pytest.fixture
def jobs(registry: Registry) -> Jobs:
    return Jobs(registry)


wait_for = pilot_wait_for


async def status_of(tickr: Tickr, job_id: str) -> str | None:
    job = await tickr.get(job_id)
    return job.status if job else None


def table(app: TickrApp, status: str) -> JobTable:
    return app.query_one(f"#table-{status}", JobTable)


async def show_table(pilot: Pilot[Any], app: TickrApp, status: str) -> JobTable:
    await pilot.press("escape", "2")  # escape leaves a form input, so "2" switches panes
    for _ in range(5):
        if app.queues_pane.visible_status == status:
            break
        await pilot.press("right_square_bracket")
    assert app.queues_pane.visible_status == status
    return table(app, status)


# -- Submit ------------------------------------------------------------------------------


async def choose_type(pilot: Pilot[Any], app: TickrApp, name: str) -> PayloadForm:
    await pilot.press("1")
    app.query_one("#job-type", Select).value = name
    pane = app.query_one(SubmitPane)
    await wait_for(pilot, lambda: pane.form_type == name, "the form of the job type")
    await pilot.pause()
    return app.query_one(PayloadForm)


async def test_submit_form_enqueues_a_job_shown_in_the_tables(make_tickr, jobs: Jobs) -> None:
    tickr = await make_tickr(workers=2)
    app = TickrApp(tickr)
    async with app.run_test(size=SIZE) as pilot:
        form = await choose_type(pilot, app, "greet")
        labels = [str(label.content) for label in form.query(".field-label")]
        assert labels[:2] == ["Name *", "Times"]  # required marked, defaults filled
        assert form.control("times").value == "1"
        assert form.control("tone").value == "warm"

        form.control("name").focus()
        await pilot.press(*"Ada")
        await pilot.press("tab", "3")  # times: focusing selects the default, typing replaces it
        app.query_one("#delay").value = "60"
        await pilot.press("ctrl+s")

        pane = app.query_one(SubmitPane)
        await wait_for(pilot, lambda: pane.last_job is not None, "the submitted job")
        job_id = pane.last_job.id
        job = await tickr.get(job_id)
        assert job is not None and job.status == "waiting"
        assert job.payload == {"name": "Ada", "times": 3, "loud": False, "tone": "warm"}
        assert job_id in str(app.query_one("#new-job", Static).content)  # the id is shown in full

        waiting = await show_table(pilot, app, "waiting")
        await wait_for(pilot, lambda: job_id in [j.id for j in waiting.jobs], "the job in the waiting table")
        cell = str(waiting.get_cell(job_id, "due"))
        assert cell.startswith("in ")  # live countdown


async def test_invalid_form_shows_errors_next_to_fields_and_enqueues_nothing(make_tickr, jobs: Jobs) -> None:
    tickr = await make_tickr(workers=2)
    app = TickrApp(tickr)
    async with app.run_test(size=SIZE) as pilot:
        form = await choose_type(pilot, app, "greet")
        form.control("times").value = "50"  # le=10; name left empty (required)
        await pilot.press("ctrl+s")

        name_error = app.query_one(f"#error-{form.index_of('name')}", Static)
        times_error = app.query_one(f"#error-{form.index_of('times')}", Static)
        await wait_for(pilot, lambda: str(times_error.content), "the field errors")
        assert "required" in str(name_error.content).lower()
        assert "less than or equal to 10" in str(times_error.content)
        assert form.control("times").has_class("-invalid")
        assert app.query_one(SubmitPane).last_job is None
        stats = (await tickr.stats())["default"]
        assert (stats.enqueued, stats.ready, stats.waiting) == (0, 0, 0)

        # Fixing the field clears its error and submits.
        form.control("name").value = "Grace"
        form.control("times").value = "2"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.query_one(SubmitPane).last_job is not None, "the fixed submit")
        assert not str(times_error.content)


# -- Workers: pool and queue controls ------------------------------------------------------


async def test_pool_keys_pause_and_scale_the_real_pool(make_tickr, jobs: Jobs) -> None:
    tickr = await make_tickr(workers=2)
    pool = tickr._pool
    assert pool is not None
    app = TickrApp(tickr)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        workers = app.workers_pane.table
        await wait_for(pilot, lambda: tickr.worker_id in workers.processes, "this process in the worker table")

        await pilot.press("p")
        assert pool.paused
        await pilot.press("p")
        assert not pool.paused
        await pilot.press("plus")
        assert pool.concurrency == 3
        await pilot.press("minus", "minus")
        assert pool.concurrency == 1
        await wait_for(
            pilot, lambda: workers.processes[tickr.worker_id].concurrency == 1, "the registry to show 1 slot"
        )

        broker = tickr._broker
        assert broker is not None
        await pilot.press("P")
        await wait_for(pilot, lambda: broker.is_paused("default"), "the queue paused in Redis")
        await pilot.press("P")
        await wait_for(pilot, lambda: _not(broker.is_paused("default")), "the queue resumed in Redis")


async def _not(awaitable: Any) -> bool:
    return not await awaitable


# -- Queues: dead jobs, actions, details ------------------------------------------------


async def dead_jobs(tickr: Tickr, n: int) -> list[str]:
    ids = [(await tickr.submit("flaky", {"n": i})).id for i in range(n)]
    for job_id in ids:
        assert (await tickr.wait(job_id, timeout=deadline(10))).status == "dead"
    return ids


async def test_retry_and_delete_act_on_real_dead_jobs(make_tickr, jobs: Jobs) -> None:
    tickr = await make_tickr(workers=2)
    ids = await dead_jobs(tickr, 2)
    app = TickrApp(tickr)
    async with app.run_test(size=SIZE) as pilot:
        dead = await show_table(pilot, app, "dead")
        await wait_for(pilot, lambda: len(dead.jobs) == 2, "two rows in the dead table")
        assert "boom" in str(dead.get_cell(dead.jobs[0].id, "error"))

        first = dead.selected_job_id
        assert first in ids
        jobs.fail = False
        await pilot.press("r")
        await wait_for(pilot, lambda: _is(status_of(tickr, first), "succeeded"), "the retried job to succeed")
        await wait_for(pilot, lambda: len(dead.jobs) == 1, "the dead table to shrink")

        second = dead.selected_job_id
        assert second in ids and second != first
        await pilot.press("D")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # changed my mind: nothing happens
        assert await status_of(tickr, second) == "dead"
        await pilot.press("D")
        await pilot.press("y")
        await wait_for(pilot, lambda: _is(status_of(tickr, second), None), "the job to be deleted")
        await wait_for(pilot, lambda: not dead.jobs, "the dead table to empty")


async def _is(awaitable: Any, expected: Any) -> bool:
    return await awaitable == expected


async def test_retry_all_dead_asks_then_retries_every_dead_job(make_tickr, jobs: Jobs) -> None:
    tickr = await make_tickr(workers=2)
    ids = await dead_jobs(tickr, 3)
    jobs.fail = False
    app = TickrApp(tickr)
    async with app.run_test(size=SIZE) as pilot:
        await show_table(pilot, app, "dead")
        await wait_for(pilot, lambda: app.queues_pane.stats.get("default") is not None, "queue counts")
        await pilot.press("R")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        for job_id in ids:
            await wait_for(pilot, lambda: _is(status_of(tickr, job_id), "succeeded"), f"job {job_id} to succeed")


async def test_detail_screen_shows_the_traceback(make_tickr, jobs: Jobs) -> None:
    tickr = await make_tickr(workers=2)
    [job_id] = await dead_jobs(tickr, 1)
    app = TickrApp(tickr)
    async with app.run_test(size=SIZE) as pilot:
        dead = await show_table(pilot, app, "dead")
        await wait_for(pilot, lambda: dead.jobs, "the dead job")
        dead.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, JobDetailScreen), "the detail screen")
        screen = app.screen
        assert isinstance(screen, JobDetailScreen) and screen.job_id == job_id
        traceback = screen.query_one("#detail-traceback", Static)
        await wait_for(pilot, lambda: "RuntimeError: boom" in str(traceback.content), "the traceback")
        assert "Traceback (most recent call last)" in str(traceback.content)
        assert "boom: flaky failed on purpose" in str(screen.query_one("#detail-error", Static).content)
        assert '"n": 0' in str(screen.query_one("#detail-payload", Static).content)
        await pilot.press("escape")
        assert not isinstance(app.screen, JobDetailScreen)


# -- Quit drains ----------------------------------------------------------------------------


async def test_quit_drains_in_flight_jobs_before_exiting(make_tickr, jobs: Jobs) -> None:
    tickr = await make_tickr(workers=2, grace_period=20.0)
    pool = tickr._pool
    assert pool is not None
    job = await tickr.submit("hold", {})
    app = TickrApp(tickr)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: pool.busy == 1, "the job to be running")
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, DrainScreen), "the drain dialog")
        await pilot.pause(0.2)
        assert app.is_running and pool.busy == 1  # still waiting for the job
        assert "1 in-flight" in str(app.screen.query_one("#drain-message", Static).content)
        jobs.gate.set()
        until = time.monotonic() + deadline(10)
        while app.is_running and time.monotonic() < until:
            await asyncio.sleep(0.05)
        assert not app.is_running
    done = await tickr.get(job.id)
    assert done is not None and done.status == "succeeded" and done.result == "released"


# -- Attach mode -----------------------------------------------------------------------------


async def test_attach_mode_shows_and_commands_another_process(make_tickr, jobs: Jobs) -> None:
    worker = await make_tickr(workers=2)
    producer = await make_tickr(workers=0)
    assert producer._pool is None and worker._pool is not None
    job = await producer.submit("hold", {})
    app = TickrApp(producer, attach=True)
    try:
        async with app.run_test(size=SIZE) as pilot:
            active = await show_table(pilot, app, "active")
            await wait_for(pilot, lambda: job.id in [j.id for j in active.jobs], "the remote job in the active table")
            assert str(active.get_cell(job.id, "worker")) == worker.worker_id

            await pilot.press("3")
            table = app.workers_pane.table
            await wait_for(pilot, lambda: worker.worker_id in table.processes, "the remote worker process")
            assert app.workers_pane.selected_worker.id == worker.worker_id
            await pilot.press("p")
            await wait_for(pilot, lambda: worker._pool.paused, "the remote pool to pause")
            await pilot.press("plus")
            await wait_for(pilot, lambda: worker._pool.concurrency == 3, "the remote pool to scale up")
            await pilot.press("p")
            await wait_for(pilot, lambda: not worker._pool.paused, "the remote pool to resume")
            assert "Attached" in str(app.query_one("#pool-summary", Static).content)
    finally:
        jobs.gate.set()
    assert (await worker.wait(job.id, timeout=deadline(10))).status == "succeeded"


async def test_queue_table_selects_the_queue_the_tables_and_P_act_on(make_tickr, jobs: Jobs) -> None:
    tickr = await make_tickr(workers=2)
    job = await tickr.submit("mailer", {})
    app = TickrApp(tickr)
    try:
        async with app.run_test(size=SIZE) as pilot:
            pane = app.queues_pane
            active = await show_table(pilot, app, "active")
            await wait_for(pilot, lambda: {"default", "mail"} <= set(pane.stats), "both queues counted")
            assert pane.queue == "default" and not active.jobs

            app.query_one("#queue-table").focus()
            await pilot.press("down")
            await wait_for(pilot, lambda: pane.queue == "mail", "the mail queue to be selected")
            await wait_for(pilot, lambda: [j.id for j in active.jobs] == [job.id], "the mail job in the active table")
            assert pane.stats["mail"].active == 1

            await pilot.press("P")
            assert tickr._broker is not None
            await wait_for(pilot, lambda: tickr._broker.is_paused("mail"), "the mail queue to pause")
            assert not await tickr._broker.is_paused("default")
            await wait_for(pilot, lambda: pane.stats["mail"].paused, "the table to show it paused")
            await pilot.press("P")
            await wait_for(pilot, lambda: _not(tickr._broker.is_paused("mail")), "the mail queue to resume")
    finally:
        jobs.gate.set()


# -- Keys, palette, themes, small terminals ---------------------------------------------------


async def test_help_palette_and_theme(make_tickr, jobs: Jobs) -> None:
    tickr = await make_tickr(workers=2)
    pool = tickr._pool
    assert pool is not None
    app = TickrApp(tickr)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        shown = html.unescape(app.export_screenshot()).replace("\xa0", " ")
        for key in ("Anywhere", "Show every key", "Shift means"):
            assert key in shown
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)

        await pilot.press("3")  # pool commands apply on the Workers pane
        await run_palette_command(pilot, "pause/resume pool", expect="pause")
        await wait_for(pilot, lambda: pool.paused, "the palette command to pause the pool")

        dark = app.current_theme.dark
        await pilot.press("t")
        assert app.current_theme.dark is not dark
        for pane in ("1", "2", "3"):
            await pilot.press(pane)
            await pilot.pause()
            app.export_screenshot()  # renders at 80x24 in the light theme without errors


# -- Loop lag (issue #12) -----------------------------------------------------------------


async def test_status_line_and_workers_pane_show_loop_lag_and_the_last_offender(make_tickr, registry: Registry) -> None:
    @registry.job("careless")
    async def careless(payload: dict[str, Any]) -> None:
        time.sleep(0.3)  # noqa: ASYNC251 - blocks the loop the TUI runs on

    tickr = await make_tickr(workers=1)
    app = TickrApp(tickr)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "loop " in app.sub_title, "the loop lag in the status line")
        j = await tickr.submit("careless", {})
        await wait_for(pilot, lambda: f"job careless {j.id[:8]}" in app.sub_title, "the offender in the status line")
        assert "last stall" in app.sub_title
        await pilot.press("3")
        workers = app.workers_pane.table
        await wait_for(pilot, lambda: tickr.worker_id in workers.processes, "this process in the worker table")
        lag = workers.get_cell(tickr.worker_id, "lag")
        assert str(lag).endswith(("ms", " s")), lag
