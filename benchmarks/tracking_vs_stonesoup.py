"""Multi-target tracking: tdome's tracker and Stone Soup side by side on the same detections.

    python benchmarks/tracking_vs_stonesoup.py            # N = 10, 50, 200, 1000 targets, 100 scans, 3 seeds
    python benchmarks/tracking_vs_stonesoup.py --quick    # N = 10, 50, 200 (~3 min)
    python benchmarks/tracking_vs_stonesoup.py --seeds 5 --sizes 200   # five scenarios at N = 200
    python benchmarks/tracking_vs_stonesoup.py --generator staggered --seeds 1   # the first published scenarios
    python benchmarks/tracking_vs_stonesoup.py --profile  # also: the top of a cProfile of tdome at the largest N

Stone Soup (PyPI ``stonesoup``) is the optional extra ``bench``; without it
only tdome's side runs.

Scenario (:func:`make_scenario`: one generator, ``--seeds`` scenarios per N
with seeds ``--seed``, ``--seed`` + 1, …, the identical plots fed to both
trackers).  A 100 km × 100 km region, targets born in an altitude band of
1–10 km, in the local ENU frame of a geodetic origin (24° N, 121° E, 0 m).
Targets fly nearly-constant velocity in all three axes (continuous
white-noise acceleration, σ_a = 2 m/s² per axis, i.e. spectral density
q = 4 m²/s³): drones (30–60 m/s), cruise missiles (200–270 m/s) and aircraft
(120–300 m/s) on random headings, vertical speed N(0, 3 m/s), born anywhere
in the region.  How they come and go (``--generator``):

- ``poisson`` (the default): N targets at the first scan, then a Poisson
  number of births at every scan (mean N / 50) and a geometric lifetime of
  mean 50 scans for every target, so that about N are alive throughout and
  a few are born and a few die at every scan; clutter falls uniformly in
  the whole volume targets may fly in (the 0–12 km slab).
- ``staggered`` (the generator of the first figures): N targets in all,
  40 % from the first scan, the others appear at a scan drawn uniformly
  over the first 70 % of the run; each lives a time drawn uniformly in
  [0.3, 1.3) × the run (so many outlive it); clutter in the 1–10 km band.

Either way a target also dies as soon as it leaves the region
(horizontally, or the 0–12 km altitude slab).  A scan every second; each
live target is detected with Pd = 0.9; a Poisson number of clutter plots
(mean 10, ``--clutter``) falls uniformly in the clutter volume; plots are
Cartesian positions with 50 m σ per axis.

Both trackers get the same information: the true process noise q and
measurement covariance R, a zero-mean velocity prior of 200 m/s σ per axis
for a one-plot track, the same χ² gate probability (0.9999, 3 degrees of
freedom), confirmation at 3 plots, a tentative track dropped after 2
consecutive misses, a confirmed one after 5.

- Stone Soup: Kalman predictor and updater, a CombinedLinearGaussian of three
  ConstantVelocity models, a LinearGaussian position measurement model,
  DistanceHypothesiser with the Mahalanobis measure (missed distance = the
  gate), global nearest neighbour by 2-D assignment with a detection k-d tree
  prefilter (DetectionKDTreeGNN2D), a MultiMeasurementInitiator (the same
  associator; min_points 3; UpdateTimeStepsDeleter(2)) and an
  UpdateTimeStepsDeleter(5) in a MultiTargetTracker, one ``update_tracker``
  call per scan.
- tdome: :class:`tdome.c2.tracking.Tracker` fed :class:`~tdome.messages.PositionPlots`,
  the same plots converted to ECEF (the ENU frame is a fixed rotation and
  translation of ECEF, so the CV model and the isotropic R are the same there).

One rule differed, association, and only where tracks compete for a
plot; this benchmark now gives tdome Stone Soup's order
(``gnn_confirmed_first``), and the two then agree on every seed.  Stone
Soup associates in two stages, the confirmed tracks first
(the tracker's associator) and the initiator's tentative tracks with the
plots left, and its 2-D assignment minimises the sum of Mahalanobis
distances d (a miss costing the gate distance); tdome's GNN is one
assignment over confirmed and tentative tracks together, maximum
cardinality first, then least total d² + ln|S|.  A confirmed track that has
just missed its target's plot (outside its gate, or not detected) sees the
next plot at d ≈ 3–4.5 with ln|S| ≈ 25–29, and a one-plot track started on
the missed plot sees it at d < 1 with ln|S| ≈ 32: tdome gives the plot to
the new track, which confirms two scans later, while the old one coasts to
deletion beside it, a false track for 2–4 scans and one more track; Stone
Soup keeps the confirmed track.  Between two tentative tracks tdome's cost
is the better rule (the track with a velocity wins over a one-plot track
nearer in d).  tdome's default stays one assignment: with the confirmed
tracks first, a coasting track whose target is gone takes the clutter plot
in its gate (:mod:`tdome.c2.tracking.association`).  These events are rare (none to a few per 100 scans at
N = 200), so one scenario may show none: hence several seeds, and the
per-seed differences the command prints.

Scores (:func:`score`): GOSPA (p = 2, α = 2) of each tracker's output at every
scan against the live targets, positions in the ENU frame, with the cut-off
c = 1 km: 20 σ of a plot, so a track farther than that from every target is
not tracking one, and well below the mean distance between targets at
N = 1000 (≈ 4.5 km), so a track is not credited for the wrong neighbour.  The
first 5 scans are not scored for either tracker (nothing can be confirmed
before the third plot).  Also: the mean localisation error per assigned
target, the number of distinct confirmed tracks, and milliseconds per scan
of the tracker's own work (``perf_counter`` around ``Tracker.process`` /
``MultiTargetTracker.update_tracker``; the inputs are built beforehand and
reading the outputs is not timed).  The two trackers run scan by scan in
turn, so that both see the same load on a shared machine; the price is that
tdome's scans run among Stone Soup's heap of small objects (caches, garbage
collection): tdome alone measured 10–30 % faster at N ≤ 200, so the ratio
errs in Stone Soup's favour.  The speed ratio is Stone Soup's mean time per
scan over tdome's; the JSON also has medians.  The figures printed are means
over the seeds, then tdome's GOSPA, false tracks, missed targets and tracks
less Stone Soup's, seed by seed.  The full run (3 seeds) takes about 15
minutes on 2 busy cores, most of it Stone Soup at N = 1000
(``--stonesoup-max-scans`` shortens that one case for both trackers).

The last line of output is one JSON object with the figures for each N: the
means over the seeds, the per-seed differences and every seed's figures.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import os
import pstats
import sys
import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from tdome.analysis.metrics import gospa
from tdome.c2.tracking import Tracker, TrackerConfig, gate_threshold
from tdome.geo import ecef_to_enu, enu_to_ecef
from tdome.messages import PositionPlots

# --------------------------------------------------------------------------- scenario constants

ORIGIN_LAT_RAD = math.radians(24.0)
ORIGIN_LON_RAD = math.radians(121.0)
ORIGIN_ALT_M = 0.0
HALF_WIDTH_M = 50e3  # region: E, N in [-50, 50] km
ALT_BAND_M = (1e3, 10e3)  # births and clutter
ALT_LIMITS_M = (0.0, 12e3)  # a target leaving this slab dies
REVISIT_S = 1.0
SIGMA_A_MPS2 = 2.0  # white-noise acceleration σ per axis (q = σ_a² · 1 s)
SIGMA_M = 50.0  # plot σ per axis
PD = 0.9
CLUTTER_MEAN = 10.0
SPEED_CLASSES = (  # (share, min speed, max speed) m/s
    (0.4, 30.0, 60.0),  # one-way attack drones
    (0.3, 200.0, 270.0),  # cruise missiles
    (0.3, 120.0, 300.0),  # aircraft
)
SIGMA_VUP_MPS = 3.0

# --------------------------------------------------------------------------- tracker settings (both)

SPEED_PRIOR_SIGMA_MPS = 200.0  # velocity σ per axis of a one-plot track
GATE_PROBABILITY = 0.9999
CONFIRM_PLOTS = 3
TENTATIVE_MISSES = 2  # consecutive misses that drop a tentative track
CONFIRMED_MISSES = 5  # ... a confirmed track

# --------------------------------------------------------------------------- scoring

GOSPA_C_M = 1000.0
GOSPA_P = 2.0
SKIP_SCANS = 5
SEED = 20240611


@dataclass
class Scenario:
    """Truth and plots of one run, per scan, in the ENU frame of the origin (m)."""

    n_targets: int  # targets over the whole run (born at any scan)
    t_s: np.ndarray  # (K,) scan times
    truth: list[np.ndarray]  # per scan (n_k, 3) positions of the live targets
    truth_id: list[np.ndarray]  # per scan (n_k,) target index
    birth_scan: np.ndarray  # (n_targets,) scan at which each target appears
    plots: list[np.ndarray]  # per scan (m_k, 3) plot positions (detections and clutter, shuffled)
    plot_target: list[np.ndarray]  # per scan (m_k,) the target a plot comes from, -1 for clutter (truth)
    n_clutter: np.ndarray  # (K,)

    @property
    def n_scans(self) -> int:
        return int(self.t_s.shape[0])


def _cv_noise_chol(dt: float, q: float) -> np.ndarray:
    """Cholesky factor of the per-axis white-noise-acceleration covariance q [[Δ³/3, Δ²/2], [Δ²/2, Δ]]."""
    return np.linalg.cholesky(q * np.array([[dt**3 / 3.0, dt**2 / 2.0], [dt**2 / 2.0, dt]]))


GENERATORS = ("poisson", "staggered")
MEAN_LIFETIME_SCANS = 50.0  # poisson: geometric lifetimes of this mean (a death probability of 2 % per scan)


def make_scenario(n_targets: int, n_scans: int, seed: int = SEED, generator: str = "poisson",
                  clutter_mean: float = CLUTTER_MEAN, lifetime_scans: float = MEAN_LIFETIME_SCANS) -> Scenario:
    """The benchmark scenario (see the module docstring); the same arguments give the same arrays.

    ``generator`` says how targets come and go and where clutter falls:

    - ``"poisson"``: ``n_targets`` targets at the first scan, then a Poisson
      number of births at every scan, of mean ``n_targets / lifetime_scans``,
      and a geometric lifetime of mean ``lifetime_scans`` (by default
      ``MEAN_LIFETIME_SCANS``) for every target (a constant death probability per scan), so about
      ``n_targets`` are alive throughout while some are born and some die at
      every scan; clutter uniform in the whole 3-D volume the targets may
      fly in (the 0–12 km slab).
    - ``"staggered"`` (the generator of the first published figures):
      ``n_targets`` targets in all, 40 % at the first scan, the others born
      at a scan drawn uniformly over the first 70 % of the run; lifetimes
      uniform in [0.3, 1.3) × the run; clutter in the 1–10 km birth band.

    Either way a target also dies for good when it leaves the region.  The
    noise and rates are the module's constants, which both trackers are
    given too; ``clutter_mean`` is the mean number of clutter plots per scan.
    """
    if generator not in GENERATORS:
        raise ValueError(f"generator must be one of {GENERATORS}, not {generator!r}")
    pd, sigma_m, sigma_a_mps2, revisit_s = PD, SIGMA_M, SIGMA_A_MPS2, REVISIT_S
    K = n_scans
    if generator == "staggered":
        truth_rng, det_rng, clutter_rng = (np.random.default_rng(s)
                                           for s in np.random.SeedSequence([seed, n_targets, n_scans]).spawn(3))
        n = n_targets
        born_late = truth_rng.random(n) >= 0.4
        birth = np.where(born_late, truth_rng.integers(1, max(2, int(0.7 * K)), n), 0)
        death = birth + truth_rng.integers(max(1, int(0.3 * K)), max(2, int(1.3 * K)), n)
        clutter_alt = ALT_BAND_M
    else:
        truth_rng, det_rng, clutter_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(
            [seed, n_targets, n_scans, GENERATORS.index(generator)]).spawn(3))
        births = truth_rng.poisson(n_targets / lifetime_scans, K)
        births[0] = n_targets
        birth = np.repeat(np.arange(K), births)
        n = int(birth.size)
        death = birth + truth_rng.geometric(1.0 / lifetime_scans, n)
        clutter_alt = ALT_LIMITS_M
    # Initial states (a target not yet born keeps its own until its birth scan).
    cls = truth_rng.choice(len(SPEED_CLASSES), size=n, p=[c[0] for c in SPEED_CLASSES])
    lo = np.array([c[1] for c in SPEED_CLASSES])[cls]
    hi = np.array([c[2] for c in SPEED_CLASSES])[cls]
    speed = truth_rng.uniform(lo, hi)
    heading = truth_rng.uniform(0.0, 2.0 * np.pi, n)
    x = np.empty((n, 6))  # ENU position and velocity
    x[:, 0:2] = truth_rng.uniform(-HALF_WIDTH_M, HALF_WIDTH_M, (n, 2))
    x[:, 2] = truth_rng.uniform(*ALT_BAND_M, n)
    x[:, 3] = speed * np.sin(heading)
    x[:, 4] = speed * np.cos(heading)
    x[:, 5] = truth_rng.normal(0.0, SIGMA_VUP_MPS, n)
    L = _cv_noise_chol(revisit_s, sigma_a_mps2**2)
    gone = np.zeros(n, dtype=bool)  # left the region: dead for good

    t_s = np.arange(K) * revisit_s
    truth, truth_id, plots, plot_target, n_clutter = [], [], [], [], np.zeros(K, dtype=np.int64)
    lo_box = np.array([-HALF_WIDTH_M, -HALF_WIDTH_M, ALT_LIMITS_M[0]])
    hi_box = np.array([HALF_WIDTH_M, HALF_WIDTH_M, ALT_LIMITS_M[1]])
    for k in range(K):
        if k:
            # Targets not yet born keep their initial state; live ones move.
            moving = birth < k
            w = truth_rng.standard_normal((n, 3, 2)) @ L.T  # (pos, vel) noise per axis
            x[moving, :3] += revisit_s * x[moving, 3:] + w[moving, :, 0]
            x[moving, 3:] += w[moving, :, 1]
        gone |= (birth <= k) & np.any((x[:, :3] < lo_box) | (x[:, :3] > hi_box), axis=1)
        alive = np.flatnonzero((birth <= k) & (k < death) & ~gone)
        truth.append(x[alive, :3].copy())
        truth_id.append(alive)
        det = alive[det_rng.random(alive.size) < pd]
        z = x[det, :3] + det_rng.normal(0.0, sigma_m, (det.size, 3))
        m_c = clutter_rng.poisson(clutter_mean)
        c = np.column_stack([clutter_rng.uniform(-HALF_WIDTH_M, HALF_WIDTH_M, (m_c, 2)),
                             clutter_rng.uniform(*clutter_alt, m_c)])
        allp = np.concatenate([z, c])
        owner = np.concatenate([det, np.full(m_c, -1)])
        order = det_rng.permutation(allp.shape[0])
        plots.append(allp[order])
        plot_target.append(owner[order])
        n_clutter[k] = m_c
    return Scenario(n_targets=n, t_s=t_s, truth=truth, truth_id=truth_id, birth_scan=birth, plots=plots,
                    plot_target=plot_target, n_clutter=n_clutter)


# --------------------------------------------------------------------------- the trackers


@dataclass
class TrackerRun:
    """One tracker's output on a scenario: confirmed track positions (ENU) and ids per scan, timings."""

    est: list[np.ndarray]  # per scan (n_k, 3)
    track_id: list[np.ndarray]  # per scan (n_k,) (any hashable ids)
    coasting: list[np.ndarray]  # per scan (n_k,) bool: no plot at this scan
    ms: np.ndarray  # (K,) tracker time per scan


