"""Deletion: the one place where tracks leave the table, for every reason.

Interface::

    delete(table, estimator, now_s, x_now, P_now, hit, rejected, config, stats) -> None

A track is deleted when

- its confirmation test rejects it (``rejected``, from :mod:`.initiation`:
  M-of-N out of reach, or the score below its deletion threshold or fallen
  from its peak);
- it has coasted (:func:`_coasted`): a tentative track after
  ``tentative_max_coast_s`` without a plot; a confirmed one when its
  consecutive missed opportunities (scans of radars that cover it) would be
  less likely than ``delete_miss_probability`` for a target detected as
  often as it has been, or after ``max_coast_s`` without a plot in any
  case.  Deletion thus follows the
  detection opportunities: a track over a radar's blind cone, or seen by
  one slow radar, lives on while no plot could have come, and a track whose
  object has landed or been destroyed in coverage goes after a few missed
  scans, before a plot of the next object can be handed to it.  The miss
  rule uses the track's own detection rate, so a small, fluctuating target
  that the radars rarely detect is given as many scans as it needs;
- it is predicted more than 3σ below ``min_alt_m`` (impacted, or clutter
  whose velocity points into the ground; :func:`underground`);
- it duplicates another confirmed track (:func:`_close_pairs`, :func:`merge`), which then
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
from tdome.c2.tracking.track_table import CONFIRMED, TENTATIVE, TrackTable
from tdome.geo import geodetic_of, radial_height


def delete(table: TrackTable, estimator: Estimator, now_s: float, x_now: np.ndarray, P_now: np.ndarray,
           hit: np.ndarray, rejected: np.ndarray, config: TrackerConfig, stats: dict[str, int]) -> None:
    """Delete the tracks that must go (module docstring); ``x_now``, ``P_now`` are the states at the scan time."""
    c = config
    cols = table.cols
    i, j, d2 = _close_pairs(cols["status"], x_now, P_now, hit, c)
    limits = coast_limits(c)
    ripe_i, ripe_j, coasted, below = _deletion_tests(
        i, j, d2, hit, cols["dup_count"], cols["dup_count"], cols["status"], cols["last_update_s"], cols["n_hits"],
        cols["n_opportunities"], cols["n_misses"], x_now, P_now, now_s, float(c.merge_d2), int(c.merge_checks), limits,
        float(c.min_alt_m))
    dead = coasted | rejected | below
    if ripe_i.size:
        loser = merge(table, estimator, ripe_i, ripe_j)
        stats["merged"] += int(loser.sum())
        # a survivor that took a fresher state is no longer as old
        coasted = _coasted_rows(cols["status"], now_s - cols["last_update_s"], cols["n_hits"], cols["n_opportunities"],
                                cols["n_misses"], limits)
        dead = loser | coasted | rejected | below
    if dead.any():
        counts = _deletion_counts(dead, cols["status"], coasted, below)
        for key, v in zip(DELETION_STATS, counts.tolist(), strict=True):
            stats[key] += v
        table.keep(~dead)


# What :func:`_deletion_counts` counts, in its order: the ``stats`` keys of deletion.
DELETION_STATS = ("deleted", "deleted_confirmed", "deleted_coasted", "deleted_underground")


@njit(cache=True)
def _deletion_counts(dead, status, coasted, below):  # pragma: no cover - compiled
    """(deleted, confirmed among them, confirmed coasted, confirmed underground and not coasted) of ``dead``."""
    counts = np.zeros(4, dtype=np.int64)
    for r in range(dead.shape[0]):
        if dead[r]:
            counts[0] += 1
            if status[r] != TENTATIVE:
                counts[1] += 1
                counts[2] += coasted[r]
                counts[3] += below[r] and not coasted[r]
    return counts


def underground(x: np.ndarray, P: np.ndarray, min_alt_m: float) -> np.ndarray:
    """Tracks whose altitude is below ``min_alt_m`` by more than 3σ (σ along the local vertical)."""
    return _underground(np.ascontiguousarray(x, dtype=float), np.ascontiguousarray(P, dtype=float), float(min_alt_m))


@njit(cache=True, inline="always")
def _is_underground(x, P, min_alt_m):  # pragma: no cover - compiled
    """``h + 3 √(uᵀ P_pp u) < min_alt_m`` of one track, ``u`` the local vertical at the track.

    A track whose height along its radius (:func:`tdome.geo.radial_height`)
    bounds ``h`` from below by more than a metre above ``min_alt_m`` is not
    underground, whatever its σ: most tracks, which then skip the geodetic
    conversion.
    """
    hr = radial_height(x[0], x[1], x[2])
    if (hr if hr < 0.0 else 0.999 * hr) >= min_alt_m + 1.0:
        return False
    lat, lon, alt = geodetic_of(x[0], x[1], x[2])
    u0, u1, u2 = np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)
    var = 0.0
    for i, ui in enumerate((u0, u1, u2)):
        for j, uj in enumerate((u0, u1, u2)):
            var += ui * P[i, j] * uj
    return alt + 3.0 * np.sqrt(var) < min_alt_m


@njit(cache=True)
def _underground(x, P, min_alt_m):  # pragma: no cover - compiled
    """:func:`underground` track by track."""
    n = x.shape[0]
    out = np.empty(n, dtype=np.bool_)
    for r in range(n):
        out[r] = _is_underground(x[r], P[r], min_alt_m)
    return out


def coast_limits(config: TrackerConfig) -> tuple[float, float, float]:
    """``(tentative_max_coast_s, max_coast_s, ln α)`` as :func:`_coasted` takes them (α:
    ``delete_miss_probability``; ln α 0 for none)."""
    c = config
    return (float(c.tentative_max_coast_s), float(c.max_coast_s),
            0.0 if c.delete_miss_probability is None else float(np.log(c.delete_miss_probability)))


@njit(cache=True, inline="always")
def _coasted(status, age, n_hits, n_opportunities, n_misses, limits):  # pragma: no cover - compiled
    """Whether a track has coasted too long (:func:`delete`); ``limits`` are :func:`coast_limits`.

    Tentative: no plot for ``tentative_max_coast_s`` (``age``).  Confirmed:
    no plot for ``max_coast_s``, or ``n_misses`` consecutive missed opportunities when
    ``(1 − P̂_D)^n_misses < α``, with ``P̂_D = (n_hits + 1) / (n_opportunities + 2)``
    the track's own detection rate (Laplace's rule): a target the radars
    rarely detect is given as many more scans as it needs.
    """
    tentative_max_coast_s, max_coast_s, log_alpha = limits
    if status == TENTATIVE:
        return age > tentative_max_coast_s
    if age > max_coast_s:
        return True
    if n_misses > 0 and log_alpha < 0.0:
        pd = (n_hits + 1.0) / (n_opportunities + 2.0)
        return n_misses * np.log(1.0 - pd) < log_alpha
    return False


@njit(cache=True)
def _deletion_tests(i, j, d2, hit, dup_count, new_count, status, last_update_s, n_hits, n_opportunities, n_misses, x,
                    P, now_s, merge_d2, merge_checks, limits, min_alt_m):  # pragma: no cover - compiled
    """The tests of :func:`delete` over the table in one pass; the new duplicate counts go to ``new_count``.

    ``new_count`` may be ``dup_count`` itself (counted in place).

    ``(i, j, d2)``: the candidate duplicate pairs of :func:`_close_pairs`.  A
    pair is close when ``d2 < merge_d2`` and the scan did not update both; a
    track in a close pair counts one more consecutive duplicate check, any
    other starts again from zero.  Returns ``(ripe_i, ripe_j, coasted,
    below)``: the close pairs whose tracks have both failed ``merge_checks``
    checks (in the order given), the tracks that have coasted too long, and
    those underground (:func:`underground`) in the states ``x, P`` at the scan time.
    """
    n = status.shape[0]
    dup = np.zeros(n, dtype=np.bool_)
    close = np.zeros(i.shape[0], dtype=np.bool_)
    for p in range(i.shape[0]):
        close[p] = d2[p] < merge_d2 and not (hit[i[p]] and hit[j[p]])
        if close[p]:
            dup[i[p]] = True
            dup[j[p]] = True
    coasted = np.empty(n, dtype=np.bool_)
    below = np.empty(n, dtype=np.bool_)
    for r in range(n):
        new_count[r] = dup_count[r] + 1 if dup[r] else 0
        coasted[r] = _coasted(status[r], now_s - last_update_s[r], n_hits[r], n_opportunities[r], n_misses[r], limits)
        below[r] = _is_underground(x[r], P[r], min_alt_m)
    ripe_i = np.empty(i.shape[0], dtype=np.intp)
    ripe_j = np.empty(i.shape[0], dtype=np.intp)
    nr = 0
    for p in range(i.shape[0]):
        if close[p] and new_count[i[p]] >= merge_checks and new_count[j[p]] >= merge_checks:
            ripe_i[nr], ripe_j[nr] = i[p], j[p]
            nr += 1
    return ripe_i[:nr].copy(), ripe_j[:nr].copy(), coasted, below


@njit(cache=True)
def _coasted_rows(status, age, n_hits, n_opportunities, n_misses, limits):  # pragma: no cover - compiled
    """:func:`_coasted` of every track (n,)."""
    out = np.empty(status.shape[0], dtype=np.bool_)
    for r in range(status.shape[0]):
        out[r] = _coasted(status[r], age[r], n_hits[r], n_opportunities[r], n_misses[r], limits)
    return out


def _close_pairs(status: np.ndarray, x_now: np.ndarray, P_now: np.ndarray, hit: np.ndarray,
                 config: TrackerConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate duplicate pairs ``(i, j, d2)`` of confirmed tracks (rows ``i < j``), with their state distance.

    Two confirmed tracks whose states at the scan time are within
    ``d² = Δxᵀ (P_i + P_j)⁻¹ Δx < merge_d2`` for ``merge_checks``
    consecutive checks are duplicates (:func:`merge` says which goes).
    Prefilter: ``d² < γ`` implies
    ``|Δp|² ≤ γ tr(P_i + P_j) ≤ 2 γ max(tr P_i, tr P_j)``, so each track
    looks for partners within ``√(2 γ tr P_i)`` (capped at ``merge_radius_m``).
    Two tracks updated by plots of the same scan are distinct objects (a
    radar gives at most one plot per object per scan), however close:
    salvoes of rockets fly that way (:func:`_deletion_tests`), so pairs of
    tracks both in ``hit`` are not candidates.
    """
    c = config
    conf = np.flatnonzero(status == CONFIRMED)
    if conf.size < 2:
        return _NO_PAIRS
    i, j, d2, ok = _near_pairs(x_now, P_now, conf, float(c.merge_d2), float(c.merge_radius_m), hit)
    if not ok.all():  # P_i + P_j not numerically positive definite: the repaired inverse
        dx = x_now[i[~ok]] - x_now[j[~ok]]
        Sinv, _ = spd_inv_logdet(P_now[i[~ok]] + P_now[j[~ok]])
        d2[~ok] = np.einsum("pi,pij,pj->p", dx, Sinv, dx)
    return i, j, d2


