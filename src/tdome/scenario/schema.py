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

Numbers are strict: a quoted ``"4"`` or a boolean is refused where a number is
expected, and an integer field refuses ``4.0``; an integer is still a valid
float (``duration_s: 600``).  A ``catalog`` entry under a built-in name is
merged onto the built-in entry before validation (:func:`merge_catalog_overrides`),
so a scenario can change one ``pk`` without repeating the rest.  Every field
carries a description with its unit; :func:`json_schema` publishes them, and
``tools/scenario_reference.py`` turns them into docs/scenario-reference.md.
"""

from __future__ import annotations

import copy
import difflib
import math
import numbers
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NamedTuple, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    Strict,
    StringConstraints,
    Tag,
    ValidationInfo,
    create_model,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from tdome import geo
from tdome.c2.config import (
    AssignmentConfig,
    DoctrineConfig,
    Setting,
    ThreatConfig,
    default_of,
    file_settings,
    from_file_values,
)
from tdome.messages import BALLISTIC_CLASS_NAMES, LAYERS, THREAT_CLASSES

ThreatClassName = Literal["ballistic", "rocket", "cruise", "drone", "aircraft"]  # messages.THREAT_CLASSES
Layer = Literal["upper", "mid", "lower", "short"]
AssetKind = Literal["city", "industry", "air_base", "power_plant", "port", "military", "government"]
RadarRole = Literal["early_warning", "fire_control", "surveillance"]

AIR_BREATHING_CLASSES = tuple(c for c in THREAT_CLASSES if c not in BALLISTIC_CLASS_NAMES)

assert THREAT_CLASSES == ("ballistic", "rocket", "cruise", "drone", "aircraft")
assert LAYERS == ("upper", "mid", "lower", "short")

# Context key the loader passes to defer the whole-file checks to itself.
DEFER_CHECKS = "tdome_defer_scenario_checks"
# Margin (degrees) around everything in the scenario for the default map extent.
EXTENT_MARGIN_DEG = 0.5


# --------------------------------------------------------------------------- field types


@dataclass(frozen=True)
class Valid:
    """Annotation marker: what a numeric field accepts, in words (used in error messages and the reference)."""

    text: str


def _num(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _bounds_text(bounds: dict[str, float]) -> str:
    ops = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    return " and ".join(f"{ops[k]} {_num(v)}" for k, v in bounds.items())


def _number_in(v: Any) -> Any:
    # YAML turns `yes`/`no`/`on`/`off` into booleans; a number field must not take them as 1/0.
    if isinstance(v, bool):
        raise PydanticCustomError("number_bool", "must be a number, not true/false")
    # numpy scalars from code that builds scenarios (sweeps, tests) count as the numbers they are.
    if isinstance(v, numbers.Integral) and not isinstance(v, int):
        return int(v)
    if isinstance(v, numbers.Real) and not isinstance(v, (int, float)):
        return float(v)
    return v


def _integer_in(v: Any) -> Any:
    if isinstance(v, bool):
        raise PydanticCustomError("integer_bool", "must be an integer, not true/false")
    if isinstance(v, numbers.Integral) and not isinstance(v, int):
        return int(v)
    return v


# Strict numbers: a quoted "4" or a boolean is refused (no silent coercion), while an integer
# is still a valid float (``duration_s: 600``).  The bounds come before the BeforeValidator so
# that they are checked by the number schema itself and show in the JSON Schema as
# minimum/exclusiveMinimum/... .


def Num(**bounds: float) -> Any:  # noqa: N802 - a type factory
    """A finite float with optional ``ge``/``gt``/``le``/``lt`` bounds; strings and booleans rejected."""
    text = "a number" + (f" {_bounds_text(bounds)}" if bounds else "")
    return Annotated[float, Strict(), Field(**bounds), BeforeValidator(_number_in), Valid(text)]


def Int(**bounds: int) -> Any:  # noqa: N802 - a type factory
    """An integer with optional bounds; strings, booleans and floats (even 4.0) rejected."""
    text = "an integer" + (f" {_bounds_text(bounds)}" if bounds else "")
    return Annotated[int, Strict(), Field(**bounds), BeforeValidator(_integer_in), Valid(text)]


def _check_lat(v: float) -> float:
    if not -90.0 <= v <= 90.0:
        raise ValueError("latitude must be in [-90, 90] degrees")
    return v


def _check_lon(v: float) -> float:
    if not -180.0 <= v <= 180.0:
        raise ValueError("longitude must be in [-180, 180] degrees")
    return v


# The range is checked by the after-validators (for their message); the JSON Schema states it too.
Lat = Annotated[float, Strict(), BeforeValidator(_number_in), AfterValidator(_check_lat),
                Valid("a latitude in [-90, 90] degrees"),
                WithJsonSchema({"type": "number", "minimum": -90, "maximum": 90})]
Lon = Annotated[float, Strict(), BeforeValidator(_number_in), AfterValidator(_check_lon),
                Valid("a longitude in [-180, 180] degrees"),
                WithJsonSchema({"type": "number", "minimum": -180, "maximum": 180})]
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


def _doc(text: str, default: Any = ..., **kw: Any) -> Any:
    """``Field`` with a description (and a default, if given): every field says what it is and its unit."""
    if "default_factory" in kw:
        return Field(description=text, **kw)
    return Field(default, description=text, **kw)


# --------------------------------------------------------------------------- catalog types


class ThreatType(_Frozen):
    """A kind of threat: its class, kinematics, signature, lethality and cost."""

    class_: ThreatClassName = Field(
        alias="class",
        description="Threat class: ballistic and rocket fly a free-flight trajectory solved from launch and aim; "
                    "cruise, drone and aircraft fly their route at cruise_alt_m. Each interceptor's pk is given "
                    "per class.")
    speed_mps: Num(gt=0.0) = _doc(
        "Speed, m/s: the cruise speed of air-breathing classes; only a nominal figure for ballistic and rocket "
        "(their speed follows from the trajectory).")
    cruise_alt_m: Num(ge=0.0) | None = _doc(
        "Cruise altitude above the surface, m. Required for cruise, drone and aircraft; leave it out (null) for "
        "ballistic and rocket.", None, validate_default=True)
    gamma_deg: Num(gt=0.0, lt=90.0) | None = _doc(
        "Launch flight-path angle above the horizontal, degrees (ballistic and rocket only); null flies the "
        "minimum-energy trajectory.", None)
    max_range_km: Num(gt=0.0) = _doc(
        "Maximum range, km: the loader refuses a group whose launch area (centre distance plus radius) or route "
        "is farther from its aim.")
    rcs_m2: Num(gt=0.0) = _doc("Radar cross section, m² (with the radar's sensitivity it sets detection range).")
    lethal_radius_m: Num(gt=0.0) = _doc(
        "Lethal radius, m: an asset within this distance of the impact point is hit.")
    cost_usd: Num(ge=0.0) = _doc("Unit cost, US dollars (for the cost-exchange measures).")
    description: str = _doc("Free text.", "")
    source: Source = _doc("Where the figures come from: the public source, or 'notional'. Required.")

    @field_validator("cruise_alt_m")
    @classmethod
    def _cruise_alt(cls, v: float | None, info: ValidationInfo) -> float | None:
        c = info.data.get("class_")
        if c in AIR_BREATHING_CLASSES and v is None:
            raise ValueError(f"required for air-breathing class '{c}' (cruise altitude in m)")
        if c in BALLISTIC_CLASS_NAMES and v is not None:
            raise ValueError(f"only for air-breathing classes ({', '.join(AIR_BREATHING_CLASSES)}); "
                             f"remove it (or set it to null) for class '{c}'")
        return v

    @field_validator("gamma_deg")
    @classmethod
    def _gamma(cls, v: float | None, info: ValidationInfo) -> float | None:
        c = info.data.get("class_")
        if c in AIR_BREATHING_CLASSES and v is not None:
            raise ValueError(f"only for ballistic/rocket classes; remove it (or set it to null) for class '{c}'")
        return v

    @property
    def is_ballistic(self) -> bool:
        """Ballistic or rocket: flies a free-flight trajectory, no waypoints."""
        return self.class_ in BALLISTIC_CLASS_NAMES


class RadarType(_Frozen):
    """A kind of radar: coverage volume, update rate, accuracy and detection performance."""

    role: RadarRole = _doc("What the radar is for (descriptive; every radar feeds the same air picture).")
    min_range_km: Num(ge=0.0) = _doc("Minimum instrumented range, km.", 0.0)
    max_range_km: Num(gt=0.0) = _doc("Maximum instrumented range, km; must be > min_range_km.")
    revisit_s: Num(ge=0.1) = _doc("Revisit time (scan period): time between two looks in one direction, s; at "
                                  "least 0.1 (each scan is simulated, so a tinier period only multiplies run time).")
    sigma_range_m: Num(gt=0.0) = _doc("Range measurement error, one standard deviation, m.")
    sigma_az_deg: Num(gt=0.0) = _doc("Azimuth measurement error, one standard deviation, degrees.")
    sigma_el_deg: Num(gt=0.0) = _doc("Elevation measurement error, one standard deviation, degrees.")
    sigma_rdot_mps: Num(gt=0.0) | None = _doc(
        "Range-rate (Doppler) measurement error, one standard deviation, m/s; null: no range rate reported.", None)
    sector_deg: Num(gt=0.0, le=360.0) = _doc(
        "Width of the azimuth sector covered, degrees; 360 = rotating, full coverage.", 360.0)
    boresight_deg: Num(ge=0.0, lt=360.0) = _doc(
        "Centre of the sector, degrees azimuth from true north; a radar site's boresight_az_deg overrides it.", 0.0)
    min_el_deg: Num(ge=-90.0, le=90.0) = _doc("Lowest elevation covered, degrees.", 0.0)
    max_el_deg: Num(ge=-90.0, le=90.0) = _doc("Highest elevation covered, degrees; must be > min_el_deg.", 90.0)
    snr_ref_db: Num() = _doc("Signal-to-noise ratio of a 1 m² target at ref_range_km, dB (radar sensitivity).")
    ref_range_km: Num(gt=0.0) = _doc("Range at which the SNR of a 1 m² target is snr_ref_db, km.")
    pfa: Num(gt=0.0, lt=1.0) = _doc(
        "Probability of false alarm of the detection threshold (with the SNR it sets the probability of "
        "detection, Swerling I). Dimensionless.", 1e-6)
    false_alarms_per_scan: Num(ge=0.0) = _doc(
        "Expected number of false (clutter) plots per scan over the whole coverage.", 0.0)
    description: str = _doc("Free text.", "")
    source: Source = _doc("Where the figures come from: the public source, or 'notional'. Required.")

    @field_validator("max_range_km")
    @classmethod
    def _max_range(cls, v: float, info: ValidationInfo) -> float:
        return _gt_field("min_range_km", v, info)

    @field_validator("max_el_deg")
    @classmethod
    def _max_el(cls, v: float, info: ValidationInfo) -> float:
        return _gt_field("min_el_deg", v, info)


def _pk_doc(threat_class: str) -> Any:
    return _doc(f"Single-shot kill probability against {threat_class} threats, 0 to 1 (0: not engaged).")


class PkTable(_Frozen):
    """Single-shot kill probability against each threat class (0 = cannot engage)."""

    ballistic: Probability = _pk_doc("ballistic")
    rocket: Probability = _pk_doc("rocket")
    cruise: Probability = _pk_doc("cruise")
    drone: Probability = _pk_doc("drone")
    aircraft: Probability = _pk_doc("aircraft")

    def as_dict(self) -> dict[str, float]:
        return {c: getattr(self, c) for c in THREAT_CLASSES}


class InterceptorType(_Frozen):
    """A kind of interceptor: its layer, engagement envelope, kill probability and cost."""

    layer: Layer = _doc("Defence layer; a battery firing this interceptor must be of the same layer.")
    speed_mps: Num(gt=0.0) = _doc("Average flyout speed, m/s (sets the time of flight to the intercept point).")
    min_range_km: Num(ge=0.0) = _doc("Minimum intercept range from the battery, km.")
    max_range_km: Num(gt=0.0) = _doc("Maximum intercept range from the battery, km; must be > min_range_km.")
    min_alt_km: Num(ge=0.0) = _doc("Lowest intercept altitude, km.")
    max_alt_km: Num(gt=0.0) = _doc("Highest intercept altitude, km; must be > min_alt_km.")
    reaction_s: Num(ge=0.0) = _doc("Reaction time from fire order to launch, s.")
    pk: PkTable = _doc("Single-shot kill probability per threat class; at least one must be > 0.")
    cost_usd: Num(ge=0.0) = _doc("Cost of one round, US dollars.")
    homing_basket_m: Num(ge=0.0) = _doc(
        "Seeker homing basket, m: a threat within this distance of the aim point at intercept time is homed on "
        "(then the pk draw decides); otherwise the round misses.")
    description: str = _doc("Free text.", "")
    source: Source = _doc("Where the figures come from: the public source, or 'notional'. Required.")

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


_OVERRIDE = ("; an entry with a built-in name overrides only the fields it gives (nested mappings merge key "
             "by key), an entry with a new name must be complete.")


class Catalog(_Model):
    """Named types; a scenario's ``catalog`` extends the built-in one and overrides its entries field by field."""

    threats: dict[Name, ThreatType] = _doc("Threat types by name" + _OVERRIDE, default_factory=dict)
    radars: dict[Name, RadarType] = _doc("Radar types by name" + _OVERRIDE, default_factory=dict)
    interceptors: dict[Name, InterceptorType] = _doc("Interceptor types by name" + _OVERRIDE,
                                                     default_factory=dict)

    def merged(self, override: Catalog) -> Catalog:
        """This catalog with ``override``'s entries added or replacing same-named ones."""
        return Catalog(
            threats={**self.threats, **override.threats},
            radars={**self.radars, **override.radars},
            interceptors={**self.interceptors, **override.interceptors},
        )