def gate_distance() -> float:
    """Mahalanobis gate √γ with γ the χ²(3) quantile of the gate probability."""
    return float(np.sqrt(gate_threshold(GATE_PROBABILITY, 3)))


def tdome_config(sigma_a_mps2: float = SIGMA_A_MPS2, revisit_s: float = REVISIT_S) -> TrackerConfig:
    """tdome's settings for the benchmark: the same information Stone Soup is given.

    - ``q_air_mps2``: the true acceleration σ (tdome's q = σ_a² · q_time_s with q_time_s = 1 s,
      Stone Soup's ``noise_diff_coeff`` = σ_a²);
    - ``init_speed_sigma_mps``: the velocity prior σ of Stone Soup's initiator;
    - ``gate_probability``: the χ² gate Stone Soup's ``missed_distance`` is set to;
    - confirmation at ``CONFIRM_PLOTS`` plots with no window (``confirm_n`` out of reach), as
      Stone Soup's MultiMeasurementInitiator(min_points) has none;
    - ``tentative_max_coast_s`` / ``max_coast_s``: half a revisit short of TENTATIVE_MISSES /
      CONFIRMED_MISSES revisits, so a track goes at the same missed scan as with Stone Soup's
      UpdateTimeStepsDeleter; ``delete_miss_probability`` off (tdome's own rule on missed
      opportunities would delete earlier than Stone Soup's fixed count);
    - ``gnn_confirmed_first``: Stone Soup's order of association, its confirmed tracks first and
      the tentative ones on the plots left (tdome's default is one assignment over all tracks);
    - ``max_speed_mps``: the speed a one-plot track's gate admits along an axis (√γ × prior σ),
      Stone Soup's implicit limit.
    """
    return TrackerConfig(
        q_air_mps2=sigma_a_mps2,
        q_time_s=1.0,
        gate_probability=GATE_PROBABILITY,
        confirm_m=CONFIRM_PLOTS,
        confirm_n=10**6,
        tentative_max_coast_s=(TENTATIVE_MISSES - 0.5) * revisit_s,
        max_coast_s=(CONFIRMED_MISSES - 0.5) * revisit_s,
        delete_miss_probability=None,
        gnn_confirmed_first=True,
        init_speed_sigma_mps=SPEED_PRIOR_SIGMA_MPS,
        max_speed_mps=gate_distance() * SPEED_PRIOR_SIGMA_MPS,
    )


