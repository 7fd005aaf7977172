"""Workflow trees: ``sig``, ``chain``, ``group`` and ``.then``, and their flat form.

A tree is built in Python (``chain(sig("fetch", {...}), group(...).then(sig("merge")))``) or
read from JSON (the same shape the HTTP API takes, see ``from_json``). ``flatten`` turns it
into numbered nodes, each with the nodes it waits for (``parents``, in result order) and the
nodes that wait for it (``children``): the engine stores that and never looks at the tree
again except to show it. Cycles cannot be written: a node only ever waits for nodes that come
before it in the tree.

Rules: a group runs its members in parallel; a chain runs its steps one after the other, each
step's first nodes waiting for every last node of the step before (so ``chain(group(a, b), c)``
is the fan-in ``group(a, b).then(c)``: c runs once, with a's and b's results, in that order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, get_args

from .errors import InvalidRequest

FailurePolicy = Literal["fail_fast", "continue"]
"""``fail_fast`` (default): a node that goes dead (or is cancelled) fails the workflow; nodes
not started are skipped and running ones are cancelled. ``continue``: the other branches go on;
nodes that depend on the dead node are skipped; the workflow ends ``failed`` once nothing runs."""
FAILURE_POLICIES: tuple[str, ...] = get_args(FailurePolicy)

WorkflowStatus = Literal["running", "succeeded", "failed", "cancelled"]
WORKFLOW_STATUSES: tuple[str, ...] = get_args(WorkflowStatus)

NodeStatus = Literal["pending", "waiting", "ready", "active", "succeeded", "dead", "cancelled", "skipped"]
"""``pending``: waits for its dependencies (no job exists yet). ``waiting``/``ready``/``active``:
its job's status. ``skipped``: it never ran because a dependency failed (``continue``) or the
workflow stopped; it runs if the workflow is retried."""

MAX_NODES = 5000
"""Nodes per workflow: one atomic submit script writes them all."""
MAX_ITEMS = 1000
"""Steps of one chain, members of one group (nest groups for a wider fan-in)."""
MAX_EDGES = 50_000
"""Dependencies per workflow (``group(1000).then(group(1000))`` would be a million)."""
MAX_DEPTH = 50
NAME_MAX = 100


@dataclass(frozen=True, slots=True)
class Sig:
    """One job of a workflow: a type and its payload (validated at submit against the type)."""

    type: str
    payload: Any = None
    max_attempts: int | None = None
    name: str | None = None
    """A label shown in listings and the TUI (default: the type)."""

    def then(self, *steps: Node) -> Chain:
        return chain(self, *steps)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "payload": {} if self.payload is None else self.payload}
        if self.max_attempts is not None:
            out["max_attempts"] = self.max_attempts
        if self.name is not None:
            out["name"] = self.name
        return out


@dataclass(frozen=True, slots=True)
class Chain:
    """Steps run one after the other; each step gets the previous step's result(s)."""

    steps: tuple[Node, ...]

    def then(self, *steps: Node) -> Chain:
        return chain(self, *steps)

    def to_json(self) -> dict[str, Any]:
        return {"chain": [s.to_json() for s in self.steps]}


@dataclass(frozen=True, slots=True)
class Group:
    """Members run in parallel; ``.then(d)`` makes ``d`` wait for all of them (fan-in)."""

    members: tuple[Node, ...]

    def then(self, *steps: Node) -> Chain:
        return chain(self, *steps)

    def to_json(self) -> dict[str, Any]:
        return {"group": [m.to_json() for m in self.members]}


Node: TypeAlias = Sig | Chain | Group


def sig(type: str, payload: Any = None, *, max_attempts: int | None = None, name: str | None = None) -> Sig:
    """A workflow node: the job ``type`` with ``payload``."""
    return Sig(type, payload, max_attempts, name)


def chain(*steps: Node) -> Chain:
    """Run ``steps`` in order; each gets the result(s) of the one before in ``ctx.previous``."""
    return Chain(tuple(steps))


def group(*members: Node) -> Group:
    """Run ``members`` in parallel."""
    return Group(tuple(members))


@dataclass(slots=True)
class FlatNode:
    """One node of a flattened workflow."""

    index: int
    type: str
    payload: Any
    max_attempts: int | None
    name: str
    parents: list[int] = field(default_factory=list)
    """Nodes it waits for, in the order their results reach it."""
    children: list[int] = field(default_factory=list)


Shape: TypeAlias = int | dict[str, list[Any]]
"""The tree with node indices at the leaves: ``{"chain": [0, {"group": [1, 2]}, 3]}`` (what the
TUI draws)."""


@dataclass(slots=True)
class FlatWorkflow:
    nodes: list[FlatNode]
    shape: Shape
    edges: int


