"""The Lua scripts, one file per atomic operation, and the one place that calls them.

Each ``<name>-<numkeys>.lua`` gets the shared helpers it uses (from ``_common.lua`` and
``_workflow.lua``) prepended; redis-py runs it by EVALSHA and
reloads it transparently after a SCRIPT FLUSH or a failover.

``Scripts`` has one method per script (as BullMQ's Python client does): it names the script's
keys and arguments, builds KEYS and ARGV in the order the script's header documents, and decodes
the reply into a typed value. Nothing else in Tickr knows a script's KEYS order or reads a reply
by position. The hot calls (enqueue, fetch, ack) build their lists with ``+=`` on flat lists and
decode with ``zip``/``iter`` instead of slices: they run for thousands of jobs per second.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cache
from importlib import resources
from itertools import islice
from typing import Any, Generic, Literal, NamedTuple, Protocol, TypeVar

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from .keys import QueueKeys
from .workflow_scripts import WorkflowScripts

LUA_PACKAGE = "tickr_app.core.lua"

MAX_FETCH = 1000
"""Lua's unpack() limit is about 8,000 values; a fetch batch stays far below it."""

LEASE_LOST: Literal[0] = 0
LEASE_EXTENDED: Literal[1] = 1
LEASE_CANCEL_REQUESTED: Literal[2] = 2
LeaseState = Literal[0, 1, 2]
"""Per job in a heartbeat reply: lost, extended, or extended with a cancel requested."""

FailOutcome = Literal["retry", "dead", "cancelled", "rejected"]


class JobToEnqueue(Protocol):
    """What the enqueue script reads of a job (``broker.EnqueueSpec``)."""

    @property
    def id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def payload_json(self) -> str: ...
    @property
    def max_attempts(self) -> int: ...
    @property
    def timeout_ms(self) -> int: ...
    @property
    def backoff_base_ms(self) -> int: ...
    @property
    def backoff_cap_ms(self) -> int: ...
    @property
    def delay_ms(self) -> int: ...
    @property
    def run_at_ms(self) -> int: ...
    @property
    def idempotency_key(self) -> str: ...
    @property
    def request_fingerprint(self) -> str: ...
    @property
    def priority(self) -> int: ...


class Lease(Protocol):
    """What the scripts read of a job leased to this process (``broker.LeasedJob``)."""

    @property
    def id(self) -> str: ...
    @property
    def token(self) -> str: ...
    @property
    def type(self) -> str: ...


LeaseT = TypeVar("LeaseT", bound=Lease)

LeaseFactory = Callable[[str, str, str, int, str, str, int, int, int, int, int, int], LeaseT]
"""Builds the leased-job record from (queue, id, token, attempt, type, payload_json,
max_attempts, timeout_ms, backoff_base_ms, backoff_cap_ms, created_at, due_at)."""


_DEFINITION = re.compile(r"local (?:function )?([A-Za-z_][A-Za-z0-9_]*)")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Helper(NamedTuple):
    name: str
    text: str
    uses: frozenset[str]


def _split_helpers(text: str) -> list[_Helper]:
    """The top-level definitions of a helper file (``local function f`` or ``local X = ...``),
    each with the comment lines just above it."""
    lines = text.splitlines(keepends=True)
    starts: list[int] = []
    for i, line in enumerate(lines):
        if _DEFINITION.match(line):
            j = i
            while j > 0 and lines[j - 1].startswith("--"):
                j -= 1
            starts.append(j)
    helpers = []
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(lines)
        chunk = "".join(lines[start:end])
        name = next(m.group(1) for line in lines[start:end] if (m := _DEFINITION.match(line)))
        helpers.append(_Helper(name, chunk, frozenset(_IDENTIFIER.findall(chunk)) - {name}))
    return helpers


