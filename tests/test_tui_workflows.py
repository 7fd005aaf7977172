"""The Workflows pane driven with Pilot against a real engine on a real Redis: progress in the
list, the tree with node statuses and a dead node's error, cancel (asks first) and retry of the
dead nodes; and the outline that keeps a 1,000-wide fan-in to a few dozen tree lines."""

from __future__ import annotations

import asyncio
import html
from collections import Counter

from conftest import TickrFactory
from helpers import pilot_wait_for as wait_for
from helpers import run_palette_command
from pydantic import BaseModel
from textual.widgets import Static
from timing import deadline

from tickr_app import JobContext, PermanentError, Registry
from tickr_app.core.workflow_records import WorkflowInfo, WorkflowNode
from tickr_app.core.workflows import chain, group, sig
from tickr_app.tui import TickrApp
from tickr_app.tui.screens.confirm import ConfirmScreen
from tickr_app.tui.screens.job_detail import JobDetailScreen
from tickr_app.tui.widgets.workflows_pane import WorkflowsPane
from tickr_app.tui.workflow_outline import CAP, MAX_LINES, counts_text, outline

SIZE = (130, 40)


class Num(BaseModel):
    n: int = 0


def register(registry: Registry) -> tuple[asyncio.Event, asyncio.Event]:
    """``add`` adds to the previous result; ``boom`` fails until ``fixed`` is set; ``gate``
    holds until ``open`` is set."""
    fixed, opened = asyncio.Event(), asyncio.Event()

    @registry.job("add", max_attempts=1)
    async def add(p: Num, ctx: JobContext) -> int:
        prev = ctx.previous
        return (sum(prev) if isinstance(prev, list) else prev or 0) + p.n

    @registry.job("boom", max_attempts=1)
    async def boom(p: Num) -> int:
        if not fixed.is_set():
            raise PermanentError(f"boom {p.n}")
        return p.n

    @registry.job("gate", max_attempts=1)
    async def gate(p: Num) -> int:
        await opened.wait()
        return p.n

    return fixed, opened


def tree_text(pane: WorkflowsPane) -> str:
    lines: list[str] = []

    def walk(node: object) -> None:
        lines.append(str(node.label))  # type: ignore[attr-defined]
        for child in node.children:  # type: ignore[attr-defined]
            walk(child)

    walk(pane.tree.root)
    return "\n".join(lines)


def node_job_ids(pane: WorkflowsPane) -> list[str]:
    assert pane.detail is not None
    return [n.job_id for n in pane.detail.nodes]


def row_of(pane: WorkflowsPane, workflow_id: str) -> list[str]:
    return [str(c) for c in pane.table.get_row(workflow_id)]


async def select(pilot: object, pane: WorkflowsPane, workflow_id: str) -> None:
    """Move the table's cursor to the workflow and wait for its tree."""
    await wait_for(pilot, lambda: workflow_id in [str(k.value) for k in pane.table.rows], "the workflow listed")
    pane.table.move_cursor(row=[str(k.value) for k in pane.table.rows].index(workflow_id))
    await wait_for(pilot, lambda: pane.detail is not None and pane.detail.id == workflow_id, "its tree")


async def test_pane_shows_progress_tree_error_and_retries_dead_nodes(
    make_tickr: TickrFactory, registry: Registry
) -> None:
    fixed, opened = register(registry)
    tickr = await make_tickr(workers=4)
    failed = await tickr.submit_workflow(chain(sig("add", {"n": 1}), sig("boom", {"n": 7}), sig("add", {"n": 5})))
    await tickr.wait_workflow(failed.id, timeout=deadline(10))
    held = await tickr.submit_workflow(
        group(sig("add", {"n": 1}), sig("add", {"n": 2}), sig("gate", {"n": 3})).then(sig("add", name="merge"))
    )
    app = TickrApp(tickr)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("5")
            assert app.pane == "workflows"
            pane = app.query_one(WorkflowsPane)
            await wait_for(pilot, lambda: pane.table.row_count == 2, "both workflows listed")
            await wait_for(pilot, lambda: row_of(pane, held.id)[4] == "2 of 4", "the running one at 2 of 4 done")
            assert row_of(pane, held.id)[2] == "running" and "50%" in row_of(pane, held.id)[3]
            assert row_of(pane, failed.id)[2] == "failed" and row_of(pane, failed.id)[4] == "1 of 3"

            await select(pilot, pane, held.id)
            await wait_for(pilot, lambda: "▶ #2 gate  active" in tree_text(pane), "the gate node shown running")
            text = tree_text(pane)
            assert "group · 3 members" in text and "#0 add  succeeded" in text
            assert "#3 merge (add)  pending" in text

            await select(pilot, pane, failed.id)
            await wait_for(pilot, lambda: "✗ #1 boom  dead" in tree_text(pane), "the dead node")
            text = tree_text(pane)
            assert "boom 7" in text and "#2 add  skipped" in text and "1 dead" in text
            detail = str(pane.query_one("#workflow-detail", Static).content)
            assert "node 1: " in detail and "boom 7" in detail

            pane.tree.focus()  # Enter on a node opens its job
            dead = next(n for n in pane._tree_nodes.values() if n.data and n.data.key == "n1")
            pane.tree.move_cursor(dead)
            await pilot.press("enter")
            screen = await wait_for(
                pilot, lambda: app.screen if isinstance(app.screen, JobDetailScreen) else None, "the job"
            )
            assert screen.job_id == node_job_ids(pane)[1]
            await wait_for(  # the job says which workflow and node it is
                pilot,
                lambda: f"{failed.id}  node 1" in html.unescape(app.export_screenshot()).replace("\xa0", " "),
                "the job's workflow shown",
            )
            await pilot.press("escape")

            fixed.set()
            pane.table.focus()
            await pilot.press("r")  # retry the dead nodes: the workflow resumes and ends well
            done = await tickr.wait_workflow(failed.id, timeout=deadline(10))
            assert done.status == "succeeded" and done.result == 12
            await wait_for(pilot, lambda: row_of(pane, failed.id)[2] == "succeeded", "succeeded shown")
            await wait_for(pilot, lambda: "#2 add  succeeded" in tree_text(pane), "the tree follows")
    finally:
        opened.set()


