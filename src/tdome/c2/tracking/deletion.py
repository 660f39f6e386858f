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

from tdome.c2.tracking.classification import up_vectors
from tdome.c2.tracking.config import TrackerConfig
from tdome.c2.tracking.estimator import Estimator
from tdome.c2.tracking.gating import candidate_pairs
from tdome.c2.tracking.gaussian import spd_inv_logdet
from tdome.c2.tracking.track_table import TENTATIVE, TrackTable


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
    alt, up = up_vectors(x)
    var_up = np.einsum("ni,nij,nj->n", up, P[:, :3, :3], up)
    return alt + 3.0 * np.sqrt(var_up) < min_alt_m


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
        tr_p = np.trace(P_now[conf, :3, :3], axis1=1, axis2=2)
        radius = np.minimum(np.sqrt(2.0 * c.merge_d2 * tr_p), c.merge_radius_m)
        a, b = candidate_pairs(x_now[conf, :3], radius, x_now[conf, :3])
        off = a != b
        pairs = np.stack([np.minimum(a, b)[off], np.maximum(a, b)[off]], axis=1)
        pairs = np.unique(pairs, axis=0) if len(pairs) else pairs
        if len(pairs):
            i, j = conf[pairs[:, 0]], conf[pairs[:, 1]]
            dx = x_now[i] - x_now[j]
            Sinv, _ = spd_inv_logdet(P_now[i] + P_now[j])
            close = np.einsum("pi,pij,pj->p", dx, Sinv, dx) < c.merge_d2
            close &= ~(hit[i] & hit[j])
            i, j = i[close], j[close]
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
