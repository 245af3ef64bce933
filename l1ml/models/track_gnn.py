"""Interaction-network edge classifier on fixed-slot sector graphs: Brevitas QAT model and float twin.

The graph topology is static, so the gathers are ``Gather`` ops with constant indices (sender and
receiver slot of every edge) and the sum aggregation to nodes is a ``MatMul`` with a constant 0/1
incidence matrix; both export to plain ONNX ops. Invalid edges have their messages multiplied by the
edge validity bit before aggregation and invalid nodes their updated features by the node bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from l1ml.simulation.track_graphs import EDGE_FEATURES, NODE_FEATURES, incidence


@dataclass(frozen=True)
class GNNShape:
    n_node_features: int = len(NODE_FEATURES)
    n_edge_features: int = len(EDGE_FEATURES)
    hidden: int = 8
    steps: int = 1
    input_bits: int = 8
    weight_bits: int = 6
    bias_bits: int = 8
    act_bits: int = 8


class _Parts:
    """Builds float or Brevitas layers with the same module names, so weights copy over by name."""

    def __init__(self, s: GNNShape, quant: bool):
        self.s, self.quant = s, quant

    def input(self) -> nn.Module:
        if not self.quant:
            return nn.Identity()
        import brevitas.nn as qnn
        from brevitas.quant import Int8ActPerTensorFixedPoint

        return qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint.let(bit_width=self.s.input_bits),
                                 return_quant_tensor=False)

    def sum_quant(self) -> nn.Module:
        """Requantise a segment sum of ReLU outputs back to act_bits (saturating, truncating)."""
        if not self.quant:
            return nn.Identity()
        import brevitas.nn as qnn
        from brevitas.quant import Uint8ActPerTensorFixedPoint

        act = Uint8ActPerTensorFixedPoint.let(bit_width=self.s.act_bits, float_to_int_impl_type="FLOOR")
        return qnn.QuantIdentity(act_quant=act, return_quant_tensor=False)

    def linear(self, n_in: int, n_out: int) -> nn.Module:
        if not self.quant:
            return nn.Linear(n_in, n_out)
        import brevitas.nn as qnn
        from brevitas.quant import Int8BiasPerTensorFixedPointInternalScaling, Int8WeightPerTensorFixedPoint

        return qnn.QuantLinear(n_in, n_out, bias=True,
                               weight_quant=Int8WeightPerTensorFixedPoint.let(bit_width=self.s.weight_bits),
                               bias_quant=Int8BiasPerTensorFixedPointInternalScaling.let(bit_width=self.s.bias_bits),
                               return_quant_tensor=False)

    def relu(self) -> nn.Module:
        if not self.quant:
            return nn.ReLU()
        import brevitas.nn as qnn
        from brevitas.quant import Uint8ActPerTensorFixedPoint

        act = Uint8ActPerTensorFixedPoint.let(bit_width=self.s.act_bits, float_to_int_impl_type="FLOOR")
        return qnn.QuantReLU(act_quant=act, return_quant_tensor=False)

    def mlp(self, n_in: int, n_hidden: int, n_out: int, final_relu: bool) -> nn.Sequential:
        layers = [self.linear(n_in, n_hidden), self.relu(), self.linear(n_hidden, n_out)]
        if final_relu:
            layers.append(self.relu())
        return nn.Sequential(*layers)


class InteractionNetwork(nn.Module):
    """Edge MLP → sum to receivers and senders → node MLP, ``steps`` times, then an edge classifier.

    Inputs: nodes (B, N, Fn), edges (B, E, Fe), node_mask (B, N, 1), edge_mask (B, E, 1) with 0/1 masks.
    Output: one logit per candidate edge, (B, E); logits of invalid edges are meaningless (AND them with
    the edge validity bit downstream).
    """

    def __init__(self, s: GNNShape, senders: np.ndarray, receivers: np.ndarray, n_nodes: int, quant: bool):
        super().__init__()
        p, h = _Parts(s, quant), s.hidden
        self.shape, self.steps = s, s.steps
        self.register_buffer("senders", torch.from_numpy(np.asarray(senders, np.int64)), persistent=False)
        self.register_buffer("receivers", torch.from_numpy(np.asarray(receivers, np.int64)), persistent=False)
        self.register_buffer("to_receivers", torch.from_numpy(incidence(n_nodes, receivers)), persistent=False)
        self.register_buffer("to_senders", torch.from_numpy(incidence(n_nodes, senders)), persistent=False)
        self.node_in, self.edge_in = p.input(), p.input()
        self.node_embed = nn.Sequential(p.linear(s.n_node_features, h), p.relu())
        self.edge_mlps = nn.ModuleList(p.mlp(2 * h + s.n_edge_features, h, h, True) for _ in range(s.steps))
        self.sum_in = nn.ModuleList(p.sum_quant() for _ in range(s.steps))
        self.sum_out = nn.ModuleList(p.sum_quant() for _ in range(s.steps))
        self.node_mlps = nn.ModuleList(p.mlp(3 * h, h, h, True) for _ in range(s.steps))
        self.classifier = p.mlp(2 * h + s.n_edge_features, h, 1, False)

    def forward(self, nodes: torch.Tensor, edges: torch.Tensor, node_mask: torch.Tensor,
                edge_mask: torch.Tensor) -> torch.Tensor:
        e = self.edge_in(edges)
        x = self.node_embed(self.node_in(nodes)) * node_mask
        for step in range(self.steps):
            m = self.edge_mlps[step](self._edge_inputs(x, e)) * edge_mask
            agg_in = self.sum_in[step](torch.matmul(self.to_receivers, m))
            agg_out = self.sum_out[step](torch.matmul(self.to_senders, m))
            x = self.node_mlps[step](torch.cat([x, agg_in, agg_out], dim=2)) * node_mask
        return self.classifier(self._edge_inputs(x, e)).squeeze(2)

    def _edge_inputs(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """(sender, receiver, edge) features per edge; index_select exports as Gather with constant indices."""
        return torch.cat([x.index_select(1, self.senders), x.index_select(1, self.receivers), e], dim=2)


def init_from_float(q: InteractionNetwork, f: InteractionNetwork) -> None:
    """Start QAT from the float twin: copy every Linear's weight and bias by module name."""
    fl = {n: m for n, m in f.named_modules() if isinstance(m, nn.Linear)}
    with torch.no_grad():
        for name, m in q.named_modules():
            if isinstance(m, nn.Linear):  # QuantLinear subclasses nn.Linear
                m.weight.copy_(fl[name].weight)
                m.bias.copy_(fl[name].bias)


def export(q: InteractionNetwork, n_nodes: int, n_edges: int, path: str) -> None:
    """QONNX export with batch size 1; inputs nodes, edges, node_mask, edge_mask."""
    from brevitas.export import export_qonnx

    q.eval()
    s = q.shape
    args = (torch.zeros(1, n_nodes, s.n_node_features), torch.zeros(1, n_edges, s.n_edge_features),
            torch.ones(1, n_nodes, 1), torch.ones(1, n_edges, 1))
    export_qonnx(q, args, path, input_names=["nodes", "edges", "node_mask", "edge_mask"],
                 output_names=["edge_logits"])
    _inline_external_data(Path(path))


def _inline_external_data(path: Path) -> None:
    """Fold the exporter's side file of large constants (the incidence matrices) back into one .onnx."""
    import onnx

    model = onnx.load(str(path))  # reads any external data
    onnx.save(model, str(path), save_as_external_data=False)
    for side in path.parent.glob(path.name + ".data"):
        side.unlink()
