"""Gating: which plots of a scan each track could have produced.

Interface::

    gate(x_pred, P_pred, z, R, plot_pos, plot_cov, measure, gamma, tree) -> GatedPairs
    GatedPairs: track–plot pairs inside the gate, with innovation ν, Jacobian H,
                innovation covariance S, d² = νᵀ S⁻¹ ν, ln|S| and the GNN cost of each pair

Two stages, vectorised over tracks and plots:

1. **Spatial prefilter** (:func:`candidate_pairs`).  A k-d tree on the plots'
   ECEF positions is queried with a ball around each predicted track
   position whose radius bounds the measurement-space gate: if
   ``d² = νᵀ S⁻¹ ν ≤ γ`` then, to first order, the Cartesian offset satisfies
   ``|Δp| ≤ √(γ λ_max(P_pp + C_plot)) ≤ √(γ (tr P_pp + tr C_plot))``.
2. **Gating** (:func:`gate`).  For candidate pairs only, the exact
   innovation ``ν = z - h(x⁻)`` (azimuth wrapped), ``S = H P⁻ Hᵀ + R`` and the
   squared Mahalanobis distance ``d² = νᵀ S⁻¹ ν``; pairs with
   ``d² > γ = χ²_k⁻¹(P_G)`` are dropped (Bar-Shalom, Li & Kirubarajan 2001,
   §3.3 and §6.4.2; Blackman & Popoli 1999, §6.3).

Each pair carries its GNN cost ``d² + ln|S|`` (twice the negative log
likelihood of the plot up to a constant, Blackman & Popoli §6.5), so a tight,
confirmed track is preferred over a loose, fresh one for the same plot; an
estimator whose tracks are Gaussian mixtures (the IMM) sets the mixture's
version instead.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree
from scipy.stats import chi2

from tdome.c2.tracking.gaussian import spd_inv_logdet
from tdome.c2.tracking.measurements import wrapped_residual

_EMPTY_I = np.empty(0, dtype=np.intp)


def gate_threshold(gate_probability: float, dim: int) -> float:
    """Chi-square gate ``γ`` such that ``P(d² ≤ γ) = gate_probability`` for a ``dim``-D innovation."""
    return float(chi2.ppf(gate_probability, dim))


def candidate_pairs(track_pos, radius_m, plot_pos, tree: cKDTree | None = None):
    """(track, plot) index pairs whose ECEF positions lie within ``radius_m[track]`` of each other.

    ``track_pos`` (n, 3), ``radius_m`` (n,), ``plot_pos`` (m, 3).  Returns two
    index arrays of equal length, sorted by track.
    """
    n = len(track_pos)
    if n == 0 or len(plot_pos) == 0:
        return _EMPTY_I, _EMPTY_I
    tree = cKDTree(plot_pos) if tree is None else tree
    if n > _DUAL_TREE_MIN_TRACKS:
        return _dual_tree_pairs(np.asarray(track_pos, dtype=float), np.asarray(radius_m, dtype=float), tree)
    hits = tree.query_ball_point(track_pos, r=radius_m, return_sorted=False)
    counts = np.fromiter(map(len, hits), dtype=np.intp, count=n)
    plots = np.fromiter(itertools.chain.from_iterable(hits), dtype=np.intp, count=int(counts.sum()))
    return np.repeat(np.arange(n), counts), plots


_DUAL_TREE_MIN_TRACKS = 300  # above this many tracks a dual-tree search beats one ball query per track


def _dual_tree_pairs(track_pos, radius_m, tree: cKDTree):
    """:func:`candidate_pairs` by dual-tree search, for many tracks.

    Tracks are grouped by radius within a factor of two; each group's tree
    is matched against the plots' tree at the group's largest radius
    (:meth:`cKDTree.sparse_distance_matrix`, one C call returning arrays),
    then each pair is kept if it is within its own track's radius.  The
    per-track Python lists of the ball query are what this avoids.
    """
    group = np.ceil(np.log2(np.maximum(radius_m, 1.0))).astype(np.intp)
    ti_parts, pj_parts = [], []
    for g in np.unique(group):
        idx = np.flatnonzero(group == g)
        found = cKDTree(track_pos[idx]).sparse_distance_matrix(tree, float(radius_m[idx].max()), output_type="ndarray")
        keep = found["v"] <= radius_m[idx][found["i"]]
        ti_parts.append(idx[found["i"][keep]])
        pj_parts.append(found["j"][keep].astype(np.intp))
    ti, pj = np.concatenate(ti_parts), np.concatenate(pj_parts)
    order = np.lexsort((pj, ti))
    return ti[order], pj[order]


@dataclass(init=False)
class GatedPairs:
    """Track–plot pairs inside the gate, with what the update needs."""

    track: np.ndarray  # (k,) track rows
    plot: np.ndarray  # (k,) plot rows
    nu: np.ndarray  # (k, m) innovations, azimuth wrapped
    H: np.ndarray  # (k, m, 6) measurement Jacobians at the predicted state
    S: np.ndarray  # (k, m, m) innovation covariances
    d2: np.ndarray  # (k,) squared Mahalanobis distances
    log_det_S: np.ndarray  # (k,)  # noqa: N815 - log det S, the textbook name
    cost: np.ndarray  # (k,) GNN cost: d2 + log_det_S unless given

    def __init__(self, track: np.ndarray, plot: np.ndarray, nu: np.ndarray, H: np.ndarray, S: np.ndarray,
                 d2: np.ndarray, log_det_S: np.ndarray, cost: np.ndarray | None = None) -> None:  # noqa: N803 - the field log_det_S
        self.track, self.plot, self.nu, self.H, self.S = track, plot, nu, H, S
        self.d2, self.log_det_S = d2, log_det_S
        self.cost = d2 + log_det_S if cost is None else cost

    def __len__(self) -> int:
        return int(self.track.shape[0])

    def select(self, keep: np.ndarray) -> GatedPairs:
        return GatedPairs(self.track[keep], self.plot[keep], self.nu[keep], self.H[keep], self.S[keep],
                          self.d2[keep], self.log_det_S[keep], self.cost[keep])

    def concat(self, other: GatedPairs) -> GatedPairs:
        """These pairs followed by ``other``'s."""
        return GatedPairs(np.r_[self.track, other.track], np.r_[self.plot, other.plot],
                          np.concatenate([self.nu, other.nu]), np.concatenate([self.H, other.H]),
                          np.concatenate([self.S, other.S]), np.r_[self.d2, other.d2],
                          np.r_[self.log_det_S, other.log_det_S], np.r_[self.cost, other.cost])


