"""How the C2 core is configured: frozen dataclasses that own their defaults and their rules.

A field a scenario may set is declared with :func:`setting`: its default in
SI units, one line of documentation, its bounds, and the name and unit it has
in scenario files.  The scenario schema builds its C2 sections from these
declarations and the simulator turns a validated section back into the
dataclass (:func:`from_file_values`), so a new parameter is written once, where
the code that uses it reads it.  Rules on combinations live in each
dataclass's ``__post_init__`` and are checked once, there; the schema reports
their message at the section's path.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from tdome.messages import LAYERS, THREAT_CLASSES

SETTING = "tdome_setting"  # the key of a scenario-visible field's metadata


@dataclass(frozen=True)
class Setting:
    """What the scenario schema needs to offer a configuration field in files.

    ``file_name``: its name in scenario files when it differs (the unit in the
    name changes with the unit); ``scale``: one unit of the file's value in SI
    (1e3 for km); ``ge``/``gt``/``le``/``lt``: bounds in the file's unit;
    ``choices``: the allowed strings; ``keys``: a mapping with one entry per
    key (threat class, layer), ``key_doc`` its entries' documentation with
    ``{key}`` and ``{a}`` (the article) filled in; ``optional``: None is
    allowed, with the meaning the doc gives.
    """

    doc: str
    file_name: str | None = None
    scale: float = 1.0
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[str, ...] | None = None
    keys: tuple[str, ...] | None = None
    key_doc: str | None = None
    optional: bool = False
    integer: bool = False

    def __post_init__(self) -> None:
        if self.keys and self.scale != 1.0:
            raise ValueError("a setting with one entry per key takes no unit scale")

    def bounds(self) -> dict[str, float]:
        return {k: v for k in ("ge", "gt", "le", "lt") if (v := getattr(self, k)) is not None}


def setting(default: Any = dataclasses.MISSING, *, doc: str, default_factory: Any = dataclasses.MISSING,
            **how: Any) -> Any:
    """A dataclass field that scenario files may set (see :class:`Setting` for ``how``)."""
    meta = {SETTING: Setting(doc=doc, **how)}
    if default_factory is not dataclasses.MISSING:
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)


class ConfigError(ValueError):
    """A setting, or a combination of settings, the C2 cannot run; ``field`` is the one to change, if one is."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def check_choices(config: Any) -> None:
    """Every declared setting that names its choices holds one of them (raises :class:`ConfigError`).

    A setting with one entry per key holds one of them in every entry.
    """
    for f, s in file_settings(type(config)):
        if not s.choices:
            continue
        value = getattr(config, f.name)
        allowed = "must be " + " or ".join(repr(a) for a in s.choices)
        if s.keys:
            for key, v in value.items():
                if v not in s.choices:
                    raise ConfigError(f"{f.name} {v!r} for {key!r}: {allowed}", f.name)
        elif value not in s.choices:
            raise ConfigError(f"{f.name} {value!r}: {allowed}", f.name)


def file_settings(cls: type) -> list[tuple[dataclasses.Field, Setting]]:
    """The fields of the dataclass ``cls`` that scenario files may set, in declaration order."""
    return [(f, f.metadata[SETTING]) for f in dataclasses.fields(cls) if SETTING in f.metadata]


def default_of(f: dataclasses.Field) -> Any:
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def from_file_values(cls: type, values: dict[str, Any], **extra: Any) -> Any:
    """An instance of ``cls`` from a scenario section's values (file names and units), plus ``extra`` fields."""
    kw = dict(extra)
    for f, s in file_settings(cls):
        v = values[s.file_name or f.name]
        if v is not None and s.scale != 1.0:
            v = v * s.scale
        kw[f.name] = dict(v) if s.keys else v
    return cls(**kw)


# --------------------------------------------------------------------------- threat evaluation, doctrine, assignment


