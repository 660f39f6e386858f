"""Centralised, measurement-level multi-sensor tracker: the cycle.

Interface: :class:`Tracker` is a :class:`~tdome.c2.tracking.picture.PictureSource`::

    tracker = Tracker(TrackerConfig(...), sensors)
    tracker.process(scan)             one cycle on a radar scan or a Cartesian feed's positions
    tracker.picture(t_s)              -> AirPicture of the confirmed tracks
    tracker.stats, tracker.last_association

Every scan — a radar's plots (:class:`~tdome.messages.Detections`) or a
Cartesian feed's positions (:class:`~tdome.messages.PositionPlots`) — goes
through one cycle of :meth:`Tracker.process`, each stage in its module:

1. *Predict* every track to the scan time, or retrodict it when the scan is
   older than the track (the estimator, :mod:`.estimator`: constant
   velocity and free flight, :mod:`.estimator_single`; or an IMM for
   confirmed tracks, :mod:`.estimator_imm`).
2. *Gate and associate* the plots with the tracks: spatial prefilter and
   chi-square gate (:mod:`.gating`), one-plot tracks limited to plots they
   could reach (:mod:`.initiation`), then global nearest neighbour (one
   assignment, or with ``gnn_confirmed_first`` the confirmed tracks first
   and the tentative ones on the plots left), or JPDA
   for confirmed tracks with GNN for the tentative ones on what JPDA leaves
   (:mod:`.association`).
3. *Update* the associated tracks (the estimator: EKF, UKF, the IMM's models
   or the PDA mixture); a track that so far holds a single plot gets its
   velocity from the second (:mod:`.initiation`).  Velocities above
   ``max_speed_mps`` are refused.
4. *Manage*: a missed opportunity for every track without a plot that the
   scanning sensor covers; M-of-N or score confirmation
   (:mod:`.initiation`); ballistic and kinematic classification
   (:mod:`.classification`); deletion by missed opportunities or coasting,
   duplicates merged (:mod:`.deletion`).
5. *Start* a tentative track on every plot no track took (:mod:`.initiation`).
6. *Test plausibility*: with a catalog (``threat_kinematics``), every track
   the scan updated whose kinematics no catalog object or aircraft could
   have, by ``plausibility_sigmas`` of its covariance, is deleted
   (:mod:`.plausibility`, after the compiled call too); :meth:`picture`
   leaves out a track whose estimate is outside the envelope.
7. *Discriminate*: the plots ballistic and re-entering tracks took feed a fit
   of each such track's ballistic coefficient, which finds light objects
   (decoys) by how the air slows them (:mod:`.discrimination`; after the
   compiled call too, off with ``discrimination_beta_kg_m2`` null).  The
   picture flags them (``AirPicture.light``).

A ballistic track is predicted by free flight with the process noise
``q_ballistic_mps2``, or, with ``drag_beta_min_kg_m2`` set, with the larger
noise of the drag an object that light would feel where it is
(:func:`~tdome.c2.tracking.motion.ballistic_q`).

The track table (:mod:`.track_table`) holds every track as rows of arrays;
the configuration (:mod:`.config`) owns the defaults and the rules.

Opportunities are scans of a radar whose nominal coverage
(:meth:`SensorSite.covers`) contains the track's predicted position, and
that has detected the track before or would see even a small target there;
a scan that does not cover a track neither helps nor hurts it.  Plots of an
out-of-sequence scan are counted in ``stats['oos_plots']`` and the
retrodicted updates in ``stats['oos_updates']``; nothing is dropped silently.

The cycle in one compiled call
------------------------------
A scan costs little arithmetic (a few plots against a few dozen tracks) and
many calls, so for the default configuration (single-model estimator, EKF,
GNN, M-of-N) a radar scan runs as one compiled call over the track table's
buffers (:func:`_radar_cycle`): the stages above in their order, through the
same compiled pieces the stages one by one call (the front: plots,
prediction, gate and reach test, :func:`_radar_front`; GNN's matching; the
update, :func:`_update_single_ekf`; track management, :func:`_manage_mofn`;
the deletion and the start of new tracks).  Any other configuration, a
Cartesian feed, an out-of-sequence pair or a covariance that needs the
repaired inverse takes the stages one by one for the whole scan, the
compiled call having changed nothing; a merge of duplicates leaves the
deletion and the start of new tracks to :func:`~tdome.c2.tracking.deletion.delete`
and :meth:`Tracker._start`.  A test runs the same scans both ways and finds
every association and track-table column equal after every scan.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from tdome.c2.tracking.association import Association, _gnn_firm_first, _gnn_select, make_associator
from tdome.c2.tracking.classification import _classify_rows, classify
from tdome.c2.tracking.config import TrackerConfig
from tdome.c2.tracking.deletion import (
    DELETION_STATS,
    _deletion_counts,
    _deletion_tests,
    _near_pairs,
    coast_limits,
    delete,
)
from tdome.c2.tracking.discrimination import Discriminator, select_plots
from tdome.c2.tracking.estimator import Estimate, Estimator, Prediction
from tdome.c2.tracking.estimator_imm import IMMEstimator
from tdome.c2.tracking.estimator_single import SingleModelEstimator
from tdome.c2.tracking.gating import _BRUTE_FORCE_MAX_PAIRS, _gate_polar
from tdome.c2.tracking.gaussian import _kalman_stack
from tdome.c2.tracking.initiation import (
    MOfN,
    _m_of_n,
    _reachable,
    _start_tracks,
    _two_point_stack,
    _unknown_velocity,
    _velocity_prior,
    make_confirmation,
    reachable,
    second_plot,
    speed_sigma_bound,
    start_score,
)
from tdome.c2.tracking.motion import _predict_stack, ballistic_q
from tdome.c2.tracking.picture import AirPicture, PictureSource, PlotAssociation
from tdome.c2.tracking.plausibility import Envelope, _implausible
from tdome.c2.tracking.plots import ScanPlots, _radar_plots, radar_arrays
from tdome.c2.tracking.track_table import CONFIRMED, TrackTable, _compact
from tdome.geo import in_coverage
from tdome.messages import Detections, PositionPlots, SensorSite

# The estimator each ``motion`` setting runs (TrackerConfig checks the names and their combinations).
ESTIMATORS: dict[str, type[Estimator]] = {"cv": SingleModelEstimator, "imm": IMMEstimator}

_STATS = ("scans", "plots", "started", "confirmed", "deleted", "deleted_confirmed", "deleted_coasted",
          "deleted_underground", "merged", "oos_scans", "oos_plots", "oos_updates", "speed_rejected",
          "implausible_tentative", "implausible_confirmed")


def _track_property(name: str, doc: str):
    def get(self) -> np.ndarray:
        view = self._table.cols[name].view()
        view.flags.writeable = False
        return view

    return property(get, doc=doc)


@njit(cache=True)
def _write_rows(track, x, P, time_s, detected, vel_init, t, bit, max_speed, cx, cp, ctime, cvel, clast, chits, cmiss,
                cseen, dt, x_now, P_now, hit):  # pragma: no cover - compiled
    """:meth:`Tracker._write` in one pass over an estimate's rows: returns ``(ok, out_of_sequence)``.

    Row ``p`` (track ``track[p]``) is written only if its speed
    ``|x[p, 3:]|`` is at most ``max_speed`` (``ok``): state, covariance, time
    and (``vel_init`` not empty) the velocity flag; if ``detected``, the
    latest update time, hits, misses and the sensor's ``bit``, and ``hit``.
    Where the new state is at the scan time ``t`` it is also the track's
    state at the scan time (``x_now``, ``P_now``); ``out_of_sequence``
    counts the rows written for tracks later than the scan (``dt < 0``).
    """
    r_n = track.shape[0]
    ok = np.empty(r_n, dtype=np.bool_)
    oos = 0
    for p in range(r_n):
        ok[p] = np.sqrt(x[p, 3] * x[p, 3] + x[p, 4] * x[p, 4] + x[p, 5] * x[p, 5]) <= max_speed
        if not ok[p]:
            continue
        r = track[p]
        cx[r] = x[p]
        cp[r] = P[p]
        ctime[r] = time_s[p]
        if vel_init.shape[0]:
            cvel[r] = vel_init[p]
        if dt[r] < 0:
            oos += 1
        if detected[p]:
            clast[r] = max(clast[r], t)
            chits[r] += 1
            cmiss[r] = 0
            cseen[r] |= bit
            hit[r] = True
        if time_s[p] == t:
            x_now[r] = x[p]
            P_now[r] = P[p]
    return ok, oos


_NO_ROT = np.zeros((3, 3))
_NO_FLAGS = np.zeros(0, dtype=bool)
_NO_LIMITS: tuple[float, ...] = (0.0,) * 7


def _coverage(plots: ScanPlots) -> tuple[np.ndarray, bool, tuple[float, ...], float, np.ndarray]:
    """The scanning site as :func:`_count_opportunities` takes it: ``(enu_rot, has_site, limits, small range, ecef)``.

    A Cartesian feed from no listed sensor covers everywhere and expects every track.
    """
    site = plots.site
    if site is None:
        return _NO_ROT, False, _NO_LIMITS, np.inf, _NO_ROT[0]
    return site.enu_rot, True, _swept(site.coverage_limits, plots.sector_rad), _small_target_range(site), site.ecef


def _swept(limits: tuple[float, ...], sector_rad: tuple[float, float] | None) -> tuple[float, ...]:
    """A site's coverage limits narrowed to the sector a scan swept (:attr:`Detections.sector_rad`), for a
    rotating radar (full circle); a sector radar's own sector stands."""
    if sector_rad is None or limits[6] < np.pi:
        return limits
    return limits[:5] + (float(sector_rad[0]), float(sector_rad[1]))


