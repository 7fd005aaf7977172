"""The records the core hands out and takes in: plain dataclasses with no Redis access.

The broker builds them from Redis replies, the engine returns them from the ``Tickr`` facade,
and the API, the TUI and the notebook displays read them. ``Job`` lives in ``job.py``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .job import Status

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
    by_type: dict[str, dict[str, int]] = field(default_factory=dict)

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
            "by_type": self.by_type,
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
