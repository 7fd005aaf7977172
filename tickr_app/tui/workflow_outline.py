"""The tree of one workflow as the Workflows pane draws it, without Textual (testable alone).

A workflow may have thousands of nodes (a 1,000-wide fan-in is one group of 1,000); a tree
widget with a line per node would be built again on every refresh and bury the one dead node.
So a chain or group with more than ``CAP`` children shows the most telling ones (dead and
cancelled first, then running, then waiting ones, in tree order) and one summary line for the
rest ("… 975 more: 970 succeeded, 5 pending"), and the whole outline stops at ``MAX_LINES``
lines. Every container also carries the status counts of all the nodes under it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from ..core.workflow_records import WorkflowInfo, WorkflowNode

CAP = 20
"""Children shown per chain or group; the rest are summarised on one line."""
MAX_LINES = 300
"""Lines in the whole outline, whatever the nesting."""

RANK: dict[str, int] = {
    "dead": 0,
    "cancelled": 1,
    "active": 2,
    "waiting": 3,
    "ready": 4,
    "pending": 5,
    "skipped": 6,
    "succeeded": 7,
}
"""How much a status tells about where a workflow stands (lower first)."""
ORDER = tuple(sorted(RANK, key=RANK.__getitem__))

Kind = Literal["chain", "group", "node", "more"]


@dataclass(slots=True)
class OutlineItem:
    """One line of the outline: a chain, a group, a node, or a summary of hidden children."""

    key: str
    """Stable across refreshes while the tree's shape is the same: ``n3`` for node 3, ``c0.1``
    for a container by its path, ``m0.1`` for the summary under that container."""
    kind: Kind
    node: WorkflowNode | None = None
    counts: Counter[str] = field(default_factory=Counter)
    """Statuses of every node under this line (one for a node, the hidden ones for ``more``)."""
    children: list[OutlineItem] = field(default_factory=list)
    size: int = 0
    """Direct children of a chain or group (all of them, shown or not)."""
    rank: int = 9
    """The most telling status under this line (``RANK``)."""

    def walk(self) -> list[OutlineItem]:
        out = [self]
        for child in self.children:
            out.extend(child.walk())
        return out


def counts_text(counts: Counter[str]) -> str:
    """``950 succeeded, 40 active, 10 dead`` in the order of ``RANK`` (most telling first)."""
    return ", ".join(f"{counts[s]:,} {s}" for s in ORDER if counts.get(s)) or "empty"


def outline(info: WorkflowInfo, *, cap: int = CAP, max_lines: int = MAX_LINES) -> OutlineItem:
    """The outline of ``info`` (read with its nodes): the root is the tree's top chain or group
    (or its only node)."""
    nodes = {n.index: n for n in info.nodes}
    shape = info.shape if info.shape is not None else {"chain": [n.index for n in info.nodes]}
    budget = [max_lines]

    def full(part: object, path: str) -> OutlineItem:
        """Every line of ``part``, before capping (counts need every node anyway)."""
        if isinstance(part, int):
            node = nodes.get(part)
            status = node.status if node is not None else "pending"
            return OutlineItem(f"n{part}", "node", node, Counter((status,)), rank=RANK.get(status, 9))
        assert isinstance(part, dict)
        kind: Kind = "group" if "group" in part else "chain"
        members = part.get(kind) or []
        children = [full(m, f"{path}.{i}") for i, m in enumerate(members)]
        total = _counts(children)
        rank = min((c.rank for c in children), default=9)
        return OutlineItem(f"c{path}", kind, None, total, children, len(children), rank)

    def cut(item: OutlineItem) -> None:
        """Keep at most ``cap`` children, the most telling first while the line budget lasts;
        summarise the rest on one line."""
        budget[0] -= 1
        if item.kind not in ("chain", "group") or not item.children:
            return
        children = item.children
        telling = sorted(range(len(children)), key=lambda i: (children[i].rank, i))[:cap]
        kept: list[int] = []
        for i in telling:
            if budget[0] <= 1:  # one line stays for the summary
                break
            cut(children[i])
            kept.append(i)
        if len(kept) == len(children):
            return
        kept_set = set(kept)
        hidden = _counts([c for i, c in enumerate(children) if i not in kept_set])
        more = OutlineItem(f"m{item.key[1:]}", "more", None, hidden, [], len(children) - len(kept), 9)
        item.children = [*(children[i] for i in sorted(kept)), more]
        budget[0] -= 1

    root = full(shape, "0")
    cut(root)
    return root


def _status(item: OutlineItem) -> str:
    return item.node.status if item.node is not None else "pending"


def _counts(items: list[OutlineItem]) -> Counter[str]:
    """Statuses under ``items``: leaves counted in one C loop, nested containers merged."""
    total = Counter(_status(c) for c in items if c.kind == "node")
    for c in items:
        if c.kind != "node":
            total.update(c.counts)
    return total


def shape_of(root: OutlineItem) -> tuple[tuple[str, ...], ...]:
    """Which lines exist under which: equal shapes can be updated in place, label by label."""
    return tuple((item.key, *(c.key for c in item.children)) for item in root.walk())
