"""The emulator's fast path: a plan that runs each Dense with the ReLU and Quantize after it as one exact
step on integer codes (``l1ml.ir.semantics.dense_requant``), and every other node by the interpreter's
own rule, over blocks of events on two threads.

Fusion changes only how the same integer function is computed: the step's weights carry the requantising
shift, its dtype is the cheapest one that holds every partial sum exactly, and the ReLU is a bound of the
saturating clip. ``Emulator(g, fused=False)`` runs node by node; the tests hold both equal bit for bit.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from l1ml.ir.graph import Graph, Node, Tensor
from l1ml.ir.ops import Op
from l1ml.ir.semantics import (
    DenseRequant,
    concat_blocks,
    dense_requant,
    dense_requant_blocks,
    dense_requant_layer,
)

if TYPE_CHECKING:
    from l1ml.backends.emulate import Emulator

#: events per block: large enough that each thread's BLAS calls and ufuncs outweigh handing out blocks
#: (jet MLP, 2 threads, idle 2-core machine: 2,048 -> 3.7 M events/s, 8,192 -> 5.6 M, 16,384 -> 6.0-6.3 M)
FUSED_CHUNK = 16384
#: ... and no tensor of a block beyond about this many codes (4 MB of float32; a GNN's edge tensors:
#: ~18 sector graphs)
FUSED_BLOCK_ELEMENTS = 2**20
#: worker threads: numpy's BLAS calls and ufuncs release the GIL, so two blocks run at once
THREADS = min(2, os.cpu_count() or 1)


@dataclass(frozen=True)
class FusedDense:
    """Nodes ``nodes`` (a Dense, then maybe a ReLU, a Quantize, a Mul by a validity mask) as one step
    ``src -> dst``."""

    nodes: tuple[str, ...]
    src: str
    dst: str
    layer: DenseRequant
    mask: str | None = None


@dataclass(frozen=True)
class FusedConcatDense:
    """A Concat of (possibly gathered) blocks, then a fused Dense: each block multiplied on its own
    rows, gathered, and summed (``dense_requant_blocks``). ``blocks``: (source tensor, gather indices or
    None, weight rows)."""

    nodes: tuple[str, ...]
    blocks: tuple[tuple[str, np.ndarray | None, np.ndarray], ...]
    dst: str
    layer: DenseRequant
    mask: str | None = None


@dataclass(frozen=True)
class NodeStep:
    """A node the plan does not fuse: the interpreter's rule runs it."""

    node: Node
    ins: list[Tensor]
    outs: list[Tensor]


Step = FusedDense | FusedConcatDense | NodeStep


def _only_reader(g: Graph, tensor: str, readers: dict[str, list[Node]], op: Op) -> Node | None:
    """The single node reading ``tensor`` if it is an ``op`` and ``tensor`` is not a graph output."""
    users = readers.get(tensor, [])
    if len(users) == 1 and users[0].op is op and tensor not in g.outputs and users[0].inputs[0] == tensor:
        return users[0]
    return None


def fuse_dense(g: Graph, dense: Node, readers: dict[str, list[Node]],
               dtype: type[np.generic] | None = None) -> FusedDense | None:
    """The fused step of ``dense`` and the ReLU and Quantize that follow it alone, or None (not covered)."""
    x, w = g.t(dense.inputs[0]), g.t(dense.inputs[1])
    if len(w.shape) != 2 or x.type is None or w.data is None:
        return None
    b = g.t(dense.inputs[2]) if len(dense.inputs) > 2 else None
    if b is not None and b.data is None:
        return None
    nodes, end = [dense], dense.outputs[0]
    relu = _only_reader(g, end, readers, Op.RELU)
    if relu is not None:
        nodes.append(relu)
        end = relu.outputs[0]
    quant = _only_reader(g, end, readers, Op.QUANTIZE)
    out = None
    if quant is not None:
        if g.t(end).type.frac != g.t(dense.outputs[0]).type.frac:
            quant = None  # a ReLU that changed the grid: not the pattern this step computes
        else:
            nodes.append(quant)
            end = quant.outputs[0]
            out = g.t(end).type
    layer = dense_requant_layer(x.type, w, b, relu is not None, out, dtype)
    if layer.acc_frac != g.t(dense.outputs[0]).type.frac:
        return None
    mul, mask = _mask_mul(g, end, readers)
    if mul is not None:
        nodes.append(mul)
        end = mul.outputs[0]
    return FusedDense(tuple(n.name for n in nodes), dense.inputs[0], end, layer, mask)


