"""Command-line settings: flags beat ``TICKR_*`` environment variables, which beat defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .core import defaults
from .core.home import tickr_home
from .core.keys import DEFAULT_PREFIX

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_WORKERS = 5


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(f"TICKR_{name}")
    return value if value not in (None, "") else default


@dataclass(slots=True)
class RuntimeOptions:
    redis_url: str | None = None
    home: Path = field(default_factory=tickr_home)
    prefix: str = DEFAULT_PREFIX
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    workers: int = DEFAULT_WORKERS
    queues: list[str] = field(default_factory=list)
    """``NAME`` or ``NAME=WEIGHT`` each, in order (core/queue_policy.parse_queue_args)."""
    strict: bool = False
    """Strict queue order instead of weights."""
    job_modules: list[str] = field(default_factory=list)
    token: str | None = None
    lease: float = defaults.LEASE_S
    grace_period: float = defaults.GRACE_PERIOD_S
    lag_threshold: float = defaults.LAG_THRESHOLD_S
    """Event-loop stalls at least this long are logged with the job that held the loop."""
    api: bool = True
    scheduler: bool = True
