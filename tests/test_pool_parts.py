"""The worker pool's parts on their own, on a real Redis: each is usable through its narrow
interface (callbacks and a small protocol), without a pool around it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence

import pytest
from helpers import eventually
from timing import deadline

from tickr_app.core.acks import AckBatcher
from tickr_app.core.broker import Broker, BrokerSettings, EnqueueSpec, LeasedJob
from tickr_app.core.connection import connect
from tickr_app.core.fetcher import CancelReason
from tickr_app.core.leases import HeldLeases
from tickr_app.core.notify import Listener
from tickr_app.core.presence import Presence
from tickr_app.core.records import LagStats, RunningJob

Q = "default"


@pytest.fixture
async def broker(redis_url: str, prefix: str) -> AsyncIterator[Broker]:
    b = Broker(connect(redis_url), BrokerSettings(prefix=prefix))
    try:
        yield b
    finally:
        await b.close()


async def lease(broker: Broker, n: int) -> list[LeasedJob]:
    specs = [EnqueueSpec(str(uuid.uuid4()), "t", "{}", 3, 0, 10, 100) for _ in range(n)]
    await broker.enqueue(Q, specs)
    jobs = await broker.fetch(Q, n, "w1", 30_000)
    assert jobs is not None and len(jobs) == n
    return jobs


async def take_lease_back(broker: Broker, job: LeasedJob) -> None:
    """What the recover script does to an expired lease: the token no longer matches."""
    await broker.redis.hdel(broker.keys(Q).job(job.id), "lease")


async def test_ack_batcher_reports_each_outcome_once_redis_answered(broker: Broker) -> None:
    kept, lost = await lease(broker, 2)
    await take_lease_back(broker, lost)
    settled: dict[str, bool] = {}
    flushes = []

    def on_settled(jobs: list[LeasedJob], applied: list[bool]) -> None:
        settled.update((job.id, ok) for job, ok in zip(jobs, applied, strict=True))

    acks = AckBatcher(broker, on_settled=on_settled, on_flushed=lambda: flushes.append(1))

    acks.add(kept, '"ok"')
    acks.add(lost, '"late"')
    assert acks.is_settling(kept.id) and acks.is_settling(lost.id)
    assert settled == {}  # nothing is sent before a flush
    await acks.flush()

    assert settled == {kept.id: True, lost.id: False}
    assert not acks.is_settling(kept.id) and not acks.is_settling(lost.id)
    assert flushes == [1]
    assert (await broker.get(kept.id, Q)).status == "succeeded"


async def test_held_leases_extend_and_report_lost_and_cancelled_jobs(broker: Broker) -> None:
    extended, lost, cancelled, settling = await lease(broker, 4)
    held = HeldLeases(broker, 60_000)
    for job in (extended, lost, cancelled, settling):
        held.add(job)
    await take_lease_back(broker, lost)
    await take_lease_back(broker, settling)  # its ack already cleared the lease
    assert await broker.cancel(cancelled.id) == "requested"
    before = await broker.redis.zscore(broker.keys(Q).active, extended.id)
    lost_ids: list[str] = []
    cancel_ids: list[str] = []

    await held.extend(
        settling=lambda job_id: job_id == settling.id, on_lost=lost_ids.append, on_cancel_requested=cancel_ids.append
    )

    assert lost_ids == [lost.id]
    assert cancel_ids == [cancelled.id]
    assert await broker.redis.zscore(broker.keys(Q).active, extended.id) > before
    assert len(held) == 4  # dropping is the caller's decision
    held.drop(lost.id)
    assert lost.id not in held and extended.id in held


class RecordingPool:
    """A stand-in for the pool as presence sees it (the ``Steerable`` protocol)."""

    def __init__(self) -> None:
        self.concurrency = 2
        self.busy = 1
        self.paused = False
        self.calls: list[tuple[str, object]] = []

    def running(self) -> Sequence[RunningJob]:
        return [RunningJob(0, "job-1", "t", Q, 1, 0.5)]

    def loop_snapshot(self) -> LagStats | None:
        return LagStats(1.5, 2.0, 3.0, 0, "", 0.0, 0)

    def scale(self, concurrency: int) -> None:
        self.calls.append(("scale", concurrency))
        self.concurrency = concurrency

    def pause(self) -> None:
        self.calls.append(("pause", None))

    def resume(self) -> None:
        self.calls.append(("resume", None))

    def cancel_job(self, job_id: str, reason: CancelReason = "job") -> bool:
        self.calls.append(("cancel", job_id))
        return True


def presence_for(broker: Broker, pool: RecordingPool) -> Presence:
    async def no_leases() -> None:
        return None

    return Presence(
        broker, pool, worker_id="w1", queues=[Q], lease_ms=30_000, registry_interval=1.0, extend_leases=no_leases
    )


async def test_presence_applies_control_messages(broker: Broker) -> None:
    pool = RecordingPool()
    presence = presence_for(broker, pool)
    presence.on_control("cancel job-9")
    presence.on_control('{"cmd_concurrency": 7, "cmd_paused": 1}')
    presence.on_control('{"paused": 0}')
    presence.on_control('{"cmd_concurrency": "many"}')  # logged and ignored
    presence.on_control("not json")  # logged and ignored
    assert pool.calls == [("cancel", "job-9"), ("scale", 7), ("pause", None), ("resume", None)]


async def test_presence_publishes_the_pool_and_hears_remote_commands(broker: Broker) -> None:
    pool = RecordingPool()
    presence = presence_for(broker, pool)
    listener = Listener(broker.redis)
    try:
        await presence.start(listener)
        listener.start()
        await presence.publish()
        (info,) = await broker.workers()
        assert (info.id, info.concurrency, info.busy, info.paused, info.jobs) == ("w1", 2, 1, False, ["job-1"])
        assert info.loop is not None and info.loop.lag_ms == 1.5  # the loop lag travels with the record
        await asyncio.wait_for(listener.connected.wait(), deadline(5))

        await broker.command_worker("w1", concurrency=5)
        await eventually(lambda: ("scale", 5) in pool.calls, message="the control channel delivered the command")
        await presence.publish()  # collects (and clears) the stored copy of the command
        applied = len(pool.calls)
        await presence.publish()
        assert len(pool.calls) == applied

        await presence.unregister()
        assert await broker.workers() == []
    finally:
        await listener.stop()
