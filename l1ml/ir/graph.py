"""Tensor, Node and Graph: the typed dataflow graph every l1ml pass and backend walks."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from l1ml.ir.ops import ATTRS, Op, attrs_from_json, attrs_to_json
from l1ml.ir.schema import IR_FORMAT, validate_ir_doc
from l1ml.ir.types import FixedType

FORMAT_VERSION = 2  # 2: model.l1ml.json carries the sha256 of its content and of its source model


@dataclass
class Tensor:
    """A value in the graph. ``shape`` excludes the batch axis; ``type`` None means still float.

    Constants carry ``data``: integer codes (as int64) once typed, float values before.
    """

    name: str
    shape: tuple[int, ...]
    type: FixedType | None = None
    data: np.ndarray | None = None

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return math.prod(self.shape)  # a Python int: a corrupt shape cannot overflow it


@dataclass
class Node:
    """One operation: reads ``inputs`` and writes ``outputs`` (tensor names)."""

    name: str
    op: Op
    inputs: list[str]
    outputs: list[str]
    attrs: Any
    meta: dict[str, Any] = field(default_factory=dict)  # onnx_name, onnx_op, ...

    def describe(self) -> str:
        """How errors name this node: the op, the l1ml name and the ONNX node it came from."""
        s = f"{self.op.value} node '{self.name}'"
        onnx_name = self.meta.get("onnx_name")
        if onnx_name and onnx_name != self.name:
            s += f" (onnx '{onnx_name}')"
        return s


@dataclass
class Graph:
    name: str
    tensors: dict[str, Tensor]
    nodes: list[Node]
    inputs: list[str]
    outputs: list[str]
    meta: dict[str, Any] = field(default_factory=dict)

    # ---- queries -----------------------------------------------------------------------------------
    def producer(self, tensor: str) -> Node | None:
        for n in self.nodes:
            if tensor in n.outputs:
                return n
        return None

    def users(self, tensor: str) -> list[Node]:
        return [n for n in self.nodes if tensor in n.inputs]

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def t(self, name: str) -> Tensor:
        return self.tensors[name]

    def ops(self) -> Iterator[tuple[Node, list[Tensor], list[Tensor]]]:
        """Nodes in order with their input and output tensors."""
        for n in self.nodes:
            yield n, [self.tensors[i] for i in n.inputs], [self.tensors[o] for o in n.outputs]

    def fresh_name(self, base: str) -> str:
        taken = set(self.tensors) | {n.name for n in self.nodes}
        if base not in taken:
            return base
        i = 1
        while f"{base}_{i}" in taken:
            i += 1
        return f"{base}_{i}"

    # ---- edits -------------------------------------------------------------------------------------
    def replace_all_uses_with(self, old: str, new: str) -> None:
        for n in self.nodes:
            n.inputs = [new if i == old else i for i in n.inputs]
        self.outputs = [new if o == old else o for o in self.outputs]

    def remove_node(self, node: Node) -> None:
        self.nodes.remove(node)

    def prune_tensors(self) -> None:
        """Drop tensors no node or graph boundary refers to."""
        used = set(self.inputs) | set(self.outputs)
        for n in self.nodes:
            used.update(n.inputs)
            used.update(n.outputs)
        self.tensors = {k: v for k, v in self.tensors.items() if k in used}

    def toposort(self) -> None:
        """Order nodes so that each comes after the producers of its inputs."""
        ready = set(self.inputs) | {k for k, t in self.tensors.items() if t.is_const}
        pending = list(self.nodes)
        ordered: list[Node] = []
        while pending:
            progressed = False
            for n in list(pending):
                if all(i in ready for i in n.inputs):
                    ordered.append(n)
                    ready.update(n.outputs)
                    pending.remove(n)
                    progressed = True
            if not progressed:
                names = ", ".join(n.name for n in pending)
                raise ValueError(f"graph '{self.name}' has a cycle or a dangling input among: {names}")
        self.nodes = ordered

    def copy(self) -> Graph:
        return copy.deepcopy(self)

    # ---- checks ------------------------------------------------------------------------------------
    def verify(self, typed: bool = False) -> None:
        """Structural checks; with ``typed``, also that every tensor has a FixedType (post-passes)."""
        produced: set[str] = set()
        defined = set(self.inputs) | {k for k, t in self.tensors.items() if t.is_const}
        names: set[str] = set()
        for n in self.nodes:
            if n.name in names:
                raise ValueError(f"duplicate node name '{n.name}'")
            names.add(n.name)
            if not isinstance(n.attrs, ATTRS[n.op]):
                raise ValueError(f"{n.describe()}: attrs {type(n.attrs).__name__} do not match the op")
            for i in n.inputs:
                if i not in self.tensors:
                    raise ValueError(f"{n.describe()}: input '{i}' is not a tensor of the graph")
                if i not in defined and i not in produced:
                    raise ValueError(f"{n.describe()}: input '{i}' is used before it is produced")
            for o in n.outputs:
                if o in produced or o in defined:
                    raise ValueError(f"{n.describe()}: output '{o}' is written twice")
                if o not in self.tensors:
                    raise ValueError(f"{n.describe()}: output '{o}' is not a tensor of the graph")
                produced.add(o)
        for o in self.outputs:
            if o not in produced and o not in self.inputs:
                raise ValueError(f"graph output '{o}' is never produced")
        if typed:
            for k, t in self.tensors.items():
                if t.type is None:
                    raise ValueError(f"tensor '{k}' has no fixed-point type")

    # ---- serialisation -----------------------------------------------------------------------------
    def to_json(self) -> dict:
        def tensor(t: Tensor) -> dict:
            d: dict[str, Any] = {"shape": list(t.shape), "type": t.type.to_json() if t.type else None}
            if t.data is not None:
                d["dtype"] = "int64" if np.issubdtype(t.data.dtype, np.integer) else "float64"
                d["data"] = t.data.tolist()
            return d

        return {
            "format": IR_FORMAT,
            "version": FORMAT_VERSION,
            "name": self.name,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "meta": self.meta,
            "tensors": {k: tensor(self.tensors[k]) for k in sorted(self.tensors)},
            "nodes": [
                {
                    "name": n.name,
                    "op": n.op.value,
                    "inputs": n.inputs,
                    "outputs": n.outputs,
                    "attrs": attrs_to_json(n.attrs),
                    "meta": n.meta,
                }
                for n in self.nodes
            ],
        }

    @classmethod
    def from_json(cls, d: dict) -> Graph:
        """The graph of a ``to_json`` dict, checked against the schema first (``IRSchemaError`` names the
        field); an ``integrity`` block, if any, is not checked here (``Graph.load`` does)."""
        validate_ir_doc(d, FORMAT_VERSION)
        tensors = {}
        for k, td in d["tensors"].items():
            data = None
            if "data" in td:
                data = np.array(td["data"], dtype=np.int64 if td["dtype"] == "int64" else np.float64)
                data = data.reshape(td["shape"]) if td["shape"] else data.reshape(())
            ty = FixedType.from_json(td["type"]) if td["type"] else None
            tensors[k] = Tensor(k, tuple(td["shape"]), ty, data)
        nodes = [
            Node(nd["name"], Op(nd["op"]), list(nd["inputs"]), list(nd["outputs"]),
                 attrs_from_json(Op(nd["op"]), nd["attrs"]), dict(nd["meta"]))
            for nd in d["nodes"]
        ]
        return cls(d["name"], tensors, nodes, list(d["inputs"]), list(d["outputs"]), dict(d["meta"]))

    def save(self, path: str | Path, source: str | Path | None = None) -> None:
        """Write the IR with the sha256 of its content and, given ``source`` (a file beside it, the model
        it was compiled from), of that file's bytes, so that ``load`` detects later edits of either."""
        from l1ml.ir.integrity import seal

        Path(path).write_text(json.dumps(seal(self.to_json(), Path(path), source), indent=1, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Graph:
        """The IR written by ``save``, refused with a named error if it is malformed, was edited, or its
        source model beside it changed (see ``l1ml.ir.integrity.load_ir``)."""
        from l1ml.ir.integrity import load_ir

        return load_ir(path)