def tdome_inputs(sc: Scenario, sigma_m: float = SIGMA_M) -> list[PositionPlots]:
    """The scenario's plots as ECEF position plots (R = σ² I is the same in ENU and ECEF)."""
    out = []
    for t, z in zip(sc.t_s, sc.plots):
        ecef = enu_to_ecef(z, ORIGIN_LAT_RAD, ORIGIN_LON_RAD, ORIGIN_ALT_M).reshape(-1, 3)
        cov = np.broadcast_to(np.eye(3) * sigma_m**2, (z.shape[0], 3, 3)).copy()
        out.append(PositionPlots(time_s=float(t), sensor=0, pos=ecef, cov=cov))
    return out


class _Recorder:
    """Runs one tracker scan by scan and keeps what it outputs."""

    def __init__(self) -> None:
        self.est: list[np.ndarray] = []
        self.ids: list[np.ndarray] = []
        self.coast: list[np.ndarray] = []
        self.ms: list[float] = []

    def result(self) -> TrackerRun:
        return TrackerRun(est=self.est, track_id=self.ids, coasting=self.coast, ms=np.array(self.ms))


class TdomeSide(_Recorder):
    """tdome's tracker on a scenario, one :meth:`step` per scan."""

    def __init__(self, sc: Scenario, config: TrackerConfig | None = None, n_scans: int | None = None):
        super().__init__()
        self.scans = tdome_inputs(sc)[:n_scans]
        self.tracker = Tracker(config or tdome_config(), sensors=[])  # an unlisted sensor's feed covers everywhere

    def step(self, k: int) -> None:
        s = self.scans[k]
        t0 = time.perf_counter()
        self.tracker.process(s)
        self.ms.append((time.perf_counter() - t0) * 1e3)
        pic = self.tracker.picture(s.time_s)
        self.est.append(ecef_to_enu(pic.x[:, :3], ORIGIN_LAT_RAD, ORIGIN_LON_RAD, ORIGIN_ALT_M).reshape(-1, 3))
        self.ids.append(pic.track_id.copy())
        self.coast.append(pic.last_update_s < s.time_s)


