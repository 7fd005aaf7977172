"""Plain ``def`` handlers in a small pool of long-lived worker processes.

Not ``concurrent.futures.ProcessPoolExecutor``: there one dead child breaks the whole executor.
Here each process is a ``multiprocessing`` spawn child with a pipe of its own and a reader thread
in the parent. Processes start on the first process job (startup is paid once, then reused).
A timeout, cancel or shutdown kills that one process (SIGTERM, then SIGKILL after a short
grace) and the next job starts a fresh one; a process that dies on its own (segfault,
``os._exit``, the OOM killer) fails that attempt with a clear error and nothing else. There are
never more processes than seats (the pool's concurrency), dying ones included.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import pickle
import signal
import threading
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from ..context import JobContext
from . import child

log = logging.getLogger("tickr.processes")

KILL_GRACE_S = 1.0
"""After SIGTERM, how long a process gets before SIGKILL."""
SEAT_RECHECK_S = 0.25
PIPE_INLINE_BYTES = 32 * 1024
"""Payloads up to this size are written to the pipe from the loop (the idle child reads at once)."""


class ProcessDied(Exception):
    """The worker process running the attempt ended without answering."""


class RemoteTraceback(Exception):
    """Carries the worker process's traceback text as the cause of the re-raised error."""

    def __str__(self) -> str:
        return self.args[0] if self.args else ""


class _Worker:
    """One child process, its pipe and the parent's reader thread."""

    def __init__(self, runner: ProcessRunner, process: Any, conn: Connection) -> None:
        self.runner = runner
        self.process = process
        self.conn = conn
        self.loop = asyncio.get_running_loop()
        self.job: tuple[asyncio.Future[tuple[Any, ...]], JobContext] | None = None
        self.dead = False
        self.reader = threading.Thread(target=self._read, name=f"tickr-proc-reader-{process.pid}", daemon=True)
        self.reader.start()

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    def _read(self) -> None:
        while True:
            try:
                message = pickle.loads(self.conn.recv_bytes())
            except (EOFError, OSError):
                break
            except Exception as exc:  # noqa: BLE001 - a result the parent cannot unpickle
                message = (
                    "error",
                    None,
                    f"cannot read the answer of the worker process: {type(exc).__name__}: {exc}",
                    "",
                    True,
                )
            self._post(self._on_message, message)
        self.process.join(10)
        self._post(self._on_exit, self.process.exitcode)

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            pass  # loop closed

    def _on_message(self, message: tuple[Any, ...]) -> None:
        if self.job is None:
            return
        future, ctx = self.job
        if message[0] == "progress":
            self.runner._progress(ctx, message[1], message[2])
        elif not future.done():
            future.set_result(message)

    def _on_exit(self, exitcode: int | None) -> None:
        self.dead = True
        self.runner._gone(self)
        if self.job is not None:
            future, _ctx = self.job
            if not future.done():
                future.set_result(("died", exitcode))


