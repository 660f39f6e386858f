"""The scenario schema: one YAML file is the whole experiment.

Every model forbids unknown fields, so a typo is an error rather than a
silently ignored setting.  Units follow the field names: ``lat``/``lon`` and
``*_deg`` in degrees, ``*_km`` in kilometres, ``*_m`` in metres, ``*_s`` in
seconds, ``*_ms`` in milliseconds, ``*_mps`` in metres per second, ``*_hz`` per
second.  The simulator converts to SI once (:mod:`tdome.sim.build`).  The
``network`` and ``operators`` sections are declared in
:mod:`tdome.scenario.network`.

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
import itertools
import math
import typing
from collections.abc import Iterator, Sequence
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from tdome import geo
from tdome.c2.config import (
    ARCHITECTURES,
    AssignmentConfig,
    ConfigError,
    DoctrineConfig,
    RegistrationConfig,
    Setting,
    ThreatConfig,
    default_of,
    file_settings,
    from_file_values,
)
from tdome.c2.tracking.config import TrackerConfig
from tdome.messages import THREAT_CLASSES
from tdome.scenario.catalog import (
    Catalog,
    InterceptorType,
    JammerType,
    RadarType,
    ThreatType,
    builtin_catalog,
    merge_catalog_overrides,
)
from tdome.scenario.errors import Problem, format_path, format_value, unknown_name
from tdome.scenario.fields import (
    Int,
    Lat,
    LatLonPair,
    Layer,
    Lon,
    Name,
    Num,
    Probability,
    ThreatClassName,
    _doc,
    _Model,
    _num,
    above,
)
from tdome.scenario.live import LiveSettings, SacSic
from tdome.scenario.network import NetworkSettings, OperatorSettings, network_problems

AssetKind = Literal["city", "industry", "air_base", "power_plant", "port", "military", "government"]
Architecture = Literal["integrated", "separate", "integrated_with_fallback"]  # c2.config.ARCHITECTURES
assert typing.get_args(Architecture) == ARCHITECTURES

# Context key the loader passes to defer the whole-file checks to itself.
DEFER_CHECKS = "tdome_defer_scenario_checks"
# Margin (degrees) around everything in the scenario for the default map extent.
EXTENT_MARGIN_DEG = 0.5


# --------------------------------------------------------------------------- geometry pieces


class Region(_Model):
    """Map extent in degrees (plots and replay)."""

    lat_min: Lat = _doc("Southern edge, degrees latitude.")
    lat_max: Annotated[Lat, above("lat_min")] = _doc("Northern edge, degrees latitude; must be > lat_min.")
    lon_min: Lon = _doc("Western edge, degrees longitude.")
    lon_max: Annotated[Lon, above("lon_min")] = _doc("Eastern edge, degrees longitude; must be > lon_min.")


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


class Availability(_Model):
    """Equipment faults: down at the start with some probability, then failures and repairs at random."""

    down_at_start: Probability = _doc("Probability that it is down when the run starts.", 0.0)
    mtbf_h: Num(gt=0.0) | None = _doc(
        "Mean time between failures, hours (exponential); null: it does not fail during the run.", None)
    mttr_h: Num(gt=0.0) = _doc("Mean time to repair, hours (exponential).", 1.0)


class Emcon(_Model):
    """Emission control: when the radar keeps silent (no plots, nothing for an anti-radiation seeker to home on)."""

    silent: list[tuple[Num(ge=0.0), Num(ge=0.0)]] = _doc(
        "Silent periods [start_s, end_s], s from the start of the run.", default_factory=list)

    @field_validator("silent")
    @classmethod
    def _ordered(cls, v: list[tuple[float, float]]) -> list[tuple[float, float]]:
        for a, b in v:
            if not b > a:
                raise ValueError(f"a silent period [{a:g}, {b:g}] must end after it starts")
        return v


class RadarBias(_Model):
    """Systematic errors of a radar that the C2 is not told: every plot is off by them (truth side only).

    The C2 may estimate them online from objects several radars see (``c2.registration``).
    """

    range_m: Num(ge=-5_000.0, le=5_000.0) = _doc("Range offset, m: every measured range is this much long.", 0.0)
    az_deg: Num(ge=-10.0, le=10.0) = _doc(
        "Azimuth offset, degrees (north misalignment): every measured azimuth is this much clockwise.", 0.0)
    el_deg: Num(ge=-5.0, le=5.0) = _doc("Elevation offset, degrees: every measured elevation is this much high.",
                                        0.0)
    clock_s: Num(ge=-60.0, le=60.0) = _doc(
        "Clock offset, s: the radar stamps its plots with its own clock, this much ahead of true time.", 0.0)

    @property
    def is_zero(self) -> bool:
        return not (self.range_m or self.az_deg or self.el_deg or self.clock_s)


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
    value: Num(gt=0.0) | None = _doc(
        "Value points: with a value the radar is also a defended asset (a point of its name), which the battle "
        "manager defends and the results weigh; null: not defended for itself. Either way a raid group may aim at "
        "it by name, and a threat that lands within its lethal radius of the site destroys it.", None)
    availability: Availability | None = _doc(
        "Faults: while down the radar makes no plots (the C2 sees only their absence); null: always up.", None)
    emcon: Emcon | None = _doc("Emission control: its silent periods; null: it emits all the time.", None)
    bias: RadarBias | None = _doc(
        "Systematic errors of its plots (range, azimuth, elevation and clock offsets), unknown to the C2; null: "
        "none.", None)
    sac: SacSic = _doc("ASTERIX system area code of its reports (I048/010), as the live service knows it.", 0)
    sic: SacSic | None = _doc(
        "ASTERIX system identification code of its reports; null: 1 + its index in radars. SAC/SIC pairs must be "
        "unique.", None)

    def sac_sic(self, index: int) -> tuple[int, int]:
        """(SAC, SIC) of this radar, the ``index``-th of the file's radars."""
        return self.sac, (index + 1 if self.sic is None else self.sic)


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
    radars: Annotated[list[Name], Field(min_length=1)] | None = _doc(
        "The battery's own fire-control radars (names in radars): what it sees when it fights alone (c2.architecture "
        "separate, or integrated_with_fallback cut off from every C2 node); null: the radar nearest the battery.",
        None)
    cued_by: list[Name] = _doc(
        "Surveillance radars (names in radars) that may cue the battery when it fights alone.", default_factory=list)
    value: Num(gt=0.0) | None = _doc(
        "Value points: with a value the battery is also a defended asset (a point of its name); null: not defended "
        "for itself. Either way a raid group may aim at it by name, and a threat that lands within its lethal "
        "radius of the battery destroys its launchers and the rounds on them.", None)
    availability: Availability | None = _doc(
        "Faults of each launcher, drawn launcher by launcher: a launcher that is down cannot fire the rounds it "
        "holds (the battery's status shows fewer rounds ready); null: always up.", None)

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
    Annotated[Name, Tag("asset")] | Annotated[LatLon, Tag("point")],
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
    aim: Aim = _doc("Aim: the name of an asset, a radar or a battery, or a point {lat, lon} in degrees (e.g. a "
                    "decoy aimed at the sea).")
    aim_spread_km: Num(ge=0.0) = _doc(
        "Spread of the aim points about the aim, km (standard deviation of a 2-D Gaussian).", 0.0)
    via: list[LatLon] = _doc("Waypoints {lat, lon} flown in order before the aim; air-breathing threats only.",
                             default_factory=list)
    label: str = _doc("Free text shown in reports (e.g. 'decoy').", "")
    jammer: Name | None = _doc(
        "A noise jammer type (catalog.jammers) that every threat of the group carries: an escort or self-screening "
        "jammer, radiating while the threat flies; air-breathing threats only. Null: none.", None)
    decoys: Int(ge=0) = _doc(
        "Decoys each missile of the group releases (ballistic and rocket types with catalog decoys), at most its "
        "type's decoys.max_count.", 0)

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


