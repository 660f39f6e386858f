"""The scenario schema: one YAML file is the whole experiment.

Every model forbids unknown fields, so a typo is an error rather than a
silently ignored setting.  Units follow the field names: ``lat``/``lon`` and
``*_deg`` in degrees, ``*_km`` in kilometres, ``*_m`` in metres, ``*_s`` in
seconds, ``*_mps`` in metres per second.  The simulator converts to SI once
(:mod:`tdome.sim.build`).

Validation runs in two stages.  Pydantic checks each field on its own (type,
bounds, required, unknown keys); then :meth:`Scenario.problems` checks what
needs the whole file: catalog names, asset names in ``aim``, duplicate names,
battery layer against interceptor layer, ballistic range, and so on.  The
loader (:mod:`tdome.scenario.loader`) turns both into one
:class:`~tdome.scenario.loader.ScenarioError` naming the file, the field path
and the offending value.  Constructing a :class:`Scenario` directly runs both
stages too and raises a pydantic ``ValidationError`` listing the problems.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator
from typing import Annotated, Any, Literal, NamedTuple, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    StringConstraints,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tdome import geo
from tdome.messages import LAYERS, THREAT_CLASSES

ThreatClass = Literal["ballistic", "rocket", "cruise", "drone", "aircraft"]
Layer = Literal["upper", "mid", "lower", "short"]
AssetKind = Literal["city", "industry", "air_base", "power_plant", "port", "military", "government"]
RadarRole = Literal["early_warning", "fire_control", "surveillance"]

BALLISTIC_CLASSES = ("ballistic", "rocket")
AIR_BREATHING_CLASSES = ("cruise", "drone", "aircraft")

assert THREAT_CLASSES == ("ballistic", "rocket", "cruise", "drone", "aircraft")
assert LAYERS == ("upper", "mid", "lower", "short")

# Context key the loader passes to defer the whole-file checks to itself.
DEFER_CHECKS = "tdome_defer_scenario_checks"
# Margin (degrees) around everything in the scenario for the default map extent.
EXTENT_MARGIN_DEG = 0.5


# --------------------------------------------------------------------------- field types


def _reject_bool(v: Any) -> Any:
    # YAML turns `yes`/`no`/`on`/`off` into booleans; a number field must not take them as 1/0.
    if isinstance(v, bool):
        raise ValueError("must be a number, not true/false")
    return v


def Num(**bounds: float) -> Any:  # noqa: N802 - a type factory
    """A finite float with optional ``ge``/``gt``/``le``/``lt`` bounds; booleans rejected."""
    return Annotated[float, BeforeValidator(_reject_bool), Field(**bounds)]


def Int(**bounds: int) -> Any:  # noqa: N802 - a type factory
    """An integer with optional bounds; booleans rejected."""
    return Annotated[int, BeforeValidator(_reject_bool), Field(**bounds)]


def _check_lat(v: float) -> float:
    if not -90.0 <= v <= 90.0:
        raise ValueError("latitude must be in [-90, 90] degrees")
    return v


def _check_lon(v: float) -> float:
    if not -180.0 <= v <= 180.0:
        raise ValueError("longitude must be in [-180, 180] degrees")
    return v


Lat = Annotated[float, BeforeValidator(_reject_bool), AfterValidator(_check_lat)]
Lon = Annotated[float, BeforeValidator(_reject_bool), AfterValidator(_check_lon)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Source = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Probability = Num(ge=0.0, le=1.0)
# A polygon vertex [lat, lon]; dumped as a list so the YAML stays plain.
LatLonPair = Annotated[tuple[Lat, Lon], PlainSerializer(list, return_type=list)]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


class _Frozen(_Model):
    model_config = ConfigDict(frozen=True)


def _gt_field(other: str, v: float, info: ValidationInfo, what: str = "") -> float:
    """Field-validator helper: ``v`` must exceed the (already validated) field ``other``."""
    lo = info.data.get(other)
    if lo is not None and not v > lo:
        raise ValueError(f"must be > {other} ({_num(lo)}){what}")
    return v


def _num(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


# --------------------------------------------------------------------------- catalog types


class ThreatType(_Frozen):
    """A kind of threat: its class, kinematics, signature, lethality and cost."""

    class_: ThreatClass = Field(alias="class")
    speed_mps: Num(gt=0.0)  # cruise speed (air-breathing); nominal only for ballistic/rocket
    cruise_alt_m: Num(ge=0.0) | None = Field(default=None, validate_default=True)  # air-breathing only
    gamma_deg: Num(gt=0.0, lt=90.0) | None = None  # launch flight-path angle; None = minimum energy
    max_range_km: Num(gt=0.0)
    rcs_m2: Num(gt=0.0)
    lethal_radius_m: Num(gt=0.0)
    cost_usd: Num(ge=0.0)
    description: str = ""
    source: Source

    @field_validator("cruise_alt_m")
    @classmethod
    def _cruise_alt(cls, v: float | None, info: ValidationInfo) -> float | None:
        c = info.data.get("class_")
        if c in AIR_BREATHING_CLASSES and v is None:
            raise ValueError(f"required for air-breathing class '{c}' (cruise altitude in m)")
        if c in BALLISTIC_CLASSES and v is not None:
            raise ValueError(f"only for air-breathing classes ({', '.join(AIR_BREATHING_CLASSES)}); "
                             f"remove it for class '{c}'")
        return v

    @field_validator("gamma_deg")
    @classmethod
    def _gamma(cls, v: float | None, info: ValidationInfo) -> float | None:
        c = info.data.get("class_")
        if c in AIR_BREATHING_CLASSES and v is not None:
            raise ValueError(f"only for ballistic/rocket classes; remove it for class '{c}'")
        return v

    @property
    def is_ballistic(self) -> bool:
        """Ballistic or rocket: flies a free-flight trajectory, no waypoints."""
        return self.class_ in BALLISTIC_CLASSES


class RadarType(_Frozen):
    """A kind of radar: coverage volume, update rate, accuracy and detection performance."""

    role: RadarRole
    min_range_km: Num(ge=0.0) = 0.0
    max_range_km: Num(gt=0.0)
    revisit_s: Num(gt=0.0)
    sigma_range_m: Num(gt=0.0)
    sigma_az_deg: Num(gt=0.0)
    sigma_el_deg: Num(gt=0.0)
    sigma_rdot_mps: Num(gt=0.0) | None = None  # None: no range rate reported
    sector_deg: Num(gt=0.0, le=360.0) = 360.0  # 360 = rotating/full coverage
    boresight_deg: Num(ge=0.0, lt=360.0) = 0.0  # sector centre, azimuth from north (overridable per radar)
    min_el_deg: Num(ge=-90.0, le=90.0) = 0.0
    max_el_deg: Num(ge=-90.0, le=90.0) = 90.0
    snr_ref_db: Num()  # SNR for a 1 m² target at ref_range_km
    ref_range_km: Num(gt=0.0)
    pfa: Num(gt=0.0, lt=1.0) = 1e-6
    false_alarms_per_scan: Num(ge=0.0) = 0.0  # expected clutter plots per scan over the coverage
    description: str = ""
    source: Source

    @field_validator("max_range_km")
    @classmethod
    def _max_range(cls, v: float, info: ValidationInfo) -> float:
        return _gt_field("min_range_km", v, info)

    @field_validator("max_el_deg")
    @classmethod
    def _max_el(cls, v: float, info: ValidationInfo) -> float:
        return _gt_field("min_el_deg", v, info)


class PkTable(_Frozen):
    """Single-shot kill probability against each threat class (0 = cannot engage)."""

    ballistic: Probability
    rocket: Probability
    cruise: Probability
    drone: Probability
    aircraft: Probability

    def as_dict(self) -> dict[str, float]:
        return {c: getattr(self, c) for c in THREAT_CLASSES}


class InterceptorType(_Frozen):
    """A kind of interceptor: its layer, engagement envelope, kill probability and cost."""

    layer: Layer
    speed_mps: Num(gt=0.0)  # average flyout speed
    min_range_km: Num(ge=0.0)
    max_range_km: Num(gt=0.0)
    min_alt_km: Num(ge=0.0)
    max_alt_km: Num(gt=0.0)
    reaction_s: Num(ge=0.0)  # order to launch
    pk: PkTable
    cost_usd: Num(ge=0.0)
    homing_basket_m: Num(ge=0.0)  # true target within this of the aim point at intercept is homed on
    description: str = ""
    source: Source

    @field_validator("max_range_km")
    @classmethod
    def _max_range(cls, v: float, info: ValidationInfo) -> float:
        return _gt_field("min_range_km", v, info)

    @field_validator("max_alt_km")
    @classmethod
    def _max_alt(cls, v: float, info: ValidationInfo) -> float:
        return _gt_field("min_alt_km", v, info)

    @field_validator("pk")
    @classmethod
    def _pk_any(cls, v: PkTable) -> PkTable:
        if not any(p > 0.0 for p in v.as_dict().values()):
            raise ValueError("at least one threat class must have pk > 0")
        return v

    def can_engage(self, threat_class: str) -> bool:
        return self.pk.as_dict().get(threat_class, 0.0) > 0.0


class Catalog(_Model):
    """Named types; a scenario's ``catalog`` extends and overrides the built-in one."""

    threats: dict[Name, ThreatType] = Field(default_factory=dict)
    radars: dict[Name, RadarType] = Field(default_factory=dict)
    interceptors: dict[Name, InterceptorType] = Field(default_factory=dict)

    def merged(self, override: Catalog) -> Catalog:
        """This catalog with ``override``'s entries added or replacing same-named ones."""
        return Catalog(
            threats={**self.threats, **override.threats},
            radars={**self.radars, **override.radars},
            interceptors={**self.interceptors, **override.interceptors},
        )