def run_tdome(sc: Scenario, config: TrackerConfig | None = None, n_scans: int | None = None) -> TrackerRun:
    """tdome's tracker on the scenario's first ``n_scans`` scans (all by default)."""
    side = TdomeSide(sc, config, n_scans)
    for k in range(len(side.scans)):
        side.step(k)
    return side.result()


def stonesoup_available() -> str | None:
    """Stone Soup's version, or None when it is not installed."""
    try:
        import stonesoup
    except ImportError:
        return None
    return getattr(stonesoup, "__version__", "unknown")


def kd_radius_m(sigma_m: float = SIGMA_M, revisit_s: float = REVISIT_S) -> float:
    """Euclidean radius of Stone Soup's k-d tree prefilter: never narrower than the gate.

    The widest innovation covariance is a one-plot track's after its longest
    allowed gap Δ = TENTATIVE_MISSES × revisit: S = (2σ² + σ_v² Δ² + q Δ³/3) I,
    so the gate reaches √γ √S_ii; every plot the Mahalanobis gate would accept
    is within that distance.
    """
    dt = TENTATIVE_MISSES * revisit_s
    s = 2 * sigma_m**2 + (SPEED_PRIOR_SIGMA_MPS * dt) ** 2 + SIGMA_A_MPS2**2 * dt**3 / 3.0
    return gate_distance() * math.sqrt(s)