class StandOffJammer(_Model):
    """A jammer aircraft that stays out of reach: it holds a point or flies its route back and forth."""

    name: Name = _doc("Unique name (reports).")
    type: Name = _doc("Jammer type: a name in the built-in catalog or in this file's catalog.jammers.")
    at: LatLon | None = _doc("The point it holds {lat, lon}; give this or route.", None)
    route: Annotated[list[LatLon], Field(min_length=2)] | None = _doc(
        "Waypoints {lat, lon} flown in order and back again, over and over, at speed_mps; at least two; give this "
        "or at.", None)
    alt_m: Num(ge=0.0, le=30_000.0) = _doc("Flight altitude, m.", 8_000.0)
    speed_mps: Num(gt=0.0) = _doc("Ground speed along the route, m/s.", 150.0)
    start_s: Num(ge=0.0) = _doc("When it starts jamming (and flying its route), s from the start of the run.", 0.0)
    end_s: Num(gt=0.0) | None = _doc("When it stops jamming, s; null: the end of the run.", None)

    @model_validator(mode="after")
    def _one_place(self) -> StandOffJammer:
        if (self.at is None) == (self.route is None):
            raise ValueError("give exactly one of 'at' (a point it holds) and 'route' (at least two waypoints)")
        if self.end_s is not None and self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s:g}) must be after start_s ({self.start_s:g})")
        return self

    @property
    def waypoints(self) -> list[LatLon]:
        return [self.at] if self.at is not None else list(self.route or [])