def _mask_mul(g: Graph, tensor: str, readers: dict[str, list[Node]]) -> tuple[Node | None, str | None]:
    """The Mul that alone reads ``tensor`` if its other operand is a 0/1 validity bit (``ufixed<1,0>``,
    an event input) of a shape that broadcasts onto ``tensor``'s: multiplying by it keeps the codes' grid,
    so the step multiplies its result in place."""
    users = readers.get(tensor, [])
    if len(users) != 1 or users[0].op is not Op.MUL or tensor in g.outputs:
        return None, None
    mul = users[0]
    other = [i for i in mul.inputs if i != tensor]
    if len(other) != 1:
        return None, None
    m = g.t(other[0])
    t = m.type
    if (m.is_const or t is None or t.signed or t.width != 1 or t.frac != 0
            or g.t(mul.outputs[0]).shape != g.t(tensor).shape or g.t(mul.outputs[0]).type.frac != g.t(tensor).type.frac):
        return None, None
    return mul, other[0]


def fuse_concat(g: Graph, step: FusedDense, readers: dict[str, list[Node]]) -> FusedConcatDense | None:
    """``step`` split over the blocks of the Concat that alone feeds it (each block gathered or not), or
    None when its input is not such a Concat (or one block is a constant)."""
    concat = next((n for n in g.nodes if n.outputs[0] == step.src), None)
    if concat is None or concat.op is not Op.CONCAT or step.src in g.outputs or len(readers[step.src]) != 1:
        return None
    if concat.attrs.axis != len(g.t(step.src).shape) - 1:
        return None  # only a concatenation of features is a split of the Dense's rows
    frac = g.t(step.src).type.frac
    nodes, blocks, spans, first = [concat.name], [], [], 0
    for name in concat.inputs:
        t = g.t(name)
        if t.is_const:
            return None
        producer = next((n for n in g.nodes if name in n.outputs), None)
        rows = None
        if (producer is not None and producer.op is Op.GATHER and name not in g.outputs
                and len(readers[name]) == 1):
            rows = np.asarray(producer.attrs.indices, dtype=np.intp)
            nodes.append(producer.name)
            name = producer.inputs[0]
        spans.append((first, t.shape[-1], frac - t.type.frac))
        blocks.append((name, rows))
        first += t.shape[-1]
    weights = concat_blocks(step.layer, spans)
    return FusedConcatDense((*nodes, *step.nodes), tuple((n, r, w) for (n, r), w in zip(blocks, weights, strict=True)),
                            step.dst, step.layer, step.mask)


class FusedPlan:
    """The steps of a graph in order: fused Dense chains and interpreter nodes."""

    def __init__(self, emulator: Emulator, dtype: type[np.generic] | None = None, concat: bool = True):
        """``dtype`` forces every fused layer's dtype (tests); ``concat=False`` leaves Concat/Gather to the
        interpreter."""
        self.emulator = emulator
        g = emulator.graph
        readers: dict[str, list[Node]] = {}
        for n in g.nodes:
            for i in dict.fromkeys(n.inputs):
                readers.setdefault(i, []).append(n)
        steps: list[Step] = []
        fused: set[str] = set()
        for node, ins, outs in g.ops():
            if node.name in fused:
                continue
            step = fuse_dense(g, node, readers, dtype) if node.op is Op.DENSE else None
            if step is not None:
                split = fuse_concat(g, step, readers) if concat else None
                step = split or step
                fused.update(step.nodes)
            steps.append(step or NodeStep(node, ins, outs))
        # a fused Concat/Gather ran before its Dense in graph order: drop its node steps
        self.steps = [s for s in steps if not (isinstance(s, NodeStep) and s.node.name in fused)]

    @property
    def fused(self) -> list[FusedDense | FusedConcatDense]:
        return [s for s in self.steps if not isinstance(s, NodeStep)]

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One block of input codes -> the values of the graph's outputs (and whatever else was made)."""
        env = dict(inputs)
        for s in self.steps:
            if isinstance(s, NodeStep):
                env.update(self.emulator.step(s.node, s.ins, s.outs, env))
                continue
            if isinstance(s, FusedDense):
                y = dense_requant(env[s.src], s.layer)
            else:
                y = dense_requant_blocks([(env[n], r, w) for n, r, w in s.blocks], s.layer)
            if s.mask is not None:  # codes times 0 or 1: exact in any dtype
                y *= env[s.mask].astype(y.dtype, copy=False)
            env[s.dst] = y
        return env

    def run_blocks(self, arrays: dict[str, np.ndarray], prepare, outs: dict[str, np.ndarray], chunk: int) -> None:
        """Every block of ``arrays`` through the plan into the preallocated ``outs``, on THREADS threads."""
        n = len(next(iter(arrays.values())))

        def block(s: int) -> None:
            env = self.run({k: prepare(k, v[s:s + chunk]) for k, v in arrays.items()})
            for o in outs:
                outs[o][s:s + chunk] = env[o]

        starts = range(0, n, chunk)
        if THREADS == 1 or len(starts) == 1:
            for s in starts:
                block(s)
            return
        with ThreadPoolExecutor(THREADS) as pool:
            for f in [pool.submit(block, s) for s in starts]:
                f.result()  # re-raises a block's error
