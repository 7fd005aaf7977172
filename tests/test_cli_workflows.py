"""``tickr workflows ...`` against a real API server (in a thread) and Redis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers import ThreadedApi, register_api_test_jobs

from tickr_app import Registry, chain, group, sig
from tickr_app.cli import main


def test_workflows_cli_round_trip(
    redis_url: str, prefix: str, home: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = Registry()
    register_api_test_jobs(registry)
    with ThreadedApi(redis_url, prefix=prefix, registry=registry, builtin_jobs=False, workers=2, home=home) as server:
        url = ["--url", server.url]

        def run(*argv: str) -> tuple[int, str, str]:
            code = main(["workflows", *argv, *url])
            out, err = capsys.readouterr()
            return code, out, err

        tree = tmp_path / "wf.json"
        tree.write_bytes(
            orjson.dumps(
                group(sig("echo", {"text": "a"}), sig("echo", {"text": "b"})).then(sig("echo", {"text": "c"})).to_json()
            )
        )
        code, out, err = run("submit", str(tree), "--wait")
        assert code == 0, err
        lines = out.strip().splitlines()
        assert "succeeded\t3 of 3 done" in lines[0] and len(lines) == 4
        wf_id = lines[0].split("\t")[0]
        code, out, _ = run("list")
        assert code == 0 and out.startswith(wf_id)
        code, out, _ = run("show", wf_id, "--json")
        assert orjson.loads(out)["nodes"][2]["result"] == {"echo": "c"}

        body = tmp_path / "body.json"
        body.write_bytes(
            orjson.dumps({"tree": chain(sig("block"), sig("echo", {"text": "x"})).to_json(), "policy": "continue"})
        )
        code, out, _ = run("submit", str(body))
        blocked = out.strip()
        assert code == 0 and len(blocked) == 36
        code, out, _ = run("cancel", blocked)
        assert code == 0 and "\tcancelled\t" in out.splitlines()[0]
        code, _, err = run("cancel", blocked)
        assert code == 1 and len(err.strip().splitlines()) == 1 and "409" in err

        for content, says in (
            (b'{"type": "nope"}', "unknown job type"),
            (b'{"group": []}', "at least one member"),
            (b'{"type": "echo", "payload": {"times": 1}}', "node 0"),
            (b"[1", "not valid JSON"),
            (b"[1]", "JSON object"),
        ):
            tree.write_bytes(content)
            code, out, err = run("submit", str(tree))
            assert code == 1 and out == "" and len(err.strip().splitlines()) == 1 and says in err, err
        code, _, err = run("show", "00000000-0000-4000-8000-000000000000")
        assert code == 1 and "workflow_not_found" in err

        tree.write_bytes(orjson.dumps(chain(sig("echo", {"text": "k"})).to_json()))
        code, out, err = run("submit", str(tree), "--idempotency-key", "nightly-7", "--json")
        assert code == 0, err
        once = orjson.loads(out)  # --json prints the workflow
        code, out, _ = run("submit", str(tree), "--idempotency-key", "nightly-7")
        assert code == 0 and out.strip() == once["id"]
        code, _, err = run("delete", blocked)
        assert code == 0 or "409" in err  # its block node may still be stopping
        code, out, err = run("delete", wf_id)
        assert code == 0 and out.strip() == f"deleted workflow {wf_id}", err
        code, _, err = run("delete", wf_id)
        assert code == 1 and len(err.strip().splitlines()) == 1 and "workflow_not_found" in err