# --------------------------------------------------------------------------- geometry pieces


class Region(_Model):
    """Map extent in degrees."""

    lat_min: Lat
    lat_max: Lat
    lon_min: Lon
    lon_max: Lon

    @field_validator("lat_max")
    @classmethod
    def _lat(cls, v: float, info: ValidationInfo) -> float:
        return _gt_field("lat_min", v, info)

    @field_validator("lon_max")
    @classmethod
    def _lon(cls, v: float, info: ValidationInfo) -> float:
        return _gt_field("lon_min", v, info)


class LatLon(_Model):
    """A point in degrees."""

    lat: Lat
    lon: Lon


class LaunchArea(_Model):
    """Launch points are drawn uniformly in this disc."""

    lat: Lat
    lon: Lon
    radius_km: Num(ge=0.0) = 0.0


# --------------------------------------------------------------------------- defended side


class Asset(_Model):
    """A defended asset: a point with an extent, or a polygon."""

    name: Name
    kind: AssetKind
    value: Num(gt=0.0)  # value points
    lat: Lat | None = None  # required unless polygon; polygon centroid otherwise
    lon: Lon | None = None
    polygon: Annotated[list[LatLonPair], Field(min_length=3)] | None = None
    radius_km: Num(ge=0.0) = 0.0

    @model_validator(mode="after")
    def _position(self) -> Asset:
        if (self.lat is None) != (self.lon is None):
            raise ValueError(f"asset '{self.name}': give both lat and lon (degrees), or neither with a polygon")
        if self.lat is None:
            if not self.polygon:
                raise ValueError(f"asset '{self.name}': needs lat and lon (degrees), "
                                 "or a polygon of >= 3 [lat, lon] vertices")
            self.lat, self.lon = polygon_centroid(self.polygon)
        return self


