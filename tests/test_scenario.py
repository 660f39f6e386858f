"""Scenario schema, built-in catalog, default scenario and loader error messages."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tdome.messages import LAYERS, THREAT_CLASSES
from tdome.scenario import (
    Scenario,
    ScenarioError,
    builtin_catalog,
    default_scenario_path,
    load_scenario,
    load_scenario_text,
    scenario_from_dict,
    validate_file,
)
from tdome.scenario.schema import polygon_centroid

MINIMAL = {
    "name": "minimal",
    "seed": 1,
    "duration_s": 600.0,
    "assets": [
        {"name": "A", "kind": "city", "value": 10.0, "lat": 24.0, "lon": 120.6, "radius_km": 3.0},
        {"name": "P", "kind": "industry", "value": 5.0,
         "polygon": [[24.1, 120.6], [24.1, 120.7], [24.0, 120.7]]},
    ],
    "radars": [{"name": "R1", "type": "fcr_mpq65", "lat": 24.0, "lon": 120.5, "boresight_az_deg": 270.0}],
    "batteries": [
        {"name": "B1", "layer": "mid", "interceptor": "mid_tk3", "lat": 24.0, "lon": 120.55,
         "launchers": 2, "rounds_per_launcher": 4, "magazine": 8, "reload_time_s": 600.0},
    ],
    "raid": {
        "waves": [
            {"name": "w1", "start_s": 0.0, "spread_s": 30.0, "groups": [
                {"threat": "srbm_df11", "count": 2, "launch": {"lat": 25.5, "lon": 118.8, "radius_km": 5.0},
                 "aim": "A"},
                {"threat": "drone_owa", "count": 3, "launch": {"lat": 24.0, "lon": 120.0},
                 "aim": {"lat": 24.0, "lon": 120.6}, "via": [{"lat": 24.1, "lon": 120.3}], "label": "x"},
            ]},
        ],
    },
}


def minimal() -> dict:
    return copy.deepcopy(MINIMAL)


def write(tmp_path: Path, name: str, data) -> Path:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return p


def assert_clean_message(msg: str) -> None:
    """No traceback or pydantic internals leak into the user-facing text."""
    for bad in ("Traceback", 'File "', "errors.pydantic.dev", "For further information", "input_type="):
        assert bad not in msg


# --------------------------------------------------------------------------- the default scenario


@pytest.fixture(scope="module")
def default() -> Scenario:
    return load_scenario()


def test_default_scenario_loads(default: Scenario) -> None:
    assert default_scenario_path().is_file()
    assert load_scenario(default_scenario_path()) == default
    assert len(default.assets) >= 8
    assert len(default.radars) >= 6
    assert {b.layer for b in default.batteries} == set(LAYERS)
    assert default.threat_count >= 150
    by_class = default.threat_counts_by_class()
    assert all(by_class[c] > 0 for c in THREAT_CLASSES)
    kinds = {a.kind for a in default.assets}
    assert {"city", "industry", "air_base", "power_plant", "port"} <= kinds
    assert any(a.polygon for a in default.assets)


def test_default_waves_span_about_twenty_minutes(default: Scenario) -> None:
    first = min(w.start_s for w in default.raid.waves)
    last = max(w.start_s + w.spread_s for w in default.raid.waves)
    assert 15 * 60 <= last - first <= 25 * 60
    assert 1200 <= default.duration_s <= 1800
    assert last < default.duration_s


def test_default_has_decoys_aimed_at_sea_or_empty_ground(default: Scenario) -> None:
    decoys = [g for _, g in default.groups()
              if "decoy" in g.label.lower() and ("sea" in g.label.lower() or "empty" in g.label.lower())]
    assert len(decoys) >= 2
    for g in decoys:
        assert g.aim_asset is None
        lat, lon = default.aim_point(g)
        for a in default.assets:
            d = math.dist((lat, lon), (a.lat, a.lon)) * 111.0
            assert d > 10.0, (g.label, a.name)


def test_default_ballistic_groups_within_range(default: Scenario) -> None:
    # The loader already enforces this; check it independently.
    types = default.threat_types
    for _, g in default.groups():
        tt = types[g.threat]
        if tt.class_ in ("ballistic", "rocket"):
            lat, lon = default.aim_point(g)
            d = math.dist((g.launch.lat, g.launch.lon * math.cos(math.radians(lat))),
                          (lat, lon * math.cos(math.radians(lat)))) * 111.2
            assert d + g.launch.radius_km <= tt.max_range_km * 1.01
            assert not g.via


def test_resolved_view(default: Scenario) -> None:
    assert default.threat_types["srbm_df15"].class_ == "ballistic"
    assert default.radar_types["fcr_mpq65"].sector_deg < 360
    assert default.interceptor_types["mid_tk3"].layer == "mid"
    for b in default.batteries:
        assert default.interceptor_types[b.interceptor].layer == b.layer
    for r in default.radars:
        assert r.type in default.radar_types
    g = default.raid.waves[0].groups[0]
    a = default.assets_by_name[g.aim]
    assert default.aim_point(g) == (a.lat, a.lon)
    assert dict(default.c2.doctrine.salvo) == {"ballistic": 2, "rocket": 1, "cruise": 1, "drone": 1, "aircraft": 1}


# --------------------------------------------------------------------------- the built-in catalog


def test_builtin_catalog() -> None:
    cat = builtin_catalog()
    for name in ("srbm_df15", "srbm_df11", "rocket_phl16", "cruise_cj10", "drone_owa", "fighter_strike"):
        assert name in cat.threats
    for name in ("ewr_leshan", "fcr_mpq65", "fcr_short", "coastal_surv"):
        assert name in cat.radars
    for name, layer in (("upper_ck", "upper"), ("mid_tk3", "mid"), ("lower_nasams", "lower"), ("short_tc2", "short")):
        assert cat.interceptors[name].layer == layer
    for entry in [*cat.threats.values(), *cat.radars.values(), *cat.interceptors.values()]:
        assert entry.source.strip()
    for it in cat.interceptors.values():
        assert set(it.pk.as_dict()) == set(THREAT_CLASSES)
        assert it.max_range_km > it.min_range_km and it.max_alt_km > it.min_alt_km
    # The upper layer engages ballistic targets only (missiles and rockets), never air-breathing ones.
    assert cat.interceptors["upper_ck"].pk.as_dict() == {"ballistic": pytest.approx(0.85), "rocket": pytest.approx(0.8),
                                                         "cruise": 0.0, "drone": 0.0, "aircraft": 0.0}
    assert {t.class_ for t in cat.threats.values()} == set(THREAT_CLASSES)


def test_file_catalog_extends_and_overrides() -> None:
    d = minimal()
    d["catalog"] = {
        "threats": {
            "srbm_df11": {"class": "ballistic", "speed_mps": 1500, "max_range_km": 2000, "rcs_m2": 0.1,
                          "lethal_radius_m": 100, "cost_usd": 1e6, "source": "notional"},
            "glide_x": {"class": "cruise", "speed_mps": 600, "cruise_alt_m": 20000, "max_range_km": 900,
                        "rcs_m2": 0.2, "lethal_radius_m": 50, "cost_usd": 5e6, "source": "notional"},
        },
    }
    d["raid"]["waves"][0]["groups"][0]["launch"] = {"lat": 30.0, "lon": 115.0}  # out of range for the built-in
    d["raid"]["waves"][0]["groups"].append(
        {"threat": "glide_x", "count": 1, "launch": {"lat": 25.0, "lon": 119.0}, "aim": "P"})
    sc = scenario_from_dict(d)
    assert sc.threat_types["srbm_df11"].max_range_km == 2000
    assert sc.threat_types["glide_x"].class_ == "cruise"
    assert "srbm_df15" in sc.threat_types
    assert builtin_catalog().threats["srbm_df11"].max_range_km < 2000  # built-in untouched


# --------------------------------------------------------------------------- loader behaviour


def test_minimal_loads_and_polygon_centroid(tmp_path: Path) -> None:
    sc = validate_file(write(tmp_path, "ok.yaml", minimal()))
    p = sc.assets_by_name["P"]
    assert (p.lat, p.lon) == pytest.approx(polygon_centroid(p.polygon))
    assert p.lat == pytest.approx((24.1 + 24.1 + 24.0) / 3)
    assert sc.batteries[0].initial_loaded == 8
    assert sc.aim_point(sc.raid.waves[0].groups[1]) == (24.0, 120.6)
    ext = sc.extent
    assert ext.lat_min < 24.0 < 25.5 < ext.lat_max and ext.lon_min < 118.8 < 120.7 < ext.lon_max
    assert sc.c2.tracker.confirm_m == 3 and sc.c2.doctrine.mode == "shoot_look_shoot"


def test_seed_override(tmp_path: Path) -> None:
    p = write(tmp_path, "ok.yaml", minimal())
    assert load_scenario(p).seed == 1
    assert load_scenario(p, seed=42).seed == 42
    assert load_scenario(seed=7).seed == 7
    with pytest.raises(ScenarioError, match="must be an integer >= 0"):
        load_scenario(p, seed=-3)


@pytest.mark.parametrize("which", ["minimal", "default"])
def test_round_trip(tmp_path: Path, which: str, default: Scenario) -> None:
    sc = scenario_from_dict(minimal()) if which == "minimal" else default
    p = write(tmp_path, "rt.yaml", yaml.safe_dump(sc.model_dump(), sort_keys=False))
    again = load_scenario(p)
    assert again == sc
    assert load_scenario_text(sc.to_yaml()) == sc


def test_direct_construction_checks_the_whole_file() -> None:
    d = minimal()
    d["batteries"][0]["interceptor"] = "upper_ck"
    with pytest.raises(ValueError, match=r"batteries\[0\]\.layer"):
        Scenario.model_validate(d)


# --------------------------------------------------------------------------- bad input


def _set(path, value):
    def f(d):
        *head, last = path
        for k in head:
            d = d[k]
        d[last] = value
    return f


def _del(path):
    def f(d):
        *head, last = path
        for k in head:
            d = d[k]
        del d[last]
    return f


G0 = ("raid", "waves", 0, "groups", 0)
G1 = ("raid", "waves", 0, "groups", 1)

# (case id, mutation of MINIMAL, substrings the message must hold: field path, bad value, hint)
BAD_FIELDS = [
    ("missing_field", _del(("batteries", 0, "launchers")),
     ["batteries[0].launchers", "required field is missing"]),
    ("wrong_type", _set(("batteries", 0, "launchers"), "many"),
     ["batteries[0].launchers", "'many'", "must be an integer"]),
    ("not_whole", _set(("batteries", 0, "launchers"), 2.5),
     ["batteries[0].launchers", "2.5", "whole number"]),
    ("bool_for_number", _set(("assets", 0, "value"), True),
     ["assets[0].value", "true", "must be a number"]),
    ("extra_field_typo", _set(("batteries", 0, "magzine"), 3),
     ["batteries[0].magzine", "= 3", "unknown field", "did you mean 'magazine'", "allowed fields:"]),
    ("top_level_typo", _set(("sed",), 3),
     ["sed", "= 3", "unknown field", "did you mean 'seed'"]),
    ("unknown_radar_type", _set(("radars", 0, "type"), "fcr_x"),
     ["radars[0].type", "'fcr_x'", "unknown radar type", "known types: coastal_surv, ewr_leshan, fcr_mpq65"]),
    ("unknown_threat_type", _set(G0 + ("threat",), "srbm_dff11"),
     ["raid.waves[0].groups[0].threat", "'srbm_dff11'", "unknown threat type", "did you mean 'srbm_df11'",
      "known types:"]),
    ("unknown_interceptor_type", _set(("batteries", 0, "interceptor"), "patriot"),
     ["batteries[0].interceptor", "'patriot'", "unknown interceptor type", "mid_tk3"]),
    ("unknown_aim_asset", _set(G0 + ("aim",), "Taipie"),
     ["raid.waves[0].groups[0].aim", "'Taipie'", "unknown asset, radar or battery",
      "known assets, radars and batteries: A, B1, P, R1"]),
    ("aim_wrong_type", _set(G1 + ("aim",), 5),
     ["raid.waves[0].groups[1].aim", "= 5", "asset name or a mapping {lat, lon}"]),
    ("aim_point_bad_lat", _set(G1 + ("aim",), {"lat": 91, "lon": 120}),
     ["raid.waves[0].groups[1].aim.lat", "91", "[-90, 90]"]),
    ("negative_magazine", _set(("batteries", 0, "magazine"), -4),
     ["batteries[0].magazine", "-4", "must be >= 0"]),
    ("latitude_95", _set(("assets", 0, "lat"), 95),
     ["assets[0].lat", "95", "latitude must be in [-90, 90]"]),
    ("longitude_200", _set(("radars", 0, "lon"), 200.0),
     ["radars[0].lon", "200.0", "longitude must be in [-180, 180]"]),
    ("no_waves", _set(("raid", "waves"), []),
     ["raid.waves", "[]", "at least 1 item"]),
    ("no_groups", _set(("raid", "waves", 0, "groups"), []),
     ["raid.waves[0].groups", "[]", "at least 1 item"]),
    ("zero_threats", _set(G0 + ("count",), 0),
     ["raid.waves[0].groups[0].count", "= 0", "must be >= 1"]),
    ("duplicate_asset", lambda d: d["assets"].append(dict(d["assets"][0], lat=23.0)),
     ["assets[2].name", "'A'", "duplicate name", "assets[0]"]),
    ("duplicate_battery", lambda d: d["batteries"].append(dict(d["batteries"][0])),
     ["batteries[1].name", "'B1'", "duplicate name"]),
    ("layer_mismatch", _set(("batteries", 0, "interceptor"), "upper_ck"),
     ["batteries[0].layer", "'mid'", "upper_ck", "set layer: upper"]),
    ("bad_layer", _set(("batteries", 0, "layer"), "middle"),
     ["batteries[0].layer", "'middle'", "must be one of 'upper', 'mid', 'lower' or 'short'"]),
    ("ballistic_out_of_range", _set(G0 + ("launch",), {"lat": 30.0, "lon": 112.0, "radius_km": 5.0}),
     ["raid.waves[0].groups[0].aim", "'A'", "out of range", "max_range_km = 320", "srbm_df11"]),
    ("via_for_ballistic", _set(G0 + ("via",), [{"lat": 24.5, "lon": 119.5}]),
     ["raid.waves[0].groups[0].via", "lat: 24.5", "air-breathing threats only"]),
    ("confirm_n_below_m", _set(("c2",), {"tracker": {"confirm_m": 4, "confirm_n": 3}}),
     ["c2.tracker.confirm_n", "= 3", "must be >= confirm_m (4)"]),
    ("nan_duration", _set(("duration_s",), float("nan")),
     ["duration_s", ".nan", "finite number"]),
    ("negative_duration", _set(("duration_s",), -5),
     ["duration_s", "-5", "must be > 0"]),
    ("bad_doctrine_mode", _set(("c2",), {"doctrine": {"mode": "shoot_shoot_look"}}),
     ["c2.doctrine.mode", "'shoot_shoot_look'", "'shoot_look_shoot' or 'fire_all'"]),
    ("bad_solver", _set(("c2",), {"assignment": {"solver": "hungarian"}}),
     ["c2.assignment.solver", "'hungarian'", "'greedy', 'local_search' or 'exact'"]),
    ("exact_with_asset_objective", _set(("c2",), {"assignment": {"solver": "exact", "objective": "asset"}}),
     ["c2.assignment", "solver 'exact' handles objective 'target' only"]),
    ("bad_motion_model", _set(("c2",), {"tracker": {"motion": "singer"}}),
     ["c2.tracker.motion", "'singer'", "'cv' or 'imm'"]),
    ("ukf_with_jpda", _set(("c2",), {"tracker": {"filter": "ukf", "association": "jpda"}}),
     ["c2.tracker", "use filter 'ekf'"]),
    ("reserve_fraction_one", _set(("c2",), {"doctrine": {"reserve_fraction": {"upper": 1.0}}}),
     ["c2.doctrine.reserve_fraction.upper", "1.0", "must be < 1"]),
    ("bad_polygon_vertex", _set(("assets", 1, "polygon"), [[24.1, 120.6], [24.1], [24.0, 120.7]]),
     ["assets[1].polygon[1]", "[24.1]", "pair [lat, lon]"]),
    ("asset_without_position", _del(("assets", 0, "lat")),
     ["assets[0]", "lon: 120.6", "give both lat and lon"]),
    ("wave_after_end", _set(("raid", "waves", 0, "start_s"), 900.0),
     ["raid.waves[0].start_s", "900.0", "must be < duration_s"]),
    ("catalog_entry_missing_alt", _set(("catalog",), {"threats": {"t1": {
        "class": "cruise", "speed_mps": 200, "max_range_km": 500, "rcs_m2": 1, "lethal_radius_m": 10,
        "cost_usd": 0, "source": "notional"}}}),
     ["catalog.threats.t1.cruise_alt_m", "null", "required for air-breathing"]),
    ("catalog_bad_pk", _set(("catalog",), {"interceptors": {"i1": {
        "layer": "mid", "speed_mps": 1000, "min_range_km": 1, "max_range_km": 50, "min_alt_km": 0,
        "max_alt_km": 20, "reaction_s": 5, "cost_usd": 1, "homing_basket_m": 100, "source": "notional",
        "pk": {"ballistic": 1.5, "rocket": 0, "cruise": 0, "drone": 0, "aircraft": 0}}}}),
     ["catalog.interceptors.i1.pk.ballistic", "1.5", "must be <= 1"]),
]


@pytest.mark.parametrize("case, mutate, expected", BAD_FIELDS, ids=[c[0] for c in BAD_FIELDS])
def test_bad_field_messages(tmp_path: Path, case: str, mutate, expected: list[str]) -> None:
    d = minimal()
    mutate(d)
    p = write(tmp_path, f"bad_{case}.yaml", d)
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    msg = str(info.value)
    assert f"bad_{case}.yaml" in msg
    for part in expected:
        assert part in msg, f"{part!r} not in:\n{msg}"
    assert "line " in msg  # points into the file
    assert_clean_message(msg)
    assert info.value.__cause__ is None


BAD_FILES = [
    ("unparsable", "name: x\nseed: [1, 2\nduration_s: 3\n", ["line 3", "not valid YAML", "expected ',' or ']'"]),
    ("tab_indent", "name: x\n\tseed: 1\n", ["line 2", "not valid YAML"]),
    ("top_level_list", "- a\n- b\n", ["top level must be a mapping", "got a list"]),
    ("top_level_scalar", "just a string\n", ["top level must be a mapping", "'just a string'"]),
    ("empty", "", ["file is empty"]),
    ("duplicate_key", "name: x\nseed: 1\nseed: 2\n", ["line 3", "duplicate key 'seed'", "first at line 2"]),
]


@pytest.mark.parametrize("case, text, expected", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_bad_file_messages(tmp_path: Path, case: str, text: str, expected: list[str]) -> None:
    p = write(tmp_path, f"bad_{case}.yaml", text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    msg = str(info.value)
    assert f"bad_{case}.yaml" in msg
    for part in expected:
        assert part in msg, f"{part!r} not in:\n{msg}"
    assert_clean_message(msg)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"nope\.yaml.*file not found"):
        load_scenario(tmp_path / "nope.yaml")
    with pytest.raises(ScenarioError, match="is a directory"):
        load_scenario(tmp_path)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(ScenarioError, match="not a UTF-8 text file"):
        load_scenario(binary)


def test_several_errors_are_all_listed(tmp_path: Path) -> None:
    d = minimal()
    d["batteries"][0]["magazine"] = -1
    d["assets"][0]["lat"] = 95
    d["radars"][0]["alt"] = 10
    p = write(tmp_path, "many.yaml", d)
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    msg = str(info.value)
    assert "many.yaml': 3 errors" in msg
    assert len(info.value.errors) == 3
    lines = msg.splitlines()
    assert len(lines) == 4
    assert any("batteries[0].magazine" in ln for ln in lines)
    assert any("assets[0].lat" in ln for ln in lines)
    assert any("radars[0].alt " in ln and "did you mean 'alt_m'" in ln for ln in lines)


def test_whole_file_errors_are_all_listed(tmp_path: Path) -> None:
    d = minimal()
    d["radars"][0]["type"] = "nope"
    d["raid"]["waves"][0]["groups"][0]["aim"] = "Nowhere"
    d["batteries"][0]["interceptor"] = "short_tc2"
    with pytest.raises(ScenarioError) as info:
        load_scenario(write(tmp_path, "sem.yaml", d))
    assert len(info.value.errors) == 3


# --------------------------------------------------------------------------- property-based


NUMERIC_PATHS = [
    ("seed",), ("duration_s",),
    ("assets", 0, "lat"), ("assets", 0, "lon"), ("assets", 0, "value"), ("assets", 0, "radius_km"),
    ("assets", 1, "polygon", 0, 0), ("assets", 1, "polygon", 2, 1),
    ("radars", 0, "lat"), ("radars", 0, "lon"), ("radars", 0, "alt_m"), ("radars", 0, "boresight_az_deg"),
    ("batteries", 0, "lat"), ("batteries", 0, "lon"), ("batteries", 0, "magazine"), ("batteries", 0, "launchers"),
    ("batteries", 0, "rounds_per_launcher"), ("batteries", 0, "reload_time_s"),
    ("raid", "waves", 0, "start_s"), ("raid", "waves", 0, "spread_s"),
    G0 + ("count",), G0 + ("launch", "lat"), G0 + ("launch", "lon"), G0 + ("launch", "radius_km"),
    G1 + ("aim", "lat"), G1 + ("aim", "lon"), G1 + ("via", 0, "lat"), G1 + ("aim_spread_km",),
]

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-400, max_value=400),
    st.integers(),
    st.integers(min_value=-5, max_value=5),
)
odd_values = st.one_of(numbers, st.none(), st.booleans(), st.text(max_size=4), st.lists(st.integers(), max_size=2))


def _apply(d: dict, path: tuple, value) -> None:
    *head, last = path
    for k in head:
        d = d[k]
    d[last] = value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(NUMERIC_PATHS), numbers), min_size=1, max_size=4))
def test_numeric_mutations_accept_or_scenario_error(mutations) -> None:
    d = minimal()
    for path, value in mutations:
        _apply(d, path, value)
    try:
        sc = scenario_from_dict(d, source="mutated.yaml")
    except ScenarioError as e:
        msg = str(e)
        assert "mutated.yaml" in msg
        assert_clean_message(msg)
    else:
        assert isinstance(sc, Scenario)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(NUMERIC_PATHS), odd_values), min_size=1, max_size=3))
def test_odd_values_through_yaml_accept_or_scenario_error(mutations) -> None:
    d = minimal()
    for path, value in mutations:
        _apply(d, path, value)
    try:
        load_scenario_text(yaml.safe_dump(d), source="odd.yaml")
    except ScenarioError as e:
        assert "odd.yaml" in str(e)
        assert_clean_message(str(e))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes(text: str) -> None:
    try:
        load_scenario_text(text, source="fuzz.yaml")
    except ScenarioError as e:
        assert "fuzz.yaml" in str(e)



@pytest.mark.parametrize("value", ["!!bool x", "!!int", "!!timestamp x", "!!float [1]", "!!int 0x"])
def test_a_tag_that_does_not_fit_its_value_is_a_scenario_error(tmp_path, value) -> None:
    f = tmp_path / "tagged.yaml"
    f.write_text(f"name: x\nseed: {value}\n")
    with pytest.raises(ScenarioError, match=r"tagged\.yaml"):
        load_scenario(f)
