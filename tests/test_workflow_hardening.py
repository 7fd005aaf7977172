"""Workflows under the job-level operations that can lose a node or fire it twice: a dead set
trimmed as the node dies, a node restarted while its old attempt may still ack, a cancel whose
worker died, forgetting a queue that holds workflows, deleting a workflow, idempotent submits,
the job record naming its workflow, and the workflow index that must not grow for ever."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import TickrFactory
from helpers import eventually
from pydantic import BaseModel
from timing import deadline

from tickr_app import JobContext, PermanentError, Registry, Tickr
from tickr_app.core.errors import IdempotencyConflict, QueueNotEmpty, WorkflowNotFound, WrongState
from tickr_app.core.workflows import chain, group, sig


class Num(BaseModel):
    n: int = 0


@pytest.fixture
def wf_registry(registry: Registry) -> Registry:
    @registry.job("add", max_attempts=1)
    async def add(p: Num, ctx: JobContext) -> int:
        return (ctx.previous or 0) + p.n

    @registry.job("boom", max_attempts=1)
    async def boom(p: Num) -> None:
        raise PermanentError(f"boom {p.n}")

    return registry


def broker_of(tickr: Tickr) -> Any:
    return tickr._broker  # the engine's own: these tests play a worker step by step


async def test_a_node_dying_into_a_full_dead_set_still_fails_its_workflow(
    make_tickr: TickrFactory, wf_registry: Registry
) -> None:
    """Trimming the dead set may drop the record of the job that just died; the workflow hook
    reads the workflow from that record, so it must run first or the workflow hangs running."""
    tickr = await make_tickr(workers=1, dead_cap=0)
    wf = await tickr.submit_workflow(chain(sig("boom", {"n": 1}), sig("add")))
    done = await tickr.wait_workflow(wf.id, timeout=deadline(10))
    assert done.status == "failed" and done.failed_node == 0 and "boom 1" in (done.error or "")
    assert [n.status for n in done.nodes] == ["dead", "skipped"]
    assert await tickr.get(done.nodes[0].job_id) is None  # the cap dropped its record
    assert (await tickr.retry_workflow(wf.id)).status == "running"  # recreated from its spec
    again = await tickr.wait_workflow(wf.id, timeout=deadline(10))
    assert again.status == "failed" and (again.finished_at or 0) >= (done.finished_at or 0)  # it ran again
    assert (await tickr.stats())[wf.queue].by_type["boom"]["dead"] == 2


async def test_delete_all_dead_leaves_a_retryable_workflow(make_tickr: TickrFactory, wf_registry: Registry) -> None:
    tickr = await make_tickr(workers=0)
    broker = broker_of(tickr)
    wf = await tickr.submit_workflow(chain(sig("add", {"n": 1}), sig("add", {"n": 2})))
    (leased,) = await broker.fetch(wf.queue, 1, "w1", 60_000)
    assert await broker.fail(leased, "boom", "", 0, retryable=False) == "dead"
    assert await tickr.delete_dead(wf.queue) == 1
    assert await tickr.get(leased.id) is None
    info = await tickr.retry_workflow(wf.id)
    assert info.status == "running" and info.nodes[0].status == "ready"
    (again,) = await broker.fetch(wf.queue, 1, "w1", 60_000)
    assert again.id == leased.id and again.token != leased.token


async def test_a_restarted_node_never_hands_out_an_old_lease_token(
    make_tickr: TickrFactory, wf_registry: Registry
) -> None:
    """A retried workflow recreates its dead node's job; the same worker leasing it again must
    get a new token, or the late ack of the attempt that went dead would pass as the new one."""
    tickr = await make_tickr(workers=0)
    broker = broker_of(tickr)
    wf = await tickr.submit_workflow(chain(sig("add", {"n": 1}), sig("add", {"n": 2})))
    (old,) = await broker.fetch(wf.queue, 1, "w1", 60_000)
    assert await broker.fail(old, "lost", "", 0, retryable=False) == "dead"
    assert (await tickr.get_workflow(wf.id)).status == "failed"
    await tickr.retry_workflow(wf.id)
    (new,) = await broker.fetch(wf.queue, 1, "w1", 60_000)
    assert new.id == old.id and new.token != old.token
    assert await broker.ack(wf.queue, [(old, "100")]) == [False]  # the stale attempt's result
    assert await broker.ack(wf.queue, [(new, "1")]) == [True]
    assert await broker.ack(wf.queue, [(new, "1")]) == [False]  # a re-sent ack changes nothing
    info = await tickr.get_workflow(wf.id)
    assert info.nodes[0].result == 1 and info.done == 1 and info.nodes[1].status == "ready"


async def test_a_cancelled_job_whose_worker_died_is_cancelled_not_run_again(
    make_tickr: TickrFactory, wf_registry: Registry
) -> None:
    """Cancel asked of a running node (the workflow was cancelled), then its worker died: lease
    recovery records it cancelled; before, it went back to waiting and ran again."""
    tickr = await make_tickr(workers=0)
    broker = broker_of(tickr)
    wf = await tickr.submit_workflow(chain(sig("add"), sig("add")))
    (leased,) = await broker.fetch(wf.queue, 1, "w1", 1)  # a 1 ms lease: expired at once
    assert (await tickr.cancel_workflow(wf.id)).status == "cancelled"
    assert (await tickr.get(leased.id)).cancel_requested  # type: ignore[union-attr]

    async def recovered() -> bool:
        return await broker.recover(wf.queue) == 1

    await eventually(recovered, message="the lost lease recovered")
    job = await tickr.get(leased.id)
    assert job is not None and job.status == "cancelled"
    info = await tickr.get_workflow(wf.id)
    assert [n.status for n in info.nodes] == ["cancelled", "skipped"]
    assert await tickr.delete_workflow(wf.id) is None  # nothing is left running: it may go


async def test_forget_queue_refuses_a_queue_holding_workflows(make_tickr: TickrFactory, wf_registry: Registry) -> None:
    tickr = await make_tickr(workers=0)
    wf = await tickr.submit_workflow(chain(sig("add"), sig("add")), queue="flows")
    await tickr.cancel_workflow(wf.id)  # no job left in the queue, only the workflow's record
    with pytest.raises(QueueNotEmpty, match=r"still holds workflows \(1 workflows\)") as info:
        await tickr.forget_queue("flows")
    assert info.value.details == {"ready": 0, "waiting": 0, "active": 0, "dead": 0, "schedules": 0, "workflows": 1}
    assert (await tickr.get_workflow(wf.id)).status == "cancelled"
    await tickr.delete_workflow(wf.id)
    await tickr.forget_queue("flows")
    assert "flows" not in await tickr.known_queues()


async def test_an_expired_workflow_does_not_keep_its_queue(make_tickr: TickrFactory, wf_registry: Registry) -> None:
    tickr = await make_tickr(workers=0, retention=0.1)
    wf = await tickr.submit_workflow(sig("add"), queue="flows")
    await tickr.cancel_workflow(wf.id)  # a cancelled workflow expires with the retention

    async def expired() -> bool:
        try:
            await tickr.get_workflow(wf.id)
        except WorkflowNotFound:
            return True
        return False

    await eventually(expired, message="the workflow expired")
    await tickr.forget_queue("flows")


async def test_delete_workflow(make_tickr: TickrFactory, wf_registry: Registry) -> None:
    """Only an ended workflow goes, with its node jobs' records (and their index entries)."""
    tickr = await make_tickr(workers=0)
    broker = broker_of(tickr)
    wf = await tickr.submit_workflow(group(sig("add", {"n": 1}), sig("add", {"n": 2})).then(sig("add")))
    with pytest.raises(WrongState, match="cancel it first"):
        await tickr.delete_workflow(wf.id)
    leased = await broker.fetch(wf.queue, 1, "w1", 60_000)
    await tickr.cancel_workflow(wf.id)
    with pytest.raises(WrongState, match="asked to stop"):  # the leased node still runs
        await tickr.delete_workflow(wf.id)
    assert await broker.finish_cancel(leased[0])
    await tickr.delete_workflow(wf.id)
    with pytest.raises(WorkflowNotFound):
        await tickr.get_workflow(wf.id)
    for node in wf.nodes:
        assert await tickr.get(node.job_id) is None
    assert await tickr.list_jobs(wf.queue, "cancelled") == []
    assert wf.id not in [w.id for w in await tickr.list_workflows()]
    with pytest.raises(WorkflowNotFound):
        await tickr.delete_workflow(wf.id)


