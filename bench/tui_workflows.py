"""Does watching a large workflow slow the loop the jobs run on? The real app (headless test
driver) shows one pane while a 1,000-wide fan-in of 200 ms jobs runs on 40 workers in the same
process; the loop lag is sampled every 0.1 s until the workflow ends. Run it once with the
Workflows pane (5, the fan-in selected: its tree is read and drawn) and once with the Queues pane
(2) as the baseline.

    python bench/tui_workflows.py --redis redis://127.0.0.1:6379/14 [--pane 5] [--members 1000]

Prints the wall time, how many times the pane read the workflow's nodes, and the loop lag
p50/max (``Tickr.loop_lag``, the largest lag of about the last second). Keys live under a fresh
prefix, deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path

import redis
from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tickr_app import Registry, Tickr
from tickr_app.core.workflows import group, sig
from tickr_app.tui import TickrApp
from tickr_app.tui.widgets.workflows_pane import WorkflowsPane


class Empty(BaseModel):
    pass


async def main(url: str, pane_key: str, members: int) -> None:
    registry = Registry()

    @registry.job("nap")
    async def nap(payload: Empty) -> int:
        await asyncio.sleep(0.2)
        return 1

    prefix = f"tickrbench-tuiwf-{uuid.uuid4().hex[:6]}"
    tickr = Tickr(url, workers=40, prefix=prefix, registry=registry, builtin_jobs=False, retention=600)
    await tickr.start()
    try:
        app = TickrApp(tickr)
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.press(pane_key)
            wf = await tickr.submit_workflow(group(*[sig("nap") for _ in range(members)]).then(sig("nap")))
            lags: list[float] = []
            t0 = time.perf_counter()
            while (await tickr.list_workflows(limit=1))[0].status == "running":
                lag = tickr.loop_lag()
                if lag is not None:
                    lags.append(lag.lag_ms)
                await pilot.pause(0.1)
            took = time.perf_counter() - t0
            reads = app.query_one(WorkflowsPane).detail_reads
        lags.sort()
        print(
            f"pane {pane_key}: workflow {wf.id[:8]} of {members + 1} nodes ran {took:.1f} s; nodes read {reads}x; "
            f"loop lag p50 {lags[len(lags) // 2]:.0f} ms, max {lags[-1]:.0f} ms ({len(lags)} samples)"
        )
    finally:
        await tickr.stop(grace_period=1.0)
        client = redis.Redis.from_url(url)
        try:
            keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start : start + 500])
        finally:
            client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--pane", default="5", choices=["1", "2", "3", "4", "5"])
    parser.add_argument("--members", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(main(args.redis, args.pane, args.members))
