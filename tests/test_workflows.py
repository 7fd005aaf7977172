"""Workflows through the Python API: chains pass results, groups run in parallel, fan-in fires
once with every result, failure policies, cancel, retry, and bad trees."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import TickrFactory
from helpers import eventually
from pydantic import BaseModel
from timing import deadline

from tickr_app import JobContext, PermanentError, Registry
from tickr_app.core.errors import InvalidPayload, InvalidRequest, UnknownJobType, WorkflowNotFound, WrongState
from tickr_app.core.workflows import MAX_NODES, chain, group, sig


class Num(BaseModel):
    n: int = 0


@pytest.fixture
def wf_registry(registry: Registry) -> Registry:
    gates: dict[str, asyncio.Event] = {}

    @registry.job("add", max_attempts=1)
    async def add(p: Num, ctx: JobContext) -> int:
        prev = ctx.previous
        if isinstance(prev, list):
            prev = sum(prev)
        return (prev or 0) + p.n

    @registry.job("collect", max_attempts=1)
    async def collect(p: Num, ctx: JobContext) -> list[Any]:
        return list(ctx.parent_results)

    @registry.job("slow", max_attempts=1)
    async def slow(p: Num, ctx: JobContext) -> int:
        await asyncio.sleep(p.n / 1000)
        return p.n

    @registry.job("boom", max_attempts=1)
    async def boom(p: Num, ctx: JobContext) -> None:
        if p.n == 0 or not gates.setdefault("fixed", asyncio.Event()).is_set():
            raise PermanentError(f"boom {p.n}")

    @registry.job("gate", max_attempts=1)
    async def gate(p: Num, ctx: JobContext) -> int:
        await gates.setdefault("open", asyncio.Event()).wait()
        return p.n

    @registry.job("gate_prev", max_attempts=1)
    async def gate_prev(p: Num, ctx: JobContext) -> Any:
        await gates.setdefault("open", asyncio.Event()).wait()
        return ctx.previous

    registry.gates = gates  # type: ignore[attr-defined]
    return registry


async def test_chain_passes_results(make_tickr: TickrFactory, wf_registry: Registry) -> None:
    tickr = await make_tickr(workers=3)
    wf = await tickr.submit_workflow(chain(sig("add", {"n": 1}), sig("add", {"n": 2}), sig("add", {"n": 3})))
    assert wf.total == 3 and wf.status == "running"
    done = await tickr.wait_workflow(wf.id, timeout=deadline(10))
    assert done.status == "succeeded", done
    assert [n.result for n in done.nodes] == [1, 3, 6]
    assert done.result == 6 and done.done == 3
    assert [n.parents for n in done.nodes] == [[], [0], [1]]
    assert all(n.status == "succeeded" and n.duration_ms is not None for n in done.nodes)


async def test_group_runs_in_parallel_and_fan_in_gets_results_in_order(
    make_tickr: TickrFactory, wf_registry: Registry
) -> None:
    tickr = await make_tickr(workers=4)
    wf = await tickr.submit_workflow(
        group(sig("slow", {"n": 300}), sig("slow", {"n": 200}), sig("slow", {"n": 100})).then(sig("collect"))
    )
    done = await tickr.wait_workflow(wf.id, timeout=deadline(10))
    assert done.status == "succeeded"
    assert done.result == [300, 200, 100]
    members = done.nodes[:3]
    # Every member started before any finished: they overlapped.
    assert max(n.started_at or 0 for n in members) < min(n.finished_at or 0 for n in members)
    assert done.shape == {"chain": [{"group": [0, 1, 2]}, 3]}


async def test_nested_tree(make_tickr: TickrFactory, wf_registry: Registry) -> None:
    tickr = await make_tickr(workers=4)
    tree = chain(
        sig("add", {"n": 1}),
        group(chain(sig("add", {"n": 10}), sig("add", {"n": 100})), sig("add", {"n": 5})),
        sig("collect"),
    )
    done = await tickr.wait_workflow((await tickr.submit_workflow(tree)).id, timeout=deadline(10))
    assert done.status == "succeeded"
    assert done.result == [111, 6]


async def test_fail_fast_fails_the_rest(make_tickr: TickrFactory, wf_registry: Registry) -> None:
    tickr = await make_tickr(workers=3)
    wf = await tickr.submit_workflow(chain(group(sig("boom", {"n": 0}), sig("gate", {"n": 1})), sig("collect")))
    done = await tickr.wait_workflow(wf.id, timeout=deadline(10))
    assert done.status == "failed"
    assert done.failed_node == 0 and done.error and "boom 0" in done.error
    statuses = [n.status for n in done.nodes]
    assert statuses[0] == "dead"
    assert statuses[2] == "skipped"

    # The running gate was asked to stop and ends cancelled.
    async def gate_cancelled() -> bool:
        return (await tickr.get_workflow(wf.id)).nodes[1].status == "cancelled"

    deadline_at = asyncio.get_running_loop().time() + deadline(10)
    while not await gate_cancelled():
        assert asyncio.get_running_loop().time() < deadline_at
        await asyncio.sleep(0.02)


async def test_continue_policy_runs_the_others(make_tickr: TickrFactory, wf_registry: Registry) -> None:
    tickr = await make_tickr(workers=3)
    wf = await tickr.submit_workflow(
        group(chain(sig("boom", {"n": 0}), sig("add", {"n": 1})), chain(sig("add", {"n": 2}), sig("add", {"n": 3}))),
        policy="continue",
    )
    done = await tickr.wait_workflow(wf.id, timeout=deadline(10))
    assert done.status == "failed" and done.failed_node == 0
    assert [n.status for n in done.nodes] == ["dead", "skipped", "succeeded", "succeeded"]
    assert done.nodes[3].result == 5


async def test_retry_of_a_dead_node_resumes(make_tickr: TickrFactory, wf_registry: Registry) -> None:
    tickr = await make_tickr(workers=3)
    wf = await tickr.submit_workflow(chain(sig("add", {"n": 1}), sig("boom", {"n": 7}), sig("add", {"n": 5})))
    failed = await tickr.wait_workflow(wf.id, timeout=deadline(10))
    assert failed.status == "failed" and [n.status for n in failed.nodes] == ["succeeded", "dead", "skipped"]
    wf_registry.gates.setdefault("fixed", asyncio.Event()).set()  # type: ignore[attr-defined]
    await tickr.retry(failed.nodes[1].job_id)  # a plain job retry resumes the workflow
    done = await tickr.wait_workflow(wf.id, timeout=deadline(10))
    assert done.status == "succeeded", done
    assert done.result == 5


async def test_retry_workflow_and_cancel(make_tickr: TickrFactory, wf_registry: Registry) -> None:
    tickr = await make_tickr(workers=3)
    gates = wf_registry.gates  # type: ignore[attr-defined]
    wf = await tickr.submit_workflow(chain(sig("gate", {"n": 1}), sig("add", {"n": 1})))
    cancelled = await tickr.cancel_workflow(wf.id)
    assert cancelled.status == "cancelled"
    with pytest.raises(WrongState):
        await tickr.cancel_workflow(wf.id)
    done = await tickr.wait_workflow(wf.id, timeout=deadline(10))
    assert done.status == "cancelled"
    assert done.nodes[1].status == "cancelled" or done.nodes[1].status == "skipped"
    gates.setdefault("open", asyncio.Event()).set()
    resumed = await tickr.retry_workflow(wf.id)
    assert resumed.status == "running"
    done = await tickr.wait_workflow(wf.id, timeout=deadline(10))
    assert done.status == "succeeded" and done.result == 2
    with pytest.raises(WrongState):
        await tickr.retry_workflow(wf.id)


async def test_large_fan_in(make_tickr: TickrFactory, wf_registry: Registry) -> None:
    tickr = await make_tickr(workers=50)
    wf = await tickr.submit_workflow(group(*[sig("add", {"n": i}) for i in range(1000)]).then(sig("add", {"n": 0})))
    done = await tickr.wait_workflow(wf.id, timeout=deadline(30))
    assert done.status == "succeeded" and done.total == 1001
    assert done.result == sum(range(1000))
    listed = await tickr.list_workflows()
    assert [(w.id, w.done, w.total) for w in listed] == [(wf.id, 1001, 1001)]


async def test_bad_trees(make_tickr: TickrFactory, wf_registry: Registry) -> None:
    tickr = await make_tickr(workers=0)
    with pytest.raises(UnknownJobType, match="node 1"):
        await tickr.submit_workflow(chain(sig("add"), sig("nope")))
    with pytest.raises(InvalidPayload, match="node 0"):
        await tickr.submit_workflow(chain(sig("add", {"n": "x"})))
    with pytest.raises(InvalidRequest, match="at least one"):
        await tickr.submit_workflow(group())
    with pytest.raises(InvalidRequest, match=f"more than {MAX_NODES} nodes"):
        await tickr.submit_workflow(group(*[group(*[sig("add")] * 1000)] * 5, sig("add")))
    with pytest.raises(InvalidRequest, match="more than 1000 members"):
        await tickr.submit_workflow(group(*[sig("add")] * 1001))
    with pytest.raises(InvalidRequest, match="policy"):
        await tickr.submit_workflow(sig("add"), policy="maybe")
    with pytest.raises(InvalidRequest):
        await tickr.submit_workflow({"chain": [{"type": "add", "bogus": 1}]})
    with pytest.raises(WorkflowNotFound):
        await tickr.get_workflow("00000000-0000-4000-8000-000000000000")
    assert await tickr.list_workflows() == []


async def test_results_outlive_the_jobs_retention(make_tickr: TickrFactory, wf_registry: Registry) -> None:
    """The first node's job record expires (retention 0.2 s) before the second runs: the second
    still gets its result."""
    tickr = await make_tickr(workers=2, retention=0.2)
    wf = await tickr.submit_workflow(chain(sig("add", {"n": 41}), sig("gate_prev")))
    first = (await tickr.get_workflow(wf.id)).nodes[0]

    async def expired() -> bool:
        return await tickr.get(first.job_id) is None

    await eventually(expired, message="the first node's job record expired")
    wf_registry.gates.setdefault("open", asyncio.Event()).set()  # type: ignore[attr-defined]
    done = await tickr.wait_workflow(wf.id, timeout=deadline(10))
    assert done.status == "succeeded" and done.result == 41
    assert done.nodes[0].result == 41 and done.nodes[0].has_result


async def test_deleting_or_cancelling_a_node_job_never_leaves_the_workflow_hanging(
    make_tickr: TickrFactory, wf_registry: Registry
) -> None:
    tickr = await make_tickr(workers=0)
    a = await tickr.submit_workflow(chain(sig("add"), sig("add")))
    await tickr.delete(a.nodes[0].job_id)
    after = await tickr.get_workflow(a.id)
    assert after.status == "failed" and after.nodes[0].status == "cancelled" and after.nodes[1].status == "skipped"
    b = await tickr.submit_workflow(group(sig("add"), chain(sig("add"), sig("add"))), policy="continue")
    await tickr.cancel(b.nodes[1].job_id)
    mid = await tickr.get_workflow(b.id)
    assert mid.status == "running" and [n.status for n in mid.nodes] == ["ready", "cancelled", "skipped"]
    worker = await make_tickr(workers=2)
    done = await worker.wait_workflow(b.id, timeout=deadline(10))
    assert done.status == "failed" and done.failed_node == 1 and done.error == "cancelled"
    assert [n.status for n in done.nodes] == ["succeeded", "cancelled", "skipped"]
    resumed = await worker.retry_workflow(b.id)
    assert resumed.status == "running"
    assert (await worker.wait_workflow(b.id, timeout=deadline(10))).status == "succeeded"


async def test_retry_all_dead_resumes_workflows(make_tickr: TickrFactory, wf_registry: Registry) -> None:
    tickr = await make_tickr(workers=2)
    wf = await tickr.submit_workflow(group(sig("boom", {"n": 1}), sig("boom", {"n": 2})).then(sig("collect")))
    failed = await tickr.wait_workflow(wf.id, timeout=deadline(10))
    assert failed.status == "failed"
    wf_registry.gates.setdefault("fixed", asyncio.Event()).set()  # type: ignore[attr-defined]

    async def all_dead() -> bool:
        nodes = (await tickr.get_workflow(wf.id)).nodes
        return [n.status for n in nodes[:2]] == ["dead", "dead"] or (
            sorted(n.status for n in nodes[:2]) == ["cancelled", "dead"]
        )

    await eventually(all_dead, message="both members ended")
    await tickr.retry_dead()
    if (await tickr.get_workflow(wf.id)).nodes[1].status == "cancelled":
        await tickr.retry_workflow(wf.id)
    done = await tickr.wait_workflow(wf.id, timeout=deadline(10))
    assert done.status == "succeeded" and done.result == [None, None]


async def test_a_long_chain_reads_fast(make_tickr: TickrFactory, wf_registry: Registry) -> None:
    """A 3001-node chain whose first node died: every node's status in one read (skipped)."""
    tickr = await make_tickr(workers=1)
    wf = await tickr.submit_workflow(
        chain(sig("boom", {"n": 0}), *[chain(*[sig("add")] * 1000)] * 3), policy="continue"
    )
    done = await tickr.wait_workflow(wf.id, timeout=deadline(10))
    assert done.status == "failed" and done.total == 3001
    assert {n.status for n in done.nodes[1:]} == {"skipped"}


