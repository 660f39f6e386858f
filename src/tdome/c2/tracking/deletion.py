"""Deletion: the one place where tracks leave the table, for every reason.

Interface::

    delete(table, estimator, now_s, x_now, P_now, hit, rejected, config, stats) -> None

A track is deleted when

- its confirmation test rejects it (``rejected``, from :mod:`.initiation`:
  M-of-N out of reach, or the score below its deletion threshold or fallen
  from its peak);
- it has coasted: no plot for ``tentative_max_coast_s`` (tentative) or
  ``max_coast_s`` (confirmed).  A rule on consecutive missed opportunities
  would kill small, fluctuating targets that several radars cover but
  rarely detect;
- it is predicted more than 3σ below ``min_alt_m`` (impacted, or clutter
  whose velocity points into the ground; :func:`underground`);
- it duplicates another confirmed track (:func:`duplicates`), which then
  takes its state if it is the fresher.

``stats`` counts them: ``deleted``, ``deleted_confirmed``,
``deleted_coasted`` and ``deleted_underground`` (confirmed tracks), ``merged``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from tdome.c2.tracking.config import TrackerConfig
from tdome.c2.tracking.estimator import Estimator
from tdome.c2.tracking.gaussian import _chol_inv_logdet, spd_inv_logdet
from tdome.c2.tracking.track_table import TENTATIVE, TrackTable
from tdome.geo import geodetic_of


def delete(table: TrackTable, estimator: Estimator, now_s: float, x_now: np.ndarray, P_now: np.ndarray,
           hit: np.ndarray, rejected: np.ndarray, config: TrackerConfig, stats: dict[str, int]) -> None:
    """Delete the tracks that must go (module docstring); ``x_now``, ``P_now`` are the states at the scan time."""
    c = config
    cols = table.cols
    loser = duplicates(table, estimator, x_now, P_now, hit, c)
    stats["merged"] += int(loser.sum())
    age = now_s - cols["last_update_s"]
    tentative = cols["status"] == TENTATIVE
    coasted = np.where(tentative, age > c.tentative_max_coast_s, age > c.max_coast_s)
    below = underground(x_now, P_now, c.min_alt_m)
    dead = loser | coasted | rejected | below
    if dead.any():
        conf = dead & ~tentative
        stats["deleted"] += int(dead.sum())
        stats["deleted_confirmed"] += int(conf.sum())
        stats["deleted_coasted"] += int((conf & coasted).sum())
        stats["deleted_underground"] += int((conf & below & ~coasted).sum())
        table.keep(~dead)


def underground(x: np.ndarray, P: np.ndarray, min_alt_m: float) -> np.ndarray:
    """Tracks whose altitude is below ``min_alt_m`` by more than 3σ (σ along the local vertical)."""
    return _underground(np.ascontiguousarray(x, dtype=float), np.ascontiguousarray(P, dtype=float), float(min_alt_m))


@njit(cache=True)
def _underground(x, P, min_alt_m):  # pragma: no cover - compiled
    """``h + 3 √(uᵀ P_pp u) < min_alt_m`` track by track, ``u`` the local vertical at the track."""
    n = x.shape[0]
    out = np.empty(n, dtype=np.bool_)
    u = np.empty(3)
    for r in range(n):
        lat, lon, alt = geodetic_of(x[r, 0], x[r, 1], x[r, 2])
        u[0], u[1], u[2] = np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)
        var = 0.0
        for i in range(3):
            for j in range(3):
                var += u[i] * P[r, i, j] * u[j]
        out[r] = alt + 3.0 * np.sqrt(var) < min_alt_m
    return out


def duplicates(table: TrackTable, estimator: Estimator, x_now: np.ndarray, P_now: np.ndarray, hit: np.ndarray,
               config: TrackerConfig) -> np.ndarray:
    """Rows to delete as duplicates of another confirmed track.

    Two confirmed tracks whose states at the scan time are within
    ``d² = Δxᵀ (P_i + P_j)⁻¹ Δx < merge_d2`` for ``merge_checks``
    consecutive checks are duplicates; the one with fewer hits (then the
    younger) goes, handing its state over if it is the more recently
    updated (the survivor keeps its id, hits and first update).  Prefilter: ``d² < γ`` implies
    ``|Δp|² ≤ γ tr(P_i + P_j) ≤ 2 γ max(tr P_i, tr P_j)``, so each track
    looks for partners within ``√(2 γ tr P_i)`` (capped at ``merge_radius_m``).
    Two tracks updated by plots of the same scan are distinct objects (a
    radar gives at most one plot per object per scan), however close:
    salvoes of rockets fly that way.
    """
    c = config
    cols = table.cols
    n = len(table)
    loser = np.zeros(n, dtype=bool)
    conf = np.flatnonzero(cols["status"] == 1)
    dup = np.zeros(n, dtype=bool)
    if conf.size >= 2:
        i, j, d2, ok = _near_pairs(np.ascontiguousarray(x_now), np.ascontiguousarray(P_now), conf,
                                   float(c.merge_d2), float(c.merge_radius_m))
        if len(i):
            if not ok.all():  # P_i + P_j not numerically positive definite: the repaired inverse
                dx = x_now[i[~ok]] - x_now[j[~ok]]
                Sinv, _ = spd_inv_logdet(P_now[i[~ok]] + P_now[j[~ok]])
                d2[~ok] = np.einsum("pi,pij,pj->p", dx, Sinv, dx)
            close = (d2 < c.merge_d2) & ~(hit[i] & hit[j])
            i, j = i[close], j[close]
        if len(i):
            dup[i] = dup[j] = True
            cnt = np.where(dup, cols["dup_count"] + 1, 0)
            cols["dup_count"][:] = cnt
            ripe = (cnt[i] >= c.merge_checks) & (cnt[j] >= c.merge_checks)
            i, j = i[ripe], j[ripe]
            hi, hj = cols["n_hits"][i], cols["n_hits"][j]
            # rows are sorted by id: the larger row index is the younger track
            j_loses = (hj < hi) | ((hj == hi) & (j > i))
            keep, lose = np.where(j_loses, i, j), np.where(j_loses, j, i)
            # The survivor keeps its id and history but takes the fresher state (the estimator's columns too).
            fresher = (cols["last_update_s"][lose] > cols["last_update_s"][keep]) & ~loser[keep]
            kf, lf = keep[fresher], lose[fresher]
            for name in ("x", "P", "time_s", "last_update_s", "n_misses") + tuple(estimator.columns):
                cols[name][kf] = cols[name][lf]
            changed = cols["ballistic"][kf] & ~cols["ballistic"][lf]
            cols["ballistic"][kf] |= cols["ballistic"][lf]
            # A ballistic survivor that took an air-breathing track's state restarts as ballistic.
            estimator.became_ballistic(table, kf[changed])
            loser[lose] = True
            return loser
    cols["dup_count"][:] = 0
    return loser


@njit(cache=True)
def _near_pairs(x, P, conf, gamma, max_radius):  # pragma: no cover - compiled
    """Pairs of rows ``conf`` (a < b) within ``max(radius_a, radius_b)`` of each other, and their state distance.

    ``radius_a = min(√(2 γ tr P_a,pp), max_radius)`` (the prefilter of
    :func:`duplicates`).  Returns ``(i, j, d2, ok)``: table rows sorted by
    ``(i, j)``, ``d² = Δxᵀ (P_i + P_j)⁻¹ Δx`` and ``ok`` False where the
    Cholesky factorisation refused ``P_i + P_j``.
    """
    nc = conf.shape[0]
    radius = np.empty(nc)
    for a in range(nc):
        i = conf[a]
        radius[a] = min(np.sqrt(2.0 * gamma * (P[i, 0, 0] + P[i, 1, 1] + P[i, 2, 2])), max_radius)
    cap = nc * (nc - 1) // 2
    i_out = np.empty(cap, dtype=np.intp)
    j_out = np.empty(cap, dtype=np.intp)
    d2_out = np.empty(cap)
    ok_out = np.empty(cap, dtype=np.bool_)
    S = np.empty((6, 6))
    Sinv = np.empty((6, 6))
    L = np.empty((6, 6))
    c = 0
    for a in range(nc):
        i = conf[a]
        for b in range(a + 1, nc):
            j = conf[b]
            r = max(radius[a], radius[b])
            dp = 0.0
            for k in range(3):
                dp += (x[i, k] - x[j, k]) ** 2
            if dp > r * r:
                continue
            for u in range(6):
                for v in range(6):
                    S[u, v] = P[i, u, v] + P[j, u, v]
            ok, _ = _chol_inv_logdet(S, Sinv, L)
            q = 0.0
            if ok:
                for u in range(6):
                    s = 0.0
                    for v in range(6):
                        s += Sinv[u, v] * (x[i, v] - x[j, v])
                    q += (x[i, u] - x[j, u]) * s
            i_out[c], j_out[c], d2_out[c], ok_out[c] = i, j, q, ok
            c += 1
    return i_out[:c].copy(), j_out[:c].copy(), d2_out[:c].copy(), ok_out[:c].copy()