# --------------------------------------------------------------------------- geometry pieces


class Region(_Model):
    """Map extent in degrees (plots and replay)."""

    lat_min: Lat = _doc("Southern edge, degrees latitude.")
    lat_max: Lat = _doc("Northern edge, degrees latitude; must be > lat_min.")
    lon_min: Lon = _doc("Western edge, degrees longitude.")
    lon_max: Lon = _doc("Eastern edge, degrees longitude; must be > lon_min.")

    @field_validator("lat_max")
    @classmethod
    def _lat(cls, v: float, info: ValidationInfo) -> float:
        return _gt_field("lat_min", v, info)

    @field_validator("lon_max")
    @classmethod
    def _lon(cls, v: float, info: ValidationInfo) -> float:
        return _gt_field("lon_min", v, info)


class LatLon(_Model):
    """A point in degrees (WGS84)."""

    lat: Lat = _doc("Latitude, degrees.")
    lon: Lon = _doc("Longitude, degrees.")


class LaunchArea(_Model):
    """Launch points are drawn uniformly in this disc."""

    lat: Lat = _doc("Latitude of the centre, degrees.")
    lon: Lon = _doc("Longitude of the centre, degrees.")
    radius_km: Num(ge=0.0) = _doc("Radius of the disc, km; 0: every threat launches from the centre.", 0.0)


