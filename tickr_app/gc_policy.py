"""Garbage-collector settings for the process that draws the TUI and runs jobs in one loop.

With CPython's default thresholds a flood of jobs promoted short-lived objects (job records,
messages, futures) into the oldest generation fast enough to trigger a full collection every
couple of seconds. Each one walked every live object, Textual's render caches included, and
held the event loop for 200-300 ms (measured with ``gc.callbacks`` while
``bench/tui_responsiveness.py`` ran): longer than a key press may wait for its effect.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000
"""Allocations between young collections (default 700): most objects of one job's round trip
die before a collection sees them, so fewer reach the old generation."""
MIDDLE_THRESHOLD = 50
OLD_THRESHOLD = 100


def settle_gc() -> None:
    """Call once the process has started: what is alive now (modules, classes, the app's
    widgets) lives until exit, so it is moved out of the collector's sight for good, and
    later garbage is collected in larger, rarer young passes."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