class Raid(_Model):
    """The attack: waves of threat groups, each launched from its start time, and the jammers that cover it."""

    waves: Annotated[list[Wave], Field(min_length=1)] = _doc("The waves, at least one.")
    jammers: list[StandOffJammer] = _doc(
        "Stand-off noise jammers: aircraft that hold a point or fly a route out of reach and jam the radars in "
        "their band (escort jammers ride with a group: its 'jammer').", default_factory=list)


# --------------------------------------------------------------------------- C2 configuration


def _setting_type(s: Setting) -> Any:
    """The schema type of one declared C2 setting (its bounds in the file's unit)."""
    if s.choices:
        tp: Any = Literal[s.choices]
    else:
        tp = (Int if s.integer else Num)(**s.bounds())
    return tp | None if s.optional else tp


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
    file_name: dict[str, str] = {}  # dataclass field -> its name in files
    for f, s in file_settings(cls):
        in_file = file_name[f.name] = s.file_name or f.name
        default = default_of(f)
        if s.keys:  # one entry per key, in SI already (keyed settings carry no unit scale)
            entries: dict[str, Any] = {
                k: (_setting_type(s), _doc((s.key_doc or s.doc).format(key=k, a=_article(k)), default[k]))
                for k in s.keys}
            sub = create_model(f"{f.name.title().replace('_', '')}Settings", __base__=_Model,
                               __doc__=s.doc, **entries)
            fields[in_file] = (sub, _doc(s.doc, default_factory=sub))
        else:
            if default is not None and s.scale != 1.0:
                default = default / s.scale
            fields[in_file] = (_setting_type(s), _doc(s.doc, default))

    def check(self: Any) -> Any:
        """The dataclass's own rules, reported at the field they name (else at the section)."""
        try:
            from_file_values(cls, self.model_dump(by_alias=False))
        except ConfigError as e:
            where = file_name.get(e.field or "")
            if where is None:
                raise ValueError(str(e)) from None
            error = PydanticCustomError("value_error", "{message}", {"message": str(e)})
            raise ValidationError.from_exception_data(
                name, [InitErrorDetails(type=error, loc=(where,), input=getattr(self, where))]) from None
        return self

    # pydantic types __validators__ as plain callables, but documents passing decorated validators (their
    # descriptor proxies), which is what it accepts at run time: pydantic issues #9690 and #13834.
    return create_model(name, __base__=_Model, __doc__=doc,
                        __validators__={"_rules": model_validator(mode="after")(check)},  # type: ignore[dict-item]
                        **fields)