# --------------------------------------------------------------------------- defended side


class Asset(_Model):
    """A defended asset: a point with an extent, or a polygon."""

    name: Name = _doc("Unique name; raid groups aim at an asset by its name.")
    kind: AssetKind = _doc("Kind of asset (descriptive: reports and maps).")
    value: Num(gt=0.0) = _doc(
        "Value points: how much the battle manager defends it, and its weight in the defended-value measure.")
    lat: Lat | None = _doc(
        "Latitude of the centre, degrees. Give lat and lon, or a polygon (its centroid is then used).", None)
    lon: Lon | None = _doc("Longitude of the centre, degrees (with lat).", None)
    polygon: Annotated[list[LatLonPair], Field(min_length=3)] | None = _doc(
        "Outline: a list of at least 3 [lat, lon] vertices, degrees.", None)
    radius_km: Num(ge=0.0) = _doc("Radius of the footprint about the centre, km (0: a point).", 0.0)

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

    name: Name = _doc("Unique name.")
    type: Name = _doc("Radar type: a name in the built-in catalog or in this file's catalog.radars.")
    lat: Lat = _doc("Latitude of the site, degrees.")
    lon: Lon = _doc("Longitude of the site, degrees.")
    alt_m: Num(ge=-500.0, le=50_000.0) = _doc(
        "Antenna altitude, m (a high site sees farther over the horizon).", 0.0)
    boresight_az_deg: Num(ge=0.0, lt=360.0) | None = _doc(
        "Sector centre, degrees azimuth from true north, for sector radars; null: the type's boresight_deg.", None)


