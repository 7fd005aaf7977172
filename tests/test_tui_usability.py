"""Issue 17's TUI items, each driven through the real app on a real engine and Redis.

Every wait is a condition polled with a deadline (``wait_for``), never a fixed sleep.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_tui import Jobs, wait_for
from textual.app import App, ComposeResult
from textual.widgets import Static

from tickr_app import Registry
from tickr_app.tui import TickrApp
from tickr_app.tui.widgets.live_table import LiveTable
from tickr_app.tui.widgets.queue_table import QueueTable
from tickr_app.tui.widgets.throughput import Throughput


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


def chart(app: App[Any]) -> tuple[str, list[str]]:
    label = str(app.query_one("#throughput-label", Static).content)
    bars = app.query_one("#throughput-spark")
    return label, [bars.render_line(y).text for y in range(bars.size.height)]


async def test_a_trickle_of_jobs_draws_low_bars_against_the_labelled_scale() -> None:
    app = ChartApp()
    async with app.run_test(size=(60, 6)) as pilot:
        throughput = app.query_one(Throughput)
        t0 = 1_000_000.0
        # One job every 30 s for two minutes: 0.03 jobs/s.
        for i in range(5):
            throughput.record(i, t=t0 + 30 * i)
        await pilot.pause()
        label, rows = chart(app)
        assert "peak 0.03/s" in label and "bars to 1/s" in label  # was "peak 0.0/s"
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
        label, rows = chart(app)
        assert "bars to 10/s" in label
        hidden = throughput.data[-30:-2]
        assert all(abs(rate - 1.0) < 0.01 for rate in hidden), hidden
        # 1/s against a 10/s scale: two or three eighths of one line of three, not a full bar.
        assert not rows[0][-20:].strip() and not rows[1][-20:].strip()
