"""The one place that says how long a test may wait for something to happen.

Every "eventually" deadline in the suite is a budget for a quiet machine, multiplied by
``SLOWDOWN``: the larger of ``TICKR_TEST_SLOWDOWN`` (set it on a machine you know to be slow,
e.g. ``scripts/slow_suite.sh`` does) and a factor measured once per session by timing a small
CPU loop against a reference figure. So a shared CI host with heavy steal gets longer deadlines
without anyone editing a test, and a quiet machine keeps the short ones (failures stay quick).

Under pytest-xdist the session measures once, before it starts its workers, with one copy of the
loop per worker running at the same time (N workers on fewer cores wait for each other: the
factor includes that contention instead of hiding it), and the workers take that figure from
``_TICKR_TEST_MEASURED_SLOWDOWN`` rather than each timing a loop while its siblings start up.

Deadlines only bound *waiting*: a test that passes on a quiet machine passes on a slow one, just
later. Upper bounds that are the behaviour itself (never early, a timeout fires, a lease is
extended) are not scaled here; those tests make the work under test small next to the bound.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

ENV_VAR = "TICKR_TEST_SLOWDOWN"
# Set by the pytest-xdist session for its workers (only read inside a worker).
MEASURED_VAR = "_TICKR_TEST_MEASURED_SLOWDOWN"

# Wall time of ``_cpu_loop()`` on the quiet 2-vCPU development machine (CPython 3.11): ~30 ms.
REFERENCE_LOOP_S = 0.030
_LOOP_N = 300_000


def _cpu_loop() -> float:
    start = time.perf_counter()
    x = 0
    for i in range(_LOOP_N):
        x += i * i % 7
    return time.perf_counter() - start


def measure_slowdown(runs: int = 5) -> float:
    """How much slower than the reference this process runs a pure-CPU loop right now
    (median of ``runs``; it counts steal, CPU quotas and competing processes alike)."""
    return statistics.median(_cpu_loop() for _ in range(runs)) / REFERENCE_LOOP_S


def measure_parallel_slowdown(copies: int, runs: int = 7) -> float:
    """Like ``measure_slowdown``, with ``copies`` processes running the loop at the same time
    (the median of their medians): what a test sees while its xdist siblings are busy too."""
    if copies <= 1:
        return measure_slowdown()
    code = (
        "import statistics, sys; sys.path.insert(0, sys.argv[1]); import timing; "
        f"print(statistics.median(timing._cpu_loop() for _ in range({runs})))"
    )
    env = {**os.environ, MEASURED_VAR: "1", "PYTEST_XDIST_WORKER": "probe"}  # no nested measuring
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, os.path.dirname(os.path.abspath(__file__))],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(copies)
    ]
    loops = [float(p.communicate(timeout=120)[0]) for p in procs]
    return statistics.median(loops) / REFERENCE_LOOP_S


def _from_env() -> float:
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        raise RuntimeError(f"{ENV_VAR} must be a number (a slowdown factor such as 5), got {raw!r}") from None
    return max(1.0, value)


def _inherited() -> float | None:
    """The factor the xdist session measured for its workers (None outside a worker)."""
    raw = os.environ.get(MEASURED_VAR, "") if os.environ.get("PYTEST_XDIST_WORKER") else ""
    try:
        return float(raw) if raw else None
    except ValueError:
        return None


ENV_SLOWDOWN = _from_env()
_INHERITED = _inherited()
MEASURED_SLOWDOWN = _INHERITED if _INHERITED is not None else measure_slowdown()
# How many tests run at once (xdist workers), which the measurement covered.
PARALLEL = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1) if _INHERITED is not None else 1


def _combined() -> float:
    # Measured figures are noisy: round to a tenth, and never below 1 (a fast machine keeps the
    # quiet-machine budgets).
    return max(1.0, ENV_SLOWDOWN, round(MEASURED_SLOWDOWN, 1))


SLOWDOWN = _combined()


def measure_for_workers(workers: int) -> None:
    """In a pytest-xdist session, before the workers start: measure with ``workers`` loops at
    once, use that here (header and summary) and hand it to the workers through the environment."""
    global MEASURED_SLOWDOWN, PARALLEL, SLOWDOWN
    if workers <= 1:
        return
    MEASURED_SLOWDOWN = max(MEASURED_SLOWDOWN, measure_parallel_slowdown(workers))
    PARALLEL = workers
    SLOWDOWN = _combined()
    os.environ[MEASURED_VAR] = f"{MEASURED_SLOWDOWN:.3f}"


def deadline(seconds: float) -> float:
    """A quiet-machine budget of ``seconds``, scaled for this machine."""
    return seconds * SLOWDOWN


def describe() -> str:
    at_once = f", {PARALLEL} at once for {PARALLEL} xdist workers" if PARALLEL > 1 else ""
    return (
        f"tickr test slowdown x{SLOWDOWN:g} ({ENV_VAR}={ENV_SLOWDOWN:g}, "
        f"measured x{MEASURED_SLOWDOWN:.1f} on a {REFERENCE_LOOP_S * 1000:.0f} ms CPU loop{at_once})"
    )
