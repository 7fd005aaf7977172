"""The loop watches itself: lag is measured and exported, and a stall names who held the loop."""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
import pytest
from helpers import eventually
from timing import deadline

from tickr_app import JobContext, Registry
from tickr_app.api import start_api
from tickr_app.core.reprs import worker_text

# The default 0.1 s stall threshold and the stalls the tests cause, both scaled: on a slow host
# ordinary callbacks take longer too, and must stay under the threshold while the deliberate
# stalls stay well above it.
THRESHOLD = deadline(0.1)


async def test_a_blocking_async_def_job_is_named_in_one_warning(make_tickr, registry: Registry, caplog) -> None:
    @registry.job("careless")
    async def careless(payload: dict, ctx: JobContext) -> str:
        await asyncio.sleep(0)
        time.sleep(deadline(0.3))  # noqa: ASYNC251 - blocks the event loop: the mistake the monitor exists for
        return "done"

    caplog.set_level(logging.WARNING, logger="tickr.loop")
    tickr = await make_tickr(workers=1, loop_lag_threshold=THRESHOLD)
    j = await tickr.submit("careless", {})
    assert (await tickr.wait(j.id, timeout=deadline(10))).status == "succeeded"
    stalls = await eventually(lambda: [r for r in caplog.records if "event loop blocked" in r.getMessage()])
    assert len(stalls) == 1
    text = stalls[0].getMessage()
    assert f"job careless {j.id}" in text and "def handler" in text
    snapshot = tickr.loop_lag()
    assert snapshot is not None and snapshot.stalls == 1 and snapshot.offender == f"job careless {j.id}"
    assert snapshot.max_ms >= deadline(0.2) * 1000


async def test_a_stall_outside_jobs_names_the_callback(make_tickr, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="tickr.loop")
    await make_tickr(workers=1, loop_lag_threshold=THRESHOLD)

    def hog_the_loop() -> None:
        time.sleep(deadline(0.4))

    asyncio.get_running_loop().call_soon(hog_the_loop)
    stalls = await eventually(lambda: [r for r in caplog.records if "event loop blocked" in r.getMessage()])
    text = stalls[0].getMessage()
    assert "not a job" in text and "hog_the_loop" in text, text
    assert "careless" not in text


async def test_a_stall_long_enough_to_risk_leases_says_so(make_tickr, registry: Registry, caplog) -> None:
    @registry.job("very_careless")
    async def very_careless(payload: dict) -> None:
        time.sleep(deadline(0.5))  # noqa: ASYNC251 - on purpose

    caplog.set_level(logging.WARNING, logger="tickr.loop")
    lease = deadline(0.9)
    tickr = await make_tickr(workers=1, lease=lease)  # heartbeats every lease/3
    j = await tickr.submit("very_careless", {})
    await tickr.wait(j.id, timeout=deadline(10))
    stalls = await eventually(lambda: [r for r in caplog.records if "event loop blocked" in r.getMessage()])
    assert f"leases of {tickr._pool.settings.lease_ms / 1000:g} s are at risk" in stalls[0].getMessage()
    assert tickr._pool.loop_monitor.lease_risks == 1