class Battery(_Model):
    """A fire unit of one layer: launchers, a magazine and one interceptor type."""

    name: Name = _doc("Unique name.")
    layer: Layer = _doc("Defence layer; must be the layer of the interceptor.")
    interceptor: Name = _doc(
        "Interceptor type: a name in the built-in catalog or in this file's catalog.interceptors.")
    lat: Lat = _doc("Latitude of the battery, degrees.")
    lon: Lon = _doc("Longitude of the battery, degrees.")
    alt_m: Num(ge=-500.0, le=50_000.0) = _doc("Altitude of the launchers, m.", 0.0)
    launchers: Int(ge=1) = _doc("Number of launchers.")
    rounds_per_launcher: Int(ge=1) = _doc("Rounds one launcher holds when loaded.")
    magazine: Int(ge=0) = _doc(
        "Rounds of the battery in all, the loaded ones included; at least launchers × rounds_per_launcher.")
    reload_time_s: Num(ge=0.0) = _doc("Time to reload an emptied launcher from the magazine, s.")

    @field_validator("magazine")
    @classmethod
    def _magazine_fills_launchers(cls, v: int, info: ValidationInfo) -> int:
        n, per = info.data.get("launchers"), info.data.get("rounds_per_launcher")
        if n is not None and per is not None and v < n * per:
            raise ValueError(f"must be >= launchers × rounds_per_launcher ({n} × {per} = {n * per}): the magazine "
                             "counts every round, the loaded ones included; raise magazine, or lower launchers "
                             "or rounds_per_launcher")
        return v

    @property
    def initial_loaded(self) -> int:
        """Rounds on the launchers at the start."""
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

    threat: Name = _doc("Threat type: a name in the built-in catalog or in this file's catalog.threats.")
    count: Int(ge=1) = _doc("Number of threats in the group.")
    launch: LaunchArea = _doc("Launch area: a disc in which launch points are drawn.")
    aim: Aim = _doc("Aim: the name of an asset, or a point {lat, lon} in degrees (e.g. a decoy aimed at the sea).")
    aim_spread_km: Num(ge=0.0) = _doc(
        "Spread of the aim points about the aim, km (standard deviation of a 2-D Gaussian).", 0.0)
    via: list[LatLon] = _doc("Waypoints {lat, lon} flown in order before the aim; air-breathing threats only.",
                             default_factory=list)
    label: str = _doc("Free text shown in reports (e.g. 'decoy').", "")

    @property
    def aim_asset(self) -> str | None:
        """The asset named as the aim, or None for an explicit point."""
        return self.aim if isinstance(self.aim, str) else None


