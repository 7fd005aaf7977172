"""The Lua scripts, one file per atomic operation, loaded once and called by name.

Each ``<name>-<numkeys>.lua`` gets ``_common.lua`` prepended; redis-py runs it by EVALSHA and
reloads it transparently after a SCRIPT FLUSH or a failover.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

LUA_PACKAGE = "tickr_app.core.lua"


@cache
def lua_sources() -> dict[str, str]:
    """Script name -> full source (common helpers + the operation)."""
    folder = resources.files(LUA_PACKAGE)
    common = folder.joinpath("_common.lua").read_text()
    sources: dict[str, str] = {}
    for entry in folder.iterdir():
        name = entry.name
        if not name.endswith(".lua") or name.startswith("_"):
            continue
        op = name[: -len(".lua")].rsplit("-", 1)[0]
        sources[op] = common + "\n" + entry.read_text()
    return sources


class Scripts:
    """Registered scripts of one Redis client, as attributes: ``scripts.fetch(keys, args)``."""

    def __init__(self, redis: Any) -> None:
        for op, source in lua_sources().items():
            setattr(self, op, redis.register_script(source))

    enqueue: Any
    fetch: Any
    ack: Any
    fail: Any
    heartbeat: Any
    promote: Any
    recover: Any
    cancel: Any
    finish_cancel: Any
    release: Any
    retry: Any
    retry_dead: Any
    delete: Any
    progress: Any
    take_commands: Any
    delete_dead: Any
    forget_queue: Any
