"""``tickr_app.client``: the sync ``Client`` (server on a thread of its own) and the
``AsyncClient`` (server on the test's loop) against a real API, including typed errors."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import ThreadedApi, eventually, register_api_test_jobs, status_is
from timing import deadline

import tickr_app
from tickr_app import Registry, Tickr
from tickr_app.api import start_api
from tickr_app.client import (
    ApiError,
    AsyncClient,
    BadRequest,
    Client,
    Conflict,
    ConnectionFailed,
    IdempotencyConflict,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)

TOKEN = "client-test-token"


# -- sync -------------------------------------------------------------------------------------


@pytest.fixture
def served(redis_url: str, prefix: str, registry: Registry, home: Path) -> Iterator[ThreadedApi]:
    register_api_test_jobs(registry)
    with ThreadedApi(
        redis_url, token=TOKEN, workers=1, prefix=prefix, registry=registry, home=home, builtin_jobs=False, grace_period=1
    ) as api:
        yield api


def test_package_exports_every_public_name() -> None:
    """``from tickr_app import X`` for what a user writes or catches: the lazy table and
    ``__all__`` list the same names, and each resolves."""
    assert sorted(tickr_app.__all__) == sorted(tickr_app._EXPORTS)
    for name in tickr_app.__all__:
        assert getattr(tickr_app, name) is not None, name
    assert tickr_app.AsyncClient is AsyncClient
    assert issubclass(tickr_app.WrongState, tickr_app.TickrError)
    assert {"chain", "group", "sig", "RateLimited", "WorkflowInfo", "InvalidRequest"} <= set(tickr_app.__all__)


def test_sync_client_covers_every_endpoint(served: ThreadedApi) -> None:
    assert tickr_app.Client is Client
    with Client(served.url, token=TOKEN, timeout=deadline(5)) as c:
        assert c.health() == {"status": "ok", "redis": "ok"}
        job = c.submit("echo", {"text": "hi", "times": 2})
        assert job["status"] in ("ready", "active", "succeeded") and job["type"] == "echo"
        done = c.wait(job["id"], timeout=deadline(5), interval=0.02)
        assert done["status"] == "succeeded" and done["result"] == {"echo": "hihi"}
        assert c.get(job["id"])["id"] == job["id"]
        assert [j["id"] for j in c.list_jobs(status="succeeded")] == [job["id"]]
        assert c.list_jobs(queue="default", status="succeeded", limit=1)[0]["id"] == job["id"]

        later = c.submit("echo", {"text": "x"}, delay=600, max_attempts=2, queue="default", idempotency_key="k-1")
        again = c.submit("echo", {"text": "x"}, delay=600, max_attempts=2, queue="default", idempotency_key="k-1")
        assert again["id"] == later["id"]
        with pytest.raises(IdempotencyConflict) as conflict:  # the key, reused for another request
            c.submit("echo", {"text": "y"}, idempotency_key="k-1")
        assert conflict.value.status == 409 and conflict.value.details == {"job_id": later["id"]}
        assert later["status"] == "waiting" and later["max_attempts"] == 2
        assert c.cancel(later["id"]) == {"id": later["id"], "status": "cancelled"}
        assert c.pause_queue("default")["paused"] is True  # so the retried job stays ready
        assert c.retry(later["id"])["status"] == "ready"
        queues = {q["name"]: q for q in c.queues()}
        assert queues["default"]["succeeded"] == 1 and queues["default"]["ready"] == 1
        assert c.resume_queue()["paused"] is False

        assert {t["name"] for t in c.job_types()} == {"echo", "boom", "block"}

        (worker,) = c.workers()
        assert worker["id"] == served.tickr.worker_id
        assert c.update_worker(worker["id"], concurrency=3)["requested"] == {"concurrency": 3}
        assert served.tickr._pool.concurrency == 3
        c.update_worker(worker["id"], paused=True)
        assert served.tickr._pool.paused

        assert c.openapi()["openapi"].startswith("3.1")
        assert "tickr_jobs_enqueued_total" in c.metrics()


def test_sync_client_typed_errors(served: ThreadedApi) -> None:
    with Client(served.url, token=TOKEN) as c:
        with pytest.raises(NotFound) as missing:
            c.get(str(uuid.uuid4()))
        assert missing.value.status == 404 and missing.value.code == "job_not_found"
        with pytest.raises(NotFound):
            c.get("../../etc/passwd")  # quoted into one path segment: still just "no such job"
        with pytest.raises(ValidationFailed) as bad:
            c.submit("echo", {"times": "x"})
        assert bad.value.code == "invalid_payload"
        assert {d["field"] for d in bad.value.details} == {"text", "times"}
        with pytest.raises(ValidationFailed) as unknown:
            c.submit("nope")
        assert unknown.value.code == "unknown_job_type"
        with pytest.raises(ValidationFailed):
            c.list_jobs(status="finished")
        with pytest.raises(ValidationFailed):
            c.update_worker(served.tickr.worker_id)  # nothing to change
        with pytest.raises(NotFound) as no_worker:
            c.update_worker("nobody:1:x", paused=True)
        assert no_worker.value.code == "worker_not_found"
        with pytest.raises(NotFound) as no_queue:
            c.pause_queue("nope")
        assert no_queue.value.code == "queue_not_found"

        job = c.submit("echo", {"text": "a"})
        c.wait(job["id"], timeout=deadline(5), interval=0.02)
        with pytest.raises(Conflict) as conflict:
            c.cancel(job["id"])
        assert conflict.value.details == {"status": "succeeded"}
        assert isinstance(conflict.value, ApiError) and "409 wrong_state" in str(conflict.value)

    with Client(served.url) as anonymous:
        assert anonymous.health()["status"] == "ok"  # open without a token
        with pytest.raises(Unauthorized) as denied:
            anonymous.queues()
        assert denied.value.message == "missing bearer token"
    with Client(served.url, token="wrong") as wrong, pytest.raises(Unauthorized):
        wrong.submit("echo", {"text": "a"})


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused_is_connection_failed() -> None:
    with Client(f"http://127.0.0.1:{_closed_port()}", timeout=deadline(2)) as c:
        with pytest.raises(ConnectionFailed, match="cannot reach the Tickr API"):
            c.health()
        with pytest.raises(ConnectionFailed):
            c.submit("echo", {"text": "a"})


# -- async ------------------------------------------------------------------------------------


@pytest.fixture
async def api_url(make_tickr: Any, registry: Registry) -> AsyncIterator[tuple[Tickr, str]]:
    register_api_test_jobs(registry)
    tickr = await make_tickr(workers=1)
    server = await start_api(tickr, port=0)
    try:
        yield tickr, server.url
    finally:
        await server.stop()


async def test_async_client_covers_every_endpoint(api_url: tuple[Tickr, str]) -> None:
    tickr, url = api_url
    async with AsyncClient(url, timeout=deadline(5)) as c:
        assert (await c.health())["redis"] == "ok"
        job = await c.submit("echo", {"text": "a"})
        assert (await c.wait(job["id"], timeout=deadline(5), interval=0.02))["result"] == {"echo": "a"}
        assert (await c.get(job["id"]))["status"] == "succeeded"
        assert job["id"] in [j["id"] for j in await c.list_jobs()]

        dead = await c.submit("boom")
        await status_is(tickr, dead["id"], "dead")
        await c.pause_queue("default")
        assert (await c.retry(dead["id"]))["status"] == "ready"
        assert (await c.cancel(dead["id"]))["status"] == "cancelled"
        await c.resume_queue("default")

        assert "boom" in {t["name"] for t in await c.job_types()}
        assert (await c.queues())[0]["name"] == "default"
        (worker,) = await c.workers()
        await c.update_worker(worker["id"], concurrency=2, paused=False)
        assert tickr._pool is not None and tickr._pool.concurrency == 2
        assert "paths" in await c.openapi()
        assert "tickr_redis_up 1.0" in await c.metrics()


async def test_async_client_typed_errors(api_url: tuple[Tickr, str]) -> None:
    _, url = api_url
    async with AsyncClient(url) as c:
        with pytest.raises(NotFound):
            await c.retry(str(uuid.uuid4()))
        with pytest.raises(ValidationFailed) as bad:
            await c.submit("echo", {"text": "a"}, delay=1, run_at=1)
        assert bad.value.details[0]["field"] == "(body)"
        with pytest.raises(ValidationFailed):
            await c.submit("echo", {"text": "a"}, queue="bad:queue")
        await c.pause_queue()  # keep the job waiting
        job = await c.submit("echo", {"text": "a"}, delay=600)
        with pytest.raises(Conflict):
            await c.retry(job["id"])


async def test_async_client_sees_redis_down_as_service_unavailable(api_url: tuple[Tickr, str]) -> None:
    tickr, url = api_url
    broker = tickr._broker
    assert broker is not None

    class Down:
        def __getattr__(self, name: str) -> Any:
            async def fail(*args: Any, **kwargs: Any) -> Any:
                from redis.exceptions import ConnectionError as RedisConnectionError

                raise RedisConnectionError("Connection refused")

            return fail

    real, broker.redis = broker.redis, Down()
    try:
        async with AsyncClient(url) as c:
            health = await c.health()  # reported, not raised
            assert health["status"] == "degraded" and health["redis"] == "down"
            with pytest.raises(ServiceUnavailable) as down:
                await c.queues()
            assert down.value.code == "redis_unavailable"
    finally:
        broker.redis = real
    async with AsyncClient(url) as c:
        await eventually(lambda: c.health(), message="health answers")
        assert (await c.health())["status"] == "ok"


async def test_async_connection_refused_and_bad_json(api_url: tuple[Tickr, str]) -> None:
    async with AsyncClient(f"http://127.0.0.1:{_closed_port()}", timeout=deadline(2)) as c:
        with pytest.raises(ConnectionFailed):
            await c.queues()
    _, url = api_url
    import httpx

    async with httpx.AsyncClient(base_url=url) as raw:
        r = await raw.post("/api/v1/jobs", content=b"{", headers={"Content-Type": "application/json"})
    from tickr_app.client import error_from_response

    err = error_from_response(r)
    assert isinstance(err, BadRequest) and err.code == "malformed_json"
