"""SIAP measures: how complete, clean, accurate and continuous an air picture is.

The Single Integrated Air Picture attribute measures (Votruba et al.,
"Single Integrated Air Picture (SIAP) Metrics Implementation", SIAP Systems
Engineering Task Force technical report 2001-003, 2001), computed over a
sequence of time steps k from two long tables:

- truth rows (t, truth id): the true objects alive at each step;
- track rows (t, track id, truth id or −1, errors): the tracks held at each
  step and the truth each is associated with.

A track row counts as associated only if its truth is alive at that step; a
track still held on a threat that was killed or has impacted is spurious.
One truth may hold several tracks (ambiguity); one track holds at most one
truth.  With, at step k,

    J(k)  live truths,          JT(k) live truths with ≥ 1 associated track,
    N(k)  tracks,               NA(k) associated tracks,

the measures pool the counts over all steps (as Votruba and Stone Soup's
``SIAPMetrics`` do), so busy instants weigh more than quiet ones:

- completeness   C = Σ JT / Σ J               ∈ [0, 1], ideal 1;
- ambiguity      A = Σ NA / Σ JT              ≥ 1,      ideal 1;
- spuriousness   S = Σ (N − NA) / Σ N         ∈ [0, 1], ideal 0;
- position and velocity accuracy: mean and RMS of |x̂ − x| over every
  associated (track, step) pair;
- track-number changes of truth j: NU_j − 1, where NU_j is the least number
  of track numbers that together cover the steps at which j is tracked, each
  track number covering a run of consecutive tracked steps during which it
  stays associated with j (steps at which j is not tracked are skipped: a
  track that drops and comes back is no change, another track taking over
  is one; two tracks trading truths is one change for each).  NU_j comes
  from the greedy interval cover, which is optimal.  Reported as the total,
  per truth ever tracked, and per second of tracked time
  R = Σ (NU_j − 1) / Σ TT_j, where TT_j adds up the intervals between
  consecutive steps at which one same track is associated with j at both;
- longest track segment: TL_j, the longest time one track stays associated
  with j over consecutive steps; LS = Σ TL_j / Σ T_j with T_j the lifetime of
  j (first to last step alive), ∈ [0, 1], ideal 1 (ID continuity).

Rows of one step must carry the same time value.  Measures with a zero
denominator are NaN.

:func:`associate_nearest` gives an association to users who have no
plot-level attribution: each track to its nearest live truth within a
distance; :func:`association_errors` looks up the error of each associated
track row against its truth's state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Siap:
    completeness: float
    ambiguity: float
    spuriousness: float
    position_mean: float  # units of the errors given (m)
    position_rms: float
    velocity_mean: float  # (m/s)
    velocity_rms: float
    track_changes: int  # Σ_j (NU_j − 1) over truths ever tracked
    truths_tracked: int  # truths with at least one associated track at some step
    track_changes_per_truth: float  # track_changes / truths_tracked
    track_change_rate_hz: float  # track_changes / Σ_j TT_j (Votruba's R)
    longest_segment_fraction: float  # Σ TL_j / Σ T_j
    # Per step counts, for time series (step times sorted ascending).
    time_s: np.ndarray
    n_truths: np.ndarray  # J(k)
    n_truths_tracked: np.ndarray  # JT(k)
    n_tracks: np.ndarray  # N(k)
    n_tracks_associated: np.ndarray  # NA(k)

    def as_dict(self) -> dict:
        """The scalar measures, NaN as None (JSON-ready)."""
        keys = ("completeness", "ambiguity", "spuriousness", "position_mean", "position_rms", "velocity_mean",
                "velocity_rms", "track_changes", "truths_tracked", "track_changes_per_truth",
                "track_change_rate_hz", "longest_segment_fraction")
        out = {}
        for k in keys:
            v = getattr(self, k)
            out[k] = v if isinstance(v, int) else (float(v) if np.isfinite(v) else None)
        return out


def _ratio(a, b) -> float:
    return float(a) / float(b) if b else float("nan")


def _err_norm(err, n: int) -> np.ndarray:
    if err is None:
        return np.full(n, np.nan)
    e = np.asarray(err, dtype=float)
    if e.shape[0] != n:
        raise ValueError(f"siap: {e.shape[0]} error rows for {n} track rows")
    return np.linalg.norm(e, axis=1) if e.ndim == 2 else np.abs(e)


def _mean_rms(d: np.ndarray) -> tuple[float, float]:
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float("nan"), float("nan")
    return float(d.mean()), float(np.sqrt(np.mean(d**2)))


def _has_duplicate(k: np.ndarray, ident: np.ndarray) -> bool:
    o = np.lexsort((ident, k))
    return bool(np.any((np.diff(k[o]) == 0) & (np.diff(ident[o]) == 0)))


def _runs(g: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end indices of runs in rows sorted by (group g, k): same g, k rising by one."""
    if g.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    brk = np.flatnonzero((np.diff(g) != 0) | (np.diff(k) != 1)) + 1
    starts = np.concatenate([[0], brk])
    ends = np.concatenate([brk - 1, [g.size - 1]])
    return starts, ends