def _small_target_range(site: SensorSite) -> float:
    return np.inf if site.small_target_range_m is None else float(site.small_target_range_m)


@njit(cache=True, error_model="numpy")
def _count_opportunities(x, enu_rot, hit, seen_by, bit, has_site, limits, small_target_range_m, site_ecef,
                         n_opportunities, n_misses):  # pragma: no cover - compiled
    """:meth:`Tracker._missed_opportunities` over the table in one pass: returns ``missed`` (n,), counts in place.

    A track is missed when the scan did not update it, its predicted position
    ``x[:, :3]`` is inside the site's coverage (:func:`tdome.geo.in_coverage`,
    with its vector from the site ``enu_rot (x - site_ecef)``, ``limits``
    the site's ``coverage_limits``; everywhere without a site) and the radar
    has seen it (bit ``bit`` of ``seen_by``) or would see a small target
    there (within ``small_target_range_m`` of the site).
    """
    n = hit.shape[0]
    missed = np.zeros(n, dtype=np.bool_)
    d = np.empty(3)
    enu = np.empty(3)
    for r in range(n):
        if hit[r]:
            n_opportunities[r] += 1
            continue
        if has_site:
            for k in range(3):
                d[k] = x[r, k] - site_ecef[k]
            for k in range(3):
                enu[k] = enu_rot[k, 0] * d[0] + enu_rot[k, 1] * d[1] + enu_rot[k, 2] * d[2]
            if not in_coverage(x[r, 0], x[r, 1], x[r, 2], enu[0], enu[1], enu[2], limits[0], limits[1],
                               limits[2], limits[3], limits[4], limits[5], limits[6]):
                continue
            if (seen_by[r] & bit) == 0 and not np.sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]) <= small_target_range_m:
                continue
        missed[r] = True
        n_opportunities[r] += 1
        n_misses[r] += 1
    return missed


# Empty stand-ins the compiled calls return or pass where there is nothing.
_NO_I = np.empty(0, dtype=np.intp)
_NO_D = np.empty(0)
_NO_B = np.empty(0, dtype=np.bool_)

_RADAR_ANGLES = {k: np.array([a == 1 for a in range(k)]) for k in (3, 4)}  # azimuth is the angle of a radar plot