class Wave(_Model):
    """Groups launched together, uniformly over [start_s, start_s + spread_s]."""

    name: Name = _doc("Name of the wave (reports).")
    start_s: Num(ge=0.0) = _doc("Time of the first launch, s from the start of the run; must be < duration_s.")
    spread_s: Num(ge=0.0) = _doc("Launches are spread uniformly over start_s to start_s + spread_s, s.", 0.0)
    groups: Annotated[list[ThreatGroup], Field(min_length=1)] = _doc("The threat groups of the wave.")


class Raid(_Model):
    """The attack: waves of threat groups, each launched from its start time."""

    waves: Annotated[list[Wave], Field(min_length=1)] = _doc("The waves, at least one.")


# --------------------------------------------------------------------------- C2 configuration


class TrackerSettings(_Model):
    """Tracking and fusion: how radar plots become the air picture."""

    confirm_m: Int(ge=1) = _doc("M of M-of-N confirmation: plots needed to confirm a track.", 3)
    confirm_n: Int(ge=1) = _doc("N of M-of-N confirmation: scans in which the M plots must fall; >= confirm_m.", 5)
    max_coast_s: Num(gt=0.0) = _doc("A track with no plot for this long is dropped, s.", 20.0)
    gate_probability: Num(gt=0.0, lt=1.0) = _doc(
        "Probability that a track's own plot falls inside its association gate (sets the gate size).", 0.9999)
    q_air_mps2: Num(gt=0.0) = _doc("Process noise of air-breathing tracks (acceleration), m/s².", 15.0)
    q_ballistic_mps2: Num(gt=0.0) = _doc("Process noise of ballistic tracks (acceleration), m/s².", 2.0)
    motion: Literal["cv", "imm"] = _doc(
        "Motion model. cv: constant velocity, free flight once a track is ballistic. imm: constant velocity, "
        "coordinated turn and constant acceleration mixed (IMM); constant acceleration and free flight once "
        "ballistic.", "cv")
    filter: Literal["ekf", "ukf"] = _doc("Measurement update of motion 'cv': extended or unscented Kalman filter.",
                                         "ekf")
    association: Literal["gnn", "jpda"] = _doc(
        "Plot-to-track association. gnn: global nearest neighbour; jpda: confirmed tracks weigh every plot in "
        "their gates.", "gnn")
    initiation: Literal["m_of_n", "score"] = _doc(
        "Track confirmation. m_of_n: confirm_m plots in confirm_n scans; score: sequential log-likelihood-ratio "
        "test.", "m_of_n")
    pd: Num(gt=0.0, lt=1.0) = _doc("Probability of detection assumed by JPDA and the score test.", 0.8)
    false_alarm_density_per_km3: Num(gt=0.0) = _doc("Assumed false plots per km³ per scan.", 1e-6)
    new_target_density_per_km3: Num(gt=0.0) = _doc("Score test: assumed new targets per km³.", 1e-7)
    score_false_confirm_prob: Num(gt=0.0, lt=0.5) = _doc(
        "Score test: accepted probability of confirming a false track.", 1e-4)
    score_true_delete_prob: Num(gt=0.0, lt=0.5) = _doc(
        "Score test: accepted probability of deleting a true track.", 0.01)
    score_drop: Num(gt=0.0) = _doc(
        "Score test: a confirmed track this far below its peak score (log-likelihood ratio) is deleted.", 20.0)

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