@dataclass(frozen=True)
class ThreatConfig:
    """Threat evaluation: which tracks endanger which assets (:mod:`tdome.c2.threat`)."""

    corridor_m: float = setting(3000.0, file_name="corridor_km", scale=1e3, ge=0.0,
                                doc="Margin about an asset's footprint, km: a predicted impact or projected path "
                                    "this close endangers it.")
    horizon_s: float = setting(900.0, gt=0.0, doc="How far ahead the paths of air-breathing tracks are projected, s.")
    min_track_updates: int = setting(3, integer=True, ge=1, doc="Tracks with fewer updates than this are not "
                                                                 "evaluated yet.")
    node_step_s: float = 10.0  # spacing of prediction nodes
    impact_sigmas: float = 2.0  # impact uncertainty added to the margin, in standard deviations
    max_impact_margin_m: float = 10_000.0  # cap on the uncertainty added to the margin
    confirm_cycles: int = 3  # consecutive evaluations endangering an asset before a threat may be engaged
    # Ballistic tracks whose energy range lies in this band could be a long-range
    # rocket or a short-range ballistic missile fired short: kinematics cannot tell.
    ambiguous_min_range_m: float = 180e3
    ambiguous_max_range_m: float = 320e3
    slow_speed_mps: float = 120.0  # air-breathing slower than this: drone
    # A track not yet flagged ballistic by the tracker is still predicted with gravity
    # when no air-breathing threat could fly like it: above this altitude, climb rate or speed.
    ballistic_like_alt_m: float = 15e3
    ballistic_like_vspeed_mps: float = 150.0
    ballistic_like_speed_mps: float = 600.0
    ballistic_like_climb_sigmas: float = 2.0  # ... the climb rate by this many standard deviations of its estimate
    aircraft_min_alt_m: float = 2000.0  # fast air-breathing above this: aircraft


DOCTRINE_MODES = ("shoot_look_shoot", "fire_all")
# Engagement authority of a layer: weapons free, each order waits for an operator's decision, or no fire at all.
AUTHORITIES = ("auto", "confirm", "hold")
# How the C2 nodes and the batteries fight together.  Not a setting of the C2 core: the simulator arranges the
# parts (one picture, separate fire units, fallback to autonomy) and the core runs in each of them.
ARCHITECTURES = ("integrated", "separate", "integrated_with_fallback")


@dataclass(frozen=True)
class DoctrineConfig:
    """Firing doctrine: when to fire, how many rounds, what to hold back (:mod:`tdome.c2.core`)."""

    mode: str = setting(
        "shoot_look_shoot", choices=DOCTRINE_MODES,
        doc="shoot_look_shoot: a threat with rounds in flight is engaged again only after the kill assessment; "
            "fire_all: every layer that can engage fires without waiting to look.")
    salvo: dict[str, int] = setting(
        default_factory=lambda: {"ballistic": 2, "rocket": 1, "cruise": 1, "drone": 1, "aircraft": 1},
        keys=THREAT_CLASSES, integer=True, ge=1, doc="Rounds per engagement for each threat class.",
        key_doc="Rounds fired in one engagement of {a} {key} threat.")
    max_shots_per_threat: int = setting(4, integer=True, ge=1, doc="Most rounds fired at one threat over the "
                                                                   "whole battle.")
    reserve_fraction: dict[str, float] = setting(
        default_factory=lambda: dict.fromkeys(LAYERS, 0.0), keys=LAYERS, ge=0.0, lt=1.0,
        doc="Per layer, the fraction of each battery's initial rounds held back for high-value threats.",
        key_doc="Fraction of each {key}-layer battery's initial rounds held back, 0 to < 1.")
    reserve_min_value: float = setting(0.0, ge=0.0, doc="Threats worth at least this many value points may use "
                                                        "the reserve.")
    reserve_until_s: float | None = setting(
        None, ge=0.0, optional=True,
        doc="Time the reserve is released, s (when no later wave is expected); null: held all battle.")
    cost_weight_per_musd: float = setting(
        0.5, ge=0.0, doc="Value points per million US dollars of interceptor cost in the assignment (0: cost "
                         "ignored).")
    kill_assessment_s: float = setting(6.0, ge=0.0, doc="Time after the intercept at which the kill is assessed "
                                                        "from the tracks, s.")
    status_timeout_s: float = setting(
        10.0, gt=0.0, doc="A battery whose latest status report is older than this is out of contact: it is not "
                          "given orders until it reports again, s.")
    order_timeout_s: float = setting(
        15.0, gt=0.0, doc="A fire order the battery has not reported received this long after it went out is "
                          "presumed lost and its threat open to engagement again, s; longer than a round trip "
                          "over the network.")
    authority: dict[str, str] = setting(
        default_factory=lambda: dict.fromkeys(LAYERS, "auto"), keys=LAYERS, choices=AUTHORITIES,
        doc="Engagement authority per layer: auto (weapons free: orders go out at once), confirm (each order waits "
            "for an operator's decision; see operators) or hold (the layer does not fire).",
        key_doc="Engagement authority of the {key} layer: auto, confirm or hold.")
    emcon_time_to_go_s: float | None = setting(
        None, gt=0.0, optional=True,
        doc="Emission control: a radar that is a defended asset (a radar given a value) is ordered silent when a "
            "track is assessed to reach it within this time, s; null: radars are never ordered silent.")
    emcon_hold_s: float = setting(
        60.0, gt=0.0, doc="How long a radar ordered silent keeps silent after the last threat assessed inbound on "
                          "it, s.")

    def __post_init__(self) -> None:
        check_choices(self)


