"""Job priorities (issue #14): higher runs first, FIFO within a priority, priority 0 on the
ready list's fast path; every path back to ready keeps a job's priority; a waiting or ready
job's priority can change; bad values are clean errors in every face."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from helpers import ThreadedApi, eventually, register_api_test_jobs, wait_all
from timing import deadline

from tickr_app import Registry
from tickr_app.cli import main
from tickr_app.client import Client, Conflict, ValidationFailed
from tickr_app.core.broker import Broker, BrokerSettings, EnqueueSpec
from tickr_app.core.connection import connect
from tickr_app.core.errors import InvalidRequest, JobNotFound, WrongState
from tickr_app.core.priority import priority_of_score
from tickr_app.core.schedules import ScheduleStore, build_definition

Q = "default"


@pytest.fixture
async def broker(redis_url: str, prefix: str) -> AsyncIterator[Broker]:
    b = Broker(connect(redis_url), BrokerSettings(prefix=prefix))
    try:
        yield b
    finally:
        await b.close()


def spec(priority: int = 0, *, delay_ms: int = -1, attempts: int = 3) -> EnqueueSpec:
    return EnqueueSpec(str(uuid.uuid4()), "t", "{}", attempts, 0, 1, 1, delay_ms=delay_ms, priority=priority)


async def enqueue(broker: Broker, *priorities: int) -> list[str]:
    specs = [spec(p) for p in priorities]
    await broker.enqueue(Q, specs)
    return [s.id for s in specs]


async def fetch_ids(broker: Broker, n: int = 1000) -> list[str]:
    jobs = await broker.fetch(Q, n, "w", 30_000)
    assert jobs is not None
    return [j.id for j in jobs]


async def test_higher_first_fifo_within_a_priority_zero_on_the_list(broker: Broker) -> None:
    ids = await enqueue(broker, 0, 5, -3, 5, 0, 10, -3, 1)
    by = dict(zip("abcdefgh", ids))
    k = broker.keys(Q)
    assert await broker.redis.llen(k.ready) == 2  # priority 0 stays on the fast path
    assert await broker.redis.zcard(k.ready_prio) == 6
    stats = await broker.queue_stats(Q)
    assert (stats.ready, stats.prioritised, stats.top_priority) == (8, 6, 10)
    expected = [by[x] for x in "fbdhaecg"]
    assert [j.id for j in await broker.list_jobs(Q, "ready", 100)] == expected, "list in fetch order"
    assert [j.id for j in await broker.list_jobs(Q, "ready", 3, offset=3)] == expected[3:6]
    # One at a time and all at once give the same order.
    first_three = [(await fetch_ids(broker, 1))[0] for _ in range(3)]
    assert first_three + await fetch_ids(broker) == expected
    assert await broker.redis.exists(k.ready_prio, k.ready) == 0


async def test_score_encoding_round_trips_the_whole_range(broker: Broker) -> None:
    priorities = [100, -100, 1, -1, 99, 0]
    ids = await enqueue(broker, *priorities)
    scores = dict(await broker.redis.zrange(broker.keys(Q).ready_prio, 0, -1, withscores=True))
    assert {i: priority_of_score(s) for i, s in scores.items()} == {i: p for i, p in zip(ids, priorities) if p}
    assert await fetch_ids(broker) == [ids[0], ids[4], ids[2], ids[5], ids[3], ids[1]]


async def test_set_priority_moves_a_ready_job_and_keeps_it_for_a_waiting_one(broker: Broker) -> None:
    a, b, c = await enqueue(broker, 0, 0, 0)
    later = spec(0, delay_ms=50)
    await broker.enqueue(Q, [later])
    assert await broker.set_priority(c, 5) == "ready"
    assert await broker.set_priority(later.id, 9) == "waiting"
    assert await broker.set_priority(a, -2) == "ready"
    assert await broker.set_priority(b, 0) == "ready"  # no change: stays where it is
    assert (await broker.get(later.id)).priority == 9
    assert await fetch_ids(broker, 1) == [c]

    async def promoted() -> bool:
        return (await broker.promote(Q))[0] == 1

    await eventually(promoted, message="the delayed job came due")
    assert await fetch_ids(broker) == [later.id, b, a], "the waiting job came due with its new priority"
    with pytest.raises(WrongState):
        await broker.set_priority(c, 1)  # active now
    with pytest.raises(JobNotFound):
        await broker.set_priority(str(uuid.uuid4()), 1)


async def test_release_puts_a_job_first_in_its_priority(broker: Broker) -> None:
    ids = await enqueue(broker, 5, 5, 0)
    (first,) = await broker.fetch(Q, 1, "w", 30_000) or []
    assert first.id == ids[0]
    assert await broker.release(first)
    assert (await broker.get(first.id)).priority == 5
    assert await fetch_ids(broker) == ids


async def test_fail_recover_and_promote_keep_the_priority(broker: Broker) -> None:
    low, high = await enqueue(broker, 0, 7)
    jobs = await broker.fetch(Q, 2, "w", 30_000) or []
    assert [j.id for j in jobs] == [high, low]
    assert await broker.fail(jobs[0], "boom", "", 0) == "retry"  # back to waiting, due now
    assert await broker.release(jobs[1])  # low is ready again, on the list
    await broker.promote(Q)
    assert await fetch_ids(broker, 1) == [high], "the retried job came back ahead of priority 0"
    assert await fetch_ids(broker) == [low]

    # Lease expiry: recover counts the attempt and the job backs off; it comes due with its priority.
    (mid,) = await enqueue(broker, 3)
    other = (await enqueue(broker, 0))[0]
    leased = await broker.fetch(Q, 1, "w", 1) or []
    assert [j.id for j in leased] == [mid]

    async def recovered() -> bool:
        return await broker.recover(Q) == 1

    await eventually(recovered, message="the lease expired")

    async def due() -> bool:
        await broker.promote(Q)
        return (await broker.get(mid)).status == "ready"

    await eventually(due, message="the recovered job came due")
    assert await fetch_ids(broker) == [mid, other]


async def test_manual_retries_keep_the_priority_and_cancel_delete_see_the_set(broker: Broker) -> None:
    one, two = [spec(4, attempts=1), spec(-4, attempts=1)]
    plain = spec(0, attempts=1)
    await broker.enqueue(Q, [one, two, plain])
    jobs = await broker.fetch(Q, 3, "w", 30_000) or []
    assert [j.id for j in jobs] == [one.id, plain.id, two.id]
    for job in jobs:
        assert await broker.fail(job, "boom", "", 0) == "dead"
    assert await broker.retry(two.id) == "ready"
    assert await broker.retry_dead(Q) == 2
    assert [j.id for j in await broker.list_jobs(Q, "ready")] == [one.id, plain.id, two.id]
    assert await broker.cancel(one.id) == "cancelled"
    assert await broker.delete(two.id) == "deleted"
    assert await broker.redis.zcard(broker.keys(Q).ready_prio) == 0
    held = await broker.forget_queue(Q)
    assert held is not None and held["ready"] == 1  # the plain job
    assert await fetch_ids(broker) == [plain.id]


async def test_forget_queue_counts_prioritised_jobs(broker: Broker) -> None:
    await enqueue(broker, 3)
    held = await broker.forget_queue(Q)
    assert held is not None and held["ready"] == 1


async def test_schedules_fire_with_the_job_types_priority(broker: Broker) -> None:
    registry = Registry()

    @registry.job("urgent", queue=Q, priority=8)
    async def urgent(payload: dict[str, Any]) -> None: ...

    store = ScheduleStore(broker)
    await store.upsert(build_definition(registry, "s", "urgent", {}, every=3600))
    plain = (await enqueue(broker, 0))[0]
    job_id = str(uuid.uuid4())
    await store.trigger("s", job_id)
    assert (await broker.get(job_id)).priority == 8
    assert await fetch_ids(broker) == [job_id, plain]


# -- the engine: order under concurrency, faces, bad values ----------------------------------


async def test_priority_order_under_concurrency(make_tickr: Any, registry: Registry) -> None:
    started: list[tuple[int, int]] = []

    @registry.job("step")
    async def step(payload: dict[str, Any]) -> None:
        started.append((payload["p"], payload["n"]))
        await asyncio.sleep(0)

    producer = await make_tickr(workers=0)
    priorities = [(-5, 0, 3, 7, 0, 3)[i % 6] for i in range(300)]
    jobs = await producer.submit_many([{"type": "step", "payload": {"p": p, "n": n}, "priority": p} for n, p in enumerate(priorities)])
    assert all(j.priority == p for j, p in zip(jobs, priorities))
    worker = await make_tickr(workers=4)
    await wait_all(worker, [j.id for j in jobs])
    expected = sorted(((p, n) for n, p in enumerate(priorities)), key=lambda x: (-x[0], x[1]))
    assert started == expected, "highest first, FIFO within a priority, across 4 slots"


async def test_engine_defaults_and_bad_values(make_tickr: Any, registry: Registry) -> None:
    @registry.job("typed", priority=6)
    async def typed(payload: dict[str, Any]) -> None: ...

    @registry.job("plain")
    async def plain(payload: dict[str, Any]) -> None: ...

    tickr = await make_tickr(workers=0)
    assert (await tickr.submit("typed")).priority == 6
    assert (await tickr.submit("typed", priority=-1)).priority == -1
    assert (await tickr.submit("plain")).priority == 0
    for bad in (101, -101, 1.5, "3", True):
        with pytest.raises(InvalidRequest, match="priority must be an integer from -100 to 100"):
            await tickr.submit("plain", priority=bad)
    job = await tickr.submit("plain", delay=60)
    assert await tickr.set_priority(job.id, 4) == "waiting"
    assert (await tickr.get(job.id)).priority == 4
    with pytest.raises(InvalidRequest):
        await tickr.set_priority(job.id, 1000)
    with pytest.raises(ValueError, match="priority"):
        registry.job("bad", priority=500)(plain)


def test_http_client_and_cli_round_trip(redis_url: str, prefix: str, home: Any, capsys: pytest.CaptureFixture[str]) -> None:
    registry = Registry()
    register_api_test_jobs(registry)
    with ThreadedApi(redis_url, prefix=prefix, registry=registry, builtin_jobs=False, workers=0, home=home) as server:
        with Client(server.url, timeout=deadline(5)) as c:
            job = c.submit("echo", {"text": "a"}, priority=7)
            assert job["priority"] == 7 and job["status"] == "ready"
            assert c.get(job["id"])["priority"] == 7
            assert c.set_priority(job["id"], -3)["priority"] == -3
            queue = next(q for q in c.queues() if q["name"] == "default")
            assert (queue["prioritised"], queue["top_priority"]) == (1, -3)
            with pytest.raises(ValidationFailed) as bad:
                c.set_priority(job["id"], 101)
            assert [d["field"] for d in bad.value.details] == ["priority"]
            with pytest.raises(ValidationFailed):
                c.submit("echo", {"text": "a"}, priority=-500)
            c.cancel(job["id"])
            with pytest.raises(Conflict):
                c.set_priority(job["id"], 1)
            assert next(t for t in c.job_types() if t["name"] == "echo")["priority"] == 0

        url = ["--url", server.url]
        assert main(["submit", "echo", "--payload", '{"text": "b"}', "--priority", "9", *url]) == 0
        job_id = capsys.readouterr().out.strip()
        assert server.run(server.tickr.get(job_id)).priority == 9
        assert main(["jobs", "set-priority", job_id, "2", *url]) == 0
        assert capsys.readouterr().out.strip() == f"job {job_id} (ready): priority 2"
        with pytest.raises(SystemExit) as exit_:
            main(["submit", "echo", "--priority", "high", *url])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "priority must be an integer from -100 to 100" in err
        assert main(["jobs", "set-priority", str(uuid.uuid4()), "2", *url]) == 1
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "job_not_found" in err


async def test_a_prioritised_job_wakes_an_idle_worker(
    make_tickr: Any, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Idle fetchers block on the ready list only: a job put in the priority set wakes them by
    the queue's wake channel, not by their next re-check (made an hour here)."""
    from tickr_app.core import fetcher

    original = fetcher.Fetcher.__init__

    def long_block(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["block_s"] = 3600.0
        original(self, *args, **kwargs)

    monkeypatch.setattr(fetcher.Fetcher, "__init__", long_block)

    @registry.job("quick")
    async def quick(payload: dict[str, Any]) -> str:
        return "ok"

    worker = await make_tickr(workers=2)
    for priority in (5, -5):
        job = await worker.submit("quick", priority=priority)
        assert (await worker.wait(job.id, timeout=deadline(5))).status == "succeeded"


async def test_priorities_hold_under_a_queue_limit(broker: Broker) -> None:
    """A queue with limits leases through the limited path (lease_limited); it pops through the
    same priority order as the fast path."""
    await broker.set_limits(Q, None, concurrency=100)
    ids = await enqueue(broker, 0, 5, -3, 5, 10)
    by = dict(zip("abcde", ids))
    got = await broker.fetch_limited(Q, 3, "w", 30_000)
    assert not got.throttled
    assert got.jobs is not None and [j.id for j in got.jobs] == [by["e"], by["b"], by["d"]]
    assert await fetch_ids(broker) == [by["a"], by["c"]]
