"""Regenerate screenshots/*.svg: the real app, a real engine, a real Redis, real jobs.

    python scripts/screenshots.py            # TICKR_TEST_REDIS_URL, else redis://127.0.0.1:6379/0

Everything runs on a fresh key prefix that is deleted afterwards; nothing else in the Redis is
touched. Takes about a minute (the jobs really run).
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import redis
from pydantic import BaseModel, Field
from textual.widgets import OptionList

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tickr_app import JobContext, PermanentError, Registry, Tickr  # noqa: E402
from tickr_app.tui import TickrApp  # noqa: E402
from tickr_app.tui.screens.find import TypeFilterScreen  # noqa: E402
from tickr_app.tui.screens.job_detail import JobDetailScreen  # noqa: E402
from tickr_app.tui.screens.welcome import WelcomeScreen  # noqa: E402
from tickr_app.tui.widgets.payload_form import PayloadForm  # noqa: E402
from tickr_app.tui.widgets.submit_pane import SubmitPane  # noqa: E402

OUT = ROOT / "screenshots"
SIZE = (120, 36)


class Email(BaseModel):
    to: str = Field(description="recipient address", pattern=r"^[^@\s]+@[^@\s]+\.[a-z]+$")
    subject: str = Field(description="subject line", max_length=120)
    body: str = Field("", description="plain-text body")
    priority: Literal["low", "normal", "high"] = "normal"
    track_opens: bool = False


class Report(BaseModel):
    name: str = Field(description="report title")
    rows: int = Field(10_000, ge=1, le=1_000_000)
    format: Literal["csv", "xlsx", "pdf"] = "csv"


class Webhook(BaseModel):
    url: str
    event: str = "order.created"


def demo_registry() -> Registry:
    registry = Registry()

    @registry.job("email", timeout=30)
    async def email(payload: Email, ctx: JobContext) -> dict[str, Any]:
        """Send one email."""
        await asyncio.sleep(random.uniform(0.05, 0.4))
        return {"message_id": f"<{uuid.uuid4().hex[:12]}@mail.example.com>", "to": payload.to}

    @registry.job("report", timeout=120)
    async def report(payload: Report, ctx: JobContext) -> dict[str, Any]:
        """Build a report file, reporting progress."""
        steps = random.randint(6, 20)
        for step in range(steps):
            await asyncio.sleep(0.4)
            await ctx.progress(100 * (step + 1) / steps, f"{(step + 1) * payload.rows // steps:,} rows")
        return {"file": f"reports/{payload.name}.{payload.format}", "rows": payload.rows}

    @registry.job("webhook", max_attempts=2, backoff_base=0.2, backoff_cap=0.5, timeout=10)
    async def webhook(payload: Webhook) -> None:
        """Deliver an event to a customer endpoint."""
        await asyncio.sleep(0.1)
        if "partner" in payload.url:
            raise PermanentError(f"POST {payload.url}: 410 Gone (endpoint removed)")
        raise ConnectionError(f"POST {payload.url}: 503 Service Unavailable")

    return registry


async def until(pilot: Any, predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not reach the expected state")
        await pilot.pause(0.1)


async def workload(tickr: Tickr, stop: asyncio.Event) -> None:
    """A steady trickle of emails while the screenshots are taken."""
    n = 0
    while not stop.is_set():
        n += 1
        await tickr.submit("email", {"to": f"user{n}@example.com", "subject": f"Order #{40000 + n} shipped"})
        if n % 25 == 0:  # now and then a report, so the pool stays busy
            await tickr.submit("report", {"name": f"daily-{n}", "rows": 5_000 * (n % 9 + 1)})
        await asyncio.sleep(random.uniform(0.02, 0.12) if (n // 60) % 2 else random.uniform(0.05, 0.3))


async def main() -> None:
    url = os.environ.get("TICKR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"tickr-screens-{uuid.uuid4().hex[:8]}"
    registry = demo_registry()
    OUT.mkdir(exist_ok=True)
    random.seed(7)
    common: dict[str, Any] = {"prefix": prefix, "registry": registry, "builtin_jobs": False, "grace_period": 2.0}
    tickr = await Tickr(url, workers=6, **common).start()
    remote = await Tickr(url, workers=3, **common).start()  # "another process" on the same Redis
    stop = asyncio.Event()
    trickle: asyncio.Task[None] | None = None
    try:
        for i in range(9):
            reminder = {"to": f"reminder{i}@example.com", "subject": "Your trial ends soon"}
            await tickr.submit("email", reminder, delay=20 + 37 * i)
        hooks = []
        for host in ("hooks.acme.io/orders", "api.shopfront.dev/events", "partner.example.net/tickr"):
            for i in range(2):
                event = {"url": f"https://{host}", "event": f"order.{['created', 'paid'][i]}"}
                job = await tickr.submit("webhook", event)
                hooks.append(job.id)
        for job_id in hooks:
            await tickr.wait(job_id, timeout=20)
        for i in range(3):  # a queue no worker serves: the Queues table marks it
            await tickr.submit(
                "email", {"to": f"audit{i}@example.com", "subject": "Export"}, queue="exports-for-the-yearly-audit"
            )
        for i in range(24):
            name = f"sales-{2024 + i % 2}-q{i % 4 + 1}-{i:02d}"
            await tickr.submit("report", {"name": name, "rows": 25_000 * (i % 7 + 1)})
        trickle = asyncio.create_task(workload(tickr, stop))
        await asyncio.sleep(30)  # history for the throughput chart (read back from the event stream)
        for i in range(18):  # a burst: every slot busy, a backlog in Ready
            await tickr.submit("report", {"name": f"inventory-{i:02d}", "rows": 40_000 * (i % 5 + 1)})
            await tickr.submit("email", {"to": f"team{i}@example.com", "subject": "Weekly digest"})

        # The API URL and "embedded Redis" are what `tickr` shows on a fresh machine; they only
        # change the welcome's text and the header (this script drives the test Redis).
        app = TickrApp(tickr, api_url="http://127.0.0.1:8000", embedded_redis=True)
        async with app.run_test(size=SIZE) as pilot:
            # Queues, busy.
            await until(pilot, lambda: len(app.queues_pane.visible_table.jobs) >= 6)
            await pilot.pause(1.5)
            app.save_screenshot(str(OUT / "queues-busy.svg"))

            # Dead letter and a job's details.
            await pilot.press("right_square_bracket")
            dead = app.queues_pane.visible_table
            await until(pilot, lambda: len(dead.jobs) >= 4)
            await pilot.pause(0.3)
            app.save_screenshot(str(OUT / "dead-letter.svg"))
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, JobDetailScreen) and app.screen.job is not None)
            await pilot.pause(0.3)
            app.save_screenshot(str(OUT / "job-detail.svg"))
            await pilot.press("escape")

            # The job tables filtered to one type (f), the Active table of reports.
            await pilot.press("left_square_bracket")
            await pilot.press("f")
            await until(pilot, lambda: isinstance(app.screen, TypeFilterScreen))
            options = app.screen.query_one(OptionList)
            options.highlighted = [o.id for o in options.options].index("report")
            await pilot.press("enter")
            active = app.queues_pane.visible_table
            await until(pilot, lambda: bool(active.jobs) and all(j.type == "report" for j in active.jobs))
            await pilot.pause(1.0)
            app.save_screenshot(str(OUT / "queues-filtered.svg"))
            app.queues_pane.set_type_filter(None)

            # Workers: scale this pool up, scale and pause the other process.
            await pilot.press("3")
            table = app.workers_pane.table
            await until(pilot, lambda: len(table.processes) == 2)
            await pilot.press("plus", "plus")
            await pilot.press("down", "minus", "p")
            await until(pilot, lambda: (s := remote.pool_state()) is not None and s.paused and s.concurrency == 2)
            await pilot.pause(1.2)
            app.save_screenshot(str(OUT / "workers-scaled.svg"))

            # Submit: one job sent, then a field error.
            await pilot.press("1")
            app.query_one("#job-type").value = "email"
            pane = app.query_one(SubmitPane)
            await until(pilot, lambda: pane.form_type == "email")
            await pilot.pause()
            form = app.query_one(PayloadForm)
            form.control("to").focus()
            await pilot.press(*"ada@example.com", "tab", *"Your invoice #1042", "tab", *"Thanks for your order!")
            form.control("priority").value = "high"
            await pilot.press("ctrl+s")
            await until(pilot, lambda: pane.last_job is not None)
            form.control("to").value = "ada at example"
            form.control("subject").value = "Your invoice #1043"
            form.control("to").focus()
            await pilot.press("ctrl+s")
            await until(pilot, lambda: form.control("to").has_class("-invalid"))
            await pilot.pause(1.0)
            app.save_screenshot(str(OUT / "submit-form.svg"))

            # The first-run welcome (w shows it any time) over the Queues pane. Last, and never
            # dismissed: closing it would write the first-run marker into the real TICKR_HOME.
            await pilot.press("escape", "2", "w")
            await until(pilot, lambda: isinstance(app.screen, WelcomeScreen))
            await pilot.pause(0.5)
            app.save_screenshot(str(OUT / "welcome.svg"))
    finally:
        stop.set()
        if trickle is not None:
            await trickle
        await remote.stop(grace_period=1.0)
        await tickr.stop(grace_period=1.0)
        client = redis.Redis.from_url(url)
        try:
            keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start : start + 500])
        finally:
            client.close()
    for name in ("welcome", "submit-form", "queues-busy", "queues-filtered", "workers-scaled", "dead-letter", "job-detail"):
        print(OUT / f"{name}.svg")


if __name__ == "__main__":
    asyncio.run(main())
