"""The built-in catalog of notional threat, radar, interceptor and jammer types.

The figures live in ``scenario/data/catalog.yaml``; every entry carries a
``source`` naming the public reporting it is drawn from (or "notional"), and
``scenario/data/README.md`` explains the choices.  A scenario's own
``catalog`` section extends these entries, or overrides them field by field by name
(:func:`tdome.scenario.schema.merge_catalog_overrides`).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    ValidationInfo,
    field_validator,
)

from tdome.messages import BALLISTIC_CLASS_NAMES, THREAT_CLASSES
from tdome.scenario.fields import (
    AIR_BREATHING_CLASSES,
    Int,
    Layer,
    Name,
    Num,
    Probability,
    RadarRole,
    Source,
    ThreatClassName,
    _doc,
    _Frozen,
    _Model,
    above,
)
from tdome.scenario.yamlio import parse_yaml

# --------------------------------------------------------------------------- catalog types


class DecoySpec(_Frozen):
    """The decoys a ballistic missile can release above the atmosphere.

    A decoy leaves the warhead with a small push and flies the same arc in
    vacuum, where the radars cannot tell it from the warhead; on re-entry the
    air slows a light object far more than the heavy warhead, and that is
    what the C2 measures to discriminate it.
    """

    max_count: Int(ge=1) = _doc(
        "Most decoys one missile carries; a raid group asks for up to this many per missile (its decoys).")
    rcs_m2: Num(gt=0.0) = _doc(
        "Radar cross section of one decoy, m² (a replica of the warhead's signature is what makes it a decoy).")
    ballistic_coefficient_kg_m2: Num(gt=0.0) = _doc(
        "Ballistic coefficient β = m / (C_D A) of one decoy, kg/m²: light objects have tens to hundreds, the "
        "warhead thousands.")
    release_s: Num(gt=0.0) = _doc(
        "Release time after launch (burnout), s; a missile that lands before it releases nothing.")
    spread_mps: Num(ge=0.0) = _doc(
        "Speed each decoy is pushed off at, in a random direction, m/s: sets how far the cloud spreads.", 2.0)


class Manoeuvre(_Frozen):
    """A re-entry vehicle's terminal manoeuvre: below a start altitude it adds a commanded acceleration."""

    kind: Literal["weave", "pull_up_dive"] = _doc(
        "weave: a lateral sine of amplitude accel_g and period period_s, horizontal and perpendicular to the "
        "velocity, from the start altitude to impact; pull_up_dive: one period of the same sine in the vertical "
        "plane of the track, a pull-up over the first half period, then a push-over into the dive.")
    below_alt_m: Num(ge=1000.0, le=200000.0) = _doc(
        "Start altitude, m: the manoeuvre starts when the vehicle descends below it (at the apogee if it never "
        "climbs that high).")
    accel_g: Num(gt=0.0, le=60.0) = _doc(
        "Amplitude of the commanded acceleration, in g (9.80665 m/s²); a small constant trim the vehicle adds "
        "to land on its aim comes on top.")
    period_s: Num(gt=0.0, le=600.0) = _doc("Period of the sine, s.")


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
    seeker: Literal["anti_radiation"] | None = _doc(
        "anti_radiation: homes on the radar its group aims at while that radar emits; once the radar is silent "
        "(or lost) it flies on to the radar's last known position and drifts off it at drift_mps. Air-breathing "
        "classes only. Null: it flies to its aim point.", None)
    drift_mps: Num(ge=0.0) = _doc(
        "Anti-radiation threats: how fast the miss grows once the radar goes silent, m/s (navigation drift).", 0.0)
    ballistic_coefficient_kg_m2: Num(gt=0.0) | None = _doc(
        "Ballistic coefficient β = m / (C_D A) of the re-entry vehicle, kg/m² (ballistic and rocket only): it "
        "feels drag ρ v² / (2β) in the standard atmosphere. Null: vacuum free flight all the way down (a dense "
        "warhead nearly does).", None)
    decoys: DecoySpec | None = _doc(
        "Decoys the missile can release (ballistic and rocket only); a raid group sets how many. Null: none.",
        None)
    manoeuvre: Manoeuvre | None = _doc(
        "A terminal manoeuvre of the re-entry vehicle (ballistic and rocket classes only): the threat flies its "
        "ballistic arc down to below_alt_m, then manoeuvres and still lands on its aim. Null: free flight to "
        "impact.", None)
    description: str = _doc("Free text.", "")
    source: Source = _doc("Where the figures come from: the public source, or 'notional'. Required.")

    @field_validator("ballistic_coefficient_kg_m2", "decoys", "manoeuvre")
    @classmethod
    def _ballistic_only(cls, v: Any, info: ValidationInfo) -> Any:
        c = info.data.get("class_")
        if v is not None and c not in BALLISTIC_CLASS_NAMES:
            raise ValueError(f"only for ballistic/rocket classes ({', '.join(BALLISTIC_CLASS_NAMES)}); "
                             f"remove it (or set it to null) for class '{c}'")
        return v

    @field_validator("seeker")
    @classmethod
    def _seeker(cls, v: str | None, info: ValidationInfo) -> str | None:
        c = info.data.get("class_")
        if v is not None and c not in AIR_BREATHING_CLASSES:
            raise ValueError(f"only for air-breathing classes ({', '.join(AIR_BREATHING_CLASSES)}); "
                             f"remove it (or set it to null) for class '{c}'")
        return v

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
    max_range_km: Annotated[Num(gt=0.0), above("min_range_km")] = _doc(
        "Maximum instrumented range, km; must be > min_range_km.")
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
    max_el_deg: Annotated[Num(ge=-90.0, le=90.0), above("min_el_deg")] = _doc(
        "Highest elevation covered, degrees; must be > min_el_deg.", 90.0)
    snr_ref_db: Num() = _doc("Signal-to-noise ratio of a 1 m² target at ref_range_km, dB (radar sensitivity).")
    ref_range_km: Num(gt=0.0) = _doc("Range at which the SNR of a 1 m² target is snr_ref_db, km.")
    pfa: Num(gt=0.0, lt=1.0) = _doc(
        "Probability of false alarm of the detection threshold (with the SNR it sets the probability of "
        "detection, Swerling I). Dimensionless.", 1e-6)
    false_alarms_per_scan: Num(ge=0.0) = _doc(
        "Expected number of false (clutter) plots per scan over the whole coverage.", 0.0)
    frequency_ghz: Num(gt=0.0) = _doc(
        "Carrier frequency, GHz: sets the wavelength of the jamming equation, and which jammers are in band.", 3.0)
    gain_db: Num(ge=0.0) = _doc("Main-lobe gain of the receiving antenna, dBi (jamming equation).", 35.0)
    sidelobe_db: Num(le=0.0) = _doc(
        "Side-lobe level relative to the main lobe, dB (≤ 0): the gain toward a jammer away from the beam.", -30.0)
    beamwidth_deg: Num(gt=0.0, le=90.0) = _doc(
        "3 dB beamwidth, degrees: a jammer within about this angle of the target looked at comes in through the "
        "main lobe.", 2.0)
    bandwidth_mhz: Num(gt=0.0) = _doc(
        "Receiver bandwidth, MHz: sets the noise power k·T0·F·B and the share of a wider jammer's noise received.",
        1.0)
    noise_figure_db: Num(ge=0.0) = _doc("Receiver noise figure, dB.", 4.0)
    description: str = _doc("Free text.", "")
    source: Source = _doc("Where the figures come from: the public source, or 'notional'. Required.")


