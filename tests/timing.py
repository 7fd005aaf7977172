"""The one place that says how long a test may wait for something to happen.

Every "eventually" deadline in the suite is a budget for a quiet machine, multiplied by
``SLOWDOWN``: the larger of ``TICKR_TEST_SLOWDOWN`` (set it on a machine you know to be slow,
e.g. ``scripts/slow_suite.sh`` does) and a factor measured once per session by timing a small
CPU loop against a reference figure. So a shared CI host with heavy steal gets longer deadlines
without anyone editing a test, and a quiet machine keeps the short ones (failures stay quick).

Deadlines only bound *waiting*: a test that passes on a quiet machine passes on a slow one, just
later. Upper bounds that are the behaviour itself (never early, a timeout fires, a lease is
extended) are not scaled here; those tests make the work under test small next to the bound.
"""

from __future__ import annotations

import os
import statistics
import time

ENV_VAR = "TICKR_TEST_SLOWDOWN"

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


def _from_env() -> float:
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        raise RuntimeError(f"{ENV_VAR} must be a number (a slowdown factor such as 5), got {raw!r}") from None
    return max(1.0, value)


ENV_SLOWDOWN = _from_env()
MEASURED_SLOWDOWN = measure_slowdown()
# Measured figures are noisy: round to a tenth, and never below 1 (a fast machine keeps the
# quiet-machine budgets).
SLOWDOWN = max(1.0, ENV_SLOWDOWN, round(MEASURED_SLOWDOWN, 1))


def deadline(seconds: float) -> float:
    """A quiet-machine budget of ``seconds``, scaled for this machine."""
    return seconds * SLOWDOWN


def describe() -> str:
    return (
        f"tickr test slowdown x{SLOWDOWN:g} ({ENV_VAR}={ENV_SLOWDOWN:g}, "
        f"measured x{MEASURED_SLOWDOWN:.1f} on a {REFERENCE_LOOP_S * 1000:.0f} ms CPU loop)"
    )
