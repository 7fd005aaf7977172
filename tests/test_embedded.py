"""The embedded Redis: private (socket + password), persistent (AOF), shared, and clear on errors.

Every test starts its own redis-server under ``tmp_path``; the ``embedded`` fixture stops them
all, and a safety net SIGKILLs any redis-server still working in ``tmp_path`` so none is left
behind. The system Redis on 127.0.0.1:6379 is never touched.
"""

from __future__ import annotations

import os
import signal
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, ResponseError
from redis.retry import Retry
from timing import deadline

from tickr_app.core.embedded import (
    MAX_UNIX_SOCKET_PATH,
    EmbeddedRedis,
    ensure_embedded_redis,
)
from tickr_app.core.errors import EmbeddedRedisError

Factory = Callable[..., EmbeddedRedis]

ONE_TRY = Retry(NoBackoff(), 0)
"""For clients that must be refused: redis-py 7+ retries a refused AUTH (10 times by default
in 8.x) before raising; 5 made one attempt."""


def _redis_servers_under(root: Path) -> list[int]:
    """Pids of redis-server processes whose working directory is under ``root``."""
    found = []
    real_root = os.path.realpath(root)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if not (entry / "comm").read_text().strip().startswith("redis-server"):
                continue
            cwd = os.path.realpath(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if cwd == real_root or cwd.startswith(real_root + os.sep):
            found.append(int(entry.name))
    return found


def _wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    timeout = deadline(timeout)  # a quiet-machine budget, scaled
    until = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > until:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(0.01)


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return status.rsplit(")", 1)[1].split()[0] != "Z"


def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, decode_responses=True)


def _shutdown(url: str, pid: int) -> None:
    """Shut a server down from outside, as an operator would, and wait until it is gone."""
    client = _client(url)
    try:
        client.shutdown()
    finally:
        client.close()
    _wait_until(lambda: not _alive(pid), what=f"redis-server {pid} to exit")


def _server_pid(home: Path) -> int:
    return int((home / "redis" / "redis.pid").read_text().strip())


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Factory]:
    """Make EmbeddedRedis objects; stop them all afterwards, non-owners first."""
    made: list[EmbeddedRedis] = []

    def make(home: Path | None = None, **kwargs: object) -> EmbeddedRedis:
        instance = EmbeddedRedis(home if home is not None else tmp_path / "home", **kwargs)
        made.append(instance)
        return instance

    yield make

    for instance in sorted(made, key=lambda e: e.owner):
        instance.stop()
    leftovers = _redis_servers_under(tmp_path)
    for pid in leftovers:
        os.kill(pid, signal.SIGKILL)
    for pid in leftovers:
        _wait_until(lambda pid=pid: not _alive(pid), what=f"killed redis-server {pid}")
    assert not leftovers, f"redis-server processes left running: {leftovers}"


def _fake_server(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "fake-redis-server"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    return script


# --------------------------------------------------------------------------- privacy


def test_starts_on_a_private_unix_socket_with_a_password(embedded: Factory, tmp_path: Path) -> None:
    server = embedded()
    url = server.start()
    folder = (tmp_path / "home" / "redis").resolve()

    assert server.owner is True
    assert server.url == url
    parts = urlsplit(url)
    assert parts.scheme == "unix"
    assert parts.path == str(folder / "redis.sock")
    assert stat.S_ISSOCK((folder / "redis.sock").stat().st_mode)
    password = (folder / "password").read_text().strip()
    assert len(password) >= 32 and parts.password == password
    assert stat.S_IMODE((folder / "password").stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / "redis.conf").stat().st_mode) == 0o600
    assert _server_pid(tmp_path / "home") == server.pid

    client = _client(url)
    try:
        assert client.ping() is True
        assert client.config_get("port") == {"port": "0"}  # no TCP listener at all
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
        assert os.path.realpath(client.config_get("dir")["dir"]) == str(folder)
    finally:
        client.close()

    anonymous = redis.Redis(unix_socket_path=str(folder / "redis.sock"), socket_timeout=5, retry=ONE_TRY)
    try:
        with pytest.raises(AuthenticationError):
            anonymous.ping()
    finally:
        anonymous.close()
    wrong = redis.Redis(
        unix_socket_path=str(folder / "redis.sock"), password="not-it", socket_timeout=5, retry=ONE_TRY
    )
    try:
        with pytest.raises((AuthenticationError, ResponseError)):
            wrong.ping()
    finally:
        wrong.close()


