"""The chaos run of bench/chaos.py, short: 1,000 jobs through three `tickr worker` processes
while a driver kill -9s a random one every ~1.5 s (lease 1 s) and starts a replacement. Every
job must succeed, none may be lost, and every extra execution must have happened in a process
that was killed (at-least-once: duplicates come only from kills).

1,000 jobs at 80/s keep jobs arriving for 12.5 s, longer than five kill intervals can add up
to (each is 0.75-2.25 s): at least five kills land while work is in flight, every run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from timing import SLOWDOWN, deadline

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from chaos import run_chaos

# xdist_group "heavy": one machine-loading test at a time under xdist (README, Development).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("heavy")]


async def test_kill_9_every_1_5_s_loses_nothing(redis_url: str, prefix: str, tmp_path: Path) -> None:
    # The whole scenario runs on the machine's clock: on a machine SLOWDOWN times slower, kills
    # come that much less often (a replacement worker takes that much longer to start), leases
    # are that much longer (heartbeats are that much later) and jobs arrive that much slower.
    # What it proves does not change: nothing lost, duplicates only from kills.
    result = await run_chaos(
        redis_url,
        jobs=1000,
        workers=3,
        concurrency=10,
        kill_every=deadline(1.5),
        lease=deadline(1.0),
        rate=80 / SLOWDOWN,
        timeout=deadline(35),
        start_timeout=deadline(30),
        workdir=tmp_path,
        prefix=prefix,
        job_ms=20,
    )
    print("\n" + result.summary())
    assert result.problems == []
    assert result.lost == 0 and result.dead == 0
    assert result.unexplained_runs == 0, "a job ran twice without a kill"
    assert result.kills >= 5, "the driver must actually have killed workers mid-run"
    assert result.executions == result.jobs + result.extra_executions
    assert result.exit_codes and all(rc == 0 for rc in result.exit_codes), "survivors drain and exit 0"


async def test_short_sustained_http_load_has_no_5xx_and_processes_every_accepted_job(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """The ~3 s variant of bench/load_http.py: keep-alive clients hammer POST /api/v1/jobs of a
    `tickr serve` subprocess; every answer is a 202, every accepted job succeeds."""
    from load_http import run_load

    # 3 s of load on a quiet machine, longer on a slow one (so the RSS sampler still gets its
    # samples); the drain deadline scales too. It asserts the guarantee, not a request rate.
    result = await run_load(
        redis_url,
        duration=deadline(3),
        clients=16,
        max_requests=20_000,
        server_workers=20,
        workdir=tmp_path,
        prefix=prefix,
        drain_timeout=deadline(30),
        start_timeout=deadline(30),
    )
    print("\n" + result.summary())
    assert result.problems == []
    assert result.accepted > 100
    assert result.statuses == {"202": result.accepted}
    assert result.server_errors == 0 and result.errors == 0
    assert result.processed == result.accepted
    assert result.rss_samples >= 5
