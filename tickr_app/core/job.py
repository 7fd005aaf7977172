"""The job record as stored in its Redis hash, and the statuses it moves through."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

import orjson

Status = Literal["waiting", "ready", "active", "succeeded", "dead", "cancelled"]
STATUSES: Final[tuple[Status, ...]] = ("waiting", "ready", "active", "succeeded", "dead", "cancelled")
FINAL_STATUSES: Final[frozenset[str]] = frozenset({"succeeded", "dead", "cancelled"})


def _int(value: str | None) -> int | None:
    return int(value) if value not in (None, "") else None


def _json(value: str | None) -> Any:
    if value in (None, ""):
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value


@dataclass(slots=True)
class Job:
    """A snapshot of one job. Times are Unix epoch milliseconds (Redis clock)."""

    id: str
    type: str
    queue: str
    status: Status
    payload: Any
    attempts: int
    max_attempts: int
    created_at: int | None
    due_at: int | None
    started_at: int | None = None
    finished_at: int | None = None
    progress: float = 0.0
    progress_message: str = ""
    result: Any = None
    error: str | None = None
    traceback: str | None = None
    worker: str | None = None
    timeout_ms: int | None = None
    idempotency_key: str | None = None
    cancel_requested: bool = False
    workflow_id: str | None = None
    """The workflow this job is a node of (None for a plain job), and the node's index in it."""
    node: int | None = None

    @classmethod
    def from_hash(cls, h: dict[str, str]) -> Job:
        return cls(
            id=h["id"],
            type=h.get("type", ""),
            queue=h.get("queue", ""),
            status=h.get("status", "waiting"),  # type: ignore[arg-type]
            payload=_json(h.get("payload")),
            attempts=int(h.get("attempts", 0)),
            max_attempts=int(h.get("max_attempts", 0)),
            created_at=_int(h.get("created_at")),
            due_at=_int(h.get("due_at")),
            started_at=_int(h.get("started_at")),
            finished_at=_int(h.get("finished_at")),
            progress=float(h.get("progress", 0) or 0),
            progress_message=h.get("progress_msg", ""),
            result=_json(h.get("result")),
            error=h.get("error") or None,
            traceback=h.get("traceback") or None,
            worker=h.get("worker") or None,
            timeout_ms=_int(h.get("timeout_ms")),
            idempotency_key=h.get("idempotency_key") or None,
            cancel_requested=h.get("cancel_requested") == "1",
            workflow_id=h.get("wf") or None,
            node=_int(h.get("node")),
        )

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    # Notebook displays (see reprs.py): an HTML card in Jupyter, a few lines in IPython.
    def _repr_html_(self) -> str:
        from .reprs import job_html

        return job_html(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        from .reprs import job_text

        p.text("Job(...)" if cycle else job_text(self))
