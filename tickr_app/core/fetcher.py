"""Slots and fetching: how leased jobs reach the handlers.

``Slots`` are long-lived tasks that take jobs from one local inbox and loop (no task per job);
their number follows the pool's concurrency live. ``Fetcher`` runs one lease loop that leases
exactly as many jobs as there are free slots (so nothing waits leased but idle), sharing them
over the process's queues by weight or in strict order (queue_policy.py), and blocks on Redis
when every queue is empty; it also takes jobs the scheduler's promote call leased to this
process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from redis.exceptions import RedisError

from .backoff import Reconnect
from .broker import Broker
from .context import JobContext
from .leases import HeldLeases
from .queue_policy import QueuePolicy, normalise_queues
from .records import LeasedJob, RunningJob
from .scripts import Fetched

log = logging.getLogger("tickr.pool")

CancelReason = Literal["job", "shutdown", "lost", "timeout"]


@dataclass(eq=False, slots=True)
class Slot:
    index: int
    task: asyncio.Task[None] | None = None
    job: LeasedJob | None = None
    ctx: JobContext | None = None
    started: float = 0.0
    cancel_reason: CancelReason | None = None
    retiring: bool = False
    in_handler: bool = False
    """True only while the handler runs: a cancel must never hit the slot while it records
    the job's outcome (that would kill the slot task and leave the job leased forever)."""


RunJob = Callable[[Slot, LeasedJob], Awaitable[None]]
JobObserver = Callable[[LeasedJob, float, float], None]
"""Called after every attempt with (job, seconds from due to start, seconds run)."""


class Slots:
    """The slot tasks and their inbox. ``run(slot, job)`` runs one job to its recorded outcome;
    then each of ``observers`` (a list the owner may change) sees it and ``on_slot_free`` is
    called; ``on_retired`` when a slot has ended."""

    def __init__(
        self,
        run: RunJob,
        *,
        observers: list[JobObserver],
        on_slot_free: Callable[[], None],
        on_retired: Callable[[], None],
    ) -> None:
        self._run = run
        self._observers = observers
        self._on_slot_free = on_slot_free
        self._on_retired = on_retired
        self._slots: list[Slot] = []
        self._inbox: asyncio.Queue[LeasedJob] = asyncio.Queue()

    # -- reading -----------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Slot]:
        return iter(self._slots)

    def __len__(self) -> int:
        return len(self._slots)

    def __getitem__(self, index: int) -> Slot:
        return self._slots[index]

    @property
    def busy(self) -> int:
        return sum(1 for s in self._slots if s.job is not None)

    @property
    def queued(self) -> int:
        """Jobs leased and delivered but not started yet."""
        return self._inbox.qsize()

    def running(self) -> list[RunningJob]:
        now = time.monotonic()
        return [
            RunningJob(s.index, s.job.id, s.job.type, s.job.queue, s.job.attempt, now - s.started)
            for s in self._slots
            if s.job is not None
        ]

    def tasks(self) -> list[asyncio.Task[None]]:
        return [s.task for s in self._slots if s.task is not None]

    # -- jobs in -----------------------------------------------------------------------------

    def deliver(self, job: LeasedJob) -> None:
        self._inbox.put_nowait(job)

    def deliver_all(self, jobs: Iterable[LeasedJob]) -> None:
        put = self._inbox.put_nowait
        for job in jobs:
            put(job)

    def take_undelivered(self) -> list[LeasedJob]:
        """Empty the inbox: jobs leased but not started (to give back on shutdown)."""
        jobs = []
        while not self._inbox.empty():
            jobs.append(self._inbox.get_nowait())
        return jobs

    # -- scaling and cancelling --------------------------------------------------------------

    def resize(self, n: int) -> None:
        """Start or retire slots until n are live; busy slots retire after their job."""
        live = [s for s in self._slots if not s.retiring]
        if n > len(live):
            used = {s.index for s in self._slots}
            index = 0
            for _ in range(n - len(live)):
                while index in used:
                    index += 1
                slot = Slot(index)
                used.add(index)
                slot.task = asyncio.create_task(self._slot_loop(slot), name=f"tickr-slot-{index}")
                self._slots.append(slot)
        elif n < len(live):
            excess = len(live) - n
            # Idle slots go at once; busy ones retire after their job.
            for slot in sorted(live, key=lambda s: (s.job is not None, -s.index)):
                if excess == 0:
                    break
                slot.retiring = True
                if slot.job is None and slot.task is not None:
                    slot.task.cancel()
                    self._slots.remove(slot)
                excess -= 1

    def cancel(self, job_id: str, reason: CancelReason) -> bool:
        """Cancel the handler running this job, if a slot runs it."""
        for slot in self._slots:
            if slot.job is not None and slot.job.id == job_id and slot.task is not None:
                if slot.ctx is not None:
                    slot.ctx.cancelled.set()
                if slot.cancel_reason is None and slot.in_handler:
                    slot.cancel_reason = reason
                    slot.task.cancel()
                return True
        return False

    def time_out(self, slot: Slot, job_id: str) -> None:
        """The job's deadline passed: cancel its handler with reason "timeout"."""
        if slot.job is not None and slot.job.id == job_id and slot.in_handler and slot.cancel_reason is None:
            if slot.ctx is not None:
                slot.ctx.cancelled.set()
            slot.cancel_reason = "timeout"
            if slot.task is not None:
                slot.task.cancel()

    async def shut_down(self) -> None:
        """After the grace period: cancel handlers still running (reason "shutdown"), let slots
        that are recording an outcome finish it, end idle slots; wait for all of them."""
        for slot in self._slots:
            if slot.job is not None and slot.task is not None and slot.in_handler:
                slot.cancel_reason = "shutdown"
                slot.task.cancel()
            elif slot.job is not None:
                slot.retiring = True  # recording its outcome: let it finish, then end
            elif slot.task is not None:
                slot.task.cancel()
        await asyncio.gather(*self.tasks(), return_exceptions=True)
        self._slots.clear()

    async def _slot_loop(self, slot: Slot) -> None:
        while not slot.retiring:
            job = await self._inbox.get()
            slot.job = job
            slot.started = time.monotonic()
            waited = max(0.0, time.time() - job.due_at / 1000)
            try:
                await self._run(slot, job)
            finally:
                if self._observers:
                    self._observe(job, waited, time.monotonic() - slot.started)
                slot.job = None
                slot.ctx = None
                slot.cancel_reason = None
                self._on_slot_free()
        if slot in self._slots:
            self._slots.remove(slot)
        self._on_retired()

    def _observe(self, job: LeasedJob, waited: float, ran: float) -> None:
        for observer in list(self._observers):
            try:
                observer(job, waited, ran)
            except Exception:
                log.exception("job observer %r failed", observer)


