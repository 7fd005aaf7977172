"""Every Redis key name Tickr uses, in one place (tests import these too).

Per-queue keys share the hash tag ``{queue}`` so one Lua script only ever touches one Redis
Cluster slot. Process-wide keys (worker registry, queue registry) have no tag: no script
touches them together with queue keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from .errors import InvalidRequest

DEFAULT_PREFIX = "tickr"
DEFAULT_QUEUE = "default"

QUEUE_NAME_MAX: Final = 100
QUEUE_NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
"""The one queue-name rule (engine, registry, CLI and HTTP API): 1-100 ASCII letters, digits,
``_``, ``.`` or ``-``, starting with a letter or digit. A name must be safe inside a key's hash
tag (no braces, colons), in a URL path segment (no ``/``) and in the comma-joined worker
registry (no commas), and must print plainly in a terminal and a log line (no whitespace,
control or look-alike Unicode characters)."""
_QUEUE_NAME = re.compile(QUEUE_NAME_PATTERN)
QUEUE_NAME_RULE: Final = "1-100 characters: ASCII letters, digits, '_', '.' or '-', starting with a letter or digit"


def is_queue_name(name: object) -> bool:
    return isinstance(name, str) and _QUEUE_NAME.fullmatch(name) is not None


def check_queue_name(name: str) -> str:
    """``name`` if it is a valid queue name, else ``InvalidRequest`` saying the rule."""
    if not is_queue_name(name):
        raise InvalidRequest(f"invalid queue name {str(name)[:120]!r}: {QUEUE_NAME_RULE}")
    return name


SCHEDULE_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,199}$"
"""A schedule id: 1-200 characters, letters, digits and . _ : @ + - (first a letter or digit)."""
_SCHEDULE_ID = re.compile(SCHEDULE_ID_PATTERN)


def is_schedule_id(value: str) -> bool:
    return bool(_SCHEDULE_ID.match(value))


@dataclass(frozen=True, slots=True)
class QueueKeys:
    """Names of one queue's keys under a prefix."""

    prefix: str
    queue: str

    @property
    def base(self) -> str:
        return f"{self.prefix}:{{{self.queue}}}"

    @property
    def ready(self) -> str:
        return f"{self.base}:ready"

    @property
    def ready_prio(self) -> str:
        """Zset of ready jobs with a priority other than 0 (the list holds priority 0). The Lua
        scripts derive it from ``ready`` (``ready + ':prio'``, see push_ready in _common.lua)."""
        return f"{self.ready}:prio"

    @property
    def ready_seq(self) -> str:
        """Counter ordering pushes to ``ready_prio`` (FIFO within a priority); derived likewise."""
        return f"{self.ready}:seq"

    @property
    def waiting(self) -> str:
        return f"{self.base}:waiting"

    @property
    def active(self) -> str:
        return f"{self.base}:active"

    @property
    def dead(self) -> str:
        return f"{self.base}:dead"

    @property
    def succeeded(self) -> str:
        return f"{self.base}:succeeded"

    @property
    def cancelled(self) -> str:
        return f"{self.base}:cancelled"

    @property
    def events(self) -> str:
        return f"{self.base}:events"

    @property
    def stats(self) -> str:
        return f"{self.base}:stats"

    @property
    def paused(self) -> str:
        return f"{self.base}:paused"

    @property
    def job_prefix(self) -> str:
        return f"{self.base}:job:"

    # Flow control (lua/_common.lua names these from `active`; Python reads them for stats).
    @property
    def limits(self) -> str:
        return f"{self.base}:limits"

    @property
    def held(self) -> str:
        """Zset: job types with jobs held back by a limit."""
        return f"{self.base}:held"

    def held_jobs(self, job_type: str) -> str:
        """Zset: one job type's held jobs, scored like ``ready_prio`` (priority, then order)."""
        return f"{self.base}:held:{job_type}"

    def rate_log(self, job_type: str | None = None) -> str:
        return f"{self.base}:rlog" if job_type is None else f"{self.base}:rlog:{job_type}"

    def running(self, job_type: str) -> str:
        return f"{self.base}:run:{job_type}"

    @property
    def limits_channel(self) -> str:
        """Pub/sub channel that wakes fetchers when a limit changed or a limited job ended (its
        own channel: schedulers need not wake for it)."""
        return f"{self.base}:limits_wake"

    def job(self, job_id: str) -> str:
        return f"{self.base}:job:{job_id}"

    def idempotency(self, key: str) -> str:
        return f"{self.base}:idem:{key}"

    @property
    def wake_channel(self) -> str:
        """Pub/sub channel that wakes schedulers when an earlier job is due, or a queue resumes."""
        return f"{self.base}:wake"

    # Schedules (core/schedules.py): one hash per schedule, the ids, and the ids by next due ms.
    @property
    def schedules(self) -> str:
        return f"{self.base}:schedules"

    @property
    def schedule_due(self) -> str:
        return f"{self.base}:schedule_due"

    @property
    def schedule_prefix(self) -> str:
        return f"{self.base}:schedule:"

    def schedule(self, schedule_id: str) -> str:
        return f"{self.base}:schedule:{schedule_id}"

    # Workflows (core/workflow_store.py): one hash per workflow, and the ids by creation ms.
    def workflow(self, workflow_id: str) -> str:
        return f"{self.base}:wf:{workflow_id}"

    @property
    def workflows(self) -> str:
        return f"{self.base}:workflows"

    def workflow_idempotency(self, key: str) -> str:
        """Apart from the jobs' keys: one key may name a job and a workflow, each its own."""
        return f"{self.base}:wfidem:{key}"

    @property
    def schedule_wake_channel(self) -> str:
        """Wakes schedule runners when a schedule became the earliest due (upsert, resume)."""
        return f"{self.base}:schedule_wake"


@lru_cache(maxsize=1024)
def queue_keys(prefix: str, queue: str) -> QueueKeys:
    return QueueKeys(prefix, queue)


@dataclass(frozen=True, slots=True)
class GlobalKeys:
    """Process-wide keys: which queues exist and which worker processes are alive."""

    prefix: str

    @property
    def queues(self) -> str:
        return f"{self.prefix}:queues"

    @property
    def workers(self) -> str:
        return f"{self.prefix}:workers"

    def worker(self, worker_id: str) -> str:
        return f"{self.prefix}:worker:{worker_id}"

    @property
    def schedule_queues(self) -> str:
        """Hash: schedule id -> its queue (a schedule id is unique across queues)."""
        return f"{self.prefix}:schedule_queues"

    @property
    def control_prefix(self) -> str:
        """Channel prefix; a worker listens on ``control_prefix + worker_id``."""
        return f"{self.prefix}:ctl:"