def stonesoup_tracker(sigma_m: float = SIGMA_M, sigma_a_mps2: float = SIGMA_A_MPS2):
    """Stone Soup's fastest standard GNN configuration for the scenario (see the module docstring)."""
    from stonesoup.dataassociator.tree import DetectionKDTreeGNN2D
    from stonesoup.deleter.time import UpdateTimeStepsDeleter
    from stonesoup.hypothesiser.distance import DistanceHypothesiser
    from stonesoup.initiator.simple import MultiMeasurementInitiator
    from stonesoup.measures import Mahalanobis
    from stonesoup.models.measurement.linear import LinearGaussian
    from stonesoup.models.transition.linear import CombinedLinearGaussianTransitionModel, ConstantVelocity
    from stonesoup.predictor.kalman import KalmanPredictor
    from stonesoup.tracker.simple import MultiTargetTracker
    from stonesoup.types.state import GaussianState
    from stonesoup.updater.kalman import KalmanUpdater

    q = sigma_a_mps2**2  # ConstantVelocity's noise_diff_coeff: q [[Δ³/3, Δ²/2], [Δ²/2, Δ]], as tdome's
    transition = CombinedLinearGaussianTransitionModel([ConstantVelocity(q) for _ in range(3)])
    measurement = LinearGaussian(ndim_state=6, mapping=(0, 2, 4), noise_covar=np.eye(3) * sigma_m**2)
    predictor = KalmanPredictor(transition)
    updater = KalmanUpdater(measurement)

    def associator():
        hyp = DistanceHypothesiser(predictor, updater, measure=Mahalanobis(), missed_distance=gate_distance())
        return DetectionKDTreeGNN2D(hypothesiser=hyp, predictor=predictor, updater=updater,
                                    max_distance=kd_radius_m(sigma_m))

    v2 = SPEED_PRIOR_SIGMA_MPS**2
    prior = GaussianState(np.zeros((6, 1)), np.diag([0.0, v2, 0.0, v2, 0.0, v2]))
    initiator = MultiMeasurementInitiator(
        prior_state=prior, measurement_model=measurement, deleter=UpdateTimeStepsDeleter(TENTATIVE_MISSES),
        data_associator=associator(), updater=updater, min_points=CONFIRM_PLOTS)
    tracker = MultiTargetTracker(initiator=initiator, deleter=UpdateTimeStepsDeleter(CONFIRMED_MISSES),
                                 detector=None, data_associator=associator(), updater=updater)
    return tracker, measurement