class Radar(_Model):
    """A radar site."""

    name: Name
    type: Name  # a radar catalog name
    lat: Lat
    lon: Lon
    alt_m: Num(ge=-500.0, le=50_000.0) = 0.0
    boresight_az_deg: Num(ge=0.0, lt=360.0) | None = None  # sector radars: overrides the type's centre


class Battery(_Model):
    """A fire unit of one layer: launchers, a magazine and one interceptor type."""

    name: Name
    layer: Layer
    interceptor: Name  # an interceptor catalog name; its layer must equal ``layer``
    lat: Lat
    lon: Lon
    alt_m: Num(ge=-500.0, le=50_000.0) = 0.0
    launchers: Int(ge=1)
    rounds_per_launcher: Int(ge=1)
    magazine: Int(ge=0)  # total rounds, loaded ones included
    reload_time_s: Num(ge=0.0)

    @property
    def initial_loaded(self) -> int:
        """Rounds on the launchers at the start (the magazine may not fill them all)."""
        return min(self.magazine, self.launchers * self.rounds_per_launcher)


# --------------------------------------------------------------------------- raid


def _aim_tag(v: Any) -> str | None:
    if isinstance(v, str):
        return "asset"
    if isinstance(v, (dict, LatLon)):
        return "point"
    return None


