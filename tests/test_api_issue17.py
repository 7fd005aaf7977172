"""The HTTP API items of issue 17 against a real server and Redis: consistent error shapes
(also for requests aiohttp cannot parse), Idempotency-Key conflicts, the unserved-queue
warning, forgetting a queue, deleting every dead job, listing by job type, email addresses on
special-use domains, and `tickr submit` / `tickr queues` one-line errors."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from helpers import enqueued_total, register_api_test_jobs, status_is
from timing import deadline
from test_api import Api, _serve, error_of

from tickr_app import Registry
from tickr_app.api.schemas import DeadDeleted, JobList, QueueForgotten, SubmittedJob


@pytest.fixture
async def api(make_tickr: Any, registry: Registry) -> AsyncIterator[Api]:
    """A producer-only engine (nothing runs, nothing is served) behind the API."""
    register_api_test_jobs(registry)
    async for a in _serve(await make_tickr(workers=0)):
        yield a


@pytest.fixture
async def api_pool(make_tickr: Any, registry: Registry) -> AsyncIterator[Api]:
    """An engine with a worker pool (serving "default") behind the API."""
    register_api_test_jobs(registry)
    async for a in _serve(await make_tickr(workers=2)):
        yield a


async def _raw(api: Api, request: bytes) -> tuple[int, dict[str, Any], str]:
    """Send bytes no HTTP client library would send; return (status, JSON body, raw text)."""
    reader, writer = await asyncio.open_connection(api.server.host, api.server.port)
    writer.write(request)
    await writer.drain()
    raw = (await asyncio.wait_for(reader.read(), deadline(10))).decode("latin-1")
    writer.close()
    head, _, body = raw.partition("\r\n\r\n")
    status = int(head.split(" ", 2)[1])
    assert "content-type: application/json" in head.lower(), raw
    return status, httpx.Response(status, content=body.encode()).json(), raw


# -- item 8: error shapes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (b"FOO /api/v1/jobs HTTP/1.1\r\nHost: x\r\n\r\n", 405, "method_not_allowed"),
        (b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Probe: a\x00b\r\n\r\n", 400, "bad_request"),
        (b"POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, "bad_request"),
    ],
    ids=["unknown-method", "nul-in-header", "bad-content-length"],
)
async def test_unparseable_requests_get_json_errors_and_one_quiet_log_line(
    api: Api, caplog: pytest.LogCaptureFixture, request_bytes: bytes, status: int, code: str
) -> None:
    caplog.set_level(logging.DEBUG)
    got, body, raw = await _raw(api, request_bytes)
    assert got == status, raw
    assert body["error"]["code"] == code and body["error"]["message"]
    if status == 405:
        assert "Allow: GET, HEAD, POST, PATCH, DELETE" in raw
    server_logs = [r for r in caplog.records if r.name.startswith(("aiohttp", "tickr.api"))]
    assert not [r for r in server_logs if r.levelno >= logging.WARNING], [r.getMessage() for r in server_logs]
    assert not [r for r in server_logs if r.exc_info], "a malformed request logged a traceback"
    assert len([r for r in server_logs if "malformed request" in r.getMessage()]) == 1


async def test_bad_worker_concurrency_is_one_clean_field_error(api_pool: Api) -> None:
    me = api_pool.tickr.worker_id
    err = error_of(await api_pool.http.patch(f"/workers/{me}", json={"concurrency": -1}), 422, "invalid_request")
    assert err["details"] == [
        {"field": "concurrency", "message": "Input should be greater than or equal to 0", "type": "greater_than_equal"}
    ]
    err = error_of(await api_pool.http.patch(f"/workers/{me}", json={"concurrency": "two"}), 422, "invalid_request")
    assert [d["field"] for d in err["details"]] == ["concurrency"]


async def test_bad_run_at_is_one_clean_field_error(api: Api) -> None:
    err = error_of(await api.submit({"type": "echo", "payload": {"text": "a"}, "run_at": True}), 422)
    assert [d["field"] for d in err["details"]] == ["run_at"]


async def test_every_422_lists_field_errors(api: Api) -> None:
    for body in ({"type": "nope"}, {"type": "echo", "payload": {"times": 0}}, {"type": "echo", "priority": 1}):
        err = error_of(await api.submit(body), 422)
        assert isinstance(err["details"], list) and err["details"]
        assert all(set(d) == {"field", "message", "type"} for d in err["details"]), err


async def test_payload_is_held_to_its_published_schema(api: Api) -> None:
    """false is not an integer, "2" is not an integer (the schema says so); 2.0 is."""
    for times in (False, "2"):
        err = error_of(
            await api.submit({"type": "echo", "payload": {"text": "a", "times": times}}), 422, "invalid_payload"
        )
        assert err["details"][0]["field"] == "times"
    r = await api.submit({"type": "echo", "payload": {"text": "a", "times": 2.0}})
    assert r.status_code == 202 and r.json()["payload"]["times"] == 2
    assert await enqueued_total(api.tickr) == 1


async def test_idempotency_key_from_python_then_http_with_the_same_delay_is_a_repeat(api: Api) -> None:
    """Python passes ``delay=10`` (an int), the JSON API ``10.0`` after validation: one job."""
    first = await api.tickr.submit("echo", {"text": "a"}, delay=10, idempotency_key="order-8")
    again = await api.submit(
        {"type": "echo", "payload": {"text": "a"}, "delay": 10.0}, headers={"Idempotency-Key": "order-8"}
    )
    assert again.status_code == 202, again.text
    assert again.json()["id"] == first.id
    assert await enqueued_total(api.tickr) == 1


async def test_far_run_at_is_accepted(api: Api) -> None:
    r = await api.submit({"type": "echo", "payload": {"text": "a"}, "run_at": "2999-01-01T00:00:00Z"})
    assert r.status_code == 202 and r.json()["status"] == "waiting"
    r = await api.submit({"type": "echo", "payload": {"text": "a"}, "run_at": "9999-12-31t23:59:59z"})
    assert r.status_code == 202 and r.json()["due_at"] == 253_402_300_799_000


# -- item 11: Idempotency-Key reuse -----------------------------------------------------------


async def test_idempotency_key_reused_for_a_different_request_is_409(api: Api) -> None:
    key = {"Idempotency-Key": "order-7"}
    first = await api.submit({"type": "echo", "payload": {"text": "a"}}, headers=key)
    assert first.status_code == 202
    same = await api.submit({"type": "echo", "payload": {"times": 1, "text": "a"}}, headers=key)
    assert same.status_code == 202 and same.json()["id"] == first.json()["id"]
    for other in (
        {"type": "echo", "payload": {"text": "b"}},
        {"type": "boom", "payload": {}},
        {"type": "echo", "payload": {"text": "a"}, "delay": 5},
    ):
        err = error_of(await api.submit(other, headers=key), 409, "idempotency_conflict")
        assert "order-7" in err["message"] and "different request" in err["message"]
        assert err["details"] == {"job_id": first.json()["id"]}
    assert await enqueued_total(api.tickr) == 1


# -- item 4: unserved queues ------------------------------------------------------------------


async def test_submit_says_when_no_live_worker_serves_the_queue(api_pool: Api) -> None:
    served = await api_pool.submit({"type": "echo", "payload": {"text": "a"}})
    job = SubmittedJob.model_validate(served.json())
    assert job.served is True and job.warnings == []
    lonely = await api_pool.submit({"type": "echo", "payload": {"text": "a"}, "queue": "nobody-serves-this"})
    job = SubmittedJob.model_validate(lonely.json())
    assert job.served is False and job.status == "ready"
    assert job.warnings == [
        (
            "no live worker serves queue 'nobody-serves-this': the job waits until one does "
            "(start one with: tickr worker --queue nobody-serves-this)"
        )
    ]


async def test_a_producer_alone_serves_nothing(api: Api) -> None:
    job = (await api.submit({"type": "echo", "payload": {"text": "a"}})).json()
    assert job["served"] is False and "no live worker" in job["warnings"][0]


# -- forgetting a queue, deleting every dead job, listing by type -----------------------------


async def test_forget_queue_over_http(api: Api) -> None:
    error_of(await api.http.delete("/queues/never-heard-of"), 404, "queue_not_found")
    job = (await api.submit({"type": "echo", "payload": {"text": "a"}, "queue": "typo"})).json()
    err = error_of(await api.http.delete("/queues/typo"), 409, "queue_not_empty")
    assert "1 ready" in err["message"] and err["details"]["ready"] == 1
    assert (await api.http.delete(f"/jobs/{job['id']}")).status_code == 200  # cancel it
    r = await api.http.delete("/queues/typo")
    assert r.status_code == 200 and QueueForgotten.model_validate(r.json()).name == "typo"
    names = [q["name"] for q in (await api.http.get("/queues")).json()["queues"]]
    assert "typo" not in names
    error_of(await api.http.delete("/queues/typo"), 404, "queue_not_found")


async def test_forget_a_queue_holding_a_workflow_is_409(api: Api) -> None:
    tree = {"type": "echo", "payload": {"text": "a"}}
    wf = (await api.http.post("/workflows", json={"tree": tree, "queue": "flows"})).json()
    assert (await api.http.delete(f"/workflows/{wf['id']}")).status_code == 200  # cancel it: no job is left
    err = error_of(await api.http.delete("/queues/flows"), 409, "queue_not_empty")
    assert "1 workflows" in err["message"] and err["details"]["workflows"] == 1
    assert (await api.http.delete(f"/workflows/{wf['id']}/record")).status_code == 200
    assert (await api.http.delete("/queues/flows")).status_code == 200


async def test_forget_a_served_queue_is_409(api_pool: Api) -> None:
    err = error_of(await api_pool.http.delete("/queues/default"), 409, "queue_not_empty")
    assert "served by" in err["message"] and api_pool.tickr.worker_id in err["details"]["workers"]


async def test_delete_every_dead_job_over_http(api_pool: Api) -> None:
    api = api_pool
    dead = [(await api.submit({"type": "boom", "payload": {}})).json()["id"] for _ in range(3)]
    for job_id in dead:
        await status_is(api.tickr, job_id, "dead")
    r = await api.http.delete("/queues/default/dead")
    assert r.status_code == 200 and DeadDeleted.model_validate(r.json()).deleted == 3
    assert (await api.http.get("/jobs", params={"status": "dead"})).json()["jobs"] == []
    error_of(await api.http.get(f"/jobs/{dead[0]}"), 404)
    assert (await api.http.delete("/queues/default/dead")).json() == {"queue": "default", "deleted": 0}
    error_of(await api.http.delete("/queues/never-heard-of/dead"), 404, "queue_not_found")


async def test_list_jobs_by_type(api: Api) -> None:
    echoes = [(await api.submit({"type": "echo", "payload": {"text": str(i)}})).json()["id"] for i in range(3)]
    booms = [(await api.submit({"type": "boom", "payload": {}})).json()["id"] for _ in range(2)]
    r = await api.http.get("/jobs", params={"type": "boom"})
    listing = JobList.model_validate(r.json())
    assert listing.type == "boom" and sorted(j.id for j in listing.jobs) == sorted(booms)
    r = await api.http.get("/jobs", params={"type": "echo", "status": "ready", "limit": 2})
    assert [j["id"] for j in r.json()["jobs"]] == echoes[:2]
    assert (await api.http.get("/jobs", params={"type": "nope"})).json()["jobs"] == []
    error_of(await api.http.get("/jobs", params={"type": ""}), 422)


# -- item 9: email addresses the schema calls valid are accepted ------------------------------


async def test_email_on_special_use_domains_is_accepted(make_tickr: Any, registry: Registry) -> None:
    from tickr_app.jobs import email

    email.register(registry)
    async for server_api in _serve(await make_tickr(workers=0)):
        for to, sender in (("x@foo.test", "dev@localhost"), ("ops@printer.local", "tickr@localhost")):
            r = await server_api.submit(
                {"type": "email", "payload": {"to": to, "subject": "s", "body": "b", "from_addr": sender}}
            )
            assert r.status_code == 202, r.text
            assert r.json()["payload"]["to"] == to
        error_of(
            await server_api.submit(
                {"type": "email", "payload": {"to": "not-an-address", "subject": "s", "body": "b"}}
            ),
            422,
        )


# -- the command line -------------------------------------------------------------------------


async def _tickr(*args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKR_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tickr_app", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), deadline(60))
    return proc.returncode or 0, out.decode(), err.decode()


async def test_cli_submit_unknown_type_lists_the_known_ones_in_one_line(api: Api) -> None:
    code, out, err = await _tickr("submit", "nosuch", "--url", api.server.url)
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [
        "tickr submit: unknown job type 'nosuch'; known types: block, boom, echo [422 unknown_job_type]"
    ]


async def test_cli_submit_warns_about_an_unserved_queue_and_queues_forget(api: Api) -> None:
    code, out, err = await _tickr(
        "submit", "echo", "--payload", '{"text": "a"}', "--queue", "q2", "--url", api.server.url
    )
    assert code == 0 and len(out.strip()) == 36
    assert err.strip() == (
        "tickr submit: warning: no live worker serves queue 'q2': the job waits until one does "
        "(start one with: tickr worker --queue q2)"
    )
    code, _, err = await _tickr("queues", "forget", "q2", "--url", api.server.url)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "still holds jobs (1 ready)" in err
    await api.tickr.cancel(out.strip())
    code, out, _ = await _tickr("queues", "forget", "q2", "--url", api.server.url)
    assert code == 0 and out.strip() == "forgot queue 'q2'"
    code, out, _ = await _tickr("queues", "delete-dead", "default", "--url", api.server.url)
    assert code == 0 and out.strip() == "deleted 0 dead job(s) of queue 'default'"