def stonesoup_inputs(sc: Scenario, measurement, n_scans: int | None = None):
    """The scenario's plots as Stone Soup (time, set of Detection) pairs."""
    from datetime import datetime, timedelta

    from stonesoup.types.detection import Detection

    t0 = datetime(2025, 1, 1)
    out = []
    for t, z in list(zip(sc.t_s, sc.plots))[:n_scans]:
        when = t0 + timedelta(seconds=float(t))
        out.append((when, {Detection(p.reshape(3, 1), timestamp=when, measurement_model=measurement) for p in z}))
    return out


class StoneSoupSide(_Recorder):
    """Stone Soup's tracker on a scenario, one :meth:`step` per scan."""

    def __init__(self, sc: Scenario, n_scans: int | None = None):
        from stonesoup.types.update import Update

        super().__init__()
        self._update_type = Update
        self.tracker, measurement = stonesoup_tracker()
        self.scans = stonesoup_inputs(sc, measurement, n_scans)

    def step(self, k: int) -> None:
        when, dets = self.scans[k]
        t0 = time.perf_counter()
        _, tracks = self.tracker.update_tracker(when, dets)
        self.ms.append((time.perf_counter() - t0) * 1e3)
        tracks = list(tracks)
        self.est.append(np.array([np.asarray(tr.state_vector, dtype=float)[[0, 2, 4], 0]
                                  for tr in tracks]).reshape(-1, 3))
        self.ids.append(np.array([tr.id for tr in tracks], dtype=object))
        self.coast.append(np.array([not isinstance(tr.state, self._update_type) for tr in tracks], dtype=bool))


def run_stonesoup(sc: Scenario, n_scans: int | None = None) -> TrackerRun:
    """Stone Soup's tracker on the scenario's first ``n_scans`` scans (all by default)."""
    side = StoneSoupSide(sc, n_scans)
    for k in range(len(side.scans)):
        side.step(k)
    return side.result()


def run_side_by_side(sc: Scenario, n_scans: int | None = None) -> tuple[TrackerRun, TrackerRun]:
    """Both trackers, scan by scan in turn (the first to go alternates), so both see the same machine load."""
    sides = [TdomeSide(sc, n_scans=n_scans), StoneSoupSide(sc, n_scans)]
    for k in range(len(sides[0].scans)):
        for side in sides if k % 2 == 0 else sides[::-1]:
            side.step(k)
    return sides[0].result(), sides[1].result()


# --------------------------------------------------------------------------- scoring


def _matched(truth: np.ndarray, est: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray]:
    """Which truths and which tracks GOSPA's optimal assignment pairs (closer than c): two bool masks."""
    mt, me = np.zeros(len(truth), dtype=bool), np.zeros(len(est), dtype=bool)
    if len(truth) and len(est):
        d = np.linalg.norm(truth[:, None, :] - est[None, :, :], axis=-1)
        r, k = linear_sum_assignment(np.minimum(d, c) ** GOSPA_P)
        good = d[r, k] < c
        mt[r[good]] = True
        me[k[good]] = True
    return mt, me


def score(sc: Scenario, run: TrackerRun, skip: int = SKIP_SCANS, c: float = GOSPA_C_M) -> dict:
    """Mean GOSPA over the scored scans (``skip`` onwards), its parts, tracks and timings.

    GOSPA parts are the metric's p-th power shares (m²) averaged over scans;
    ``loc_rms_m`` is the root-mean-square distance of the assigned
    target–track pairs, ``missed`` / ``false`` the mean counts per scan.
    Where they come from: ``missed_newborn`` counts missed targets that have
    had fewer than CONFIRM_PLOTS scans since they appeared (no tracker
    confirms them yet), ``false_coasting`` false tracks that got no plot this
    scan (mostly tracks of targets that died, kept until the deleter's limit).
    """
    K = len(run.est)
    tot, loc, mis, fal, nm, nf, pairs, young, coast = ([] for _ in range(9))
    for k in range(skip, K):
        g = gospa(sc.truth[k], run.est[k], c=c, p=GOSPA_P)
        tot.append(g.total)
        loc.append(g.localisation)
        mis.append(g.missed)
        fal.append(g.false)
        nm.append(g.n_missed)
        nf.append(g.n_false)
        pairs.append(len(sc.truth[k]) - g.n_missed)
        mt, me = _matched(sc.truth[k], run.est[k], c)
        young.append(int(np.sum(~mt & (k - sc.birth_scan[sc.truth_id[k]] < CONFIRM_PLOTS - 1))))
        coast.append(int(np.sum(~me & run.coasting[k])))
    ids = set()
    for a in run.track_id:
        ids.update(a.tolist())
    return dict(
        scans=K,
        scored_scans=len(tot),
        gospa_m=float(np.mean(tot)),
        loc_m2=float(np.mean(loc)),
        missed_m2=float(np.mean(mis)),
        false_m2=float(np.mean(fal)),
        loc_rms_m=float(np.sqrt(np.sum(loc) / max(np.sum(pairs), 1))),
        missed=float(np.mean(nm)),
        missed_newborn=float(np.mean(young)),
        false=float(np.mean(nf)),
        false_coasting=float(np.mean(coast)),
        tracks=len(ids),
        ms_mean=float(np.mean(run.ms)),
        ms_p50=float(np.percentile(run.ms, 50)),
        ms_p95=float(np.percentile(run.ms, 95)),
    )