Aim = Annotated[
    Union[Annotated[Name, Tag("asset")], Annotated[LatLon, Tag("point")]],
    Discriminator(
        _aim_tag,
        custom_error_type="aim_type",
        custom_error_message="must be an asset name or a mapping {lat, lon}",
    ),
]


class ThreatGroup(_Model):
    """``count`` threats of one type from one launch area at one aim point."""

    threat: Name  # a threat catalog name
    count: Int(ge=1)
    launch: LaunchArea
    aim: Aim  # an asset name, or {lat, lon}
    aim_spread_km: Num(ge=0.0) = 0.0  # 2-D Gaussian sigma of the aim points about the aim
    via: list[LatLon] = Field(default_factory=list)  # waypoints, air-breathing threats only
    label: str = ""

    @property
    def aim_asset(self) -> str | None:
        """The asset named as the aim, or None for an explicit point."""
        return self.aim if isinstance(self.aim, str) else None


class Wave(_Model):
    """Groups launched together, uniformly over [start_s, start_s + spread_s]."""

    name: Name
    start_s: Num(ge=0.0)
    spread_s: Num(ge=0.0) = 0.0
    groups: Annotated[list[ThreatGroup], Field(min_length=1)]


class Raid(_Model):
    waves: Annotated[list[Wave], Field(min_length=1)]


# --------------------------------------------------------------------------- C2 configuration


class TrackerSettings(_Model):
    confirm_m: Int(ge=1) = 3
    confirm_n: Int(ge=1) = 5  # M-of-N confirmation, n >= m
    max_coast_s: Num(gt=0.0) = 20.0
    gate_probability: Num(gt=0.0, lt=1.0) = 0.9999
    q_air_mps2: Num(gt=0.0) = 15.0
    q_ballistic_mps2: Num(gt=0.0) = 2.0
    # cv: constant velocity, free flight once a track is ballistic; imm: constant velocity, coordinated
    # turn and constant acceleration mixed (IMM), constant acceleration and free flight once ballistic
    motion: Literal["cv", "imm"] = "cv"
    filter: Literal["ekf", "ukf"] = "ekf"  # measurement update of motion 'cv'
    # gnn: global nearest neighbour; jpda: confirmed tracks weigh every plot in their gates
    association: Literal["gnn", "jpda"] = "gnn"
    # m_of_n: confirm_m hits in confirm_n opportunities; score: sequential log-likelihood-ratio test
    initiation: Literal["m_of_n", "score"] = "m_of_n"
    pd: Num(gt=0.0, lt=1.0) = 0.8  # detection probability JPDA and the score assume
    false_alarm_density_per_km3: Num(gt=0.0) = 1e-6  # false plots per km³ per scan
    new_target_density_per_km3: Num(gt=0.0) = 1e-7  # score: new targets per km³
    score_false_confirm_prob: Num(gt=0.0, lt=0.5) = 1e-4
    score_true_delete_prob: Num(gt=0.0, lt=0.5) = 0.01
    score_drop: Num(gt=0.0) = 20.0  # a confirmed track this far below its peak score is deleted

    @model_validator(mode="after")
    def _combinations(self) -> TrackerSettings:
        if self.motion == "imm" and self.association == "jpda":
            raise ValueError("motion 'imm' works with association 'gnn'; use motion 'cv' with 'jpda'")
        if self.motion == "imm" and self.filter == "ukf":
            raise ValueError("motion 'imm' updates its models by iterated EKF; use filter 'ekf' with 'imm'")
        if self.filter == "ukf" and self.association == "jpda":
            raise ValueError("association 'jpda' updates with the linearised measurement; use filter 'ekf'")
        return self

    @field_validator("confirm_n")
    @classmethod
    def _n_ge_m(cls, v: int, info: ValidationInfo) -> int:
        m = info.data.get("confirm_m")
        if m is not None and v < m:
            raise ValueError(f"must be >= confirm_m ({m}) for M-of-N confirmation")
        return v


