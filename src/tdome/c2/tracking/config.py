"""The tracker's configuration: one frozen dataclass that owns its defaults and its rules.

Interface::

    TrackerConfig(**fields)     defaults in SI units; raises ValueError on a value or a
                                combination the tracker cannot run (:meth:`TrackerConfig.__post_init__`)

The fields a scenario file may set are declared with
:func:`tdome.c2.config.setting` (one line of documentation, bounds, and the
name and unit in files), so the scenario schema builds its ``c2.tracker``
section from them and the simulator converts it back
(:func:`tdome.c2.config.from_file_values`): a new parameter is written once,
here.  The others are for code and studies.

Process noise: the configured ``q_*_mps2`` are acceleration standard
deviations σ_a; the spectral density of the white-noise acceleration model
is ``q = σ_a² · q_time_s`` (m²/s³), so σ_a is the RMS velocity change per
``q_time_s`` (1 s).  15 m/s² (≈ 1.5 g) follows the sustained turns of
aircraft and the dog-legs of cruise missiles without loss of gate at 1–10 s
revisits; the gate and the reset to the plot do the rest for short harder
manoeuvres.  Ballistic tracks (free-flight mean) take 2 m/s².
"""

from __future__ import annotations

from dataclasses import dataclass

from tdome.c2.config import ConfigError, check_choices, setting
from tdome.c2.tracking.plausibility import ThreatKinematics

MOTIONS = ("cv", "imm")
FILTERS = ("ekf", "ukf")
ASSOCIATIONS = ("gnn", "jpda")
INITIATIONS = ("m_of_n", "score")

# chi2.ppf(0.95, 6): the 95 % point of the 6-D state distance (tests/test_tracking_config.py checks it).
_CHI2_95_6 = 12.591587243743977


TrackerConfigError = ConfigError  # the C2's one configuration error, under the name the tracker's callers know