@njit(cache=True, inline="always")
def _radar_front(r, az, el, rdot, k, sig, s_rdot, site_ecef, enu_rot, x, P, time_s, ballistic, vel_init, t, angle,
                 gamma, lam, max_speed, q_air, q_ballistic, max_substep_s, inv_beta_min,
                 q_time_s):  # pragma: no cover - compiled
    """Steps 1 and 2 of the cycle for a radar scan and the single-model estimator, in one call.

    The scan's plots (:func:`~tdome.c2.tracking.plots._radar_plots`), every
    track predicted to the scan time ``t`` (:func:`~tdome.c2.tracking.motion._predict_stack`
    with ``q`` by the ballistic flag, :func:`~tdome.c2.tracking.motion.ballistic_q` for
    ballistic tracks), the radar gate on the predicted tracks
    (:func:`~tdome.c2.tracking.gating._gate_polar`) and the pairs a one-plot
    track can reach (:func:`~tdome.c2.tracking.initiation._reachable`).
    Returns the plots ``(z, R, pos, cov, clutter)``, the prediction ``(dt, q,
    x⁻, P⁻)``, the pairs ``(track, plot, ν, H, S, d², ln|S|)`` and ``ok``:
    False when an innovation covariance needs the repaired inverse, the
    pairs then being every candidate, before the gate and the reach test.
    """
    z, R, pos, cov, clutter = _radar_plots(r, az, el, rdot, k, sig, s_rdot, site_ecef, enu_rot, lam, max_speed)
    n = x.shape[0]
    dt = np.empty(n)
    q = np.empty(n)
    for i in range(n):
        dt[i] = t - time_s[i]
        q[i] = ballistic_q(x[i, 0], x[i, 1], x[i, 2], x[i, 3], x[i, 4], x[i, 5], q_ballistic, inv_beta_min,
                           q_time_s) if ballistic[i] else q_air
    xp, Pp = _predict_stack(x, P, dt, q, ballistic, max_substep_s)
    ti, pj, nu, H, S, d2, logdet, ok = _gate_polar(xp, Pp, z, R, pos, cov, site_ecef, enu_rot, k == 4, angle, gamma)
    for p in range(ok.shape[0]):
        if not ok[p]:
            return z, R, pos, cov, clutter, dt, q, xp, Pp, ti, pj, nu, H, S, d2, logdet, False
    keep = _reachable(ti, pj, vel_init, x, P, pos, cov, dt, max_speed)
    c = 0
    for p in range(keep.shape[0]):
        if keep[p]:
            ti[c], pj[c], d2[c], logdet[c] = ti[p], pj[p], d2[p], logdet[p]
            nu[c] = nu[p]
            H[c] = H[p]
            S[c] = S[p]
            c += 1
    return (z, R, pos, cov, clutter, dt, q, xp, Pp, ti[:c].copy(), pj[:c].copy(), nu[:c].copy(), H[:c].copy(),
            S[:c].copy(), d2[:c].copy(), logdet[:c].copy(), True)


@njit(cache=True, inline="always")
def _update_single_ekf(track, plot, nu, H, R, plot_pos, plot_cov, xp, Pp, dt, t, bit, cx, cp, ctime, cvel, clast,
                       chits, cmiss, cseen, x_now, P_now, hit, min_init_dt_s, q_air, init_speed_sigma_mps,
                       max_speed):  # pragma: no cover - compiled
    """Step 3 of the cycle for GNN and the EKF: each track of the pairs takes its plot, and is written.

    1. The EKF update of every pair from the predicted state
       (:func:`~tdome.c2.tracking.gaussian._kalman_stack`, Joseph form).
    2. One-plot tracks (:func:`~tdome.c2.tracking.initiation.second_plot`):
       a plot at least ``min_init_dt_s`` away gives the two-point state with
       the velocity prior fused in
       (:func:`~tdome.c2.tracking.initiation._two_point_stack`, then the
       Kalman update by the pseudo-measurement ``v = 0``, ``R = σ² I``); a
       closer one keeps the fused position and an unknown velocity.
    3. The writes of :func:`_write_rows` (speed check included).

    Returns ``(ok, written, out_of_sequence)``: the pairs written (speed
    check passed), and how many of them were out of sequence; ``ok`` False
    (nothing written) when a pair is out of sequence or an innovation
    covariance needs the repaired inverse.
    """
    r_n = track.shape[0]
    k = nu.shape[1]
    for p in range(r_n):
        if dt[track[p]] < 0:
            return False, _NO_B, 0
    xs = np.empty((r_n, 6))
    Ps = np.empty((r_n, 6, 6))
    Rs = np.empty((r_n, k, k))
    for p in range(r_n):
        xs[p] = xp[track[p]]
        Ps[p] = Pp[track[p]]
        Rs[p] = R[plot[p]]
    no_s = np.empty((r_n, k, k))
    xu, Pu, _, _, ok = _kalman_stack(xs, Ps, nu, H, Rs, no_s, np.empty(r_n), np.zeros(r_n, dtype=np.bool_))
    for p in range(r_n):
        if not ok[p]:
            return False, _NO_B, 0
    tu = np.full(r_n, t)
    vel_init = np.empty(r_n, dtype=np.bool_)
    far = np.zeros(r_n, dtype=np.bool_)
    nf = 0
    for p in range(r_n):
        vel_init[p] = cvel[track[p]]
        if not vel_init[p] and abs(dt[track[p]]) >= min_init_dt_s:
            far[p] = True
            nf += 1
    if nf:
        p_a, C_a, t_a = np.empty((nf, 3)), np.empty((nf, 3, 3)), np.empty(nf)
        p_b, C_b, t_b = np.empty((nf, 3)), np.empty((nf, 3, 3)), np.full(nf, t)
        f = 0
        for p in range(r_n):
            if far[p]:
                i, j = track[p], plot[p]
                p_a[f], C_a[f], t_a[f] = cx[i, :3], cp[i, :3, :3], ctime[i]
                p_b[f], C_b[f] = plot_pos[j], plot_cov[j]
                f += 1
        x2, P2 = _two_point_stack(p_a, C_a, t_a, p_b, C_b, t_b, np.full(nf, q_air))
        x2, P2, ok2 = _velocity_prior(x2, P2, init_speed_sigma_mps)
        for f in range(nf):
            if not ok2[f]:
                return False, _NO_B, 0
        f = 0
        for p in range(r_n):
            if far[p]:
                xu[p], Pu[p], tu[p] = x2[f], P2[f], max(t_a[f], t_b[f])
                vel_init[p] = True
                f += 1
    _unknown_velocity(xu, Pu, ~vel_init, init_speed_sigma_mps)  # same instant: a better position only
    written, oos = _write_rows(track, xu, Pu, tu, np.ones(r_n, dtype=np.bool_), vel_init, t, bit, max_speed, cx, cp,
                               ctime, cvel, clast, chits, cmiss, cseen, dt, x_now, P_now, hit)
    return True, written, oos