def test_long_home_path_falls_back_to_loopback_tcp(embedded: Factory, tmp_path: Path) -> None:
    home = tmp_path / ("h" * 120)
    assert len(os.fsencode(home / "redis" / "redis.sock")) > MAX_UNIX_SOCKET_PATH
    server = embedded(home)
    url = server.start()

    parts = urlsplit(url)
    assert parts.scheme == "redis"
    assert parts.hostname == "127.0.0.1"
    assert parts.port and parts.port > 0
    assert parts.password == (home / "redis" / "password").read_text().strip()
    assert not (home / "redis" / "redis.sock").exists()

    client = _client(url)
    try:
        assert client.ping() is True
        assert client.config_get("bind")["bind"] == "127.0.0.1"
        client.set("k", "tcp")
    finally:
        client.close()
    anonymous = redis.Redis(host="127.0.0.1", port=parts.port, socket_timeout=5, retry=ONE_TRY)
    try:
        with pytest.raises(AuthenticationError):
            anonymous.ping()
    finally:
        anonymous.close()

    # Another process finds the TCP port again and attaches instead of starting a second one.
    second = embedded(home)
    assert second.start() == url
    assert second.owner is False
    assert len(_redis_servers_under(tmp_path)) == 1


def test_password_is_created_once_and_reused(embedded: Factory, tmp_path: Path) -> None:
    first = embedded()
    url = first.start()
    password = (tmp_path / "home" / "redis" / "password").read_text()
    first.stop()

    second = embedded()
    assert second.start() == url
    assert second.owner is True
    assert (tmp_path / "home" / "redis" / "password").read_text() == password


# --------------------------------------------------------------------------- persistence


def test_data_survives_stop_and_start(embedded: Factory, tmp_path: Path) -> None:
    first = embedded()
    client = _client(first.start())
    try:
        client.set("tickr:test:survivor", "still here")
        client.rpush("tickr:test:list", "a", "b", "c")
    finally:
        client.close()
    pid = first.pid
    assert pid is not None
    first.stop()
    assert not _alive(pid)
    assert not (tmp_path / "home" / "redis" / "redis.pid").exists()
    assert (tmp_path / "home" / "redis" / "appendonly.aof").stat().st_size > 0

    second = embedded()
    client = _client(second.start())
    try:
        assert second.owner is True
        assert second.pid != pid
        assert client.get("tickr:test:survivor") == "still here"
        assert client.lrange("tickr:test:list", 0, -1) == ["a", "b", "c"]
    finally:
        client.close()


def test_restarts_after_the_server_was_killed(embedded: Factory, tmp_path: Path) -> None:
    """kill -9 leaves a stale pidfile and socket: the next start must cope, data intact."""
    first = embedded()
    client = _client(first.start())
    try:
        client.set("acked", "1")  # an acked write is in the AOF (page cache) already
    finally:
        client.close()
    pid = first.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    _wait_until(lambda: first._proc is not None and first._proc.poll() is not None)
    assert (tmp_path / "home" / "redis" / "redis.pid").exists()  # stale

    second = embedded()
    client = _client(second.start())
    try:
        assert second.owner is True
        assert client.get("acked") == "1"
    finally:
        client.close()


# --------------------------------------------------------------------------- sharing


# Paths with spaces and URL-special characters must survive redis.conf, the URL and CLIENT LIST.
ODD_HOME = 'odd home %20 "q" é'


@pytest.mark.parametrize("home_name", ["home", ODD_HOME])
def test_second_instance_attaches_and_owner_stop_leaves_it_running(
    embedded: Factory, tmp_path: Path, home_name: str
) -> None:
    owner = embedded(tmp_path / home_name)
    url = owner.start()
    pid = owner.pid
    assert pid is not None

    attached = embedded(tmp_path / home_name)
    assert attached.start() == url
    assert attached.owner is False
    assert attached.pid is None
    assert _redis_servers_under(tmp_path) == [pid]

    other = _client(url)  # another Tickr process's connection
    try:
        other.set("shared", "yes")
        owner.stop()  # others are connected: must not shut down
        assert _alive(pid)
        assert other.get("shared") == "yes"
        attached.stop()  # not the owner: does nothing to the server
        assert _alive(pid)
        assert other.ping() is True
    finally:
        other.close()
    _shutdown(url, pid)


def test_an_attached_instance_alone_keeps_the_server_up(embedded: Factory, tmp_path: Path) -> None:
    """Attached but with no connection of its own yet: the owner must still see it; and the
    attached one, last out, stops the server the owner started."""
    owner = embedded()
    url = owner.start()
    pid = owner.pid
    assert pid is not None
    attached = embedded()
    attached.start()

    owner.stop()
    assert _alive(pid)
    client = _client(url)
    try:
        assert client.ping() is True
    finally:
        client.close()
    attached.stop()
    _wait_until(lambda: not _alive(pid), what=f"redis-server {pid} to exit after its last user left")
    assert not (tmp_path / "home" / "redis" / "redis.sock").exists()
    assert list((tmp_path / "home" / "redis" / "users").iterdir()) == []


