"""Workflows through the Python API: chains pass results, groups run in parallel, fan-in fires
once with every result, failure policies, cancel, retry, and bad trees."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import TickrFactory
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
    with pytest.raises(InvalidRequest, match="more than"):
        await tickr.submit_workflow(group(*[sig("add")] * (MAX_NODES + 1)))
    with pytest.raises(InvalidRequest, match="policy"):
        await tickr.submit_workflow(sig("add"), policy="maybe")
    with pytest.raises(InvalidRequest):
        await tickr.submit_workflow({"chain": [{"type": "add", "bogus": 1}]})
    with pytest.raises(WorkflowNotFound):
        await tickr.get_workflow("00000000-0000-4000-8000-000000000000")
    assert await tickr.list_workflows() == []