class ThreatSettings(_Model):
    corridor_km: Num(ge=0.0) = 3.0
    horizon_s: Num(gt=0.0) = 900.0
    min_track_updates: Int(ge=1) = 3


class SalvoSettings(_Model):
    """Rounds per engagement for each threat class."""

    ballistic: Int(ge=1) = 2
    rocket: Int(ge=1) = 1
    cruise: Int(ge=1) = 1
    drone: Int(ge=1) = 1
    aircraft: Int(ge=1) = 1


class ReserveSettings(_Model):
    """Fraction of each layer's rounds held back for high-value threats."""

    upper: Num(ge=0.0, lt=1.0) = 0.0
    mid: Num(ge=0.0, lt=1.0) = 0.0
    lower: Num(ge=0.0, lt=1.0) = 0.0
    short: Num(ge=0.0, lt=1.0) = 0.0


class DoctrineSettings(_Model):
    mode: Literal["shoot_look_shoot", "fire_all"] = "shoot_look_shoot"
    salvo: SalvoSettings = Field(default_factory=SalvoSettings)
    max_shots_per_threat: Int(ge=1) = 4
    reserve_fraction: ReserveSettings = Field(default_factory=ReserveSettings)
    reserve_min_value: Num(ge=0.0) = 0.0  # threats worth at least this may dip into the reserve
    # the reserve is released at this time (s): when no later wave is expected; held all battle if omitted
    reserve_until_s: Union[Num(ge=0.0), None] = None
    cost_weight_per_musd: Num(ge=0.0) = 0.5  # value points per million USD of interceptor cost
    kill_assessment_s: Num(ge=0.0) = 6.0


class AssignmentSettings(_Model):
    """Weapon-target assignment: solver, objective and its time budget per C2 cycle."""

    # greedy: marginal return only; local_search: greedy then local search (default);
    # exact: HiGHS mixed-integer programme with a proven gap (target objective only)
    solver: Literal["greedy", "local_search", "exact"] = "local_search"
    # target: minimise expected surviving threat value; asset: maximise expected surviving asset value
    objective: Literal["target", "asset"] = "target"
    # per cycle; if omitted the heuristics run to their own end (the same result on any machine), exact 10 s
    time_limit_s: Union[Num(gt=0.0), None] = None
    lethality: Num(gt=0.0, le=1.0) = 0.9  # asset objective: chance a threat that arrives destroys its asset

    @model_validator(mode="after")
    def _solver_objective(self) -> AssignmentSettings:
        if self.solver == "exact" and self.objective == "asset":
            raise ValueError("solver 'exact' handles objective 'target' only; "
                             "use solver 'local_search' or 'greedy' with objective 'asset'")
        return self


class C2Settings(_Model):
    cycle_s: Num(gt=0.0) = 1.0
    tracker: TrackerSettings = Field(default_factory=TrackerSettings)
    threat: ThreatSettings = Field(default_factory=ThreatSettings)
    doctrine: DoctrineSettings = Field(default_factory=DoctrineSettings)
    assignment: AssignmentSettings = Field(default_factory=AssignmentSettings)


class SimSettings(_Model):
    """How the simulator runs the scenario (not part of the defended system)."""

    # full: the C2 tracks radar plots.  perfect_picture: the C2 is handed the true
    # state of every threat a radar has detected, so a study can separate the
    # effect of tracking from the effect of assignment; every output says so.
    fidelity: Literal["full", "perfect_picture"] = "full"


