"""The layers (pyproject.toml's import-linter contracts) hold: the core imports nothing above it
and no web, terminal or notebook library; the API and the TUI do not import each other; outside
the core nothing imports the engine's private parts; no import cycles. CI runs ``lint-imports``
as well; this puts the same check in the suite, and shows the tool fails on a broken layer."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from timing import deadline

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))

pytestmark = pytest.mark.skipif(not Path(LINT_IMPORTS).exists(), reason="import-linter is not installed")


def _lint(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", *args], cwd=REPO, capture_output=True, text=True, timeout=deadline(120), check=False
    )


def test_the_contracts_hold() -> None:
    result = _lint()
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_a_broken_layer_fails(tmp_path: Path) -> None:
    """The API does import the core: a contract saying it must not is reported broken."""
    config = tmp_path / "broken.toml"
    config.write_text(
        '[tool.importlinter]\nroot_package = "tickr_app"\n\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "api without core (false on purpose)"\ntype = "forbidden"\n'
        'source_modules = ["tickr_app.api"]\nforbidden_modules = ["tickr_app.core.engine"]\n'
    )
    result = _lint(str(config))
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and "tickr_app.api" in result.stdout