@pytest.mark.parametrize("home_name", ["home", ODD_HOME])
def test_owner_alone_shuts_down_cleanly_and_stop_is_idempotent(
    embedded: Factory, tmp_path: Path, home_name: str
) -> None:
    home = tmp_path / home_name
    server = embedded(home)
    client = _client(server.start())
    try:
        client.set("k", "v")
    finally:
        client.close()
    pid = server.pid
    assert pid is not None
    server.stop()
    assert not _alive(pid)
    assert not (home / "redis" / "redis.sock").exists()
    assert "ready to exit" in (home / "redis" / "redis.log").read_text()
    server.stop()
    assert _redis_servers_under(tmp_path) == []

    # The same object can start again, on the same data.
    client = _client(server.start())
    try:
        assert server.owner is True
        assert client.get("k") == "v"
    finally:
        client.close()


def test_concurrent_starts_run_exactly_one_server(embedded: Factory, tmp_path: Path) -> None:
    instances = [embedded() for _ in range(4)]
    barrier = threading.Barrier(len(instances))
    urls: list[str] = []
    errors: list[BaseException] = []

    def start(instance: EmbeddedRedis) -> None:
        barrier.wait()
        try:
            urls.append(instance.start())
        except BaseException as exc:  # noqa: BLE001 - reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(i,)) for i in instances]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=deadline(30))
    assert not errors
    assert len(set(urls)) == 1 and len(urls) == len(instances)
    assert sum(i.owner for i in instances) == 1
    assert len(_redis_servers_under(tmp_path)) == 1


def test_ensure_embedded_redis_starts_it(embedded: Factory, tmp_path: Path) -> None:
    server = ensure_embedded_redis(tmp_path / "home")
    try:
        assert server.owner is True
        client = _client(server.url)
        try:
            assert client.ping() is True
        finally:
            client.close()
    finally:
        server.stop()
    assert _redis_servers_under(tmp_path) == []


# --------------------------------------------------------------------------- errors


def _assert_one_clear_line(error: EmbeddedRedisError, *fragments: str) -> None:
    message = str(error)
    assert "\n" not in message
    assert message.startswith("cannot start the embedded Redis: ")
    assert "--redis" in message and "TICKR_REDIS_URL" in message
    for fragment in fragments:
        assert fragment in message, message


def test_unwritable_home_is_a_clear_error(embedded: Factory, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    server = embedded(blocker / "home")
    with pytest.raises(EmbeddedRedisError) as info:
        server.start()
    _assert_one_clear_line(info.value, "not writable", str(blocker / "home" / "redis"))
    assert info.value.code == "embedded_redis_failed"


def test_missing_binary_is_a_clear_error(embedded: Factory, tmp_path: Path) -> None:
    server = embedded(redis_server=tmp_path / "no-such-redis-server")
    with pytest.raises(EmbeddedRedisError) as info:
        server.start()
    _assert_one_clear_line(info.value, "missing", "no-such-redis-server")


def test_binary_that_cannot_execute_is_a_clear_error(embedded: Factory, tmp_path: Path) -> None:
    junk = tmp_path / "redis-server"
    junk.write_bytes(b"\x7fELF\x00not really a binary")
    junk.chmod(0o755)
    server = embedded(redis_server=junk)
    with pytest.raises(EmbeddedRedisError) as info:
        server.start()
    _assert_one_clear_line(info.value, "cannot execute", str(junk))


def test_server_exiting_during_startup_reports_its_last_log_line(
    embedded: Factory, tmp_path: Path
) -> None:
    fake = _fake_server(tmp_path, 'echo "starting"\necho "FATAL: bad config directive xyz"\nexit 1')
    server = embedded(redis_server=fake)
    with pytest.raises(EmbeddedRedisError) as info:
        server.start()
    _assert_one_clear_line(info.value, "exited during startup", "FATAL: bad config directive xyz")


def test_server_not_answering_times_out_and_is_killed(embedded: Factory, tmp_path: Path) -> None:
    pidfile = tmp_path / "fake.pid"
    fake = _fake_server(tmp_path, f'echo $$ > "{pidfile}"\nexec sleep 60')
    server = embedded(redis_server=fake, startup_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(EmbeddedRedisError) as info:
        server.start()
    assert time.monotonic() - started < 5
    _assert_one_clear_line(info.value, "did not answer within 0.5 s")
    pid = int(pidfile.read_text())
    assert not _alive(pid)


def test_never_starts_a_second_server_on_a_live_one(embedded: Factory, tmp_path: Path) -> None:
    """A live server that rejects our password must not get a twin writing the same AOF."""
    owner = embedded()
    url = owner.start()
    password_file = tmp_path / "home" / "redis" / "password"
    original = password_file.read_text()
    password_file.write_text("0" * 64 + "\n")
    try:
        intruder = embedded()
        with pytest.raises(EmbeddedRedisError) as info:
            intruder.start()
        _assert_one_clear_line(info.value, f"pid {owner.pid}", "does not answer")
        assert len(_redis_servers_under(tmp_path)) == 1
    finally:
        password_file.write_text(original)
    client = _client(url)
    try:
        assert client.ping() is True
    finally:
        client.close()