@dataclass(frozen=True)
class TrackerConfig:
    """Tracker parameters (SI units).  See the module docstring."""

    # --- set from scenario files (tdome.c2.config.setting: doc, bounds, file name and unit)
    confirm_m: int = setting(3, integer=True, ge=1, doc="M of M-of-N confirmation: plots needed to confirm a track.")
    confirm_n: int = setting(5, integer=True, ge=1, doc="N of M-of-N confirmation: scans in which the M plots must "
                                                         "fall; >= confirm_m.")
    confirm_max_speed_sigma_mps: float | None = setting(
        None, gt=0.0, optional=True,
        doc="A tentative track confirms only once its velocity is known to this standard deviation in every "
            "direction, m/s: two plots a second apart, or a coarse radar's, give a velocity too loose to test for "
            "plausibility or to classify, and further plots refine it first. Null: no bound (a track confirms with "
            "the velocity its plots give, and the plausibility test and the picture judge it with its covariance).")
    max_coast_s: float = setting(
        30.0, gt=0.0, doc="A confirmed track with no plot for this long is dropped, even where no radar could have "
                          "seen it (blind cones, gaps between coverages, out of all coverage), s.")
    delete_miss_probability: float | None = setting(
        1e-3, gt=0.0, lt=1.0, optional=True,
        doc="A confirmed track is dropped once its consecutive missed opportunities (scans of radars that cover it) "
            "are this unlikely for a target detected as often as it has been. Null: no such rule (max_coast_s "
            "only).")
    gate_probability: float = setting(0.9999, gt=0.0, lt=1.0, doc="Probability that a track's own plot falls inside "
                                                                   "its association gate (sets the gate size).")
    q_air_mps2: float = setting(15.0, gt=0.0, doc="Process noise of air-breathing tracks (acceleration), m/s².")
    q_ballistic_mps2: float = setting(2.0, gt=0.0, doc="Process noise of ballistic tracks (acceleration), m/s².")
    motion: str = setting(
        "cv", choices=MOTIONS,
        doc="Motion model. cv: constant velocity, free flight once a track is ballistic. imm: constant velocity, "
            "coordinated turn and a bounded (Singer) manoeuvre model mixed (IMM) once a track is confirmed; "
            "constant acceleration and free flight once ballistic. Works with either filter and association.")
    filter: str = setting("ekf", choices=FILTERS,
                          doc="Measurement update of motion 'cv', or of the IMM's models: extended or unscented "
                              "Kalman filter.")
    association: str = setting(
        "gnn", choices=ASSOCIATIONS,
        doc="Plot-to-track association. gnn: global nearest neighbour; jpda: confirmed tracks weigh every plot in "
            "their gates.")
    initiation: str = setting(
        "m_of_n", choices=INITIATIONS,
        doc="Track confirmation. m_of_n: confirm_m plots in confirm_n scans; score: sequential "
            "log-likelihood-ratio test.")
    pd: float = setting(0.8, gt=0.0, lt=1.0, doc="Probability of detection assumed by JPDA and the score test.")
    # false plots per m³ per scan, mapped into each scan's measurement space
    false_alarm_density_m3: float = setting(1e-15, file_name="false_alarm_density_per_km3", scale=1e-9, gt=0.0,
                                            doc="Assumed false plots per km³ per scan.")
    # score: density of new targets per m³ (the initial score is their ratio)
    new_target_density_m3: float = setting(1e-16, file_name="new_target_density_per_km3", scale=1e-9, gt=0.0,
                                           doc="Score test: assumed new targets per km³.")
    score_false_confirm_prob: float = setting(1e-4, gt=0.0, lt=0.5, doc="Score test: accepted probability of "
                                                                         "confirming a false track.")
    score_true_delete_prob: float = setting(0.01, gt=0.0, lt=0.5, doc="Score test: accepted probability of "
                                                                       "deleting a true track.")
    # ≈ 12 misses at P_D 0.8
    score_drop: float = setting(20.0, gt=0.0, doc="Score test: a confirmed track this far below its peak score "
                                                  "(log-likelihood ratio) is deleted.")
    drag_beta_min_kg_m2: float | None = setting(
        None, gt=0.0, optional=True,
        doc="Ballistic tracks: the lightest ballistic coefficient the free-flight filter should follow through the "
            "air, kg/m²: its process noise grows to the drag such an object would feel there, ρ v² / (2β), so that a "
            "decoy the air slows keeps its track (at the cost of noisier tracks on heavy warheads low down). Null: "
            "free flight with q_ballistic_mps2 all the way down.")
    plausibility_sigmas: float | None = setting(
        3.0, gt=0.0, optional=True,
        doc="Plausibility: a track whose kinematics leave the envelope of every catalog threat type and of aircraft "
            "(speed, climb and flight path by altitude band) by this many standard deviations is dropped, tentative "
            "or confirmed, and counted. Null: no test.")
    air_max_speed_mps: float = setting(
        350.0, gt=0.0, doc="Plausibility: the fastest aircraft that may fly in the area besides the catalog's "
                           "air-breathing threat types (civil and friendly traffic), m/s.")
    air_max_climb_mps: float = setting(
        300.0, gt=0.0, doc="Plausibility: the fastest climb of an air-breathing object, m/s (dives are not limited).")
    air_ceiling_m: float = setting(
        20000.0, gt=0.0, doc="Plausibility: the highest altitude of an air-breathing object (at least the catalog's "
                             "highest cruise altitude), m.")
    discrimination_beta_kg_m2: float | None = setting(
        2000.0, gt=0.0, optional=True,
        doc="Discrimination: a ballistic track whose estimated ballistic coefficient is below this, by "
            "discrimination_sigmas standard deviations, is a light object (a decoy) and is not engaged; kg/m². "
            "Null: no discrimination.")

    # --- for code and studies
    # Plausibility (tdome.c2.tracking.plausibility): the catalog's threat types as the C2 knows them; None: no
    # catalog, no test.  Speeds of the envelope times the margin, flight-path angles less the angle margin.
    threat_kinematics: tuple[ThreatKinematics, ...] | None = None
    plausibility_speed_margin: float = 1.15
    plausibility_angle_margin_rad: float = 0.05
    q_time_s: float = 1.0  # spectral density q = σ_a² · q_time_s (m²/s³)
    tentative_max_coast_s: float = 12.0
    init_speed_sigma_mps: float = 1200.0  # velocity σ of a one-plot track (gating only)
    min_init_dt_s: float = 0.5  # two-point differencing needs plots at least this far apart
    max_speed_mps: float = 5000.0  # velocity estimates above are refused
    min_alt_m: float = -500.0  # tracks 3σ below this altitude (impacted or nonsense) are deleted
    ballistic_min_alt_m: float = 25e3  # confirmed and above: ballistic
    ballistic_min_speed_mps: float = 1000.0  # or faster than this ...
    ballistic_min_vspeed_mps: float = 200.0  # ... with |vertical speed| above this
    ballistic_sigmas: float = 2.0  # each test must pass by this many standard deviations
    jpda_max_hypotheses: int = 1000  # loopy clusters with more joint events are solved by belief propagation
    slow_speed_mps: float = 120.0  # kinematic class: slower than this is slow (drone-like), faster is fast
    class_sigmas: float = 2.0  # ... decided when the speed clears the threshold by this many σ (otherwise kept)
    merge_d2: float = _CHI2_95_6  # 6-D state distance under which tracks are duplicates
    merge_checks: int = 3  # consecutive duplicate checks before the merge
    merge_radius_m: float = 20e3  # cap of the duplicate check's prefilter radius
    # GNN: the confirmed tracks take their plots first, the tentative ones the plots left (Stone Soup's order;
    # off: one assignment over all tracks; tdome.c2.tracking.association says what each order costs).
    gnn_confirmed_first: bool = False
    # Plots left in a confirmed track's gate start no track (off: after GNN such a plot is another object).
    suppress_init_in_gates: bool = False
    max_substep_s: float = 10.0  # RK4 sub-step of the ballistic prediction (one 10 s step errs by ~10 µm)
    # Discrimination (tdome.c2.tracking.discrimination): plots of ballistic tracks, or of tracks descending at
    # min_descent_mps or more, over the last window_s seconds, at least min_plots, below max_alt_m; light after
    # `votes` consecutive fits with the threshold sigmas below the estimate.
    discrimination_window_s: float = 10.0
    discrimination_min_plots: int = 5
    discrimination_sigmas: float = 4.0
    discrimination_votes: int = 2
    discrimination_max_alt_m: float = 100e3
    discrimination_min_descent_mps: float = 300.0  # or not ballistic, but descending at least this fast

    def __post_init__(self) -> None:
        """The rules on values and combinations, checked once, here (the scenario schema runs them too).

        Raises :class:`TrackerConfigError` (a ValueError) naming the field to change.
        """
        check_choices(self)
        if self.confirm_n < self.confirm_m:
            raise TrackerConfigError(f"must be >= confirm_m ({self.confirm_m}) for M-of-N confirmation", "confirm_n")
        if self.motion == "imm" and self.drag_beta_min_kg_m2 is not None:
            raise TrackerConfigError("works with motion 'cv' (the IMM's free-flight model keeps its own noise); "
                                     "use motion 'cv', or set it to null", "drag_beta_min_kg_m2")
        if self.filter == "ukf" and self.association == "jpda":
            raise TrackerConfigError("association 'jpda' updates with the linearised measurement; use filter 'ekf'")

    @property
    def q_air(self) -> float:
        """Spectral density (m²/s³) of the CV model."""
        return self.q_air_mps2**2 * self.q_time_s

    @property
    def q_ballistic(self) -> float:
        """Spectral density (m²/s³) about the free-flight model."""
        return self.q_ballistic_mps2**2 * self.q_time_s