async def test_lag_is_in_the_worker_record_the_api_and_metrics(make_tickr, registry: Registry) -> None:
    @registry.job("careless")
    async def careless(payload: dict) -> None:
        time.sleep(deadline(0.25))  # noqa: ASYNC251 - on purpose

    tickr = await make_tickr(workers=1, loop_lag_threshold=THRESHOLD)
    server = await start_api(tickr, port=0)
    try:
        j = await tickr.submit("careless", {})
        await tickr.wait(j.id, timeout=deadline(10))

        async def recorded():
            workers = await tickr.worker_processes()
            return workers[0] if workers and workers[0].loop and workers[0].loop.stalls else None

        me = await eventually(recorded, message="the stall reaches the worker registry")
        assert me.loop.offender == f"job careless {j.id}" and me.loop.max_ms >= deadline(0.15) * 1000
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{server.url}/api/v1/workers") as resp:
                body = await resp.json()
            loop = body["workers"][0]["loop"]
            assert loop["offender"] == f"job careless {j.id}" and loop["stalls"] == 1
            assert set(loop) >= {"lag_ms", "p99_ms", "max_ms", "stalls", "offender", "lease_risks"}
            async with http.get(f"{server.url}/metrics") as resp:
                text = await resp.text()
        assert "tickr_event_loop_lag_seconds_bucket" in text, text
        count = next(l for l in text.splitlines() if l.startswith("tickr_event_loop_lag_seconds_count"))
        assert float(count.split()[-1]) > 0
        over = next(l for l in text.splitlines() if l.startswith('tickr_event_loop_lag_seconds_bucket{le="0.1"}'))
        assert float(over.split()[-1]) < float(count.split()[-1]), "the stall is in a bucket above 0.1 s"
        assert "tickr_worker_loop_lag_seconds" in text
    finally:
        await server.stop()


async def test_the_threshold_is_configurable(make_tickr, registry: Registry, caplog) -> None:
    @registry.job("slightly_careless")
    async def slightly_careless(payload: dict) -> None:
        time.sleep(deadline(0.25))  # noqa: ASYNC251 - on purpose

    caplog.set_level(logging.WARNING, logger="tickr.loop")
    tickr = await make_tickr(workers=1, loop_lag_threshold=deadline(1.0))
    j = await tickr.submit("slightly_careless", {})
    await tickr.wait(j.id, timeout=deadline(10))
    # the monitor's next tick measures the stall (and must not call it one)
    await eventually(
        lambda: tickr._pool.loop_monitor.snapshot().max_ms >= deadline(0.15) * 1000, message="the stall measured"
    )
    assert not [r for r in caplog.records if "event loop blocked" in r.getMessage()]


async def test_notebook_displays_show_the_loop_lag_and_escape_the_offender(make_tickr, registry: Registry) -> None:
    @registry.job("<b>careless</b>")
    async def careless(payload: dict) -> None:
        time.sleep(deadline(0.25))  # noqa: ASYNC251 - on purpose

    tickr = await make_tickr(workers=1, loop_lag_threshold=THRESHOLD)
    j = await tickr.submit("<b>careless</b>", {})
    await tickr.wait(j.id, timeout=deadline(10))

    async def recorded():
        workers = await tickr.worker_processes()
        return workers if workers and workers[0].loop and workers[0].loop.stalls else None

    workers = await eventually(recorded)
    html = workers._repr_html_()
    assert "loop lag" in html and "job &lt;b&gt;careless&lt;/b&gt;" in html and "<b>careless" not in html
    text = worker_text(workers[0])
    assert "loop lag" in text and "last stall" in text and f"careless</b> {j.id}" in text


def test_the_threshold_comes_from_the_command_line_and_bad_values_are_one_line(monkeypatch) -> None:
    from tickr_app.cli import CliError, build_parser, options_from
    from tickr_app.runtime import Runtime

    options = options_from(build_parser().parse_args(["worker", "--lag-threshold", "0.25", "--workers", "2"]))
    assert options.lag_threshold == 0.25
    assert Runtime(options).tickr._pool_settings.lag_threshold == 0.25
    monkeypatch.setenv("TICKR_LAG_THRESHOLD", "0.5")
    assert options_from(build_parser().parse_args(["serve"])).lag_threshold == 0.5
    monkeypatch.setenv("TICKR_LAG_THRESHOLD", "soon")
    with pytest.raises(CliError, match="TICKR_LAG_THRESHOLD must be seconds"):
        options_from(build_parser().parse_args(["serve"]))
    monkeypatch.delenv("TICKR_LAG_THRESHOLD")
    with pytest.raises(CliError, match="greater than 0"):
        options_from(build_parser().parse_args(["serve", "--lag-threshold", "0"]))
