"""Tracking metrics against truth (the simulator's side of the rule: metrics may read truth).

GOSPA, the generalized optimal sub-pattern assignment metric with α = 2
(Rahmathullah, García-Fernández & Svensson, "Generalized optimal sub-pattern
assignment metric", FUSION 2017, Prop. 1):

    d = ( min_γ Σ_{(i,j)∈γ} d(x_i, y_j)^p + c^p/2 · (|X| + |Y| − 2|γ|) )^(1/p)

over assignments γ of pairs closer than the cut-off c.  Its three parts —
localisation (assigned pairs), missed (truths left out) and false (tracks left
out) — are reported separately, each as the p-th power share so that
``total^p = loc + missed + false``.

The SIAP measures (completeness, ambiguity, spuriousness, accuracy, track
continuity) live in :mod:`tdome.analysis.siap` and filter consistency (NEES)
in :mod:`tdome.analysis.consistency`; both are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations

import numpy as np
from numba import njit
from scipy.optimize import linear_sum_assignment

from tdome.analysis.consistency import NeesSummary, nees, nees_band, nees_summary
from tdome.analysis.siap import Siap, associate_nearest, association_errors, siap

__all__ = [
    "Gospa",
    "NeesSummary",
    "Siap",
    "associate_nearest",
    "association_errors",
    "gospa",
    "gospa_brute",
    "nees",
    "nees_band",
    "nees_summary",
    "siap",
]


@dataclass(frozen=True)
class Gospa:
    total: float
    localisation: float  # Σ d^p over assigned pairs
    missed: float  # c^p/2 × missed truths
    false: float  # c^p/2 × false tracks
    n_missed: int
    n_false: int


def gospa(truth: np.ndarray, est: np.ndarray, c: float = 5000.0, p: float = 2.0) -> Gospa:
    """GOSPA (α = 2) between truth positions (m, d) and estimates (n, d)."""
    m, n = len(truth), len(est)
    half = c**p / 2.0
    if m == 0 or n == 0:
        return Gospa((half * (m + n)) ** (1 / p), 0.0, half * m, half * n, m, n)
    truth, est = np.ascontiguousarray(truth, dtype=float), np.ascontiguousarray(est, dtype=float)
    # numpy's norm sums eight or more squares pairwise: there it stays numpy's
    d = distances(truth, est) if truth.shape[1] < 8 else np.linalg.norm(truth[:, None] - est[None], axis=-1)
    r, k = linear_sum_assignment(np.minimum(d, c) ** p)
    d_pairs = d[r, k]
    good = d_pairs < c
    loc = float(np.sum(d_pairs[good] ** p))
    n_pairs = int(np.count_nonzero(good))
    n_missed, n_false = m - n_pairs, n - n_pairs
    missed, false = half * n_missed, half * n_false
    return Gospa(float((loc + missed + false) ** (1 / p)), loc, missed, false, n_missed, n_false)


@njit(cache=True)
def distances(x, y):  # pragma: no cover - compiled; held to numpy's norm in tests/test_metrics.py
    """d_ij = ‖x_i − y_j‖ between the rows of ``x`` (m, d) and ``y`` (n, d): GOSPA's distance matrix (m, n).

    The squares are summed in coordinate order, (Δ₀² + Δ₁²) + Δ₂², as
    ``np.linalg.norm(x[:, None] - y[None], axis=-1)`` sums fewer than eight,
    so for d < 8 the distances are numpy's to the last bit.
    """
    m, n, dim = x.shape[0], y.shape[0], x.shape[1]
    d = np.empty((m, n))
    for i in range(m):
        for j in range(n):
            s = 0.0
            for k in range(dim):
                delta = x[i, k] - y[j, k]
                s += delta * delta
            d[i, j] = np.sqrt(s)
    return d


def gospa_brute(truth: np.ndarray, est: np.ndarray, c: float = 5000.0, p: float = 2.0) -> float:
    """GOSPA by enumerating every partial assignment (for testing on tiny sets)."""
    m, n = len(truth), len(est)
    if m > n:
        truth, est, m, n = est, truth, n, m
    best = np.inf
    for perm in permutations(range(n), m):
        s = 0.0
        for i, j in enumerate(perm):
            s += min(float(np.linalg.norm(truth[i] - est[j])), c) ** p
        best = min(best, s + c**p / 2 * (n - m))
    return float(best ** (1 / p))
