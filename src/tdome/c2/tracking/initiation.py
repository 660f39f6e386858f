"""Initiation: how a plot becomes a track, and how a tentative track is confirmed.

Interface::

    one_point_state(pos, cov, speed_sigma)        -> (x, P)      a new track from one plot
    two_point_init(p_a, C_a, t_a, p_b, C_b, t_b, q, speed_sigma) -> (x, P, t)   velocity from two plots
    reachable(pairs, table, plots, dt, max_speed) -> GatedPairs  one-plot tracks keep only plots they could reach
    second_plot(table, estimate, pred, plots, config) -> vel_init  one-plot tracks that took a plot
    _start_tracks(born, pos, cov, t, …, table buffers)  tentative tracks on the plots born (compiled)
    Confirmation (MOfN, Score): step(table, hit, missed, association, plots) -> (confirm, reject)

One-point initiation
--------------------
A plot nobody claims starts a tentative track at the plot's ECEF position
with *zero velocity* and an isotropic velocity standard deviation of
``init_speed_sigma_mps`` (:func:`one_point_state`).  That wide prior is used
only to *gate* the next plot (with a 1,200 m/s σ the 99.99 % gate reaches
≈ 5 km/s in any direction, i.e. every plausible threat, and the GNN cost
``d² + ln|S|`` makes such a loose track lose any contested plot to an
established one).  Candidate second plots implying a speed above
``max_speed_mps`` are refused (:func:`reachable`).

Two-point initiation
--------------------
The second plot, if it is at least ``min_init_dt_s`` later, does *not* go
through the EKF: the velocity is set by two-point differencing of the two
converted plots (:func:`two_point_init`).  With a prior that wide the EKF
would give nearly the same answer but linearise the polar measurement
across a kilometres-wide prior; the differencing is exact, needs no prior
weight and its covariance is consistent by construction (Bar-Shalom et al.
§5.5.3); the velocity prior is then fused in as a pseudo-measurement, so
that a short baseline does not give a velocity the prior already rules
out.  A Cartesian feed's second plot goes through the ordinary Kalman
update from the one-plot state instead: with a linear measurement that is
the exact posterior.  Two plots closer in time than ``min_init_dt_s`` (two
radars seeing the target at the same instant) are fused into a better
position and the velocity stays unknown (:func:`second_plot`).

Confirmation
------------
*Opportunities* are scans of a radar whose nominal coverage contains the
track's predicted position (and that has seen it, or would see a small
target there); a scan that does not cover a track neither helps nor hurts
it.  :class:`MOfN`: confirmed with ``confirm_m`` hits (and a velocity)
within its first ``confirm_n`` opportunities, rejected as soon as that has
become impossible.  :class:`Score`: the sequential log-likelihood-ratio
test of :mod:`tdome.c2.tracking.score`.  A confirmation test only *rejects*;
the track is deleted where every deletion is decided (:mod:`.deletion`).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numba import njit

from tdome.c2.tracking.association import Association
from tdome.c2.tracking.config import TrackerConfig
from tdome.c2.tracking.estimator import Estimate, Prediction
from tdome.c2.tracking.gating import GatedPairs
from tdome.c2.tracking.gaussian import _kalman_stack, gaussian_loglik, kalman_update
from tdome.c2.tracking.plots import ScanPlots
from tdome.c2.tracking.score import TrackScoreConfig, initial_score, pda_score_increment, score_step
from tdome.c2.tracking.track_table import TENTATIVE, TrackTable

_IDX3 = np.arange(3)


# --------------------------------------------------------------------------- new tracks


def one_point_state(pos, cov, speed_sigma_mps: float):
    """Track state from a single plot: position, zero velocity with isotropic std ``speed_sigma_mps``."""
    pos = np.ascontiguousarray(pos, dtype=float).reshape(-1, 3)
    cov = np.ascontiguousarray(np.broadcast_to(cov, (pos.shape[0], 3, 3)), dtype=float)
    x, P = np.empty((pos.shape[0], 6)), np.empty((pos.shape[0], 6, 6))
    for p in range(pos.shape[0]):
        _one_point(pos[p], cov[p], float(speed_sigma_mps), x[p], P[p])
    return x, P


@njit(cache=True, inline="always")
def _one_point(pos, cov, speed_sigma_mps, x, P):  # pragma: no cover - compiled
    """:func:`one_point_state` of one plot, into ``x`` (6,) and ``P`` (6, 6)."""
    P[:] = 0.0
    for i in range(3):
        x[i], x[i + 3] = pos[i], 0.0
        for j in range(3):
            P[i, j] = cov[i, j]
        P[i + 3, i + 3] = speed_sigma_mps * speed_sigma_mps


@njit(cache=True)
def _start_tracks(born, pos, cov, t, bit, first_id, score0, speed_sigma_mps, n, x, P, track_id, time_s, status, n_hits,
                  n_opportunities, n_misses, first_update_s, last_update_s, ballistic, kin_class, score, score_peak,
                  vel_init, dup_count, seen_by):  # pragma: no cover - compiled
    """Tentative tracks on the plots ``born`` (m,), in rows ``n, n+1, …`` of the track table's buffers.

    Each new track: the plot's :func:`one_point_state`, track numbers from
    ``first_id`` up in plot order, state time and first and latest plot at
    the scan time ``t``, one hit in one opportunity, score ``score0``, seen
    by the scan's sensor (``bit``); status, misses, flags and class zero.
    The buffers must have room.  Returns the rows' plots, in order.
    """
    plots = np.flatnonzero(born)
    for b in range(plots.shape[0]):
        r, j = n + b, plots[b]
        _one_point(pos[j], cov[j], speed_sigma_mps, x[r], P[r])
        track_id[r] = first_id + b
        time_s[r], first_update_s[r], last_update_s[r] = t, t, t
        status[r], n_hits[r], n_opportunities[r], n_misses[r], dup_count[r] = 0, 1, 1, 0, 0
        ballistic[r], vel_init[r], kin_class[r] = False, False, 0
        score[r], score_peak[r] = score0, score0
        seen_by[r] = bit
    return plots


def two_point_init(p_a, C_a, t_a, p_b, C_b, t_b, q, speed_sigma_mps: float | None = None):
    """Two-point differencing initialisation (BLK §5.5.3, extended to 3-D and process noise).

    From two independent Cartesian position measurements ``p_1`` at ``t_1``
    and ``p_2`` at ``t_2 > t_1`` (covariances ``C_1``, ``C_2``), ``T = t_2 - t_1``::

        x = [ p_2, (p_2 - p_1) / T ]
        P = [[ C_2,    C_2 / T                    ],
             [ C_2 / T, (C_1 + C_2) / T² + q T / 3 ]]

    The ``q T / 3`` term is the variance of ``v(t_2)`` about the mean velocity
    over the interval under white-noise acceleration of density ``q``.  The
    arguments may come in either time order; the state is at the later time.

    With ``speed_sigma_mps`` the prior on the velocity that a one-plot track
    carries (zero mean, isotropic σ) is fused in as the independent
    pseudo-measurement ``v = 0``, ``R = σ² I`` (a Kalman update with
    ``H = [0 I]``): the estimate is then the posterior given the prior and
    both plots, which matters when the prior is as informative as the
    plots (short baselines, slow targets).  Returns ``(x, P, t)``.
    """
    t_a = np.ascontiguousarray(t_a, dtype=float).reshape(-1)
    t_b = np.ascontiguousarray(t_b, dtype=float).reshape(-1)
    n = t_a.shape[0]
    x, P = _two_point_stack(_rows(p_a, n, (3,)), _rows(C_a, n, (3, 3)), t_a, _rows(p_b, n, (3,)),
                            _rows(C_b, n, (3, 3)), t_b, _rows(q, n, ()))
    if speed_sigma_mps is not None:
        xv, Pv, ok = _velocity_prior(x, P, float(speed_sigma_mps))
        if not ok.all():  # S not numerically positive definite: kalman_update's repaired inverse
            bad = ~ok
            H = np.zeros((int(bad.sum()), 3, 6))
            H[:, _IDX3, _IDX3 + 3] = 1.0
            R = np.eye(3) * float(speed_sigma_mps) ** 2
            xv[bad], Pv[bad] = kalman_update(x[bad], P[bad], -x[bad, 3:], H, R)[:2]
        x, P = xv, Pv
    return x, P, np.maximum(t_a, t_b)


@njit(cache=True)
def _velocity_prior(x, P, speed_sigma_mps):  # pragma: no cover - compiled
    """The one-plot velocity prior fused into states: the Kalman update by ``v = 0``, ``R = σ² I``, ``H = [0 I]``.

    Returns ``(x⁺, P⁺, ok)`` as :func:`~tdome.c2.tracking.gaussian._kalman_stack`
    (``ok`` False where ``S`` needs the repaired inverse).
    """
    n = x.shape[0]
    H = np.zeros((n, 3, 6))
    R = np.zeros((n, 3, 3))
    nu = np.empty((n, 3))
    for r in range(n):
        for a in range(3):
            H[r, a, 3 + a] = 1.0
            R[r, a, a] = speed_sigma_mps**2
            nu[r, a] = -x[r, 3 + a]
    xu, Pu, _, _, ok = _kalman_stack(x, P, nu, H, R, np.empty((n, 3, 3)), np.empty(n), np.zeros(n, dtype=np.bool_))
    return xu, Pu, ok


@njit(cache=True)
def _unknown_velocity(x, P, rows, speed_sigma_mps):  # pragma: no cover - compiled
    """The states ``rows`` (bool) keep their position and take the one-plot velocity: zero, ``σ² I``, uncorrelated."""
    for r in range(rows.shape[0]):
        if not rows[r]:
            continue
        for a in range(3):
            x[r, 3 + a] = 0.0
            for b in range(3):
                P[r, a, 3 + b] = 0.0
                P[r, 3 + a, b] = 0.0
                P[r, 3 + a, 3 + b] = speed_sigma_mps**2 if a == b else 0.0


def _rows(a, n: int, shape: tuple) -> np.ndarray:
    """``a`` as a contiguous float array of ``n`` rows of ``shape`` (broadcast if need be)."""
    return np.ascontiguousarray(np.broadcast_to(np.asarray(a, dtype=float), (n,) + shape))


@njit(cache=True)
def _two_point_stack(p_a, C_a, t_a, p_b, C_b, t_b, q):  # pragma: no cover - compiled
    """The two-point state and covariance of :func:`two_point_init` (without the prior), pair by pair.

    With ``(p₁, C₁)`` the earlier plot, ``(p₂, C₂)`` the later and ``T = |t_b - t_a|``::

        x = [p₂, (p₂ - p₁) / T],  P = sym([[C₂, C₂ / T], [C₂ / T, (C₁ + C₂) / T² + q T / 3 · I]])

    ``sym(A) = (A + Aᵀ) / 2``, the lower-left block being ``C₂ / T`` itself.
    """
    n = t_a.shape[0]
    x = np.empty((n, 6))
    P = np.empty((n, 6, 6))
    A = np.empty((6, 6))
    for r in range(n):
        later_b = t_b[r] >= t_a[r]
        p1, p2 = (p_a[r], p_b[r]) if later_b else (p_b[r], p_a[r])
        C1, C2 = (C_a[r], C_b[r]) if later_b else (C_b[r], C_a[r])
        T = abs(t_b[r] - t_a[r])
        for i in range(3):
            x[r, i] = p2[i]
            x[r, 3 + i] = (p2[i] - p1[i]) / T
            for j in range(3):
                A[i, j] = C2[i, j]
                A[i, 3 + j] = C2[i, j] / T
                A[3 + i, j] = C2[i, j] / T
                A[3 + i, 3 + j] = (C1[i, j] + C2[i, j]) / (T * T)
            A[3 + i, 3 + i] += q[r] * T / 3.0
        for i in range(6):
            for j in range(6):
                P[r, i, j] = 0.5 * (A[i, j] + A[j, i])
    return x, P


def reachable(pairs: GatedPairs, table: TrackTable, plots: ScanPlots, dt: np.ndarray,
              max_speed_mps: float) -> GatedPairs:
    """Drop the pairs in which a one-plot track takes a plot it could not reach below ``max_speed_mps``.

    The plot must lie within ``max_speed_mps · |Δt|`` of the track's plot,
    with 3σ of both plots' errors as slack.
    """
    if len(pairs):
        cols = table.cols
        feasible = _reachable(pairs.track, pairs.plot, cols["vel_init"], cols["x"], cols["P"], plots.pos, plots.cov,
                              dt, float(max_speed_mps))
        if not feasible.all():
            pairs = pairs.select(feasible)
    return pairs


@njit(cache=True)
def _reachable(track, plot, vel_init, x, P, plot_pos, plot_cov, dt, max_speed):  # pragma: no cover - compiled
    """:func:`reachable`'s test of each pair (track ``track[p]``, plot ``plot[p]``): True if feasible.

    A track with a velocity may take any plot of its gate; a one-plot track
    only one within ``max_speed · |Δt| + 3 √(tr P_pp + tr C_plot)`` of its position.
    """
    npair = track.shape[0]
    feasible = np.ones(npair, dtype=np.bool_)
    for p in range(npair):
        i, j = track[p], plot[p]
        if vel_init[i]:
            continue
        d2 = 0.0
        for a in range(3):
            d2 += (plot_pos[j, a] - x[i, a]) * (plot_pos[j, a] - x[i, a])
        tr_p = P[i, 0, 0] + P[i, 1, 1] + P[i, 2, 2]
        tr_c = plot_cov[j, 0, 0] + plot_cov[j, 1, 1] + plot_cov[j, 2, 2]
        feasible[p] = np.sqrt(d2) <= max_speed * abs(dt[i]) + 3.0 * np.sqrt(tr_p + tr_c)
    return feasible


def second_plot(table: TrackTable, est: Estimate, pred: Prediction, plots: ScanPlots,
                config: TrackerConfig) -> np.ndarray:
    """Velocity-known flags (r,) of the tracks of ``est`` after their update; one-plot tracks are set here.

    A one-plot track whose new plot is at least ``min_init_dt_s`` away in
    time gets the two-point state (:func:`two_point_init`), except from a
    Cartesian feed, whose Kalman update from the one-plot state is already
    exact; one closer in time keeps the fused position and an unknown
    velocity.  ``est`` (its ``x``, ``P``, ``time_s``) is changed in place.
    """
    c = config
    cols = table.cols
    ti, pj = est.track, est.plot
    xu, Pu, tu = est.x, est.P, est.time_s
    d = pred.dt[ti]
    vel_init = cols["vel_init"][ti].copy()
    one = ~vel_init
    if one.any():
        far = one & (np.abs(d) >= c.min_init_dt_s)
        near = one & ~far
        if plots.cartesian:
            # A linear measurement: the Kalman update from the one-plot
            # state (velocity prior included) is the exact posterior.
            vel_init[far] = True
            far[:] = False
        if far.any():
            if pj is None:
                raise ValueError("second_plot takes single-plot updates, which name their plots")
            tf = ti[far]
            x2, P2, t2 = two_point_init(cols["x"][tf, :3], cols["P"][tf, :3, :3], cols["time_s"][tf],
                                        plots.pos[pj[far]], plots.cov[pj[far]], np.full(tf.size, pred.t), c.q_air,
                                        c.init_speed_sigma_mps)
            xu[far], Pu[far], tu[far] = x2, P2, t2
            vel_init[far] = True
        if near.any():  # same instant: a better position, velocity still unknown
            _unknown_velocity(xu, Pu, near, float(c.init_speed_sigma_mps))
    return vel_init


# --------------------------------------------------------------------------- confirmation


class Confirmation(Protocol):
    """A confirmation test, run once per scan on every track after the updates."""

    keeps_score: bool  # the air picture reports the tracks' scores

    def step(self, table: TrackTable, hit: np.ndarray, missed: np.ndarray, association: Association,
             plots: ScanPlots) -> tuple[np.ndarray, np.ndarray]:
        """``(confirm, reject)`` (n,): tentative tracks to confirm; tracks the test says to delete."""


def speed_sigma_bound(config: TrackerConfig) -> float:
    """The square of ``confirm_max_speed_sigma_mps`` (inf: no bound), as :func:`_velocity_known` takes it."""
    b = config.confirm_max_speed_sigma_mps
    return np.inf if b is None else float(b) ** 2


@njit(cache=True, inline="always")
def _velocity_known(vel_init, P, bound_sq):  # pragma: no cover - compiled
    """A track's velocity is known well enough to confirm it: it has one (``vel_init``), and the largest
    variance of its velocity in any direction (the top eigenvalue of ``P[3:, 3:]``) is at most ``bound_sq``."""
    if not vel_init:
        return False
    if bound_sq == np.inf:
        return True
    return np.linalg.eigvalsh(np.ascontiguousarray(P[3:, 3:]))[2] <= bound_sq


class MOfN:
    """Confirm with ``confirm_m`` hits and a known velocity; reject once that is out of reach in ``confirm_n``.

    A tentative track is rejected when ``n_opportunities - n_hits > N - M``.
    """

    keeps_score = False

    def __init__(self, config: TrackerConfig):
        self.m, self.n = config.confirm_m, config.confirm_n
        self.bound_sq = speed_sigma_bound(config)

    def step(self, table, hit, missed, association, plots):
        cols = table.cols
        return _m_of_n(cols["status"], cols["n_hits"], cols["vel_init"], cols["P"], self.bound_sq,
                       cols["n_opportunities"], self.m, self.n)


@njit(cache=True)
def _m_of_n(status, n_hits, vel_init, P, bound_sq, n_opportunities, m, n):  # pragma: no cover - compiled
    """:class:`MOfN`'s test, track by track: ``(confirm, reject)``.

    A tentative track is confirmed with ``m`` hits and a velocity known to
    ``bound_sq`` (:func:`_velocity_known`), rejected when not confirmed and
    ``n_opportunities - n_hits > n - m``.
    """
    confirm = np.zeros(status.shape[0], dtype=np.bool_)
    reject = np.zeros(status.shape[0], dtype=np.bool_)
    for r in range(status.shape[0]):
        if status[r] == TENTATIVE:
            confirm[r] = n_hits[r] >= m and _velocity_known(vel_init[r], P[r], bound_sq)
            reject[r] = not confirm[r] and n_opportunities[r] - n_hits[r] > n - m
    return confirm, reject


@njit(cache=True)
def _velocities_known(vel_init, P, bound_sq):  # pragma: no cover - compiled
    """:func:`_velocity_known` of every track (n,)."""
    out = np.zeros(vel_init.shape[0], dtype=np.bool_)
    for r in range(vel_init.shape[0]):
        out[r] = _velocity_known(vel_init[r], P[r], bound_sq)
    return out


class Score:
    """Score confirmation and deletion (Blackman & Popoli §6.2; :mod:`tdome.c2.tracking.score`).

    ``ΔL = ln(P_D N(ν;0,S)/λ)`` for a track that took a plot, ``ln(1 −
    P_D P_G)`` for a missed opportunity, the gate's exact likelihood ratio
    for a JPDA track; confirm at ``L ≥ ln((1−β)/α)`` (with a velocity),
    reject a tentative track at ``L ≤ ln(β/(1−α))`` and a confirmed one
    when its score falls ``drop_threshold`` below its peak.
    """

    keeps_score = True

    def __init__(self, config: TrackerConfig):
        self.pd = config.pd
        self.gate_probability = config.gate_probability
        self.bound_sq = speed_sigma_bound(config)
        self.test = TrackScoreConfig(false_confirm_prob=config.score_false_confirm_prob,
                                     true_delete_prob=config.score_true_delete_prob,
                                     gate_probability=config.gate_probability, score_drop=config.score_drop)

    def step(self, table, hit, missed, association, plots):
        cols = table.cols
        n = len(table)
        mp, jp = association.single, association.mixture
        log_lik = np.zeros(n)  # ln N(ν; 0, S) of the plot each single-plot track took
        lam_hit = np.ones(n)
        log_lik[mp.track] = gaussian_loglik(mp.d2, mp.log_det_S, plots.k)
        lam_hit[mp.track] = plots.clutter[mp.plot]
        opportunity = hit | missed
        increment = None
        if len(jp):
            rows, loc = np.unique(jp.track, return_inverse=True)
            ll = gaussian_loglik(jp.d2, jp.log_det_S, plots.k)
            increment = np.full(hit.shape, np.nan)
            increment[rows] = pda_score_increment(loc, ll, rows.size, self.pd, plots.clutter, self.gate_probability,
                                                  plot=jp.plot)
            opportunity[rows] = True
        r = score_step(cols["score"], cols["score_peak"], cols["status"] == 1, hit, log_lik, self.pd, lam_hit,
                       self.test, opportunity, increment)
        cols["score"][:] = r.score
        cols["score_peak"][:] = r.peak
        return r.confirm & _velocities_known(cols["vel_init"], cols["P"], self.bound_sq), r.delete


def make_confirmation(config: TrackerConfig) -> Confirmation:
    """The confirmation test ``config.initiation`` names."""
    return Score(config) if config.initiation == "score" else MOfN(config)


def start_score(config: TrackerConfig) -> float:
    """``L₁ = ln(β_NT / β_FA)``, the score of a one-plot track (:func:`tdome.c2.tracking.score.initial_score`)."""
    return float(initial_score(config.new_target_density_m3, config.false_alarm_density_m3))
