"""Gating: which plots of a scan each track could have produced.

Interface::

    gate(x_pred, P_pred, z, R, plot_pos, plot_cov, measure, gamma, tree) -> GatedPairs
    GatedPairs: track–plot pairs inside the gate, with innovation ν, Jacobian H,
                innovation covariance S, d² = νᵀ S⁻¹ ν, ln|S| and the GNN cost of each pair

Two stages, vectorised over tracks and plots:

1. **Spatial prefilter** (:func:`candidate_pairs`).  A ball around each
   predicted track position (every plot tested, in one compiled loop, for
   the usual few hundred tracks and plots; a k-d tree on the plots' ECEF
   positions for many more) whose radius bounds the measurement-space gate: if
   ``d² = νᵀ S⁻¹ ν ≤ γ`` then, to first order, the Cartesian offset satisfies
   ``|Δp| ≤ √(γ λ_max(P_pp + C_plot)) ≤ √(γ (tr P_pp + tr C_plot))``.
2. **Gating** (:func:`gate`).  For candidate pairs only, the exact
   innovation ``ν = z - h(x⁻)`` (azimuth wrapped), ``S = H P⁻ Hᵀ + R`` and the
   squared Mahalanobis distance ``d² = νᵀ S⁻¹ ν``; pairs with
   ``d² > γ = χ²_k⁻¹(P_G)`` are dropped (Bar-Shalom, Li & Kirubarajan 2001,
   §3.3 and §6.4.2; Blackman & Popoli 1999, §6.3).  The measurement model
   runs once per track with a candidate, and the pairs' ``S``, ``S⁻¹`` and
   ``d²`` in one compiled loop (:func:`_gate_pairs`).

Each pair carries its GNN cost ``d² + ln|S|`` (twice the negative log
likelihood of the plot up to a constant, Blackman & Popoli §6.5), so a tight,
confirmed track is preferred over a loose, fresh one for the same plot; an
estimator whose tracks are Gaussian mixtures (the IMM) sets the mixture's
version instead.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from tdome.c2.tracking.gaussian import _chol_inv_logdet, _mahalanobis2, chi2_quantile, spd_inv_logdet
from tdome.c2.tracking.measurements import PolarRadar, _polar_stack

if TYPE_CHECKING:  # scipy.spatial is imported when a tree is first needed (scans too large for the brute-force test)
    from scipy.spatial import cKDTree

_EMPTY_I = np.empty(0, dtype=np.intp)
_BRUTE_FORCE_MAX_PAIRS = 200_000  # up to this many track x plot tests, every pair is tested; beyond, a k-d tree


def gate_threshold(gate_probability: float, dim: int) -> float:
    """Chi-square gate ``γ`` such that ``P(d² ≤ γ) = gate_probability`` for a ``dim``-D innovation."""
    return chi2_quantile(gate_probability, dim)


def candidate_pairs(track_pos, radius_m, plot_pos, tree: cKDTree | None = None):
    """(track, plot) index pairs whose ECEF positions lie within ``radius_m[track]`` of each other.

    ``track_pos`` (n, 3), ``radius_m`` (n,), ``plot_pos`` (m, 3).  Returns two
    index arrays of equal length, sorted by track.
    """
    n = len(track_pos)
    if n == 0 or len(plot_pos) == 0:
        return _EMPTY_I, _EMPTY_I
    if tree is None and n * len(plot_pos) <= _BRUTE_FORCE_MAX_PAIRS:
        return _ball_pairs(np.ascontiguousarray(track_pos, dtype=float),
                           np.ascontiguousarray(np.broadcast_to(radius_m, (n,)), dtype=float),
                           np.ascontiguousarray(plot_pos, dtype=float))
    if tree is None:
        from scipy.spatial import cKDTree

        tree = cKDTree(plot_pos)
    if n > _DUAL_TREE_MIN_TRACKS:
        return _dual_tree_pairs(np.asarray(track_pos, dtype=float), np.asarray(radius_m, dtype=float), tree)
    hits = tree.query_ball_point(track_pos, r=radius_m, return_sorted=False)
    counts = np.fromiter(map(len, hits), dtype=np.intp, count=n)
    plots = np.fromiter(itertools.chain.from_iterable(hits), dtype=np.intp, count=int(counts.sum()))
    return np.repeat(np.arange(n), counts), plots


_DUAL_TREE_MIN_TRACKS = 300  # above this many tracks a dual-tree search beats one ball query per track


@njit(cache=True)
def _ball_pairs(track_pos, radius, plot_pos):  # pragma: no cover - compiled
    """Every (track, plot) with ``|p_plot - p_track| ≤ radius[track]``, tested pair by pair, sorted by track."""
    n, m = track_pos.shape[0], plot_pos.shape[0]
    ti = np.empty(n * m, dtype=np.intp)
    pj = np.empty(n * m, dtype=np.intp)
    c = 0
    for i in range(n):
        r2 = radius[i] * radius[i]
        for j in range(m):
            dx = plot_pos[j, 0] - track_pos[i, 0]
            dy = plot_pos[j, 1] - track_pos[i, 1]
            dz = plot_pos[j, 2] - track_pos[i, 2]
            if dx * dx + dy * dy + dz * dz <= r2:
                ti[c], pj[c] = i, j
                c += 1
    return ti[:c].copy(), pj[:c].copy()


def _dual_tree_pairs(track_pos, radius_m, tree: cKDTree):
    """:func:`candidate_pairs` by dual-tree search, for many tracks.

    Tracks are grouped by radius within a factor of two; each group's tree
    is matched against the plots' tree at the group's largest radius
    (:meth:`cKDTree.sparse_distance_matrix`, one C call returning arrays),
    then each pair is kept if it is within its own track's radius.  The
    per-track Python lists of the ball query are what this avoids.
    """
    from scipy.spatial import cKDTree

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
    angle = np.zeros(k, dtype=bool)
    angle[list(measure.angle_components)] = True
    z = np.ascontiguousarray(z, dtype=float)
    R = np.ascontiguousarray(R, dtype=float)
    P_pred = np.ascontiguousarray(P_pred, dtype=float)
    plot_cov = np.ascontiguousarray(plot_cov, dtype=float)
    if tree is None and n * m <= _BRUTE_FORCE_MAX_PAIRS and isinstance(measure, PolarRadar) and d == 6:
        # The usual scan, a radar's plots against 6-D tracks: one compiled call.
        ti, pj, nu, H, S, d2, logdet, ok = _gate_polar(np.ascontiguousarray(x_pred, dtype=float), P_pred, z, R,
                                                       np.ascontiguousarray(plot_pos, dtype=float), plot_cov,
                                                       measure.site_ecef, measure.enu_rot, measure.with_rdot,
                                                       angle, gamma)
        if ok.all():
            return GatedPairs(ti, pj, nu, H, S, d2, logdet)
        return _repaired_gate(ti, pj, nu, H, S, d2, logdet, ok, gamma)
    tr_plot = _max_trace3(plot_cov)
    if tree is None and n * m <= _BRUTE_FORCE_MAX_PAIRS:
        # The usual scan: the measurement model on every track, then one compiled pass over the pairs.
        z_pred, H_t = measure(x_pred)
        ti, pj = _ball_pairs(np.ascontiguousarray(x_pred[:, :3], dtype=float), _gate_radius(P_pred, tr_plot, gamma),
                             np.ascontiguousarray(plot_pos, dtype=float))
        inv = ti
    else:
        ti, pj = candidate_pairs(x_pred[:, :3], _gate_radius(P_pred, tr_plot, gamma), plot_pos, tree)
        # Measurement prediction once per involved track, then per pair.
        trk, inv = np.unique(ti, return_inverse=True)
        z_pred, H_t = measure(x_pred[trk])
        P_pred = np.ascontiguousarray(P_pred[trk])
    if ti.size == 0:
        return empty(ti, pj)
    nu, S, d2, logdet, ok = _gate_pairs(inv, pj, z, z_pred, np.ascontiguousarray(H_t), P_pred, R, angle)
    return _repaired_gate(ti, pj, nu, H_t[inv], S, d2, logdet, ok, gamma)


def _repaired_gate(ti, pj, nu, H, S, d2, logdet, ok, gamma: float) -> GatedPairs:
    """The pairs with ``d² ≤ γ``, ``d²`` and ``ln|S|`` of the pairs not ``ok`` from the repaired inverse.

    ``ok`` False: ``S`` not numerically positive definite (:func:`spd_inv_logdet` repairs it).
    """
    if not ok.all():
        bad = ~ok
        Sinv, logdet[bad] = spd_inv_logdet(S[bad])
        d2[bad] = np.einsum("pi,pij,pj->p", nu[bad], Sinv, nu[bad])
    keep = d2 <= gamma
    return GatedPairs(ti[keep], pj[keep], nu[keep], H[keep], S[keep], d2[keep], logdet[keep])


@njit(cache=True)
def _gate_polar(x, P, z, R, plot_pos, plot_cov, site_ecef, enu_rot, with_rdot, angle,
                gamma):  # pragma: no cover - compiled
    """:func:`gate` of a radar's plots against 6-D tracks by brute force, in one call.

    The prefilter on every pair (:func:`_gate_radius`, :func:`_ball_pairs`),
    the radar's measurement model on each track in a pair (:func:`_polar_stack`),
    then :func:`_gate_pairs`.  Returns ``(track, plot, ν, H, S, d², ln|S|, ok)``
    of the pairs with ``d² ≤ γ`` when every ``S`` factorised (``ok`` all
    True), else of every candidate pair, for :func:`_repaired_gate`.
    """
    ti, pj = _ball_pairs(x[:, :3], _gate_radius(P, _max_trace3(plot_cov), gamma), plot_pos)
    npair = ti.shape[0]
    inv = np.empty(npair, dtype=np.intp)  # each pair's track among the tracks in a pair (ti is sorted)
    involved = np.empty(npair, dtype=np.intp)
    nt = 0
    for p in range(npair):
        if nt == 0 or involved[nt - 1] != ti[p]:
            involved[nt] = ti[p]
            nt += 1
        inv[p] = nt - 1
    z_pred, H_t = _polar_stack(x[involved[:nt]], site_ecef, enu_rot, with_rdot)
    nu, S, d2, logdet, ok = _gate_pairs(inv, pj, z, z_pred, H_t, P[involved[:nt]], R, angle)
    all_ok = True
    for p in range(ok.shape[0]):
        all_ok = all_ok and ok[p]
    keep = np.empty(npair, dtype=np.bool_)
    c = 0
    for p in range(npair):
        keep[p] = d2[p] <= gamma or not all_ok
        c += keep[p]
    k, d = H_t.shape[1], H_t.shape[2]
    out_t, out_p = np.empty(c, dtype=np.intp), np.empty(c, dtype=np.intp)
    out_nu, out_h, out_s = np.empty((c, k)), np.empty((c, k, d)), np.empty((c, k, k))
    out_d2, out_ld, out_ok = np.empty(c), np.empty(c), np.empty(c, dtype=np.bool_)
    c = 0
    for p in range(npair):
        if keep[p]:
            out_t[c], out_p[c], out_d2[c], out_ld[c], out_ok[c] = ti[p], pj[p], d2[p], logdet[p], ok[p]
            out_nu[c] = nu[p]
            out_h[c] = H_t[inv[p]]
            out_s[c] = S[p]
            c += 1
    return out_t, out_p, out_nu, out_h, out_s, out_d2, out_ld, out_ok


@njit(cache=True)
def _max_trace3(C):  # pragma: no cover - compiled
    """Largest trace of the matrices of a stack (m, 3, 3)."""
    t = 0.0
    for p in range(C.shape[0]):
        t = max(t, C[p, 0, 0] + C[p, 1, 1] + C[p, 2, 2])
    return t


@njit(cache=True)
def _gate_radius(P, tr_plot, gamma):  # pragma: no cover - compiled
    """Prefilter radius of each track: ``1.2 √(γ (tr P_pp + max tr C_plot)) + 100 m``.

    The 20 % and 100 m slack cover the linearisation of the Cartesian bound
    (module docstring).
    """
    n = P.shape[0]
    out = np.empty(n)
    for i in range(n):
        out[i] = 1.2 * np.sqrt(gamma * (P[i, 0, 0] + P[i, 1, 1] + P[i, 2, 2] + tr_plot)) + 100.0
    return out


@njit(cache=True)
def _gate_pairs(inv, pj, z, z_pred, H_t, P_t, R, angle):  # pragma: no cover - compiled
    """Innovation, its covariance and ``d²`` of each pair (track ``inv[p]`` of the involved, plot ``pj[p]``).

    ``ν = z - h(x⁻)`` (angle columns wrapped to (-π, π]), ``S = H P⁻ Hᵀ + R``
    (``H P⁻ Hᵀ`` once per track), ``d² = νᵀ S⁻¹ ν``; returns ``(ν, S, d², ln|S|,
    ok)``, ``ok`` False where the Cholesky factorisation refused ``S``.
    """
    nt, k, d = H_t.shape[0], H_t.shape[1], H_t.shape[2]
    npair = inv.shape[0]
    HPHt = np.empty((nt, k, k))
    HP = np.empty((k, d))
    for t in range(nt):
        for a in range(k):
            for j in range(d):
                s = 0.0
                for m in range(d):
                    s += H_t[t, a, m] * P_t[t, m, j]
                HP[a, j] = s
        for a in range(k):
            for b in range(k):
                s = 0.0
                for m in range(d):
                    s += HP[a, m] * H_t[t, b, m]
                HPHt[t, a, b] = s
    nu = np.empty((npair, k))
    S = np.empty((npair, k, k))
    d2 = np.empty(npair)
    logdet = np.zeros(npair)
    ok = np.empty(npair, dtype=np.bool_)
    Ss = np.empty((k, k))
    Sinv = np.empty((k, k))
    L = np.empty((k, k))
    for p in range(npair):
        t, j = inv[p], pj[p]
        for a in range(k):
            v = z[j, a] - z_pred[t, a]
            if angle[a]:
                v = np.pi - (np.pi - v) % (2.0 * np.pi)
            nu[p, a] = v
            for b in range(k):
                S[p, a, b] = HPHt[t, a, b] + R[j, a, b]
        for a in range(k):
            for b in range(k):
                Ss[a, b] = 0.5 * (S[p, a, b] + S[p, b, a])
        ok[p], logdet[p] = _chol_inv_logdet(Ss, Sinv, L)
        d2[p] = _mahalanobis2(Sinv, nu[p])
    return nu, S, d2, logdet, ok