def _setting_type(s: Setting) -> Any:
    """The schema type of one declared C2 setting (its bounds in the file's unit)."""
    if s.choices:
        tp: Any = Literal[s.choices]  # type: ignore[valid-type]
    else:
        tp = (Int if s.integer else Num)(**s.bounds())
    return Union[tp, None] if s.optional else tp


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def settings_model(cls: type, name: str, doc: str) -> type[_Model]:
    """The scenario section for the C2 configuration dataclass ``cls``, built from its :func:`setting` fields.

    Names, units, defaults, bounds and documentation come from the dataclass,
    so a parameter is declared once (:mod:`tdome.c2.config`).  A mapping with
    one entry per threat class or layer becomes a nested section.  The
    dataclass's own rules on combinations run on the finished section, and
    their message is the section's error.
    """
    fields: dict[str, Any] = {}
    for f, s in file_settings(cls):
        default = default_of(f)
        if s.keys:
            entries = {k: (_setting_type(s), _doc((s.key_doc or s.doc).format(key=k, a=_article(k)),
                                                  default[k] / s.scale if s.scale != 1.0 else default[k]))
                       for k in s.keys}
            sub = create_model(f"{f.name.title().replace('_', '')}Settings", __base__=_Model,
                               __doc__=s.doc, **entries)
            fields[s.file_name or f.name] = (sub, _doc(s.doc, default_factory=sub))
        else:
            if default is not None and s.scale != 1.0:
                default = default / s.scale
            fields[s.file_name or f.name] = (_setting_type(s), _doc(s.doc, default))

    def check(self: Any) -> Any:
        try:
            from_file_values(cls, self.model_dump(by_alias=False))
        except ValueError as e:
            raise ValueError(str(e)) from None
        return self

    return create_model(name, __base__=_Model, __doc__=doc,
                        __validators__={"_rules": model_validator(mode="after")(check)}, **fields)


