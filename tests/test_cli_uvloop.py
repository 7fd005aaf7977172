"""Without uvloop (a plain ``pip install -e .``), a failed job's stored traceback is the job's
own: the CLI's loop must not run inside the ``except ImportError`` of the uvloop probe, or every
exception chains to "No module named 'uvloop'"."""

from __future__ import annotations

from pathlib import Path

import pytest
from cliproc import TickrProcess
from timing import deadline

from tickr_app import Tickr

pytestmark = pytest.mark.slow

NO_UVLOOP = "import sys\nsys.modules['uvloop'] = None  # import uvloop now raises ModuleNotFoundError"


@pytest.mark.parametrize("prelude", [NO_UVLOOP, ""], ids=["without-uvloop", "with-uvloop-if-installed"])
async def test_a_failed_jobs_traceback_does_not_chain_to_the_uvloop_probe(
    redis_url: str, prefix: str, home: Path, prelude: str
) -> None:
    import clijobs  # noqa: F401  (registers "explode" here too, for the producer's validation)

    worker = TickrProcess(
        ["worker", "--redis", redis_url, "--prefix", prefix, "--jobs", "clijobs", "--workers", "1", "--grace", "2"],
        home=home,
        python_prelude=prelude,
    )
    producer = await Tickr(redis_url, workers=0, prefix=prefix, home=home, builtin_jobs=False).start()
    try:
        worker.wait_ready()
        job = await producer.submit("explode", {})
        done = await producer.wait(job.id, timeout=deadline(60))
        assert done.status == "dead"
        assert "kaboom from a job" in (done.traceback or "")
        assert "uvloop" not in (done.traceback or "")
        assert "During handling of the above exception" not in (done.traceback or "")
    finally:
        await producer.stop()
        assert worker.terminate() == 0, worker.output