# --------------------------------------------------------------------------- the scenario


_MISSING = object()


class Problem(NamedTuple):
    """A whole-file problem: the field path (YAML keys and list indices), what is wrong, the value."""

    path: tuple[str | int, ...]
    message: str
    value: Any = _MISSING

    @property
    def has_value(self) -> bool:
        return self.value is not _MISSING


class Scenario(_Model):
    """A complete experiment: the defended side, the raid, the C2 settings and the seed."""

    name: Name
    description: str = ""
    seed: Int(ge=0)
    duration_s: Num(gt=0.0)
    region: Region | None = None  # map extent; see :attr:`extent` for the computed default
    catalog: Catalog = Field(default_factory=Catalog)
    assets: Annotated[list[Asset], Field(min_length=1)]
    radars: Annotated[list[Radar], Field(min_length=1)]
    batteries: list[Battery] = Field(default_factory=list)
    raid: Raid
    c2: C2Settings = Field(default_factory=C2Settings)
    sim: SimSettings = Field(default_factory=SimSettings)

    @model_validator(mode="after")
    def _whole_file(self, info: ValidationInfo) -> Scenario:
        if (info.context or {}).get(DEFER_CHECKS):
            return self
        problems = self.problems()
        if problems:
            raise ValueError("\n".join(format_problem(p) for p in problems))
        return self

    # ---- resolved view for the simulator

    @property
    def resolved_catalog(self) -> Catalog:
        """The built-in catalog extended/overridden by this file's ``catalog``."""
        from tdome.scenario.catalog import builtin_catalog

        return builtin_catalog().merged(self.catalog)

    @property
    def threat_types(self) -> dict[str, ThreatType]:
        from tdome.scenario.catalog import builtin_catalog

        return {**builtin_catalog().threats, **self.catalog.threats}

    @property
    def radar_types(self) -> dict[str, RadarType]:
        from tdome.scenario.catalog import builtin_catalog

        return {**builtin_catalog().radars, **self.catalog.radars}

    @property
    def interceptor_types(self) -> dict[str, InterceptorType]:
        from tdome.scenario.catalog import builtin_catalog

        return {**builtin_catalog().interceptors, **self.catalog.interceptors}

    @property
    def assets_by_name(self) -> dict[str, Asset]:
        return {a.name: a for a in self.assets}

    def aim_point(self, group: ThreatGroup) -> tuple[float, float]:
        """The group's aim point (lat_deg, lon_deg): the named asset's position or the given point."""
        if isinstance(group.aim, str):
            a = self.assets_by_name[group.aim]
            return float(a.lat), float(a.lon)
        return float(group.aim.lat), float(group.aim.lon)

    def groups(self) -> Iterator[tuple[Wave, ThreatGroup]]:
        """Every (wave, group) of the raid in file order."""
        for w in self.raid.waves:
            for g in w.groups:
                yield w, g

    @property
    def threat_count(self) -> int:
        return sum(g.count for _, g in self.groups())

    def threat_counts_by_class(self) -> dict[str, int]:
        types = self.threat_types
        out = dict.fromkeys(THREAT_CLASSES, 0)
        for _, g in self.groups():
            out[types[g.threat].class_] += g.count
        return out

    @property
    def extent(self) -> Region:
        """``region`` if given, else a box around everything in the scenario with a margin."""
        if self.region is not None:
            return self.region
        lats: list[float] = []
        lons: list[float] = []
        pad: list[float] = []  # extra radius (deg of latitude) per point

        def add(lat: float, lon: float, radius_km: float = 0.0) -> None:
            lats.append(lat)
            lons.append(lon)
            pad.append(min(radius_km / 111.195, 90.0))

        for a in self.assets:
            add(a.lat, a.lon, a.radius_km)
            for lat, lon in a.polygon or []:
                add(lat, lon)
        for r in self.radars:
            add(r.lat, r.lon)
        for b in self.batteries:
            add(b.lat, b.lon)
        names = self.assets_by_name
        for _, g in self.groups():
            add(g.launch.lat, g.launch.lon, g.launch.radius_km)
            for w in g.via:
                add(w.lat, w.lon)
            if not isinstance(g.aim, str):
                add(g.aim.lat, g.aim.lon, g.aim_spread_km)
            elif g.aim in names:
                add(names[g.aim].lat, names[g.aim].lon, g.aim_spread_km)
        m = EXTENT_MARGIN_DEG
        lat_min = max(-90.0, min(la - p for la, p in zip(lats, pad)) - m)
        lat_max = min(90.0, max(la + p for la, p in zip(lats, pad)) + m)
        coslat = max(math.cos(math.radians(max(abs(lat_min), abs(lat_max)))), 1e-3)
        lon_min = max(-180.0, min(lo - p / coslat for lo, p in zip(lons, pad)) - m)
        lon_max = min(180.0, max(lo + p / coslat for lo, p in zip(lons, pad)) + m)
        return Region.model_construct(lat_min=lat_min, lat_max=lat_max, lon_min=lon_min, lon_max=lon_max)

    def to_yaml(self) -> str:
        """This scenario as YAML that loads back to an equal scenario."""
        import yaml

        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)

    # ---- whole-file checks

    def problems(self) -> list[Problem]:
        """Everything wrong that single-field validation cannot see; empty when the scenario is sound."""
        out: list[Problem] = []
        for section, items in (("assets", self.assets), ("radars", self.radars), ("batteries", self.batteries)):
            first: dict[str, int] = {}
            for i, item in enumerate(items):
                if item.name in first:
                    out.append(Problem((section, i, "name"),
                                       f"duplicate name; already used by {section}[{first[item.name]}] "
                                       "(names must be unique)", item.name))
                else:
                    first[item.name] = i

        radar_types = self.radar_types
        for i, r in enumerate(self.radars):
            if r.type not in radar_types:
                out.append(Problem(("radars", i, "type"), _unknown("radar type", r.type, radar_types), r.type))

        interceptor_types = self.interceptor_types
        for i, b in enumerate(self.batteries):
            it = interceptor_types.get(b.interceptor)
            if it is None:
                out.append(Problem(("batteries", i, "interceptor"),
                                   _unknown("interceptor type", b.interceptor, interceptor_types), b.interceptor))
            elif it.layer != b.layer:
                out.append(Problem(("batteries", i, "layer"),
                                   f"does not match the layer of interceptor '{b.interceptor}' ('{it.layer}'); "
                                   f"set layer: {it.layer}, or pick a '{b.layer}' interceptor "
                                   f"({', '.join(n for n, t in interceptor_types.items() if t.layer == b.layer) or 'none'})",
                                   b.layer))

        threat_types = self.threat_types
        assets = self.assets_by_name
        for wi, wave in enumerate(self.raid.waves):
            wpath: tuple[str | int, ...] = ("raid", "waves", wi)
            if wave.start_s >= self.duration_s:
                out.append(Problem(wpath + ("start_s",),
                                   f"must be < duration_s ({_num(self.duration_s)}); this wave would never launch",
                                   wave.start_s))
            for gi, g in enumerate(wave.groups):
                gpath = wpath + ("groups", gi)
                tt = threat_types.get(g.threat)
                if tt is None:
                    out.append(Problem(gpath + ("threat",), _unknown("threat type", g.threat, threat_types), g.threat))
                aim: tuple[float, float] | None = None
                if isinstance(g.aim, str):
                    if g.aim in assets:
                        aim = self.aim_point(g)
                    else:
                        out.append(Problem(gpath + ("aim",),
                                           _unknown("asset", g.aim, assets, noun="assets")
                                           + "; or give an aim point {lat, lon}", g.aim))
                else:
                    aim = (g.aim.lat, g.aim.lon)
                if tt is None:
                    continue
                if tt.is_ballistic and g.via:
                    out.append(Problem(gpath + ("via",),
                                       f"waypoints are for air-breathing threats only; '{g.threat}' is a "
                                       f"{tt.class_} threat (remove via)", [w.model_dump() for w in g.via]))
                if aim is None or (tt.is_ballistic and g.via):
                    continue
                pts = [(g.launch.lat, g.launch.lon)] + [(w.lat, w.lon) for w in g.via] + [aim]
                route_km = sum(_distance_km(a, b) for a, b in zip(pts, pts[1:]))
                worst_km = route_km + g.launch.radius_km
                if worst_km > tt.max_range_km:
                    what = "launch to aim" if len(pts) == 2 else "route launch → via → aim"
                    plus = f" + {_num(g.launch.radius_km)} km launch radius" if g.launch.radius_km else ""
                    out.append(Problem(gpath + ("aim",),
                                       f"target out of range: {what} is {route_km:.1f} km{plus}, beyond "
                                       f"max_range_km = {_num(tt.max_range_km)} of threat type '{g.threat}'; "
                                       "move the launch area closer or aim nearer",
                                       g.aim if isinstance(g.aim, str) else g.aim.model_dump()))
        return out


