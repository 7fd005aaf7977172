"""The queue-name rule is one rule (``core/keys.py``): whatever Python accepts, the HTTP API
accepts and can address, and whatever one refuses, the other refuses too."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest
from helpers import register_api_test_jobs
from timing import deadline

from tickr_app import Registry, Tickr
from tickr_app.api import start_api
from tickr_app.core.errors import InvalidRequest
from tickr_app.core.keys import is_queue_name

GOOD = ["default", "a", "mail.v2", "A-b_c.9", "9lives", "x" * 100]
BAD = [
    "",
    "x" * 101,
    "a/b",  # a URL path segment could not name it
    "a b",
    "tab\there",
    "new\nline",
    "nul\x00",
    "c1\x85char",  # NEL: a C1 control character
    "nbsp\u00a0",
    "émail",  # look-alike letters stay out of key names and logs
    "a{b}",
    "a:b",
    "a,b",
    "-leading-dash",
    ".hidden",
    "trailing\n",
]


@pytest.mark.parametrize("name", GOOD)
def test_rule_accepts(name: str) -> None:
    assert is_queue_name(name)


@pytest.mark.parametrize("name", BAD)
def test_rule_refuses(name: str) -> None:
    assert not is_queue_name(name)


async def test_engine_refuses_what_the_api_refuses(make_tickr: Any, registry: Registry) -> None:
    register_api_test_jobs(registry)
    tickr = await make_tickr(workers=0)
    for name in BAD:
        with pytest.raises(InvalidRequest, match="invalid queue name"):
            await tickr.submit("echo", {"text": "x"}, queue=name)
    with pytest.raises(InvalidRequest, match="invalid queue name"):
        Tickr(queues=["a/b"])
    with pytest.raises(ValueError, match="invalid queue name"):
        registry.job("slashed", queue="a/b")(_noop)
    assert (await tickr.stats()).keys() == {"default"}  # nothing was created


async def test_every_facade_method_taking_a_queue_refuses_a_bad_name(make_tickr: Any, registry: Registry) -> None:
    """No facade call registers (or reads) a queue the rule refuses: ``pause_queue("a b")`` must
    not put "a b" in the queue set."""
    tickr = await make_tickr(workers=0)
    calls = {
        "pause_queue": lambda q: tickr.pause_queue(q),
        "resume_queue": lambda q: tickr.resume_queue(q),
        "queue_stats": lambda q: tickr.queue_stats(q),
        "is_paused": lambda q: tickr.is_paused(q),
        "delete_dead": lambda q: tickr.delete_dead(q),
        "retry_dead": lambda q: tickr.retry_dead(q),
        "get_many": lambda q: tickr.get_many(q, ["x"]),
        "is_served": lambda q: tickr.is_served(q),
        "list_jobs": lambda q: tickr.list_jobs(q, "ready"),
        "forget_queue": lambda q: tickr.forget_queue(q),
    }
    for method, call in calls.items():
        for name in ("a b", "a:b", ""):
            with pytest.raises(InvalidRequest, match="invalid queue name"):
                await call(name)
                pytest.fail(f"{method}({name!r}) was accepted")
    assert await tickr.known_queues() == ["default"]


async def test_a_bad_name_already_in_the_queue_set_can_be_forgotten(make_tickr: Any, registry: Registry) -> None:
    tickr = await make_tickr(workers=0)
    broker = tickr._broker
    await broker.redis.sadd(broker.global_keys.queues, "legacy name")  # as an older version let in
    await tickr.forget_queue("legacy name")
    assert "legacy name" not in await tickr.known_queues()


async def test_api_accepts_and_addresses_what_python_creates(make_tickr: Any, registry: Registry) -> None:
    register_api_test_jobs(registry)
    tickr = await make_tickr(workers=0)
    server = await start_api(tickr, port=0)
    try:
        async with httpx.AsyncClient(base_url=server.url + "/api/v1", timeout=deadline(10)) as http:
            for name in GOOD:
                await tickr.submit("echo", {"text": "x"}, queue=name)  # created from Python ...
                r = await http.post(f"/queues/{name}/pause")  # ... and found by the API
                assert r.status_code == 200 and r.json()["name"] == name, r.text
                r = await http.post("/jobs", json={"type": "echo", "payload": {"text": "y"}, "queue": name})
                assert r.status_code == 202, r.text
            for name in BAD:
                r = await http.post("/jobs", json={"type": "echo", "payload": {"text": "y"}, "queue": name})
                assert r.status_code == 422, (name, r.text)
                assert r.json()["error"]["code"] == "invalid_request"
                if name:
                    r = await http.post(f"/queues/{quote(name, safe='')}/pause")
                    assert r.status_code == 404, (name, r.text)
    finally:
        await server.stop()


async def _noop(payload: dict[str, Any]) -> None:
    return None