ThreatSettings = settings_model(ThreatConfig, "ThreatSettings",
                                "Threat evaluation: which tracks endanger which assets.")
DoctrineSettings = settings_model(DoctrineConfig, "DoctrineSettings",
                                  "Firing doctrine: when to fire, how many rounds, what to hold back.")
AssignmentSettings = settings_model(AssignmentConfig, "AssignmentSettings",
                                    "Weapon-target assignment: solver, objective and its time budget per C2 cycle.")


TrackerSettings = settings_model(TrackerConfig, "TrackerSettings",
                                 "Tracking and fusion: how radar plots become the air picture.")
RegistrationSettings = settings_model(
    RegistrationConfig, "RegistrationSettings",
    "Sensor registration: each radar's range, azimuth, elevation and clock offsets estimated online from the objects "
    "several radars see, and taken out of its plots.")


class ExpectedGroup(_Model):
    """An intelligence estimate of later threats: their class, the asset they are aimed at, how many and when."""

    threat_class: ThreatClassName = _doc("Class of the threats expected.")
    asset: Name = _doc("The defended asset they are expected to be aimed at (a name in assets).")
    count: Num(ge=0.0) = _doc("Expected number of threats.")
    count_sd: Num(ge=0.0) = _doc("Standard deviation of the number: the estimate's uncertainty.", 0.0)
    after_s: Num(ge=0.0) = _doc(
        "They are expected after this time, s: until then the C2 weighs its rounds against them; from then on "
        "its picture shows them.", 0.0)


class C2Settings(_Model):
    """Command and control: the battle manager's cycle, tracking, threat evaluation, doctrine and assignment."""

    cycle_s: Num(ge=0.1, le=60.0) = _doc("Period of the C2 cycle (the battle manager decides once per cycle), s; "
                                         "0.1 to 60.", 1.0)
    architecture: Architecture = _doc(
        "integrated: one picture from every radar, and any battery may engage what any radar sees; separate: each "
        "battery fights alone with its own radars (batteries[].radars, cued by batteries[].cued_by); "
        "integrated_with_fallback: integrated while a battery hears from a C2 node, alone after fallback_after_s "
        "of silence, integrated again when it hears again.", "integrated")
    fallback_after_s: Num(gt=0.0) = _doc(
        "integrated_with_fallback: silence from every C2 node after which a battery fights alone, s.", 10.0)
    tracker: TrackerSettings = _doc("Tracking and fusion.", default_factory=TrackerSettings)
    registration: RegistrationSettings = _doc("Sensor registration (radar offsets estimated and corrected).",
                                              default_factory=RegistrationSettings)
    threat: ThreatSettings = _doc("Threat evaluation.", default_factory=ThreatSettings)
    doctrine: DoctrineSettings = _doc("Firing doctrine.", default_factory=DoctrineSettings)
    assignment: AssignmentSettings = _doc("Weapon-target assignment.", default_factory=AssignmentSettings)
    intel: list[ExpectedGroup] = _doc(
        "The intelligence estimate of threats still to come. When given, each round fired costs, on top of its "
        "price, what it would save against them (the battle manager looks ahead); empty: it decides as if the raid "
        "ended now, holding back only doctrine.reserve_fraction.", default_factory=list)


class SimSettings(_Model):
    """How the simulator runs the scenario (not part of the defended system)."""

    fidelity: Literal["full", "perfect_picture"] = _doc(
        "full: the C2 tracks radar plots. perfect_picture: the C2 is handed the true state of every threat a "
        "radar has detected, to separate the effect of tracking from that of assignment (every output says so).",
        "full")


