"""Strict scenario validation: numbers are numbers, magazines hold the loaded rounds, catalog overrides merge."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

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

MINIMAL = {
    "name": "strict",
    "seed": 1,
    "duration_s": 600.0,
    "assets": [
        {"name": "A", "kind": "city", "value": 10.0, "lat": 24.0, "lon": 120.6, "radius_km": 3.0},
        {"name": "P", "kind": "industry", "value": 5.0, "polygon": [[24.1, 120.6], [24.1, 120.7], [24.0, 120.7]]},
    ],
    "radars": [{"name": "R1", "type": "fcr_mpq65", "lat": 24.0, "lon": 120.5, "boresight_az_deg": 270.0}],
    "batteries": [
        {"name": "B1", "layer": "mid", "interceptor": "mid_tk3", "lat": 24.0, "lon": 120.55,
         "launchers": 2, "rounds_per_launcher": 4, "magazine": 8, "reload_time_s": 600.0},
    ],
    "raid": {"waves": [
        {"name": "w1", "start_s": 0.0, "spread_s": 30.0, "groups": [
            {"threat": "srbm_df11", "count": 2, "launch": {"lat": 25.5, "lon": 118.8, "radius_km": 5.0}, "aim": "A"},
            {"threat": "drone_owa", "count": 3, "launch": {"lat": 24.0, "lon": 120.0},
             "aim": {"lat": 24.0, "lon": 120.6}, "via": [{"lat": 24.1, "lon": 120.3}]},
        ]},
    ]},
}
G0 = ("raid", "waves", 0, "groups", 0)
G1 = ("raid", "waves", 0, "groups", 1)


def minimal() -> dict:
    return copy.deepcopy(MINIMAL)


def with_value(path: tuple, value) -> dict:
    d = minimal()
    node = d
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return d


def error_of(data: dict, tmp_path: Path, name: str = "s.yaml") -> str:
    """The message of loading ``data`` written as a YAML file (so the message has the file and line)."""
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    msg = str(info.value)
    assert name in msg and "line " in msg
    assert "Traceback" not in msg and "pydantic" not in msg
    return msg


# --------------------------------------------------------------------------- numbers given as strings


# (path, a valid value of the field, what the message says is valid)
NUMERIC_FIELDS = [
    (("seed",), 1, "an integer >= 0"),                                        # int
    (("batteries", 0, "launchers"), 2, "an integer >= 1"),                    # int with bound
    (G0 + ("count",), 2, "an integer >= 1"),
    (("duration_s",), 600.0, "a number > 0"),                                 # float
    (("batteries", 0, "reload_time_s"), 600.0, "a number >= 0"),
    (("radars", 0, "boresight_az_deg"), 270.0, "a number >= 0 and < 360"),   # optional float
    (("assets", 0, "lat"), 24.0, "a latitude in [-90, 90] degrees"),         # latitude
    (("radars", 0, "lon"), 120.5, "a longitude in [-180, 180] degrees"),     # longitude
    (("assets", 1, "polygon", 0, 0), 24.1, "a latitude in [-90, 90] degrees"),  # polygon vertex
    (G1 + ("aim", "lat"), 24.0, "a latitude"),                                # aim point in a union
    (G0 + ("launch", "radius_km"), 5.0, "a number >= 0"),
]


@pytest.mark.parametrize("path, good, valid", NUMERIC_FIELDS, ids=[".".join(map(str, f[0])) for f in NUMERIC_FIELDS])
def test_a_number_written_as_a_string_is_refused(tmp_path: Path, path, good, valid) -> None:
    assert scenario_from_dict(with_value(path, good))  # the value itself is fine
    shown = str(int(good)) if isinstance(good, int) else str(good)
    msg = error_of(with_value(path, shown), tmp_path)
    field = path[0] + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path[1:])
    assert f"{field} = '{shown}'" in msg
    assert f"must be {valid}" in msg
    assert f"not a string: write {shown} without quotes" in msg


def test_a_non_numeric_string_gets_no_quoting_hint(tmp_path: Path) -> None:
    msg = error_of(with_value(("batteries", 0, "launchers"), "many"), tmp_path)
    assert "batteries[0].launchers = 'many': must be an integer >= 1, not a string" in msg
    assert "without quotes" not in msg


@pytest.mark.parametrize("path, valid", [
    (("batteries", 0, "magazine"), "an integer >= 0"),
    (("duration_s",), "a number > 0"),
    (("assets", 0, "value"), "a number > 0"),
    (("assets", 0, "lat"), "a latitude"),
    (("c2",), None),
])
@pytest.mark.parametrize("flag", [True, False])
def test_a_boolean_is_not_a_number(tmp_path: Path, path, valid, flag: bool) -> None:
    if valid is None:  # a nested settings field (integer and float) through the C2 section
        for sub, what in ((("tracker", "confirm_m"), "an integer >= 1"), (("cycle_s",), "a number >= 0.1 and <= 60")):
            c2: dict = {}
            node = c2
            for k in sub[:-1]:
                node = node.setdefault(k, {})
            node[sub[-1]] = flag
            msg = error_of(with_value(("c2",), c2), tmp_path)
            assert f"= {'true' if flag else 'false'}: must be {what}, not true/false" in msg
        return
    msg = error_of(with_value(path, flag), tmp_path)
    assert f"= {'true' if flag else 'false'}: must be {valid}" in msg and "not true/false" in msg


def test_yaml_words_that_read_as_booleans_are_refused_too(tmp_path: Path) -> None:
    text = yaml.safe_dump(minimal(), sort_keys=False).replace("launchers: 2", "launchers: yes")
    expected = r"batteries\[0\]\.launchers = true: must be an integer >= 1, not true/false"
    with pytest.raises(ScenarioError, match=expected):
        load_scenario_text(text, source="yes.yaml")


def test_integers_are_accepted_where_numbers_are_expected() -> None:
    d = minimal()
    d["duration_s"] = 600
    d["assets"][0].update(value=10, lat=24, lon=121, radius_km=3)
    d["batteries"][0]["reload_time_s"] = 600
    d["raid"]["waves"][0]["start_s"] = 0
    d["c2"] = {"cycle_s": 2, "doctrine": {"reserve_fraction": {"upper": 0}, "reserve_until_s": 300}}
    sc = scenario_from_dict(d)
    assert sc.duration_s == 600.0 and isinstance(sc.duration_s, float)
    assert isinstance(sc.assets[0].lat, float) and sc.assets[0].lat == 24.0
    assert sc.c2.cycle_s == 2.0 and isinstance(sc.c2.doctrine.reserve_until_s, float)
    # And through YAML text, as users write it.
    assert load_scenario_text(yaml.safe_dump(d)).duration_s == 600.0


def test_a_float_is_not_an_integer(tmp_path: Path) -> None:
    msg = error_of(with_value(G0 + ("count",), 2.0), tmp_path)
    assert "count = 2.0: must be a whole number written without a decimal point (an integer >= 1): write 2" in msg
    msg = error_of(with_value(G0 + ("count",), 2.5), tmp_path)
    assert "count = 2.5: must be a whole number (an integer >= 1)" in msg


def test_yaml_exponent_numbers_are_numbers() -> None:
    # PyYAML (YAML 1.1) reads 1e6 and 2.0e6 as strings; the loader reads them as numbers, as YAML 1.2 does.
    text = yaml.safe_dump(minimal(), sort_keys=False).replace("value: 10.0", "value: 1e1").replace(
        "duration_s: 600.0", "duration_s: 6.0e2")
    sc = load_scenario_text(text)
    assert sc.assets[0].value == 10.0 and sc.duration_s == 600.0


def test_numpy_scalars_from_code_count_as_numbers() -> None:
    d = with_value(G0 + ("count",), np.int64(3))
    d["duration_s"] = np.float32(600.0)
    d["assets"][0]["lat"] = np.float64(24.0)
    sc = scenario_from_dict(d)
    assert sc.raid.waves[0].groups[0].count == 3 and type(sc.raid.waves[0].groups[0].count) is int
    assert sc.duration_s == 600.0 and type(sc.duration_s) is float


def test_catalog_numbers_are_strict_too(tmp_path: Path) -> None:
    d = minimal()
    d["catalog"] = {"interceptors": {"mid_tk3": {"pk": {"drone": "0.5"}, "reaction_s": True}}}
    msg = error_of(d, tmp_path)
    assert "catalog.interceptors.mid_tk3.pk.drone = '0.5': must be a number >= 0 and <= 1, not a string" in msg
    assert "catalog.interceptors.mid_tk3.reaction_s = true: must be a number >= 0, not true/false" in msg


def test_direct_construction_is_strict_too() -> None:
    with pytest.raises(ValueError, match="duration_s"):
        Scenario.model_validate(with_value(("duration_s",), "600"))


# --------------------------------------------------------------------------- magazine


def test_a_magazine_smaller_than_the_loaded_rounds_is_refused(tmp_path: Path) -> None:
    msg = error_of(with_value(("batteries", 0, "magazine"), 7), tmp_path)
    assert "batteries[0].magazine = 7: must be >= launchers × rounds_per_launcher (2 × 4 = 8)" in msg
    assert "loaded ones included" in msg


@pytest.mark.parametrize("magazine", [8, 9, 40])
def test_a_magazine_that_fills_the_launchers_is_accepted(magazine: int) -> None:
    sc = scenario_from_dict(with_value(("batteries", 0, "magazine"), magazine))
    assert sc.batteries[0].magazine == magazine
    assert sc.batteries[0].initial_loaded == 8


def test_the_magazine_rule_checks_the_values_given() -> None:
    d = minimal()
    d["batteries"][0].update(launchers=3, rounds_per_launcher=20, magazine=59)
    with pytest.raises(ScenarioError, match=r"\(3 × 20 = 60\)"):
        scenario_from_dict(d)
    d["batteries"][0]["magazine"] = 60
    assert scenario_from_dict(d).batteries[0].magazine == 60


def test_a_bad_launcher_count_is_reported_without_a_magazine_error() -> None:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(with_value(("batteries", 0, "launchers"), "2"))
    assert len(info.value.errors) == 1 and info.value.errors[0].path == "batteries[0].launchers"


# --------------------------------------------------------------------------- catalog overrides


def _dump_differences(a, b, prefix=()) -> set:
    """The key paths at which two (nested) dumps differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = set()
        for k in set(a) | set(b):
            out |= _dump_differences(a.get(k), b.get(k), prefix + (k,))
        return out
    return set() if a == b else {prefix}