async def test_submit_with_an_idempotency_key_stores_one_workflow(
    make_tickr: TickrFactory, wf_registry: Registry
) -> None:
    tickr = await make_tickr(workers=0)
    tree = chain(sig("add", {"n": 1}), sig("add", {"n": 2}))
    first = await tickr.submit_workflow(tree, idempotency_key="order-7")
    again = await tickr.submit_workflow(tree, idempotency_key="order-7")
    assert again.id == first.id and [n.job_id for n in again.nodes] == [n.job_id for n in first.nodes]
    assert len(await tickr.list_jobs(first.queue, "ready")) == 1  # the root once
    with pytest.raises(IdempotencyConflict) as conflict:
        await tickr.submit_workflow(chain(sig("add", {"n": 1}), sig("add", {"n": 3})), idempotency_key="order-7")
    assert conflict.value.details == {"workflow_id": first.id}
    with pytest.raises(IdempotencyConflict):
        await tickr.submit_workflow(tree, policy="continue", idempotency_key="order-7")
    other = await tickr.submit_workflow(tree, idempotency_key="order-8")
    assert other.id != first.id
    await tickr.cancel_workflow(first.id)
    await tickr.delete_workflow(first.id)
    with pytest.raises(WorkflowNotFound, match="idempotency key"):
        await tickr.submit_workflow(tree, idempotency_key="order-7")


