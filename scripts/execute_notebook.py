"""Run examples/quickstart.ipynb in a real kernel and commit-ready: write it back with its
outputs, so the notebook shows what it does on GitHub without being run.

    python scripts/execute_notebook.py     # TICKR_REDIS_URL, else redis://127.0.0.1:6379

The notebook uses a key prefix of its own and deletes its keys at the end. The outputs are
made machine-neutral before writing: this checkout's path and the kernel's temporary cell files
(tracebacks) are replaced, and the kernelspec stays the generic ``python3``.
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"
CELL_FILE = re.compile(r"/tmp/ipykernel_\d+/\d+\.py")


def neutral(text: str) -> str:
    """No machine-specific paths in what is committed."""
    text = text.replace(str(ROOT) + os.sep, "")
    return CELL_FILE.sub("<notebook cell>", text)


def main() -> int:
    os.environ.setdefault("TICKR_REDIS_URL", "redis://127.0.0.1:6379")
    with tempfile.TemporaryDirectory() as jupyter:
        spec = Path(jupyter) / "kernels" / "tickr-notebook"
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(
            json.dumps(
                {
                    "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                    "display_name": "Python 3 (ipykernel)",
                    "language": "python",
                }
            )
        )
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [jupyter, os.environ.get("JUPYTER_PATH")]))
        nb = nbformat.read(NOTEBOOK, as_version=4)
        metadata = copy.deepcopy(nb.metadata)
        NotebookClient(
            nb,
            kernel_name="tickr-notebook",
            timeout=60,
            startup_timeout=60,
            resources={"metadata": {"path": str(NOTEBOOK.parent)}},
        ).execute()
    nb.metadata = metadata
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = neutral(output["text"])
            for mime, value in output.get("data", {}).items():
                if isinstance(value, str):
                    output["data"][mime] = neutral(value)
    nbformat.write(nb, NOTEBOOK)
    print(f"wrote {NOTEBOOK.relative_to(ROOT)} with its outputs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