def test_overriding_only_pk_merges_with_the_built_in_entry() -> None:
    d = minimal()
    d["catalog"] = {"interceptors": {"mid_tk3": {"pk": {"drone": 0.5}}}}
    sc = scenario_from_dict(d)
    built_in = builtin_catalog().interceptors["mid_tk3"]
    mine = sc.interceptor_types["mid_tk3"]
    assert mine.pk.drone == 0.5
    assert _dump_differences(built_in.model_dump(), mine.model_dump()) == {("pk", "drone")}
    assert builtin_catalog().interceptors["mid_tk3"].pk.drone == 0.0  # the built-in is untouched
    assert sc.resolved_catalog.interceptors["mid_tk3"] == mine


@pytest.mark.parametrize("section, name, override", [
    ("threats", "srbm_df11", {"max_range_km": 900.0}),
    ("threats", "cruise_cj10", {"cruise_alt_m": 30.0, "rcs_m2": 0.05}),
    ("radars", "fcr_mpq65", {"sector_deg": 90.0}),
    ("interceptors", "lower_tamir", {"cost_usd": 1.0e5}),
    ("interceptors", "upper_ck", {"pk": {"ballistic": 0.9, "rocket": 0.7}, "max_alt_km": 120.0}),
])
def test_a_partial_override_changes_only_the_fields_it_gives(section: str, name: str, override: dict) -> None:
    d = minimal()
    d["catalog"] = {section: {name: override}}
    sc = scenario_from_dict(d)
    built_in = getattr(builtin_catalog(), section)[name].model_dump(by_alias=True)
    mine = getattr(sc.resolved_catalog, section)[name].model_dump(by_alias=True)
    expected = {(k,) if not isinstance(v, dict) else (k, kk) for k, v in override.items()
                for kk in (v if isinstance(v, dict) else [None])}
    assert _dump_differences(built_in, mine) == expected
    for k, v in override.items():
        if isinstance(v, dict):
            assert all(mine[k][kk] == vv for kk, vv in v.items())
        else:
            assert mine[k] == v


