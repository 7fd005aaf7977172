"""The client Tickr builds behaves the same on redis-py 5 to 8 (8 changed the defaults to RESP3
and a 5 s socket timeout that wraps every command in ``asyncio.wait_for``; 7 started retrying
failed connects), and Tickr's loops stop even when a Redis call swallows stop()'s cancel."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ConstantBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from timing import deadline

from tickr_app import Registry, Tickr
from tickr_app.core.connection import connect
from tickr_app.core.fastpack import _HiredisPacker, fast_connection_class


async def test_commands_go_out_as_resp2_without_a_per_command_timeout(redis_url: str) -> None:
    client = connect(redis_url)
    try:
        kwargs = client.connection_pool.connection_kwargs
        # With any socket timeout, redis-py sends each command through asyncio.wait_for.
        assert kwargs.get("socket_timeout") is None
        info = await client.execute_command("CLIENT", "INFO")
        text = info.decode() if isinstance(info, bytes) else str(info)
        fields = dict(f.split("=", 1) for f in text.split() if "=" in f)
        if "resp" in fields:  # Redis 7+ reports the protocol of the connection
            assert fields["resp"] == "2"
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0", "unix:///tmp/tickr-no-such.sock", "rediss://127.0.0.1:6380/0"]
)
def test_every_single_server_scheme_packs_commands_with_hiredis(url: str) -> None:
    if fast_connection_class("redis") is None:
        pytest.skip("this hiredis has no pack_command")
    client = connect(url)  # no connection is opened here
    # The URL scheme picks redis-py's class (unix://, rediss://): the hiredis variant must win.
    assert issubclass(client.connection_pool.connection_class, _HiredisPacker)


async def test_a_call_while_redis_is_down_fails_at_once_instead_of_retrying_the_connect() -> None:
    """Tickr's loops back off by themselves and the API answers 503: a connect is one attempt
    (redis-py 7+ would retry it with the client's policy, here 3 × 5 s, before failing)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    client = connect(f"redis://127.0.0.1:{port}/0", retry=Retry(ConstantBackoff(5.0), 3))
    try:
        started = time.monotonic()
        with pytest.raises(RedisConnectionError):
            await client.get("x")
        assert time.monotonic() - started < 2.0
    finally:
        await client.aclose()


class CancelDroppingRedis(aioredis.Redis):
    """A real client whose first command from the task named ``drop_in`` waits until that task
    is cancelled, drops the cancel and runs the command: what ``asyncio.wait_for`` does on
    Python 3.11 when the cancel arrives together with the result (CPython gh-86296), and so
    what redis-py does to any command when a socket timeout is set."""

    drop_in = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.holding = asyncio.Event()

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        task = asyncio.current_task()
        if task is not None and task.get_name() == self.drop_in and not self.holding.is_set():
            self.holding.set()
            try:
                await asyncio.Event().wait()  # only a cancel ends this
            except asyncio.CancelledError:
                pass  # dropped, as described above
        return await super().execute_command(*args, **options)


@pytest.mark.parametrize("loop_task", ["tickr-sweep", "tickr-heartbeat"])
async def test_stop_ends_loops_whose_redis_call_swallowed_the_cancel(
    loop_task: str, redis_url: str, prefix: str, registry: Registry, home: Path
) -> None:
    client = CancelDroppingRedis.from_url(redis_url, decode_responses=True)
    client.drop_in = loop_task
    tickr = Tickr(
        redis=client, workers=1, registry=registry, prefix=prefix, home=home, builtin_jobs=False,
        lease=0.6, sweep_interval=0.05, grace_period=0.5,
    )
    try:
        await tickr.start()
        await asyncio.wait_for(client.holding.wait(), deadline(5))  # the loop is inside its Redis call
        await asyncio.wait_for(tickr.stop(), deadline(5))
        assert not tickr.running
    finally:
        if tickr.running:
            await tickr.stop(graceful=False)
        await client.aclose()
