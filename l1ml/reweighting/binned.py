"""Binned reweighter: the ratio of n-dimensional target and original histograms.

Exact in the limit of many events per bin, but the number of bins grows as ``n_bins ** n_variables``,
so beyond two or three variables most bins hold a handful of events and the ratio becomes noise. It is
kept as the transparent baseline that the boosted and classifier reweighters are compared against.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from l1ml.errors import L1MLError
from l1ml.reweighting.base import ProgressHook, Reweighter, balanced

#: Above this many histogram cells the reweighter refuses to allocate (80 bytes/cell with two histograms).
MAX_CELLS = 20_000_000


class BinsReweighter(Reweighter):
    """Histogram-ratio weights on quantile bins, smoothed with a Gaussian kernel in bin units."""

    def __init__(self, n_bins: int = 10, smoothing: float = 0.5, pseudocount: float = 1.0):
        if n_bins < 1:
            raise L1MLError(f"n_bins must be at least 1, got {n_bins}")
        if smoothing < 0 or pseudocount < 0:
            raise L1MLError("smoothing and pseudocount must be non-negative")
        self.n_bins = n_bins
        #: Width (in bins) of the Gaussian kernel applied to both histograms before the ratio; 0 = none.
        self.smoothing = smoothing
        #: Events added to every bin of both histograms, so bins without target events keep some weight.
        self.pseudocount = pseudocount

    def _fit(self, x_o: np.ndarray, x_t: np.ndarray, w_o: np.ndarray, w_t: np.ndarray,
             progress: ProgressHook | None) -> None:
        w_o, w_t = balanced(w_o, w_t)
        both = np.concatenate([x_o, x_t])
        levels = np.linspace(0, 1, self.n_bins + 1)[1:-1]
        # Inner edges only: events outside the fitted range fall into the first or last bin.
        self.edges_ = [np.unique(np.quantile(both[:, j], levels)) for j in range(both.shape[1])]
        self.shape_ = tuple(len(e) + 1 for e in self.edges_)
        n_cells = int(np.prod(self.shape_, dtype=np.float64))
        if n_cells > MAX_CELLS:
            raise L1MLError(
                f"binned reweighting with {self.n_bins} bins in {len(self.shape_)} variables needs "
                f"{n_cells:.3g} cells (limit {MAX_CELLS:.0e}); use fewer bins or the gb/classifier method"
            )
        hist_o = self._histogram(x_o, w_o)
        hist_t = self._histogram(x_t, w_t)
        if self.smoothing > 0:
            hist_o = gaussian_filter(hist_o, self.smoothing, mode="nearest")
            hist_t = gaussian_filter(hist_t, self.smoothing, mode="nearest")
        self.log_ratio_ = np.log((hist_t + self.pseudocount) / (hist_o + self.pseudocount)).reshape(-1)
        if progress is not None:
            progress(1, 1, "histograms")

    def _cell(self, x: np.ndarray) -> np.ndarray:
        index = [np.searchsorted(e, x[:, j], side="right") for j, e in enumerate(self.edges_)]
        return np.ravel_multi_index(index, self.shape_)

    def _histogram(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        n_cells = int(np.prod(self.shape_))
        return np.bincount(self._cell(x), weights=w, minlength=n_cells).reshape(self.shape_)

    def _log_ratio(self, x: np.ndarray) -> np.ndarray:
        return self.log_ratio_[self._cell(x)]