# --------------------------------------------------------------------------- helpers


def polygon_centroid(poly: list[tuple[float, float]]) -> tuple[float, float]:
    """Area centroid of a small lat/lon polygon (local flat approximation); vertex mean if degenerate."""
    lat0 = sum(p[0] for p in poly) / len(poly)
    lon0 = sum(p[1] for p in poly) / len(poly)
    c = math.cos(math.radians(lat0))
    xs = [(p[1] - lon0) * c for p in poly]
    ys = [p[0] - lat0 for p in poly]
    a = cx = cy = 0.0
    for i in range(len(poly)):
        j = (i + 1) % len(poly)
        cross = xs[i] * ys[j] - xs[j] * ys[i]
        a += cross
        cx += (xs[i] + xs[j]) * cross
        cy += (ys[i] + ys[j]) * cross
    if abs(a) < 1e-12 or c < 1e-9:
        return lat0, lon0
    lat = lat0 + cy / (3.0 * a)
    lon = lon0 + cx / (3.0 * a) / c
    return min(max(lat, -90.0), 90.0), min(max(lon, -180.0), 180.0)


def _distance_km(p: tuple[float, float], q: tuple[float, float]) -> float:
    return float(geo.great_circle_distance_m(math.radians(p[0]), math.radians(p[1]),
                                             math.radians(q[0]), math.radians(q[1]))) / 1e3


