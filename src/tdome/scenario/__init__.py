"""Scenarios: one YAML file is the whole experiment.

>>> from tdome.scenario import load_scenario
>>> sc = load_scenario()            # the built-in notional Taiwan Strait raid
>>> sc.threat_types["srbm_df15"].class_
'ballistic'
"""

from tdome.scenario.catalog import builtin_catalog, builtin_catalog_path
from tdome.scenario.loader import (
    ErrorItem,
    ScenarioError,
    default_scenario_path,
    load_catalog_text,
    load_scenario,
    load_scenario_text,
    read_scenario_data,
    scenario_from_dict,
    validate_file,
)
from tdome.scenario.schema import (
    Asset,
    Battery,
    C2Settings,
    Catalog,
    InterceptorType,
    LatLon,
    LaunchArea,
    PkTable,
    Radar,
    RadarType,
    Raid,
    Region,
    Scenario,
    ThreatGroup,
    ThreatType,
    Wave,
)

__all__ = [
    "Asset",
    "Battery",
    "C2Settings",
    "Catalog",
    "ErrorItem",
    "InterceptorType",
    "LatLon",
    "LaunchArea",
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
    "default_scenario_path",
    "load_catalog_text",
    "load_scenario",
    "load_scenario_text",
    "read_scenario_data",
    "scenario_from_dict",
    "validate_file",
]