def test_the_pk_only_override_through_a_yaml_file(tmp_path: Path) -> None:
    text = yaml.safe_dump(minimal(), sort_keys=False) + "catalog:\n  interceptors:\n    mid_tk3: {pk: {drone: 0.5}}\n"
    p = tmp_path / "override.yaml"
    p.write_text(text)
    sc = validate_file(p)
    assert sc.interceptor_types["mid_tk3"].pk.drone == 0.5
    assert load_scenario_text(sc.to_yaml()) == sc  # the resolved entry round-trips


def test_a_partial_override_is_merged_in_direct_construction_too() -> None:
    d = minimal()
    d["catalog"] = {"threats": {"srbm_df11": {"class_": "ballistic", "max_range_km": 900.0}}}
    sc = Scenario.model_validate(d)
    assert sc.threat_types["srbm_df11"].max_range_km == 900.0
    assert sc.threat_types["srbm_df11"].source == builtin_catalog().threats["srbm_df11"].source


def test_a_new_entry_must_be_complete(tmp_path: Path) -> None:
    d = minimal()
    d["catalog"] = {"interceptors": {"brand_new": {"layer": "mid", "pk": {"drone": 0.5}}}}
    msg = error_of(d, tmp_path)
    assert "catalog.interceptors.brand_new: 'brand_new' is not a built-in interceptor type" in msg
    assert "must be complete: missing speed_mps, min_range_km" in msg and "pk.ballistic" in msg
    assert "built-in interceptor types, which an entry can override field by field: lower_nasams" in msg


