"""Scenarios: one YAML file is the whole experiment.

>>> from tdome.scenario import load_scenario
>>> sc = load_scenario()            # the built-in notional Taiwan Strait raid
>>> sc.threat_types["srbm_df15"].class_
'ballistic'

For a new user, :func:`starter_text` is a small commented scenario to start from, and
:func:`json_schema` the JSON Schema of a scenario file (docs/scenario-reference.md is made
from it by tools/scenario_reference.py).
"""

from tdome.scenario.catalog import (
    Catalog,
    InterceptorType,
    Manoeuvre,
    PkTable,
    RadarType,
    ThreatType,
    builtin_catalog,
    builtin_catalog_path,
)
from tdome.scenario.errors import ErrorItem, ScenarioError
from tdome.scenario.loader import (
    BUILTIN_SCENARIOS,
    builtin_scenario_path,
    default_scenario_path,
    load_catalog_text,
    load_defended_side,
    load_scenario,
    load_scenario_text,
    read_scenario_data,
    scenario_from_dict,
    starter_scenario_path,
    starter_text,
    validate_file,
)
from tdome.scenario.schema import (
    Asset,
    Battery,
    C2Settings,
    DefendedSide,
    LatLon,
    LaunchArea,
    Radar,
    Raid,
    Region,
    Scenario,
    ThreatGroup,
    Wave,
    json_schema,
)

__all__ = [
    "BUILTIN_SCENARIOS",
    "Asset",
    "Battery",
    "C2Settings",
    "Catalog",
    "DefendedSide",
    "ErrorItem",
    "InterceptorType",
    "LatLon",
    "LaunchArea",
    "Manoeuvre",
    "PkTable",
    "Radar",
    "RadarType",
    "Raid",
    "Region",
    "Scenario",
    "ScenarioError",
    "ThreatGroup",
    "ThreatType",
    "Wave",
    "builtin_catalog",
    "builtin_catalog_path",
    "builtin_scenario_path",
    "default_scenario_path",
    "json_schema",
    "load_catalog_text",
    "load_defended_side",
    "load_scenario",
    "load_scenario_text",
    "read_scenario_data",
    "scenario_from_dict",
    "starter_scenario_path",
    "starter_text",
    "validate_file",
]