class ProcessRunner:
    def __init__(
        self, limit: Callable[[], int], *, nice: int = child.DEFAULT_NICE, start_method: str = "spawn"
    ) -> None:
        self._limit = limit
        self._nice = nice
        self._mp = multiprocessing.get_context(start_method)
        self._workers: set[_Worker] = set()
        self._idle: list[_Worker] = []
        self._starting = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._background: set[asyncio.Task[None]] = set()
        self.started = 0
        """Processes started since the runner was made (startup cost is paid this many times)."""

    @property
    def pids(self) -> list[int]:
        """Live worker processes, busy, idle or dying."""
        return sorted(w.pid for w in self._workers)

    @property
    def busy(self) -> int:
        return sum(1 for w in self._workers if w.job is not None)

    async def run(self, handler: Callable[..., Any], payload: Any, ctx: JobContext, takes_context: bool) -> Any:
        from ..errors import PermanentError

        fields = {
            "id": ctx.id,
            "type": ctx.type,
            "queue": ctx.queue,
            "attempt": ctx.attempt,
            "max_attempts": ctx.max_attempts,
            "token": ctx.token,
            "home": str(ctx.home),
            "workflow": (ctx.workflow_id, ctx.node, ctx.parent_results),
        }
        message = ("run", handler.__module__, handler.__qualname__, payload, fields, takes_context)
        try:
            data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - any pickling failure: one clear message
            raise PermanentError(
                f"the payload of job type {ctx.type!r} cannot be pickled to reach the worker process "
                f"({type(exc).__name__}: {exc}); process jobs need a payload model defined at module level"
            ) from None
        worker = await self._checkout()
        future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        worker.job = (future, ctx)
        try:
            try:
                if len(data) > PIPE_INLINE_BYTES:  # more than the pipe holds: never wait on the loop
                    await asyncio.to_thread(worker.conn.send_bytes, data)
                else:
                    worker.conn.send_bytes(data)
            except OSError:
                pass  # it died before the job reached it: the reader reports the exit
            answer = await future
        except asyncio.CancelledError:
            worker.job = None
            self._kill(worker)
            raise
        worker.job = None
        if answer[0] == "ok":
            self._checkin(worker)
            return answer[1]
        if answer[0] == "died":
            raise ProcessDied(_death(worker.pid, answer[1], ctx.type))
        self._checkin(worker)
        _kind, pickled, description, trace, permanent = answer
        exc: BaseException | None = None
        if pickled is not None:
            try:
                exc = pickle.loads(pickled)
            except Exception:  # noqa: BLE001 - fall back to the text below
                exc = None
        if not isinstance(exc, Exception):
            exc = PermanentError(description) if permanent else ProcessJobError(description)
        if trace:
            exc.__cause__ = RemoteTraceback(f"\n--- in worker process {worker.pid} ---\n{trace}")
        raise exc

    # -- seats -----------------------------------------------------------------------------

    async def _checkout(self) -> _Worker:
        loop = asyncio.get_running_loop()
        while True:
            while self._idle:
                worker = self._idle.pop()
                if not worker.dead and worker.process.is_alive():
                    return worker
            if len(self._workers) + self._starting < max(1, self._limit()):
                spawning = asyncio.ensure_future(self._spawn())
                try:
                    return await asyncio.shield(spawning)
                except asyncio.CancelledError:
                    # Cancelled while the process starts: keep it for the next job, never leak it.
                    spawning.add_done_callback(self._adopt)
                    raise
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait([waiter], timeout=SEAT_RECHECK_S)
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    async def _spawn(self) -> _Worker:
        self._starting += 1
        try:
            parent_end, child_end = self._mp.Pipe(duplex=True)
            process = self._mp.Process(
                target=child.main, args=(child_end, self._nice), name="tickr-job-process", daemon=True
            )
            await asyncio.to_thread(process.start)
            child_end.close()  # so the parent's reader sees EOF when the child dies
            worker = _Worker(self, process, parent_end)
            self._workers.add(worker)
            self.started += 1
            log.info("started job process %d", worker.pid)
            return worker
        finally:
            self._starting -= 1

    def _adopt(self, spawning: asyncio.Future[_Worker]) -> None:
        if not spawning.cancelled() and spawning.exception() is None:
            self._checkin(spawning.result())

    def _checkin(self, worker: _Worker) -> None:
        if worker.dead:
            return
        if len(self._workers) > max(1, self._limit()):
            self._stop_one(worker)  # scaled down: one process fewer
            return
        self._idle.append(worker)
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break

    def _gone(self, worker: _Worker) -> None:
        """The reader saw the process exit: its seat is free."""
        self._workers.discard(worker)
        if worker in self._idle:
            self._idle.remove(worker)
        try:
            worker.conn.close()
        except OSError:
            pass
        self._wake()

    def _progress(self, ctx: JobContext, percent: float, message: str) -> None:
        result = ctx.progress(percent, message)
        if asyncio.iscoroutine(result):
            task = asyncio.get_running_loop().create_task(result)
            self._background.add(task)  # type: ignore[arg-type]
            task.add_done_callback(self._background.discard)  # type: ignore[arg-type]

    # -- ending processes ------------------------------------------------------------------

    def _kill(self, worker: _Worker) -> None:
        """SIGTERM, then SIGKILL after the grace; the seat frees when the reader sees it exit."""
        if worker in self._idle:
            self._idle.remove(worker)
        worker.dead = True
        self._in_background(asyncio.to_thread(_terminate, worker.process, KILL_GRACE_S))

    def _stop_one(self, worker: _Worker) -> None:
        worker.dead = True
        if worker in self._idle:
            self._idle.remove(worker)
        try:
            worker.conn.send_bytes(pickle.dumps(("stop",)))
        except OSError:
            pass
        self._in_background(asyncio.to_thread(_terminate, worker.process, 5.0, polite=True))

    def _in_background(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        """End every process: idle ones are asked to stop, busy ones killed; wait until gone."""
        for worker in list(self._workers):
            if worker.job is None and not worker.dead:
                self._stop_one(worker)
            elif not worker.dead:
                self._kill(worker)
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)
        for worker in list(self._workers):
            await asyncio.to_thread(worker.reader.join, 5.0)


class ProcessJobError(Exception):
    """A handler's exception that could not be pickled back; its text and traceback are kept."""


def _terminate(process: Any, grace: float, *, polite: bool = False) -> None:
    if polite:
        process.join(grace)
        if process.exitcode is not None:
            return
    if process.exitcode is None:
        process.terminate()
        process.join(KILL_GRACE_S if polite else grace)
    if process.exitcode is None:
        process.kill()
        process.join()


def _death(pid: int, exitcode: int | None, job_type: str) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            how = f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"killed by signal {-exitcode}"
        if exitcode == -signal.SIGKILL:
            how += " (the kernel's OOM killer sends this when memory runs out)"
    else:
        how = f"exited with code {exitcode}"
    return f"the worker process {pid} running job type {job_type!r} died: {how}; a fresh process runs the next job"