def test_a_misspelt_built_in_name_is_pointed_out() -> None:
    d = minimal()
    d["catalog"] = {"interceptors": {"mid_tk33": {"pk": {"drone": 0.5}}}}
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(d)
    assert len(info.value.errors) == 1
    assert "did you mean the built-in 'mid_tk3'?" in str(info.value)


def test_a_complete_new_entry_is_accepted() -> None:
    d = minimal()
    entry = builtin_catalog().interceptors["mid_tk3"].model_dump(by_alias=True)
    d["catalog"] = {"interceptors": {"mid_copy": {**entry, "cost_usd": 1.0}}}
    d["batteries"][0]["interceptor"] = "mid_copy"
    sc = scenario_from_dict(d)
    assert sc.interceptor_types["mid_copy"].cost_usd == 1.0


def test_an_override_that_breaks_a_built_in_value_says_so() -> None:
    d = minimal()
    d["catalog"] = {"interceptors": {"mid_tk3": {"min_range_km": 150.0}}}
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(d)
    msg = str(info.value)
    assert "catalog.interceptors.mid_tk3.max_range_km = 100.0: must be > min_range_km (150)" in msg
    assert "the built-in value of 'mid_tk3', not set in this file" in msg


# --------------------------------------------------------------------------- the default scenario is unchanged


def test_the_default_scenario_still_validates() -> None:
    sc = validate_file(default_scenario_path())
    assert sc == load_scenario(None)
    assert sc.catalog.model_dump() == {"threats": {}, "radars": {}, "interceptors": {}, "jammers": {}}
    for b in sc.batteries:
        assert b.magazine >= b.launchers * b.rounds_per_launcher
        assert b.initial_loaded == b.launchers * b.rounds_per_launcher


@pytest.mark.parametrize("value, bound", [(1e-6, ">= 0.1"), (600.0, "<= 60")])
def test_periods_that_would_make_a_run_endless_are_refused(tmp_path: Path, value, bound) -> None:
    data = minimal()
    data.setdefault("c2", {})["cycle_s"] = value
    msg = error_of(data, tmp_path)
    assert "c2.cycle_s" in msg and bound in msg