class JammerType(_Frozen):
    """A kind of noise jammer: its power toward the radars, its noise bandwidth and the band it covers."""

    erp_w: Num(gt=0.0) = _doc("Effective radiated power toward the radar (transmitter power times antenna gain), W.")
    bandwidth_mhz: Num(gt=0.0) = _doc(
        "Bandwidth of the noise, MHz: a radar receives the share B_radar / B_jammer of it (all of it when its own "
        "bandwidth is wider).")
    min_freq_ghz: Num(gt=0.0) = _doc("Lowest frequency jammed, GHz: radars below it do not hear the jammer.")
    max_freq_ghz: Annotated[Num(gt=0.0), above("min_freq_ghz")] = _doc(
        "Highest frequency jammed, GHz; must be > min_freq_ghz.")
    description: str = _doc("Free text.", "")
    source: Source = _doc("Where the figures come from: the public source, or 'notional'. Required.")


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
    max_range_km: Annotated[Num(gt=0.0), above("min_range_km")] = _doc(
        "Maximum intercept range from the battery, km; must be > min_range_km.")
    min_alt_km: Num(ge=0.0) = _doc("Lowest intercept altitude, km.")
    max_alt_km: Annotated[Num(gt=0.0), above("min_alt_km")] = _doc(
        "Highest intercept altitude, km; must be > min_alt_km.")
    reaction_s: Num(ge=0.0) = _doc("Reaction time from fire order to launch, s.")
    pk: PkTable = _doc("Single-shot kill probability per threat class; at least one must be > 0.")
    cost_usd: Num(ge=0.0) = _doc("Cost of one round, US dollars.")
    homing_basket_m: Num(ge=0.0) = _doc(
        "Seeker homing basket, m: a threat within this distance of the aim point at intercept time is homed on "
        "(then the pk draw decides); otherwise the round misses.")
    launch_reliability: Probability = _doc(
        "Probability that a round fired leaves the rail and flies (separate from pk): a round that fails is spent "
        "and no interceptor flies.", 1.0)
    description: str = _doc("Free text.", "")
    source: Source = _doc("Where the figures come from: the public source, or 'notional'. Required.")

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
    jammers: dict[Name, JammerType] = _doc("Noise jammer types by name" + _OVERRIDE, default_factory=dict)

    def merged(self, override: Catalog) -> Catalog:
        """This catalog with ``override``'s entries added or replacing same-named ones."""
        return Catalog(
            threats={**self.threats, **override.threats},
            radars={**self.radars, **override.radars},
            interceptors={**self.interceptors, **override.interceptors},
            jammers={**self.jammers, **override.jammers},
        )



