"""Correlation clustering of features: |correlation| -> distance -> hierarchical clustering -> cut.

Correlations are computed on the training split without event weights: they describe how the
variables are built (duplicates, near-copies), and signed weights would make a correlation matrix
that is not positive semi-definite.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.cluster import hierarchy
from scipy.spatial.distance import squareform
from scipy.stats import rankdata

from l1ml.offline.config import Correlation, Linkage


def correlation_matrix(x: np.ndarray, kind: Correlation) -> np.ndarray:
    """Pearson correlation of the columns, or of their ranks for Spearman; constant columns get 0."""
    data = rankdata(x, axis=0) if kind is Correlation.SPEARMAN else np.asarray(x, np.float64)
    std = data.std(axis=0)
    centred = (data - data.mean(axis=0)) / np.where(std > 0, std, 1.0)
    corr = centred.T @ centred / len(data)
    corr[std == 0, :] = 0.0
    corr[:, std == 0] = 0.0
    np.fill_diagonal(corr, 1.0)
    return np.clip(corr, -1.0, 1.0)


@dataclass(frozen=True)
class Clustering:
    """The linkage tree over the features and the correlation it came from."""

    features: list[str]
    corr: np.ndarray
    linkage: np.ndarray

    def clusters(self, threshold: float) -> list[list[str]]:
        """Cut the tree at distance `threshold` (1 - |rho|); clusters sorted by their first feature."""
        if len(self.features) == 1:
            return [list(self.features)]
        labels = hierarchy.fcluster(self.linkage, t=threshold, criterion="distance")
        groups: dict[int, list[str]] = {}
        for name, label in zip(self.features, labels, strict=True):
            groups.setdefault(int(label), []).append(name)
        return sorted((sorted(g) for g in groups.values()), key=lambda g: g[0])

    def leaf_order(self) -> list[int]:
        """Feature indices in dendrogram order, for plotting the correlation matrix."""
        if len(self.features) == 1:
            return [0]
        return [int(i) for i in hierarchy.leaves_list(self.linkage)]


def cluster_features(
    x: np.ndarray, features: Sequence[str], kind: Correlation, method: Linkage
) -> Clustering:
    """Build the hierarchical clustering of the feature columns of x."""
    corr = correlation_matrix(x, kind)
    distance = 1.0 - np.abs(corr)
    np.fill_diagonal(distance, 0.0)
    distance = (distance + distance.T) / 2.0
    if len(features) > 1:
        tree = hierarchy.linkage(squareform(distance, checks=False), method=method.value)
    else:
        tree = np.zeros((0, 4))
    return Clustering(list(features), corr, tree)


def representatives(clusters: Sequence[Sequence[str]], importance: Mapping[str, float]) -> list[str]:
    """Keep the most important member of each cluster (name order breaks ties)."""
    return [min(cluster, key=lambda f: (-importance.get(f, 0.0), f)) for cluster in clusters]