class Fetcher:
    """One lease loop for all the process's queues, filling exactly the free slots.

    Free slots go to queues by the ``QueuePolicy`` (weighted round-robin, or strict order)
    among the queues that may have jobs; each queue is leased from in one script call (one
    Redis Cluster slot per call). A queue found empty is left out until its watcher sees a job
    pushed to its ready list (a blocking no-op move, as one loop per queue did before) or a
    'ready' message on its wake channel (a prioritised job: those wait in a sorted set that
    cannot be blocked on together with the list), or its block time passes.

    ``vacancies()`` is how many more jobs the pool takes now (0 while paused or stopping); the
    fetcher subtracts what its own calls in flight have reserved. ``capacity`` is set whenever
    vacancies may have grown; ``give_back`` returns a leased job to Redis.
    """

    def __init__(
        self,
        broker: Broker,
        queues: Mapping[str, int] | Iterable[str],
        *,
        worker_id: str,
        lease_ms: int,
        block_s: float,
        slots: Slots,
        held: HeldLeases,
        vacancies: Callable[[], int],
        capacity: asyncio.Event,
        give_back: Callable[[LeasedJob], Coroutine[Any, Any, None]],
        strict: bool = False,
    ) -> None:
        self._broker = broker
        self.policy = QueuePolicy(normalise_queues(queues), strict=strict)
        self.queues = self.policy.queues
        self._worker_id = worker_id
        self._lease_ms = lease_ms
        self._block_s = block_s
        self._slots = slots
        self._held = held
        self._vacancies = vacancies
        self._capacity = capacity
        self._give_back = give_back
        self._reserved = 0
        self._stopping = False
        self._queue_resumed: dict[str, asyncio.Event] = {q: asyncio.Event() for q in self.queues}
        self._limits_freed: dict[str, asyncio.Event] = {q: asyncio.Event() for q in self.queues}
        self.throttled_s: dict[str, float] = dict.fromkeys(self.queues, 0.0)
        """Time each queue's fetch loop slept because the queue's own limits let nothing start."""
        self._maybe_ready: dict[str, bool] = dict.fromkeys(self.queues, True)
        """False while a queue was found empty (or paused) and its watcher waits."""
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self._rechecks: dict[str, asyncio.TimerHandle] = {}
        """A re-fetch timer for a queue whose watcher was already running when a later reply
        asked to look again sooner (held jobs due, a limit's window freeing)."""
        self._throttled: set[str] = set()
        """Queues whose last reply said their own limits let nothing start: a pushed job cannot
        change that, so their 'ready' messages are ignored until the limits free."""
        self._wakes: dict[str, int] = dict.fromkeys(self.queues, 0)
        """Counts each queue's wakes: one that arrives while a fetch is on the wire outvotes a
        reply that found the queue empty."""
        self._woken = asyncio.Event()
        """Set when a queue may have jobs again."""
        self._backoff = Reconnect()
        self.tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self.tasks.append(asyncio.create_task(self._fetch_loop(), name="tickr-fetch"))

    async def stop(self) -> None:
        """Stop leasing; jobs a promote hands over from now on go straight back."""
        self._stopping = True
        tasks = self.kill()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.tasks.clear()

    def kill(self) -> list[asyncio.Task[None]]:
        """Cancel the loops without waiting; returns their tasks."""
        self._stopping = True
        tasks = [*self.tasks, *self._watchers.values()]
        self._watchers.clear()
        for handle in self._rechecks.values():
            handle.cancel()
        self._rechecks.clear()
        for task in tasks:
            task.cancel()
        return tasks

    def on_wake(self, queue: str, message: str) -> None:
        """A message on the queue's wake channel: "resume" (a paused queue may be fetched) or
        "ready" (a prioritised job became ready)."""
        if message == "resume":
            self._queue_resumed[queue].set()
        elif message == "ready":
            if queue not in self._throttled:
                self._mark_ready(queue)
        elif message == "limits":  # on the limits channel: a limit changed or a limited job ended
            self._throttled.discard(queue)
            self._limits_freed[queue].set()
            self._mark_ready(queue)

    def set_weights(self, weights: Mapping[str, int], strict: bool | None = None) -> None:
        """Change the queues' weights (and the mode) live; ValueError for a queue not served."""
        self.policy.set_weights(weights, strict)

    # -- the scheduler's hand-off ------------------------------------------------------------

    def reserve_for_promote(self, queue: str) -> int:
        """Idle slots the scheduler may fill straight from its promote call (0 if none or
        this pool does not serve the queue); settle with ``accept_leased``."""
        if queue not in self._queue_resumed:
            return 0
        free = self._free()
        if free <= 0:
            return 0
        self._reserved += free
        return free

    def accept_leased(self, jobs: list[LeasedJob], reserved: int) -> None:
        """Take jobs leased to this process by the scheduler's promote call."""
        self._reserved -= reserved
        for job in jobs:
            self._held.add(job)
            if self._stopping:
                task = asyncio.get_running_loop().create_task(self._give_back(job))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
            else:
                self._slots.deliver(job)
        if len(jobs) < reserved:
            self._capacity.set()

    # -- leasing -----------------------------------------------------------------------------

    def _free(self) -> int:
        return self._vacancies() - self._reserved

    def _mark_ready(self, queue: str) -> None:
        self._maybe_ready[queue] = True
        self._wakes[queue] += 1
        self._woken.set()

    async def _fetch_loop(self) -> None:
        # Not `while True`: on Python 3.11 the wait_for below can swallow the cancel from stop()
        # (CPython gh-86296); the loop must still end, not block on capacity forever.
        while not self._stopping:
            free = self._free()
            if free <= 0:
                self._capacity.clear()
                await self._capacity.wait()
                continue
            candidates = [q for q in self.queues if self._maybe_ready[q]]
            if not candidates:
                self._woken.clear()
                await self._woken.wait()
                continue
            plan = self.policy.assign(free, candidates)
            wakes = {q: self._wakes[q] for q in plan}
            self._reserved += free
            try:
                if len(plan) == 1:
                    ((queue, n),) = plan.items()
                    outcomes = [await self._lease(queue, n)]
                else:
                    outcomes = await asyncio.gather(*(self._lease(q, n) for q, n in plan.items()))
            finally:
                self._reserved -= free
            failed = False
            for (queue, n), fetched in zip(plan.items(), outcomes):
                if isinstance(fetched, RedisError):
                    failed = True
                    log.warning("fetch from queue %s failed (%s); retrying", queue, fetched)
                    continue
                self._throttled.discard(queue)
                if self._wakes[queue] != wakes[queue]:
                    continue  # woken while the fetch was on the wire: the reply is already stale
                if fetched.jobs is None:  # queue paused for every process
                    self._maybe_ready[queue] = False
                    self._watch(queue, self._wait_resumed(queue), 1.0)
                elif fetched.throttled:  # the queue's own limits let nothing (more) start
                    self._maybe_ready[queue] = False
                    self._throttled.add(queue)
                    timeout = self._block_s if fetched.wait_ms < 0 else max(fetched.wait_ms, 1) / 1000
                    self._watch(queue, self._wait_for_limits(queue, timeout), timeout)
                elif len(fetched.jobs) < n:
                    self._maybe_ready[queue] = False
                    block_s = self._block_s
                    if fetched.wait_ms >= 0:  # held jobs of a limited type are due then
                        block_s = min(block_s, max(fetched.wait_ms, 5) / 1000)
                    self._watch(queue, self._wait_ready(queue, block_s), block_s)
            if failed:
                await asyncio.sleep(self._backoff.next_delay())
            else:
                self._backoff.reset()

    async def _lease(self, queue: str, n: int) -> Fetched[LeasedJob] | RedisError:
        """Lease up to n jobs of one queue and deliver them to the slots; the reply says whether
        the queue is paused or throttled; the error when Redis failed."""
        self._limits_freed[queue].clear()
        fetch = asyncio.ensure_future(self._broker.fetch_limited(queue, n, self._worker_id, self._lease_ms))
        try:
            fetched = await asyncio.shield(fetch)
        except asyncio.CancelledError:
            # The script may already have leased jobs to us: hold them so stop() gives
            # them back at once, instead of leaving them to lease expiry as a lost attempt.
            try:
                # As long as a lease, not a fixed 2 s: on a starved host the reply can be
                # late, and jobs dropped here would come back only by lease expiry, as a
                # lost attempt (a job on its last attempt would go dead without running).
                leased = (await asyncio.wait_for(fetch, self._lease_ms / 1000)).jobs
            except BaseException:
                leased = None
            if leased:
                self._held.add_all(leased)
                self._slots.deliver_all(leased)
            raise
        except RedisError as exc:
            self._capacity.set()
            return exc
        if fetched.jobs:
            self._held.add_all(fetched.jobs)
            self._slots.deliver_all(fetched.jobs)
        return fetched

    def _watch(self, queue: str, waiting: Coroutine[Any, Any, None], within_s: float) -> None:
        """Run ``waiting`` until the queue may have jobs again (one watcher per queue); it ends
        within ``within_s``. When a watcher already runs (it was started before a wake that
        led to this reply), it may wake far later than this reply asks (an hour-long block on
        the ready list while held jobs are due in 20 ms): a timer fetches again in time then,
        without cutting its blocking call short (that would drop its connection)."""
        running = self._watchers.get(queue)
        if self._stopping or (running is not None and not running.done()):
            waiting.close()
            if not self._stopping:
                loop = asyncio.get_running_loop()
                now = loop.time()
                old = self._rechecks.get(queue)
                if old is None or old.cancelled() or not now < old.when() <= now + within_s:
                    if old is not None:
                        old.cancel()
                    self._rechecks[queue] = loop.call_later(within_s, self._mark_ready, queue)
            return
        task = asyncio.create_task(waiting, name=f"tickr-watch-{queue}")
        self._watchers[queue] = task

    async def _wait_ready(self, queue: str, block_s: float) -> None:
        try:
            await self._broker.wait_for_ready(queue, block_s)
        except RedisError as exc:
            log.warning("waiting on queue %s failed (%s); retrying", queue, exc)
            await asyncio.sleep(self._backoff.next_delay())
        # A job was pushed, or the block time passed: fetch again either way (a prioritised
        # job whose wake message was lost is found this way).
        self._mark_ready(queue)

    async def _wait_for_limits(self, queue: str, timeout: float) -> None:
        """The queue's limits let nothing start: sleep until they free (``timeout``, or until a
        running job ends somewhere, which publishes "limits"), not spin on the fetch."""
        started = time.monotonic()
        try:
            await asyncio.wait_for(self._limits_freed[queue].wait(), timeout)
        except TimeoutError:
            pass
        self.throttled_s[queue] += time.monotonic() - started
        self._throttled.discard(queue)
        self._mark_ready(queue)

    async def _wait_resumed(self, queue: str) -> None:
        resumed = self._queue_resumed[queue]
        resumed.clear()
        try:
            await asyncio.wait_for(resumed.wait(), 1.0)
        except TimeoutError:
            pass
        self._mark_ready(queue)
