"""``WorkflowsPane``: the workflows on this Redis with their progress (n of m nodes done), and
the selected one's tree: every chain, group and node with the node's status, job type,
duration and error. Keys: ``c`` cancel the workflow (asks first), ``r`` retry its dead and
cancelled nodes, Enter on a node opens its job.

Refreshing follows the other panes (a 0.25 s tick, a list poll every 0.5 s, only while on
screen), but reading one workflow with its nodes costs a Redis call per node: the tree is read
again only when the list shows the workflow moved (or it is still running), and never more often
than ``DETAIL_COST_FACTOR`` times what the last read took, so a 1,000-node fan-in is read a few
times a second at most instead of hogging the loop the jobs run on. The tree itself is capped
(``workflow_outline``): large groups show their telling members and one summary line.
"""

from __future__ import annotations

import logging
import time
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.widgets import DataTable, Static, Tree
from textual.widgets.tree import TreeNode

from ...core.engine import Tickr
from ...core.errors import TickrError
from ...core.workflow_records import WorkflowInfo, WorkflowNode
from ..controller import TuiController
from ..format import duration, now_ms, one_line, progress_bar, short_id
from ..messages import ConfirmRequested, OpenJob
from ..workflow_outline import OutlineItem, counts_text, outline, shape_of
from .job_table import theme_colors
from .pane_commands import PaneCommands

log = logging.getLogger("tickr.tui")

TICK_S = 0.25
POLL_EVERY_S = 0.5
LIST_LIMIT = 50
"""Workflows listed, newest first (the store reads 4× as many summaries to filter: keep it small)."""
DETAIL_COST_FACTOR = 20
"""Reading the selected workflow's nodes again waits at least this many times what the last
read and its drawing took (at most ~5 % of the time goes to it, however large the workflow)."""
COLUMNS = ("Workflow", "Queue", "Status", "Progress", "Done", "Policy", "Age", "Took")
STATUS_STYLE = {
    "succeeded": "success",
    "failed": "error",
    "dead": "error",
    "cancelled": "warning",
    "running": "accent",
    "active": "accent",
}
STATUS_MARK = {
    "succeeded": "✓",
    "dead": "✗",
    "cancelled": "⊘",
    "active": "▶",
    "ready": "○",
    "waiting": "◔",
    "pending": "·",
    "skipped": "-",
}


