"""``tickr bench`` in miniature: the rows run, report and clean up after themselves. Sizes are
tiny (the figures mean nothing here: speed is measured by running the bench, never by tests)."""

from __future__ import annotations

import argparse
import json

import pytest
import redis

from tickr_app.bench import add_arguments, render_table, run


def _args(redis_url: str, prefix: str, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis")
    parser.add_argument("--prefix")
    add_arguments(parser)
    return parser.parse_args(["--redis", redis_url, "--prefix", prefix, *extra])


async def test_workflow_rows_beside_plain_jobs(redis_url: str, prefix: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = _args(
        redis_url,
        prefix,
        "--jobs", "200", "--concurrency", "8", "--json",
        "--skip", "latency,delayed,schedules,http",
        "--workflow-chain", "5", "--workflow-fan-in", "20",
    )  # fmt: skip
    assert await run(args) == 0
    report = json.loads(capsys.readouterr().out)
    results = report["results"]
    assert results["http"] == {"skipped": "--skip"}
    chain, fan_in = results["workflows"]["chain"], results["workflows"]["fan_in"]
    assert chain["jobs"] == 5 and chain["edges"] == 4 and "failed" not in chain
    assert fan_in["jobs"] == 21 and fan_in["edges"] == 20 and fan_in["members"] == 20 and "failed" not in fan_in
    for row in (chain, fan_in):
        assert row["seconds"] > 0 and row["plain_seconds"] > 0 and row["jobs_per_s"] > 0
        expected = (row["seconds"] - row["plain_seconds"]) * 1000 / row["edges"]
        assert row["overhead_per_edge_ms"] == pytest.approx(expected, abs=0.05)  # both times rounded to 0.1 ms
    assert results["drain"]["completed"] == 200

    table = render_table(report)
    assert "workflow chain (5 nodes) vs 5 awaited submits" in table
    assert "workflow fan-in (20 → 1) vs 20 drained + 1" in table and "ms/edge" in table
    assert report["deleted_keys"] > 0
    client = redis.Redis.from_url(redis_url)
    try:
        assert list(client.scan_iter(match=f"{report['prefix']}:*", count=1000)) == []
    finally:
        client.close()


def test_skip_names_the_workflows_rows(redis_url: str, prefix: str) -> None:
    assert _args(redis_url, prefix, "--skip", "workflows,http").skip == ["workflows", "http"]
    with pytest.raises(SystemExit):
        _args(redis_url, prefix, "--skip", "workflow")