SOLVER_NAMES = ("greedy", "local_search", "exact")  # tdome.c2.assign.SOLVERS
OBJECTIVES = ("target", "asset")
SOLVER_DEADLINE_S = 10.0  # a solve's time without a limit set: exact's budget, the heuristics' safety deadline


@dataclass(frozen=True)
class AssignmentConfig:
    """Weapon-target assignment: solver, objective and its time budget per C2 cycle (:mod:`tdome.c2.assign`)."""

    solver: str = setting(
        "local_search", choices=SOLVER_NAMES,
        doc="greedy: marginal return only; local_search: greedy then local search; exact: HiGHS mixed-integer "
            "programme with a proven gap (objective 'target' only).")
    objective: str = setting(
        "target", choices=OBJECTIVES,
        doc="target: minimise the expected surviving threat value; asset: maximise the expected surviving asset "
            "value.")
    time_limit_s: float | None = setting(
        None, gt=0.0, optional=True,
        doc="Solver time budget per C2 cycle, s; null: the heuristics run to their own end (the same result on "
            "any machine, within the safety deadline) and exact gets 10 s.")
    lethality: float = setting(0.9, gt=0.0, le=1.0, doc="Objective 'asset': probability that a threat that "
                                                          "arrives destroys its asset.")
    # Without a time limit the heuristics run to their own end, but never past this deadline: a
    # solve that reaches it is cut and reported (Assignment.timed_out).
    deadline_s: float = SOLVER_DEADLINE_S

    def __post_init__(self) -> None:
        check_choices(self)
        if self.solver == "exact" and self.objective == "asset":
            raise ConfigError("solver 'exact' handles objective 'target' only; "
                             "use solver 'local_search' or 'greedy' with objective 'asset'")

    @property
    def time_budget_s(self) -> float:
        """The time a solve may take: its limit, never beyond the safety deadline."""
        return self.deadline_s if self.time_limit_s is None else min(self.time_limit_s, self.deadline_s)


# --------------------------------------------------------------------------- registration

REGISTRATION_MODES = ("off", "correct")
_DEG = 0.017453292519943295  # one degree in radians (math.radians(1.0))


@dataclass(frozen=True)
class RegistrationConfig:
    """Sensor registration: each radar's systematic errors estimated online (:mod:`tdome.c2.tracking.registration`).

    The prior standard deviations are the C2's belief of how far a radar as
    installed may be off; they anchor what radar pairs cannot tell apart (a
    common clock offset, a bias shared by every radar), so they are also the
    uncertainty that remains there.
    """

    mode: str = setting(
        "off", choices=REGISTRATION_MODES,
        doc="off: plots go to the tracker as the radars stamped them; correct: each radar's range, azimuth, "
            "elevation and clock offsets are estimated online from the objects several radars see, and every "
            "scan's plots are corrected by the estimate before the tracker sees them.")
    range_sigma_m: float = setting(200.0, gt=0.0, doc="Prior standard deviation of each radar's range offset, m.")
    az_sigma_rad: float = setting(0.3 * _DEG, file_name="az_sigma_deg", scale=_DEG, gt=0.0,
                                  doc="Prior standard deviation of each radar's azimuth offset, degrees.")
    el_sigma_rad: float = setting(0.1 * _DEG, file_name="el_sigma_deg", scale=_DEG, gt=0.0,
                                  doc="Prior standard deviation of each radar's elevation offset, degrees.")
    clock_sigma_s: float = setting(0.5, gt=0.0, doc="Prior standard deviation of each radar's clock offset, s.")
    max_pair_gap_s: float = setting(
        5.0, gt=0.0, doc="Two radars' plots of one object are compared only when they are at most this far apart "
                         "in time, s (its track's velocity carries one to the other's time).")
    # --- for code and studies
    gate_probability: float = 0.999  # a pair whose discrepancy falls outside this gate is refused (misassociation)
    max_pairs_per_scan: int = 64  # the pairs one scan contributes at most (the cost of an update stays bounded)
    reference_sigma_m: float = 30.0  # position error of a reference report (ADS-B, GNSS), each axis, m
    reference_gate_m: float = 2000.0  # a plot this close to a reference report's position may be that object
    # How far each offset may wander, per square root of an hour (a random walk: the estimate forgets slowly what
    # it learnt long ago, and its σ never claims more than the offsets' own stability).
    range_drift_m: float = 10.0
    az_drift_rad: float = 0.01 * _DEG
    el_drift_rad: float = 0.01 * _DEG
    clock_drift_s: float = 0.01

    def __post_init__(self) -> None:
        check_choices(self)

