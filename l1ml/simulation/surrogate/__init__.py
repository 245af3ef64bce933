"""Generative fast-simulation surrogate of the HGCal cluster response, and its validation.

A conditional normalizing flow maps a particle's (E, eta, phi, type) to the energies of its trigger-cell
cluster in longitudinal compartments. ``metrics`` holds the statistics (KS, Wasserstein, classifier
two-sample test, binned moments), ``flow`` the model, ``data`` the training sets from the parametrised
simulation, ``report`` the validation report with an ensemble for the systematic uncertainty. Torch
is imported only by ``flow`` and ``report``.
"""