ThreatSettings = settings_model(ThreatConfig, "ThreatSettings", "Threat evaluation: which tracks endanger which assets.")
DoctrineSettings = settings_model(DoctrineConfig, "DoctrineSettings",
                                  "Firing doctrine: when to fire, how many rounds, what to hold back.")
AssignmentSettings = settings_model(AssignmentConfig, "AssignmentSettings",
                                    "Weapon-target assignment: solver, objective and its time budget per C2 cycle.")


class C2Settings(_Model):
    """Command and control: the battle manager's cycle, tracking, threat evaluation, doctrine and assignment."""

    cycle_s: Num(ge=0.1, le=60.0) = _doc("Period of the C2 cycle (the battle manager decides once per cycle), s; "
                                         "0.1 to 60.", 1.0)
    tracker: TrackerSettings = _doc("Tracking and fusion.", default_factory=TrackerSettings)
    threat: ThreatSettings = _doc("Threat evaluation.", default_factory=ThreatSettings)
    doctrine: DoctrineSettings = _doc("Firing doctrine.", default_factory=DoctrineSettings)
    assignment: AssignmentSettings = _doc("Weapon-target assignment.", default_factory=AssignmentSettings)


class SimSettings(_Model):
    """How the simulator runs the scenario (not part of the defended system)."""

    fidelity: Literal["full", "perfect_picture"] = _doc(
        "full: the C2 tracks radar plots. perfect_picture: the C2 is handed the true state of every threat a "
        "radar has detected, to separate the effect of tracking from that of assignment (every output says so).",
        "full")


# --------------------------------------------------------------------------- the scenario


_MISSING = object()


# Sizes beyond anything tdome is built for are refused with the reason (warnings come lower: sim.engine).
MAX_DURATION_S = 7 * 86_400.0
MAX_THREATS = 100_000


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

    name: Name = _doc("Name of the scenario (reports).")
    description: str = _doc("Free text.", "")
    seed: Int(ge=0) = _doc("Random seed: the same scenario and seed give identical results on any machine.")
    duration_s: Num(gt=0.0, le=MAX_DURATION_S) = _doc(
        "Simulated time, s, at most 7 days; every wave must start before it. The run stops earlier once the "
        "battle is over (every threat down or killed, nothing in flight).")
    region: Region | None = _doc(  # see :attr:`extent` for the computed default
        "Map extent, degrees; null: a box around everything in the scenario with a 0.5° margin.", None)
    catalog: Catalog = _doc("Threat, radar and interceptor types added to the built-in catalog, or overriding "
                            "built-in entries field by field.", default_factory=Catalog)
    assets: Annotated[list[Asset], Field(min_length=1)] = _doc("The defended assets, at least one.")
    radars: Annotated[list[Radar], Field(min_length=1)] = _doc("The radar sites, at least one.")
    batteries: list[Battery] = _doc("The fire units.", default_factory=list)
    raid: Raid = _doc("The raid: its waves of threat groups.")
    c2: C2Settings = _doc("Command and control settings; every field has a default.", default_factory=C2Settings)
    sim: SimSettings = _doc("Simulator settings.", default_factory=SimSettings)

    @model_validator(mode="before")
    @classmethod
    def _merge_catalog(cls, data: Any) -> Any:
        # A partial entry under a built-in name is merged with the built-in one before validation,
        # so the model (and everything downstream) only ever sees complete catalog entries.
        if isinstance(data, dict) and isinstance(data.get("catalog"), dict):
            data = {**data, "catalog": merge_catalog_overrides(data["catalog"])}
        return data

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
        n = sum(g.count for w in self.raid.waves for g in w.groups)
        if n > MAX_THREATS:
            out.append(Problem(("raid",), f"{n:,} threats in all: at most {MAX_THREATS:,}; every trajectory is held "
                                          "in memory on a 0.5 s grid, and the tracker and the C2 are measured on "
                                          "raids of a few thousand; split the raid into several scenarios"))
        return out


