"""Test helpers: poll-with-deadline synchronisation, and small readers of engine state."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

from timing import deadline

Predicate = Callable[[], Any]


async def eventually(
    predicate: Predicate,
    timeout: float = 5.0,
    *,
    interval: float = 0.01,
    message: str | Callable[[], str] | None = None,
) -> Any:
    """Poll ``predicate`` (sync or async) every ``interval`` s until it returns something truthy,
    and return that value; raise AssertionError with a clear message after ``timeout`` s on a
    quiet machine (scaled by ``timing.SLOWDOWN``)."""
    timeout = deadline(timeout)
    until = time.monotonic() + timeout
    last: Any = None
    while True:
        last = predicate()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        if time.monotonic() >= until:
            text = message() if callable(message) else message
            name = getattr(predicate, "__name__", repr(predicate))
            raise AssertionError(
                f"condition {text or name!s} not met within {timeout:g} s (last value: {last!r})"
            )
        await asyncio.sleep(interval)


async def never(predicate: Predicate, duration: float, *, interval: float = 0.01, message: str = "") -> None:
    """A negative check: ``predicate`` must stay falsy for ``duration`` s (a bounded wait, for
    asserting that something does *not* happen). Scaled like every wait: on a slow machine
    what must not happen would also happen later."""
    until = time.monotonic() + deadline(duration)
    while time.monotonic() < until:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            raise AssertionError(f"{message or 'condition'} happened but must not have (value: {value!r})")
        await asyncio.sleep(interval)


async def pilot_wait_for(pilot: Any, predicate: Predicate, what: str, timeout: float = 8.0) -> Any:
    """Let a Textual app run (``pilot.pause``) until ``predicate()`` (sync or async) is truthy;
    fail after ``timeout`` s on a quiet machine (scaled by ``timing.SLOWDOWN``)."""
    timeout = deadline(timeout)
    until = time.monotonic() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > until:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await pilot.pause(0.05)


async def run_palette_command(pilot: Any, query: str, expect: str, timeout: float = 8.0) -> None:
    """Open the command palette, type ``query``, wait until the highlighted hit is the command
    whose text contains ``expect`` (the palette searches in a worker, batching hits), then Enter."""
    from textual.command import CommandList, CommandPalette

    await pilot.press("ctrl+p")
    palette = await pilot_wait_for(
        pilot, lambda: pilot.app.screen if isinstance(pilot.app.screen, CommandPalette) else None, "the palette", timeout
    )
    await pilot.press(*query)

    def highlighted() -> str:
        hits = palette.query_one(CommandList)
        if hits.highlighted is None or not hits.option_count:
            return ""
        return str(hits.get_option_at_index(hits.highlighted).prompt)

    await pilot_wait_for(pilot, lambda: expect.lower() in highlighted().lower(), f"the palette hit {expect!r}", timeout)
    await pilot.press("enter")


async def status_is(tickr: Any, job_id: str, *statuses: str, timeout: float = 5.0) -> Any:
    """Wait until the job is in one of ``statuses``; returns the Job."""

    last: list[Any] = [None]

    async def check_and_remember() -> Any:
        job = await tickr.get(job_id)
        last[0] = job
        return job if job is not None and job.status in statuses else None

    return await eventually(
        check_and_remember,
        timeout,
        message=lambda: f"job {job_id} reaches {'/'.join(statuses)} (it is {getattr(last[0], 'status', None)})",
    )


async def wait_all(tickr: Any, ids: list[str], timeout: float = 10.0) -> list[Any]:
    """``tickr.wait`` on each job in turn, with one overall deadline (one waiter at a time:
    each ``wait`` follows the event stream, so hundreds at once would mostly test that).
    ``timeout`` is the quiet-machine budget, scaled by ``timing.SLOWDOWN``."""

    async def each() -> list[Any]:
        return [await tickr.wait(i) for i in ids]

    return await asyncio.wait_for(each(), deadline(timeout))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


class Gate:
    """Holds handlers "running" until the test opens it, and counts who is inside."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.inside = 0
        self.max_inside = 0
        self.entered: list[str] = []
        self.cancelled: list[str] = []

    async def hold(self, job_id: str) -> None:
        self.inside += 1
        self.max_inside = max(self.max_inside, self.inside)
        self.entered.append(job_id)
        try:
            await self.open.wait()
        except asyncio.CancelledError:
            self.cancelled.append(job_id)
            raise
        finally:
            self.inside -= 1


# -- HTTP API helpers (tests/test_api*.py, tests/test_client.py) ------------------------------

import threading  # noqa: E402

from pydantic import BaseModel, Field  # noqa: E402


class ApiEcho(BaseModel):
    text: str = Field(max_length=1000)
    times: int = Field(default=1, ge=1, le=10)


def register_api_test_jobs(registry: Any) -> None:
    """Job types the API tests submit: ``echo`` (typed payload), ``boom`` (dies on its only
    attempt), ``block`` (runs until cancelled, or 60 s)."""

    @registry.job("echo")
    async def echo(payload: ApiEcho, ctx: Any) -> dict[str, str]:
        """Repeat a text."""
        return {"echo": payload.text * payload.times}

    @registry.job("boom", max_attempts=1)
    async def boom(payload: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    @registry.job("block", timeout=60)
    async def block(payload: dict[str, Any], ctx: Any) -> str:
        await asyncio.sleep(60)
        return "done"


class ThreadedApi:
    """A Tickr engine and its HTTP API on an event loop in a thread of their own, for callers
    that cannot await (the sync ``Client``, hypothesis). Stopped on ``__exit__``."""

    def __init__(self, redis_url: str, *, token: str | None = None, **tickr_kwargs: Any) -> None:
        self.redis_url = redis_url
        self.token = token
        self.tickr_kwargs = tickr_kwargs
        self.url = ""
        self.tickr: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="tickr-api-test", daemon=True)

    def __enter__(self) -> ThreadedApi:
        self._thread.start()
        if not self._ready.wait(deadline(20)):
            raise RuntimeError(f"the threaded API did not start within {deadline(20):g} s")
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self.loop is not None and self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(deadline(20))

    def run(self, coro: Any, timeout: float = 10.0) -> Any:
        """Run a coroutine on the server's loop (e.g. ``api.run(api.tickr.stats())``); ``timeout``
        is a quiet-machine budget."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(deadline(timeout))

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        from tickr_app import Tickr
        from tickr_app.api import start_api

        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            self.tickr = await Tickr(self.redis_url, **self.tickr_kwargs).start()
            server = await start_api(self.tickr, port=0, token=self.token)
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            if self.tickr is not None:
                await self.tickr.stop()
            return
        self.url = server.url
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await server.stop()
            await self.tickr.stop(grace_period=1.0)


async def enqueued_total(tickr: Any) -> int:
    """Jobs ever enqueued under the engine's prefix, over every queue."""
    return sum(s.enqueued for s in (await tickr.stats()).values())