def _unknown(what: str, name: str, known: dict[str, Any], noun: str = "types") -> str:
    names = sorted(known)
    msg = f"unknown {what} '{name}'"
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        msg += f" (did you mean '{close[0]}'?)"
    return msg + f"; known {noun}: {', '.join(names) if names else '(none)'}"


def format_path(path: tuple[str | int, ...] | list[str | int]) -> str:
    """``('batteries', 2, 'magazine')`` -> ``batteries[2].magazine``."""
    s = ""
    for part in path:
        if isinstance(part, int):
            s += f"[{part}]"
        else:
            s += ("." if s else "") + str(part)
    return s


def format_value(v: Any, limit: int = 80) -> str:
    """A value as it would read in YAML, shortened."""
    if v is None:
        s = "null"
    elif isinstance(v, bool):
        s = "true" if v else "false"
    elif isinstance(v, str):
        s = repr(v)
    elif isinstance(v, float):
        s = repr(v) if math.isfinite(v) else (".nan" if math.isnan(v) else (".inf" if v > 0 else "-.inf"))
    elif isinstance(v, int):
        s = str(v)
    elif isinstance(v, dict):
        s = "{" + ", ".join(f"{k}: {format_value(x, limit)}" for k, x in v.items()) + "}"
    elif isinstance(v, (list, tuple)):
        s = "[" + ", ".join(format_value(x, limit) for x in v) + "]"
    elif isinstance(v, BaseModel):
        s = format_value(v.model_dump(), limit)
    else:
        s = repr(v)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return s


def format_problem(p: Problem) -> str:
    head = format_path(p.path)
    if p.has_value:
        head += f" = {format_value(p.value)}"
    return f"{head}: {p.message}"
