"""``Scripts``: one typed method per Lua file, and each method passes the number of KEYS its
file's name declares (``<name>-<numkeys>.lua``), on a real Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

import pytest
from helpers import eventually

from tickr_app.core.broker import Broker, BrokerSettings, EnqueueSpec, WorkerInfo
from tickr_app.core.connection import connect
from tickr_app.core.registry import Registry
from tickr_app.core.schedules import ScheduleStore, build_definition
from tickr_app.core.scripts import LUA_PACKAGE, Enqueued, Promoted, Scripts
from tickr_app.core.workflow_scripts import WorkflowScripts
from tickr_app.core.workflow_store import WorkflowStore, build_submission
from tickr_app.core.workflows import chain, sig

Q = "default"


def declared_numkeys() -> dict[str, str]:
    """Script name -> its numkeys as the file name says ('n' when variable)."""
    out = {}
    for entry in resources.files(LUA_PACKAGE).iterdir():
        if entry.name.endswith(".lua") and not entry.name.startswith("_"):
            name, numkeys = entry.name[: -len(".lua")].rsplit("-", 1)
            out[name] = numkeys
    return out


@pytest.fixture
async def broker(redis_url: str, prefix: str) -> AsyncIterator[Broker]:
    b = Broker(connect(redis_url), BrokerSettings(prefix=prefix))
    try:
        yield b
    finally:
        await b.close()


def spec(delay_ms: int = -1) -> EnqueueSpec:
    return EnqueueSpec(str(uuid.uuid4()), "t", "{}", 1, 0, 10, 100, delay_ms=delay_ms)


def test_every_script_file_has_one_public_method() -> None:
    methods = {name for name in vars(Scripts) if not name.startswith("_")}
    methods |= {f"workflow_{name}" for name in vars(WorkflowScripts) if not name.startswith("_")}
    assert set(declared_numkeys()) <= methods


async def test_each_call_passes_the_declared_number_of_keys(broker: Broker) -> None:
    scripts = broker.scripts
    by_sha = {handle.sha: name.lstrip("_") for name, handle in vars(scripts).items() if hasattr(handle, "sha")}
    by_sha |= {h.sha: "workflow" + name for name, h in vars(scripts.workflow).items() if hasattr(h, "sha")}
    calls: dict[str, set[int]] = {}
    real_evalsha = broker.redis.evalsha

    async def recording_evalsha(sha: str, numkeys: int, *keys_and_args: Any) -> Any:
        calls.setdefault(by_sha[sha], set()).add(numkeys)
        return await real_evalsha(sha, numkeys, *keys_and_args)

    broker.redis.evalsha = recording_evalsha  # a spy on the real client: Redis still runs it

    enqueued = await broker.enqueue(Q, [spec(), spec(), spec(), spec(delay_ms=50)])
    assert all(isinstance(e, Enqueued) and e.created for e in enqueued)
    jobs = await broker.fetch(Q, 3, "w", 30_000)
    assert jobs is not None and len(jobs) == 3
    first, second, third = jobs
    assert await broker.heartbeat(Q, jobs, 30_000) == [1, 1, 1]
    assert await broker.progress(Q, first.id, first.token, 50.0, "half") is True
    assert await broker.ack(Q, [(first, "null")]) == [True]
    assert await broker.fail(second, "boom", "", 0, retryable=False) == "dead"
    assert await broker.release(third) is True
    assert await broker.retry(second.id) == "ready"

    async def promote() -> Promoted | None:
        reply = await broker.promote_and_lease(Q, 10, 1, "w", 30_000)
        return reply if reply.promoted else None

    promoted = await eventually(promote, message="the delayed job came due")
    assert isinstance(promoted, Promoted) and promoted.promoted == 1 and len(promoted.leased) == 1
    assert await broker.finish_cancel(promoted.leased[0]) is True
    assert await broker.recover(Q) == 0
    assert await broker.retry_dead(Q) == 0
    assert await broker.set_priority(second.id, 5) == "ready"
    assert await broker.cancel(third.id) == "cancelled"
    assert await broker.delete(third.id) == "deleted"
    info = WorkerInfo("w", "host", 1, [Q], 1, 0, False, 0, 0, [])
    await broker.register_worker(info, 5000)
    await broker.command_worker("w", concurrency=3)
    assert await broker.register_worker(info, 5000) == {"concurrency": "3"}

    # Flow control: a limited queue takes the limits path of fetch, ack and heartbeat too.
    limited = f"{Q}-limited"
    assert await broker.set_limits(limited, "t", concurrency=1) is True
    await broker.enqueue(limited, [spec(), spec()])
    fetched = await broker.fetch_limited(limited, 5, "w", 30_000)
    assert fetched.jobs is not None and len(fetched.jobs) == 1 and not fetched.throttled
    assert await broker.heartbeat(limited, fetched.jobs, 30_000) == [1]
    assert await broker.rate_limited(fetched.jobs[0], 50) is True

    assert await broker.delete_dead(Q) == 0  # the dead job above was retried
    assert await broker.forget_queue(f"{Q}-unused") is None

    registry = Registry()

    @registry.job("t", queue=Q)
    async def t(payload: dict[str, Any]) -> None: ...

    store = ScheduleStore(broker)
    await store.upsert(build_definition(registry, "s", "t", {}, every=60))
    await store.tick(Q, [])
    await store.set_paused("s", True)
    await store.trigger("s", str(uuid.uuid4()))
    await store.delete("s")

    workflows = WorkflowStore(broker)
    submitted = await workflows.submit(build_submission(registry, chain(sig("t"), sig("t")), queue=Q, policy="fail_fast"))
    assert (await workflows.cancel(submitted.id)).status == "cancelled"
    assert (await workflows.retry(submitted.id)).status == "running"
    await workflows.cancel(submitted.id)
    await workflows.delete(submitted.id)

    declared = declared_numkeys()
    assert set(calls) == set(declared), "every script was exercised"
    for name, numkeys in declared.items():
        if numkeys != "n":
            assert calls[name] == {int(numkeys)}, name


def test_each_script_carries_only_the_helpers_it_reaches() -> None:
    """Redis runs a script's whole text on every call: a helper prepended but unused still costs
    a closure per call (all of them cost ~15 us a call once limits and workflows came)."""
    from tickr_app.core.scripts import lua_sources

    sources = lua_sources()
    assert "local function lease_limited" not in sources["enqueue"]
    assert "local function wf_on_success" not in sources["enqueue"]
    assert "local function wf_on_success" in sources["ack"]
    # What is reached through another helper comes too, defined before its caller.
    fetch = sources["fetch"]
    assert fetch.index("local function pop_ready") < fetch.index("local function lease_ready")
    assert fetch.index("local function lease_limited") < fetch.index("local function lease_ready")
