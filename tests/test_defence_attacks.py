"""Attacks on the defence itself: radars and batteries aimed at, destroyed, defended; the C2 learns only from plots
and battery status."""

from __future__ import annotations

import numpy as np
import pytest

from tdome.scenario import ScenarioError
from tdome.sensors.radar import RadarModel
from tdome.sim.build import build_assets
from tdome.sim.engine import run
from tdome.sim.report import summarize
from test_end_to_end import small


def _strike(target: str, count: int = 3, start_s: float = 0.0):
    """A mutation of the small raid: ballistic missiles aimed at ``target``, and no battery that could stop them
    but the layers below the upper one (which do not engage ballistic missiles this short)."""

    def mutate(d):
        d["raid"]["waves"].insert(0, {"name": "strike", "start_s": start_s, "spread_s": 5.0, "groups": [
            {"threat": "srbm_df11", "count": count, "launch": {"lat": 25.6, "lon": 119.0, "radius_km": 2.0},
             "aim": target, "aim_spread_km": 0.05}]})
        d["batteries"] = [b for b in d["batteries"] if b["layer"] != "upper" and b["layer"] != "mid"]

    return mutate


def test_a_destroyed_radar_stops_at_its_death_and_the_picture_goes_on(monkeypatch):
    scans: list[tuple[str, float]] = []
    original = RadarModel.scan

    def recording(self, t_s, *args, **kw):
        scans.append((self.site.name, float(t_s)))
        return original(self, t_s, *args, **kw)

    monkeypatch.setattr(RadarModel, "scan", recording)
    rec = run(small(_strike("Gap filler Hsinchu")))
    lost = [e for e in rec.events if e["kind"] == "radar_lost"]
    assert [e["detail"] for e in lost] == ["Gap filler Hsinchu"]
    t_dead = lost[0]["time_s"]
    s = summarize(rec)
    assert s["defence_lost"]["radars"] == {"Gap filler Hsinchu": t_dead}
    gap = [t for name, t in scans if name == "Gap filler Hsinchu"]
    assert gap and max(gap) < t_dead  # it scanned until then, and never after
    assert max(t for name, t in scans if name == "FCR North") > t_dead + 60.0
    # The picture goes on from the other radars: tracks are recorded well after the loss.
    track_times = np.array([row[0] for row in rec.track_rows])
    assert (track_times > t_dead + 60.0).any()
    # A radar without a value is no asset: its loss is not in the defended value.
    assert "Gap filler Hsinchu" not in s["hits_by_asset"]
    # The strike on it is no decoy (the small raid's decoys are labelled so); this radar stands in the science
    # park's footprint, so the missiles count as aimed at that asset.
    assert s["threats"]["aimed_at_defence"] == 0
    assert s["threats"]["decoys"] == sum(label.startswith("decoy") for label in rec.raid.label)


def test_a_battery_hit_loses_its_launchers_and_is_no_longer_ordered():
    rec = run(small(_strike("Lower Hsinchu", count=4)))
    lost = [e for e in rec.events if e["kind"] == "battery_lost"]
    assert [e["battery"] for e in lost] and all(e["detail"].startswith("Lower Hsinchu") for e in lost)
    t_hit = lost[0]["time_s"]
    k = lost[0]["battery"]
    bat = rec.batteries[k]
    assert bat.name == "Lower Hsinchu" and bat.stock == 0 and bat.ready_rounds(t_hit + 1.0) == 0
    assert bat.status(t_hit + 1.0).stock_rounds == 0  # what the C2 hears from it
    cycle = float(rec.scenario.c2.cycle_s)
    # Orders reach it only from C2 decisions made before its status told of the loss (one status period).
    late = [e for e in rec.events if e["kind"] == "launch" and e["battery"] == k and e["time_s"] > t_hit + 2 * cycle]
    assert late == []
    s = summarize(rec)
    assert s["defence_lost"]["batteries"] == {"Lower Hsinchu": t_hit}
    assert s["defence_lost"]["rounds_on_launchers"] + s["defence_lost"]["rounds_stranded"] > 0
    # A study's row carries the losses and the leakers' causes.
    from tdome.studies.results import outcome_row

    row = outcome_row(s)
    assert row["batteries_lost"] == 1 and row["radars_lost"] == 0
    assert row["leakers_untracked"] + row["leakers_not_engaged"] + row["leakers_engaged_missed"] == row["leakers"]


def test_a_valued_battery_is_a_defended_asset_the_c2_defends():
    def value(d):
        _strike("Mid Hsinchu", count=2, start_s=30.0)(d)
        d["batteries"].append({"name": "Mid Hsinchu", "layer": "mid", "interceptor": "mid_tk3", "lat": 24.800,
                               "lon": 120.960, "launchers": 4, "rounds_per_launcher": 4, "magazine": 24,
                               "reload_time_s": 900.0, "value": 80.0})

    sc = small(value)
    assets = build_assets(sc)
    assert [(a.name, a.kind, a.value) for a in assets[-1:]] == [("Mid Hsinchu", "battery", 80.0)]
    rec = run(sc)
    s = summarize(rec)
    aimed = [i for i, n in enumerate(rec.raid.wave) if n == "strike"]
    assert all(rec.raid.intended_asset[i] == len(assets) - 1 for i in aimed)
    assert "Mid Hsinchu" in s["hits_by_asset"]
    # The battery defends itself: it fires at the missiles aimed at it.
    engaged = {e["threat_id"] for e in rec.events if e["kind"] == "launch"}
    assert engaged & set(aimed)


def test_bad_targets_are_refused():
    def unknown(d):
        d["raid"]["waves"][0]["groups"][0]["aim"] = "FCR Nrth"

    with pytest.raises(ScenarioError, match=r"unknown asset, radar or battery 'FCR Nrth'.*did you mean 'FCR North'"):
        small(unknown)

    def clash(d):
        d["radars"][0]["value"] = 10.0
        d["radars"][0]["name"] = "Taipei"

    with pytest.raises(ScenarioError, match="also the name of an asset"):
        small(clash)


def test_the_contested_scenario_is_built_in_by_name(tmp_path):
    from tdome.scenario import load_scenario
    from tdome.studies.spec import scenario_field
    from test_cli import tdome

    sc = load_scenario("contested")
    assert sc.raid.jammers and any(g.jammer for _, g in sc.groups())
    aimed = {g.aim for _, g in sc.groups() if isinstance(g.aim, str)}
    assert {"Mid Taichung", "Mid Chiayi"} <= aimed
    assert {b.name for b in sc.batteries if b.value} == {"Mid Taichung", "Mid Chiayi"}
    assert scenario_field({"scenario": "contested"}, tmp_path / "study.yaml", []) == "contested"
    (tmp_path / "contested").write_text("not a scenario: [")  # a file of that name wins over the built-in
    assert scenario_field({"scenario": "contested"}, tmp_path / "study.yaml", []) == str(tmp_path / "contested")
    r = tdome("validate", "contested")
    assert r.returncode == 0, r.stderr
