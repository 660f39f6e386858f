"""The tracker's configuration has one source (tdome.c2.tracking.config): defaults, units and rules.

The scenario schema's ``c2.tracker`` section is built from TrackerConfig's
declared settings, and the rules on combinations run once, in
TrackerConfig, whether the configuration comes from code or from a file.
"""

import dataclasses

import pytest
from pydantic import ValidationError
from scipy.stats import chi2

from tdome.c2.config import file_settings, from_file_values
from tdome.c2.tracking import Tracker, TrackerConfig, TrackerConfigError
from tdome.c2.tracking.config import ASSOCIATIONS, FILTERS, INITIATIONS, MOTIONS
from tdome.scenario.schema import C2Settings, TrackerSettings


def test_an_empty_tracker_section_gives_the_dataclass_defaults():
    assert from_file_values(TrackerConfig, TrackerSettings().model_dump()) == TrackerConfig()


def test_every_declared_setting_is_in_the_schema_with_its_documentation_and_default():
    fields = TrackerSettings.model_fields
    for f, s in file_settings(TrackerConfig):
        name = s.file_name or f.name
        assert name in fields, name
        assert fields[name].description == s.doc
        file_default = fields[name].default
        assert (file_default * s.scale if s.scale != 1.0 else file_default) == f.default, name
    assert len(fields) == len(file_settings(TrackerConfig))


def test_densities_are_per_km3_in_files_and_per_m3_inside():
    section = TrackerSettings(false_alarm_density_per_km3=2e-6, new_target_density_per_km3=3e-7)
    c = from_file_values(TrackerConfig, section.model_dump())
    assert c.false_alarm_density_m3 == 2e-6 * 1e-9 and c.new_target_density_m3 == 3e-7 * 1e-9
    assert TrackerSettings().false_alarm_density_per_km3 == 1e-6  # as the scenario reference shows it


def test_the_merge_distance_is_the_95_percent_point_of_chi2_6():
    assert TrackerConfig().merge_d2 == float(chi2.ppf(0.95, 6))


@pytest.mark.parametrize("settings, message", [
    ({"motion": "imm", "drag_beta_min_kg_m2": 500.0}, "works with motion 'cv'"),
    ({"filter": "ukf", "association": "jpda"}, "use filter 'ekf'"),
    ({"confirm_m": 4, "confirm_n": 3}, r"must be >= confirm_m \(4\)"),
    ({"motion": "singer"}, "motion 'singer': must be 'cv' or 'imm'"),
    ({"initiation": "mofn"}, "must be 'm_of_n' or 'score'"),
])
def test_combination_rules_live_in_the_dataclass(settings, message):
    with pytest.raises(TrackerConfigError, match=message):
        TrackerConfig(**settings)
    assert issubclass(TrackerConfigError, ValueError)


def test_the_rules_reach_the_scenario_at_the_field_they_name():
    with pytest.raises(ValidationError) as info:
        C2Settings.model_validate({"tracker": {"confirm_m": 4, "confirm_n": 3}})
    (err,) = info.value.errors()
    assert err["loc"] == ("tracker", "confirm_n") and err["input"] == 3 and "confirm_m (4)" in err["msg"]
    with pytest.raises(ValidationError) as info:
        C2Settings.model_validate({"tracker": {"filter": "ukf", "association": "jpda"}})
    (err,) = info.value.errors()
    assert err["loc"] == ("tracker",) and "use filter 'ekf'" in err["msg"]


def test_every_allowed_combination_builds_a_tracker():
    for motion in MOTIONS:
        for filt in FILTERS:
            for association in ASSOCIATIONS:
                for initiation in INITIATIONS:
                    kw = dict(motion=motion, filter=filt, association=association, initiation=initiation)
                    try:
                        cfg = TrackerConfig(**kw)
                    except TrackerConfigError:
                        with pytest.raises(ValidationError):
                            TrackerSettings(**kw)
                        continue
                    assert TrackerSettings(**kw)
                    assert len(Tracker(cfg, sensors=[])) == 0


def test_the_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TrackerConfig().motion = "imm"  # type: ignore[misc]
