"""Issue 17's TUI items, each driven through the real app on a real engine and Redis.

Every wait is a condition polled with a deadline (``wait_for``), never a fixed sleep.
"""

from __future__ import annotations

from typing import Any

from test_tui import Jobs, wait_for

from tickr_app import Registry
from tickr_app.tui import TickrApp
from tickr_app.tui.widgets.live_table import LiveTable
from tickr_app.tui.widgets.queue_table import QueueTable

import pytest


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
