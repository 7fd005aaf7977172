"""Regenerate screenshots/workflows*.svg: the Workflows pane with a failed workflow's tree and a
running 400-wide fan-in, with the real app, a real engine and a real Redis (a fresh key prefix,
deleted afterwards).

    python scripts/screenshots_workflows.py   # TICKR_TEST_REDIS_URL, else redis://127.0.0.1:6379/0
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import uuid
from pathlib import Path
from typing import Any

import redis
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from screenshots import OUT, SIZE, until
from tickr_app import JobContext, PermanentError, Registry, Tickr
from tickr_app.core.workflows import chain, group, sig
from tickr_app.tui import TickrApp
from tickr_app.tui.widgets.workflows_pane import WorkflowsPane


class Album(BaseModel):
    album: str = "summer-2026"


class Photo(BaseModel):
    photo: int = 0
    width: int = 800


def registry() -> Registry:
    reg = Registry()

    @reg.job("fetch")
    async def fetch(p: Album) -> list[int]:
        await asyncio.sleep(0.3)
        return list(range(3))

    @reg.job("resize")
    async def resize(p: Photo) -> str:
        await asyncio.sleep(random.uniform(0.2, 0.6))
        return f"{p.photo}@{p.width}.jpg"

    @reg.job("watermark", max_attempts=1)
    async def watermark(p: Photo) -> str:
        await asyncio.sleep(0.2)
        raise PermanentError("watermark: font 'Brand Sans' not found in /usr/share/fonts")

    @reg.job("thumbnail")
    async def thumbnail(p: Photo) -> str:
        await asyncio.sleep(random.uniform(0.3, 1.2))
        return f"thumb-{p.photo}.jpg"

    @reg.job("merge")
    async def merge(p: Album, ctx: JobContext) -> dict[str, Any]:
        return {"files": len(ctx.parent_results)}

    @reg.job("publish")
    async def publish(p: Album) -> str:
        await asyncio.sleep(0.2)
        return f"https://photos.example.com/{p.album}"

    return reg


async def main() -> None:
    url = os.environ.get("TICKR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"tickr-screens-{uuid.uuid4().hex[:8]}"
    random.seed(7)
    tickr = await Tickr(url, workers=8, prefix=prefix, registry=registry(), builtin_jobs=False).start()
    try:
        album = {"album": "summer-2026"}
        ok = chain(
            sig("fetch", album),
            group(*[sig("resize", {"photo": i, "width": w}) for i, w in enumerate((200, 800, 1600))]).then(
                sig("merge", album)
            ),
            sig("publish", album),
        )
        done = await tickr.submit_workflow(ok)
        await tickr.wait_workflow(done.id, timeout=30)
        broken = chain(
            sig("fetch", {"album": "launch-event"}),
            group(
                sig("resize", {"photo": 1, "width": 800}),
                sig("watermark", {"photo": 1}),
                sig("resize", {"photo": 2, "width": 800}),
            ).then(sig("merge", {"album": "launch-event"}, name="merge-launch")),
            sig("publish", {"album": "launch-event"}),
        )
        failed = await tickr.submit_workflow(broken)
        await tickr.wait_workflow(failed.id, timeout=30)
        stopped = await tickr.submit_workflow(chain(sig("fetch", album), sig("publish", album)))
        await tickr.cancel_workflow(stopped.id)
        big = group(*[sig("thumbnail", {"photo": i}) for i in range(400)]).then(sig("merge", album, name="zip-album"))
        running = await tickr.submit_workflow(big)
        app = TickrApp(tickr, api_url="http://127.0.0.1:8000")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("5")
            pane = app.query_one(WorkflowsPane)
            await until(pilot, lambda: pane.table.row_count == 4)
            rows = [str(k.value) for k in pane.table.rows]
            pane.table.move_cursor(row=rows.index(failed.id))
            await until(pilot, lambda: pane.detail is not None and pane.detail.id == failed.id)
            await pilot.pause(1.0)
            app.save_screenshot(str(OUT / "workflows.svg"))
            pane.table.move_cursor(row=rows.index(running.id))
            await until(pilot, lambda: pane.detail is not None and 120 <= pane.detail.done <= 300)
            await pilot.pause(0.3)
            app.save_screenshot(str(OUT / "workflows-fan-in.svg"))
    finally:
        await tickr.stop(grace_period=1.0)
        client = redis.Redis.from_url(url)
        try:
            keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start : start + 500])
        finally:
            client.close()
    for name in ("workflows", "workflows-fan-in"):
        print(OUT / f"{name}.svg")


if __name__ == "__main__":
    asyncio.run(main())