@njit(cache=True, error_model="numpy")
def _manage_mofn(hit, xp, enu_rot, limits, small_target_range_m, site_ecef, bit, seen_by, n_opportunities,
                 n_misses, status, n_hits, vel_init, x, P, ballistic, kin_class, x_now, P_now, last_update_s,
                 dup_count, now_s, confirm_m, confirm_n, speed_bound_sq, k_bal, min_alt, min_speed, min_vspeed, slow,
                 k_class, merge_d2, merge_radius_m, merge_checks, coast, min_alt_m):  # pragma: no cover - compiled
    """Track management (step 4 of the cycle) with M-of-N confirmation, in one pass of each stage.

    1. Missed opportunities (:func:`_count_opportunities`).
    2. M-of-N (:class:`~tdome.c2.tracking.initiation.MOfN`): a tentative
       track is confirmed with ``confirm_m`` hits and a velocity, rejected
       once ``n_opportunities - n_hits > confirm_n - confirm_m``.
    3. Classification of the confirmed tracks the scan updated
       (:func:`~tdome.c2.tracking.classification._classify_rows`).
    4. The deletion tests (:func:`~tdome.c2.tracking.deletion._near_pairs`,
       :func:`~tdome.c2.tracking.deletion._deletion_tests`).

    Returns ``(confirmed, rejected, dead, counts)``: how many tracks were
    confirmed, the rejected tracks, the tracks to delete, and ``counts``
    (:func:`~tdome.c2.tracking.deletion._deletion_counts`); ``counts[0] = -1``
    when duplicates are to be merged or a pair's covariance sum needs the
    repaired inverse: the deletion stage is then left undone (duplicate
    counts untouched) for :func:`~tdome.c2.tracking.deletion.delete`.
    """
    n = hit.shape[0]
    _count_opportunities(xp, enu_rot, hit, seen_by, bit, True, limits, small_target_range_m, site_ecef,
                         n_opportunities, n_misses)
    confirm, rejected = _m_of_n(status, n_hits, vel_init, P, speed_bound_sq, n_opportunities, confirm_m, confirm_n)
    updated = np.zeros(n, dtype=np.bool_)
    n_confirmed = 0
    for r in range(n):
        if confirm[r]:
            status[r] = CONFIRMED
            n_confirmed += 1
        updated[r] = hit[r] and status[r] == CONFIRMED
    _classify_rows(x, P, updated, ballistic, kin_class, k_bal, min_alt, min_speed, min_vspeed, slow, k_class)
    counts = np.zeros(4, dtype=np.int64)
    dead = np.zeros(n, dtype=np.bool_)
    conf = np.flatnonzero(status == CONFIRMED)
    if conf.shape[0] >= 2:
        i, j, d2, ok = _near_pairs(x_now, P_now, conf, merge_d2, merge_radius_m, hit)
    else:
        i, j, d2, ok = _NO_I, _NO_I, _NO_D, _NO_B
    for p in range(ok.shape[0]):
        if not ok[p]:
            counts[0] = -1
            return n_confirmed, rejected, dead, counts
    new_count = np.empty(n, dtype=dup_count.dtype)
    ripe_i, _, coasted, below = _deletion_tests(i, j, d2, hit, dup_count, new_count, status, last_update_s, n_hits,
                                                n_opportunities, n_misses, x_now, P_now, now_s, merge_d2, merge_checks,
                                                coast, min_alt_m)
    if ripe_i.shape[0]:
        counts[0] = -1
        return n_confirmed, rejected, dead, counts
    for r in range(n):
        dup_count[r] = new_count[r]
        dead[r] = coasted[r] or rejected[r] or below[r]
    return n_confirmed, rejected, dead, _deletion_counts(dead, status, coasted, below)


# What :func:`_radar_cycle` did: all of the scan; nothing (the stages one by one must take it); all but deletion and
# the start of new tracks (a merge, or a repaired inverse: :func:`~tdome.c2.tracking.deletion.delete` then the start).
CYCLE_DONE, CYCLE_NOT_RUN, CYCLE_TO_DELETE = 0, 1, 2
# What :func:`_radar_cycle` counts, in its order: keys of ``Tracker.stats``.
CYCLE_STATS = ("oos_updates", "speed_rejected", "confirmed") + DELETION_STATS + ("started",)


