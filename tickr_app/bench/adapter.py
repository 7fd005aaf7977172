"""Tickr under test, through its public engine (the adapter ``bench/compare.py`` puts beside
arq's and SAQ's)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from .schedules import sched
from .workloads import record_latency, record_lateness

# -- Tickr ----------------------------------------------------------------------------------


class _Empty(BaseModel):
    pass


class _Stamp(BaseModel):
    t: float


class _Due(BaseModel):
    due_ms: int


async def _noop(payload: _Empty) -> None:
    return None


async def _lat(payload: _Stamp) -> None:
    record_latency(payload.t)


async def _late(payload: _Due) -> None:
    record_lateness(payload.due_ms)


def bench_registry() -> Any:
    from ..core.registry import Registry

    registry = Registry()
    registry.job("noop")(_noop)
    registry.job("lat")(_lat)
    registry.job("late")(_late)
    registry.job("sched")(sched)
    return registry


class TickrAdapter:
    """Tickr through its public engine: a producer-only ``Tickr(workers=0)`` submits, a second
    ``Tickr(workers=N)`` in the same event loop runs the pool and the scheduler."""

    name = "tickr"

    def __init__(self, redis_url: str | None, base_prefix: str) -> None:
        self.redis_url = redis_url
        self.base_prefix = base_prefix
        self.registry = bench_registry()
        self.prefix = f"{base_prefix}:setup"
        self.producer: Any = None
        self.worker: Any = None
        self._anchor: Any = None

    def _engine(self, workers: int, prefix: str | None = None, **options: Any) -> Any:
        from .. import Tickr

        return Tickr(
            self.redis_url,
            workers=workers,
            prefix=prefix or self.prefix,
            registry=self.registry,
            builtin_jobs=False,
            retention=600,  # a killed run's records expire by themselves
            **options,
        )

    async def open(self) -> str:
        """Connect (starting the embedded Redis when no URL was given); returns the URL."""
        if self.redis_url is None:
            # The engine's default: an embedded Redis. This engine owns it for the whole run.
            self._anchor = self._engine(0, f"{self.base_prefix}:anchor")
            await self._anchor.start()
            self.redis_url = self._anchor.redis_url
        self.producer = self._engine(0)
        await self.producer.start()
        return self.redis_url or ""

    async def redis_info(self) -> dict[str, Any]:
        return await self.producer.server_info("server")

    async def reset(self, phase: str) -> None:
        await self.stop_workers()
        if self.producer is not None:
            await self.producer.stop()
        self.prefix = f"{self.base_prefix}:{phase}"
        self.producer = self._engine(0)
        await self.producer.start()

    async def submit(self, kind: str, data: dict[str, Any], run_at: float | None = None) -> None:
        await self.producer.submit(kind, data, run_at=run_at)

    async def submit_bulk(self, kind: str, datas: Sequence[dict[str, Any]]) -> None:
        from .. import JobRequest

        await self.producer.submit_many([JobRequest(kind, d) for d in datas])

    async def submit_requests(self, requests: Sequence[Any]) -> None:
        """Tickr only: ``JobRequest``s with options (priority, queue) in one submit_many."""
        await self.producer.submit_many(requests)

    async def start_workers(self, concurrency: int, **options: Any) -> None:
        """``options``: Tickr only, e.g. ``queues={"high": 5, ...}``."""
        await self.stop_workers()
        self.worker = self._engine(concurrency, **options)
        await self.worker.start()

    async def stop_workers(self) -> None:
        if self.worker is not None:
            worker, self.worker = self.worker, None
            await worker.stop(grace_period=5.0)

    async def completed(self) -> int:
        stats = await self.producer.stats()
        return sum(s.succeeded for s in stats.values())

    async def close(self) -> None:
        await self.stop_workers()
        if self.producer is not None:
            producer, self.producer = self.producer, None
            await producer.stop()

    async def close_anchor(self) -> None:
        if self._anchor is not None:
            anchor, self._anchor = self._anchor, None
            await anchor.stop()
