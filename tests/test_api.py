"""The HTTP API against a real server on a free port and a real Redis: every endpoint's
success and failure, the error contract, auth, OpenAPI, metrics and binding."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from helpers import enqueued_total, eventually, register_api_test_jobs, status_is
from prometheus_client.parser import text_string_to_metric_families
from timing import deadline

from tickr_app import Registry, Tickr
from tickr_app.api import ApiBindError, ApiServer, create_app, start_api
from tickr_app.api.schemas import (
    CancelOut,
    ErrorOut,
    HealthOut,
    JobList,
    JobOut,
    JobTypeList,
    QueueList,
    QueueOut,
    SubmittedJob,
    WorkerCommandOut,
    WorkerList,
)

JSON = {"Content-Type": "application/json"}


@dataclass
class Api:
    tickr: Tickr
    server: ApiServer
    http: httpx.AsyncClient

    async def submit(self, body: dict[str, Any], **kwargs: Any) -> httpx.Response:
        return await self.http.post("/jobs", json=body, **kwargs)


async def _serve(tickr: Tickr, token: str | None = None) -> AsyncIterator[Api]:
    server = await start_api(tickr, port=0, token=token)
    try:
        async with httpx.AsyncClient(base_url=server.url + "/api/v1", timeout=deadline(10)) as http:
            yield Api(tickr, server, http)
    finally:
        await server.stop()


@pytest.fixture
async def api(make_tickr: Any, registry: Registry) -> AsyncIterator[Api]:
    """A producer-only engine (nothing runs) behind the API."""
    register_api_test_jobs(registry)
    async for a in _serve(await make_tickr(workers=0)):
        yield a


@pytest.fixture
async def api_pool(make_tickr: Any, registry: Registry) -> AsyncIterator[Api]:
    """An engine with a worker pool behind the API."""
    register_api_test_jobs(registry)
    async for a in _serve(await make_tickr(workers=2)):
        yield a


async def control_channel_ready(tickr: Tickr) -> None:
    """The pool subscribes to its control channel shortly after start; a cancel published
    before that is only seen at the next heartbeat."""
    channel = tickr._broker.global_keys.control_prefix + tickr.worker_id  # type: ignore[union-attr]

    async def subscribed() -> bool:
        return (await tickr._broker.redis.pubsub_numsub(channel))[0][1] > 0  # type: ignore[union-attr]

    await eventually(subscribed, message="the pool listens on its control channel")


def error_of(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = ErrorOut.model_validate(response.json())
    if code is not None:
        assert body.error.code == code, response.text
    assert "Traceback" not in response.text
    return response.json()["error"]


# -- POST /jobs -------------------------------------------------------------------------------


async def test_submit_returns_202_with_the_job(api: Api) -> None:
    r = await api.submit({"type": "echo", "payload": {"text": "hi"}})
    assert r.status_code == 202, r.text
    job = SubmittedJob.model_validate(r.json())
    assert uuid.UUID(job.id).version == 4
    assert job.status == "ready" and job.queue == "default" and job.attempts == 0
    assert job.payload == {"text": "hi", "times": 1}  # defaults of the payload model applied
    assert r.headers["Location"] == f"/api/v1/jobs/{job.id}"
    stored = await api.tickr.get(job.id)
    assert stored is not None and stored.status == "ready"


async def test_submit_options_delay_run_at_max_attempts_queue(api: Api) -> None:
    before = time.time() * 1000
    r = await api.submit({"type": "echo", "payload": {"text": "a"}, "delay": 60, "max_attempts": 2, "queue": "other"})
    job = r.json()
    assert r.status_code == 202
    assert job["status"] == "waiting" and job["queue"] == "other" and job["max_attempts"] == 2
    assert before + 59_000 <= job["due_at"] <= time.time() * 1000 + 61_000

    tomorrow = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=1)
    r = await api.submit({"type": "echo", "payload": {"text": "a"}, "run_at": tomorrow.isoformat().replace("+00:00", "Z")})
    assert r.status_code == 202 and r.json()["due_at"] == tomorrow.timestamp() * 1000

    plus_one = tomorrow.astimezone(timezone(timedelta(hours=1))).isoformat()
    r = await api.submit({"type": "echo", "payload": {"text": "a"}, "run_at": plus_one})
    assert r.status_code == 202 and r.json()["due_at"] == tomorrow.timestamp() * 1000

    r = await api.submit({"type": "echo", "payload": {"text": "a"}, "run_at": tomorrow.timestamp() + 0.5})
    assert r.status_code == 202 and r.json()["due_at"] == tomorrow.timestamp() * 1000 + 500

    r = await api.submit({"type": "echo", "payload": {"text": "a"}, "run_at": 1})  # the past: now
    assert r.status_code == 202 and r.json()["status"] == "ready"


async def test_idempotency_key_returns_the_same_job(api: Api) -> None:
    body = {"type": "echo", "payload": {"text": "once"}}
    first = await api.submit(body, headers={"Idempotency-Key": "order-42"})
    second = await api.submit(body, headers={"Idempotency-Key": "order-42"})
    other = await api.submit(body, headers={"Idempotency-Key": "order-43"})
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"] != other.json()["id"]
    assert second.json()["idempotency_key"] == "order-42"
    assert await enqueued_total(api.tickr) == 2


@pytest.mark.parametrize("key", ["", "x" * 201, "caf\u00e9"])
async def test_bad_idempotency_key_is_422(api: Api, key: str) -> None:
    r = await api.http.post(
        "/jobs",
        content=b'{"type": "echo", "payload": {"text": "a"}}',
        headers={**JSON, "Idempotency-Key": key.encode("utf-8")},  # type: ignore[dict-item]
    )
    err = error_of(r, 422, "invalid_request")
    assert err["details"][0]["field"] == "Idempotency-Key"
    assert await enqueued_total(api.tickr) == 0


async def test_unknown_type_is_422_and_nothing_is_created(api: Api) -> None:
    err = error_of(await api.submit({"type": "nope", "payload": {}}), 422, "unknown_job_type")
    assert "nope" in err["message"]
    # details is the README's list of {field, message, type}, naming the known types
    assert err["details"] == [
        {"field": "type", "message": "not a registered job type (known: block, boom, echo)", "type": "unknown_job_type"}
    ]
    assert err["message"] == "unknown job type 'nope'; known types: block, boom, echo"
    long = error_of(await api.submit({"type": "n" * 200}), 422, "unknown_job_type")
    assert len(long["message"]) < 150  # the name is not echoed in full
    assert await enqueued_total(api.tickr) == 0


async def test_payload_failing_its_schema_is_422_with_field_details(api: Api) -> None:
    r = await api.submit({"type": "echo", "payload": {"times": "many", "text": "x" * 2000}})
    err = error_of(r, 422, "invalid_payload")
    fields = {d["field"]: d for d in err["details"]}
    assert set(fields) == {"times", "text"}
    assert all(d["message"] and d["type"] for d in err["details"])
    assert "x" * 100 not in r.text  # inputs are not echoed
    error_of(await api.submit({"type": "echo", "payload": [1, 2]}), 422, "invalid_payload")
    error_of(await api.submit({"type": "echo"}), 422, "invalid_payload")  # {}: text missing
    assert await enqueued_total(api.tickr) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "echo", "payload": {"text": "a"}, "id": str(uuid.uuid4())}, "id"),
        ({"type": "echo", "payload": {"text": "a"}, "urgency": 1}, "urgency"),
        ({"type": "echo", "payload": {"text": "a"}, "priority": 101}, "priority"),
        ({"type": "echo", "payload": {"text": "a"}, "priority": -101}, "priority"),
        ({"type": "echo", "payload": {"text": "a"}, "priority": "5"}, "priority"),
        ({"type": "echo", "payload": {"text": "a"}, "priority": 1.5}, "priority"),
        ({"type": "echo", "payload": {"text": "a"}, "priority": True}, "priority"),
        ({"type": 5, "payload": {"text": "a"}}, "type"),
        ({"payload": {"text": "a"}}, "type"),
        ({"type": "echo", "payload": {"text": "a"}, "delay": -1}, "delay"),
        ({"type": "echo", "payload": {"text": "a"}, "delay": "10"}, "delay"),
        ({"type": "echo", "payload": {"text": "a"}, "delay": True}, "delay"),
        ({"type": "echo", "payload": {"text": "a"}, "delay": 1e12}, "delay"),
        ({"type": "echo", "payload": {"text": "a"}, "max_attempts": 0}, "max_attempts"),
        ({"type": "echo", "payload": {"text": "a"}, "max_attempts": 2.5}, "max_attempts"),
        ({"type": "echo", "payload": {"text": "a"}, "queue": "a:b"}, "queue"),
        ({"type": "echo", "payload": {"text": "a"}, "queue": ""}, "queue"),
        ({"type": "echo", "payload": {"text": "a"}, "run_at": "tomorrow"}, "run_at"),
        ({"type": "echo", "payload": {"text": "a"}, "run_at": "2026-01-01T00:00:00"}, "run_at"),
        # run_at has a fixed bound, 9999-12-31T23:59:59Z (2999 is fine: see test_far_run_at_is_accepted)
        ({"type": "echo", "payload": {"text": "a"}, "run_at": 253_402_300_800}, "run_at"),
        ({"type": "echo", "payload": {"text": "a"}, "run_at": -5}, "run_at"),
        ({"type": "echo", "payload": {"text": "a"}, "run_at": 1e15}, "run_at"),
        ({"type": "echo", "payload": {"text": "a"}, "delay": 1, "run_at": 1}, "(body)"),
    ],
)
async def test_invalid_fields_are_422_with_details(api: Api, body: dict[str, Any], field: str) -> None:
    err = error_of(await api.submit(body), 422, "invalid_request")
    assert field in [d["field"] for d in err["details"]], err
    assert await enqueued_total(api.tickr) == 0


@pytest.mark.parametrize(
    "raw",
    [b'{"type": "echo",', b"", b"   ", b"nope", b"\xff\xfe{}", b"[1, 2]", b'"echo"', b"null", b"12", b"NaN", b"1e400"],
)
async def test_malformed_json_is_400(api: Api, raw: bytes) -> None:
    error_of(await api.http.post("/jobs", content=raw, headers=JSON), 400, "malformed_json")
    assert await enqueued_total(api.tickr) == 0


@pytest.mark.parametrize("ctype", [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"])
async def test_not_json_is_415(api: Api, ctype: str | None) -> None:
    headers = {"Content-Type": ctype} if ctype else {}
    r = await api.http.post("/jobs", content=b'{"type": "echo", "payload": {"text": "a"}}', headers=headers)
    error_of(r, 415, "unsupported_media_type")
    assert await enqueued_total(api.tickr) == 0


async def test_json_variants_are_accepted(api: Api) -> None:
    for ctype in ("application/json; charset=utf-8", "APPLICATION/JSON", "application/vnd.tickr+json"):
        r = await api.http.post("/jobs", content=b'{"type": "echo", "payload": {"text": "a"}}', headers={"Content-Type": ctype})
        assert r.status_code == 202, (ctype, r.text)


async def test_body_over_one_mib_is_413_and_nothing_is_created(api: Api) -> None:
    big = b'{"type": "echo", "payload": {"text": "' + b"x" * (1024**2) + b'"}}'
    error_of(await api.http.post("/jobs", content=big, headers=JSON), 413, "body_too_large")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: caught while reading
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    error_of(await api.http.post("/jobs", content=chunks(), headers=JSON), 413, "body_too_large")
    assert await enqueued_total(api.tickr) == 0
    # just under the limit is fine (and then fails on the payload's own max_length: 422)
    fits = b'{"type": "echo", "payload": {"text": "' + b"x" * (1024**2 - 100) + b'"}}'
    error_of(await api.http.post("/jobs", content=fits, headers=JSON), 422, "invalid_payload")


# -- GET /jobs/{id}, GET /jobs ----------------------------------------------------------------


async def test_get_job(api: Api) -> None:
    job = (await api.submit({"type": "echo", "payload": {"text": "a"}})).json()
    r = await api.http.get(f"/jobs/{job['id']}")
    assert r.status_code == 200 and JobOut.model_validate(r.json()).id == job["id"]
    assert (await api.http.get(f"/jobs/{job['id'].upper()}")).json()["id"] == job["id"]


@pytest.mark.parametrize(
    "path",
    [f"/jobs/{uuid.uuid4()}", "/jobs/not-a-uuid", "/jobs/123", f"/jobs/{uuid.uuid4().hex}", "/jobs/%7B%7D", "/jobs/..%2F..%2Fetc"],
    ids=["unknown-uuid", "not-a-uuid", "123", "unknown-uuid-hex", "braces", "dot-dot"],  # alike in each xdist worker
)
async def test_unknown_or_malformed_job_id_is_json_404(api: Api, path: str) -> None:
    for method in ("GET", "DELETE"):
        error_of(await api.http.request(method, path), 404, "job_not_found")
    error_of(await api.http.post(path + "/retry"), 404, "job_not_found")


async def test_list_jobs_by_status_and_mixed(api_pool: Api) -> None:
    api = api_pool
    done = (await api.submit({"type": "echo", "payload": {"text": "a"}})).json()
    await status_is(api.tickr, done["id"], "succeeded")
    waiting = [(await api.submit({"type": "echo", "payload": {"text": "w"}, "delay": 600})).json()["id"] for _ in range(3)]

    r = await api.http.get("/jobs", params={"status": "waiting"})
    listing = JobList.model_validate(r.json())
    assert listing.status == "waiting" and [j.id for j in listing.jobs] == waiting
    r = await api.http.get("/jobs", params={"status": "waiting", "limit": 2, "queue": "default"})
    assert [j["id"] for j in r.json()["jobs"]] == waiting[:2]
    r = await api.http.get("/jobs", params={"status": "succeeded"})
    assert [j["id"] for j in r.json()["jobs"]] == [done["id"]]
    assert r.json()["jobs"][0]["result"] == {"echo": "a"}

    mixed = JobList.model_validate((await api.http.get("/jobs")).json())
    assert mixed.status is None and mixed.limit == 50
    assert [j.id for j in mixed.jobs] == [*waiting, done["id"]]  # waiting comes before succeeded
    assert [j["id"] for j in (await api.http.get("/jobs?limit=4")).json()["jobs"]] == [*waiting, done["id"]]
    assert (await api.http.get("/jobs", params={"queue": "elsewhere"})).json()["jobs"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [("status=finished", "status"), ("limit=0", "limit"), ("limit=1001", "limit"), ("limit=ten", "limit"), ("queue=a%7Bb", "queue")],
)
async def test_list_jobs_rejects_bad_query(api: Api, query: str, field: str) -> None:
    err = error_of(await api.http.get(f"/jobs?{query}"), 422, "invalid_request")
    assert [d["field"] for d in err["details"]] == [field]


# -- DELETE /jobs/{id}, POST /jobs/{id}/retry -------------------------------------------------


async def test_cancel_waiting_job(api: Api) -> None:
    job = (await api.submit({"type": "echo", "payload": {"text": "a"}, "delay": 600})).json()
    r = await api.http.delete(f"/jobs/{job['id']}")
    assert r.status_code == 200 and CancelOut.model_validate(r.json()) == CancelOut(id=job["id"], status="cancelled")
    assert (await api.tickr.get(job["id"])).status == "cancelled"  # type: ignore[union-attr]
    again = await api.http.delete(f"/jobs/{job['id']}")  # idempotent: it is cancelled
    assert again.status_code == 200 and again.json()["status"] == "cancelled"


async def test_cancel_finished_job_is_409(api_pool: Api) -> None:
    api = api_pool
    for body, final in (({"type": "echo", "payload": {"text": "a"}}, "succeeded"), ({"type": "boom"}, "dead")):
        job = (await api.submit(body)).json()
        await status_is(api.tickr, job["id"], final)
        err = error_of(await api.http.delete(f"/jobs/{job['id']}"), 409, "wrong_state")
        assert err["details"] == {"status": final}


async def test_cancel_active_job_requests_cancel(api_pool: Api) -> None:
    api = api_pool
    await control_channel_ready(api.tickr)
    job = (await api.submit({"type": "block", "payload": {}})).json()
    await status_is(api.tickr, job["id"], "active")
    r = await api.http.delete(f"/jobs/{job['id']}")
    assert r.status_code == 200 and r.json() == {"id": job["id"], "status": "cancel_requested"}
    await status_is(api.tickr, job["id"], "cancelled")


async def test_retry_dead_and_cancelled_jobs(api_pool: Api) -> None:
    api = api_pool
    dead = (await api.submit({"type": "boom", "payload": {}})).json()
    await status_is(api.tickr, dead["id"], "dead")
    got = (await api.http.get(f"/jobs/{dead['id']}")).json()
    assert got["error"] and "boom" in got["error"]
    await api.tickr.pause_queue("default")  # keep the retried job in ready
    r = await api.http.post(f"/jobs/{dead['id']}/retry")
    assert r.status_code == 200 and JobOut.model_validate(r.json()).status == "ready"
    again = await api.http.post(f"/jobs/{dead['id']}/retry")  # idempotent: it is ready
    assert again.status_code == 200 and again.json()["status"] == "ready"
    waiting = (await api.submit({"type": "echo", "payload": {"text": "a"}, "delay": 600})).json()
    err = error_of(await api.http.post(f"/jobs/{waiting['id']}/retry"), 409, "wrong_state")
    assert err["details"] == {"status": "waiting"}

    cancelled = (await api.submit({"type": "echo", "payload": {"text": "a"}, "delay": 600})).json()
    await api.http.delete(f"/jobs/{cancelled['id']}")
    assert (await api.http.post(f"/jobs/{cancelled['id']}/retry")).json()["status"] == "ready"


# -- job types, queues, workers, health -------------------------------------------------------


async def test_job_types(api: Api) -> None:
    r = await api.http.get("/job-types")
    types = {t.name: t for t in JobTypeList.model_validate(r.json()).job_types}
    assert set(types) == {"echo", "boom", "block"}
    echo = types["echo"]
    assert echo.max_attempts == 5 and echo.timeout == 300 and echo.description == "Repeat a text."
    assert echo.payload_schema["required"] == ["text"]
    assert types["boom"].max_attempts == 1


async def test_queues_pause_resume(api: Api) -> None:
    await api.submit({"type": "echo", "payload": {"text": "a"}})
    await api.submit({"type": "echo", "payload": {"text": "a"}, "delay": 60, "queue": "later"})
    queues = {q.name: q for q in QueueList.model_validate((await api.http.get("/queues")).json()).queues}
    assert {"default", "later"} <= set(queues)
    assert queues["default"].ready == 1 and queues["default"].enqueued == 1
    assert queues["later"].waiting == 1 and queues["later"].by_type == {"echo": {"enqueued": 1}}

    r = await api.http.post("/queues/default/pause")
    assert r.status_code == 200 and QueueOut.model_validate(r.json()).paused is True
    assert await api.tickr._broker.is_paused("default")  # type: ignore[union-attr]
    assert (await api.http.post("/queues/default/resume")).json()["paused"] is False
    assert not await api.tickr._broker.is_paused("default")  # type: ignore[union-attr]
    for name in ("typo", "a%7Bb", "x" * 150):
        error_of(await api.http.post(f"/queues/{name}/pause"), 404, "queue_not_found")
    error_of(await api.http.get("/queues/default/pause"), 405, "method_not_allowed")


async def test_workers_list_and_update(api_pool: Api) -> None:
    api = api_pool
    pool = api.tickr._pool
    assert pool is not None
    workers = WorkerList.model_validate((await api.http.get("/workers")).json()).workers
    me = next(w for w in workers if w.id == api.tickr.worker_id)
    assert me.concurrency == 2 and me.paused is False and me.queues == ["default"]

    r = await api.http.patch(f"/workers/{me.id}", json={"concurrency": 4})
    assert r.status_code == 200
    assert WorkerCommandOut.model_validate(r.json()).requested.concurrency == 4
    assert pool.concurrency == 4
    await api.http.patch(f"/workers/{me.id}", json={"paused": True})
    assert pool.paused
    await api.http.patch(f"/workers/{me.id}", json={"paused": False, "concurrency": 1})
    assert not pool.paused and pool.concurrency == 1

    error_of(await api.http.patch("/workers/nobody:1:abc", json={"paused": True}), 404, "worker_not_found")
    for body in ({}, {"concurrency": -1}, {"concurrency": True}, {"paused": "yes"}, {"concurrency": 1, "extra": 1}):
        error_of(await api.http.patch(f"/workers/{me.id}", json=body), 422, "invalid_request")
    error_of(await api.http.patch(f"/workers/{me.id}", content=b"[]", headers=JSON), 400, "malformed_json")
    error_of(await api.http.patch(f"/workers/{me.id}", content=b"{}"), 415, "unsupported_media_type")


async def test_command_to_a_remote_worker_process(api: Api, make_tickr: Any) -> None:
    remote = await make_tickr(workers=1)
    assert remote._pool is not None
    await control_channel_ready(remote)
    await eventually(lambda: api.tickr.worker_processes(), message="the worker registered")
    r = await api.http.patch(f"/workers/{remote.worker_id}", json={"concurrency": 3})
    assert r.status_code == 200
    await eventually(lambda: remote._pool.concurrency == 3, message="the remote pool scaled")  # type: ignore[union-attr]


async def test_health(api: Api) -> None:
    r = await api.http.get("/health")
    assert r.status_code == 200 and r.json() == {"status": "ok", "redis": "ok"}
    HealthOut.model_validate(r.json())


async def test_stopped_engine_is_503(make_tickr: Any, registry: Registry) -> None:
    register_api_test_jobs(registry)
    tickr = await make_tickr(workers=0)
    async for api in _serve(tickr):
        await tickr.stop()
        error_of(await api.submit({"type": "echo", "payload": {"text": "a"}}), 503, "engine_not_running")
        error_of(await api.http.get("/queues"), 503, "engine_not_running")
        health = await api.http.get("/health")
        assert health.status_code == 503 and health.json()["redis"] == "down"
        assert (await api.http.get("/job-types")).status_code == 200  # needs no engine


# -- errors from the router and the catch-all -------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v2/jobs", "/", "/api/v1/jobs/", "/metrics/x"])
async def test_unknown_route_is_json_404(api: Api, path: str) -> None:
    async with httpx.AsyncClient(base_url=api.server.url) as http:
        error_of(await http.get(path), 404, "not_found")


async def test_wrong_method_is_json_405_with_allow(api: Api) -> None:
    r = await api.http.put("/jobs", json={})
    err = error_of(r, 405, "method_not_allowed")
    assert "POST" in err["details"]["allowed"] and "POST" in r.headers["Allow"]


async def test_unexpected_exception_is_a_json_500_without_traceback(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken() -> None:
        raise ValueError("secret internals")

    monkeypatch.setattr(api.tickr, "stats", broken)
    r = await api.http.get("/queues")
    err = error_of(r, 500, "internal_error")
    assert "secret" not in r.text and err["message"] == "internal server error"
    assert "secret internals" in caplog.text  # logged for the operator


# -- auth -------------------------------------------------------------------------------------


@pytest.fixture
async def api_token(make_tickr: Any, registry: Registry) -> AsyncIterator[Api]:
    register_api_test_jobs(registry)
    async for a in _serve(await make_tickr(workers=0), token="s3cret-token"):
        yield a


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer wrong", "Bearer s3cret-token-x", "Basic s3cret-token", "s3cret-token", "Bearer s3cret-tokén"],
)
async def test_missing_or_wrong_token_is_401(api_token: Api, header: str | None) -> None:
    headers = {"Authorization": header.encode("utf-8")} if header is not None else {}
    for method, path in (("GET", "/queues"), ("POST", "/jobs"), ("GET", "/openapi.json"), ("GET", "/nope")):
        r = await api_token.http.request(method, path, headers=headers, json={"type": "echo", "payload": {"text": "a"}})  # type: ignore[arg-type]
        error_of(r, 401, "unauthorized")
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
    async with httpx.AsyncClient(base_url=api_token.server.url) as http:
        error_of(await http.get("/metrics", headers=headers), 401, "unauthorized")  # type: ignore[arg-type]
    assert await enqueued_total(api_token.tickr) == 0


async def test_right_token_is_accepted_and_health_stays_open(api_token: Api) -> None:
    auth = {"Authorization": "Bearer s3cret-token"}
    r = await api_token.submit({"type": "echo", "payload": {"text": "a"}}, headers=auth)
    assert r.status_code == 202
    assert (await api_token.http.get("/queues", headers={"Authorization": "bearer s3cret-token"})).status_code == 200
    assert (await api_token.http.get("/health")).status_code == 200
    async with httpx.AsyncClient(base_url=api_token.server.url) as http:
        assert (await http.get("/metrics", headers=auth)).status_code == 200
    doc = (await api_token.http.get("/openapi.json", headers=auth)).json()
    assert doc["security"] == [{"bearerAuth": []}]
    assert doc["paths"]["/api/v1/health"]["get"]["security"] == []


# -- OpenAPI ----------------------------------------------------------------------------------


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


async def test_openapi_document(api: Api) -> None:
    r = await api.http.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.1")
    assert "security" not in doc  # no token: nothing required
    expected = {
        ("post", "/api/v1/jobs"), ("get", "/api/v1/jobs"), ("get", "/api/v1/jobs/{id}"),
        ("delete", "/api/v1/jobs/{id}"), ("post", "/api/v1/jobs/{id}/retry"), ("get", "/api/v1/job-types"),
        ("post", "/api/v1/jobs/{id}/priority"),
        ("get", "/api/v1/queues"), ("post", "/api/v1/queues/{name}/pause"), ("post", "/api/v1/queues/{name}/resume"),
        ("delete", "/api/v1/queues/{name}"), ("delete", "/api/v1/queues/{name}/dead"),
        ("get", "/api/v1/workers"), ("patch", "/api/v1/workers/{id}"), ("get", "/api/v1/health"),
        ("get", "/api/v1/openapi.json"), ("get", "/metrics"),
        ("get", "/api/v1/schedules"), ("get", "/api/v1/schedules/{id}"), ("put", "/api/v1/schedules/{id}"),
        ("delete", "/api/v1/schedules/{id}"), ("post", "/api/v1/schedules/{id}/trigger"),
        ("post", "/api/v1/schedules/{id}/pause"), ("post", "/api/v1/schedules/{id}/resume"),
        ("post", "/api/v1/workflows"), ("get", "/api/v1/workflows"), ("get", "/api/v1/workflows/{id}"),
        ("delete", "/api/v1/workflows/{id}"), ("post", "/api/v1/workflows/{id}/retry"),
        ("delete", "/api/v1/workflows/{id}/record"),
        ("get", "/api/v1/queues/{name}/limits"), ("put", "/api/v1/queues/{name}/limits"),
        ("delete", "/api/v1/queues/{name}/limits"), ("get", "/api/v1/queues/{name}/limits/{type}"),
        ("put", "/api/v1/queues/{name}/limits/{type}"), ("delete", "/api/v1/queues/{name}/limits/{type}"),
    }  # fmt: skip
    documented = {(m, p) for p, item in doc["paths"].items() for m in item if m != "parameters"}
    assert documented == expected
    for ref in _refs(doc):  # every reference resolves
        node: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
    schemas = doc["components"]["schemas"]
    assert schemas["SubmitJob"]["additionalProperties"] is False
    assert schemas["Payload_echo"]["required"] == ["text"]
    body = doc["paths"]["/api/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    variants = {schemas[v["$ref"].split("/")[-1]]["properties"]["type"]["const"] for v in body["oneOf"]}
    assert variants == {"echo", "boom", "block"}
    assert set(doc["paths"]["/api/v1/jobs"]["post"]["responses"]) >= {"202", "400", "401", "409", "413", "415", "422", "503"}
    # run_at: a fixed bound only (nothing computed from "now" when the document was built)
    run_at = schemas["SubmitJob"]["properties"]["run_at"]["anyOf"]
    assert {"type": "number", "minimum": 0, "maximum": 253_402_300_799} in run_at


# -- metrics ----------------------------------------------------------------------------------


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics(api_pool: Api) -> None:
    api = api_pool
    job = (await api.submit({"type": "echo", "payload": {"text": "a"}})).json()
    await status_is(api.tickr, job["id"], "succeeded")
    dead = (await api.submit({"type": "boom", "payload": {}})).json()
    await status_is(api.tickr, dead["id"], "dead")
    await api.submit({"type": "echo", "payload": {"text": "a"}, "delay": 600})

    async with httpx.AsyncClient(base_url=api.server.url) as http:
        r = await http.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    s = _samples(r.text)
    assert s[("tickr_redis_up", ())] == 1
    assert s[("tickr_jobs_enqueued_total", (("queue", "default"), ("type", "echo")))] == 2
    assert s[("tickr_jobs_succeeded_total", (("queue", "default"), ("type", "echo")))] == 1
    assert s[("tickr_jobs_failed_total", (("queue", "default"), ("type", "boom")))] == 1
    assert s[("tickr_jobs_dead_total", (("queue", "default"), ("type", "boom")))] == 1
    assert s[("tickr_queue_jobs", (("queue", "default"), ("state", "waiting")))] == 1
    assert s[("tickr_queue_jobs", (("queue", "default"), ("state", "dead")))] == 1
    assert s[("tickr_queue_paused", (("queue", "default"),))] == 0
    assert s[("tickr_worker_processes", ())] >= 1
    assert s[("tickr_job_duration_seconds_count", (("queue", "default"), ("type", "echo")))] == 1
    assert s[("tickr_job_queue_wait_seconds_count", (("queue", "default"), ("type", "boom")))] == 1
    assert s[("tickr_http_requests_total", (("method", "POST"), ("route", "/api/v1/jobs"), ("status", "202")))] == 3


async def test_many_apps_have_their_own_registries(make_tickr: Any) -> None:
    tickr = await make_tickr(workers=0)
    apps = [create_app(tickr) for _ in range(3)]
    assert len({id(a) for a in apps}) == 3  # no "Duplicated timeseries" from a global registry


# -- binding ----------------------------------------------------------------------------------


async def test_port_zero_gives_the_real_port(make_tickr: Any) -> None:
    tickr = await make_tickr(workers=0)
    async with await start_api(tickr, port=0) as server:
        assert server.port > 0 and server.url == f"http://127.0.0.1:{server.port}"
        async with httpx.AsyncClient() as http:
            assert (await http.get(server.url + "/api/v1/health")).status_code == 200


async def test_port_taken_is_api_bind_error(make_tickr: Any) -> None:
    tickr = await make_tickr(workers=0)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ApiBindError, match="already in use"):
            await start_api(tickr, port=port)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "example.invalid"])
async def test_public_host_without_token_is_refused(make_tickr: Any, host: str) -> None:
    tickr = await make_tickr(workers=0)
    with pytest.raises(ApiBindError, match="without a token"):
        await start_api(tickr, host=host, port=0)
    with pytest.raises(ApiBindError, match="without a token"):
        await start_api(tickr, host=host, port=0, token="")


async def test_public_host_with_token_binds(make_tickr: Any) -> None:
    tickr = await make_tickr(workers=0)
    server = await start_api(tickr, host="0.0.0.0", port=0, token="t")
    await server.stop()
    with pytest.raises(ApiBindError, match="not an address of this machine"):
        await start_api(tickr, host="192.0.2.10", port=0, token="t")


@pytest.mark.parametrize("host", ["localhost", "::1", "127.0.0.2"])
async def test_loopback_hosts_need_no_token(make_tickr: Any, host: str) -> None:
    tickr = await make_tickr(workers=0)
    try:
        server = await start_api(tickr, host=host, port=0)
    except ApiBindError as exc:  # e.g. no IPv6 on this machine
        assert "without a token" not in str(exc)
        return
    async with httpx.AsyncClient() as http:
        assert (await http.get(server.url + "/api/v1/health")).status_code == 200
    await server.stop()
