"""Simulation companion: Pythia8 events, boosted-jet datasets, a Phase-2-like tracker and HGCal cells.

Heavy dependencies (pythia8mc, fastjet, matplotlib) are imported inside functions, so importing this
package is cheap.
"""