@njit(cache=True)
def _radar_cycle(r, az, el, rdot, k, sig, s_rdot, site_ecef, enu_rot, limits, small_target_range_m, bit, t, now_s,
                 buffers, n, next_id, angle, gamma, front, update, manage, score0, suppress_init_in_gates, firm_first,
                 counts):  # pragma: no cover - compiled
    """One radar scan through the whole cycle for GNN, the EKF and M-of-N, in the track table's buffers.

    The five steps of :meth:`Tracker.process`, through the compiled stages in
    their order: the front (plots, prediction, gate, reach test:
    :func:`_radar_front`); GNN (:func:`~tdome.c2.tracking.association._gnn_firm_first`
    on the costs ``d² + ln|S|``, the confirmed tracks first with
    ``firm_first``); the update and the writes
    (:func:`_update_single_ekf`); track management (:func:`_manage_mofn`),
    the deletion by compacting the buffers; a tentative track on each plot
    that no track took and, with ``suppress_init_in_gates``, that is in no
    confirmed track's gate (:func:`~tdome.c2.tracking.initiation._start_tracks`).

    ``buffers`` are the table's :data:`~tdome.c2.tracking.track_table.TRACK_COLUMNS`
    buffers (``n`` rows in use, room for the scan's plots); ``front``,
    ``update``, ``manage`` the settings of those stages; ``counts`` the
    running totals of :data:`CYCLE_STATS`, added to in place.  Returns
    ``(done, rows, next_id, plots, track ids, hit, x_now, P_now, rejected,
    born, plot positions, their covariances)``: ``done`` is
    :data:`CYCLE_DONE`, or :data:`CYCLE_NOT_RUN` (the gate or the update
    needs what only the stages one by one do: nothing changed), or
    :data:`CYCLE_TO_DELETE` (stopped before the deletion stage, which is
    left with new tracks to start on ``born``); ``plots``, ``track ids`` the
    association so far.
    """
    (x_buf, P_buf, b_id, b_time, b_status, b_hits, b_opportunities, b_misses, b_first, b_last, b_ballistic, b_class,
     b_score, b_peak, b_vel, b_dup, b_seen) = buffers
    x, P, time_s, status, vel_init = x_buf[:n], P_buf[:n], b_time[:n], b_status[:n], b_vel[:n]
    lam, max_speed, q_air, q_ballistic, max_substep_s, inv_beta_min, q_time_s = front
    min_init_dt_s, init_speed_sigma_mps = update
    (confirm_m, confirm_n, speed_bound_sq, k_bal, min_alt, min_speed, min_vspeed, slow, k_class, merge_d2,
     merge_radius_m, merge_checks, coast, min_alt_m) = manage
    no_i = np.empty(0, dtype=np.intp)

    # 1–2. Predict and gate; the tracks a plot reaches; GNN.
    z, R, pos, cov, _, dt, _, xp, Pp, ti, pj, nu, H, _, d2, logdet, ok = _radar_front(
        r, az, el, rdot, k, sig, s_rdot, site_ecef, enu_rot, x, P, time_s, b_ballistic[:n], vel_init, t, angle, gamma,
        lam, max_speed, q_air, q_ballistic, max_substep_s, inv_beta_min, q_time_s)
    m = z.shape[0]
    hit, x_now, P_now = np.zeros(n, dtype=np.bool_), xp.copy(), Pp.copy()
    no_b = np.zeros(0, dtype=np.bool_)
    if not ok:
        return CYCLE_NOT_RUN, n, next_id, no_i, no_i, hit, x_now, P_now, no_b, no_b, pos, cov
    in_confirmed_gate = np.zeros(m, dtype=np.bool_)
    for p in range(ti.shape[0]):
        if status[ti[p]] == CONFIRMED:
            in_confirmed_gate[pj[p]] = True
    if not ti.shape[0]:
        sel = no_i
    elif firm_first:
        firm = np.empty(ti.shape[0], dtype=np.bool_)
        for p in range(ti.shape[0]):
            firm[p] = status[ti[p]] == CONFIRMED and vel_init[ti[p]]
        sel = _gnn_firm_first(ti, pj, d2 + logdet, firm, n, m)
    else:
        sel = _gnn_select(ti, pj, d2 + logdet, n, m)
    track, plot = ti[sel], pj[sel]

    # 3. Update.
    ok, written, oos = _update_single_ekf(
        track, plot, nu[sel], H[sel], R, pos, cov, xp, Pp, dt, t, bit, x, P, time_s, vel_init, b_last[:n], b_hits[:n],
        b_misses[:n], b_seen[:n], x_now, P_now, hit, min_init_dt_s, q_air, init_speed_sigma_mps, max_speed)
    if not ok:
        return CYCLE_NOT_RUN, n, next_id, no_i, no_i, hit, x_now, P_now, no_b, no_b, pos, cov
    counts[0] += oos
    counts[1] += written.shape[0] - written.sum()
    used = np.zeros(m, dtype=np.bool_)
    rep_plot, rep_id = plot[written], b_id[:n][track[written]]
    used[rep_plot] = True
    born = ~used & ~in_confirmed_gate if suppress_init_in_gates else ~used

    # 4. Manage.
    rejected = np.zeros(n, dtype=np.bool_)
    if n:
        confirmed, rejected, dead, deleted = _manage_mofn(
            hit, xp, enu_rot, limits, small_target_range_m, site_ecef, bit, b_seen[:n], b_opportunities[:n],
            b_misses[:n], status, b_hits[:n], vel_init, x, P, b_ballistic[:n], b_class[:n], x_now, P_now, b_last[:n],
            b_dup[:n], now_s, confirm_m, confirm_n, speed_bound_sq, k_bal, min_alt, min_speed, min_vspeed, slow,
            k_class, merge_d2, merge_radius_m, merge_checks, coast, min_alt_m)
        counts[2] += confirmed
        if deleted[0] < 0:
            return CYCLE_TO_DELETE, n, next_id, rep_plot, rep_id, hit, x_now, P_now, rejected, born, pos, cov
        if deleted[0]:
            counts[3:7] += deleted
            keep = ~dead
            n = _compact(keep, buffers)

    # 5. Start tracks on the plots left.
    new = _start_tracks(born, pos, cov, t, bit, next_id, score0, init_speed_sigma_mps, n, x_buf, P_buf, b_id, b_time,
                        b_status, b_hits, b_opportunities, b_misses, b_first, b_last, b_ballistic, b_class, b_score,
                        b_peak, b_vel, b_dup, b_seen)
    nb = new.shape[0]
    counts[7] += nb
    plots_out = np.concatenate((rep_plot, new))
    ids_out = np.concatenate((rep_id, np.arange(next_id, next_id + nb).astype(np.int64)))
    return CYCLE_DONE, n + nb, next_id + nb, plots_out, ids_out, hit, x_now, P_now, rejected, born, pos, cov


