"""/api/v1/workflows against a real server on a free port: the round trip through
``tickr_app.AsyncClient`` and the sync ``Client``, and bad trees answered with 4xx JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import ThreadedApi, eventually, register_api_test_jobs
from timing import deadline

from tickr_app import Registry, Tickr, chain, group, sig
from tickr_app.api import start_api
from tickr_app.api.workflow_schemas import WorkflowList, WorkflowOut
from tickr_app.client import AsyncClient, Client, Conflict, NotFound, ValidationFailed


@pytest.fixture
async def served(make_tickr: Any, registry: Registry) -> AsyncIterator[tuple[Tickr, str]]:
    register_api_test_jobs(registry)
    tickr = await make_tickr(workers=2)
    server = await start_api(tickr, port=0)
    try:
        yield tickr, server.url
    finally:
        await server.stop()


async def test_round_trip(served: tuple[Tickr, str]) -> None:
    _, url = served
    async with AsyncClient(url, timeout=deadline(5)) as c:
        tree = chain(
            group(sig("echo", {"text": "a"}), sig("echo", {"text": "b", "times": 2})), sig("echo", {"text": "c"})
        )
        wf = await c.submit_workflow(tree)
        WorkflowOut.model_validate(wf)
        assert wf["total"] == 3 and len(wf["nodes"]) == 3 and wf["policy"] == "fail_fast"
        done = await c.wait_workflow(wf["id"], timeout=deadline(10), interval=0.02)
        assert done["status"] == "succeeded" and done["done"] == 3
        assert [n["result"] for n in done["nodes"]] == [{"echo": "a"}, {"echo": "bb"}, {"echo": "c"}]
        assert all(n["has_result"] and n["duration_ms"] is not None for n in done["nodes"])
        assert (await c.get(done["nodes"][0]["job_id"]))["status"] == "succeeded"  # nodes are jobs
        listed = await c.list_workflows(status="succeeded")
        WorkflowList.model_validate({"workflows": listed})
        assert [(w["id"], w["done"], w["total"]) for w in listed] == [(wf["id"], 3, 3)]

        failing = await c.submit_workflow(
            {"chain": [{"type": "boom"}, {"type": "echo", "payload": {"text": "x"}}]}, policy="continue"
        )
        failed = await c.wait_workflow(failing["id"], timeout=deadline(10), interval=0.02)
        assert failed["status"] == "failed" and failed["failed_node"] == 0
        assert [n["status"] for n in failed["nodes"]] == ["dead", "skipped"]
        assert "boom" in failed["nodes"][0]["error"]
        retried = await c.retry_workflow(failing["id"])
        assert retried["status"] in ("running", "failed")

        blocked = await c.submit_workflow(chain(sig("block"), sig("echo", {"text": "y"})))
        cancelled = await c.cancel_workflow(blocked["id"])
        assert cancelled["status"] == "cancelled"
        with pytest.raises(Conflict):
            await c.cancel_workflow(blocked["id"])
        with pytest.raises(NotFound):
            await c.get_workflow("00000000-0000-4000-8000-000000000000")


def test_sync_client(redis_url: str, prefix: str, registry: Registry, home: Path) -> None:
    register_api_test_jobs(registry)
    with (
        ThreadedApi(redis_url, workers=1, prefix=prefix, registry=registry, home=home, builtin_jobs=False) as api,
        Client(api.url, timeout=deadline(5)) as c,
    ):
        wf = c.submit_workflow(group(sig("echo", {"text": "s"})).then(sig("echo", {"text": "t"})), queue="default")
        done = c.wait_workflow(wf["id"], timeout=deadline(10), interval=0.02)
        assert done["status"] == "succeeded"
        assert [w["id"] for w in c.list_workflows(queue="default")] == [wf["id"]]
        assert c.get_workflow(wf["id"])["nodes"][1]["parents"] == [0]
        with pytest.raises(Conflict):
            c.retry_workflow(wf["id"])
        with pytest.raises(ValidationFailed):
            c.submit_workflow({"group": []})


@pytest.fixture
def raw(served: tuple[Tickr, str]) -> Iterator[httpx.AsyncClient]:
    yield httpx.AsyncClient(base_url=served[1] + "/api/v1", timeout=deadline(5))


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"tree": {"type": "nope"}}, 422, "unknown job type"),
        ({"tree": {"type": "echo", "payload": {"times": 2}}}, 422, "node 0"),
        ({"tree": {"group": []}}, 422, "at least one member"),
        ({"tree": {"chain": []}}, 422, "at least one step"),
        ({"tree": {"chain": [{"type": "echo", "payload": {"text": "a"}, "extra": 1}]}}, 422, "unknown field"),
        ({"tree": {"type": "echo", "chain": []}}, 422, "exactly one"),
        ({"tree": {"group": [{"type": "block"}] * 1001}}, 422, "more than 1000 members"),
        ({"tree": {"group": [{"group": [{"type": "block"}] * 1000}] * 6}}, 422, "more than 5000 nodes"),
        ({"tree": {"type": "block"}, "policy": "maybe"}, 422, "policy"),
        ({"tree": {"type": "block"}, "queue": "no spaces"}, 422, "queue"),
        ({"tree": []}, 422, "tree"),
        ({}, 422, "tree"),
    ],
)
async def test_bad_trees(raw: httpx.AsyncClient, body: dict[str, Any], status: int, says: str) -> None:
    async with raw:
        r = await raw.post("/workflows", json=body)
        assert r.status_code == status, r.text
        error = r.json()["error"]
        assert says in (error["message"] + str(error.get("details"))), error
        assert (await raw.get("/workflows")).json() == {"workflows": []}


async def test_unknown_ids_and_bad_queries(raw: httpx.AsyncClient) -> None:
    async with raw:
        assert (await raw.get("/workflows/not-a-uuid")).status_code == 404
        assert (await raw.delete("/workflows/00000000-0000-4000-8000-000000000000")).status_code == 404
        assert (await raw.post("/workflows/00000000-0000-4000-8000-000000000000/retry")).status_code == 404
        assert (await raw.get("/workflows", params={"status": "nope"})).status_code == 422
        assert (
            await raw.post("/workflows", content=b"{", headers={"Content-Type": "application/json"})
        ).status_code == 400


async def test_json_schema_edges(raw: httpx.AsyncClient) -> None:
    """What JSON Schema says: 3.0 is an integer; a null where a string is expected is not."""
    async with raw:
        ok = {"tree": {"type": "block", "max_attempts": 2.0}}
        assert (await raw.post("/workflows", json=ok)).status_code == 202
        for bad in (
            {"type": "block", "name": None},
            {"type": "block", "max_attempts": None},
            {"type": "block", "max_attempts": 1.5},
        ):
            r = await raw.post("/workflows", json={"tree": bad})
            assert r.status_code == 422, r.text


async def test_payloads_are_checked_strictly_as_post_jobs_does(raw: httpx.AsyncClient) -> None:
    async with raw:
        r = await raw.post(
            "/workflows", json={"tree": {"chain": [{"type": "echo", "payload": {"text": "a", "times": "2"}}]}}
        )
        assert r.status_code == 422 and "node 0" in r.json()["error"]["message"], r.text


async def test_delete_idempotency_key_and_the_job_naming_its_workflow(raw: httpx.AsyncClient) -> None:
    """DELETE on the workflow cancels it (as on a job); DELETE on its /record deletes it once it
    ended; an Idempotency-Key submits once; GET /jobs/{id} names a node's workflow."""
    async with raw:
        body = {"tree": {"chain": [{"type": "block"}, {"type": "echo", "payload": {"text": "x"}}]}}
        first = await raw.post("/workflows", json=body, headers={"Idempotency-Key": "k-1"})
        assert first.status_code == 202, first.text
        wf = first.json()
        again = await raw.post("/workflows", json=body, headers={"Idempotency-Key": "k-1"})
        assert again.status_code == 202 and again.json()["id"] == wf["id"]
        other = {"tree": {"type": "block"}}
        conflict = await raw.post("/workflows", json=other, headers={"Idempotency-Key": "k-1"})
        assert conflict.status_code == 409 and conflict.json()["error"]["details"] == {"workflow_id": wf["id"]}
        bad = await raw.post("/workflows", json=other, headers={"Idempotency-Key": "x" * 201})
        assert bad.status_code == 422, bad.text

        job = (await raw.get(f"/jobs/{wf['nodes'][0]['job_id']}")).json()
        assert (job["workflow_id"], job["node"]) == (wf["id"], 0)

        running = await raw.delete(f"/workflows/{wf['id']}/record")
        assert running.status_code == 409 and "cancel it first" in running.json()["error"]["message"]
        assert (await raw.delete(f"/workflows/{wf['id']}")).json()["status"] == "cancelled"

        async def deleted() -> bool:  # the running block node is asked to stop: 409 until it has
            r = await raw.delete(f"/workflows/{wf['id']}/record")
            assert r.status_code in (200, 409), r.text
            return r.status_code == 200 and r.json() == {"id": wf["id"], "deleted": True}

        await eventually(deleted, message="the workflow deleted")
        assert (await raw.get(f"/workflows/{wf['id']}")).status_code == 404
        assert (await raw.get(f"/jobs/{wf['nodes'][0]['job_id']}")).status_code == 404
        assert (await raw.delete(f"/workflows/{wf['id']}/record")).status_code == 404
        assert (await raw.delete("/workflows/not-a-uuid/record")).status_code == 404