FIDELITIES: tuple[str, ...] = typing.get_args(SimSettings.model_fields["fidelity"].annotation)
FIDELITY_LABELS = {  # how every output names a fidelity: a perfect picture must never pass for a real one
    "full": "full fidelity (tracker on radar plots)",
    "perfect_picture": "PERFECT AIR PICTURE from truth (tracker bypassed)",
}


# --------------------------------------------------------------------------- the scenario


# Sizes beyond anything tdome is built for are refused with the reason (warnings come lower: sim.engine).
MAX_DURATION_S = 7 * 86_400.0
MAX_THREATS = 100_000
# ... and sizes that are legal but beyond what tdome is measured on are warned about (Scenario.scale_warnings).
LARGE_RAID = 5_000  # threats: beyond the saturation raids the tracker and the C2 are measured on
LONG_RUN_S = 86_400.0  # one day of simulated time


class DefendedSide(_Model):
    """The defended side alone: assets, radars, batteries and the C2 settings, and the live service's network.

    It is what the live service (``tdome serve``) reads: everything the C2
    core may know, and no raid.  A :class:`Scenario` is a defended side and
    the raid flown against it.
    """

    name: Name = _doc("Name of the scenario (reports).")
    description: str = _doc("Free text.", "")
    catalog: Catalog = _doc("Threat, radar and interceptor types added to the built-in catalog, or overriding "
                            "built-in entries field by field.", default_factory=Catalog)
    assets: Annotated[list[Asset], Field(min_length=1)] = _doc("The defended assets, at least one.")
    radars: Annotated[list[Radar], Field(min_length=1)] = _doc("The radar sites, at least one.")
    batteries: list[Battery] = _doc("The fire units.", default_factory=list)
    c2: C2Settings = _doc("Command and control settings; every field has a default.", default_factory=C2Settings)
    live: LiveSettings = _doc("The live service's network (tdome serve, tdome feed); the simulator ignores it.",
                              default_factory=LiveSettings)

    @model_validator(mode="before")
    @classmethod
    def _merge_catalog(cls, data: Any) -> Any:
        # A partial entry under a built-in name is merged with the built-in one before validation,
        # so the model (and everything downstream) only ever sees complete catalog entries.
        if isinstance(data, dict) and isinstance(data.get("catalog"), dict):
            data = {**data, "catalog": merge_catalog_overrides(data["catalog"])}
        return data

    @model_validator(mode="after")
    def _whole_file(self, info: ValidationInfo) -> Any:
        if (info.context or {}).get(DEFER_CHECKS):
            return self
        problems = self.problems()
        if problems:
            raise ValueError("\n".join(format_problem(p) for p in problems))
        return self

    # ---- resolved view

    @property
    def resolved_catalog(self) -> Catalog:
        """The built-in catalog extended/overridden by this file's ``catalog``."""
        return builtin_catalog().merged(self.catalog)

    @property
    def threat_types(self) -> dict[str, ThreatType]:
        return {**builtin_catalog().threats, **self.catalog.threats}

    @property
    def radar_types(self) -> dict[str, RadarType]:
        return {**builtin_catalog().radars, **self.catalog.radars}

    @property
    def interceptor_types(self) -> dict[str, InterceptorType]:
        return {**builtin_catalog().interceptors, **self.catalog.interceptors}

    @property
    def jammer_types(self) -> dict[str, JammerType]:
        return {**builtin_catalog().jammers, **self.catalog.jammers}

    @property
    def assets_by_name(self) -> dict[str, Asset]:
        return {a.name: a for a in self.assets}

    # ---- whole-file checks

    def problems(self) -> list[Problem]:
        """Everything wrong that single-field validation cannot see; empty when the file is sound."""
        out: list[Problem] = []
        named: tuple[tuple[str, Sequence[Asset | Radar | Battery]], ...] = (
            ("assets", self.assets), ("radars", self.radars), ("batteries", self.batteries))
        for section, items in named:
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
                out.append(Problem(("radars", i, "type"), unknown_name("radar type", r.type, radar_types),
                                   r.type))

        interceptor_types = self.interceptor_types
        for i, b in enumerate(self.batteries):
            it = interceptor_types.get(b.interceptor)
            if it is None:
                out.append(Problem(("batteries", i, "interceptor"),
                                   unknown_name("interceptor type", b.interceptor, interceptor_types), b.interceptor))
            elif it.layer != b.layer:
                same_layer = [n for n, t in interceptor_types.items() if t.layer == b.layer]
                out.append(Problem(("batteries", i, "layer"),
                                   f"does not match the layer of interceptor '{b.interceptor}' ('{it.layer}'); "
                                   f"set layer: {it.layer}, or pick a '{b.layer}' interceptor "
                                   f"({', '.join(same_layer) or 'none'})",
                                   b.layer))

        radar_names = [r.name for r in self.radars]
        for i, b in enumerate(self.batteries):
            for field in ("radars", "cued_by"):
                for k, name in enumerate(getattr(b, field) or []):
                    if name not in radar_names:
                        out.append(Problem(("batteries", i, field, k),
                                           unknown_name("radar", name, radar_names, noun="radars"), name))
        first_code: dict[tuple[int, int], int] = {}
        for i, r in enumerate(self.radars):
            code = r.sac_sic(i)
            if code in first_code:
                out.append(Problem(("radars", i, "sic"), f"SAC/SIC {code[0]}/{code[1]} already identifies "
                                                         f"radars[{first_code[code]}] (each radar's reports must be "
                                                         "told apart)", code[1]))
            first_code.setdefault(code, i)
        assets = self.assets_by_name
        valued: tuple[tuple[str, Sequence[Radar | Battery]], ...] = (("radars", self.radars),
                                                                     ("batteries", self.batteries))
        for section, sites in valued:
            for i, site in enumerate(sites):
                if site.value is not None and site.name in assets:
                    out.append(Problem((section, i, "name"), "also the name of an asset; a radar or battery with a "
                                                             "value is an asset too, so names must differ",
                                       site.name))
        for i, expected in enumerate(self.c2.intel):
            if expected.asset not in assets:
                out.append(Problem(("c2", "intel", i, "asset"),
                                   unknown_name("asset", expected.asset, assets, noun="assets"), expected.asset))
        return out

