"""The scenario JSON Schema, and docs/scenario-reference.md generated from it (which must never drift)."""

from __future__ import annotations

import copy
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tdome.scenario import Scenario, builtin_catalog, json_schema, read_scenario_data, starter_scenario_path

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "scenario_reference.py"
REFERENCE = ROOT / "docs" / "scenario-reference.md"
SMALL = ROOT / "tests" / "data" / "small.yaml"


def _tool():
    spec = importlib.util.spec_from_file_location("scenario_reference", TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def schema() -> dict:
    return json_schema()


def _scenario_files() -> list[tuple[str, object]]:
    return [("default", read_scenario_data(None)[0]), ("small", read_scenario_data(SMALL)[0]),
            ("starter", read_scenario_data(starter_scenario_path())[0])]


# --------------------------------------------------------------------------- the JSON Schema


def test_schema_is_plain_json_with_a_dialect_and_every_model(schema: dict) -> None:
    assert json.loads(json.dumps(schema)) == schema
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert set(schema["required"]) == {"name", "seed", "duration_s", "assets", "radars", "raid"}
    for name in ("Asset", "Radar", "Battery", "Raid", "Wave", "ThreatGroup", "Catalog", "InterceptorType",
                 "PkTable", "C2Settings", "TrackerSettings", "DoctrineSettings", "AssignmentSettings"):
        assert name in schema["$defs"], name


def test_every_field_has_a_description(schema: dict) -> None:
    models = {"Scenario": schema, **schema["$defs"]}
    missing = []
    for model_name, model in models.items():
        assert model.get("description"), f"{model_name} has no description"
        for field, prop in model.get("properties", {}).items():
            ref = prop.get("$ref", "").rsplit("/", 1)[-1]
            # pydantic leaves a field's description out where it repeats its model's own
            if not (prop.get("description") or (ref and schema["$defs"][ref].get("description"))):
                missing.append(f"{model_name}.{field}")
    assert not missing, f"fields without a description: {missing}"


@pytest.mark.parametrize("field, unit", [
    (("Scenario", "duration_s"), ", s"), (("Battery", "reload_time_s"), ", s"),
    (("InterceptorType", "max_range_km"), "km"), (("ThreatType", "speed_mps"), "m/s"),
    (("Radar", "alt_m"), ", m"), (("Radar", "boresight_az_deg"), "degrees"), (("Asset", "lat"), "degrees"),
    (("ThreatType", "rcs_m2"), "m²"), (("RadarType", "snr_ref_db"), "dB"), (("ThreatType", "cost_usd"), "US dollars"),
    (("TrackerSettings", "q_air_mps2"), "m/s²"), (("TrackerSettings", "false_alarm_density_per_km3"), "km³"),
])
def test_descriptions_say_units(schema: dict, field, unit: str) -> None:
    model, name = field
    props = (schema if model == "Scenario" else schema["$defs"][model])["properties"]
    assert unit in props[name]["description"]


def test_numbers_carry_standard_bounds(schema: dict) -> None:
    battery = schema["$defs"]["Battery"]["properties"]
    assert battery["launchers"] == {**battery["launchers"], "type": "integer", "minimum": 1}
    assert schema["properties"]["duration_s"]["exclusiveMinimum"] == 0
    assert schema["$defs"]["LatLon"]["properties"]["lat"]["minimum"] == -90
    text = json.dumps(schema)
    for pydantic_only in ('"gt":', '"ge":', '"lt":', '"le":'):  # not JSON Schema keywords
        assert pydantic_only not in text


def test_catalog_overrides_of_built_in_names_need_no_field(schema: dict) -> None:
    threats = schema["$defs"]["Catalog"]["properties"]["threats"]
    assert set(threats["properties"]) == set(builtin_catalog().threats)
    assert threats["additionalProperties"] == {"$ref": "#/$defs/ThreatType"}  # a new name: complete
    assert "required" not in schema["$defs"]["InterceptorTypeOverride"]
    assert schema["$defs"]["InterceptorTypeOverride"]["properties"]["pk"]["$ref"] == "#/$defs/PkTableOverride"


def _structural_check(schema: dict, data) -> list[str]:
    """A small stand-in for a JSON Schema validator: types, required and unknown keys, $ref and anyOf."""
    defs = schema["$defs"]
    kinds = {"object": dict, "array": list, "string": str, "null": type(None), "boolean": bool}

    def check(node: dict, value, path: str) -> list[str]:
        if "$ref" in node:
            return check(defs[node["$ref"].rsplit("/", 1)[-1]], value, path)
        arms = node.get("anyOf") or node.get("oneOf")
        if arms:
            results = [check(a, value, path) for a in arms]
            return [] if any(not r for r in results) else [f"{path}: no arm matches"]
        t = node.get("type")
        if t == "number":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif t == "integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = t is None or isinstance(value, kinds[t])
        if not ok:
            return [f"{path}: not {t}"]
        if "enum" in node and value not in node["enum"]:
            return [f"{path}: not in enum"]
        errs = []
        if t == "object":
            props = node.get("properties", {})
            errs += [f"{path}.{k}: missing" for k in node.get("required", []) if k not in value]
            for k, v in value.items():
                if k in props:
                    errs += check(props[k], v, f"{path}.{k}")
                elif isinstance(node.get("additionalProperties"), dict):
                    errs += check(node["additionalProperties"], v, f"{path}.{k}")
                elif node.get("additionalProperties") is False:
                    errs.append(f"{path}.{k}: unknown")
        if t == "array":
            for i, v in enumerate(value):
                item = node["prefixItems"][i] if "prefixItems" in node else node.get("items", {})
                errs += check(item, v, f"{path}[{i}]")
        return errs

    return check({k: v for k, v in schema.items() if k != "$defs"}, data, "")


def _validator(schema: dict):
    try:
        import jsonschema
    except ImportError:  # not a dependency of tdome: fall back to the structural check
        return lambda data: _structural_check(schema, data)
    jsonschema.Draft202012Validator.check_schema(schema)
    v = jsonschema.Draft202012Validator(schema)
    return lambda data: [f"{list(e.absolute_path)}: {e.message}" for e in v.iter_errors(data)]


@pytest.mark.parametrize("name, data", _scenario_files(), ids=[f[0] for f in _scenario_files()])
def test_the_schema_accepts_the_shipped_scenarios(schema: dict, name: str, data) -> None:
    assert _validator(schema)(data) == []
    assert _structural_check(schema, data) == []


@pytest.mark.parametrize("mutate", [
    lambda d: d.__setitem__("seed", "4"),
    lambda d: d.__setitem__("duration_s", True),
    lambda d: d["batteries"][0].__setitem__("launchers", "3"),
    lambda d: d["batteries"][0].__setitem__("magzine", 3),
    lambda d: d["batteries"][0].__setitem__("layer", "middle"),
    lambda d: d.__setitem__("catalog", {"interceptors": {"brand_new": {"layer": "mid"}}}),
], ids=["string_seed", "bool_duration", "string_launchers", "unknown_field", "bad_layer", "incomplete_new_entry"])
def test_the_schema_refuses_what_the_loader_refuses(schema: dict, mutate) -> None:
    data = copy.deepcopy(read_scenario_data(SMALL)[0])
    mutate(data)
    assert _validator(schema)(data)
    assert _structural_check(schema, data)


def test_the_schema_accepts_a_partial_override_of_a_built_in_entry(schema: dict) -> None:
    data = copy.deepcopy(read_scenario_data(SMALL)[0])
    data["catalog"] = {"interceptors": {"mid_tk3": {"pk": {"drone": 0.5}}}}
    assert _validator(schema)(data) == []


def test_schema_matches_the_model() -> None:
    props = json_schema()["properties"]
    assert list(props) == [f.alias or n for n, f in Scenario.model_fields.items()]


# --------------------------------------------------------------------------- the reference document


def test_the_committed_reference_is_what_the_tool_writes_now() -> None:
    expected = _tool().render()
    assert REFERENCE.is_file(), "docs/scenario-reference.md is missing; run: python tools/scenario_reference.py"
    assert REFERENCE.read_text(encoding="utf-8") == expected, (
        "docs/scenario-reference.md is out of date; run: python tools/scenario_reference.py")


def test_the_reference_has_a_table_row_per_field(schema: dict) -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    for model_name, model in {"Scenario": schema, **schema["$defs"]}.items():
        if model_name.endswith("Override"):
            continue
        assert f"\n## {model_name}\n" in text, model_name
        section = text.split(f"\n## {model_name}\n", 1)[1].split("\n## ", 1)[0]
        assert "| field | type | default | unit / description | allowed values |" in section
        for field in model["properties"]:
            assert f"| `{field}` |" in section, f"{model_name}.{field}"
    for name in builtin_catalog().interceptors:
        assert f"| `{name}` |" in text


def test_the_tool_check_mode(tmp_path: Path) -> None:
    stale = tmp_path / "ref.md"
    stale.write_text("old\n")
    r = subprocess.run([sys.executable, str(TOOL), "--check", "--out", str(stale)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 1 and "out of date" in r.stderr
    r = subprocess.run([sys.executable, str(TOOL), "--out", str(stale)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0
    assert stale.read_text(encoding="utf-8") == REFERENCE.read_text(encoding="utf-8")
    r = subprocess.run([sys.executable, str(TOOL), "--check", "--out", str(stale)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0