class Tracker(PictureSource):
    """Multi-radar tracker in ECEF.  See the module docstring."""

    def __init__(self, config: TrackerConfig, sensors: list[SensorSite], first_track_id: int = 1):
        """``first_track_id``: where its track numbers start (trackers of several C2 nodes number apart)."""
        self.config = config  # validated when it was made (TrackerConfig.__post_init__)
        self.sensors = {s.index: s for s in sensors}
        self.estimator = ESTIMATORS[config.motion](config)
        self.associator = make_associator(config)
        self.confirmation = make_confirmation(config)
        self._table = TrackTable(self.estimator.columns)
        self._next_id = int(first_track_id)
        self._now = -np.inf
        self._scan_arrays: tuple = (None, ())  # the last scan the compiled cycle ran, and its arrays
        self._last_association = PlotAssociation.none()
        # Light objects told from heavy ones by their deceleration (None: no discrimination).
        self.discriminator = Discriminator(config) if config.discrimination_beta_kg_m2 is not None else None
        # GNN, the single-model estimator's EKF and M-of-N: a radar scan in one compiled call (:meth:`_cycle`).
        self._compiled_cycle = (isinstance(self.estimator, SingleModelEstimator) and not self.estimator.columns
                                and config.filter == "ekf" and config.association == "gnn"
                                and isinstance(self.confirmation, MOfN))
        c = config
        self._score0 = start_score(c)
        self._cycle_settings = (
            (float(c.false_alarm_density_m3), float(c.max_speed_mps), float(c.q_air), float(c.q_ballistic),
             float(c.max_substep_s), 0.0 if c.drag_beta_min_kg_m2 is None else 1.0 / float(c.drag_beta_min_kg_m2),
             float(c.q_time_s)),
            (float(c.min_init_dt_s), float(c.init_speed_sigma_mps)),
            (int(c.confirm_m), int(c.confirm_n), speed_sigma_bound(c), float(c.ballistic_sigmas),
             float(c.ballistic_min_alt_m), float(c.ballistic_min_speed_mps), float(c.ballistic_min_vspeed_mps),
             float(c.slow_speed_mps), float(c.class_sigmas), float(c.merge_d2), float(c.merge_radius_m),
             int(c.merge_checks), coast_limits(c), float(c.min_alt_m)),
            self._score0, bool(c.suppress_init_in_gates), bool(c.gnn_confirmed_first))
        # Each radar as the compiled cycle takes it: (ECEF, ENU rotation, coverage limits, small-target range, bit).
        self._site_args = {k: (st.ecef, st.enu_rot, st.coverage_limits, _small_target_range(st),
                               np.uint64(1) << np.uint64(k)) for k, st in self.sensors.items() if 0 <= k < 64}
        # What objects can do (tdome.c2.tracking.plausibility); None: no catalog given, or the test is off.
        self.envelope = (Envelope.of(c.threat_kinematics, c) if c.threat_kinematics is not None
                         and c.plausibility_sigmas is not None else None)
        self._hidden: set[int] = set()  # tracks picture() has left out as implausible
        self._counts: dict[str, int] = dict.fromkeys(_STATS, 0)  # the stages one by one count here
        self._cycle_counts = np.zeros(len(CYCLE_STATS), dtype=np.int64)  # ... and the compiled cycle here

    # Read-only views of the per-track arrays (rows = tracks, tentative included, sorted by id);
    # they change with every scan: copy what you keep, or use picture().
    x = _track_property("x", "(n, 6) ECEF states at time_s")
    P = _track_property("P", "(n, 6, 6) state covariances")
    track_id = _track_property("track_id", "(n,) unique, increasing, never reused")
    time_s = _track_property("time_s", "(n,) time of each state")
    status = _track_property("status", "(n,) 0 tentative, 1 confirmed")
    n_hits = _track_property("n_hits", "(n,) plots associated")
    n_opportunities = _track_property("n_opportunities", "(n,) scans that covered the track")
    n_misses = _track_property("n_misses", "(n,) consecutive missed opportunities")
    first_update_s = _track_property("first_update_s", "(n,) time of the first plot")
    last_update_s = _track_property("last_update_s", "(n,) time of the latest plot")
    ballistic = _track_property("ballistic", "(n,) predicted with gravity")
    kin_class = _track_property("kin_class", "(n,) kinematic class: KinematicClass codes")

    def __len__(self) -> int:
        return len(self._table)

    @property
    def stats(self) -> dict[str, int]:
        """Counters for the run record: scans, plots, tracks started, confirmed, deleted (and why), merged, …

        A new dict each time, the sum of what the stages one by one and the
        compiled cycle counted; assigning one starts the counts from it.
        """
        counts = dict(self._counts)
        for key, v in zip(CYCLE_STATS, self._cycle_counts.tolist(), strict=True):
            counts[key] += v
        if self.envelope is not None:
            counts["implausible_hidden"] = len(self._hidden)
        if self.discriminator is not None:
            counts["discrimination_fits"] = self.discriminator.fits
            counts["discriminated_light"] = len(self.discriminator.light)
        return counts

    @stats.setter
    def stats(self, counts: dict[str, int]) -> None:
        self._counts = {**dict.fromkeys(_STATS, 0), **counts}
        self._cycle_counts[:] = 0

    @property
    def now_s(self) -> float:
        """Latest scan time processed."""
        return self._now

    @property
    def last_association(self) -> PlotAssociation:
        """Which track each plot of the last scan went to (updated or started); plots absent were refused."""
        return self._last_association

    # ------------------------------------------------------------------ the cycle

    def process(self, scan: Detections | PositionPlots) -> None:
        """Run one predict–associate–update–manage cycle on a scan.

        A radar scan (:class:`Detections`) must come from one of the tracker's
        sensors; a Cartesian feed (:class:`PositionPlots`) may come from any
        source, and one that is not among the sensors is taken to cover everywhere.
        """
        site = self._count(scan)
        if not (self._compiled_cycle and isinstance(scan, Detections) and site is not None
                and len(self._table) * len(scan) <= _BRUTE_FORCE_MAX_PAIRS and self._cycle(scan, site)):
            self._stages(scan, site)
        if self.envelope is not None:
            self._drop_implausible(float(scan.time_s))
        if self.discriminator is not None:
            self._discriminate(scan, site)

    def _drop_implausible(self, t: float) -> None:
        """Delete the tracks the scan updated whose kinematics no object could have (:mod:`.plausibility`).

        Tracks with a velocity only (a one-plot track's is unknown), outside
        the envelope by ``plausibility_sigmas`` of their covariance: a
        tentative one goes before it can confirm, a confirmed one before any
        picture shows it; ``stats`` counts both.  (A track whose estimate is
        outside but whose covariance still reaches inside stays, and
        :meth:`picture` leaves it out.)
        """
        cols, env, k = self._table.cols, self.envelope, self.config.plausibility_sigmas
        assert env is not None and k is not None  # process() calls this only with one
        rows = (cols["last_update_s"] == t) & cols["vel_init"]
        if not rows.any():
            return
        bad = _implausible(cols["x"], cols["P"], rows, float(k), *env.arrays)
        if not bad.any():
            return
        n_conf = int((bad & (cols["status"] == CONFIRMED)).sum())
        st = self._counts
        st["implausible_confirmed"] += n_conf
        st["implausible_tentative"] += int(bad.sum()) - n_conf
        st["deleted"] += int(bad.sum())
        st["deleted_confirmed"] += n_conf
        self._table.keep(~bad)

    def _discriminate(self, scan: Detections | PositionPlots, site: SensorSite | None) -> None:
        """Hand the plots that ballistic or re-entering tracks took to the discriminator, and let it fit them."""
        assoc = self._last_association
        if not assoc.track_id.size:
            return
        cols, disc = self._table.cols, self.discriminator
        assert disc is not None  # process() calls this only with one
        # Tracks still there, and ballistic or re-entering (a decoy the air has slowed out of its ballistic
        # track is picked up again by a new track that is not yet, or no longer, classed ballistic).
        if isinstance(scan, PositionPlots):
            ok, rows = select_plots(cols["track_id"], assoc.track_id, cols["ballistic"], cols["x"],
                                    disc.min_descent_mps)
            if not ok.any():
                return
            pl = assoc.plot[ok]
            disc.observe(float(scan.time_s), assoc.track_id[ok], np.asarray(scan.pos, dtype=float)[pl],
                         np.asarray(scan.cov, dtype=float)[pl])
            fit = np.unique(rows[ok])
        elif site is None:
            return
        else:
            last, arrays = self._scan_arrays
            r, az, el, _, _, sig, _ = arrays if last is scan else radar_arrays(scan, site)
            fit = disc.observe_radar(float(scan.time_s), cols["track_id"], cols["ballistic"], cols["x"],
                                     assoc.track_id, assoc.plot, r, az, el, sig, site.ecef, site.enu_rot)
            if not fit.size:
                return
        disc.assess(self._now, cols["track_id"][fit], cols["x"][fit])

    def _stages(self, scan: Detections | PositionPlots, site: SensorSite | None) -> None:
        """The cycle stage by stage, each through its module's interface (module docstring)."""
        c, st, est = self.config, self._counts, self.estimator
        # 1. Predict (or retrodict) every track to the scan time; 2. gate, and associate.
        plots = ScanPlots.from_scan(scan, site, c.false_alarm_density_m3, c.max_speed_mps)
        pred = est.predict(self._table, plots.time_s)
        pairs = reachable(est.gate(self._table, pred, plots), self._table, plots, pred.dt, c.max_speed_mps)
        table, cols = self._table, self._table.cols
        n, m = len(self._table), len(plots)
        in_confirmed_gate = np.zeros(m, dtype=bool)
        in_confirmed_gate[pairs.plot[cols["status"][pairs.track] == CONFIRMED]] = True
        assoc = self.associator(pairs, n, plots, table.confirmed & cols["vel_init"])

        # 3. Update the associated tracks (implausible velocities refused).
        # Each track's state at the scan time: predicted, or updated where the update is at the scan time.
        hit, x_now, P_now = np.zeros(n, dtype=bool), pred.x.copy(), pred.P.copy()
        mixture, single = est.update(table, pred, assoc, plots)
        single.vel_init = second_plot(table, single, pred, plots, c)
        mixture = self._write(mixture, pred, plots, x_now, P_now, hit)
        single = self._write(single, pred, plots, x_now, P_now, hit)
        used = assoc.claimed
        used[single.plot] = True
        report = self._report(assoc, single)

        # 4. Track management.
        if n:
            missed = self._missed_opportunities(hit, plots, pred)
            confirm, rejected = self.confirmation.step(table, hit, missed, assoc, plots)
            cols["status"][confirm] = CONFIRMED
            est.confirmed(table, np.flatnonzero(confirm))
            st["confirmed"] += int(confirm.sum())
            classify(table, hit & table.confirmed, est, c)
            delete(table, est, self._now, x_now, P_now, hit, rejected, c, st)

        # 5. Unused plots start tentative tracks.
        born = ~used & ~in_confirmed_gate if c.suppress_init_in_gates else ~used
        report.append(self._start(born, plots.pos, plots.cov, plots.time_s, plots.bit))
        self._last_association = PlotAssociation(np.concatenate([p for p, _ in report]),
                                                 np.concatenate([i for _, i in report]).astype(np.int64))

    def _cycle(self, scan: Detections, site: SensorSite) -> bool:
        """A radar scan in one compiled call (:func:`_radar_cycle`); False, with nothing done, if it could not.

        The same stages in the same order as :meth:`_stages`.  An innovation
        covariance that needs the repaired inverse, or an out-of-sequence
        pair, leaves the scan to the stages one by one; a merge of duplicates
        (or a repaired inverse there) leaves the deletion and the start of new
        tracks to :func:`delete` and :meth:`_start`.
        """
        table = self._table
        table.reserve(len(scan))
        t, arrays = float(scan.time_s), radar_arrays(scan, site)
        self._scan_arrays = (scan, arrays)  # for the discriminator
        k = arrays[4]
        ecef, rot, limits, small, bit = self._site_args[scan.sensor]
        limits = _swept(limits, scan.sector_rad)
        done, n, next_id, plot, ids, hit, x_now, P_now, rejected, born, pos, cov = _radar_cycle(
            *arrays, ecef, rot, limits, small, bit, t, self._now, table.buffers, len(table), self._next_id,
            _RADAR_ANGLES[k], self.estimator.gamma[k], *self._cycle_settings, self._cycle_counts)
        if done == CYCLE_NOT_RUN:
            return False
        table.resize(n)
        self._next_id = next_id
        if done == CYCLE_TO_DELETE:
            delete(table, self.estimator, self._now, x_now, P_now, hit, rejected, self.config, self._counts)
            new_plots, new_ids = self._start(born, pos, cov, t, bit)
            plot, ids = np.concatenate([plot, new_plots]), np.concatenate([ids, new_ids])
        self._last_association = PlotAssociation(plot, ids)
        return True

    def _start(self, born: np.ndarray, pos: np.ndarray, cov: np.ndarray, t: float,
               bit: np.uint64) -> tuple[np.ndarray, np.ndarray]:
        """Step 5: a tentative track on each plot ``born`` (:func:`_start_tracks`); returns ``(plots, track ids)``."""
        table, c = self._table, self.config
        table.reserve(born.size)
        n = len(table)
        new = _start_tracks(born, pos, cov, float(t), bit, self._next_id, self._score0, float(c.init_speed_sigma_mps),
                            n, *table.buffers)
        table.clear(self.estimator.columns, n, n + new.size)  # the estimator's own columns start at zero
        ids = np.arange(self._next_id, self._next_id + new.size, dtype=np.int64)
        self._next_id += new.size
        self._counts["started"] += new.size
        table.resize(n + new.size)
        return new, ids

    def _count(self, scan: Detections | PositionPlots) -> SensorSite | None:
        """Check a scan and count it; returns its sensor's site (None for a feed from no listed sensor)."""
        site = self.sensors.get(scan.sensor)
        if site is None and not isinstance(scan, PositionPlots):
            raise KeyError(f"scan from unknown sensor {scan.sensor}")
        if not 0 <= scan.sensor < 64:
            raise ValueError(f"sensor index {scan.sensor} outside 0..63")
        t, m = float(scan.time_s), len(scan)
        st = self._counts
        st["scans"] += 1
        st["plots"] += m
        if t < self._now:
            st["oos_scans"] += 1
            st["oos_plots"] += m
        self._now = max(self._now, t)
        return site

    def _write(self, est: Estimate, pred: Prediction, plots: ScanPlots, x_now: np.ndarray, P_now: np.ndarray,
               hit: np.ndarray) -> Estimate:
        """Write the updates whose speed is plausible into the table; returns those.

        Also marks the tracks the scan detected (``hit``) and puts the states
        updated at the scan time in ``x_now``, ``P_now`` (:func:`_write_rows`).
        """
        if not len(est):
            return est
        cols, st = self._table.cols, self._counts
        ok, oos = _write_rows(est.track, est.x, est.P, est.time_s, est.detected,
                              _NO_FLAGS if est.vel_init is None else est.vel_init, pred.t, plots.bit,
                              float(self.config.max_speed_mps), cols["x"], cols["P"], cols["time_s"],
                              cols["vel_init"], cols["last_update_s"], cols["n_hits"], cols["n_misses"],
                              cols["seen_by"], pred.dt, x_now, P_now, hit)
        st["oos_updates"] += oos
        if not ok.all():
            st["speed_rejected"] += int((~ok).sum())
            est = est.select(ok)
        for name, v in est.columns.items():
            cols[name][est.track] = v
        return est

    def _report(self, assoc: Association, single: Estimate) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(plots, track ids)`` in the order the plots were used: JPDA's claimed plots, then single-plot updates."""
        ids = self._table.cols["track_id"]
        report = []
        if len(assoc.mixture):
            pl, rows = assoc.mixture_report()
            report.append((pl, ids[rows].copy()))
        if single.plot is None:
            raise ValueError("the single-plot updates name no plots")
        report.append((single.plot, ids[single.track].copy()))
        return report

    def _missed_opportunities(self, hit: np.ndarray, plots: ScanPlots, pred: Prediction) -> np.ndarray:
        """Tracks (n,) that the scan could have updated and did not; counts every track's opportunities.

        A scan is an opportunity only for a radar that has detected the track
        before, or that would see even a small target there: one that covers it
        but cannot see it (a small target far out for its power) says nothing
        about whether the track is real.
        """
        cols = self._table.cols
        rot, has_site, limits, small, ecef = _coverage(plots)
        return _count_opportunities(pred.x, rot, hit, cols["seen_by"], plots.bit, has_site, limits, small, ecef,
                                    cols["n_opportunities"], cols["n_misses"])

    # ------------------------------------------------------------------ output

    def picture(self, t_s: float) -> AirPicture:
        """Confirmed tracks (not coasting beyond ``max_coast_s``) predicted to ``t_s``.

        With a plausibility envelope, a track whose predicted estimate is
        outside it (a ghost coasting up out of any aircraft's ceiling, a
        young track whose velocity is still loose) is left out;
        ``stats['implausible_hidden']`` counts the tracks ever left out.
        """
        cols = self._table.cols
        live = (cols["status"] == CONFIRMED) & (t_s - cols["last_update_s"] <= self.config.max_coast_s)
        x, P = self.estimator.picture(self._table, live, t_s)
        if self.envelope is not None and x.shape[0]:
            out = _implausible(x, P, np.ones(x.shape[0], dtype=np.bool_), 0.0, *self.envelope.arrays)
            if out.any():
                rows = np.flatnonzero(live)
                self._hidden.update(cols["track_id"][rows[out]].tolist())
                live[rows[out]] = False
                x, P = x[~out], P[~out]
        return AirPicture(
            time_s=float(t_s),
            track_id=cols["track_id"][live].copy(),
            x=x,
            P=P,
            ballistic=cols["ballistic"][live].copy(),
            n_hits=cols["n_hits"][live].copy(),
            first_update_s=cols["first_update_s"][live].copy(),
            last_update_s=cols["last_update_s"][live].copy(),
            kin_class=cols["kin_class"][live].copy(),
            quality=cols["n_hits"][live] / np.maximum(cols["n_opportunities"][live], 1),
            score=cols["score"][live].copy() if self.confirmation.keeps_score else None,
            light=(None if self.discriminator is None else
                   np.isin(cols["track_id"][live], np.fromiter(self.discriminator.light, dtype=np.int64))),
        )
