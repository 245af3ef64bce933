"""A walk over the graph that dispatches on the op: the shape of every l1ml backend."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Generic, TypeVar

from l1ml.errors import L1MLError, NodeError, UnsupportedOp
from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.ops import Op

V = TypeVar("V")


def rule(op: Op) -> Callable:
    """Mark a method as the rule for ``op``: ``def dense(self, node, ins, outs, values) -> list[V]``."""

    def mark(fn: Callable) -> Callable:
        fn._l1ml_op = op  # type: ignore[attr-defined]
        return fn

    return mark


class BackendError(RuntimeError):
    """A rule crashed: a bug in l1ml, reported with the node it happened on."""


class Interpreter(Generic[V]):
    """Runs one rule per node in graph order; values are whatever the subclass computes (arrays,
    costs, text). A node without a rule raises an error naming it and the ops that are supported."""

    rules: ClassVar[dict[Op, str]]
    what: ClassVar[str] = "this backend"

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        table: dict[Op, str] = {}
        for base in reversed(cls.__mro__):
            for name, fn in vars(base).items():
                op = getattr(fn, "_l1ml_op", None)
                if op is not None:
                    table[op] = name
        cls.rules = table

    def __init__(self, graph: Graph):
        self.graph = graph

    def supports(self, op: Op) -> bool:
        return op in self.rules

    def check_supported(self) -> None:
        for n in self.graph.nodes:
            if n.op not in self.rules:
                raise UnsupportedOp(n, n.op.value, [o.value for o in self.rules], self.what)

    def run(self, inputs: dict[str, V]) -> dict[str, V]:
        """Evaluate every node; returns all values by tensor name (inputs, consts and produced)."""
        env: dict[str, V] = dict(inputs)
        for node, ins, outs in self.graph.ops():
            env.update(self.step(node, ins, outs, env))
        return env

    def step(self, node: Node, ins: list[Tensor], outs: list[Tensor], env: dict[str, V]) -> dict[str, V]:
        method = self.rules.get(node.op)
        if method is None:
            self.check_supported()
        values = [env[t.name] if t.name in env else self.const(t) for t in ins]
        try:
            results = getattr(self, method)(node, ins, outs, values)
        except L1MLError:
            raise
        except Exception as e:  # an l1ml bug, not a user error: keep the traceback, name the node
            raise BackendError(f"{node.describe()}: {self.what} failed: {type(e).__name__}: {e}") from e
        return dict(zip(node.outputs, results, strict=True))

    def const(self, t: Tensor) -> V:
        raise NodeError(t.name, "value is neither an input nor computed")
