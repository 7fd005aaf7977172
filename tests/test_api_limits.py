"""/api/v1/queues/{name}/limits[/{type}] against a real server and Redis; the Client's limit
methods; ``tickr limits ...``; bad values are JSON 4xx (HTTP) or one line and exit 1 (CLI)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from helpers import ThreadedApi, register_api_test_jobs
from timing import deadline

from tickr_app import Client, Registry, Tickr
from tickr_app.api import start_api
from tickr_app.api.limit_schemas import QueueLimitsOut, TypeLimitsOut
from tickr_app.api.schemas import ErrorOut, QueueList
from tickr_app.cli import main
from tickr_app.client import ValidationFailed


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


async def test_limits_round_trip(http: tuple[Tickr, httpx.AsyncClient]) -> None:
    tickr, api = http
    r = await api.get("/queues/default/limits")
    assert r.status_code == 200
    empty = QueueLimitsOut.model_validate(r.json())
    assert (empty.rate, empty.concurrency, empty.types) == (None, None, {})

    r = await api.put("/queues/default/limits", json={"rate": "100/s", "concurrency": 3})
    assert r.status_code == 200, r.text
    set_ = QueueLimitsOut.model_validate(r.json())
    assert (set_.rate, set_.live_rate, set_.concurrency) == ("100/s", "100/s", 3)
    assert (await tickr.get_limits("default")).limits.concurrency == 3, "the engine sees it"

    r = await api.put("/queues/default/limits", json={"concurrency": None})  # null removes one limit
    assert r.status_code == 200 and (r.json()["rate"], r.json()["concurrency"]) == ("100/s", None)

    r = await api.put("/queues/default/limits/echo", json={"rate": "10/min", "concurrency": 2})
    assert r.status_code == 200, r.text
    typed = TypeLimitsOut.model_validate(r.json())
    assert (typed.queue, typed.job_type, typed.rate, typed.concurrency) == ("default", "echo", "10/min", 2)
    got = QueueLimitsOut.model_validate((await api.get("/queues/default/limits")).json())
    assert got.types["echo"].rate == "10/min"
    assert (await api.get("/queues/default/limits/echo")).json()["concurrency"] == 2

    queues = QueueList.model_validate((await api.get("/queues")).json()).queues
    default = next(q for q in queues if q.name == "default")
    assert default.limits is not None and default.limits.rate == "100/s"

    metrics = (await api.get(str(api.base_url).removesuffix("/api/v1/") + "/metrics")).text
    assert 'tickr_limit_throttled{queue="default",type=""}' in metrics
    assert 'tickr_queue_throttled_seconds_total{queue="default"}' in metrics

    r = await api.delete("/queues/default/limits/echo")
    assert r.status_code == 200 and (r.json()["rate"], r.json()["concurrency"]) == (None, None)
    r = await api.delete("/queues/default/limits")
    assert r.status_code == 200 and r.json()["rate"] is None
    default = next(q for q in (await api.get("/queues")).json()["queues"] if q["name"] == "default")
    assert default["limits"] is None or default["limits"]["rate"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"rate": "0/s"},
        {"rate": "abc"},
        {"rate": "-1/s"},
        {"rate": "5/0s"},
        {"rate": 100},
        {"concurrency": 0},
        {"concurrency": -2},
        {"concurrency": "3"},
        {"concurrency": 2.5},
        {},
        {"rate": "1/s", "burst": 3},
    ],
)
async def test_bad_values_are_json_422(http: tuple[Tickr, httpx.AsyncClient], body: dict[str, Any]) -> None:
    _, api = http
    r = await api.put("/queues/default/limits", json=body)
    assert r.status_code == 422, r.text
    assert error_of(r)["code"] == "invalid_request"


async def test_bad_rate_names_the_rule(http: tuple[Tickr, httpx.AsyncClient]) -> None:
    _, api = http
    r = await api.put("/queues/default/limits", json={"rate": "5/xx"})
    assert r.status_code == 422, r.text
    [detail] = error_of(r)["details"]
    assert detail["field"] == "rate" and "'100/s'" in detail["message"], detail
    assert "pattern" not in detail["message"], "the rule in words, not the regular expression"
    assert detail["message"].startswith("invalid rate '5/xx'"), "no 'Value error, ' label in front"


async def test_unknown_queue_and_type(http: tuple[Tickr, httpx.AsyncClient]) -> None:
    _, api = http
    r = await api.put("/queues/no-such-queue/limits", json={"rate": "1/s"})
    assert r.status_code == 404 and error_of(r)["code"] == "queue_not_found"
    r = await api.put("/queues/default/limits/a-type-served-elsewhere", json={"rate": "1/s"})
    assert r.status_code == 200, "a worker elsewhere may run a type this server does not know"
    r = await api.put("/queues/default/limits/bad%01name", json={"rate": "1/s"})
    assert r.status_code == 422 and error_of(r)["code"] == "invalid_request"
    r = await api.put("/queues/default/limits", content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 400


async def test_openapi_documents_limits(http: tuple[Tickr, httpx.AsyncClient]) -> None:
    _, api = http
    doc = (await api.get("/openapi.json")).json()
    paths = doc["paths"]
    assert set(paths["/api/v1/queues/{name}/limits"]) >= {"get", "put", "delete"}
    assert set(paths["/api/v1/queues/{name}/limits/{type}"]) >= {"get", "put", "delete"}
    assert "SetLimits" in doc["components"]["schemas"] and "QueueLimitsOut" in doc["components"]["schemas"]


def test_client_and_cli_round_trip(redis_url: str, prefix: str, home: Any, capsys: pytest.CaptureFixture[str]) -> None:
    registry = Registry()
    register_api_test_jobs(registry)
    with ThreadedApi(redis_url, prefix=prefix, registry=registry, builtin_jobs=False, workers=1, home=home) as server:
        with Client(server.url) as client:
            assert client.set_limits("default", rate="20/s")["rate"] == "20/s"
            assert client.set_limits("default", "echo", concurrency=4)["concurrency"] == 4
            assert client.limits("default")["types"]["echo"]["concurrency"] == 4
            assert client.clear_limits("default", "echo", rate=False)["concurrency"] is None
            assert client.clear_limits("default")["rate"] is None
            with pytest.raises(ValidationFailed):
                client.set_limits("default", rate="fast")

        url = ["--url", server.url]

        def run(*argv: str) -> tuple[int, str, str]:
            code = main(["limits", *argv, *url])
            out, err = capsys.readouterr()
            return code, out, err

        code, out, _ = run("set", "default", "--rate", "10/min", "--concurrency", "2")
        assert code == 0 and "rate 10/min" in out and "concurrency 2" in out
        code, out, _ = run("set", "default", "--type", "echo", "--rate", "5/s")
        assert code == 0 and "type echo" in out
        code, out, _ = run("show", "default", "--json")
        shown = orjson.loads(out)
        assert shown["rate"] == "10/min" and shown["types"]["echo"]["rate"] == "5/s"
        code, out, _ = run("show", "default")
        assert code == 0 and out.splitlines()[0].startswith("default:") and "type echo" in out
        code, out, _ = run("clear", "default", "--concurrency")
        assert code == 0 and "concurrency - " in out and "rate 10/min" in out
        assert server.run(server.tickr.get_limits("default")).limits.rate == "10/min"

        for bad in (["set", "default", "--rate", "0/s"], ["set", "default", "--rate", "abc"],
                    ["set", "default", "--concurrency", "-1"], ["set", "default"],
                    ["show", "nope"]):  # fmt: skip
            code, out, err = run(*bad)
            assert code == 1 and out == "" and len(err.strip().splitlines()) == 1, (bad, err)