class Scenario(DefendedSide):
    """A complete experiment: the defended side, the raid, the C2 settings and the seed."""

    seed: Int(ge=0) = _doc("Random seed: the same scenario and seed give identical results on any machine.")
    duration_s: Num(gt=0.0, le=MAX_DURATION_S) = _doc(
        "Simulated time, s, at most 7 days; every wave must start before it. The run stops earlier once the "
        "battle is over (every threat down or killed, nothing in flight).")
    region: Region | None = _doc(  # see :attr:`extent` for the computed default
        "Map extent, degrees; null: a box around everything in the scenario with a 0.5° margin.", None)
    raid: Raid = _doc("The raid: its waves of threat groups.")
    network: NetworkSettings | None = _doc(
        "The network between radars, batteries and C2 nodes; null: a perfect network (every message arrives the "
        "instant it is sent).", None)
    operators: OperatorSettings = _doc("The operators who decide under 'confirm' authority (c2.doctrine.authority).",
                                       default_factory=OperatorSettings)
    sim: SimSettings = _doc("Simulator settings.", default_factory=SimSettings)

    @property
    def targets_by_name(self) -> dict[str, tuple[float, float]]:
        """Everything a group may aim at by name, (lat_deg, lon_deg): the assets, then the radars and batteries."""
        out = {r.name: (r.lat, r.lon) for r in self.radars}
        out.update({b.name: (b.lat, b.lon) for b in self.batteries})
        out.update({a.name: _centre(a) for a in self.assets})
        return out

    def aim_point(self, group: ThreatGroup) -> tuple[float, float]:
        """The group's aim point (lat_deg, lon_deg): the named asset's, radar's or battery's position, or the
        given point."""
        if isinstance(group.aim, str):
            lat, lon = self.targets_by_name[group.aim]
            return float(lat), float(lon)
        return float(group.aim.lat), float(group.aim.lon)

    def groups(self) -> Iterator[tuple[Wave, ThreatGroup]]:
        """Every (wave, group) of the raid in file order."""
        for w in self.raid.waves:
            for g in w.groups:
                yield w, g

    @property
    def threat_count(self) -> int:
        return sum(g.count for _, g in self.groups())

    def scale_warnings(self) -> list[str]:
        """Sizes that are legal but far beyond what tdome is built and measured for, each with the reason."""
        out = []
        n = self.threat_count
        if n > LARGE_RAID:
            out.append(f"raid of {n:,} threats: tdome is measured on raids of up to a few thousand; set-up alone "
                       f"(flying out every trajectory) takes minutes and each radar scan costs more with every track")
        if self.duration_s > LONG_RUN_S:
            out.append(f"duration_s {self.duration_s:,.0f} s is {self.duration_s / 86_400:,.1f} days: the run stops "
                       f"once the battle is over (every threat down or killed), so the figure is only an upper bound")
        return out

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
            add(*_centre(a), a.radius_km)
            for lat, lon in a.polygon or []:
                add(lat, lon)
        for r in self.radars:
            add(r.lat, r.lon)
        for b in self.batteries:
            add(b.lat, b.lon)
        for j in self.raid.jammers:
            for w in j.waypoints:
                add(w.lat, w.lon)
        names = self.assets_by_name
        for _, g in self.groups():
            add(g.launch.lat, g.launch.lon, g.launch.radius_km)
            for w in g.via:
                add(w.lat, w.lon)
            if not isinstance(g.aim, str):
                add(g.aim.lat, g.aim.lon, g.aim_spread_km)
            elif g.aim in names:
                add(*_centre(names[g.aim]), g.aim_spread_km)
        m = EXTENT_MARGIN_DEG
        lat_min = max(-90.0, min(la - p for la, p in zip(lats, pad)) - m)
        lat_max = min(90.0, max(la + p for la, p in zip(lats, pad)) + m)
        coslat = max(math.cos(math.radians(max(abs(lat_min), abs(lat_max)))), 1e-3)
        lon_min = max(-180.0, min(lo - p / coslat for lo, p in zip(lons, pad)) - m)
        lon_max = min(180.0, max(lo + p / coslat for lo, p in zip(lons, pad)) + m)
        return Region.model_construct(lat_min=lat_min, lat_max=lat_max, lon_min=lon_min, lon_max=lon_max)

    def to_yaml(self) -> str:
        """This scenario as YAML that loads back to an equal scenario."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)

    # ---- whole-file checks

    def problems(self) -> list[Problem]:
        """Everything wrong that single-field validation cannot see; empty when the scenario is sound."""
        out = super().problems()
        radar_names = [r.name for r in self.radars]
        out += network_problems(self.network, self.c2.architecture, radar_names, [b.name for b in self.batteries])

        threat_types = self.threat_types
        targets = self.targets_by_name
        jammer_types = self.jammer_types
        first_jammer: dict[str, int] = {}
        for ji, j in enumerate(self.raid.jammers):
            jpath: tuple[str | int, ...] = ("raid", "jammers", ji)
            if j.type not in jammer_types:
                out.append(Problem(jpath + ("type",), unknown_name("jammer type", j.type, jammer_types), j.type))
            if j.name in first_jammer:
                out.append(Problem(jpath + ("name",), f"duplicate name; already used by raid.jammers"
                                                      f"[{first_jammer[j.name]}] (names must be unique)", j.name))
            first_jammer.setdefault(j.name, ji)
            if j.start_s >= self.duration_s:
                out.append(Problem(jpath + ("start_s",),
                                   f"must be < duration_s ({_num(self.duration_s)}); this jammer would never jam",
                                   j.start_s))
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
                    out.append(Problem(gpath + ("threat",), unknown_name("threat type", g.threat, threat_types),
                                       g.threat))
                aim: tuple[float, float] | None = None
                if isinstance(g.aim, str):
                    if g.aim in targets:
                        aim = self.aim_point(g)
                    else:
                        out.append(Problem(gpath + ("aim",),
                                           unknown_name("asset, radar or battery", g.aim, targets,
                                                        noun="assets, radars and batteries")
                                           + "; or give an aim point {lat, lon}", g.aim))
                else:
                    aim = (g.aim.lat, g.aim.lon)
                if g.jammer is not None and g.jammer not in jammer_types:
                    out.append(Problem(gpath + ("jammer",), unknown_name("jammer type", g.jammer, jammer_types),
                                       g.jammer))
                if tt is None:
                    continue
                if tt.seeker == "anti_radiation" and g.aim not in {r.name for r in self.radars}:
                    out.append(Problem(gpath + ("aim",),
                                       f"'{g.threat}' homes on radars: aim it at a radar by name ("
                                       + ", ".join(r.name for r in self.radars) + ")",
                                       g.aim if isinstance(g.aim, str) else g.aim.model_dump()))
                if g.jammer is not None and tt.is_ballistic:
                    out.append(Problem(gpath + ("jammer",),
                                       f"jammers ride with air-breathing threats only; '{g.threat}' is a "
                                       f"{tt.class_} threat (remove jammer)", g.jammer))
                if g.decoys and (tt.decoys is None or g.decoys > tt.decoys.max_count):
                    limit = ("carries no decoys (its catalog entry has no decoys)" if tt.decoys is None else
                             f"carries at most {tt.decoys.max_count} decoys (catalog limit, decoys.max_count)")
                    out.append(Problem(gpath + ("decoys",), f"threat type '{g.threat}' {limit}", g.decoys))
                if tt.is_ballistic and g.via:
                    out.append(Problem(gpath + ("via",),
                                       f"waypoints are for air-breathing threats only; '{g.threat}' is a "
                                       f"{tt.class_} threat (remove via)", [w.model_dump() for w in g.via]))
                if aim is None or (tt.is_ballistic and g.via):
                    continue
                pts = [(g.launch.lat, g.launch.lon)] + [(w.lat, w.lon) for w in g.via] + [aim]
                route_km = sum(_distance_km(a, b) for a, b in itertools.pairwise(pts))
                worst_km = route_km + g.launch.radius_km
                if worst_km > tt.max_range_km:
                    what = "launch to aim" if len(pts) == 2 else "route launch → via → aim"
                    plus = f" + {_num(g.launch.radius_km)} km launch radius" if g.launch.radius_km else ""
                    out.append(Problem(gpath + ("aim",),
                                       f"target out of range: {what} is {route_km:.1f} km{plus}, beyond "
                                       f"max_range_km = {_num(tt.max_range_km)} of threat type '{g.threat}'; "
                                       "move the launch area closer or aim nearer",
                                       g.aim if isinstance(g.aim, str) else g.aim.model_dump()))
        n = self.threat_count
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


def _centre(a: Asset) -> tuple[float, float]:
    """An asset's centre (lat, lon), degrees: as given, or its polygon's centroid (set when it is validated)."""
    assert a.lat is not None and a.lon is not None, "Asset._position sets lat and lon"
    return a.lat, a.lon


def _distance_km(p: tuple[float, float], q: tuple[float, float]) -> float:
    return float(geo.great_circle_distance_m(math.radians(p[0]), math.radians(p[1]),
                                             math.radians(q[0]), math.radians(q[1]))) / 1e3


def format_problem(p: Problem) -> str:
    head = format_path(p.path)
    if p.has_value:
        head += f" = {format_value(p.value)}"
    return f"{head}: {p.message}"
