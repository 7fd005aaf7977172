"""The records the core hands out and takes in: plain dataclasses with no Redis access.

The broker builds them from Redis replies, the engine returns them from the ``Tickr`` facade,
and the API, the TUI and the notebook displays read them. ``Job`` lives in ``job.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from .job import Status
from .limits import QueueLimits
from .slots import DEFAULT_MAX_CATCHUP, Timing, make_timing, upcoming

ListableStatus = Status
"""Every status can be listed."""


@dataclass(slots=True)
class EnqueueSpec:
    """One job to enqueue, already validated and encoded."""

    id: str
    type: str
    payload_json: str
    max_attempts: int
    timeout_ms: int
    backoff_base_ms: int
    backoff_cap_ms: int
    delay_ms: int = -1
    run_at_ms: int = -1
    idempotency_key: str = ""
    request_fingerprint: str = ""
    """With an idempotency key: a digest of what was asked (type, payload, options), so a reuse
    of the key for a different request is told apart from a repeat."""


@dataclass(slots=True)
class LeasedJob:
    """A job this process holds a lease on; ``token`` fences it against a late ack."""

    queue: str
    id: str
    token: str
    attempt: int
    type: str
    payload_json: str
    max_attempts: int
    timeout_ms: int
    backoff_base_ms: int
    backoff_cap_ms: int
    created_at: int
    due_at: int


@dataclass(slots=True)
class QueueStats:
    name: str
    ready: int = 0
    waiting: int = 0
    active: int = 0
    dead: int = 0
    paused: bool = False
    enqueued: int = 0
    processed: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    cancelled: int = 0
    limited: int = 0
    """Jobs a rate or concurrency limit (or a RateLimited pause) held back for a while."""
    rate_limited: int = 0
    """Times a handler raised RateLimited."""
    throttled_ms: int = 0
    """Time the queue's own limits let nothing start."""
    by_type: dict[str, dict[str, int]] = field(default_factory=dict)
    limits: QueueLimits | None = None
    """The queue's limits and their state; None when it has none."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ready": self.ready,
            "waiting": self.waiting,
            "active": self.active,
            "dead": self.dead,
            "paused": self.paused,
            "enqueued": self.enqueued,
            "processed": self.processed,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "retried": self.retried,
            "cancelled": self.cancelled,
            "limited": self.limited,
            "rate_limited": self.rate_limited,
            "throttled_ms": self.throttled_ms,
            "by_type": self.by_type,
            "limits": self.limits.to_dict() if self.limits is not None else None,
        }

    # Notebook displays (see reprs.py).
    def _repr_html_(self) -> str:
        from .reprs import queue_stats_html

        return queue_stats_html(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        from .reprs import queue_stats_text

        p.text("QueueStats(...)" if cycle else queue_stats_text(self))


@dataclass(slots=True)
class LagStats:
    """What the worker registry, the API and the TUI show of one process's loop."""

    lag_ms: float
    """The largest lag since the previous snapshot (about the last second when polled 1×/s)."""
    p99_ms: float
    max_ms: float
    """Over the last minute."""
    stalls: int
    """Stalls over the threshold since start."""
    offender: str
    """Who held the loop in the last stall: ``job <type> <id>`` or ``not a job: <callback>``."""
    offender_ms: float
    lease_risks: int
    """Stalls long enough to delay lease heartbeats."""


@dataclass(slots=True)
class WorkerInfo:
    id: str
    host: str
    pid: int
    queues: list[str]
    concurrency: int
    busy: int
    paused: bool
    started_at: int
    heartbeat_at: int
    jobs: list[str]
    loop: LagStats | None = None
    """The process's event-loop lag; None from a process that does not report it."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "host": self.host,
            "pid": self.pid,
            "queues": self.queues,
            "concurrency": self.concurrency,
            "busy": self.busy,
            "paused": self.paused,
            "started_at": self.started_at,
            "heartbeat_at": self.heartbeat_at,
            "jobs": self.jobs,
            "loop": asdict(self.loop) if self.loop is not None else None,
        }

    # Notebook displays (see reprs.py).
    def _repr_html_(self) -> str:
        from .reprs import worker_html

        return worker_html(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        from .reprs import worker_text

        p.text("WorkerInfo(...)" if cycle else worker_text(self))


@dataclass(slots=True)
class RunningJob:
    """What a dashboard shows of a busy slot."""

    slot: int
    job_id: str
    type: str
    queue: str
    attempt: int
    elapsed: float


@dataclass(frozen=True, slots=True)
class PoolState:
    """A snapshot of this process's own pool, for dashboards: read locally, no Redis."""

    worker_id: str
    concurrency: int
    busy: int
    paused: bool
    in_flight: int
    """Jobs the process still holds a lease on (running, queued locally, or being acked)."""
    grace_period: float
    running: list[RunningJob]