CATALOG_FILE = "catalog.yaml"


def builtin_catalog_path() -> Path:
    """Filesystem path of the built-in catalog YAML."""
    return Path(str(resources.files("tdome.scenario").joinpath("data", CATALOG_FILE)))


@lru_cache(maxsize=1)
def builtin_catalog() -> Catalog:
    """The built-in catalog, parsed and validated once (entries are immutable)."""
    res = resources.files("tdome.scenario").joinpath("data", CATALOG_FILE)
    data, _ = parse_yaml(res.read_text(encoding="utf-8"), str(res))
    return Catalog.model_validate(data)  # the shipped file; a test keeps it valid


def threat_type(name: str) -> ThreatType:
    """A built-in threat type by name (KeyError if unknown)."""
    return builtin_catalog().threats[name]


def radar_type(name: str) -> RadarType:
    """A built-in radar type by name (KeyError if unknown)."""
    return builtin_catalog().radars[name]


def interceptor_type(name: str) -> InterceptorType:
    """A built-in interceptor type by name (KeyError if unknown)."""
    return builtin_catalog().interceptors[name]


def jammer_type(name: str) -> JammerType:
    """A built-in jammer type by name (KeyError if unknown)."""
    return builtin_catalog().jammers[name]


# --------------------------------------------------------------------------- catalog overrides


CATALOG_SECTIONS = ("threats", "radars", "interceptors", "jammers")


def merge_catalog_overrides(raw: dict) -> dict:
    """A scenario's raw ``catalog`` mapping with each entry under a built-in name merged onto that entry.

    The override wins field by field and nested mappings (``pk``) merge key by key, so
    ``{interceptors: {mid_tk3: {pk: {drone: 0.5}}}}`` changes one number and keeps the rest of the
    built-in ``mid_tk3``.  Entries with a new name are left as given (they must be complete), and
    anything that is not a mapping is left for validation to report.
    """
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


