"""``settle_gc``, run in a process of its own (it changes the interpreter's collector), and who
applies it: ``tickr tui``'s app does once its panes are up, an embedder's ``TickrApp`` does not."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

from test_tui_launch import launch, options

from tickr_app.gc_policy import MIDDLE_THRESHOLD, OLD_THRESHOLD, YOUNG_THRESHOLD
from tickr_app.tui import TickrApp

PROBE = """
import gc
from tickr_app.gc_policy import settle_gc
before = gc.get_freeze_count()
settle_gc()
print(before, gc.get_freeze_count(), *gc.get_threshold())
"""


def test_settle_gc_freezes_what_lives_and_raises_the_thresholds() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    before, frozen, *thresholds = (int(n) for n in out.split())
    assert before == 0 and frozen > 1000  # the modules, classes and functions alive at start-up
    assert thresholds == [YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD]
    assert YOUNG_THRESHOLD > 700  # larger than CPython's default young generation


async def test_only_the_cli_app_settles_the_collector(make_tickr) -> None:
    tickr = await make_tickr(workers=0)
    thresholds, frozen = gc.get_threshold(), gc.get_freeze_count()
    app = TickrApp(tickr)
    async with app.run_test() as pilot:
        await pilot.pause()
    assert not app.tune_gc
    assert (gc.get_threshold(), gc.get_freeze_count()) == (thresholds, frozen)  # this process is untouched


def test_the_app_tickr_tui_runs_settles_the_collector(redis_url: str, prefix: str, home: Path) -> None:
    _runtime, _starter, app = launch(options(redis_url, prefix, home))
    assert app.tune_gc