def gate(x_pred, P_pred, z, R, plot_pos, plot_cov, measure, gamma: float, tree: cKDTree | None = None):
    """Gate one scan's plots against predicted tracks.

    ``x_pred`` (n, d), ``P_pred`` (n, d, d) predicted to the scan time;
    ``z`` (m, k) measurements, ``R`` (m, k, k); ``measure`` the scan's
    measurement model (:mod:`tdome.c2.tracking.measurements`: ``measure(x)
    -> (z_pred, H)``, angle columns wrapped); ``plot_pos`` (m, 3),
    ``plot_cov`` (m, 3, 3) the plots in ECEF (prefilter); ``gamma`` the
    chi-square gate for ``k`` dimensions.  Returns :class:`GatedPairs`.
    """
    n, m = len(x_pred), len(z)
    k = z.shape[1] if z.ndim == 2 else 3
    d = x_pred.shape[1] if x_pred.ndim == 2 else 6

    def empty(ti=_EMPTY_I, pj=_EMPTY_I):
        return GatedPairs(ti, pj, np.empty((0, k)), np.empty((0, k, d)), np.empty((0, k, k)), np.empty(0), np.empty(0))

    if n == 0 or m == 0:
        return empty()
    tr_trk = np.trace(P_pred[:, :3, :3], axis1=1, axis2=2)
    tr_plot = float(np.max(np.trace(plot_cov, axis1=1, axis2=2)))
    # 20 % and 100 m slack for the linearisation of the Cartesian bound.
    radius = 1.2 * np.sqrt(gamma * (tr_trk + tr_plot)) + 100.0
    ti, pj = candidate_pairs(x_pred[:, :3], radius, plot_pos, tree)
    if ti.size == 0:
        return empty(ti, pj)
    # Measurement prediction once per involved track, then per pair.
    trk, inv = np.unique(ti, return_inverse=True)
    z_pred, H_t = measure(x_pred[trk])
    HPHt = H_t @ P_pred[trk] @ np.swapaxes(H_t, -1, -2)
    nu = wrapped_residual(z[pj], z_pred[inv], measure.angle_components)
    H = H_t[inv]
    S = HPHt[inv] + R[pj]
    Sinv, logdet = spd_inv_logdet(S)
    d2 = np.einsum("pi,pij,pj->p", nu, Sinv, nu)
    ok = d2 <= gamma
    return GatedPairs(ti[ok], pj[ok], nu[ok], H[ok], S[ok], d2[ok], logdet[ok])