# --------------------------------------------------------------------------- JSON Schema


JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a scenario file, with a description and unit for every field.

    Editors that understand JSON Schema (e.g. the YAML language server) use it to complete and check a
    scenario as it is typed.  It states each field on its own (type, bounds, allowed values, required,
    no unknown keys); the whole-file rules (catalog names, aims, ranges, layers, magazines) are the
    loader's.  In ``catalog``, an entry with a built-in name may give only the fields it changes
    (``...Override`` definitions, nothing required), an entry with a new name must be complete.
    """
    from tdome.scenario.catalog import builtin_catalog

    schema = Scenario.model_json_schema(by_alias=True, mode="validation")
    defs = schema["$defs"]
    builtin = builtin_catalog()
    for section, def_name in (("threats", "ThreatType"), ("radars", "RadarType"), ("interceptors", "InterceptorType")):
        partial = _partial_def(defs, def_name)
        for prop in partial["properties"].values():
            ref = prop.get("$ref", "").removeprefix("#/$defs/")
            if ref:  # nested models (pk) merge key by key as well
                prop["$ref"] = "#/$defs/" + _partial_def(defs, ref)["title"]
        defs["Catalog"]["properties"][section]["properties"] = {
            name: {"$ref": f"#/$defs/{partial['title']}"} for name in getattr(builtin, section)}
    return {"$schema": JSON_SCHEMA_DIALECT, **schema, "title": "tdome scenario",
            "$defs": dict(sorted(defs.items()))}


def _partial_def(defs: dict[str, Any], name: str) -> dict[str, Any]:
    """``defs[name + "Override"]``: the definition ``name`` with nothing required (made once)."""
    key = name + "Override"
    if key not in defs:
        d = copy.deepcopy(defs[name])
        d.pop("required", None)
        d["title"] = key
        d["description"] = (f"A built-in entry overridden in part: the fields given replace the built-in ones, "
                            f"the others keep their built-in values (see {name}).")
        defs[key] = d
    return defs[key]


# --------------------------------------------------------------------------- catalog overrides


CATALOG_SECTIONS = ("threats", "radars", "interceptors")


def merge_catalog_overrides(raw: dict) -> dict:
    """A scenario's raw ``catalog`` mapping with each entry under a built-in name merged onto that entry.

    The override wins field by field and nested mappings (``pk``) merge key by key, so
    ``{interceptors: {mid_tk3: {pk: {drone: 0.5}}}}`` changes one number and keeps the rest of the
    built-in ``mid_tk3``.  Entries with a new name are left as given (they must be complete), and
    anything that is not a mapping is left for validation to report.
    """
    from tdome.scenario.catalog import builtin_catalog

    builtin = builtin_catalog()
    out = dict(raw)
    for section in CATALOG_SECTIONS:
        entries = raw.get(section)
        if not isinstance(entries, dict):
            continue
        known: dict[str, BaseModel] = getattr(builtin, section)
        merged = {}
        for name, entry in entries.items():
            base = known.get(name.strip()) if isinstance(name, str) else None
            if base is not None and isinstance(entry, dict):
                if "class_" in entry and "class" not in entry:  # the field's Python name, accepted too
                    entry = {("class" if k == "class_" else k): v for k, v in entry.items()}
                entry = _deep_merge(base.model_dump(by_alias=True), entry)
            merged[name] = entry
        out[section] = merged
    return out


def _deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
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
