"""Notebook use: ``examples/quickstart.ipynb`` runs in a real Jupyter kernel (nbclient +
ipykernel), failing on any cell error; and the rich displays (``_repr_html_``, IPython text)
of jobs, queue stats and worker processes escape what they show."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from timing import deadline

from tickr_app import Job, JobContext, Tickr
from tickr_app.core.broker import QueueStats, WorkerInfo
from tickr_app.core.reprs import JobList, StatsReport, WorkerList

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "examples" / "quickstart.ipynb"
HOSTILE = "<script>alert('x')</script>&"


# -- the notebook, in a real kernel ----------------------------------------------------------


@pytest.fixture
def kernel_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec that runs this interpreter (the venv with Tickr installed), found first on
    JUPYTER_PATH, so the test never depends on which ``python3`` kernel the machine has."""
    spec = tmp_path / "jupyter" / "kernels" / "tickr-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Tickr test kernel",
        "language": "python",
    }))
    monkeypatch.setenv("JUPYTER_PATH", os.pathsep.join(filter(None, [str(tmp_path / "jupyter"), os.environ.get("JUPYTER_PATH")])))
    return "tickr-test"


def run_notebook(kernel_name: str) -> Any:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=kernel_name,
        timeout=deadline(60),  # per cell
        startup_timeout=deadline(60),
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    return nb


def outputs(nb: Any, mime: str) -> list[str]:
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and mime == "text/plain":
                found.append(out.get("text", ""))
            data = out.get("data", {})
            if mime in data:
                found.append(data[mime])
    return found


