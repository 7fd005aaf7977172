"""The ``workflows`` workload of ``tickr bench``: a 100-long chain and a 1,000-wide fan-in, each
beside the plain jobs that do the same work in the same run, so the cost of an edge reads off.

- **chain**: ``chain(noop × N)`` submitted and run to the end, against N plain jobs submitted one
  after another, each awaited (``submit`` then ``wait``) before the next: what a client does
  without workflows. Both are sequential: one job runs at a time.
- **fan-in**: ``group(noop × M).then(noop)``, against M plain jobs submitted with one
  ``submit_many`` and drained by the same pool, then the callback submitted and awaited once
  every one succeeded (a client-side fan-in).

The clock runs from the submit to the last job's success (Redis' succeeded count, polled every
5 ms as the drain workload does); the workflow is read back afterwards, untimed, to check it
succeeded. ``overhead_per_edge_ms`` = (workflow − plain) / edges: the time each dependency adds;
``submit_seconds`` is the share of the ``submit_workflow`` call (validation and the one script
that stores every node), ``plain_submit_seconds`` the ``submit_many`` call's.
"""

from __future__ import annotations

import time
from typing import Any

from .progress import Progress, ProgressFactory
from .workloads import _wait_completed

CHAIN_NODES = 100
FAN_IN_MEMBERS = 1000
TIMEOUT_S = 120.0


async def workload_workflows(
    adapter: Any,
    concurrency: int,
    chain_nodes: int = CHAIN_NODES,
    fan_in: int = FAN_IN_MEMBERS,
    progress: ProgressFactory = Progress,
) -> dict[str, Any]:
    from ..core.workflows import chain, group, sig

    await adapter.reset("workflows")
    await adapter.start_workers(concurrency)
    producer = adapter.producer
    try:
        warm = await producer.submit_workflow(chain(sig("noop"), group(sig("noop"), sig("noop")), sig("noop")))
        await producer.wait_workflow(warm.id, timeout=TIMEOUT_S)  # scripts loaded, connections open
        await producer.wait((await producer.submit("noop", {})).id, timeout=TIMEOUT_S)

        bar = progress("tickr workflows: chain, plain", chain_nodes)
        t0 = time.perf_counter()
        for i in range(chain_nodes):
            job = await producer.submit("noop", {})
            await producer.wait(job.id, timeout=TIMEOUT_S)
            bar.update(i + 1)
        plain_chain = time.perf_counter() - t0
        bar.finish(f"{chain_nodes / plain_chain:,.0f} jobs/s")

        bar = progress("tickr workflows: chain", chain_nodes)
        chain_s, chain_submit, chain_ok = await _timed_workflow(
            adapter, chain(*[sig("noop") for _ in range(chain_nodes)]), chain_nodes, bar
        )

        bar = progress("tickr workflows: fan-in, plain", fan_in + 1)
        baseline = await adapter.completed()
        t0 = time.perf_counter()
        await adapter.submit_bulk("noop", [{} for _ in range(fan_in)])
        plain_submit = time.perf_counter() - t0
        _done, plain_ok = await _wait_completed(adapter, fan_in, baseline, TIMEOUT_S, bar)
        await producer.wait((await producer.submit("noop", {})).id, timeout=TIMEOUT_S)
        plain_fan = time.perf_counter() - t0
        bar.finish(f"{(fan_in + 1) / plain_fan:,.0f} jobs/s")

        bar = progress("tickr workflows: fan-in", fan_in + 1)
        fan_s, fan_submit, fan_ok = await _timed_workflow(
            adapter, group(*[sig("noop") for _ in range(fan_in)]).then(sig("noop")), fan_in + 1, bar
        )
    finally:
        await adapter.stop_workers()
    return {
        "chain": _row(chain_nodes, chain_nodes - 1, chain_s, plain_chain, chain_ok) | {"submit_seconds": chain_submit},
        "fan_in": _row(fan_in + 1, fan_in, fan_s, plain_fan, fan_ok and plain_ok)
        | {"members": fan_in, "submit_seconds": fan_submit, "plain_submit_seconds": round(plain_submit, 4)},
    }


async def _timed_workflow(adapter: Any, tree: Any, nodes: int, bar: Any) -> tuple[float, float, bool]:
    """Seconds from the submit to the last node's success, of them the submit call's, and
    whether the workflow succeeded."""
    baseline = await adapter.completed()
    t0 = time.perf_counter()
    wf = await adapter.producer.submit_workflow(tree)
    submit = round(time.perf_counter() - t0, 4)
    _done, finished = await _wait_completed(adapter, nodes, baseline, TIMEOUT_S, bar)
    seconds = time.perf_counter() - t0
    info = await adapter.producer.wait_workflow(wf.id, timeout=TIMEOUT_S if finished else 1.0)
    ok = finished and info.status == "succeeded"
    bar.finish(f"{nodes / seconds:,.0f} jobs/s" + ("" if ok else f" ({info.status})"))
    return seconds, submit, ok


def _row(jobs: int, edges: int, seconds: float, plain_seconds: float, ok: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "jobs": jobs,
        "edges": edges,
        "seconds": round(seconds, 4),
        "jobs_per_s": round(jobs / seconds, 1) if seconds > 0 else 0.0,
        "plain_seconds": round(plain_seconds, 4),
        "plain_jobs_per_s": round(jobs / plain_seconds, 1) if plain_seconds > 0 else 0.0,
        "overhead_per_edge_ms": round((seconds - plain_seconds) * 1000 / max(1, edges), 3),
    }
    if not ok:
        out["failed"] = True
    return out
