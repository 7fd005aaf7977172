"""Where Tickr keeps its files: ``TICKR_HOME``, default ``~/.local/share/tickr``."""

from __future__ import annotations

import os
from pathlib import Path


def tickr_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("TICKR_HOME")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".local" / "share" / "tickr"


def short_path(path: Path) -> str:
    """``~/.local/share/tickr`` rather than the full home folder."""
    try:
        return "~/" + str(path.expanduser().resolve().relative_to(Path.home().resolve()))
    except (ValueError, OSError, RuntimeError):
        return str(path)