async def test_thread_and_process_handlers_get_the_results(make_tickr: TickrFactory, wf_registry: Registry) -> None:
    import os

    import wfjobs

    wf_registry.job("in_thread", run_in="thread")(wfjobs.wf_in_thread)
    wf_registry.job("in_process", run_in="process")(wfjobs.wf_in_process)
    tickr = await make_tickr(workers=2)
    wf = await tickr.submit_workflow(
        chain(sig("add", {"n": 7}), sig("in_thread", {"n": 0}), sig("in_process", {"n": 0}))
    )
    done = await tickr.wait_workflow(wf.id, timeout=deadline(30))
    assert done.status == "succeeded", done
    assert done.nodes[1].result == [7]
    out = done.result
    assert out["pid"] != os.getpid() and out["workflow"] == wf.id and out["node"] == 2 and out["previous"] == [7]


async def test_a_node_lost_on_its_last_attempt_fails_the_workflow(
    make_tickr: TickrFactory, wf_registry: Registry
) -> None:
    """Lease recovery sends a node whose worker died on its last attempt to dead: under
    fail_fast the workflow is failed, never left waiting for a callback that cannot come."""
    lease = deadline(1.0)
    first = await make_tickr(workers=1, lease=lease)
    wf = await first.submit_workflow(chain(sig("gate", {"n": 1}), sig("add")))

    async def running() -> bool:
        return (await first.get_workflow(wf.id)).nodes[0].status == "active"

    await eventually(running, message="the first node runs")
    await first._pool.kill()  # type: ignore[union-attr]  # dies without releasing: the lease stays
    second = await make_tickr(workers=0, scheduler=True, lease=lease)
    done = await second.wait_workflow(wf.id, timeout=deadline(15))
    assert done.status == "failed" and done.failed_node == 0
    assert "lease expired" in (done.error or "")
    assert [n.status for n in done.nodes] == ["dead", "skipped"]
