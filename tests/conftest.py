"""Shared fixtures: a real Redis (TICKR_TEST_REDIS_URL, else the embedded one), a key prefix
per test that is cleaned up afterwards, and engines that are always stopped. Per-test
timeouts (pytest-timeout) scale with ``timing.SLOWDOWN`` like every other deadline."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import timing

from tickr_app import Registry, Tickr


def pytest_report_header(config: pytest.Config) -> str:
    return timing.describe()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Also at the end, where ``-q`` shows it: which factor this run's deadlines used."""
    terminalreporter.write_line(timing.describe())


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, in the session that starts the workers: measure the slowdown once,
    with one CPU loop per worker running at the same time, and hand it to the workers."""
    distributed = getattr(config.option, "dist", "no") != "no" and not config.option.collectonly
    if distributed and not hasattr(config, "workerinput"):
        timing.measure_for_workers(len(getattr(config.option, "tx", None) or []))  # one "popen" per worker


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the xdist_group markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Scale each test's pytest-timeout (its own ``@pytest.mark.timeout`` or the ini default)
    by the slowdown factor: the timeout guards against hangs, not against a slow host.

    For ``--dist loadgroup``: tests that share a module- or class-scoped fixture (a Redis
    cluster, a TLS server) run on one worker, so that fixture is made once, not per worker; and
    in a worker the ``slow`` (process-level, longest) tests come first, so that xdist hands them
    out early and the run does not end waiting for one long test (the sort is stable: every
    worker collects the same order)."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None and _uses_shared_fixture(item):
            item.add_marker(pytest.mark.xdist_group(f"module:{item.module.__name__}"))  # type: ignore[attr-defined]
    if hasattr(config, "workerinput"):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    default = getattr(config, "_env_timeout", None)
    if timing.SLOWDOWN == 1.0:
        return
    for item in items:
        marker = item.get_closest_marker("timeout")
        base = (marker.kwargs.get("timeout") or (marker.args[0] if marker.args else None)) if marker else default
        if base:
            item.add_marker(pytest.mark.timeout(float(base) * timing.SLOWDOWN), append=False)


def _uses_shared_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None or getattr(item, "module", None) is None:
        return False
    return any(d.scope in ("module", "class", "package") for defs in info.name2fixturedefs.values() for d in defs)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("TICKR_TEST_REDIS_URL")
    if url:
        yield url
        return
    from tickr_app.core.embedded import EmbeddedRedis

    server = EmbeddedRedis(tmp_path_factory.mktemp("embedded-home"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards (never FLUSHDB)."""
    name = f"tickrtest-{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{name}:*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()


@pytest.fixture
def no_idle_recheck(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scheduler re-checks due jobs every IDLE_RECHECK_S (5 s) even without a wake message.
    Tests that bound lateness make that an hour, so a job that runs at all was woken on time,
    and their lateness bound can scale with a slow machine without a re-check passing for it."""
    import importlib

    patched = 0
    # Wherever the promote loop reads it from (the core modules are being split up).
    for name in ("scheduler", "schedule_runner", "precise_sleep"):
        try:
            module = importlib.import_module(f"tickr_app.core.{name}")
        except ImportError:
            continue
        if hasattr(module, "IDLE_RECHECK_S"):
            monkeypatch.setattr(module, "IDLE_RECHECK_S", 3600.0)
            patched += 1
    assert patched, "no IDLE_RECHECK_S to patch: where does the scheduler's re-check live now?"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "tickr-home"


@pytest.fixture
def registry() -> Registry:
    return Registry()


TickrFactory = Callable[..., Awaitable[Tickr]]


@pytest.fixture
async def make_tickr(redis_url: str, prefix: str, registry: Registry, home: Path) -> AsyncIterator[TickrFactory]:
    """Start engines on this test's prefix; all are stopped at the end (fast grace)."""
    started: list[Tickr] = []

    async def factory(**kwargs: Any) -> Tickr:
        kwargs.setdefault("registry", registry)
        kwargs.setdefault("prefix", prefix)
        kwargs.setdefault("home", home)
        kwargs.setdefault("builtin_jobs", False)
        kwargs.setdefault("grace_period", 2.0)
        tickr = Tickr(redis_url, **kwargs)
        await tickr.start()
        started.append(tickr)
        return tickr

    yield factory
    for tickr in reversed(started):
        await tickr.stop(grace_period=1.0)
