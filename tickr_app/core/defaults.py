"""Every default the engine, the CLI and the job registry share, defined once.

Change one here and the engine's keyword defaults, ``tickr``'s flags, the pool settings and
the README's guarantees table stay in step (the README quotes these values).
"""

from __future__ import annotations

from typing import Final

LEASE_S: Final = 30.0
"""How long a fetched job stays leased without a heartbeat (extended every lease/3)."""
GRACE_PERIOD_S: Final = 30.0
"""How long a graceful stop lets running jobs finish before giving them back."""
TIMEOUT_S: Final = 300.0
"""Per-attempt time limit of a job type."""
MAX_ATTEMPTS: Final = 5
"""Attempts per job (the first run counts) before it goes to the dead letter queue."""
BACKOFF_BASE_S: Final = 1.0
BACKOFF_CAP_S: Final = 600.0
"""Retry backoff: full jitter, ``uniform(0, min(cap, base * 2**(attempt-1)))``."""
RETENTION_S: Final = 24 * 3600.0
"""How long succeeded and cancelled job records (and idempotency keys) are kept."""
DEAD_CAP: Final = 10_000
"""Dead jobs kept per queue; the oldest are dropped beyond this."""
EVENTS_MAXLEN: Final = 10_000
"""Approximate length of each queue's event stream."""
MAX_CONCURRENCY: Final = 10_000
"""Upper bound of one pool's slots (scale commands beyond it are refused)."""
LAG_THRESHOLD_S: Final = 0.1
"""Event-loop stalls at least this long are logged, naming the job that held the loop."""
PROCESS_NICE: Final = 5
"""CPU niceness of ``run_in="process"`` job processes: they run at a lower priority than the
process whose event loop serves the API, the scheduler and the lease heartbeats, so on a busy
machine the loop gets the CPU first. Higher values favour the loop more, at the cost of the
jobs' share on a host that is busy anyway (0: as this process)."""
