"""Fraction of true track segments lost to slot overflow in fixed-slot sector graphs at <PU> = 200 and 50.

Simulates ttbar events with 2 GeV stubs (``l1ml simulate tracks --stub-pt 2``), builds the sector graphs
for a few slot depths and prints, per pileup and K, the fractions kept / lost to sectors, to slot
overflow and to the edge window. Small by default for a 2-core machine (about a minute):

    python benchmarks/track_graph_overflow.py --events 50
"""

from __future__ import annotations

import argparse
import dataclasses
import time

from l1ml.simulation.pythia import Process
from l1ml.simulation.track_graphs import SectorGeometry, build_graphs, static_edges
from l1ml.simulation.tracker import TrackerConfig, TrackSample, simulate_tracks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--depths", default="2,4,6,8", help="slots per φ-bin to compare (K = 6 * depth)")
    args = ap.parse_args()
    base = SectorGeometry()
    print(f"sectors {base.n_sectors}, bins/layer {base.n_bins}, layers {base.n_layers}, "
          f"events {args.events}, stub pT > 2 GeV")
    print(f"{'PU':>4} {'K':>3} {'nodes':>5} {'edges':>5} {'hits/layer/sector':>17} {'kept':>6} "
          f"{'sector':>6} {'overflow':>8} {'window':>6}")
    for pu in (200.0, 50.0):
        t0 = time.perf_counter()
        sample = TrackSample(process=Process.TTBAR, pileup=pu, tracker=TrackerConfig(stub_pt_min=2.0))
        hits = simulate_tracks(args.events, args.seed, sample, workers=args.workers, progress=False)["hits"]
        occupancy = len(hits) / args.events / base.n_layers / base.n_sectors
        for depth in (int(d) for d in args.depths.split(",")):
            geom = dataclasses.replace(base, depth=depth)
            _, loss = build_graphs(hits, geom)
            f = loss.fractions()
            print(f"{pu:4.0f} {geom.slots_per_layer:3d} {geom.n_nodes:5d} {len(static_edges(geom)[0]):5d} "
                  f"{occupancy:17.1f} {f['kept']:6.3f} {f['lost_sector']:6.3f} {f['lost_overflow']:8.3f} "
                  f"{f['lost_window']:6.3f}")
        print(f"     ({loss.total} true segments, {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