_NO_PAIRS = (np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp), np.empty(0))


def merge(table: TrackTable, estimator: Estimator, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Merge the duplicate pairs ``(i, j)``; returns the rows to delete (n,) bool.

    Two confirmed tracks whose states at the scan time are within
    ``d² = Δxᵀ (P_i + P_j)⁻¹ Δx < merge_d2`` for ``merge_checks``
    consecutive checks are duplicates; the one with fewer hits (then the

    The one with fewer hits (then the younger) goes, handing its state over
    if it is the more recently updated (the survivor keeps its id, hits and
    first update, and takes the loser's estimator columns).
    """
    cols = table.cols
    loser = np.zeros(len(table), dtype=bool)
    hi, hj = cols["n_hits"][i], cols["n_hits"][j]
    # rows are sorted by id: the larger row index is the younger track
    j_loses = (hj < hi) | ((hj == hi) & (j > i))
    keep, lose = np.where(j_loses, i, j), np.where(j_loses, j, i)
    # The survivor keeps its id and history but takes the fresher state (the estimator's columns too).
    fresher = cols["last_update_s"][lose] > cols["last_update_s"][keep]
    kf, lf = keep[fresher], lose[fresher]
    for name in ("x", "P", "time_s", "last_update_s", "n_misses") + tuple(estimator.columns):
        cols[name][kf] = cols[name][lf]
    changed = cols["ballistic"][kf] & ~cols["ballistic"][lf]
    cols["ballistic"][kf] |= cols["ballistic"][lf]
    # A ballistic survivor that took an air-breathing track's state restarts as ballistic.
    estimator.became_ballistic(table, kf[changed])
    loser[lose] = True
    return loser


@njit(cache=True)
def _near_pairs(x, P, conf, gamma, max_radius, skip):  # pragma: no cover - compiled
    """Pairs of rows ``conf`` (a < b) within ``max(radius_a, radius_b)`` of each other, and their state distance.

    Pairs of two rows both in ``skip`` are left out.

    ``radius_a = min(√(2 γ tr P_a,pp), max_radius)`` (the prefilter of
    :func:`_close_pairs`).  Returns ``(i, j, d2, ok)``: table rows sorted by
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
            if skip[i] and skip[j]:
                continue
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
