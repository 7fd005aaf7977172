"""Chaos run: jobs flow through `tickr worker` processes while a driver kill -9s a random one
every few seconds and starts a replacement. At the end every job must have succeeded, none may
be lost, and every extra execution must come from a killed process (at-least-once).

    python bench/chaos.py --redis redis://127.0.0.1:6379/0                 # 10,000 jobs
    python bench/chaos.py --jobs 1000 --kill-every 1.5 --lease 1 --rate 80   # the CI variant

Jobs are `chaos_record` (bench/chaosjobs.py: each execution appends "<job id> <pid>" to a log
file, then works --job-ms milliseconds) or, with --job record, the instant `record` type of
tests/procjobs.py. They are submitted at a steady rate so the kills land while work is in
flight. The run uses its own key prefix and deletes its keys afterwards. tests/test_chaos.py
runs the short variant.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
BENCH = ROOT / "bench"
for _path in (TESTS, BENCH):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from proc import read_lines, spawn_tickr, stop
from redis_servers import catches_signal


@dataclass
class ChaosResult:
    jobs: int
    workers: int
    kills: int
    started_processes: int
    executions: int
    duplicates: int
    """Jobs that ran more than once."""
    extra_executions: int
    lost: int
    dead: int
    unexplained_runs: int
    """Runs in a process that was never killed but whose ack did not count (must be 0)."""
    wall_s: float
    drain_after_last_submit_s: float
    recovered: int
    lease_s: float
    kill_every_s: float
    job: str = "chaos_record"
    exit_codes: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        return (
            f"chaos: {self.jobs} {self.job} jobs through {self.workers} worker processes (lease {self.lease_s:g} s), "
            f"kill -9 every ~{self.kill_every_s:g} s\n"
            f"  kills            {self.kills} (processes started {self.started_processes})\n"
            f"  executions       {self.executions}\n"
            f"  duplicates       {self.duplicates} jobs ran more than once ({self.extra_executions} extra runs), "
            f"all in killed processes: {'yes' if self.unexplained_runs == 0 else f'NO ({self.unexplained_runs} not)'}\n"
            f"  recovered leases {self.recovered}\n"
            f"  lost             {self.lost}\n"
            f"  dead             {self.dead}\n"
            f"  wall time        {self.wall_s:.1f} s ({self.jobs / self.wall_s:.0f} jobs/s; "
            f"drained {self.drain_after_last_submit_s:.1f} s after the last submit)\n"
            f"  result           {'OK' if self.ok else 'FAILED: ' + '; '.join(self.problems)}"
        )


async def run_chaos(
    redis_url: str,
    *,
    jobs: int = 10_000,
    workers: int = 3,
    concurrency: int = 10,
    kill_every: float = 3.0,
    lease: float = 1.0,
    rate: float = 500.0,
    timeout: float = 600.0,
    workdir: Path | None = None,
    prefix: str | None = None,
    progress: Any = None,
    job_type: str = "chaos_record",
    job_ms: int = 20,
    start_timeout: float = 30.0,
) -> ChaosResult:
    """Run the chaos scenario; returns the figures (``result.ok`` tells whether it held)."""
    import chaosjobs  # noqa: F401  (registers `chaos_record` in the default registry)
    import procjobs  # noqa: F401  (registers `record`)

    from tickr_app import Tickr
    from tickr_app.core.connection import connect
    from tickr_app.core.keys import queue_keys
    from tickr_app.core.registry import default_registry

    say = progress or (lambda _msg: None)
    own_dir = workdir is None
    folder = Path(tempfile.mkdtemp(prefix="tickr-chaos-")) if workdir is None else workdir
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "runs.log"
    home = folder / "home"
    prefix = prefix or f"tickrchaos-{uuid.uuid4().hex[:8]}"
    args = [
        "worker", "--redis", redis_url, "--prefix", prefix, "--jobs", "procjobs", "--jobs", "chaosjobs",
        "--workers", str(concurrency), "--lease", str(lease), "--grace", "5", "--log-level", "WARNING",
    ]  # fmt: skip
    producer = await Tickr(redis_url, workers=0, prefix=prefix, home=home, registry=default_registry, builtin_jobs=False).start()
    admin = connect(redis_url)  # white-box checks of the stored records, on a client of its own
    live: list[subprocess.Popen[bytes]] = []
    killed_pids: set[int] = set()
    all_procs: list[subprocess.Popen[bytes]] = []
    problems: list[str] = []
    exit_codes: list[int] = []
    ids: list[str] = []
    started = time.monotonic()
    last_submit = started

    pythonpath = os.pathsep.join(filter(None, [str(TESTS), str(BENCH), os.environ.get("PYTHONPATH", "")]))

    def spawn() -> None:
        p = spawn_tickr(args, log_path=log, home=home, extra_env={"PYTHONPATH": pythonpath})
        live.append(p)
        all_procs.append(p)

    async def submitter() -> None:
        nonlocal last_submit
        batch = max(1, min(200, int(rate / 20)))
        t0 = time.monotonic()
        while len(ids) < jobs:
            n = min(batch, jobs - len(ids))
            payload: dict[str, Any] = {"ms": job_ms} if job_type == "chaos_record" else {}
            made = await producer.submit_many(
                [{"type": job_type, "payload": {"name": str(len(ids) + i), **payload}} for i in range(n)]
            )
            ids.extend(j.id for j in made)
            # steady rate: wait until the schedule says the next batch is due
            due = t0 + len(ids) / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
        last_submit = time.monotonic()

    async def succeeded() -> int:
        return (await producer.queue_stats("default")).succeeded

    try:
        for _ in range(workers):
            spawn()
        submit_task = asyncio.create_task(submitter())
        next_kill = time.monotonic() + kill_every * random.uniform(0.5, 1.5)
        last_report = 0.0
        while True:
            done = await succeeded()
            if submit_task.done():
                submit_task.result()  # re-raise a failed submit
                if done >= jobs:
                    break
            now = time.monotonic()
            if now - started > timeout:
                problems.append(f"timed out after {timeout:g} s with {done}/{jobs} succeeded")
                break
            if now >= next_kill:
                victim = random.choice(live)
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                killed_pids.add(victim.pid)
                live.remove(victim)
                spawn()
                next_kill = now + kill_every * random.uniform(0.5, 1.5)
            for p in list(live):
                if p.poll() is not None:  # a worker died by itself: that is a bug
                    problems.append(f"worker {p.pid} exited on its own with {p.returncode}")
                    live.remove(p)
                    spawn()
            if now - last_report > 2:
                say(f"  {now - started:5.1f} s: submitted {len(ids)}, succeeded {done}, kills {len(killed_pids)}")
                last_report = now
            await asyncio.sleep(0.05)  # the driver's tick: poll progress, kill on schedule
        if not submit_task.done():
            submit_task.cancel()
        await asyncio.gather(submit_task, return_exceptions=True)
        wall = time.monotonic() - started
        drain = time.monotonic() - last_submit

        # A replacement spawned by the last kill may still be starting (a SIGTERM before its
        # handler is installed kills it with -15): wait until every survivor catches SIGTERM.
        ready_deadline = time.monotonic() + start_timeout
        while time.monotonic() < ready_deadline:
            if all(catches_signal(p.pid, signal.SIGTERM) or p.poll() is not None for p in live):
                break
            await asyncio.sleep(0.05)
        for p in live:
            rc, out = await asyncio.to_thread(stop, p, signal.SIGTERM, 30)
            exit_codes.append(rc)
            if rc != 0 or "Traceback" in out:
                problems.append(f"worker {p.pid} stopped with {rc}: {out[-500:]}")

        # -- check ---------------------------------------------------------------------------
        statuses: collections.Counter[str] = collections.Counter()
        final_worker: dict[str, str] = {}
        k = queue_keys(prefix, "default")
        for start in range(0, len(ids), 1000):
            pipe = admin.pipeline(transaction=False)
            for job_id in ids[start : start + 1000]:
                pipe.hmget(k.job(job_id), "status", "worker")
            for job_id, (status, worker) in zip(ids[start : start + 1000], await pipe.execute()):
                statuses[str(status)] += 1
                final_worker[job_id] = worker or ""
        runs: dict[str, list[int]] = collections.defaultdict(list)
        for line in read_lines(log):
            job_id, pid = line.split()
            runs[job_id].append(int(pid))
        lost = sum(1 for j in ids if not runs.get(j))
        duplicates = sum(1 for j in ids if len(runs.get(j, ())) > 1)
        extra = sum(max(0, len(runs.get(j, ())) - 1) for j in ids)
        unexplained = 0
        for j in ids:
            acked_pid = _pid_of(final_worker.get(j, ""))
            for pid in runs.get(j, ()):
                if pid != acked_pid and pid not in killed_pids:
                    unexplained += 1
        stats = await producer.queue_stats("default")
        recovered = int((await admin.hget(k.stats, "recovered")) or 0)
        if statuses.get("succeeded", 0) != len(ids) or len(ids) != jobs:
            problems.append(f"statuses {dict(statuses)} for {len(ids)} jobs (expected {jobs} succeeded)")
        if lost:
            problems.append(f"{lost} jobs never ran")
        if unexplained:
            problems.append(f"{unexplained} runs in processes that were not killed did not produce the ack")
        return ChaosResult(
            jobs=jobs,
            workers=workers,
            kills=len(killed_pids),
            started_processes=len(all_procs),
            executions=sum(len(v) for v in runs.values()),
            duplicates=duplicates,
            extra_executions=extra,
            lost=lost,
            dead=stats.dead,
            unexplained_runs=unexplained,
            wall_s=wall,
            drain_after_last_submit_s=drain,
            recovered=recovered,
            lease_s=lease,
            kill_every_s=kill_every,
            job=f"{job_type} ({job_ms} ms)" if job_type == "chaos_record" else job_type,
            exit_codes=exit_codes,
            problems=problems,
        )
    finally:
        for p in all_procs:
            if p.poll() is None:
                p.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.communicate(timeout=10)
        try:
            await _delete_prefix(admin, prefix)
        finally:
            await admin.aclose()
            await producer.stop()
            if own_dir:
                shutil.rmtree(folder, ignore_errors=True)


def _pid_of(worker_id: str) -> int | None:
    # worker ids are "<host>:<pid>:<random>"
    parts = worker_id.rsplit(":", 2)
    try:
        return int(parts[-2])
    except (IndexError, ValueError):
        return None


async def _delete_prefix(redis: Any, prefix: str) -> None:
    keys = [k async for k in redis.scan_iter(match=f"{prefix}:*", count=1000)]
    for start in range(0, len(keys), 500):
        await redis.delete(*keys[start : start + 500])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chaos.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", default=os.environ.get("TICKR_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=3, help="worker processes (default 3)")
    parser.add_argument("--concurrency", type=int, default=10, help="slots per worker process (default 10)")
    parser.add_argument("--kill-every", type=float, default=3.0, help="mean seconds between kill -9s (default 3)")
    parser.add_argument("--lease", type=float, default=1.0, help="lease seconds (default 1)")
    parser.add_argument("--rate", type=float, default=250.0, help="submitted jobs per second (default 250)")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--job", choices=("chaos_record", "record"), default="chaos_record",
                        help="chaos_record (works --job-ms, default) or procjobs' instant record")
    parser.add_argument("--job-ms", type=int, default=20, help="milliseconds each chaos_record works (default 20)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args(argv)
    from tickr_app.core.connection import mask_url

    print(
        f"chaos.py: {args.jobs} jobs at {args.rate:g}/s, {args.workers} x `tickr worker --workers {args.concurrency} "
        f"--lease {args.lease:g}`, kill -9 every ~{args.kill_every:g} s, Redis {mask_url(args.redis)}",
        file=sys.stderr,
    )
    result = asyncio.run(
        run_chaos(
            args.redis,
            jobs=args.jobs,
            workers=args.workers,
            concurrency=args.concurrency,
            kill_every=args.kill_every,
            lease=args.lease,
            rate=args.rate,
            timeout=args.timeout,
            job_type=args.job,
            job_ms=args.job_ms,
            progress=lambda msg: print(msg, file=sys.stderr),
        )
    )
    print(result.summary())
    if args.json:
        print(json.dumps(asdict(result)))
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
