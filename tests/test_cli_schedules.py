"""``tickr schedules ...`` against a real API server (in a thread) and Redis."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from helpers import ThreadedApi, register_api_test_jobs
from timing import deadline

from tickr_app import Registry
from tickr_app.cli import main


def test_schedules_cli_round_trip(redis_url: str, prefix: str, home: Any, capsys: pytest.CaptureFixture[str]) -> None:
    registry = Registry()
    register_api_test_jobs(registry)
    with ThreadedApi(redis_url, prefix=prefix, registry=registry, builtin_jobs=False, workers=1, home=home) as server:
        url = ["--url", server.url]

        def run(*argv: str) -> tuple[int, str, str]:
            code = main(["schedules", *argv, *url])
            out, err = capsys.readouterr()
            return code, out, err

        code, out, _ = run("add", "digest", "echo", "--cron", "0 9 * * MON-FRI", "--tz", "Europe/Berlin",
                           "--payload", '{"text": "hi"}')  # fmt: skip
        assert code == 0 and out.startswith("digest: next run ")
        code, out, _ = run("add", "fast", "echo", "--every", "1h30m", "--payload", '{"text": "x"}', "--overlap", "skip")
        assert code == 0
        code, out, _ = run("list", "--json")
        listed = {s["id"]: s for s in orjson.loads(out)}
        assert listed["fast"]["every"] == 5400 and listed["fast"]["overlap"] == "skip"
        assert listed["digest"]["tz"] == "Europe/Berlin"
        code, out, _ = run("list")
        assert code == 0 and len(out.strip().splitlines()) == 2 and "cron 0 9 * * MON-FRI (Europe/Berlin)" in out
        code, out, _ = run("show", "digest")
        assert code == 0 and len(out.strip().splitlines()) == 6  # the schedule and its next five runs
        assert run("pause", "digest")[1].strip() == "digest: paused"
        assert run("resume", "digest")[1].strip() == "digest: resumed"
        code, out, _ = run("trigger", "digest")
        job_id = out.strip()
        assert code == 0 and server.run(server.tickr.wait(job_id, timeout=deadline(5))).status == "succeeded"
        assert run("remove", "digest")[0] == 0

        code, out, err = run("remove", "digest")
        assert code == 1 and out == "" and len(err.strip().splitlines()) == 1 and "schedule_not_found" in err
        code, _, err = run("add", "bad", "echo", "--cron", "0 25 * * *", "--payload", '{"text": "x"}')
        assert code == 1 and len(err.strip().splitlines()) == 1 and "cron:" in err and "422" in err
        code, _, err = run("add", "bad", "echo", "--every", "soon")
        assert code == 1 and "cannot read interval" in err
        code, _, err = run("add", "bad", "echo", "--every", "5m", "--payload", "[1]")
        assert code == 1 and "JSON object" in err
