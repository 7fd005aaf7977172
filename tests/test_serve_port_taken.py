"""``tickr serve`` on a taken port fails before its pool leases anything: the port is checked
before the engine starts, so ready jobs stay ready with no attempt spent (#17 item 2)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from cliproc import TickrProcess

from tickr_app import Tickr

pytestmark = pytest.mark.slow


async def test_serve_on_a_taken_port_exits_with_one_line_and_leases_nothing(
    redis_url: str, prefix: str, home: Path
) -> None:
    import clijobs  # noqa: F401  (registers "nap" for the producer)

    producer = await Tickr(redis_url, workers=0, prefix=prefix, home=home, builtin_jobs=False).start()
    try:
        jobs = await producer.submit_many([{"type": "nap", "payload": {}} for _ in range(20)])
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            serve = TickrProcess(
                ["serve", "--redis", redis_url, "--prefix", prefix, "--jobs", "clijobs"]
                + ["--port", str(port), "--workers", "5"],
                home=home,
            )
            code = serve.finish()
        assert code == 1, serve.output
        lines = [line for line in serve.output.splitlines() if line.strip()]
        assert len(lines) == 1, serve.output
        assert lines[0].startswith("tickr: ") and "already in use" in lines[0] and "--port" in lines[0]
        for job in jobs:
            now = await producer.get(job.id)
            assert now is not None
            assert (now.status, now.attempts) == ("ready", 0), now
    finally:
        await producer.stop()