async def test_a_node_job_names_its_workflow(make_tickr: TickrFactory, wf_registry: Registry) -> None:
    tickr = await make_tickr(workers=0)
    wf = await tickr.submit_workflow(chain(sig("add"), sig("add")))
    job = await tickr.get(wf.nodes[0].job_id)
    assert job is not None and job.workflow_id == wf.id and job.node == 0
    assert job.to_dict()["workflow_id"] == wf.id
    plain = await tickr.submit("add", {})
    assert (plain.workflow_id, plain.node) == (None, None)


async def test_the_workflow_index_sheds_expired_workflows_as_new_ones_come(
    make_tickr: TickrFactory, wf_registry: Registry
) -> None:
    """A finished workflow's hash expires but its index entry stayed for ever (listing cleans
    only the newest few hundred): each submit now drops expired entries it samples."""
    tickr = await make_tickr(workers=0, retention=0.1)
    broker = broker_of(tickr)
    index = broker.keys("default").workflows
    old = [await tickr.submit_workflow(sig("add")) for _ in range(10)]
    for wf in old:
        await tickr.cancel_workflow(wf.id)

    async def all_expired() -> bool:
        pipe = broker.redis.pipeline(transaction=False)
        for wf in old:
            pipe.exists(broker.keys("default").workflow(wf.id))
        return not any(await pipe.execute())

    await eventually(all_expired, message="the cancelled workflows expired")
    for _ in range(30):
        await tickr.submit_workflow(sig("add"))
    left = await broker.redis.zmscore(index, [wf.id for wf in old])
    assert sum(score is not None for score in left) <= 5, left


