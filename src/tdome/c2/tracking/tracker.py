"""Centralised, measurement-level multi-sensor tracker.

Every scan — a radar's plots (:class:`~tdome.messages.Detections`) or a
Cartesian feed's positions (:class:`~tdome.messages.PositionPlots`) — goes
through one cycle of :meth:`Tracker.process`:

1. *Predict* every track to the scan time: constant velocity, or free flight
   once ballistic (:func:`filters.predict`); with ``motion="imm"``, confirmed
   tracks run an IMM (:mod:`.imm`: constant velocity, coordinated turn and
   constant acceleration; constant acceleration and free flight once
   ballistic).  A track whose state is *later* than the scan (an
   out-of-sequence scan) is retrodicted instead; see below.
2. *Associate* the plots with the tracks: k-d-tree prefilter, chi-square gate
   on the measurement-space Mahalanobis distance (:mod:`.association`; IMM
   tracks on the union of their models' gates), then global nearest
   neighbour, or JPDA for confirmed tracks (:mod:`.jpda`) with GNN for the
   tentative ones on what JPDA leaves.
3. *Update* the matched tracks: EKF (Joseph form) or UKF (:mod:`.ukf`), the
   IMM's models by iterated EKF, JPDA tracks by the PDA mixture; a track that
   so far holds a single plot gets its velocity by two-point differencing
   (radar) or the exact Kalman update (Cartesian feed).
4. *Track management*: a missed opportunity for every unmatched track the
   scanning sensor covers, M-of-N or score (:mod:`.score`) confirmation
   and deletion, deletion after coasting, merge of duplicate confirmed
   tracks, ballistic and kinematic classification, and a new tentative
   track for every unused plot.

Track initiation
----------------
A plot nobody claims starts a tentative track at the plot's ECEF position
with *zero velocity* and an isotropic velocity standard deviation of
``init_speed_sigma_mps`` (one-point initiation).  That wide prior is used only
to *gate* the next plot (with a 1,200 m/s σ the 99.99 % gate reaches ≈ 5 km/s
in any direction, i.e. every plausible threat, and the GNN cost ``d² + ln|S|``
makes such a loose track lose any contested plot to an established one).  The
second plot, if it is at least ``min_init_dt_s`` later, does *not* go through
the EKF: the velocity is set by two-point differencing of the two converted
plots (:func:`filters.two_point_init`).  With a prior that wide the EKF would
give nearly the same answer but linearise the polar measurement across a
kilometres-wide prior; the differencing is exact, needs no prior weight and
its covariance is consistent by construction (Bar-Shalom et al. §5.5.3);
the velocity prior is then fused in as a pseudo-measurement, so that a
short baseline does not give a velocity the prior already rules out.  A
Cartesian feed's second plot goes through the ordinary Kalman update from
the one-plot state instead: with a linear measurement that is the exact
posterior.
Candidate second plots implying a speed above ``max_speed_mps`` are refused.
Two plots closer in time than ``min_init_dt_s`` (two radars seeing the target
at the same instant) are fused into a better position and the velocity stays
unknown.

Track management
----------------
*Opportunities* are scans of a radar whose nominal coverage
(:meth:`SensorSite.covers`) contains the track's predicted position; a scan
that does not cover a track neither helps nor hurts it.  A tentative track is
confirmed with ``confirm_m`` hits (and a velocity) within its first
``confirm_n`` opportunities and deleted as soon as that has become
impossible, or after ``tentative_max_coast_s`` without a plot.  A confirmed
track is deleted after ``max_coast_s`` without a plot (a rule on consecutive
missed opportunities would kill small, fluctuating targets that several
radars cover but rarely detect).  Any track predicted more than 3σ below
``min_alt_m`` (impacted, or clutter whose velocity points into the ground)
is deleted.  Confirmed tracks that stay
within ``merge_d2`` of each other in the 6-D state for ``merge_checks``
consecutive scans are duplicates: the one with fewer hits (then the younger)
is deleted.  Plots inside the gate of a confirmed track start no new track.

Out-of-sequence scans
---------------------
Scans mostly arrive in time order; one that is older than a track's state is
used through retrodiction (Bar-Shalom, "Update with out-of-sequence
measurements in tracking: exact solution", IEEE T-AES 38(3), 2002, in the
spirit of its one-lag approximations): the track is predicted *backwards* to
the scan time, ``x_d = F(Δ) x_k``, ``P_d = F(Δ) P_k F(Δ)ᵀ + Q(Δ)`` with
``Δ < 0``, gated there as usual, and the current state is updated with the
old plot as an equivalent measurement of ``x_k``::

    H_eff = H(x_d) F(Δ),     R_eff = R + H(x_d) Q(Δ) H(x_d)ᵀ

This ignores the correlation between the retrodiction noise and the error
of ``x_k`` (the cross terms of Bar-Shalom's exact algorithm), which needs
per-track history; it is exact without process noise and a good
approximation for lags of a revisit or two.  The track keeps its time.  Such plots are
counted in ``stats['oos_plots']`` and the retrodicted updates in
``stats['oos_updates']``; nothing is dropped silently.

Process noise
-------------
The configured ``q_*_mps2`` are acceleration standard deviations σ_a; the
spectral density of the white-noise acceleration model is
``q = σ_a² · q_time_s`` (m²/s³), so σ_a is the RMS velocity change per
``q_time_s`` (1 s).  15 m/s² (≈ 1.5 g) follows the sustained turns of
aircraft and the dog-legs of cruise missiles without loss of gate at 1–10 s
revisits; the gate and the reset to the plot do the rest for short harder
manoeuvres.  Ballistic tracks (free-flight mean) take 2 m/s².
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree
from scipy.stats import chi2

from tdome.c2.tracking.association import GatedPairs, candidate_pairs, gate, gate_threshold, gnn_assign
from tdome.c2.tracking.imm import IMM, combine
from tdome.c2.tracking.measurements import CartesianPosition, PolarRadar, wrapped_residual
from tdome.c2.tracking.models import expand_state
from tdome.c2.tracking.ukf import ukf_update
from tdome.c2.tracking.gaussian import LOG_2PI, gaussian_loglik, spd_inv_logdet
from tdome.c2.tracking.jpda import jpda_marginals, pda_update
from tdome.c2.tracking.score import TrackScoreConfig, initial_score, pda_score_increment, score_step
from tdome.c2.tracking.filters import (
    cv_process_noise,
    cv_transition,
    ekf_update,
    one_point_state,
    plot_to_ecef,
    predict,
    two_point_init,
)
from tdome.geo import ecef_to_geodetic
from tdome.messages import Detections, PositionPlots, SensorSite


_ACCEL_PRIOR_MPS2 = 10.0  # σ of the unknown acceleration of a track started from plots (≈ 1 g)

# Kinematic classes of a track (``kin_class``).
KIN_UNKNOWN, KIN_SLOW, KIN_FAST, KIN_BALLISTIC = 0, 1, 2, 3
KIN_NAMES = ("unknown", "slow", "fast", "ballistic")


@dataclass
class TrackerConfig:
    """Tracker parameters (SI units)."""

    q_air_mps2: float = 15.0  # CV acceleration noise σ_a for air-breathing tracks
    q_ballistic_mps2: float = 2.0  # acceleration noise σ_a about the free-flight model
    q_time_s: float = 1.0  # spectral density q = σ_a² · q_time_s (m²/s³)
    gate_probability: float = 0.9999
    confirm_m: int = 3  # confirm with M hits ...
    confirm_n: int = 5  # ... within the first N opportunities
    max_coast_s: float = 20.0  # delete a confirmed track not updated for this long
    tentative_max_coast_s: float = 12.0
    init_speed_sigma_mps: float = 1200.0  # velocity σ of a one-plot track (gating only)
    min_init_dt_s: float = 0.5  # two-point differencing needs plots at least this far apart
    max_speed_mps: float = 5000.0  # velocity estimates above are refused
    min_alt_m: float = -500.0  # tracks 3σ below this altitude (impacted or nonsense) are deleted
    ballistic_min_alt_m: float = 25e3  # confirmed and above: ballistic
    ballistic_min_speed_mps: float = 1000.0  # or faster than this ...
    ballistic_min_vspeed_mps: float = 200.0  # ... with |vertical speed| above this
    ballistic_sigmas: float = 2.0  # each test must pass by this many standard deviations
    motion: str = "cv"  # cv: CV, free flight once ballistic | imm: CV+turn+CA mixed, CA+free flight once ballistic
    filter: str = "ekf"  # ekf | ukf (measurement update of the cv motion setting)
    association: str = "gnn"  # gnn | jpda (confirmed tracks weigh every plot in their gates)
    initiation: str = "m_of_n"  # m_of_n | score (sequential log-likelihood-ratio test)
    pd: float = 0.8  # detection probability that JPDA and the score assume
    false_alarm_density_m3: float = 1e-15  # false plots per m³ per scan, mapped into each scan's measurement space
    new_target_density_m3: float = 1e-16  # score: density of new targets per m³ (the initial score is their ratio)
    score_false_confirm_prob: float = 1e-4  # score: α, chance a false track is confirmed
    score_true_delete_prob: float = 0.01  # score: β, chance a true track is deleted before confirmation
    score_drop: float = 20.0  # score: a confirmed track this far below its peak score is deleted (≈ 12 misses at P_D 0.8)
    jpda_max_hypotheses: int = 1000  # loopy clusters with more joint events are solved by belief propagation
    slow_speed_mps: float = 120.0  # kinematic class: slower than this is slow (drone-like), faster is fast air-breathing
    class_sigmas: float = 2.0  # ... decided when the speed clears the threshold by this many σ (otherwise kept)
    merge_d2: float = float(chi2.ppf(0.95, 6))  # 6-D state distance under which tracks are duplicates
    merge_checks: int = 3  # consecutive duplicate checks before the merge
    merge_radius_m: float = 20e3  # cap of the duplicate check's prefilter radius
    suppress_init_in_gates: bool = False  # plots left in a confirmed track's gate start no track (off: after GNN such a plot is another object)
    max_substep_s: float = 10.0  # RK4 sub-step of the ballistic prediction (one 10 s step errs by ~10 µm)

    @property
    def q_air(self) -> float:
        """Spectral density (m²/s³) of the CV model."""
        return self.q_air_mps2**2 * self.q_time_s

    @property
    def q_ballistic(self) -> float:
        """Spectral density (m²/s³) about the free-flight model."""
        return self.q_ballistic_mps2**2 * self.q_time_s


@dataclass
class AirPicture:
    """Confirmed tracks predicted to ``time_s`` (arrays are copies)."""

    time_s: float
    track_id: np.ndarray  # (n,) int
    x: np.ndarray  # (n, 6) ECEF position (m) and velocity (m/s)
    P: np.ndarray  # (n, 6, 6)
    ballistic: np.ndarray  # (n,) bool
    n_hits: np.ndarray  # (n,)
    first_update_s: np.ndarray  # (n,)
    last_update_s: np.ndarray  # (n,)
    kin_class: np.ndarray | None = None  # (n,) int8 KIN_* codes; None: not classified
    # (n,) track quality: the fraction of its opportunities (scans of radars that
    # cover it and could see it) that gave it a plot; None: not available
    quality: np.ndarray | None = None
    score: np.ndarray | None = None  # (n,) track score (log-likelihood ratio; initiation "score" only)

    def __len__(self) -> int:
        return int(self.track_id.shape[0])


# Per-track columns: name -> (trailing shape, dtype).
_COLUMNS = {
    "x": ((6,), float),
    "P": ((6, 6), float),
    "track_id": ((), np.int64),
    "time_s": ((), float),  # time of the state x, P
    "status": ((), np.int8),  # 0 tentative, 1 confirmed
    "n_hits": ((), np.int32),
    "n_opportunities": ((), np.int32),  # scans of radars that cover the track and have seen it (hits + misses)
    "n_misses": ((), np.int32),  # consecutive missed opportunities
    "first_update_s": ((), float),
    "last_update_s": ((), float),
    "ballistic": ((), bool),
    "kin_class": ((), np.int8),
    "score": ((), float),  # track score (log-likelihood ratio), initiation "score"
    "score_peak": ((), float),  # KIN_UNKNOWN, KIN_SLOW, KIN_FAST, KIN_BALLISTIC
    "vel_init": ((), bool),  # velocity known (False: one-plot track)
    "dup_count": ((), np.int32),  # consecutive duplicate checks failed
    "seen_by": ((), np.uint64),  # bit k set: sensor k has contributed a plot
}


# IMM columns (motion "imm"): model-conditioned states, covariances and model probabilities.
_IMM_MODELS = 3
_IMM_COLUMNS = {
    "xm": ((_IMM_MODELS, 9), float),
    "Pm": ((_IMM_MODELS, 9, 9), float),
    "mu": ((_IMM_MODELS,), float),
}


@dataclass
class _Tracks:
    """Structure of arrays, one row per track, rows sorted by track id."""

    spec: dict = field(default_factory=lambda: dict(_COLUMNS))
    cols: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.cols:
            self.cols = {k: np.empty((0,) + shp, dtype=dt) for k, (shp, dt) in self.spec.items()}

    def __len__(self) -> int:
        return int(self.cols["track_id"].shape[0])

    def append(self, **new: np.ndarray) -> None:
        for k, v in new.items():
            self.cols[k] = np.concatenate([self.cols[k], np.asarray(v, dtype=self.spec[k][1])])

    def keep(self, mask: np.ndarray) -> None:
        for k in self.cols:
            self.cols[k] = self.cols[k][mask]


def _track_property(name: str, doc: str):
    def get(self) -> np.ndarray:
        view = self._tracks.cols[name].view()
        view.flags.writeable = False
        return view

    return property(get, doc=doc)


class Tracker:
    """Multi-radar GNN/EKF tracker in ECEF.  See the module docstring."""

    def __init__(self, config: TrackerConfig, sensors: list[SensorSite]):
        self.config = config
        self.sensors = {s.index: s for s in sensors}
        if config.motion not in ("cv", "imm"):
            raise ValueError(f"motion {config.motion!r}: must be 'cv' or 'imm'")
        if config.filter not in ("ekf", "ukf"):
            raise ValueError(f"filter {config.filter!r}: must be 'ekf' or 'ukf'")
        self._imm = config.motion == "imm"
        if self._imm and (config.association == "jpda" or config.filter == "ukf"):
            raise ValueError("motion 'imm' works with association 'gnn' and filter 'ekf' (its models update by "
                             "iterated EKF); choose motion 'cv' for JPDA or the UKF")
        if config.filter == "ukf" and config.association == "jpda":
            raise ValueError("association 'jpda' updates with the linearised measurement; use filter 'ekf'")
        self._imm_air = IMM.air_breathing() if self._imm else None
        self._imm_bal = IMM.ballistic_missile() if self._imm else None
        self._tracks = _Tracks(spec={**_COLUMNS, **(_IMM_COLUMNS if self._imm else {})})
        self._next_id = 1
        self._now = -np.inf
        self._gamma = {k: gate_threshold(config.gate_probability, k) for k in (3, 4)}
        if config.association not in ("gnn", "jpda"):
            raise ValueError(f"association {config.association!r}: must be 'gnn' or 'jpda'")
        if config.initiation not in ("m_of_n", "score"):
            raise ValueError(f"initiation {config.initiation!r}: must be 'm_of_n' or 'score'")
        self._score = TrackScoreConfig(false_confirm_prob=config.score_false_confirm_prob,
                                       true_delete_prob=config.score_true_delete_prob,
                                       gate_probability=config.gate_probability, score_drop=config.score_drop)
        self.last_association = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
        self.stats: dict[str, int] = dict.fromkeys(
            ("scans", "plots", "started", "confirmed", "deleted", "deleted_confirmed", "deleted_coasted",
             "deleted_underground", "merged", "oos_scans", "oos_plots", "oos_updates",
             "speed_rejected"), 0)

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
    kin_class = _track_property("kin_class", "(n,) kinematic class: KIN_UNKNOWN, KIN_SLOW, KIN_FAST, KIN_BALLISTIC")

    def __len__(self) -> int:
        return len(self._tracks)

    @property
    def now_s(self) -> float:
        """Latest scan time processed."""
        return self._now

    # ------------------------------------------------------------------ helpers

    def _q(self, ballistic: np.ndarray) -> np.ndarray:
        c = self.config
        return np.where(ballistic, c.q_ballistic, c.q_air)

    def _measurements(self, scan: Detections, site: SensorSite):
        """Measurement vectors (m, k) and covariances R = diag(σ²) (m, k, k)."""
        m, k = len(scan), 3 if scan.rdot_mps is None else 4
        z = np.asarray(scan.z, dtype=float).reshape(m, k)
        sig = np.asarray(scan.sigma, dtype=float)
        sig = sig.reshape(m, -1) if m else np.zeros((0, k))
        if sig.shape[1] < k:  # range rate without its σ: use the site's
            s_rd = site.sigma_rdot_mps if site.sigma_rdot_mps is not None else 1.0
            sig = np.concatenate([sig, np.full((m, k - sig.shape[1]), s_rd)], axis=1)
        sig = sig[:, :k]
        R = np.zeros((m, k, k))
        ii = np.arange(k)
        R[:, ii, ii] = sig**2
        return z, R, sig

    # ------------------------------------------------------------------ the cycle

    def process(self, scan: Detections | PositionPlots) -> None:
        """Run one predict–associate–update–manage cycle on a scan.

        A radar scan (:class:`Detections`) must come from one of the tracker's
        sensors; a Cartesian feed (:class:`PositionPlots`) may come from any
        source, and one that is not among the sensors is taken to cover everywhere.
        """
        c = self.config
        site = self.sensors.get(scan.sensor)
        cartesian = isinstance(scan, PositionPlots)
        if site is None and not cartesian:
            raise KeyError(f"scan from unknown sensor {scan.sensor}")
        if not 0 <= scan.sensor < 64:
            raise ValueError(f"sensor index {scan.sensor} outside 0..63")
        t = float(scan.time_s)
        m = len(scan)
        st = self.stats
        st["scans"] += 1
        st["plots"] += m
        if t < self._now:
            st["oos_scans"] += 1
            st["oos_plots"] += m
        self._now = max(self._now, t)
        cols = self._tracks.cols
        n = len(self._tracks)

        if cartesian:
            z = np.asarray(scan.pos, dtype=float).reshape(m, 3)
            R = np.asarray(scan.cov, dtype=float).reshape(m, 3, 3)
            plot_pos, plot_cov, measure = z, R, CartesianPosition()
        else:
            z, R, sig = self._measurements(scan, site)
            plot_pos, plot_cov = plot_to_ecef(scan.range_m, scan.az_rad, scan.el_rad, sig, site.ecef, site.enu_rot)
            measure = PolarRadar(site.ecef, site.enu_rot, with_rdot=z.shape[1] == 4)
        bit = np.uint64(1) << np.uint64(scan.sensor)
        k = z.shape[1]

        # 1. Predict (or retrodict) every track to the scan time.
        dt = t - cols["time_s"]
        q = self._q(cols["ballistic"])
        imm_pred = None
        if not self._imm:
            xp, Pp = predict(cols["x"], cols["P"], dt, q, cols["ballistic"], c.max_substep_s)
        else:
            # Confirmed tracks run the IMM; tentative ones are confirmed, or not, by the
            # CV model, so that the IMM's wider manoeuvre gates do not confirm clutter.
            firm = np.flatnonzero(cols["status"] == 1)
            rest = np.flatnonzero(cols["status"] != 1)
            xp, Pp = np.empty_like(cols["x"]), np.empty_like(cols["P"])
            xp[rest], Pp[rest] = predict(cols["x"][rest], cols["P"][rest], dt[rest], q[rest], cols["ballistic"][rest],
                                         c.max_substep_s)
            xm, Pm, mu = cols["xm"].copy(), cols["Pm"].copy(), cols["mu"].copy()
            xm[firm], Pm[firm], mu[firm], x9, P9 = self._imm_predict(xm[firm], Pm[firm], mu[firm],
                                                                     cols["ballistic"][firm], dt[firm])
            xp[firm], Pp[firm] = x9[:, :6], P9[:, :6, :6]
            imm_pred = (xm, Pm, mu)

        # 2. Gate and assign.
        tree = cKDTree(plot_pos) if m and n else None
        if self._imm:  # confirmed IMM tracks are gated on their models' union (_imm_gate)
            rest = np.flatnonzero(cols["status"] != 1)
            gp = gate(xp[rest], Pp[rest], z, R, plot_pos, plot_cov, measure, self._gamma[k], tree)
            gp.track = rest[gp.track]
        else:
            gp = gate(xp, Pp, z, R, plot_pos, plot_cov, measure, self._gamma[k], tree)
        if len(gp):
            # A one-plot track may only take a plot reachable below max speed (with 3σ of plot errors).
            one = ~cols["vel_init"][gp.track]
            if one.any():
                ti, pj = gp.track[one], gp.plot[one]
                dist = np.linalg.norm(plot_pos[pj] - cols["x"][ti, :3], axis=1)
                slack = 3.0 * np.sqrt(np.trace(cols["P"][ti, :3, :3], axis1=1, axis2=2)
                                      + np.trace(plot_cov[pj], axis1=1, axis2=2))
                feasible = np.ones(len(gp), dtype=bool)
                feasible[one] = dist <= c.max_speed_mps * np.abs(dt[ti]) + slack
                gp = gp.select(feasible)
        imm_cost = None  # GNN costs of the IMM's union-gated pairs (motion "imm"; never with JPDA)
        if self._imm:
            gp, imm_cost = self._imm_gate(gp, gp.d2 + gp.log_det_S, imm_pred, xp, Pp, z, R, plot_pos, plot_cov,
                                          measure, self._gamma[k], tree)
        in_confirmed_gate = np.zeros(m, dtype=bool)
        in_confirmed_gate[gp.plot[cols["status"][gp.track] == 1]] = True
        lam = self._false_alarm_density(z, cartesian)  # (m,) in this scan's measurement space
        hit = np.zeros(n, dtype=bool)
        used = np.zeros(m, dtype=bool)
        x_now, P_now = xp.copy(), Pp.copy()  # states at the scan time, for the duplicate check
        log_lik = np.zeros(n)  # ln N(ν; 0, S) of the plot each GNN track took
        lam_hit = np.ones(n)
        pda_rows = pda_dl = None
        assoc_plot, assoc_id = [], []
        if c.association == "jpda" and len(gp):
            # Confirmed tracks weigh every plot in their gates (JPDA); tentative
            # ones take what those leave, by GNN.
            firm = ((cols["status"] == 1) & cols["vel_init"])[gp.track]
            jp, gp = gp.select(firm), gp.select(~firm)
            if len(jp):
                pda_rows, pda_dl, claim = self._jpda(jp, k, n, m, lam, dt, q, xp, Pp, R, t, x_now, P_now, hit, bit,
                                                     assoc_plot, assoc_id)
                used |= claim >= 0.5
                gp = gp.select(~used[gp.plot])
        sel = gnn_assign(gp.track, gp.plot, gp.d2 + gp.log_det_S if imm_cost is None else imm_cost, n, m)
        mp = gp.select(sel)

        # 3. Update the matched tracks.
        ti, pj = mp.track, mp.plot
        log_lik[ti] = gaussian_loglik(mp.d2, mp.log_det_S, k)
        lam_hit[ti] = lam[pj]
        if ti.size:
            xu, Pu, tu, vel_init, imm_new = self._update(mp, dt, q, xp, Pp, z, R, plot_pos, plot_cov, t, measure,
                                                         imm_pred)
            ok = np.linalg.norm(xu[:, 3:], axis=1) <= c.max_speed_mps
            st["speed_rejected"] += int((~ok).sum())
            ti, pj, xu, Pu, tu, vel_init = ti[ok], pj[ok], xu[ok], Pu[ok], tu[ok], vel_init[ok]
            if imm_new is not None:
                for name, v in zip(("xm", "Pm", "mu"), imm_new):
                    cols[name][ti] = v[ok]
            st["oos_updates"] += int((dt[ti] < 0).sum())
            cols["x"][ti] = xu
            cols["P"][ti] = Pu
            cols["time_s"][ti] = tu
            cols["vel_init"][ti] = vel_init
            cols["last_update_s"][ti] = np.maximum(cols["last_update_s"][ti], t)
            cols["n_hits"][ti] += 1
            cols["n_misses"][ti] = 0
            fwd = tu == t
            x_now[ti[fwd]] = xu[fwd]
            P_now[ti[fwd]] = Pu[fwd]
            hit[ti] = True
            used[pj] = True
            cols["seen_by"][ti] |= bit
        assoc_plot.append(pj)
        assoc_id.append(cols["track_id"][ti].copy())

        # 4. Track management.
        if n:
            if site is None:
                covered = np.ones(n, dtype=bool)
            else:
                covered = site.covers(xp[:, :3]) if (~hit).any() else np.zeros(n, dtype=bool)
            # A scan is an opportunity only for a radar that has detected the track
            # before, or that would see even a small target there: one that covers it
            # but cannot see it (a small target far out for its power) says nothing
            # about whether the track is real.
            expected = (cols["seen_by"] & bit) != 0
            if site is not None and site.small_target_range_m is not None and (covered & ~expected).any():
                expected |= np.linalg.norm(xp[:, :3] - site.ecef, axis=1) <= site.small_target_range_m
            else:
                expected[:] = True
            missed = covered & ~hit & expected
            cols["n_opportunities"] += (hit | missed).astype(np.int32)
            cols["n_misses"] += missed.astype(np.int32)

            status = cols["status"]
            score_dead = np.zeros(n, dtype=bool)
            if c.initiation == "score":
                confirm, score_dead = self._score_step(hit, missed, log_lik, lam_hit, pda_rows, pda_dl)
                confirm &= cols["vel_init"]
            else:
                confirm = (status == 0) & (cols["n_hits"] >= c.confirm_m) & cols["vel_init"]
            status[confirm] = 1
            if self._imm and confirm.any():  # the IMM starts at confirmation, from the CV state
                rows = np.flatnonzero(confirm)
                self._imm_init(rows, *expand_state(cols["x"][rows], cols["P"][rows], _ACCEL_PRIOR_MPS2),
                               cols["ballistic"][rows])
            st["confirmed"] += int(confirm.sum())
            self._classify_ballistic(hit & (status == 1) & ~cols["ballistic"])
            self._classify_kinematics(hit & (status == 1))

            loser = self._duplicates(x_now, P_now, hit)
            st["merged"] += int(loser.sum())
            age = self._now - cols["last_update_s"]
            tentative = status == 0
            coasted = np.where(tentative, age > c.tentative_max_coast_s, age > c.max_coast_s)
            if c.initiation == "score":
                failed = score_dead
            else:
                failed = tentative & (cols["n_opportunities"] - cols["n_hits"] > c.confirm_n - c.confirm_m)
            underground = self._underground(x_now, P_now)
            dead = loser | coasted | failed | underground
            if dead.any():
                conf = dead & ~tentative
                st["deleted"] += int(dead.sum())
                st["deleted_confirmed"] += int(conf.sum())
                st["deleted_coasted"] += int((conf & coasted).sum())
                st["deleted_underground"] += int((conf & underground & ~coasted).sum())
                self._tracks.keep(~dead)

        # 5. Unused plots start tentative tracks.
        born = ~used
        if c.suppress_init_in_gates:
            born &= ~in_confirmed_gate
        nb = int(born.sum())
        if nb:
            xb, Pb = one_point_state(plot_pos[born], plot_cov[born], c.init_speed_sigma_mps)
            ids = np.arange(self._next_id, self._next_id + nb)
            extra = {k: np.zeros((nb,) + shp) for k, (shp, _) in _IMM_COLUMNS.items()} if self._imm else {}
            self._next_id += nb
            tb = np.full(nb, t)
            self._tracks.append(
                x=xb, P=Pb, track_id=ids, time_s=tb, status=np.zeros(nb), n_hits=np.ones(nb),
                n_opportunities=np.ones(nb), n_misses=np.zeros(nb), first_update_s=tb, last_update_s=tb,
                score=np.full(nb, self._initial_score), score_peak=np.full(nb, self._initial_score),
                ballistic=np.zeros(nb, dtype=bool), kin_class=np.zeros(nb), vel_init=np.zeros(nb, dtype=bool), dup_count=np.zeros(nb), seen_by=np.full(nb, bit),
                **extra)
            st["started"] += nb
            assoc_plot.append(np.flatnonzero(born))
            assoc_id.append(ids)
        # Which track each plot of this scan went to (updated or started); plots
        # absent here were refused.  Consumers use it for per-track bookkeeping.
        self.last_association = (np.concatenate(assoc_plot), np.concatenate(assoc_id).astype(np.int64))

    @property
    def _initial_score(self) -> float:
        c = self.config
        return float(initial_score(c.new_target_density_m3, c.false_alarm_density_m3))

    def _false_alarm_density(self, z: np.ndarray, cartesian: bool) -> np.ndarray:
        """False-plot density of each plot in its own measurement space.

        A volume element in (range, azimuth, elevation) is ``dV = r² cos(el)
        dr daz del``, so a Cartesian density λ (m⁻³) is ``λ r² cos(el)`` per
        m·rad²; range rate, when measured, is taken as uniform over
        ±``max_speed_mps``.
        """
        lam = self.config.false_alarm_density_m3
        m = z.shape[0]
        if cartesian:
            return np.full(m, lam)
        out = lam * z[:, 0] ** 2 * np.cos(z[:, 2])
        if z.shape[1] == 4:
            out = out / (2.0 * self.config.max_speed_mps)
        return np.maximum(out, np.finfo(float).tiny)

    def _retrodicted(self, ti, H, R, dt, q, xp, Pp):
        """States, measurement matrices and covariances for updating tracks ``ti`` at this scan.

        Forward pairs use the predicted state.  A track whose state is later
        than the scan keeps its state and takes the plot as the equivalent
        measurement ``H_eff = H F(Δ)``, ``R_eff = R + H Q(Δ) Hᵀ`` (module docstring).
        """
        cols = self._tracks.cols
        d = dt[ti]
        back = d < 0
        xs = np.where(back[:, None], cols["x"][ti], xp[ti])
        Ps = np.where(back[:, None, None], cols["P"][ti], Pp[ti])
        H, R = H.copy(), R.copy()
        if back.any():
            Hb = H[back]
            H[back] = Hb @ cv_transition(d[back])
            R[back] = R[back] + Hb @ cv_process_noise(d[back], q[ti][back]) @ np.swapaxes(Hb, -1, -2)
        return xs, Ps, H, R, back

    def _jpda(self, jp, k, n, m, lam, dt, q, xp, Pp, R, t, x_now, P_now, hit, bit, assoc_plot, assoc_id):
        """JPDA update of confirmed tracks from the gated pairs ``jp``.

        Returns the updated rows, their score increments (the exact gate
        likelihood ratio) and, per plot, the probability that it came from
        one of these tracks.  A track counts as detected when that is more
        likely than not (``1 - β₀ ≥ ½``).
        """
        c = self.config
        cols = self._tracks.cols
        st = self.stats
        ll = gaussian_loglik(jp.d2, jp.log_det_S, k)
        res = jpda_marginals(jp.track, jp.plot, ll, n, m, c.pd, c.gate_probability, lam, c.jpda_max_hypotheses)
        rows, loc = np.unique(jp.track, return_inverse=True)
        xs, Ps, H, Rm, back = self._retrodicted(jp.track, jp.H, R[jp.plot], dt, q, xp, Pp)
        # One state per track: the pairs of a track share it (retrodicted or predicted alike).
        first = np.zeros(rows.size, dtype=np.intp)
        first[loc[::-1]] = np.arange(loc.size)[::-1]
        xu, Pu = pda_update(xs[first], Ps[first], loc, jp.nu, H, Rm, res.beta, res.beta0[rows])
        dl = pda_score_increment(loc, ll, rows.size, c.pd, lam, c.gate_probability, plot=jp.plot)
        ok = np.linalg.norm(xu[:, 3:], axis=1) <= c.max_speed_mps
        st["speed_rejected"] += int((~ok).sum())
        st["oos_updates"] += int((dt[rows[ok]] < 0).sum())
        r = rows[ok]
        fwd = dt[r] >= 0
        cols["x"][r] = xu[ok]
        cols["P"][r] = Pu[ok]
        cols["time_s"][r] = np.where(fwd, t, cols["time_s"][r])
        x_now[r[fwd]] = xu[ok][fwd]
        P_now[r[fwd]] = Pu[ok][fwd]
        seen = r[1.0 - res.beta0[r] >= 0.5]
        hit[seen] = True
        cols["last_update_s"][seen] = np.maximum(cols["last_update_s"][seen], t)
        cols["n_hits"][seen] += 1
        cols["n_misses"][seen] = 0
        cols["seen_by"][seen] |= bit
        claim = np.bincount(jp.plot, res.beta, minlength=m)
        # Each claimed plot is reported against its most probable track.
        order = np.lexsort((-res.beta, jp.plot))
        pl, tr = jp.plot[order], jp.track[order]
        lead = np.r_[True, pl[1:] != pl[:-1]] & (claim[pl] >= 0.5)
        assoc_plot.append(pl[lead])
        assoc_id.append(cols["track_id"][tr[lead]].copy())
        return rows, dl, claim

    def _score_step(self, hit, missed, log_lik, lam_hit, pda_rows, pda_dl):
        """Score confirmation and deletion (Blackman & Popoli §6.2): returns ``(confirm, delete)``.

        ``ΔL = ln(P_D N(ν;0,S)/λ)`` for a track that took a plot, ``ln(1 −
        P_D P_G)`` for a missed opportunity, the gate's exact likelihood ratio
        for a JPDA track; confirm at ``L ≥ ln((1−β)/α)``, delete a tentative
        track at ``L ≤ ln(β/(1−α))`` and a confirmed one when its score falls
        ``drop_threshold`` below its peak.
        """
        c = self.config
        cols = self._tracks.cols
        opportunity = hit | missed
        increment = None
        if pda_rows is not None:
            increment = np.full(hit.shape, np.nan)
            increment[pda_rows] = pda_dl
            opportunity[pda_rows] = True
        r = score_step(cols["score"], cols["score_peak"], cols["status"] == 1, hit, log_lik, c.pd, lam_hit, self._score,
                       opportunity, increment)
        cols["score"][:] = r.score
        cols["score_peak"][:] = r.peak
        return r.confirm, r.delete

    def _update(self, mp, dt, q, xp, Pp, z, R, plot_pos, plot_cov, t, measure, imm_pred):
        """Updated ``(x, P, time, vel_init, imm)`` for the matched pairs ``mp``.

        ``imm`` is None or the updated ``(xm, Pm, mu)`` of those tracks (motion "imm").
        """
        c = self.config
        cols = self._tracks.cols
        ti, pj = mp.track, mp.plot
        d = dt[ti]
        # out of sequence (back): update the current state through retrodiction
        xs, Ps, H, Rm, back = self._retrodicted(ti, mp.H, R[pj], dt, q, xp, Pp)
        # Each pair is updated once: confirmed IMM tracks by their models (below), forward
        # pairs by the UKF when chosen, the rest by the EKF.
        by_imm = (cols["status"][ti] == 1) if self._imm else np.zeros(ti.size, dtype=bool)
        by_ukf = ~back & ~by_imm if c.filter == "ukf" else np.zeros(ti.size, dtype=bool)
        by_ekf = ~by_imm & ~by_ukf
        xu, Pu = np.empty_like(xs), np.empty_like(Ps)
        if by_ekf.any():
            xu[by_ekf], Pu[by_ekf] = ekf_update(xs[by_ekf], Ps[by_ekf], mp.nu[by_ekf], H[by_ekf], Rm[by_ekf])
        if by_ukf.any():
            xu[by_ukf], Pu[by_ukf], _, _ = ukf_update(xs[by_ukf], Ps[by_ukf], z[pj[by_ukf]], Rm[by_ukf], measure.h,
                                                      measure.angle_components)
        tu = np.where(back, cols["time_s"][ti], t)
        vel_init = cols["vel_init"][ti].copy()
        imm_new = None
        if self._imm:
            firm = np.flatnonzero(by_imm)
            imm_new = [v[ti].copy() for v in imm_pred]
            new = self._imm_update(ti[firm], pj[firm], d[firm], z, R, measure, imm_pred)
            for k in range(3):
                imm_new[k][firm] = new[k]
            x9, P9 = self._imm_combine(*new, cols["ballistic"][ti[firm]])
            xu[firm], Pu[firm] = x9[:, :6], P9[:, :6, :6]
        one = ~vel_init
        if one.any():
            far = one & (np.abs(d) >= c.min_init_dt_s)
            near = one & ~far
            if isinstance(measure, CartesianPosition):
                # A linear measurement: the Kalman update above from the one-plot
                # state (velocity prior included) is the exact posterior.
                vel_init[far] = True
                far[:] = False
            if far.any():
                tf = ti[far]
                x2, P2, t2 = two_point_init(cols["x"][tf, :3], cols["P"][tf, :3, :3], cols["time_s"][tf],
                                            plot_pos[pj[far]], plot_cov[pj[far]], np.full(tf.size, t), c.q_air,
                                            c.init_speed_sigma_mps)
                xu[far], Pu[far], tu[far] = x2, P2, t2
                vel_init[far] = True
            if near.any():  # same instant: a better position, velocity still unknown
                xu[near, 3:] = 0.0
                Pu[near, :3, 3:] = 0.0
                Pu[near, 3:, :3] = 0.0
                Pu[near, 3:, 3:] = np.eye(3) * c.init_speed_sigma_mps**2
        return xu, Pu, tu, vel_init, imm_new

    # ------------------------------------------------------------------ IMM (motion "imm")

    def _imm_sets(self, ballistic: np.ndarray):
        """``(rows, IMM, r)`` for the air-breathing and the ballistic model sets."""
        out = []
        for rows, imm in ((np.flatnonzero(~ballistic), self._imm_air), (np.flatnonzero(ballistic), self._imm_bal)):
            if rows.size:
                out.append((rows, imm, len(imm.models)))
        return out

    def _imm_state(self, x9, P9, ballistic):
        """New ``(xm, Pm, mu)`` from 9-D estimates; unused model slots carry probability 0."""
        n = x9.shape[0]
        xm = np.repeat(x9[:, None], _IMM_MODELS, axis=1)
        Pm = np.repeat(P9[:, None], _IMM_MODELS, axis=1)
        mu = np.zeros((n, _IMM_MODELS))
        for rows, imm, r in self._imm_sets(np.asarray(ballistic, dtype=bool)):
            xm[rows, :r], Pm[rows, :r], mu[rows, :r] = imm.initial_state(x9[rows], P9[rows])
        return xm, Pm, mu

    def _imm_init(self, rows, x9, P9, ballistic) -> None:
        """(Re)start the IMM of tracks ``rows`` from 9-D estimates, in the model set their ``ballistic`` flags say."""
        cols = self._tracks.cols
        xm, Pm, mu = self._imm_state(x9, P9, np.broadcast_to(np.asarray(ballistic, dtype=bool), (len(rows),)))
        cols["xm"][rows], cols["Pm"][rows], cols["mu"][rows] = xm, Pm, mu

    def _imm_combine(self, xm, Pm, mu, ballistic):
        n = xm.shape[0]
        x9, P9 = np.zeros((n, 9)), np.zeros((n, 9, 9))
        for rows, _, r in self._imm_sets(ballistic):
            x9[rows], P9[rows] = combine(xm[rows, :r], Pm[rows, :r], mu[rows, :r])
        return x9, P9

    def _imm_predict(self, xm, Pm, mu, ballistic, dt):
        """Mixing and model prediction by ``dt`` (n,): ``(xm, Pm, mu, x, P)`` with the combined 9-D ``x, P``."""
        xm, Pm, mu = xm.copy(), Pm.copy(), mu.copy()
        for rows, imm, r in self._imm_sets(ballistic):
            xm[rows, :r], Pm[rows, :r], mu[rows, :r] = imm.predict(xm[rows, :r], Pm[rows, :r], mu[rows, :r], dt[rows])
        x9, P9 = self._imm_combine(xm, Pm, mu, ballistic)
        return xm, Pm, mu, x9, P9

    def _imm_gate(self, gp, cost, imm_pred, xp, Pp, z, R, plot_pos, plot_cov, measure, gamma, tree):
        """Add the confirmed IMM tracks, gated on the union of their models' gates, to the pairs ``gp``
        of the other tracks; returns ``(pairs, GNN costs)``.

        A plot is a candidate for a track when it falls inside the gate of
        any model with non-zero probability (``min_j d²_j ≤ γ``): at the
        onset of a manoeuvre the turn or acceleration model's gate holds the
        plot while the moment-matched one, still dominated by the
        constant-velocity model, may not.  The GNN cost of such a pair is
        ``-2 ln Σ_j μ_j N(ν_j; 0, S_j) - k ln 2π``, the mixture's version of
        the ``d² + ln|S|`` used for the other tracks.  The pairs' combined-state
        innovations are kept for the out-of-sequence path.
        """
        cols = self._tracks.cols
        firm = np.flatnonzero(cols["status"] == 1)
        m, k = z.shape
        if firm.size == 0 or m == 0:
            return gp, cost
        xm, Pm, mu = imm_pred
        tr_model = np.trace(Pm[firm][:, :, :3, :3], axis1=-2, axis2=-1).max(axis=1)
        spread = np.linalg.norm(xm[firm][:, :, :3] - xp[firm][:, None, :3], axis=-1).max(axis=1)
        tr_plot = float(np.max(np.trace(plot_cov, axis1=1, axis2=2)))
        radius = 1.2 * np.sqrt(gamma * (tr_model + tr_plot)) + 100.0 + spread
        ti, pj = candidate_pairs(xp[firm, :3], radius, plot_pos, tree)
        ti = firm[ti]
        ll = np.full(ti.size, -np.inf)
        inside = np.zeros(ti.size, dtype=bool)
        for rows, imm, r in self._imm_sets(cols["ballistic"][ti]):
            t_r = ti[rows]
            ll[rows], d2 = imm.score(xm[t_r, :r], Pm[t_r, :r], mu[t_r, :r], z[pj[rows]], R[pj[rows]], measure,
                                     measure.angle_components)
            inside[rows] = np.where(mu[t_r, :r] > 0, d2, np.inf).min(axis=1) <= gamma
        ti, pj, ll = ti[inside], pj[inside], ll[inside]
        # Combined-state innovations of the union-gated pairs.
        trk, inv = np.unique(ti, return_inverse=True)
        z_pred, H_t = measure(xp[trk])
        nu = wrapped_residual(z[pj], z_pred[inv], measure.angle_components)
        H = H_t[inv]
        S = H @ Pp[ti] @ np.swapaxes(H, -1, -2) + R[pj]
        Sinv, logdet = spd_inv_logdet(S)
        d2c = np.einsum("pi,pij,pj->p", nu, Sinv, nu)
        out = GatedPairs(np.r_[gp.track, ti], np.r_[gp.plot, pj], np.concatenate([gp.nu, nu]), np.concatenate([gp.H, H]),
                         np.concatenate([gp.S, S]), np.r_[gp.d2, d2c], np.r_[gp.log_det_S, logdet])
        return out, np.r_[cost, -2.0 * ll - k * LOG_2PI]

    def _imm_update(self, ti, pj, d, z, R, measure, imm_pred):
        """Every model of tracks ``ti`` updated with plots ``pj``: ``(xm, Pm, mu)``.

        A plot older than the track (``d < 0``, out of sequence) is used by
        retrodicting each model to the plot time, updating there and
        predicting back to the track's time: the process noise of the lag
        is counted twice, which errs on the safe side for lags of a revisit.
        """
        cols = self._tracks.cols
        xm, Pm, mu = imm_pred[0][ti], imm_pred[1][ti], imm_pred[2][ti]
        bal = cols["ballistic"][ti]
        for rows, imm, r in self._imm_sets(bal):
            xm[rows, :r], Pm[rows, :r], mu[rows, :r], _ = imm.update(xm[rows, :r], Pm[rows, :r], mu[rows, :r],
                                                                     z[pj[rows]], R[pj[rows]], measure,
                                                                     measure.angle_components)
        back = np.flatnonzero(d < 0)
        if back.size:  # the predicted states above are retrodictions: carry them back to the track time
            for rows, imm, r in self._imm_sets(bal[back]):
                b = back[rows]
                xm[b, :r], Pm[b, :r], mu[b, :r] = imm.predict(xm[b, :r], Pm[b, :r], mu[b, :r], -d[b])
        return xm, Pm, mu

    def _classify_ballistic(self, rows: np.ndarray) -> None:
        """Flag confirmed tracks high, or fast and steep, as ballistic (hysteresis: never unflagged).

        A track is ballistic when ``h - kσ_h > h_min`` or when both
        ``|v| - kσ_|v| > v_min`` and ``|v_up| - kσ_up > v_up_min`` (k =
        ``ballistic_sigmas``, σ from the track covariance along the local
        vertical and the velocity direction), so that the noisy velocity of a
        young track seen by a coarse radar does not flag an aircraft.
        """
        if not rows.any():
            return
        c = self.config
        cols = self._tracks.cols
        idx = np.flatnonzero(rows)
        x, P = cols["x"][idx], cols["P"][idx]
        k = c.ballistic_sigmas
        lat, lon, alt = ecef_to_geodetic(x[:, :3])
        up = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1)
        sd_alt = np.sqrt(np.einsum("ni,nij,nj->n", up, P[:, :3, :3], up))
        v_up = np.einsum("ij,ij->i", x[:, 3:], up)
        sd_vup = np.sqrt(np.einsum("ni,nij,nj->n", up, P[:, 3:, 3:], up))
        speed = np.linalg.norm(x[:, 3:], axis=1)
        u = x[:, 3:] / np.maximum(speed, 1e-9)[:, None]
        sd_speed = np.sqrt(np.einsum("ni,nij,nj->n", u, P[:, 3:, 3:], u))
        flag = (alt - k * sd_alt > c.ballistic_min_alt_m) | (
            (speed - k * sd_speed > c.ballistic_min_speed_mps)
            & (np.abs(v_up) - k * sd_vup > c.ballistic_min_vspeed_mps))
        cols["ballistic"][idx[flag]] = True
        if self._imm and flag.any():
            # A track found ballistic changes to the ballistic model set, started from its combined state.
            rows = idx[flag]
            x9, P9 = combine(cols["xm"][rows], cols["Pm"][rows], cols["mu"][rows])
            self._imm_init(rows, x9, P9, ballistic=True)

    def _classify_kinematics(self, rows: np.ndarray) -> None:
        """Kinematic class of the updated confirmed tracks: ballistic, fast air-breathing or slow.

        Ballistic follows the tracker's flag (:meth:`_classify_ballistic`).
        Otherwise a track is slow (drone-like) when ``|v| + kσ_|v| <
        slow_speed_mps`` and fast when ``|v| - kσ_|v| > slow_speed_mps``
        (k = ``class_sigmas``, σ_|v| the speed's standard deviation along the
        velocity); in between the evidence is not enough and the class is
        kept (a young track stays unknown), so one noisy update never flips it.
        """
        if not rows.any():
            return
        c = self.config
        cols = self._tracks.cols
        idx = np.flatnonzero(rows)
        v, Pv = cols["x"][idx, 3:], cols["P"][idx, 3:, 3:]
        speed = np.linalg.norm(v, axis=1)
        u = v / np.maximum(speed, 1e-9)[:, None]
        sd = np.sqrt(np.einsum("ni,nij,nj->n", u, Pv, u))
        k = c.class_sigmas
        cls = cols["kin_class"][idx]
        cls = np.where(speed + k * sd < c.slow_speed_mps, KIN_SLOW, cls)
        cls = np.where(speed - k * sd > c.slow_speed_mps, KIN_FAST, cls)
        cls = np.where(cols["ballistic"][idx], KIN_BALLISTIC, cls)
        cols["kin_class"][idx] = cls

    def _underground(self, x: np.ndarray, P: np.ndarray) -> np.ndarray:
        """Tracks whose altitude is below ``min_alt_m`` by more than 3σ (σ along the local vertical)."""
        lat, lon, alt = ecef_to_geodetic(x[:, :3])
        up = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1)
        var_up = np.einsum("ni,nij,nj->n", up, P[:, :3, :3], up)
        return alt + 3.0 * np.sqrt(var_up) < self.config.min_alt_m

    def _duplicates(self, x_now: np.ndarray, P_now: np.ndarray, hit: np.ndarray) -> np.ndarray:
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
        c = self.config
        cols = self._tracks.cols
        n = len(self._tracks)
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
                # The survivor keeps its id and history but takes the fresher state.
                fresher = (cols["last_update_s"][lose] > cols["last_update_s"][keep]) & ~loser[keep]
                kf, lf = keep[fresher], lose[fresher]
                for name in ("x", "P", "time_s", "last_update_s", "n_misses") + (("xm", "Pm", "mu") if self._imm else ()):
                    cols[name][kf] = cols[name][lf]
                relayout = cols["ballistic"][kf] & ~cols["ballistic"][lf]
                cols["ballistic"][kf] |= cols["ballistic"][lf]
                if self._imm and relayout.any():
                    # A ballistic survivor took an air-breathing IMM state: restart it in the ballistic set.
                    rows = kf[relayout]
                    x9, P9 = combine(cols["xm"][rows], cols["Pm"][rows], cols["mu"][rows])
                    self._imm_init(rows, x9, P9, ballistic=True)
                loser[lose] = True
                return loser
        cols["dup_count"][:] = 0
        return loser

    # ------------------------------------------------------------------ output

    def picture(self, t_s: float) -> AirPicture:
        """Confirmed tracks (not coasting beyond ``max_coast_s``) predicted to ``t_s``."""
        cols = self._tracks.cols
        live = (cols["status"] == 1) & (t_s - cols["last_update_s"] <= self.config.max_coast_s)
        bal = cols["ballistic"][live]
        if self._imm:
            _, _, _, x9, P9 = self._imm_predict(cols["xm"][live], cols["Pm"][live], cols["mu"][live], bal,
                                                t_s - cols["time_s"][live])
            x, P = x9[:, :6], P9[:, :6, :6]
        else:
            x, P = predict(cols["x"][live], cols["P"][live], t_s - cols["time_s"][live], self._q(bal), bal,
                           self.config.max_substep_s)
        return AirPicture(
            time_s=float(t_s),
            track_id=cols["track_id"][live].copy(),
            x=x,
            P=P,
            ballistic=bal.copy(),
            n_hits=cols["n_hits"][live].copy(),
            first_update_s=cols["first_update_s"][live].copy(),
            last_update_s=cols["last_update_s"][live].copy(),
            kin_class=cols["kin_class"][live].copy(),
            quality=cols["n_hits"][live] / np.maximum(cols["n_opportunities"][live], 1),
            score=cols["score"][live].copy() if self.config.initiation == "score" else None,
        )
