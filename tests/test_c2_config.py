"""The C2's configuration has one source: the dataclasses; the scenario schema is built from them."""

import dataclasses

import pytest

from tdome.c2.assign import SOLVERS
from tdome.c2.config import (
    SOLVER_NAMES,
    AssignmentConfig,
    DoctrineConfig,
    ThreatConfig,
    file_settings,
    from_file_values,
)
from tdome.scenario.schema import AssignmentSettings, C2Settings, DoctrineSettings, ThreatSettings

SECTIONS = [(ThreatConfig, ThreatSettings), (DoctrineConfig, DoctrineSettings), (AssignmentConfig, AssignmentSettings)]


@pytest.mark.parametrize("cls, section", SECTIONS)
def test_an_empty_scenario_section_gives_the_dataclass_defaults(cls, section):
    assert from_file_values(cls, section().model_dump()) == cls()


@pytest.mark.parametrize("cls, section", SECTIONS)
def test_every_declared_setting_is_in_the_schema_with_its_documentation(cls, section):
    fields = section.model_fields
    for f, s in file_settings(cls):
        name = s.file_name or f.name
        assert name in fields, name
        assert fields[name].description == s.doc
    assert len(fields) == len(file_settings(cls))


def test_units_are_converted_once_at_the_edge():
    c = from_file_values(ThreatConfig, ThreatSettings(corridor_km=2.5).model_dump())
    assert c.corridor_m == 2500.0
    assert ThreatSettings().corridor_km == ThreatConfig().corridor_m / 1e3


def test_combination_rules_live_in_the_dataclass_and_reach_the_schema():
    with pytest.raises(ValueError, match="exact"):
        AssignmentConfig(solver="exact", objective="asset")
    with pytest.raises(ValueError, match="exact"):
        C2Settings.model_validate({"assignment": {"solver": "exact", "objective": "asset"}})


def test_the_solver_names_the_schema_offers_are_the_registered_solvers():
    assert set(SOLVER_NAMES) == set(SOLVERS)


def test_the_time_budget_never_exceeds_the_safety_deadline():
    assert AssignmentConfig().time_budget_s == AssignmentConfig().deadline_s
    assert AssignmentConfig(time_limit_s=0.5).time_budget_s == 0.5
    assert AssignmentConfig(time_limit_s=1e6).time_budget_s == AssignmentConfig().deadline_s


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DoctrineConfig().mode = "fire_all"  # type: ignore[misc]