# --------------------------------------------------------------------------- the command


def profile_tdome(sc: Scenario, top: int = 20) -> str:
    """cProfile of tdome's ``Tracker.process`` over the scenario's scans, sorted by internal time."""
    scans = tdome_inputs(sc)
    tracker = Tracker(tdome_config(), sensors=[])
    pr = cProfile.Profile()
    pr.enable()
    for s in scans:
        tracker.process(s)
    pr.disable()
    buf = io.StringIO()
    pstats.Stats(pr, stream=buf).sort_stats("tottime").print_stats(top)
    return buf.getvalue()


def cases(quick: bool) -> tuple[list[int], int]:
    return ([10, 50, 200] if quick else [10, 50, 200, 1000]), 100


def run_case(n: int, n_scans: int, seed: int, generator: str, clutter_mean: float, with_stonesoup: bool,
             stonesoup_max_scans: int | None = None) -> dict:
    """One scenario (N, seed) through tdome and, if asked, Stone Soup: its figures as the JSON holds them."""
    sc = make_scenario(n, n_scans, seed, generator=generator, clutter_mean=clutter_mean)
    k = n_scans
    if with_stonesoup and stonesoup_max_scans and n >= 1000:
        k = min(k, stonesoup_max_scans)  # both trackers scored on the same scans
    entry: dict = {"seed": seed, "scans": k, "targets": sc.n_targets,
                   "alive_mean": float(np.mean([len(t) for t in sc.truth[:k]])),
                   "plots_mean": float(np.mean([len(p) for p in sc.plots[:k]]))}
    if with_stonesoup:
        td, ss = run_side_by_side(sc, n_scans=k)
        entry["tdome"], entry["stonesoup"] = score(sc, td), score(sc, ss)
        entry["speed_ratio"] = entry["stonesoup"]["ms_mean"] / entry["tdome"]["ms_mean"]
    else:
        entry["tdome"] = score(sc, run_tdome(sc, n_scans=k))
    return entry