# -- event stream entries --------------------------------------------------------------------

Event = tuple[str, dict[str, str]]
"""(stream id, {'e': event name, 'id': job id(s), 'n': count?})."""


def event_job_ids(fields: dict[str, str]) -> list[str]:
    ids = fields.get("id", "")
    return ids.split(",") if ids else []


def event_count(fields: dict[str, str]) -> int:
    """How many jobs an event covers (1 unless it is a batch event)."""
    try:
        return int(fields.get("n", 1))
    except ValueError:
        return 1


@dataclass(slots=True)
class Schedule:
    """A snapshot of one schedule: definition, state and its last run. Times are epoch ms."""

    id: str
    queue: str
    type: str
    payload: Any
    cron: str | None
    every_ms: int | None
    tz: str
    start_ms: int | None
    end_ms: int | None
    paused: bool
    misfire: str
    grace_ms: int
    max_catchup: int
    overlap: str
    next_run_at: int | None
    last_slot: int | None = None
    last_run_at: int | None = None
    last_job_id: str | None = None
    last_status: str | None = None
    fired: int = 0
    skipped: int = 0
    triggered: int = 0
    revision: int = 0
    created_at: int | None = None
    updated_at: int | None = None

    @classmethod
    def from_hash(cls, h: Mapping[str, str], last_status: str | None = None) -> Schedule:
        nxt = _opt_int(h.get("next"))
        return cls(
            id=h["id"],
            queue=h.get("queue", ""),
            type=h.get("type", ""),
            payload=orjson.loads(h["payload"]) if h.get("payload") else None,
            cron=h.get("cron") or None,
            every_ms=_opt_int(h.get("every_ms")),
            tz=h.get("tz") or "UTC",
            start_ms=_opt_int(h.get("start_ms")),
            end_ms=_opt_int(h.get("end_ms")),
            paused=h.get("paused") == "1",
            misfire=h.get("misfire", "skip"),
            grace_ms=_opt_int(h.get("grace_ms")) or 0,
            max_catchup=_opt_int(h.get("max_catchup")) or DEFAULT_MAX_CATCHUP,
            overlap=h.get("overlap", "allow"),
            next_run_at=nxt if nxt is not None and nxt >= 0 else None,
            last_slot=_opt_int(h.get("last_slot")),
            last_run_at=_opt_int(h.get("last_fired_at")),
            last_job_id=h.get("last_job") or None,
            last_status=last_status,
            fired=_opt_int(h.get("fired")) or 0,
            skipped=_opt_int(h.get("skipped")) or 0,
            triggered=_opt_int(h.get("triggered")) or 0,
            revision=_opt_int(h.get("rev")) or 0,
            created_at=_opt_int(h.get("created_at")),
            updated_at=_opt_int(h.get("updated_at")),
        )

    @property
    def timing(self) -> Timing:
        return make_timing(
            cron=self.cron, every_ms=self.every_ms, tz=self.tz, start_ms=self.start_ms, end_ms=self.end_ms
        )

    def upcoming(self, after_ms: int, n: int = 5) -> list[int]:
        return upcoming(self.timing, after_ms, n)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "queue": self.queue,
            "type": self.type,
            "payload": self.payload,
            "cron": self.cron,
            "every": None if self.every_ms is None else self.every_ms / 1000,
            "tz": self.tz,
            "start_at": self.start_ms,
            "end_at": self.end_ms,
            "paused": self.paused,
            "misfire": self.misfire,
            "misfire_grace": self.grace_ms / 1000,
            "max_catchup": self.max_catchup,
            "overlap": self.overlap,
            "next_run_at": self.next_run_at,
            "last_slot": self.last_slot,
            "last_run_at": self.last_run_at,
            "last_job_id": self.last_job_id,
            "last_status": self.last_status,
            "fired": self.fired,
            "skipped": self.skipped,
            "triggered": self.triggered,
            "revision": self.revision,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def _opt_int(value: str | None) -> int | None:
    return int(value) if value not in (None, "") else None
