"""/api/v1/schedules against a real server and Redis, and the sync Client's schedule methods."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from helpers import ThreadedApi, eventually, register_api_test_jobs
from timing import deadline

from tickr_app import Client, Registry, Tickr
from tickr_app.api import start_api
from tickr_app.api.schedule_schemas import ScheduleList, ScheduleOut, TriggerOut
from tickr_app.api.schemas import ErrorOut
from tickr_app.client import NotFound, ValidationFailed


@pytest.fixture
async def http(make_tickr: Any, registry: Registry) -> AsyncIterator[tuple[Tickr, httpx.AsyncClient]]:
    register_api_test_jobs(registry)
    tickr = await make_tickr(workers=1)
    server = await start_api(tickr, port=0)
    try:
        async with httpx.AsyncClient(base_url=server.url + "/api/v1", timeout=deadline(10)) as client:
            yield tickr, client
    finally:
        await server.stop()


def error_of(r: httpx.Response) -> dict[str, Any]:
    assert r.headers["content-type"].startswith("application/json")
    return ErrorOut.model_validate(r.json()).error.model_dump()


async def test_schedule_round_trip(http: tuple[Tickr, httpx.AsyncClient]) -> None:
    tickr, api = http
    body = {"type": "echo", "payload": {"text": "hi"}, "cron": "0 9 * * MON-FRI", "tz": "Europe/Berlin"}
    r = await api.put("/schedules/digest", json=body)
    assert r.status_code == 201, r.text
    created = ScheduleOut.model_validate(r.json())
    assert created.cron == "0 9 * * MON-FRI" and created.tz == "Europe/Berlin" and len(created.upcoming) == 5
    assert created.upcoming[0] == created.next_run_at and created.upcoming == sorted(created.upcoming)

    r = await api.put("/schedules/digest", json={**body, "payload": {"text": "ho"}})
    assert r.status_code == 200 and r.json()["payload"] == {"text": "ho", "times": 1}  # validated, defaults filled
    assert r.json()["next_run_at"] == created.next_run_at  # same timing: same next run
    assert [s.id for s in ScheduleList.model_validate((await api.get("/schedules")).json()).schedules] == ["digest"]
    assert (await api.get("/schedules/digest")).json()["revision"] == 2

    assert (await api.post("/schedules/digest/pause")).json()["paused"] is True
    assert (await api.post("/schedules/digest/resume")).json()["paused"] is False
    r = await api.post("/schedules/digest/trigger")
    assert r.status_code == 202
    job_id = TriggerOut.model_validate(r.json()).job_id
    assert (await tickr.wait(job_id, timeout=deadline(5))).result == {"echo": "ho"}

    assert (await api.delete("/schedules/digest")).json() == {"id": "digest", "deleted": True}
    for method, path in (("GET", ""), ("DELETE", ""), ("POST", "/trigger"), ("POST", "/pause"), ("POST", "/resume")):
        r = await api.request(method, f"/schedules/digest{path}")
        assert r.status_code == 404 and error_of(r)["code"] == "schedule_not_found"


async def test_interval_schedule_fires_through_the_api(http: tuple[Tickr, httpx.AsyncClient]) -> None:
    tickr, api = http
    r = await api.put("/schedules/fast", json={"type": "echo", "payload": {"text": "x"}, "every": 0.2})
    assert r.status_code == 201

    async def fired() -> bool:
        return (await api.get("/schedules/fast")).json()["fired"] >= 2

    await eventually(fired, 5)
    s = (await api.get("/schedules/fast")).json()
    assert s["last_job_id"] and s["last_status"] in ("ready", "active", "succeeded")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "echo", "payload": {"text": "x"}, "cron": "0 25 * * *"}, "cron"),
        ({"type": "echo", "payload": {"text": "x"}, "cron": "every day"}, "cron"),
        ({"type": "echo", "payload": {"text": "x"}, "cron": "* * * * *", "tz": "Nowhere/Land"}, "tz"),
        ({"type": "echo", "payload": {"text": "x"}, "cron": "* * * * *", "tz": "America"}, "tz"),
        ({"type": "echo", "payload": {"text": "x"}, "every": 0.001}, "every"),
        ({"type": "echo", "payload": {"text": "x"}, "every": -1}, "every"),
        ({"type": "echo", "payload": {"text": "x"}, "every": 1e308}, "every"),
        ({"type": "echo", "payload": {"text": "x"}, "every": 5, "misfire": "sometimes"}, "misfire"),
        ({"type": "echo", "payload": {"text": "x"}, "every": 5, "misfire_grace": 0}, "misfire_grace"),
        ({"type": "echo", "payload": {"text": "x"}, "every": 5, "start": "tomorrow"}, "start"),
        ({"type": "echo", "payload": {"text": "x"}, "every": 5, "start": 1e12}, "start"),
        ({"type": "echo", "payload": {"text": "x"}, "every": 5, "start": 2e9, "end": 1e9}, "end"),
        # the pattern allows these (their syntax is right) but no schedule can follow them
        ({"type": "echo", "payload": {"text": "x"}, "cron": "0 9 * * FRI-MON"}, "cron"),
        ({"type": "echo", "payload": {"text": "x"}, "cron": "0 0 30 2 *"}, "cron"),
        ({"type": "echo", "payload": {"text": "x"}, "cron": "0 0 */40 * WED#4"}, "cron"),
        ({"type": "echo", "payload": {"text": 5}, "every": 5}, "text"),
        ({"type": "echo", "payload": {"text": "x"}, "every": 5, "color": "red"}, "color"),
    ],
)
async def test_bad_schedules_are_422_naming_the_field(
    http: tuple[Tickr, httpx.AsyncClient], body: dict[str, Any], field: str
) -> None:
    api = http[1]
    r = await api.put("/schedules/bad", json=body)
    assert r.status_code == 422, r.text
    err = error_of(r)
    assert any(field in d["field"] for d in err["details"]), err
    assert (await api.get("/schedules/bad")).status_code == 404  # nothing was created


async def test_other_bad_requests(http: tuple[Tickr, httpx.AsyncClient]) -> None:
    api = http[1]
    r = await api.put("/schedules/x", json={"type": "echo", "payload": {"text": "x"}})
    assert r.status_code == 422  # neither cron nor every
    r = await api.put("/schedules/x", json={"type": "nope", "every": 5})
    assert r.status_code == 422 and error_of(r)["code"] == "unknown_job_type"
    r = await api.put("/schedules/x", content=b"{", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = await api.put("/schedules/a%20b", json={"type": "echo", "payload": {"text": "x"}, "every": 5})
    assert r.status_code == 422 and error_of(r)["details"][0]["field"] == "id"
    assert (await api.get("/schedules/a%20b")).status_code == 404
    assert (await api.patch("/schedules/x")).status_code == 405


async def test_openapi_documents_the_schedules_api(http: tuple[Tickr, httpx.AsyncClient]) -> None:
    api = http[1]
    doc = (await api.get("/openapi.json")).json()
    paths = doc["paths"]
    assert set(paths["/api/v1/schedules/{id}"]) >= {"get", "put", "delete", "parameters"}
    for action in ("trigger", "pause", "resume"):
        assert "post" in paths[f"/api/v1/schedules/{{id}}/{action}"]
    assert "UpsertSchedule" in doc["components"]["schemas"]
    put = paths["/api/v1/schedules/{id}"]["put"]
    assert {"200", "201", "409", "422"} <= set(put["responses"])


async def test_cron_follows_the_documents_pattern(http: tuple[Tickr, httpx.AsyncClient]) -> None:
    api = http[1]
    doc = (await api.get("/openapi.json")).json()
    variant = doc["components"]["schemas"]["Schedule_echo"]
    cron = next(b for b in variant["properties"]["cron"]["anyOf"] if b["type"] == "string")
    pattern = re.compile(cron["pattern"])
    good, bad = "*/15 9-17 * * mon-fri", "61 9 * * *"
    assert pattern.fullmatch(good) and not pattern.fullmatch(bad)
    r = await api.put("/schedules/p", json={"type": "echo", "payload": {"text": "x"}, "cron": good})
    assert r.status_code == 201, r.text
    r = await api.put("/schedules/p", json={"type": "echo", "payload": {"text": "x"}, "cron": bad})
    assert r.status_code == 422, r.text
    details = error_of(r)["details"]
    assert details[0]["field"] == "cron" and "5 fields" in details[0]["message"], details
    assert (await api.get("/schedules/p")).json()["cron"] == good  # unchanged


async def test_the_document_gives_each_job_type_its_own_put_body(http: tuple[Tickr, httpx.AsyncClient]) -> None:
    """As POST /jobs: a body the document allows names a known type with a payload it takes."""
    api = http[1]
    doc = (await api.get("/openapi.json")).json()
    body = doc["paths"]["/api/v1/schedules/{id}"]["put"]["requestBody"]["content"]["application/json"]["schema"]
    variants = [doc["components"]["schemas"][v["$ref"].rsplit("/", 1)[1]] for v in body["oneOf"]]
    echo = next(v for v in variants if v["properties"]["type"].get("const") == "echo")
    assert echo["properties"]["payload"]["$ref"].endswith("/Payload_echo") and "payload" in echo["required"]
    assert all("const" in v["properties"]["type"] for v in variants)


async def test_times_read_as_post_jobs_reads_them(http: tuple[Tickr, httpx.AsyncClient]) -> None:
    api = http[1]
    body = {"type": "echo", "payload": {"text": "x"}, "every": 60, "start": "2030-01-01t09:00:00z"}
    r = await api.put("/schedules/t", json={**body, "end": "9999-12-31T23:59:60Z"})  # RFC 3339 spellings
    assert r.status_code == 201, r.text
    assert r.json()["start_at"] == 1_893_488_400_000 and r.json()["end_at"] == 100_000_000_000_000


async def test_moving_a_schedule_to_another_queue_is_a_conflict(http: tuple[Tickr, httpx.AsyncClient]) -> None:
    api = http[1]
    body = {"type": "echo", "payload": {"text": "x"}, "every": 60}
    assert (await api.put("/schedules/m", json={**body, "queue": "one"})).status_code == 201
    r = await api.put("/schedules/m", json={**body, "queue": "two"})
    assert r.status_code == 409, r.text  # a state conflict, not a malformed request
    err = error_of(r)
    assert err["code"] == "schedule_queue_conflict" and err["details"][0]["field"] == "queue"
    assert (await api.get("/schedules/m")).json()["queue"] == "one"


def test_sync_client_schedule_methods(redis_url: str, prefix: str, home: Any) -> None:
    registry = Registry()
    register_api_test_jobs(registry)
    with ThreadedApi(redis_url, prefix=prefix, registry=registry, builtin_jobs=False, workers=1, home=home) as server:
        with Client(server.url) as api:
            s = api.put_schedule("c1", "echo", {"text": "a"}, every=3600, overlap="skip")
            assert s["every"] == 3600 and s["overlap"] == "skip"
            assert [x["id"] for x in api.schedules()] == ["c1"]
            assert api.pause_schedule("c1")["paused"] is True
            assert api.resume_schedule("c1")["paused"] is False
            job_id = api.trigger_schedule("c1")["job_id"]
            assert api.wait(job_id, timeout=deadline(5))["status"] == "succeeded"
            with pytest.raises(ValidationFailed) as info:
                api.put_schedule("c1", "echo", {"text": "a"}, cron="nope")
            assert info.value.details[0]["field"] == "cron"
            api.delete_schedule("c1")
            with pytest.raises(NotFound):
                api.get_schedule("c1")


async def test_hostile_schedule_bodies_never_get_a_5xx(http: tuple[Tickr, httpx.AsyncClient]) -> None:
    import random

    api = http[1]
    rng = random.Random(13)
    junk: list[Any] = [
        "", " ", "*", "* * * * * * *", "@never", "@daily", "0 0 30 2 *", "L W # ?", "1-99/0 * * * *", "../..",
        "Europe", "Europe/", "/etc/passwd", "UTC\x00", "é" * 300, None, 0, -1, 1e308, True, [], {}, "5m", "1e999",
    ]  # fmt: skip
    for _ in range(120):
        body: dict[str, Any] = {
            "type": rng.choice(["echo", "nope", 3]),
            "payload": rng.choice([{"text": "x"}, None, []]),
        }
        for field in ("cron", "every", "tz", "start", "end", "misfire_grace", "max_catchup", "queue"):
            if rng.random() < 0.5:
                body[field] = rng.choice(junk)
        sid = rng.choice(["ok", "a.b", "%00", "x" * 250, "..", "-"])
        r = await api.put(f"/schedules/{sid}", json=body)
        assert r.status_code < 500, (body, r.text)
        assert r.headers["content-type"].startswith("application/json")