def _with_helpers(body: str, helpers: list[_Helper]) -> str:
    """``body`` after just the helpers it reaches (transitively), in their files' order.
    Redis runs a script's whole text on every call, so each helper defined costs every call a
    closure: prepending all of them made every script pay for every feature's helpers."""
    by_name = {h.name: h for h in helpers}
    needed: set[str] = set()
    todo = [n for n in _IDENTIFIER.findall(body) if n in by_name]
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo.extend(n for n in by_name[name].uses if n in by_name)
    return "".join(h.text for h in helpers if h.name in needed) + "\n" + body


@cache
def lua_sources() -> dict[str, str]:
    """Script name -> full source (the shared helpers it uses + the operation)."""
    folder = resources.files(LUA_PACKAGE)
    # _common.lua first, then the other shared helper files (_workflow.lua) in name order:
    # a helper only calls helpers defined above it.
    files = sorted((e for e in folder.iterdir() if e.name.startswith("_") and e.name.endswith(".lua")), key=lambda e: e.name)
    helpers = [h for e in files for h in _split_helpers(e.read_text())]
    sources: dict[str, str] = {}
    for entry in folder.iterdir():
        name = entry.name
        if not name.endswith(".lua") or name.startswith("_"):
            continue
        op = name[: -len(".lua")].rsplit("-", 1)[0]
        sources[op] = _with_helpers(entry.read_text(), helpers)
    return sources


class Enqueued(NamedTuple):
    """One job of an enqueue reply."""

    job_id: str
    created: bool | None
    """False when an idempotency key matched an identical earlier request (``job_id`` is that
    job's); None when the key belongs to a different request (nothing was enqueued)."""


_CREATED: dict[int, bool | None] = {1: True, 0: False, 2: None}


class QueueHeld(NamedTuple):
    """Jobs, schedules and workflow records that keep a queue from being forgotten."""

    ready: int
    waiting: int
    active: int
    dead: int
    schedules: int
    workflows: int


class Promoted(NamedTuple, Generic[LeaseT]):
    """Reply of the promote script."""

    promoted: int
    next_due_ms: int
    """Due time of the next waiting job, or -1 when none is waiting."""
    now_us: int
    """Redis's clock when the script ran, in microseconds."""
    leased: list[LeaseT]
    """Jobs leased to the caller in the same call (only when it asked for some)."""


class Fetched(NamedTuple, Generic[LeaseT]):
    """Reply of the fetch script."""

    jobs: list[LeaseT] | None
    """None when the queue is paused for every process."""
    throttled: bool = False
    """The queue's own rate or concurrency limit let nothing (more) start: ``jobs`` may hold
    those that took its last room."""
    wait_ms: int = -1
    """When limits held work back: ms until the next limit frees (-1: none known; a job that
    ends wakes the fetchers through the queue's wake channel)."""


class WorkerCommands(NamedTuple):
    """Commands stored for a worker process since its last heartbeat (None: none sent)."""

    concurrency: str | None
    paused: str | None
    weights: str | None = None
    strict: str | None = None


class ScheduleUpserted(NamedTuple):
    """Reply of the schedule_upsert script."""

    outcome: int
    """1 created, 2 updated, 0 unchanged."""
    next_ms: int
    revision: str


class TickPlan(NamedTuple):
    """One plan for the schedule_tick script: carried out only if the schedule is still at
    (``expected_next``, ``rev``) and, unless ``valid_until`` is -1, not after it."""

    id: str
    expected_next: int
    rev: str
    valid_until: int
    next_ms: int
    skipped: int
    fire: Sequence[tuple[int, str]]
    """(slot ms, job id) per slot to fire."""


class DueSchedule(NamedTuple):
    """One schedule a tick reports, its definition fields as stored ('' when unset)."""

    id: str
    next_ms: int
    rev: str
    cron: str
    every_ms: str
    tz: str
    start_ms: str
    end_ms: str
    misfire: str
    grace_ms: str
    max_catchup: str


class Ticked(NamedTuple, Generic[LeaseT]):
    """Reply of the schedule_tick script."""

    now_us: int
    carried: int
    """Plans carried out."""
    created: int
    """Jobs created."""
    due: list[DueSchedule]
    leased: list[LeaseT]


