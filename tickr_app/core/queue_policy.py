"""Which queue a worker's free slots go to, when it serves several.

Weighted (the default): each free slot goes to a queue by smooth weighted round-robin over the
queues that may have jobs, so with weights 5:3:1 and every queue busy the slots go 5:3:1, spread
out (not five in a row), and no queue with jobs starves. Strict: every slot goes to the first
queue, in the order given, that may have jobs; later queues only get what it leaves.
Pure Python, no Redis: the fetcher asks it, then leases from each queue in one script call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final

MIN_WEIGHT: Final = 1
MAX_WEIGHT: Final = 1000
WEIGHT_RULE: Final = f"an integer from {MIN_WEIGHT} to {MAX_WEIGHT}"


def is_weight(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and MIN_WEIGHT <= value <= MAX_WEIGHT


def normalise_queues(queues: Mapping[str, int] | Iterable[str]) -> dict[str, int]:
    """Queue -> weight in the order given (a plain list weighs each queue 1; duplicates go)."""
    if isinstance(queues, Mapping):
        return dict(queues)
    return dict.fromkeys(queues, 1)


def format_weights(weights: Mapping[str, int]) -> str:
    """``high=5,default=3``: how the worker registry and the CLI write weights."""
    return ",".join(f"{q}={w}" for q, w in weights.items())


def describe_weights(weights: Mapping[str, int], strict: bool = False) -> str:
    """How dashboards show a worker's queues: ``high:5 default:3`` (weighted), ``strict
    high>default``, or plain comma-separated names when every queue weighs 1."""
    if strict:
        return "strict " + ">".join(weights)
    if all(n == 1 for n in weights.values()):
        return ",".join(weights)
    return " ".join(f"{q}:{n}" for q, n in weights.items())


def parse_weights(text: str) -> dict[str, int]:
    """The inverse of ``format_weights`` (also ``a,b``: weight 1 each); ValueError if malformed."""
    out: dict[str, int] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, weight = part.partition("=")
        out[name.strip()] = int(weight) if sep else 1
    return out


def parse_queue_args(specs: Iterable[str]) -> dict[str, int]:
    """``["high=5", "default"]`` (the CLI's repeated ``--queue NAME[=WEIGHT]``) as queue ->
    weight in that order; ValueError naming the bad one."""
    from .keys import QUEUE_NAME_RULE, is_queue_name

    out: dict[str, int] = {}
    for spec in specs:
        name, sep, text = spec.partition("=")
        if not is_queue_name(name):
            raise ValueError(f"invalid queue name {name[:120]!r}: {QUEUE_NAME_RULE}")
        try:
            weight = int(text) if sep else 1
        except ValueError:
            weight = 0
        if not is_weight(weight):
            raise ValueError(f"weight of queue {name!r} must be {WEIGHT_RULE}, got {text!r}")
        if name in out:  # which weight, and which place in --strict order? Say so, do not guess
            raise ValueError(f"queue {name!r} is given twice")
        out[name] = weight
    return out


class QueuePolicy:
    """Weights and mode of one worker's queues; ``assign`` hands out free slots."""

    def __init__(self, weights: Mapping[str, int], *, strict: bool = False) -> None:
        if not weights:
            raise ValueError("a worker needs at least one queue")
        self.weights: dict[str, int] = dict(weights)
        self.strict = strict
        self._current: dict[str, int] = dict.fromkeys(self.weights, 0)

    @property
    def queues(self) -> list[str]:
        """The queues in the order given (strict mode's order)."""
        return list(self.weights)

    def set_weights(self, weights: Mapping[str, int], strict: bool | None = None) -> None:
        """Change weights live (queues not named keep theirs); unknown queues are a ValueError."""
        unknown = set(weights) - set(self.weights)
        if unknown:
            raise ValueError(f"not served by this worker: {', '.join(sorted(unknown))}")
        for queue, weight in weights.items():
            if not is_weight(weight):
                raise ValueError(f"weight of {queue!r} must be {WEIGHT_RULE}")
        self.weights.update(weights)
        if strict is not None:
            self.strict = strict
        self._current = dict.fromkeys(self.weights, 0)

    def assign(self, n: int, candidates: Sequence[str]) -> dict[str, int]:
        """Split n free slots over the candidate queues (those that may have jobs, in the
        policy's order): queue -> slots, only queues that get some."""
        if n <= 0 or not candidates:
            return {}
        if self.strict or len(candidates) == 1:
            return {candidates[0]: n}
        weights = self.weights
        current = self._current
        total = sum(weights[q] for q in candidates)
        out: dict[str, int] = {}
        for _ in range(n):
            best = candidates[0]
            for q in candidates:
                current[q] += weights[q]
                if current[q] > current[best]:
                    best = q
            current[best] -= total
            out[best] = out.get(best, 0) + 1
        return out
