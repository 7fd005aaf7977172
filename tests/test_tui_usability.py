"""Issue 17's TUI items, each driven through the real app on a real engine and Redis.

Every wait is a condition polled with a deadline (``wait_for``), never a fixed sleep.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from proc import spawn_tickr, stop
from test_tui import SIZE, Jobs, choose_type, dead_jobs, show_table, wait_for
from test_tui_tables import shows
from timing import deadline
from textual.app import App, ComposeResult
from textual.widgets import Input, OptionList, Static

from tickr_app import Registry
from tickr_app.core.keys import GlobalKeys
from tickr_app.tui import TickrApp
from tickr_app.tui.commands import COMMANDS
from tickr_app.tui.screens.confirm import ConfirmScreen
from tickr_app.tui.screens.find import FindJobScreen, TypeFilterScreen
from tickr_app.tui.screens.help import HelpScreen
from tickr_app.tui.screens.job_detail import JobDetailScreen
from tickr_app.tui.widgets.live_table import LiveTable
from tickr_app.tui.widgets.queue_table import QueueTable
from tickr_app.tui.widgets.submit_pane import SubmitPane
from tickr_app.tui.widgets.throughput import AXIS, Throughput


@pytest.fixture
def jobs(registry: Registry) -> Jobs:
    return Jobs(registry)


def lines(table: LiveTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


# -- item 6: a long queue name never pushes the state off screen ----------------------------


async def test_a_long_queue_name_is_truncated_and_failed_and_state_stay_on_screen(make_tickr, jobs: Jobs) -> None:
    tickr = await make_tickr(workers=0)
    long_name = "reports-for-the-quarterly-finance-review-of-every-region-" + "x" * 20
    await tickr.submit("greet", {"name": "a"}, queue=long_name)
    await tickr.pause_queue(long_name)
    app = TickrApp(tickr)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("2")
        table = app.query_one(QueueTable)
        await wait_for(pilot, lambda: long_name in table.row_keys, "the long queue in the table")
        await pilot.pause()
        shown = lines(table)
        assert table.virtual_size.width <= table.scrollable_content_region.width, "the table must fit its width"
        assert "Failed" in shown[0] and "State" in shown[0]
        [row] = [line for line in shown[1:] if line.strip().startswith("reports")]
        assert "paused" in row
        assert "…" in row and long_name not in row  # the name gave up the room


# -- item 7: the throughput bars are honest against the labelled scale ----------------------


class ChartApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Throughput(id="throughput")


def chart(app: App[Any]) -> tuple[str, list[str], list[str]]:
    """The label, the axis and the bars of each line."""
    label = str(app.query_one("#throughput-label", Static).content)
    widget = app.query_one("#throughput-spark")
    lines = [widget.render_line(y).text for y in range(widget.size.height)]
    return label, [line[:AXIS] for line in lines], [line[AXIS:] for line in lines]


async def test_a_trickle_of_jobs_draws_low_bars_against_the_labelled_scale() -> None:
    app = ChartApp()
    async with app.run_test(size=(60, 6)) as pilot:
        throughput = app.query_one(Throughput)
        t0 = 1_000_000.0
        # One job every 30 s for two minutes: 0.03 jobs/s.
        for i in range(5):
            throughput.record(i, t=t0 + 30 * i)
        await pilot.pause()
        label, axis, rows = chart(app)
        assert "peak 0.03/s" in label  # was "peak 0.0/s"
        assert axis == ["   1▕", "    ▕", "   0▕"], "full height stands for 1 job/s"
        top, middle, bottom = rows
        assert not top.strip() and not middle.strip(), f"a trickle must not fill the chart: {rows}"
        assert set(bottom.strip()) == {"▁"}, "some work shows as the lowest bar"


async def test_time_the_pane_was_hidden_is_an_even_average_not_a_spike_or_a_full_chart() -> None:
    app = ChartApp()
    async with app.run_test(size=(60, 6)) as pilot:
        throughput = app.query_one(Throughput)
        t0 = 1_000_000.0
        throughput.record(0, t=t0)
        for i in range(1, 6):  # 10 jobs/s while visible
            throughput.record(10 * i, t=t0 + i)
        throughput.record(50 + 60, t=t0 + 65)  # hidden for a minute: 1 job/s meanwhile
        await pilot.pause()
        label, axis, rows = chart(app)
        assert axis[0] == "  10▕"
        hidden = throughput.data[-30:-2]
        assert all(abs(rate - 1.0) < 0.01 for rate in hidden), hidden
        # 1/s against a 10/s scale: two or three eighths of one line of three, not a full bar.
        assert not rows[0][-10:].strip() and not rows[1][-10:].strip() and rows[2][-10:].strip()


# -- item 12: small surprises ----------------------------------------------------------------


async def test_the_key_bar_offers_resume_once_paused(make_tickr, jobs: Jobs) -> None:
    tickr = await make_tickr(workers=2)
    app = TickrApp(tickr)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await wait_for(pilot, lambda: shows(app, "p", "Pause"), "p Pause in the key bar")
        await pilot.press("p")
        assert tickr._pool is not None and tickr._pool.paused
        await wait_for(pilot, lambda: shows(app, "p", "Resume"), "p Resume once the pool is paused")
        assert not shows(app, "p", "Pause")
        await pilot.press("P")
        await wait_for(pilot, lambda: shows(app, "P", "Resume queue"), "P Resume queue once the queue is paused")
        await pilot.press("p")
        await wait_for(pilot, lambda: shows(app, "p", "Pause"), "p Pause again after resuming")


async def test_a_pool_scaled_to_0_says_so_instead_of_running(make_tickr, jobs: Jobs) -> None:
    tickr = await make_tickr(workers=1)
    app = TickrApp(tickr)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        table = app.workers_pane.table
        await wait_for(pilot, lambda: tickr.worker_id in table.processes, "this process in the worker table")
        await pilot.press("minus")
        assert tickr._pool is not None and tickr._pool.concurrency == 0
        summary = app.query_one("#pool-summary", Static)
        await wait_for(pilot, lambda: "scaled to 0" in str(summary.content), "the pool summary to say scaled to 0")
        assert "running" not in str(summary.content)
        await wait_for(
            pilot,
            lambda: str(table.get_cell(tickr.worker_id, "state")) == "scaled to 0",
            "the worker table to say scaled to 0",
        )


async def test_the_last_submitted_box_follows_the_job_until_it_ran(make_tickr, jobs: Jobs) -> None:
    tickr = await make_tickr(workers=2)
    app = TickrApp(tickr)
    async with app.run_test(size=SIZE) as pilot:
        form = await choose_type(pilot, app, "greet")
        form.query_one("#input-0", Input).value = "Ada"
        # Long enough that it is still waiting when the box is first read, on a busy host too.
        app.query_one("#delay", Input).value = str(math.ceil(deadline(2)))
        await pilot.press("ctrl+s")
        pane = app.query_one(SubmitPane)
        await wait_for(pilot, lambda: pane.last_job is not None, "the submit")
        box = app.query_one("#new-job", Static)
        assert "waiting, runs in" in str(box.content)
        await wait_for(pilot, lambda: "succeeded" in str(box.content), "the box to show the job succeeded")
        assert "runs in" not in str(box.content)


async def test_the_delay_and_max_attempts_reset_when_the_job_type_changes(make_tickr, jobs: Jobs) -> None:
    tickr = await make_tickr(workers=0)
    app = TickrApp(tickr)
    async with app.run_test(size=SIZE) as pilot:
        await choose_type(pilot, app, "greet")
        app.query_one("#delay", Input).value = "30"
        app.query_one("#max-attempts", Input).value = "7"
        await choose_type(pilot, app, "hold")
        assert app.query_one("#delay", Input).value == ""
        assert app.query_one("#max-attempts", Input).value == ""


async def test_help_says_what_the_shift_keys_really_do(make_tickr, jobs: Jobs) -> None:
    tickr = await make_tickr(workers=1)
    await dead_jobs(tickr, 1)
    app = TickrApp(tickr)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        note = str(app.screen.query_one("#help-shift", Static).content)
        assert "I'm sure" not in note  # they asked first: the old text said both
        await pilot.press("escape")
        dead = await show_table(pilot, app, "dead")
        await wait_for(pilot, lambda: dead.jobs and app.queues_pane.stats.get("default"), "the dead job")
        capitals = [c for c in COMMANDS if c.keys_label.isalpha() and c.keys_label.isupper()]
        assert {c.keys_label for c in capitals} >= {"D", "R", "X", "P"}
        for command in capitals:
            assert command.keys_label in note
            await pilot.press(command.keys_label)
            await pilot.pause()
            asked = isinstance(app.screen, ConfirmScreen)
            assert asked == command.confirms, f"{command.keys_label}: asks first is {asked}"
            said = note.split(";")[0] if command.confirms else note.split(";")[1]
            assert command.keys_label in said, f"the help puts {command.keys_label} in the wrong group: {note}"
            if asked:
                await pilot.press("n")


def test_a_jobs_module_that_registers_nothing_is_warned_about_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "nojobs_here.py").write_text("VALUE = 1\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "TICKR_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-m", "tickr_app", "worker", "--jobs", "nojobs_here", "--redis", "redis://127.0.0.1:1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=deadline(60),
        check=False,
    )
    warnings = [line for line in done.stderr.splitlines() if "nojobs_here" in line]
    assert len(warnings) == 1 and "registered no job types" in warnings[0], done.stderr


# -- extras: find a job by id, filter by type, delete every dead job -------------------------


async def test_slash_finds_a_job_by_id_or_its_start_and_says_when_there_is_none(make_tickr, jobs: Jobs) -> None:
    tickr = await make_tickr(workers=0)
    job = await tickr.submit("greet", {"name": "Ada"})
    app = TickrApp(tickr)
    async with app.run_test(size=SIZE) as pilot:
        ready = await show_table(pilot, app, "ready")
        await wait_for(pilot, lambda: ready.jobs, "the ready job")

        await pilot.press("slash")
        assert isinstance(app.screen, FindJobScreen)
        await pilot.press(*job.id, "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, JobDetailScreen), "the job's details")
        assert app.screen.job_id == job.id
        await pilot.press("escape")

        await pilot.press("slash", *job.id[:8], "enter")  # the short id the tables show
        await wait_for(pilot, lambda: isinstance(app.screen, JobDetailScreen), "the details from a short id")
        assert app.screen.job_id == job.id
        await pilot.press("escape")

        await pilot.press("slash", *"nosuchjob", "enter")
        await wait_for(
            pilot, lambda: any("No job with id 'nosuchjob'" in str(n.message) for n in app._notifications), "a message"
        )
        assert not isinstance(app.screen, JobDetailScreen)


async def test_f_filters_the_job_tables_by_type_and_back_to_all(make_tickr, jobs: Jobs) -> None:
    tickr = await make_tickr(workers=0)
    greet = [(await tickr.submit("greet", {"name": f"n{i}"})).id for i in range(3)]
    flaky = [(await tickr.submit("flaky", {})).id for _ in range(2)]
    app = TickrApp(tickr)
    async with app.run_test(size=SIZE) as pilot:
        ready = await show_table(pilot, app, "ready")
        await wait_for(pilot, lambda: len(ready.jobs) == 5, "five ready jobs")

        await pilot.press("f")
        assert isinstance(app.screen, TypeFilterScreen)
        options = app.screen.query_one(OptionList)
        options.highlighted = [o.id for o in options.options].index("flaky")
        await pilot.press("enter")
        await wait_for(pilot, lambda: sorted(j.id for j in ready.jobs) == sorted(flaky), "only the flaky jobs")
        assert "type flaky only" in str(app.query_one("#queues-status", Static).content)

        await pilot.press("f")
        app.screen.query_one(OptionList).highlighted = 0  # all types
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(ready.jobs) == 5, "every job again")
        assert set(greet) <= {j.id for j in ready.jobs}


async def test_shift_x_deletes_every_dead_job_of_the_queue_after_asking(make_tickr, jobs: Jobs) -> None:
    tickr = await make_tickr(workers=2)
    ids = await dead_jobs(tickr, 3)
    keep = await tickr.submit("hold", {})
    app = TickrApp(tickr)
    try:
        async with app.run_test(size=SIZE) as pilot:
            dead = await show_table(pilot, app, "dead")
            await wait_for(pilot, lambda: len(dead.jobs) == 3, "three dead jobs")
            await pilot.press("X")
            assert isinstance(app.screen, ConfirmScreen)
            assert "all 3 dead jobs of queue default" in str(app.screen.query_one("#confirm-message", Static).content)
            await pilot.press("n")
            assert len(await tickr.list_jobs("default", "dead")) == 3
            await pilot.press("X", "y")
            for job_id in ids:
                await wait_for(pilot, lambda job_id=job_id: _gone(tickr, job_id), f"dead job {job_id} deleted")
            await wait_for(pilot, lambda: not dead.jobs, "the dead table to empty")
            assert await tickr.get(keep.id) is not None  # only dead jobs go
    finally:
        jobs.gate.set()


async def _gone(tickr: Any, job_id: str) -> bool:
    return await tickr.get(job_id) is None


# -- item 3: the Workers pane keeps the user's target; a silent process goes stale first -------


async def test_the_chosen_process_stays_the_target_when_rows_come_and_go(
    make_tickr, jobs: Jobs, redis_url: str, prefix: str
) -> None:
    a = await make_tickr(workers=2)
    b = await make_tickr(workers=2)
    watcher = await make_tickr(workers=0)
    app = TickrApp(watcher, attach=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        table = app.workers_pane.table
        await wait_for(pilot, lambda: {a.worker_id, b.worker_id} <= set(table.processes), "both processes")
        other = next(k for k in table.row_keys if k != table.cursor_key)
        await pilot.press("down" if table.row_keys.index(other) > table.cursor_row else "up")
        assert app.workers_pane.selected_worker.id == other
        first = a if other == a.worker_id else b
        second = b if first is a else a

        # Its record disappears for a moment (as a too-short expiry did): nothing else becomes the target.
        keys = GlobalKeys(prefix)
        client = aioredis.from_url(redis_url)

        async def dropped() -> bool:  # again at each poll: its heartbeat puts it back within a second
            await client.delete(keys.worker(first.worker_id))
            return first.worker_id not in table.processes

        await wait_for(pilot, dropped, "the chosen process to leave the list")
        assert app.workers_pane.selected_worker is None and "gone" in str(app.query_one("#workers-title").content)
        await pilot.press("plus")
        await pilot.pause(0.3)
        assert second._pool.concurrency == 2, "+ must not scale a process the user did not choose"

        # It comes back with its next heartbeat: still the target, without a key pressed.
        await wait_for(pilot, lambda: first.worker_id in table.processes, "the process to come back")
        assert app.workers_pane.selected_worker.id == first.worker_id
        assert table.cursor_key == first.worker_id
        await pilot.press("plus")
        await wait_for(pilot, lambda: first._pool.concurrency == 3, "the chosen process to scale")
        assert second._pool.concurrency == 2
    await client.aclose()


async def test_a_process_that_stops_beating_is_shown_stale_and_stays_listed(
    make_tickr, redis_url: str, prefix: str, home: Path, tmp_path: Path
) -> None:
    watcher = await make_tickr(workers=0)
    proc = spawn_tickr(
        ["worker", "--redis", redis_url, "--prefix", prefix, "--workers", "1"], log_path=tmp_path / "w.log", home=home
    )
    app = TickrApp(watcher, attach=True)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("3")
            table = app.workers_pane.table
            await wait_for(pilot, lambda: table.processes, "the worker process", timeout=30)
            [wid] = table.processes
            assert wid not in table.stale
            proc.send_signal(signal.SIGSTOP)  # busy, or hung: no heartbeat
            await wait_for(pilot, lambda: wid in table.stale, "the process to be shown stale")
            assert str(table.get_cell(wid, "state")).startswith("stale ")
            assert "1 stale" in str(app.query_one("#workers-title").content)
            # Past the old 5 s expiry it is still listed (stale), so the list does not flicker.
            await wait_for(pilot, lambda: table.stale.get(wid, 0) > 7, "seven seconds without a heartbeat", timeout=15)
            assert wid in table.processes
            proc.send_signal(signal.SIGCONT)
            await wait_for(pilot, lambda: wid not in table.stale, "the process to be fresh again", timeout=10)
            assert str(table.get_cell(wid, "state")) == "running"
    finally:
        proc.send_signal(signal.SIGCONT)
        stop(proc)


# -- item 4: queues no live worker serves are marked ------------------------------------------


async def test_a_queue_no_live_worker_serves_is_marked_in_the_queues_table(make_tickr, jobs: Jobs) -> None:
    worker = await make_tickr(workers=1)  # serves the registry's queues: default and mail
    watcher = await make_tickr(workers=0)
    await watcher.submit("greet", {"name": "x"}, queue="orphans")
    await watcher.submit("greet", {"name": "y"})
    app = TickrApp(watcher, attach=True)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(QueueTable)
        await wait_for(pilot, lambda: {"orphans", "default"} <= set(table.row_keys), "both queues")
        await wait_for(pilot, lambda: str(table.get_cell("orphans", "state")) == "no worker", "orphans marked")
        assert str(table.get_cell("default", "state")) == "running"
        table.select_queue("orphans")
        status = app.query_one("#queues-status", Static)
        await wait_for(pilot, lambda: "no live worker serves it" in str(status.content), "the status line to say so")
        await watcher.pause_queue("orphans")
        await wait_for(pilot, lambda: str(table.get_cell("orphans", "state")) == "paused", "paused shown first")
        assert "no live worker serves it" in str(status.content)
    assert worker._pool is not None
