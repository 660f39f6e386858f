"""The starter scenario a new user copies: complete, commented, valid, and a run of it intercepts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tdome.messages import LAYERS
from tdome.scenario import json_schema, load_scenario, starter_scenario_path, starter_text

SECTIONS = ("name", "seed", "duration_s", "assets", "radars", "batteries", "raid", "c2")


@pytest.fixture(scope="module")
def starter_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("starter") / "my-scenario.yaml"
    p.write_text(starter_text(), encoding="utf-8")
    return p


def test_starter_text_is_the_package_data_file() -> None:
    assert starter_scenario_path().is_file()
    assert starter_text() == starter_scenario_path().read_text(encoding="utf-8")


def test_starter_validates_and_is_small_but_complete(starter_file: Path) -> None:
    sc = load_scenario(starter_file)
    assert 2 <= len(sc.assets) <= 5
    assert 2 <= len(sc.radars) <= 5
    layers = {b.layer for b in sc.batteries}
    assert 2 <= len(layers) <= 3 and layers <= set(LAYERS)
    assert len(sc.raid.waves) == 2
    assert 0 < sc.threat_count <= 20
    assert sc.duration_s <= 900
    data = yaml.safe_load(starter_text())
    assert isinstance(data["seed"], int)
    for key in SECTIONS:
        assert key in data, key


def test_every_section_has_a_comment_pointing_at_the_reference() -> None:
    text = starter_text()
    assert "docs/scenario-reference.md" in text
    sections = {"Scenario", *json_schema()["$defs"]}
    lines = text.splitlines()
    for key in ("name", "assets", "radars", "batteries", "raid", "c2"):
        i = next(n for n, ln in enumerate(lines) if re.match(rf"{key}:", ln))
        above = lines[i - 1]
        assert above.startswith("#"), f"no comment above the {key!r} section"
        # The comment block above the section names the reference section(s) to read, in [brackets].
        block = []
        for ln in reversed(lines[:i]):
            if not ln.startswith("#"):
                break
            block.append(ln)
        named = [n for group in re.findall(r"\[([A-Z][A-Za-z0-9, ]+)\]", " ".join(block)) for n in group.split(", ")]
        assert named, f"the {key!r} comment names no reference section"
        assert set(named) <= sections, f"the {key!r} comment names {named}; reference sections: {sorted(sections)}"


def test_the_commented_out_catalog_example_is_valid_too(tmp_path: Path) -> None:
    text = starter_text()
    head, tail = text.split("\n# catalog:\n")
    example = head + "\ncatalog:\n" + re.sub(r"^# ", "", tail, flags=re.M)  # uncomment the catalog block
    assert "\ncatalog:\n" in example
    p = tmp_path / "with-catalog.yaml"
    p.write_text(example, encoding="utf-8")
    sc = load_scenario(p)
    assert sc.interceptor_types["mid_tk3"].pk.cruise == 0.85


def test_a_run_of_the_starter_finishes_with_intercepts(starter_file: Path) -> None:
    from tdome.sim.engine import run
    from tdome.sim.report import summarize

    s = summarize(run(load_scenario(starter_file)))
    assert s["threats"]["total"] == load_scenario(starter_file).threat_count
    assert s["threats"]["killed"] > 0
    assert s["interceptors"]["shots_at_decoys"] == 0
