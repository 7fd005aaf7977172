"""Tickr's asyncio connection classes: redis-py's, with hiredis command packing and one
connect attempt per call.

- Packing: redis-py's asyncio connections pack every argument in Python; for Tickr's script
  calls, which carry dozens of arguments, that was half the CPU of a bulk enqueue. hiredis
  produces the same bytes about ten times faster.
- Connecting: redis-py 7+ retries a failed connect, handshake included (so a refused AUTH
  too), with the client's retry policy, before a command's own retries even start; redis-py
  5 and 6 made one attempt. Tickr's loops back off by themselves and the API must answer 503
  at once while Redis is down (with Tickr's policy redis-py 8 took 0.7 s per call), so a
  connect is one attempt again. Commands on a connection that breaks are still retried.

Falls back to redis-py's own classes without hiredis.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.exceptions import DataError

try:
    import hiredis
except ImportError:  # pragma: no cover - hiredis is a dependency via redis[hiredis]
    hiredis = None


class _HiredisPacker:
    """Mixed into redis-py's connection classes (see the module docstring)."""

    def pack_command(self, *args: Any) -> list[bytes]:
        first = args[0]
        if isinstance(first, str):
            if " " in first:
                args = (*first.split(), *args[1:])
        elif isinstance(first, bytes) and b" " in first:
            args = (*first.split(), *args[1:])
        try:
            return [hiredis.pack_command(args)]
        except TypeError as exc:
            raise DataError(str(exc)) from None

    async def connect(self) -> None:
        """One attempt: redis-py 6+'s ``connect_check_health`` is what its ``connect`` does
        before 7.0 wrapped it in the retry policy; redis-py 5's ``connect`` is that already."""
        connect_once = getattr(super(), "connect_check_health", None)
        if connect_once is None:
            await super().connect()  # type: ignore[misc]
        else:
            await connect_once(check_health=True)


class FastConnection(_HiredisPacker, Connection):
    pass


class FastUnixConnection(_HiredisPacker, UnixDomainSocketConnection):
    pass


class FastSSLConnection(_HiredisPacker, SSLConnection):
    pass


_FAST_BY_BASE: dict[type[Any], type[Any]] = {
    Connection: FastConnection,
    UnixDomainSocketConnection: FastUnixConnection,
    SSLConnection: FastSSLConnection,
}


def _available() -> bool:
    return hiredis is not None and hasattr(hiredis, "pack_command")


def fast_connection_class(scheme: str) -> type[Any] | None:
    """Tickr's class for a URL scheme, or None to keep redis-py's default."""
    if not _available():
        return None
    return {"redis": FastConnection, "unix": FastUnixConnection, "rediss": FastSSLConnection}.get(scheme)


def use_fast_packing(pool: Any) -> None:
    """Switch a connection pool to Tickr's variant of its connection class (hiredis packing,
    one connect attempt).

    Done on the pool, not through ``from_url(connection_class=...)``: redis-py lets the URL's
    scheme override that argument, so ``unix://`` (the embedded Redis) and ``rediss://`` would
    keep pure-Python packing. Only redis-py's own three classes are swapped; a pool with any
    other class (Sentinel's, an application's) is left alone.
    """
    base = getattr(pool, "connection_class", None)
    fast = _FAST_BY_BASE.get(base) if base is not None and _available() else None
    if fast is not None:
        pool.connection_class = fast