def mean_over_seeds(runs: list[dict]) -> dict:
    """The per-seed entries of one N averaged (each tracker's figures and the speed ratio), with the
    per-seed differences tdome − Stone Soup of GOSPA, false tracks per scan and tracks."""
    out: dict = {"seeds": [r["seed"] for r in runs]}
    for key in ("alive_mean", "plots_mean", "speed_ratio"):
        if key in runs[0]:
            out[key] = float(np.mean([r[key] for r in runs]))
    for name in ("tdome", "stonesoup"):
        if name in runs[0]:
            out[name] = {k: float(np.mean([r[name][k] for r in runs])) for k in runs[0][name]}
    if "stonesoup" in runs[0]:
        out["difference"] = {k: [r["tdome"][k] - r["stonesoup"][k] for r in runs]
                             for k in ("gospa_m", "missed", "false", "tracks")}
    out["per_seed"] = runs
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N up to 200 (no N = 1000)")
    ap.add_argument("--sizes", help="only these target counts, e.g. 50,1000")
    ap.add_argument("--scans", type=int, help="scans per run (default 100)")
    ap.add_argument("--generator", choices=GENERATORS, default="poisson",
                    help="how targets come and go (make_scenario); 'staggered --seeds 1' gives the first figures")
    ap.add_argument("--seeds", type=int, default=3, help="scenarios per N, seeds --seed, --seed + 1, ... (default 3)")
    ap.add_argument("--seed", type=int, default=SEED, help="the first seed")
    ap.add_argument("--clutter", type=float, default=CLUTTER_MEAN, help="mean clutter plots per scan (default 10)")
    ap.add_argument("--stonesoup-max-scans", type=int, default=None,
                    help="run Stone Soup (and score both) on at most this many scans at N >= 1000")
    ap.add_argument("--no-stonesoup", action="store_true", help="tdome only")
    ap.add_argument("--profile", action="store_true", help="print a cProfile of tdome at the largest N")
    args = ap.parse_args(argv)
    sizes, n_scans = cases(args.quick)
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    if args.scans:
        n_scans = args.scans
    seeds = [args.seed + i for i in range(max(1, args.seeds))]
    ss_version = None if args.no_stonesoup else stonesoup_available()
    if ss_version is None and not args.no_stonesoup:
        print("Stone Soup is not installed (pip install 'stonesoup>=1.9,<2'): tdome only", file=sys.stderr)

    result: dict = {
        "scenario": dict(generator=args.generator, region_km=2 * HALF_WIDTH_M / 1e3,
                         alt_band_km=[a / 1e3 for a in ALT_BAND_M], revisit_s=REVISIT_S, sigma_a_mps2=SIGMA_A_MPS2,
                         sigma_m=SIGMA_M, pd=PD, clutter_mean=args.clutter, seeds=seeds, scans=n_scans,
                         mean_lifetime_scans=MEAN_LIFETIME_SCANS if args.generator == "poisson" else None),
        "trackers": dict(speed_prior_sigma_mps=SPEED_PRIOR_SIGMA_MPS, gate_probability=GATE_PROBABILITY,
                         confirm_plots=CONFIRM_PLOTS, tentative_misses=TENTATIVE_MISSES,
                         confirmed_misses=CONFIRMED_MISSES, stonesoup_kd_radius_m=kd_radius_m()),
        "gospa": dict(c_m=GOSPA_C_M, p=GOSPA_P, alpha=2.0, skip_scans=SKIP_SCANS),
        "stonesoup_version": ss_version,
        "loadavg_1min": os.getloadavg()[0],
        "sizes": {},
    }
    print(f"generator {args.generator}, seeds {', '.join(map(str, seeds))}, {n_scans} scans, clutter {args.clutter:g} "
          "per scan; figures are means over the seeds")
    head = (f"{'N':>5} {'tracker':10} {'scans':>5} {'alive':>6} {'GOSPA m':>8} {'loc m':>6} {'missed (new)':>14} "
            f"{'false (coast)':>14} {'tracks':>7} {'ms/scan':>8} {'p95 ms':>8} {'SS/tdome':>9}")
    print(head)
    t_all = time.perf_counter()
    _warm_up()
    for n in sizes:
        runs = [run_case(n, n_scans, seed, args.generator, args.clutter, ss_version is not None,
                         args.stonesoup_max_scans) for seed in seeds]
        entry = mean_over_seeds(runs)
        result["sizes"][str(n)] = entry
        k = runs[0]["scans"]
        for name in ("tdome", "stonesoup"):
            if name not in entry:
                continue
            r = entry[name]
            ratio = f"{entry['speed_ratio']:9.1f}" if name == "stonesoup" else ""
            missed = f"{r['missed']:.2f} ({r['missed_newborn']:.2f})"
            false = f"{r['false']:.2f} ({r['false_coasting']:.2f})"
            print(f"{n:5d} {name:10} {k:5d} {entry['alive_mean']:6.1f} {r['gospa_m']:8.1f} {r['loc_rms_m']:6.1f} "
                  f"{missed:>14} {false:>14} {r['tracks']:7.1f} {r['ms_mean']:8.2f} {r['ms_p95']:8.2f} {ratio:>9}",
                  flush=True)
        if "difference" in entry:
            d = entry["difference"]
            print(f"{'':5} tdome - Stone Soup, seed by seed: GOSPA {_signed(d['gospa_m'], 2)} m; false per scan "
                  f"{_signed(d['false'], 3)}; missed {_signed(d['missed'], 3)}; tracks {_signed(d['tracks'], 0)}",
                  flush=True)
    result["wall_s"] = time.perf_counter() - t_all
    result["loadavg_1min_end"] = os.getloadavg()[0]
    print(f"GOSPA (c = {GOSPA_C_M:.0f} m, p = 2, α = 2): mean over scans {SKIP_SCANS} onwards.  loc: RMS distance "
          "of assigned target-track pairs.  missed / false: per scan; (new): targets younger than\n"
          f"{CONFIRM_PLOTS - 1} scans, which no tracker can have confirmed; (coast): tracks without a plot this scan "
          "(chiefly tracks of dead targets before deletion).\ntracks: distinct confirmed tracks.  ms/scan: the "
          "tracker's processing of one scan.  SS/tdome: Stone Soup's mean ms/scan over tdome's.")
    if args.profile:
        print(f"\ncProfile of tdome, N = {sizes[-1]}, {n_scans} scans:")
        print(profile_tdome(make_scenario(sizes[-1], n_scans, args.seed, generator=args.generator,
                                          clutter_mean=args.clutter)))
    print(json.dumps(result, separators=(",", ":")))
    return 0


def _signed(values: list[float], digits: int) -> str:
    return ", ".join(f"{round(v, digits) + 0.0:+.{digits}f}" for v in values)


def _warm_up() -> None:
    """Compile and load what the first timed scan would otherwise pay for (numba, scipy)."""
    run_tdome(make_scenario(5, 4, 0))


if __name__ == "__main__":
    sys.exit(main())