class Scripts(Generic[LeaseT]):
    """The registered scripts of one Redis client, one typed method per script.

    The limits every call passes (stream length, retention, ...) are fixed per broker and given
    once here. ``leased_job`` builds the record fetch and promote decode a leased job into (the
    broker's ``LeasedJob``; passed in so this module does not import the broker).
    """

    def __init__(
        self,
        redis: Redis,
        *,
        leased_job: LeaseFactory[LeaseT],
        events_maxlen: int,
        retention_ms: int,
        idempotency_ttl_ms: int,
        dead_cap: int,
    ) -> None:
        self._leased_job = leased_job
        self._events_maxlen = events_maxlen
        self._retention_ms = retention_ms
        self._idempotency_ttl_ms = idempotency_ttl_ms
        self._dead_cap = dead_cap
        handles: dict[str, AsyncScript] = {op: redis.register_script(src) for op, src in lua_sources().items()}
        self._enqueue = handles.pop("enqueue")
        self._fetch = handles.pop("fetch")
        self._ack = handles.pop("ack")
        self._fail = handles.pop("fail")
        self._heartbeat = handles.pop("heartbeat")
        self._release = handles.pop("release")
        self._finish_cancel = handles.pop("finish_cancel")
        self._progress = handles.pop("progress")
        self._promote = handles.pop("promote")
        self._recover = handles.pop("recover")
        self._cancel = handles.pop("cancel")
        self._retry = handles.pop("retry")
        self._retry_dead = handles.pop("retry_dead")
        self._delete = handles.pop("delete")
        self._take_commands = handles.pop("take_commands")
        self._schedule_upsert = handles.pop("schedule_upsert")
        self._schedule_tick = handles.pop("schedule_tick")
        self._schedule_trigger = handles.pop("schedule_trigger")
        self._schedule_pause = handles.pop("schedule_pause")
        self._schedule_delete = handles.pop("schedule_delete")
        self._delete_dead = handles.pop("delete_dead")
        self._forget_queue = handles.pop("forget_queue")
        self.workflow = WorkflowScripts(
            handles, events_maxlen=events_maxlen, retention_ms=retention_ms, idempotency_ttl_ms=idempotency_ttl_ms
        )
        self._limits_set = handles.pop("limits_set")
        self._rate_limited = handles.pop("rate_limited")
        self._set_priority = handles.pop("set_priority")
        if handles:
            raise RuntimeError(f"Lua scripts without a Scripts method: {sorted(handles)}")

    # -- jobs in -----------------------------------------------------------------------------

    async def enqueue(self, k: QueueKeys, specs: Sequence[JobToEnqueue]) -> list[Enqueued]:
        """Enqueue a batch atomically; one ``Enqueued`` per spec, in order."""
        keys = [k.ready, k.waiting, k.events, k.stats]
        args: list[Any] = [k.wake_channel, self._events_maxlen, self._idempotency_ttl_ms, k.queue, len(specs)]
        for s in specs:
            job_key = k.job(s.id)
            keys.append(job_key)
            keys.append(k.idempotency(s.idempotency_key) if s.idempotency_key else job_key)
            args += [
                s.id,
                s.type,
                s.payload_json,
                s.delay_ms,
                s.run_at_ms,
                s.max_attempts,
                s.timeout_ms,
                s.backoff_base_ms,
                s.backoff_cap_ms,
                s.idempotency_key,
                s.request_fingerprint,
                s.priority,
            ]
        flat = await self._enqueue(keys, args)
        pairs = iter(flat)
        return [Enqueued(job_id, _CREATED[created]) for job_id, created in zip(pairs, pairs)]

    # -- leasing -----------------------------------------------------------------------------

    async def fetch(self, k: QueueKeys, n: int, worker_id: str, lease_ms: int) -> Fetched[LeaseT]:
        """Lease up to n ready jobs (at most ``MAX_FETCH``) within the queue's limits."""
        flat = await self._fetch(
            [k.ready, k.active, k.events, k.paused, k.job_prefix],
            [min(n, MAX_FETCH), worker_id, lease_ms, self._events_maxlen],
        )
        if flat and flat[0] == "paused":
            return Fetched(None)
        if flat and flat[0] == "limited":
            return Fetched(self._leased(k.queue, flat, 3), int(flat[1]) == 1, int(flat[2]))
        return Fetched(self._leased(k.queue, flat, 0))

    async def ack(self, k: QueueKeys, items: Sequence[tuple[LeaseT, str]]) -> list[bool]:
        """Mark jobs succeeded with their JSON results; per job, False if its lease was lost."""
        keys = [k.active, k.succeeded, k.events, k.stats]
        args: list[Any] = [self._retention_ms, self._events_maxlen, len(items)]
        for job, result_json in items:
            keys.append(k.job(job.id))
            args += [job.id, job.token, result_json, job.type]
        return [flag == 1 for flag in await self._ack(keys, args)]

    async def fail(
        self, k: QueueKeys, job: LeaseT, error: str, traceback: str, retry_delay_ms: int, *, retryable: bool
    ) -> FailOutcome:
        """Record a failed attempt: retried later, dead, cancelled (asked while it ran), or
        rejected (lease lost)."""
        return await self._fail(
            [k.active, k.waiting, k.dead, k.events, k.stats, k.job(job.id), k.job_prefix, k.cancelled],
            [
                job.id,
                job.token,
                error,
                traceback,
                max(0, retry_delay_ms),
                self._dead_cap,
                self._events_maxlen,
                k.wake_channel,
                "0" if retryable else "1",
                self._retention_ms,
            ],
        )

    async def heartbeat(self, k: QueueKeys, jobs: Sequence[LeaseT], lease_ms: int) -> list[LeaseState]:
        """Extend the leases on jobs of one queue; a ``LeaseState`` per job."""
        keys = [k.active] + [k.job(j.id) for j in jobs]
        args: list[Any] = [lease_ms]
        for j in jobs:
            args += [j.id, j.token]
        return [int(x) for x in await self._heartbeat(keys, args)]  # type: ignore[misc]

    async def release(self, k: QueueKeys, job: LeaseT) -> bool:
        """Give a leased job back to the ready list without counting the attempt."""
        r = await self._release([k.active, k.ready, k.events, k.job(job.id)], [job.id, job.token, self._events_maxlen])
        return r == "released"

    async def finish_cancel(self, k: QueueKeys, job: LeaseT) -> bool:
        """Record that a running job stopped on a cancel request; False if its lease was lost."""
        r = await self._finish_cancel(
            [k.active, k.cancelled, k.events, k.stats, k.job(job.id)],
            [job.id, job.token, self._retention_ms, self._events_maxlen],
        )
        return r == "cancelled"

    async def rate_limited(self, k: QueueKeys, job: LeaseT, retry_after_ms: int, *, whole_queue: bool = False) -> bool:
        """Give a job back uncounted and pause its type (or its whole queue) for
        ``retry_after_ms`` in every process; False if its lease was lost."""
        r = await self._rate_limited(
            [k.active, k.events, k.stats, k.job(job.id)],
            [job.id, job.token, max(0, retry_after_ms), self._events_maxlen, 1 if whole_queue else 0],
        )
        return r == "paused"

    async def limits_set(
        self, k: QueueKeys, job_type: str, *, declared: bool, rate: str, per_ms: int, concurrency: str
    ) -> bool:
        """Set (a number), remove ('-') or keep ('') the rate and concurrency limits of a queue
        (``job_type`` '') or a job type; True when something changed."""
        r = await self._limits_set(
            [k.active, k.limits, k.job_prefix], [job_type, "1" if declared else "0", rate, per_ms, concurrency]
        )
        return int(r) == 1

    async def progress(self, k: QueueKeys, job_id: str, token: str, percent: float, message: str) -> bool:
        """Store a running job's progress; False if its lease was lost."""
        r = await self._progress([k.job(job_id), k.events], [job_id, token, percent, message, self._events_maxlen])
        return r == 1

    # -- scheduling --------------------------------------------------------------------------

    async def promote(self, k: QueueKeys, batch: int, lease_n: int, worker_id: str, lease_ms: int) -> Promoted[LeaseT]:
        """Move due jobs to ready and, if any moved, lease up to ``lease_n`` to the caller."""
        flat = await self._promote(
            [k.waiting, k.ready, k.events, k.job_prefix, k.active, k.paused],
            [batch, self._events_maxlen, min(lease_n, MAX_FETCH), worker_id, lease_ms],
        )
        return Promoted(int(flat[0]), int(flat[1]), int(flat[2]), self._leased(k.queue, flat, 3))

    async def recover(self, k: QueueKeys, batch: int, rnd: float) -> int:
        """Take back jobs whose lease expired; how many. ``rnd`` in [0, 1) jitters their retry."""
        return int(
            await self._recover(
                [k.active, k.waiting, k.dead, k.events, k.stats, k.job_prefix, k.cancelled],
                [batch, rnd, self._dead_cap, self._events_maxlen, k.wake_channel, self._retention_ms],
            )
        )

    # -- commands on one job -----------------------------------------------------------------

    async def cancel(self, k: QueueKeys, job_id: str, control_prefix: str) -> str:
        """'cancelled', 'requested' (it runs: its worker is told), 'missing', or the status
        that cannot be cancelled."""
        return await self._cancel(
            [k.ready, k.waiting, k.active, k.cancelled, k.events, k.stats, k.job(job_id)],
            [job_id, self._retention_ms, self._events_maxlen, control_prefix],
        )

    async def retry(self, k: QueueKeys, job_id: str) -> str:
        """'ready', 'missing', or the status that cannot be retried."""
        return await self._retry(
            [k.ready, k.dead, k.cancelled, k.events, k.stats, k.job(job_id)], [job_id, self._events_maxlen]
        )

    async def retry_dead(self, k: QueueKeys, limit: int) -> int:
        """Put up to ``limit`` dead jobs back on the ready list; how many."""
        return int(
            await self._retry_dead([k.ready, k.dead, k.events, k.stats, k.job_prefix], [limit, self._events_maxlen])
        )

    async def set_priority(self, k: QueueKeys, job_id: str, priority: int) -> str:
        """The job's status when changed ('waiting' or 'ready'), 'missing', or the status
        whose priority cannot change."""
        return await self._set_priority(
            [k.ready, k.events, k.job(job_id)], [job_id, priority, self._events_maxlen]
        )

    async def delete(self, k: QueueKeys, job_id: str) -> str:
        """'deleted', 'missing' or 'active' (a running job cannot be deleted)."""
        return await self._delete(
            [k.ready, k.waiting, k.active, k.dead, k.succeeded, k.cancelled, k.events, k.job(job_id)],
            [job_id, self._events_maxlen],
        )

    async def delete_dead(self, k: QueueKeys) -> int:
        """Delete every dead job of the queue; how many went."""
        return int(await self._delete_dead([k.dead, k.events, k.job_prefix], [self._events_maxlen]))

    async def forget_queue(self, k: QueueKeys) -> QueueHeld | None:
        """Drop the finished records, counters, events and pause flag of a queue with no jobs,
        no schedules and no workflow records; None when done, else what it still holds (nothing changed)."""
        keys = [k.ready, k.waiting, k.active, k.dead, k.succeeded, k.cancelled, k.events, k.stats, k.paused]
        reply = await self._forget_queue([*keys, k.job_prefix, k.schedules, k.workflows], [])
        if int(reply[0]) == 1:
            return None
        return QueueHeld(*(int(x) for x in reply[1:7]))

    # -- worker registry ---------------------------------------------------------------------

    async def take_commands(self, worker_key: str) -> WorkerCommands:
        """Read and clear the commands stored for one worker process."""
        concurrency, paused, weights, strict = await self._take_commands([worker_key], [])
        return WorkerCommands(concurrency, paused, weights, strict)

    # -- schedules ---------------------------------------------------------------------------

    async def schedule_upsert(
        self,
        k: QueueKeys,
        schedule_id: str,
        digest: str,
        timing_signature: str,
        first_ms: int,
        paused: bool | None,
        fields: Sequence[str],
    ) -> ScheduleUpserted:
        """Create or update one schedule (``first_ms`` -1: no slot; ``paused`` None: keep);
        ``fields`` are the definition's field/value pairs."""
        outcome, next_ms, revision = await self._schedule_upsert(
            [k.schedules, k.schedule_due, k.schedule(schedule_id)],
            [
                schedule_id,
                digest,
                timing_signature,
                first_ms,
                "" if paused is None else ("1" if paused else "0"),
                k.schedule_wake_channel,
                *fields,
            ],
        )
        return ScheduleUpserted(int(outcome), int(next_ms), str(revision))

    async def schedule_tick(
        self, k: QueueKeys, plans: Sequence[TickPlan], report_limit: int, lease_n: int, worker_id: str, lease_ms: int
    ) -> Ticked[LeaseT]:
        """Carry out plans, report what is due, lease created jobs to the caller (lease_n > 0)."""
        args: list[Any] = [
            self._events_maxlen,
            k.queue,
            report_limit,
            min(lease_n, MAX_FETCH),
            worker_id,
            lease_ms,
            len(plans),
        ]
        for p in plans:
            args += [p.id, p.expected_next, p.rev, p.valid_until, p.next_ms, p.skipped, len(p.fire)]
            for slot_ms, job_id in p.fire:
                args += [slot_ms, job_id]
        flat = await self._schedule_tick(
            [k.schedule_due, k.ready, k.events, k.stats, k.schedule_prefix, k.job_prefix, k.active, k.paused], args
        )
        end = 4 + int(flat[3]) * 11
        rows = zip(*[islice(flat, 4, end)] * 11)
        due = [
            DueSchedule(str(sid), int(nxt), str(rev), cron or "", *("" if v is None else str(v) for v in rest))
            for sid, nxt, rev, cron, *rest in rows
        ]
        return Ticked(int(flat[0]), int(flat[1]), int(flat[2]), due, self._leased(k.queue, flat, end))

    async def schedule_trigger(self, k: QueueKeys, schedule_id: str, job_id: str) -> bool:
        """Run a schedule once now as job ``job_id``; False if the schedule is missing."""
        r = await self._schedule_trigger(
            [k.schedule(schedule_id), k.ready, k.events, k.stats, k.job(job_id)],
            [job_id, k.queue, self._events_maxlen],
        )
        return r != "missing"

    async def schedule_pause(self, k: QueueKeys, schedule_id: str, paused: bool) -> bool:
        """Pause or resume a schedule; False if it is missing."""
        r = await self._schedule_pause(
            [k.schedule(schedule_id), k.schedule_due], [schedule_id, "1" if paused else "0", k.schedule_wake_channel]
        )
        return r != "missing"

    async def schedule_delete(self, k: QueueKeys, schedule_id: str) -> bool:
        """Remove a schedule's definition and state; False if it did not exist."""
        return bool(await self._schedule_delete([k.schedules, k.schedule_due, k.schedule(schedule_id)], [schedule_id]))

    # -- replies -----------------------------------------------------------------------------

    def _leased(self, queue: str, flat: list[Any], start: int) -> list[LeaseT]:
        """Leased jobs from a fetch or promote reply: 11 fields per job from ``start`` on, in
        the order ``lease_ready`` in _common.lua writes them."""
        rows = zip(*[islice(flat, start, None)] * 11)
        make = self._leased_job
        return [
            make(queue, id, token, int(n), type, payload, int(most), int(timeout), int(base), int(cap), int(c), int(d))
            for id, token, n, type, payload, most, timeout, base, cap, c, d in rows
        ]
