"""Regenerate screenshots/schedules*.svg: the Schedules pane and its add form, with the real
app, a real engine and a real Redis (a fresh key prefix, deleted afterwards).

    python scripts/screenshots_schedules.py   # TICKR_TEST_REDIS_URL, else redis://127.0.0.1:6379/0
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from screenshots import OUT, SIZE, demo_registry, until  # noqa: E402

from tickr_app import Tickr  # noqa: E402
from tickr_app.tui import TickrApp  # noqa: E402
from tickr_app.tui.screens.schedule_form import ScheduleFormScreen  # noqa: E402
from tickr_app.tui.widgets.schedules_pane import SchedulesPane  # noqa: E402


async def main() -> None:
    url = os.environ.get("TICKR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"tickr-screens-{uuid.uuid4().hex[:8]}"
    tickr = await Tickr(url, workers=4, prefix=prefix, registry=demo_registry(), builtin_jobs=False).start()
    try:
        report = {"name": "nightly sales", "rows": 50_000}
        await tickr.schedule("nightly-sales", "report", report, cron="0 2 * * *", tz="Europe/Berlin")
        digest = {"to": "team@example.com", "subject": "Weekly digest"}
        await tickr.schedule("weekly-digest", "email", digest, cron="0 9 * * MON", tz="America/New_York")
        hook = {"url": "https://hooks.acme.io/health", "event": "ping"}
        await tickr.schedule("health-ping", "webhook", hook, every=15, overlap="skip")
        await tickr.schedule("trial-reminders", "email", digest, cron="30 8 * * *", paused=True)
        await tickr.trigger("nightly-sales")
        app = TickrApp(tickr, api_url="http://127.0.0.1:8000")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("4")
            pane = app.query_one(SchedulesPane)
            await until(pilot, lambda: pane.table.row_count == 4)
            await pilot.pause(2.0)
            app.save_screenshot(str(OUT / "schedules.svg"))
            await pilot.press("a")
            await until(pilot, lambda: isinstance(app.screen, ScheduleFormScreen))
            app.screen.query_one("#sched-id").value = "weekday-standup"
            app.screen.query_one("#sched-when").focus()
            await pilot.press(*"0 9 * * MON-FRI", "tab", *"Europe/Berlin")
            await pilot.pause(0.5)
            app.save_screenshot(str(OUT / "schedules-form.svg"))
    finally:
        await tickr.stop(grace_period=1.0)
        client = redis.Redis.from_url(url)
        try:
            keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start : start + 500])
        finally:
            client.close()
    for name in ("schedules", "schedules-form"):
        print(OUT / f"{name}.svg")


if __name__ == "__main__":
    asyncio.run(main())