async def test_results_stay_when_the_job_record_of_a_parent_is_deleted(
    make_tickr: TickrFactory, wf_registry: Registry
) -> None:
    """Deleting a finished parent's job (DELETE-like cleanup, delete-dead) loses nothing: the
    fan-in gets the result kept in the workflow."""
    tickr = await make_tickr(workers=0)
    broker = broker_of(tickr)
    wf = await tickr.submit_workflow(group(sig("add", {"n": 1}), sig("add", {"n": 2})).then(sig("add")))
    leased = await broker.fetch(wf.queue, 2, "w1", 60_000)
    by_id = {j.id: j for j in leased}
    first = by_id[wf.nodes[0].job_id]
    assert await broker.ack(wf.queue, [(first, "1")]) == [True]
    assert await tickr.delete(first.id) == "deleted"
    assert await broker.ack(wf.queue, [(by_id[wf.nodes[1].job_id], "2")]) == [True]
    (fan_in,) = await broker.fetch(wf.queue, 1, "w1", 60_000)
    assert fan_in.id == wf.nodes[2].job_id
    job = await tickr.get(fan_in.id)
    assert job is not None and job.workflow_id == wf.id and job.node == 2
    key = broker.keys(wf.queue).job(fan_in.id)
    assert await broker.redis.hget(key, "inputs") == "[1,2]"
    assert await broker.ack(wf.queue, [(fan_in, "3")]) == [True]
    assert not await broker.redis.hexists(key, "inputs")  # consumed: the workflow keeps the results once
    assert [n.result for n in (await tickr.get_workflow(wf.id)).nodes] == [1, 2, 3]


async def resumed_with_a_node_stopping(tickr: Tickr) -> tuple[Any, Any]:
    """A fan-in whose first member died (fail_fast asked the running second to stop), then
    retried at once: (the workflow, the second member's lease, still held)."""
    broker = broker_of(tickr)
    wf = await tickr.submit_workflow(group(sig("add", {"n": 1}), sig("add", {"n": 2})).then(sig("add")))
    by_id = {j.id: j for j in await broker.fetch(wf.queue, 2, "w1", 60_000)}
    assert await broker.fail(by_id[wf.nodes[0].job_id], "boom", "", 0, retryable=False) == "dead"
    assert (await tickr.get_workflow(wf.id)).status == "failed"
    assert (await tickr.retry_workflow(wf.id)).status == "running"
    return wf, by_id[wf.nodes[1].job_id]


async def test_a_workflow_resumed_while_a_stopped_node_still_runs_is_not_failed_by_it(
    make_tickr: TickrFactory, wf_registry: Registry
) -> None:
    """fail_fast asks the running sibling to stop; the workflow is retried before that worker
    has stopped. The stop that then lands was the old run's: the node runs again, instead of
    failing the resumed workflow with 'cancelled'."""
    tickr = await make_tickr(workers=0)
    broker = broker_of(tickr)
    wf, second = await resumed_with_a_node_stopping(tickr)
    assert await broker.finish_cancel(second)  # the worker stops as it was asked
    info = await tickr.get_workflow(wf.id)
    assert info.status == "running" and [n.status for n in info.nodes] == ["ready", "ready", "pending"]
    leased = await broker.fetch(wf.queue, 2, "w1", 60_000)
    assert await broker.ack(wf.queue, [(j, "1") for j in leased]) == [True, True]
    (fan_in,) = await broker.fetch(wf.queue, 1, "w1", 60_000)
    assert await broker.ack(wf.queue, [(fan_in, "2")]) == [True]
    assert (await tickr.get_workflow(wf.id)).status == "succeeded"


async def test_a_cancel_asked_of_a_node_itself_still_fails_a_resumed_workflow(
    make_tickr: TickrFactory, wf_registry: Registry
) -> None:
    """The rerun above is for stops the workflow asked; a cancel asked of the node's job after
    the resume is the user's and counts as usual (fail_fast fails the workflow)."""
    tickr = await make_tickr(workers=0)
    broker = broker_of(tickr)
    wf, second = await resumed_with_a_node_stopping(tickr)
    assert await tickr.cancel(second.id) == "requested"
    assert await broker.finish_cancel(second)
    info = await tickr.get_workflow(wf.id)
    assert info.status == "failed" and info.failed_node == 1 and info.error == "cancelled"
