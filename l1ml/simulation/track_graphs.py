"""Fixed-slot hit graphs of one φ-sector, laid out the way trigger firmware holds them.

Each sector spans 2π/n_sectors in φ plus a margin on both sides (so a segment whose inner hit lies in
the sector core has its outer hit inside the same sector). Each layer's span is cut into ``n_bins``
φ-bins of ``depth`` slots: K = n_bins * depth slots per layer, L layers, one validity bit per slot.
Candidate edges join bins of adjacent layers whose centres are close enough for a track above
``pt_min_gev``: that topology depends on the geometry only, so it is fixed at compile time. Each edge
gets a validity bit from its two hits (both slots filled, |Δφ| and the z0 extrapolation in window).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from l1ml.errors import InputFileError, L1MLError
from l1ml.simulation.tracker import BARREL_LAYERS, C_LIGHT

NODE_FEATURES = ("r", "phi_local", "z", "bend")
EDGE_FEATURES = ("dphi", "dz", "z0")
HIT_COLUMNS = ("event_id", "hit_id", "layer", "r", "phi", "z", "bend", "particle_id")

# feature scales: bring every input to roughly [-1, 1] so one fixed-point input format fits all
_R_SCALE_MM = 1000.0
_Z_SCALE_MM = 1000.0
_BEND_SCALE = 8.0
_DZ_SCALE_MM = 500.0


@dataclass(frozen=True)
class SectorGeometry:
    """Compile-time layout of a sector graph: sectors, slots per layer and the edge window."""

    n_sectors: int = 32
    n_bins: int = 6
    depth: int = 4
    margin_rad: float = 0.075
    pt_min_gev: float = 2.0
    b_field_t: float = 3.8
    radii_mm: tuple[float, ...] = tuple(layer.radius_mm for layer in BARREL_LAYERS)
    # |z0| cut per layer pair (mm); looser outside because 2S strips are 5 cm long
    z0_max_mm: tuple[float, ...] = (200.0, 200.0, 300.0, 450.0, 450.0)
    # |Δφ| window = scale * (helix Δφ at pt_min) + slack, for multiple scattering and resolution
    dphi_scale: float = 1.15
    dphi_slack_rad: float = 0.003

    def __post_init__(self) -> None:
        if self.n_sectors < 1 or self.n_bins < 1 or self.depth < 1:
            raise L1MLError("sector geometry needs n_sectors, n_bins and depth of at least 1")
        if len(self.z0_max_mm) != len(self.radii_mm) - 1:
            raise L1MLError(f"z0_max_mm needs one cut per layer pair ({len(self.radii_mm) - 1}), "
                            f"got {len(self.z0_max_mm)}")
        if self.margin_rad >= self.sector_width / 2:
            raise L1MLError(f"margin {self.margin_rad} rad must be below half the sector width "
                            f"{self.sector_width / 2:.4f} rad; use fewer sectors or a smaller margin")

    @property
    def n_layers(self) -> int:
        return len(self.radii_mm)

    @property
    def slots_per_layer(self) -> int:
        """K."""
        return self.n_bins * self.depth

    @property
    def n_nodes(self) -> int:
        return self.n_layers * self.slots_per_layer

    @property
    def sector_width(self) -> float:
        return 2 * np.pi / self.n_sectors

    @property
    def half_span(self) -> float:
        """Half the φ range a sector covers, margin included."""
        return self.sector_width / 2 + self.margin_rad

    @property
    def bin_width(self) -> float:
        return 2 * self.half_span / self.n_bins

    def dphi_window(self) -> np.ndarray:
        """Largest accepted |Δφ| per layer pair: a pt_min helix from the beam line, widened."""
        k = C_LIGHT * self.b_field_t * 1e-3 / (2 * self.pt_min_gev)  # per mm
        phi = np.arcsin(np.minimum(np.asarray(self.radii_mm) * k, 1.0))
        return self.dphi_scale * np.diff(phi) + self.dphi_slack_rad

    def node_layer(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_layers), self.slots_per_layer)

    def node_bin(self) -> np.ndarray:
        return np.tile(np.repeat(np.arange(self.n_bins), self.depth), self.n_layers)


def static_edges(geom: SectorGeometry) -> tuple[np.ndarray, np.ndarray]:
    """(senders, receivers) slot indices of every candidate edge, inner layer to outer layer.

    Bins b (layer l) and b' (layer l+1) are joined when their centres differ by at most the layer
    pair's Δφ window plus one bin width (two hits anywhere in the bins may be a window apart); every
    slot of one bin is joined to every slot of the other.
    """
    window = geom.dphi_window()
    k, d = geom.slots_per_layer, geom.depth
    senders, receivers = [], []
    for layer in range(geom.n_layers - 1):
        reach = int(np.floor((window[layer] + geom.bin_width) / geom.bin_width - 1e-9))
        for b in range(geom.n_bins):
            for b2 in range(max(0, b - reach), min(geom.n_bins, b + reach + 1)):
                for i in range(d):
                    for j in range(d):
                        senders.append(layer * k + b * d + i)
                        receivers.append((layer + 1) * k + b2 * d + j)
    return np.asarray(senders, dtype=np.int64), np.asarray(receivers, dtype=np.int64)


def incidence(n_nodes: int, nodes: np.ndarray) -> np.ndarray:
    """0/1 matrix (n_nodes, n_edges) with a one where edge e ends at (or starts from) ``nodes[e]``."""
    a = np.zeros((n_nodes, len(nodes)), dtype=np.float32)
    a[nodes, np.arange(len(nodes))] = 1.0
    return a


@dataclass
class SectorGraphs:
    """A batch of sector graphs with a fixed layout; arrays are indexed [graph, node or edge, ...]."""

    geometry: SectorGeometry
    nodes: np.ndarray  # (G, N, 4) float32, zero in empty slots
    node_valid: np.ndarray  # (G, N) bool
    edges: np.ndarray  # (G, E, 3) float32, zero on invalid edges
    edge_valid: np.ndarray  # (G, E) bool
    edge_label: np.ndarray  # (G, E) bool: both hits from the same particle
    event_id: np.ndarray  # (G,) int64
    sector: np.ndarray  # (G,) int64
    hit_id: np.ndarray  # (G, N) int64, -1 in empty slots

    def __len__(self) -> int:
        return len(self.nodes)

    def select(self, idx: np.ndarray) -> SectorGraphs:
        return SectorGraphs(self.geometry, self.nodes[idx], self.node_valid[idx], self.edges[idx],
                            self.edge_valid[idx], self.edge_label[idx], self.event_id[idx], self.sector[idx],
                            self.hit_id[idx])


@dataclass
class SegmentLoss:
    """True track segments (hits of one particle on adjacent layers) and where they were lost."""

    total: int = 0
    kept: int = 0
    lost_sector: int = 0  # no sector holds both hits
    lost_overflow: int = 0  # a hit found no free slot in every sector that holds both
    lost_window: int = 0  # both hits in slots, but the edge is outside the static topology or window

    def add(self, other: SegmentLoss) -> None:
        self.total += other.total
        self.kept += other.kept
        self.lost_sector += other.lost_sector
        self.lost_overflow += other.lost_overflow
        self.lost_window += other.lost_window

    def fractions(self) -> dict[str, float]:
        n = max(self.total, 1)
        return {"kept": self.kept / n, "lost_sector": self.lost_sector / n,
                "lost_overflow": self.lost_overflow / n, "lost_window": self.lost_window / n}


def _wrap(a: np.ndarray) -> np.ndarray:
    return (a + np.pi) % (2 * np.pi) - np.pi


def _true_segments(hits: pd.DataFrame) -> set[tuple[int, int]]:
    """(inner hit_id, outer hit_id) of every pair of hits of one particle on adjacent layers."""
    t = hits[hits["particle_id"] >= 0][["particle_id", "layer", "hit_id"]]
    nxt = t.assign(layer=t["layer"] - 1)
    pairs = t.merge(nxt, on=["particle_id", "layer"], suffixes=("_in", "_out"))
    return set(zip(pairs["hit_id_in"].tolist(), pairs["hit_id_out"].tolist(), strict=True))


def event_graphs(hits: pd.DataFrame, geom: SectorGeometry, senders: np.ndarray, receivers: np.ndarray,
                 event_id: int = 0) -> tuple[SectorGraphs, SegmentLoss]:
    """All sector graphs of one event and the bookkeeping of its true segments."""
    g, n, k, d = geom.n_sectors, geom.n_nodes, geom.slots_per_layer, geom.depth
    layer = hits["layer"].to_numpy(np.int64)
    phi = hits["phi"].to_numpy(np.float64)
    feats = np.stack([hits["r"].to_numpy() / _R_SCALE_MM, np.zeros(len(hits)), hits["z"].to_numpy() / _Z_SCALE_MM,
                      hits["bend"].to_numpy() / _BEND_SCALE], axis=1).astype(np.float32)
    hid = hits["hit_id"].to_numpy(np.int64)
    pid = hits["particle_id"].to_numpy(np.int64)
    nodes = np.zeros((g, n, len(NODE_FEATURES)), np.float32)
    hit_slot = np.full((g, n), -1, np.int64)  # row index into hits
    in_span = np.zeros((g, len(hits)), bool)
    for s in range(g):
        centre = -np.pi + (s + 0.5) * geom.sector_width
        loc = _wrap(phi - centre)
        inside = np.abs(loc) < geom.half_span
        in_span[s] = inside
        rows = np.flatnonzero(inside)
        b = np.minimum(((loc[rows] + geom.half_span) / geom.bin_width).astype(np.int64), geom.n_bins - 1)
        # slots fill in φ order inside a bin; hits past the bin's depth overflow and are dropped
        order = np.lexsort((loc[rows], b, layer[rows]))
        rows, b = rows[order], b[order]
        key = layer[rows] * geom.n_bins + b
        first = np.searchsorted(key, key, side="left")
        rank = np.arange(len(rows)) - first
        keep = rank < d
        slot = layer[rows] * k + b * d + rank
        rows, slot = rows[keep], slot[keep]
        hit_slot[s, slot] = rows
        nodes[s, slot] = feats[rows]
        nodes[s, slot, 1] = loc[rows] / geom.half_span
    node_valid = hit_slot >= 0
    safe = np.maximum(hit_slot, 0)
    hs, hr = safe[:, senders], safe[:, receivers]
    both = node_valid[:, senders] & node_valid[:, receivers]
    r, z = hits["r"].to_numpy(), hits["z"].to_numpy()
    dphi = _wrap(phi[hr] - phi[hs]) if len(hits) else np.zeros(hs.shape)
    dz = z[hr] - z[hs] if len(hits) else np.zeros(hs.shape)
    dr = r[hr] - r[hs] if len(hits) else np.ones(hs.shape)
    z0 = (z[hs] - r[hs] * dz / np.where(dr > 0, dr, 1.0)) if len(hits) else np.zeros(hs.shape)
    pair = geom.node_layer()[senders]
    win, z0max = geom.dphi_window()[pair], np.asarray(geom.z0_max_mm)[pair]
    edge_valid = both & (np.abs(dphi) <= win) & (np.abs(z0) <= z0max)
    edges = np.stack([dphi / win, dz / _DZ_SCALE_MM, z0 / z0max], axis=2).astype(np.float32)
    edges[~edge_valid] = 0.0
    label = edge_valid & (pid[hs] == pid[hr]) & (pid[hs] >= 0) if len(hits) else np.zeros(hs.shape, bool)
    graphs = SectorGraphs(geom, nodes, node_valid, edges, edge_valid, label,
                          np.full(g, event_id, np.int64), np.arange(g, dtype=np.int64),
                          np.where(node_valid, hid[safe] if len(hits) else -1, -1))
    return graphs, _segment_loss(hits, graphs, in_span, hit_slot, senders, receivers)


def _segment_loss(hits: pd.DataFrame, graphs: SectorGraphs, in_span: np.ndarray, hit_slot: np.ndarray,
                  senders: np.ndarray, receivers: np.ndarray) -> SegmentLoss:
    truth = _true_segments(hits)
    row_of = {h: i for i, h in enumerate(hits["hit_id"].tolist())}
    node_valid = hit_slot >= 0
    s_idx, e_idx = np.nonzero(graphs.edge_label)
    kept = set(zip(graphs.hit_id[s_idx, senders[e_idx]].tolist(), graphs.hit_id[s_idx, receivers[e_idx]].tolist(),
                   strict=True))
    placed = np.zeros(in_span.shape, bool)
    for s in range(len(graphs)):
        placed[s, hit_slot[s, node_valid[s]]] = True
    loss = SegmentLoss(total=len(truth))
    for a, b in truth:
        if (a, b) in kept:
            loss.kept += 1
            continue
        ia, ib = row_of[a], row_of[b]
        shared = in_span[:, ia] & in_span[:, ib]
        if not shared.any():
            loss.lost_sector += 1
        elif not (shared & placed[:, ia] & placed[:, ib]).any():
            loss.lost_overflow += 1
        else:
            loss.lost_window += 1
    return loss


def build_graphs(hits: pd.DataFrame, geom: SectorGeometry | None = None,
                 progress: bool = False) -> tuple[SectorGraphs, SegmentLoss]:
    """Sector graphs of every event in a hits table (``l1ml simulate tracks``) and the segment losses."""
    geom = geom or SectorGeometry()
    missing = [c for c in HIT_COLUMNS if c not in hits.columns]
    if missing:
        raise InputFileError(f"hits table lacks column(s) {', '.join(missing)}; make it with "
                             "`l1ml simulate tracks -o DIR` and pass DIR/hits.parquet")
    senders, receivers = static_edges(geom)
    parts, total = [], SegmentLoss()
    groups = list(hits.groupby("event_id", sort=True))
    iterator = groups
    if progress:
        from rich.progress import track

        iterator = track(groups, description="building sector graphs")
    for event_id, ev in iterator:
        graphs, loss = event_graphs(ev.reset_index(drop=True), geom, senders, receivers, int(event_id))
        parts.append(graphs)
        total.add(loss)
    if not parts:
        raise InputFileError("hits table has no events; simulate some with `l1ml simulate tracks`")
    cat = {f: np.concatenate([getattr(p, f) for p in parts]) for f in
           ("nodes", "node_valid", "edges", "edge_valid", "edge_label", "event_id", "sector", "hit_id")}
    return SectorGraphs(geom, **cat), total