class WorkflowTree(Tree[OutlineItem]):
    """The selected workflow's nodes (see ``workflow_outline`` for what is shown)."""

    DEFAULT_CSS = """
    WorkflowTree { height: 1fr; border-top: solid $primary 30%; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.show_root = True
        self.auto_expand = False
        self.guide_depth = 3


class WorkflowsPane(Vertical):
    DEFAULT_CSS = """
    WorkflowsPane { height: 1fr; }
    WorkflowsPane > #workflow-table { height: auto; min-height: 3; max-height: 40%; }
    WorkflowsPane > #workflow-detail { height: auto; max-height: 4; padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "cancel_workflow", "Cancel workflow"),
        Binding("r", "retry_workflow", "Retry dead nodes"),
        Binding("D,shift+d", "delete_workflow", "Delete workflow", key_display="D"),
    ]

    def __init__(self, tickr: Tickr, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tickr = tickr
        self.controller = TuiController(tickr)
        self.workflows: list[WorkflowInfo] = []
        self.detail: WorkflowInfo | None = None
        """The selected workflow with its nodes, as last read."""
        self.error: str | None = None
        self.detail_reads = 0
        """How many times a workflow's nodes were read (tests check the cadence)."""
        self._polled_at = 0.0
        self._polling = False
        self._loading: str | None = None
        self._detail_next = 0.0
        self._shape: tuple[tuple[str, ...], ...] = ()
        self._tree_nodes: dict[str, TreeNode[OutlineItem]] = {}
        self._labels: dict[str, Text] = {}
        self._collapsed: set[str] = set()

    def compose(self) -> ComposeResult:
        yield Static(id="workflows-title", classes="pane-title")
        table: DataTable[Any] = DataTable(id="workflow-table", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table
        yield Static(id="workflow-detail")
        yield WorkflowTree(id="workflow-tree")

    def on_mount(self) -> None:
        self._render_title()
        self._draw_detail()
        self.set_interval(TICK_S, self._tick)

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one("#workflow-table", DataTable)

    @property
    def tree(self) -> WorkflowTree:
        return self.query_one(WorkflowTree)

    @property
    def selected(self) -> WorkflowInfo | None:
        table = self.table
        if not self.workflows or table.row_count == 0:
            return None
        row = table.cursor_row
        return self.workflows[row] if 0 <= row < len(self.workflows) else None

    # -- refreshing ------------------------------------------------------------------------

    def refresh_now(self) -> None:
        self._polled_at = 0.0
        self._detail_next = 0.0
        self._tick()

    def _tick(self) -> None:
        if not self.is_on_screen:
            return
        if time.monotonic() - self._polled_at < POLL_EVERY_S or self._polling:
            return
        self._polled_at = time.monotonic()
        self._polling = True
        self._poll()

    @work(exclusive=True, group="poll-workflows", exit_on_error=False)
    async def _poll(self) -> None:
        try:
            self.workflows = await self.tickr.list_workflows(limit=LIST_LIMIT)
            self.error = None
            self._draw_table()
            self._maybe_load_detail()
        except TickrError as exc:  # RedisUnavailable included: the facade lets nothing else out
            self.error = f"{exc.message}"[:120]
            self._render_title()
        except NoMatches:
            return  # closing
        except Exception as exc:  # a bug must not stop the dashboard
            log.exception("refreshing the workflows failed")
            self.error = f"refresh failed: {type(exc).__name__}: {exc}"[:120]
            self._render_title()
        finally:
            self._polling = False

    def _maybe_load_detail(self, *, force: bool = False) -> None:
        """Read the selected workflow's nodes if the list shows it moved (or it runs) and the
        last read is old enough for its cost."""
        summary = self.selected
        if summary is None:
            if self.detail is not None:
                self.detail = None
                self._draw_tree()
            return
        d = self.detail
        if self._loading == summary.id and not force:
            return  # a read is under way
        if not force and d is not None and d.id == summary.id:
            moved = (d.status, d.done, d.finished_at) != (summary.status, summary.done, summary.finished_at)
            if not moved and summary.is_final:
                return
            if time.monotonic() < self._detail_next:
                return
        self._loading = summary.id
        self._load_detail(summary.id)

    @work(exclusive=True, group="workflow-detail", exit_on_error=False)
    async def _load_detail(self, workflow_id: str) -> None:
        started = time.perf_counter()
        try:
            info = await self.tickr.get_workflow(workflow_id)
        except TickrError as exc:  # gone (expired) or Redis down: say so, keep the last tree
            self.error = exc.message[:120]
            self._render_title()
            return
        finally:
            if self._loading == workflow_id:
                self._loading = None
        self.detail_reads += 1
        selected = self.selected
        if selected is None or selected.id == workflow_id:  # else the cursor moved on meanwhile
            self.detail = info
            try:
                self._draw_tree()
                self._draw_detail()
            except NoMatches:
                return  # closing
        cost = time.perf_counter() - started  # the read and the drawing
        self._detail_next = time.monotonic() + max(POLL_EVERY_S, DETAIL_COST_FACTOR * cost)

    # -- drawing ---------------------------------------------------------------------------

    def _render_title(self) -> None:
        n = len(self.workflows)
        running = sum(1 for w in self.workflows if w.status == "running")
        title = Text.assemble(
            ("Workflows", "bold"),
            f"  {n} listed, {running} running   ",
            ("c", "bold"), " cancel  ", ("r", "bold"), " retry dead nodes  ", ("D", "bold"), " delete  ",
            ("enter", "bold"), " node's job",
        )  # fmt: skip
        if self.error:
            title.append(f"   {self.error}", style=theme_colors(self.app).get("error", ""))
        title.no_wrap, title.overflow = True, "ellipsis"
        self.query_one("#workflows-title", Static).update(title, layout=False)

    def _draw_table(self) -> None:
        self._render_title()
        table = self.table
        now = now_ms()
        colors = theme_colors(self.app)
        ids = [w.id for w in self.workflows]
        current = [str(k.value) for k in table.rows]
        if ids != current:
            chosen = self.selected.id if self.selected is not None and current else None
            table.clear()
            for w in self.workflows:
                table.add_row(*self._cells(w, now, colors), key=w.id)
            if table.row_count:
                row = ids.index(chosen) if chosen in ids else 0
                table.move_cursor(row=row)
        else:
            for w in self.workflows:
                for col, cell in zip(table.columns, self._cells(w, now, colors)):
                    table.update_cell(w.id, col, cell, update_width=True)
        self._draw_detail()

    def _cells(self, w: WorkflowInfo, now: int, colors: dict[str, str]) -> list[Any]:
        style = colors.get(STATUS_STYLE.get(w.status, ""), "")
        end = w.finished_at or now
        return [
            Text(short_id(w.id), style=colors.get("accent", "")),
            w.queue,
            Text(w.status, style=style),
            progress_bar(100.0 * w.done / w.total if w.total else 0.0, colors.get("success", "")),
            f"{w.done:,} of {w.total:,}",
            w.policy,
            duration((now - w.created_at) / 1000),
            duration((end - w.created_at) / 1000) if w.finished_at else "",
        ]

    def _draw_detail(self) -> None:
        w = self.selected
        line = self.query_one("#workflow-detail", Static)
        if w is None:
            line.update(
                Text(
                    "No workflows yet: submit one with Tickr.submit_workflow(...), "
                    "POST /api/v1/workflows or tickr workflows submit FILE.json.",
                    style="dim",
                )
            )
            return
        text = Text(f"{w.id} · queue {w.queue} · policy {w.policy} · {w.done:,} of {w.total:,} nodes done")
        if w.error:
            where = f"node {w.failed_node}: " if w.failed_node is not None else ""
            text.append(f"\n{where}{one_line(w.error, 200)}", style=theme_colors(self.app).get("error", ""))
        line.update(text)

    def _label(self, item: OutlineItem, now: int, colors: dict[str, str]) -> Text:
        if item.kind == "more":
            return Text(f"… {item.size:,} more: {counts_text(item.counts)}", style="dim")
        if item.kind in ("chain", "group"):
            noun = "steps" if item.kind == "chain" else "members"
            text = Text.assemble((item.kind, "bold"), f" · {item.size:,} {noun} · ")
            self._append_counts(text, item, colors)
            return text
        return self._node_label(item.node, now, colors) if item.node is not None else Text("?")

    @staticmethod
    def _append_counts(text: Text, item: OutlineItem, colors: dict[str, str]) -> None:
        first = True
        for status in ("dead", "cancelled", "active", "waiting", "ready", "pending", "skipped", "succeeded"):
            n = item.counts.get(status)
            if not n:
                continue
            if not first:
                text.append(", ")
            first = False
            text.append(f"{n:,} {status}", style=colors.get(STATUS_STYLE.get(status, ""), ""))

    @staticmethod
    def _node_label(node: WorkflowNode, now: int, colors: dict[str, str]) -> Text:
        style = colors.get(STATUS_STYLE.get(node.status, ""), "")
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{STATUS_MARK.get(node.status, '?')} ", style=style)
        text.append(f"#{node.index} {node.name}", style="bold")
        if node.name != node.type:
            text.append(f" ({node.type})", style="dim")
        text.append("  ")
        text.append(node.status, style=style)
        took = node.duration_ms
        if took is not None:
            text.append(f"  {duration(took / 1000)}")
        elif node.status == "active" and node.started_at:
            text.append(f"  running {duration((now - node.started_at) / 1000)}")
        if node.attempts > 1:
            text.append(f"  attempt {node.attempts}", style="dim")
        if node.error and node.status in ("dead", "cancelled", "waiting") and node.error != node.status:
            text.append(f"  {one_line(node.error, 120)}", style=colors.get("error", ""))
        return text

    def _draw_tree(self) -> None:
        tree = self.tree
        info = self.detail
        if info is None:
            if self._shape:
                tree.clear()
                tree.root.set_label("")
                self._shape, self._tree_nodes, self._labels = (), {}, {}
            return
        now = now_ms()
        colors = theme_colors(self.app)
        root = outline(info)
        shape = (info.id, *shape_of(root))
        labels = {item.key: self._label(item, now, colors) for item in root.walk()}
        root_label = Text.assemble((f"workflow {short_id(info.id)} ", "bold"), labels[root.key])
        labels[root.key] = root_label
        if shape == self._shape:
            for key, label in labels.items():
                if self._labels.get(key) != label:
                    self._tree_nodes[key].set_label(label)
            self._labels = labels
            return
        cursor = tree.cursor_node
        cursor_key = cursor.data.key if cursor is not None and cursor.data is not None else None
        if self._shape and self._shape[0] != info.id:
            self._collapsed.clear()
            cursor_key = None
        tree.clear()
        tree.root.set_label(root_label)
        tree.root.data = root
        nodes: dict[str, TreeNode[OutlineItem]] = {root.key: tree.root}

        def add(parent: TreeNode[OutlineItem], item: OutlineItem) -> None:
            for child in item.children:
                if child.children:
                    branch = parent.add(labels[child.key], data=child, expand=child.key not in self._collapsed)
                    nodes[child.key] = branch
                    add(branch, child)
                else:
                    nodes[child.key] = parent.add_leaf(labels[child.key], data=child)

        add(tree.root, root)
        tree.root.expand()
        self._shape, self._tree_nodes, self._labels = shape, nodes, labels
        target = nodes.get(cursor_key) if cursor_key is not None else None
        if target is not None:
            _ = tree.last_line  # lays the lines out, so the node knows its line
            tree.move_cursor(target)

    # -- tree events -----------------------------------------------------------------------

    @on(Tree.NodeCollapsed)
    def _collapsed_node(self, event: Tree.NodeCollapsed[OutlineItem]) -> None:
        if event.node.data is not None:
            self._collapsed.add(event.node.data.key)

    @on(Tree.NodeExpanded)
    def _expanded_node(self, event: Tree.NodeExpanded[OutlineItem]) -> None:
        if event.node.data is not None:
            self._collapsed.discard(event.node.data.key)

    @on(Tree.NodeSelected)
    def _open_node(self, event: Tree.NodeSelected[OutlineItem]) -> None:
        item = event.node.data
        if item is None or item.node is None:
            if event.node.allow_expand:
                event.node.toggle()
            return
        node = item.node
        if node.status in ("pending", "skipped") and node.started_at is None and node.attempts == 0:
            self.notify(f"Node #{node.index} has no job yet ({node.status}).", severity="warning")
            return
        self.post_message(OpenJob(node.job_id))

    @on(DataTable.RowHighlighted, "#workflow-table")
    def _row_changed(self, event: DataTable.RowHighlighted) -> None:
        self._draw_detail()
        chosen = str(event.row_key.value)
        if (self.detail is None or self.detail.id != chosen) and self._loading != chosen:
            self._maybe_load_detail(force=True)

    # -- commands --------------------------------------------------------------------------

    def _selected_or_warn(self) -> WorkflowInfo | None:
        w = self.selected
        if w is None:
            self.notify("No workflow selected.", severity="warning")
        return w

    def _command(self, title: str, call: Any) -> None:
        async def run() -> None:
            try:
                message = await call()
            except TickrError as exc:  # WrongState ("nothing to retry"), RedisUnavailable...
                self.notify(exc.message, title=title, severity="error")
                return
            self.notify(message, title=title)
            self.refresh_now()

        self.run_worker(run(), group="workflow-commands", exit_on_error=False)

    def action_cancel_workflow(self) -> None:
        w = self._selected_or_warn()
        if w is None:
            return
        if w.is_final:
            self.notify(f"Workflow {short_id(w.id)} has already ended ({w.status}).", severity="warning")
            return
        self.post_message(
            ConfirmRequested(
                "Cancel workflow?",
                f"Cancel workflow {short_id(w.id)} ({w.done:,} of {w.total:,} done)? Nodes not started are "
                "skipped, running ones are asked to stop; r retries it later.",
                "Cancel workflow",
                lambda: self._command("Cancel workflow", lambda: self.controller.cancel_workflow(w.id)),
            )
        )

    def action_retry_workflow(self) -> None:
        w = self._selected_or_warn()
        if w is not None:
            self._command("Retry workflow", lambda: self.controller.retry_workflow(w.id))

    def action_delete_workflow(self) -> None:
        w = self._selected_or_warn()
        if w is None:
            return
        if not w.is_final:
            self.notify(f"Workflow {short_id(w.id)} is running: cancel it first (c).", severity="warning")
            return
        self.post_message(
            ConfirmRequested(
                "Delete workflow?",
                f"Delete workflow {short_id(w.id)} ({w.status}, {w.done:,} of {w.total:,} done) and its "
                "node jobs' records? It cannot be retried afterwards.",
                "Delete workflow",
                lambda: self._command("Delete workflow", lambda: self.controller.delete_workflow(w.id)),
            )
        )


class WorkflowCommands(PaneCommands):
    """The Workflows pane's keys in the command palette, offered while that pane is shown."""

    PANE = "workflows"
    PANE_TYPE = WorkflowsPane
    COMMANDS: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("Cancel workflow", "action_cancel_workflow", "Cancel the selected workflow, asking first (c)"),
        (
            "Retry workflow's dead nodes",
            "action_retry_workflow",
            "Run the selected workflow's dead and cancelled nodes again (r)",
        ),
        ("Delete workflow", "action_delete_workflow", "Delete the selected ended workflow, asking first (D)"),
    )