def _min_cover(u: np.ndarray, a: np.ndarray, b: np.ndarray, n_truths: int) -> np.ndarray:
    """NU_j: fewest intervals [a, b] (integer, inclusive) of truth u covering 0..max b, greedily.

    Every point 0..M_j − 1 of truth j is covered by some interval (each
    tracked step has an associated track), so the greedy always advances.
    Loops over intervals, which are far fewer than rows.
    """
    nu = np.zeros(n_truths, dtype=np.int64)
    order = np.lexsort((a, u))
    u, a, b = u[order], a[order], b[order]
    i, n = 0, u.size
    while i < n:
        j = u[i]
        pos, reach, count = 0, -1, 0  # next point to cover; farthest end among intervals starting <= pos
        while i < n and u[i] == j:
            if a[i] > pos:  # every interval starting at or before pos is seen: take the one reaching furthest
                if reach >= pos:
                    count += 1
                    pos = reach + 1
                else:  # a gap (cannot happen for SIAP input): nothing to cover there
                    pos = int(a[i])
                continue
            reach = max(reach, int(b[i]))
            i += 1
        if reach >= pos:
            count += 1
        nu[j] = count
    return nu


def siap(truth_time, truth_id, track_time, track_id, track_truth, pos_err=None, vel_err=None) -> Siap:
    """SIAP measures (module docstring) from the truth table and the track table.

    ``truth_time``, ``truth_id`` (m,): one row per live truth per step.
    ``track_time``, ``track_id``, ``track_truth`` (n,): one row per track per
    step, with the truth id it is associated with or −1.  ``pos_err`` and
    ``vel_err``: per track row, the error against the associated truth, as
    distances (n,) or vectors (n, d); rows not associated and NaN rows are
    ignored.
    """
    tt = np.asarray(truth_time, dtype=float).ravel()
    tu = np.asarray(truth_id, dtype=np.int64).ravel()
    rt = np.asarray(track_time, dtype=float).ravel()
    rn = np.asarray(track_id, dtype=np.int64).ravel()
    ru = np.asarray(track_truth, dtype=np.int64).ravel()
    if tt.shape != tu.shape or not (rt.shape == rn.shape == ru.shape):
        raise ValueError("siap: truth_time/truth_id and track_time/track_id/track_truth must match in length")
    n = rt.size
    pe, ve = _err_norm(pos_err, n), _err_norm(vel_err, n)

    steps = np.unique(np.concatenate([tt, rt]))
    K = steps.size
    kt, kr = np.searchsorted(steps, tt), np.searchsorted(steps, rt)
    uid = np.unique(tu)
    U = uid.size
    ut = np.searchsorted(uid, tu)  # dense truth index of truth rows
    truth_key = kt * U + ut
    if _has_duplicate(kt, tu):
        raise ValueError("siap: a truth id appears twice at one time step")
    if _has_duplicate(kr, rn):
        raise ValueError("siap: a track id appears twice at one time step")

    # Associated: the named truth is alive at that step.
    ur = np.minimum(np.searchsorted(uid, ru), max(U - 1, 0))
    valid = (ru >= 0) & (U > 0)
    if U:
        valid &= uid[ur] == ru
        valid &= np.isin(kr * U + ur, truth_key)

    J = np.bincount(kt, minlength=K)
    N = np.bincount(kr, minlength=K)
    NA = np.bincount(kr[valid], minlength=K)
    k_a, u_a, n_a = kr[valid], ur[valid], rn[valid]
    tracked_key = np.unique(u_a * K + k_a)  # (truth, step) pairs tracked, sorted by truth then step
    JT = np.bincount(tracked_key % K, minlength=K)

    pos_mean, pos_rms = _mean_rms(pe[valid])
    vel_mean, vel_rms = _mean_rms(ve[valid])

    # Runs of one (truth, track) pair over consecutive steps: longest segment and tracked time.
    vid = np.unique(n_a, return_inverse=True)[1].ravel()
    V = int(vid.max()) + 1 if vid.size else 1
    pair = u_a * V + vid
    order = np.lexsort((k_a, pair))
    pk, pp, pu = k_a[order], pair[order], u_a[order]
    s, e = _runs(pp, pk)
    seg = steps[pk[e]] - steps[pk[s]]
    TL = np.zeros(U)
    np.maximum.at(TL, pu[s], seg)
    first, last = np.full(U, np.inf), np.full(U, -np.inf)
    np.minimum.at(first, ut, tt)
    np.maximum.at(last, ut, tt)
    lifetime = last - first
    # Tracked time: step intervals (k, k+1) with one same track on the truth at both ends.
    nxt = np.zeros(pk.size, dtype=bool)
    nxt[:-1] = (pp[1:] == pp[:-1]) & (pk[1:] == pk[:-1] + 1)
    held = np.unique(pu[nxt] * K + pk[nxt])
    k_held = held % K
    tracked_time = float(np.sum(steps[k_held + 1] - steps[k_held])) if held.size else 0.0

    # Track-number changes: runs over the truth's tracked steps only (untracked steps skipped).
    grp_start = np.searchsorted(tracked_key // K, np.arange(U))
    rank_of_key = np.arange(tracked_key.size) - grp_start[tracked_key // K]
    r_a = rank_of_key[np.searchsorted(tracked_key, u_a * K + k_a)]
    order = np.lexsort((r_a, pair))
    rp, rr, ru_ = pair[order], r_a[order], u_a[order]
    s, e = _runs(rp, rr)
    nu = _min_cover(ru_[s], rr[s], rr[e], U)
    tracked = nu > 0
    changes = int(np.sum(nu[tracked] - 1))
    n_tracked = int(tracked.sum())

    return Siap(
        completeness=_ratio(JT.sum(), J.sum()),
        ambiguity=_ratio(NA.sum(), JT.sum()),
        spuriousness=_ratio(N.sum() - NA.sum(), N.sum()),
        position_mean=pos_mean, position_rms=pos_rms, velocity_mean=vel_mean, velocity_rms=vel_rms,
        track_changes=changes, truths_tracked=n_tracked,
        track_changes_per_truth=_ratio(changes, n_tracked),
        track_change_rate_hz=_ratio(changes, tracked_time),
        longest_segment_fraction=_ratio(TL.sum(), lifetime.sum()),
        time_s=steps, n_truths=J, n_truths_tracked=JT, n_tracks=N, n_tracks_associated=NA,
    )


# --------------------------------------------------------------------------- helpers for users without attribution


def _step_slices(time: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.argsort(time, kind="stable")
    ts = time[order]
    return order, np.searchsorted(ts, steps, "left"), np.searchsorted(ts, steps, "right")


def associate_nearest(track_time, track_pos, truth_time, truth_id, truth_pos, max_distance: float) -> np.ndarray:
    """Each track row's nearest live truth at the same time, if closer than ``max_distance``; else −1.

    One truth per track; several tracks may take the same truth (that is
    what SIAP ambiguity measures).  Positions (n, d) and (m, d) in one frame.
    """
    rt = np.asarray(track_time, dtype=float)
    rx = np.asarray(track_pos, dtype=float)
    tt = np.asarray(truth_time, dtype=float)
    tu = np.asarray(truth_id, dtype=np.int64)
    tx = np.asarray(truth_pos, dtype=float)
    out = np.full(rt.size, -1, dtype=np.int64)
    steps = np.unique(rt)
    r_order, r_lo, r_hi = _step_slices(rt, steps)
    t_order, t_lo, t_hi = _step_slices(tt, steps)
    for k in range(steps.size):  # one vectorised nearest-neighbour problem per step
        if t_hi[k] == t_lo[k]:
            continue
        ri, ti = r_order[r_lo[k]:r_hi[k]], t_order[t_lo[k]:t_hi[k]]
        d = np.linalg.norm(rx[ri, None, :] - tx[None, ti, :], axis=-1)
        j = np.argmin(d, axis=1)
        ok = d[np.arange(ri.size), j] <= max_distance
        out[ri[ok]] = tu[ti[j[ok]]]
    return out


def association_errors(track_time, track_truth, track_state, truth_time, truth_id, truth_state) -> np.ndarray:
    """x̂ − x of each track row against its associated truth's state at the same time (NaN where none).

    States may be positions, velocities or both, (n, d) and (m, d).
    """
    rt = np.asarray(track_time, dtype=float)
    ru = np.asarray(track_truth, dtype=np.int64)
    rx = np.asarray(track_state, dtype=float)
    tt = np.asarray(truth_time, dtype=float)
    tu = np.asarray(truth_id, dtype=np.int64)
    tx = np.asarray(truth_state, dtype=float)
    out = np.full(rx.shape, np.nan)
    if tt.size == 0 or rt.size == 0:
        return out
    steps = np.unique(np.concatenate([tt, rt]))
    uid = np.unique(np.concatenate([tu, ru]))
    key_t = np.searchsorted(steps, tt) * uid.size + np.searchsorted(uid, tu)
    key_r = np.searchsorted(steps, rt) * uid.size + np.searchsorted(uid, ru)
    order = np.argsort(key_t)
    pos = np.minimum(np.searchsorted(key_t[order], key_r), key_t.size - 1)
    hit = (ru >= 0) & (key_t[order][pos] == key_r)
    out[hit] = rx[hit] - tx[order[pos[hit]]]
    return out