def check_outputs(nb: Any) -> str:
    """What every run must show; returns the key prefix the notebook used."""
    text = "\n".join(outputs(nb, "text/plain"))
    html = "\n".join(outputs(nb, "text/html"))
    match = re.search(r"key prefix: (quickstart-[0-9a-f]{8})", text)
    assert match, text
    assert "progress seen:" in text and "words" in text
    assert "text: String should have at least 1 character" in text
    assert 'class="tickr-job"' in html and "succeeded" in html  # Job cards
    assert "worker process" in html and "processed" in html  # worker list and stats tables
    # The dead job's payload and error are shown escaped, never as live markup.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html
    return match.group(1)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_quickstart_notebook_runs_on_the_configured_redis(
    kernel_name: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With TICKR_REDIS_URL set (CI: the local Redis), the notebook uses it under a prefix of
    its own and deletes its keys at the end."""
    monkeypatch.setenv("TICKR_REDIS_URL", redis_url)
    started = time.monotonic()
    nb = run_notebook(kernel_name)
    elapsed = time.monotonic() - started
    prefix = check_outputs(nb)
    assert "deleted" in "\n".join(outputs(nb, "text/plain"))
    client = redis.Redis.from_url(redis_url)
    try:
        left = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    finally:
        client.close()
    assert left == [], f"the notebook left keys behind: {left[:10]}"
    # No cell waits on a timer it should not (e.g. a wait() that only ends on its timeout):
    # 30 s on a quiet machine, scaled on a slow one.
    assert elapsed < deadline(30), f"the quickstart took {elapsed:.1f} s"


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_quickstart_notebook_runs_on_the_embedded_redis(kernel_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without TICKR_REDIS_URL the notebook starts the embedded Redis in a temporary folder
    and removes it at the end."""
    monkeypatch.delenv("TICKR_REDIS_URL", raising=False)
    nb = run_notebook(kernel_name)
    check_outputs(nb)
    text = "\n".join(outputs(nb, "text/plain"))
    home = re.search(r"embedded, data in (\S+)", text)
    assert home, text
    assert not Path(home.group(1)).exists(), "the notebook's embedded Redis folder was not removed"


# -- Tickr.start, both ways ------------------------------------------------------------------


async def test_start_is_a_classmethod_and_an_instance_method(redis_url: str, prefix: str, home: Path) -> None:
    t = await Tickr.start(redis_url, prefix=prefix, home=home, workers=0, builtin_jobs=False)
    try:
        assert isinstance(t, Tickr) and t.running
        assert "running" in repr(t) and prefix in repr(t)
        assert await t.start() is t  # already started: the same engine
    finally:
        await t.stop()
    assert "stopped" in repr(t)
    u = Tickr(redis_url, prefix=prefix, home=home, workers=0, builtin_jobs=False)
    try:
        assert await Tickr.start(u) is u  # unbound call on an instance still starts that instance
        assert u.running
    finally:
        await u.stop()


async def test_engine_results_display_as_tables(make_tickr: Any, registry: Any) -> None:
    @registry.job("hostile")
    async def hostile(payload: dict, ctx: JobContext) -> dict:
        await ctx.progress(50, HOSTILE)
        return {"echo": HOSTILE}

    t = await make_tickr(workers=1)
    job = await t.submit("hostile", {"x": HOSTILE})
    done = await t.wait(job.id, timeout=deadline(10))
    stats = await t.stats()
    assert isinstance(stats, StatsReport) and isinstance(stats, dict) and "default" in stats
    listed = await t.list_jobs("default", "succeeded")
    assert isinstance(listed, JobList) and [j.id for j in listed] == [job.id]
    workers = await t.worker_processes()
    assert isinstance(workers, WorkerList) and workers[0].id == t.worker_id
    for obj in (done, stats, listed, workers, stats["default"], workers[0]):
        html = obj._repr_html_()
        assert "<script>" not in html, type(obj)
        assert html.startswith("<")
    assert "&lt;script&gt;" in done._repr_html_()
    assert "&lt;script&gt;" in listed._repr_html_()


# -- the displays themselves -----------------------------------------------------------------


def make_job(**overrides: Any) -> Job:
    fields: dict[str, Any] = dict(
        id="0b6f3c2e-1111-4222-8333-444455556666", type="resize", queue="default", status="dead",
        payload={"url": HOSTILE, "n": 1}, attempts=5, max_attempts=5, created_at=1_700_000_000_000,
        due_at=1_700_000_000_000, started_at=1_700_000_001_000, finished_at=1_700_000_002_500,
        progress=40.0, progress_message=HOSTILE, result=None, error=f"ValueError: {HOSTILE}",
        traceback=f"Traceback (most recent call last):\n  {HOSTILE}\nValueError", worker="host:1:abc",
    )
    fields.update(overrides)
    return Job(**fields)


def test_job_html_escapes_everything_and_shows_the_essentials() -> None:
    html = make_job()._repr_html_()
    assert "<script>" not in html and "alert('x')" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;" in html
    for part in ("0b6f3c2e-1111-4222-8333-444455556666", "resize", "dead", "5/5", "<progress", "<details>", "took 1.5 s"):
        assert part in html, part


def test_job_html_escapes_type_queue_and_result() -> None:
    job = make_job(type=HOSTILE, queue=HOSTILE, status="succeeded", result={HOSTILE: [HOSTILE]}, error=None, traceback=None)
    html = job._repr_html_()
    assert "<script>" not in html
    assert html.count("&lt;script&gt;") >= 4


def test_text_reprs_are_readable(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from IPython.lib.pretty import pretty

    from tickr_app.core import reprs

    # One instant for every repr below: "heartbeat N ms ago" read twice must say the same N,
    # however slowly this host gets from one repr to the next.
    now_s = time.time()
    monkeypatch.setattr(reprs, "time", SimpleNamespace(time=lambda: now_s))

    text = pretty(make_job(status="succeeded", result={"ok": True}, error=None, traceback=None))
    assert text.splitlines()[0].startswith("Job 0b6f3c2e-1111-4222-8333-444455556666 resize [succeeded]")
    assert 'result   {"ok":true}' in text
    stats = StatsReport(default=QueueStats("default", ready=3, waiting=2, processed=10), mail=QueueStats("mail", paused=True))
    table = pretty(stats)
    assert table.splitlines()[0].split()[:3] == ["queue", "ready", "waiting"]
    assert "mail (paused)" in table
    assert pretty(stats["default"]).splitlines()[1].split()[:4] == ["default", "3", "2", "0"]
    now = int(now_s * 1000)
    worker = WorkerInfo("h:1:a", "h", 1, ["default"], 5, 2, False, now - 60_000, now, [])
    assert pretty(worker).startswith("worker h:1:a on h pid 1: 2/5 busy")
    assert pretty(WorkerList([worker])) == pretty(worker)
    assert pretty(WorkerList()) == "no live worker processes"
    assert pretty(JobList()) == "no jobs"


def test_stats_and_worker_html_escape_names() -> None:
    stats = StatsReport({HOSTILE: QueueStats(HOSTILE, paused=True, by_type={HOSTILE: {"processed": 1}})})
    for html in (stats._repr_html_(), stats[HOSTILE]._repr_html_()):
        assert "<script>" not in html and "&lt;script&gt;" in html
    assert "paused" in stats._repr_html_()
    worker = WorkerInfo(HOSTILE, HOSTILE, 1, [HOSTILE], 5, 0, True, 0, 0, [])
    for html in (worker._repr_html_(), WorkerList([worker])._repr_html_()):
        assert "<script>" not in html and "&lt;script&gt;" in html
    assert StatsReport() == {} and StatsReport()._repr_html_() == "<p><i>no queues</i></p>"


def test_the_committed_quickstart_shows_its_outputs_and_nothing_of_the_machine_it_ran_on() -> None:
    """Committed executed (scripts/execute_notebook.py), so it reads on GitHub without a run."""
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(cell.get("execution_count") for cell in code), "every code cell was run"
    check_outputs(nb)
    raw = NOTEBOOK.read_text()
    for leak in (str(REPO), "/tmp/ipykernel_", os.path.expanduser("~") + "/", "/15"):
        assert leak not in raw, f"machine-specific {leak!r} in the committed notebook"
    assert nb.metadata["kernelspec"]["name"] == "python3"