def flatten(tree: Node) -> FlatWorkflow:
    """Number the nodes depth first and wire their dependencies; ``InvalidRequest`` for an empty
    chain or group, one over ``MAX_ITEMS``, a tree over ``MAX_NODES``/``MAX_EDGES``/``MAX_DEPTH``, or a
    non-node."""
    nodes: list[FlatNode] = []
    edges = 0

    def walk(node: object, after: list[int], depth: int) -> tuple[list[int], Shape]:
        """Place ``node`` after the nodes ``after``; returns its last nodes and its shape."""
        nonlocal edges
        if depth > MAX_DEPTH:
            raise InvalidRequest(f"workflow is nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, Sig):
            if len(nodes) >= MAX_NODES:
                raise InvalidRequest(f"workflow has more than {MAX_NODES} nodes")
            edges += len(after)
            if edges > MAX_EDGES:
                raise InvalidRequest(f"workflow has more than {MAX_EDGES} dependencies")
            index = len(nodes)
            nodes.append(
                FlatNode(index, node.type, node.payload, node.max_attempts, node.name or node.type, list(after))
            )
            for parent in after:
                nodes[parent].children.append(index)
            return [index], index
        if isinstance(node, Chain):
            if not node.steps:
                raise InvalidRequest("a chain needs at least one step")
            if len(node.steps) > MAX_ITEMS:
                raise InvalidRequest(f"a chain has more than {MAX_ITEMS} steps (nest chains for a longer one)")
            shapes: list[Any] = []
            last = after
            for step in node.steps:
                last, shape = walk(step, last, depth + 1)
                shapes.append(shape)
            return last, {"chain": shapes}
        if isinstance(node, Group):
            if not node.members:
                raise InvalidRequest("a group needs at least one member")
            if len(node.members) > MAX_ITEMS:
                raise InvalidRequest(f"a group has more than {MAX_ITEMS} members (nest groups for a wider fan-in)")
            ends: list[int] = []
            shapes = []
            for member in node.members:
                member_ends, shape = walk(member, after, depth + 1)
                ends.extend(member_ends)
                shapes.append(shape)
            return ends, {"group": shapes}
        raise InvalidRequest(f"a workflow node must be sig(), chain() or group(), not {type(node).__name__}")

    _, shape = walk(tree, [], 0)
    return FlatWorkflow(nodes, shape, edges)


def from_json(data: object, path: str = "tree", depth: int = 0) -> Node:
    """A tree from its JSON form: ``{"type", "payload"?, "max_attempts"?, "name"?}`` for a job,
    ``{"chain": [...]}``, ``{"group": [...]}`` and ``{"group": [...], "then": node}``."""
    if depth > MAX_DEPTH:
        raise InvalidRequest(f"workflow is nested deeper than {MAX_DEPTH} levels")
    if not isinstance(data, Mapping):
        raise InvalidRequest(f"{path}: a node must be an object with 'type', 'chain' or 'group'")
    kinds = [k for k in ("type", "chain", "group") if k in data]
    if len(kinds) != 1:
        raise InvalidRequest(f"{path}: a node needs exactly one of 'type', 'chain' or 'group'")
    kind = kinds[0]
    if kind == "type":
        _only(data, {"type", "payload", "max_attempts", "name"}, path)
        jtype, name, most = data["type"], data.get("name"), data.get("max_attempts")
        if not isinstance(jtype, str) or not jtype:
            raise InvalidRequest(f"{path}.type: must be a job type name")
        if "name" in data and (not isinstance(name, str) or not 0 < len(name) <= NAME_MAX):
            raise InvalidRequest(f"{path}.name: must be a string of 1-{NAME_MAX} characters")
        if isinstance(most, float) and most.is_integer():
            most = int(most)  # JSON Schema's integer includes 3.0
        if "max_attempts" in data and (isinstance(most, bool) or not isinstance(most, int)):
            raise InvalidRequest(f"{path}.max_attempts: must be an integer")
        return Sig(jtype, data.get("payload"), most, name)
    items = data[kind]
    if not isinstance(items, Sequence) or isinstance(items, (str, bytes)):
        raise InvalidRequest(f"{path}.{kind}: must be a list of nodes")
    children = tuple(from_json(item, f"{path}.{kind}[{i}]", depth + 1) for i, item in enumerate(items))
    if kind == "chain":
        _only(data, {"chain"}, path)
        return Chain(children)
    _only(data, {"group", "then"}, path)
    built: Node = Group(children)
    if "then" in data:
        built = Chain((built, from_json(data["then"], f"{path}.then", depth + 1)))
    return built


def _only(data: Mapping[str, Any], allowed: set[str], path: str) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise InvalidRequest(f"{path}: unknown field(s) {', '.join(map(str, extra))}")