async def test_cancel_asks_first_then_cancels(make_tickr: TickrFactory, registry: Registry) -> None:
    _fixed, opened = register(registry)
    tickr = await make_tickr(workers=2)
    wf = await tickr.submit_workflow(chain(sig("gate", {"n": 1}), sig("add", {"n": 1})))
    app = TickrApp(tickr)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("5")
            pane = app.query_one(WorkflowsPane)
            await select(pilot, pane, wf.id)
            pane.tree.focus()  # the keys work from the tree too
            await pilot.press("c")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
            await pilot.press("n")  # changed my mind
            assert not isinstance(app.screen, ConfirmScreen)
            assert (await tickr.get_workflow(wf.id)).status == "running"
            await run_palette_command(pilot, "cancel workflow", expect="cancel workflow")  # the palette asks too
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question again")
            await pilot.press("y")
            done = await tickr.wait_workflow(wf.id, timeout=deadline(10))
            assert done.status == "cancelled"
            await wait_for(pilot, lambda: row_of(pane, wf.id)[2] == "cancelled", "cancelled shown")
            await wait_for(pilot, lambda: "#1 add  skipped" in tree_text(pane), "the next step skipped")

            async def stopped() -> bool:  # the running gate node has stopped as asked
                return (await tickr.get_workflow(wf.id)).nodes[0].status == "cancelled"

            await wait_for(pilot, stopped, "the gate stopped")
            pane.table.focus()
            await pilot.press("D")  # delete asks first too
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the delete question")
            await pilot.press("y")
            await wait_for(pilot, lambda: wf.id not in [str(k.value) for k in pane.table.rows], "the row gone")
            assert [w.id for w in await tickr.list_workflows()] == []
    finally:
        opened.set()


async def test_large_fan_in_tree_is_capped(make_tickr: TickrFactory, registry: Registry) -> None:
    register(registry)
    tickr = await make_tickr(workers=0)  # nothing runs: 1,000 ready members and a pending merge
    wf = await tickr.submit_workflow(group(*[sig("add", {"n": i}) for i in range(1000)]).then(sig("add")))
    app = TickrApp(tickr)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        pane = app.query_one(WorkflowsPane)
        await select(pilot, pane, wf.id)
        text = tree_text(pane)
        assert "group · 1,000 members · 1,000 ready" in text
        assert "… 980 more: 980 ready" in text
        assert "#1000 add  pending" in text
        assert len(text.splitlines()) < 30
        reads = pane.detail_reads
        await pilot.pause(1.5)  # nothing moves: the list poll goes on, the nodes are read at most twice more
        assert pane.detail_reads - reads <= 4


def _info(statuses: list[str]) -> WorkflowInfo:
    nodes = [
        WorkflowNode(index=i, name="add", type="add", job_id=f"j{i}", status=s, parents=[], children=[])  # type: ignore[arg-type]
        for i, s in enumerate(statuses)
    ]
    n = len(statuses)
    return WorkflowInfo(
        id="w",
        queue="default",
        status="running",
        policy="continue",
        total=n,
        done=statuses.count("succeeded"),
        created_at=0,
        shape={"chain": [{"group": list(range(n - 1))}, n - 1]},
        nodes=nodes,
    )


def test_outline_keeps_the_telling_members_and_counts_the_rest() -> None:
    statuses = ["succeeded"] * 1000 + ["pending"]
    for i in (10, 500, 990):
        statuses[i] = "dead"
    statuses[700] = "active"
    root = outline(_info(statuses))
    group_line = root.children[0]
    assert group_line.kind == "group" and group_line.size == 1000
    shown = [c.node.index for c in group_line.children if c.node is not None]
    assert {10, 500, 700, 990} <= set(shown)
    assert shown == sorted(shown) and len(shown) == CAP
    more = group_line.children[-1]
    assert more.kind == "more" and more.size == 1000 - CAP
    assert more.counts == Counter({"succeeded": 1000 - CAP})
    assert group_line.counts == Counter({"succeeded": 996, "dead": 3, "active": 1})
    assert counts_text(root.counts) == "3 dead, 1 active, 1 pending, 996 succeeded"


def test_outline_stops_at_max_lines() -> None:
    shape = {"group": [{"chain": list(range(i * 40, i * 40 + 40))} for i in range(40)]}
    info = _info(["ready"] * 1600)
    info.shape = shape
    root = outline(info)
    lines = root.walk()
    assert MAX_LINES - 5 <= len(lines) <= MAX_LINES + 3  # a summary line per level may overshoot
    assert (
        sum(sum(line.counts.values()) for line in lines if line.kind == "more")
        + sum(1 for line in lines if line.kind == "node")
        == 1600
    )  # every node is shown or counted in a summary
