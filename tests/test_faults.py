"""Equipment faults: radars and launchers down at the start or failing and repaired, rounds failing at launch."""

from __future__ import annotations

import numpy as np

from tdome.sensors.radar import RadarModel
from tdome.sim.engine import run
from tdome.sim.report import summarize
from tdome.world.faults import HOUR_S, down_seconds, down_windows, is_down
from test_end_to_end import small


def test_down_windows_follow_their_means():
    """Alternating exponential periods: over a long time the share down is MTTR / (MTBF + MTTR)."""
    rng = np.random.default_rng(1)
    w = down_windows(rng, 0.0, mtbf_h=9.0, mttr_h=1.0, duration_s=20_000 * HOUR_S)
    share = down_seconds(w, 20_000 * HOUR_S) / (20_000 * HOUR_S)
    assert abs(share - 0.1) < 0.01
    assert abs(np.mean(w[:, 1] - w[:, 0]) / HOUR_S - 1.0) < 0.05
    never = down_windows(np.random.default_rng(2), 0.0, None, 1.0, 1e6)
    assert never.shape == (0, 2)
    always_down = down_windows(np.random.default_rng(3), 1.0, None, 1e9, 3600.0)
    assert is_down(always_down, 0.0) and is_down(always_down, 3599.0)


def test_a_radar_down_from_the_start_makes_no_plots_and_a_battery_with_faults_fires_less(monkeypatch):
    scans: list[str] = []
    original = RadarModel.scan

    def recording(self, t_s, *args, **kw):
        scans.append(self.site.name)
        return original(self, t_s, *args, **kw)

    monkeypatch.setattr(RadarModel, "scan", recording)

    def faults(d):
        d["radars"][3]["availability"] = {"down_at_start": 1.0, "mttr_h": 1000.0}  # FCR North, never repaired
        for b in d["batteries"]:
            b["availability"] = {"down_at_start": 1.0, "mttr_h": 1000.0}  # every launcher down

    rec = run(small(faults))
    assert "FCR North" not in scans and "FCR Central" in scans
    s = summarize(rec)
    assert s["faults"]["radar_down_s"]["FCR North"] > 800.0
    assert set(s["faults"]["launcher_down_s"]) == {b.name for b in rec.batteries}
    assert not [e for e in rec.events if e["kind"] == "launch"]  # nothing can fire
    assert all(b.status(100.0).ready_rounds == 0 for b in rec.batteries)  # and the C2 hears so


def test_rounds_that_fail_at_launch_are_spent_and_fly_nowhere():
    def unreliable(d):
        d.setdefault("catalog", {})["interceptors"] = {
            name: {"launch_reliability": 0.5} for name in ("upper_ck", "mid_tk3", "lower_nasams", "lower_tamir",
                                                          "short_gun")}

    rec = run(small(unreliable))
    fails = [e for e in rec.events if e["kind"] == "launch_failure"]
    launches = [e for e in rec.events if e["kind"] == "launch"]
    s = summarize(rec)
    n_fail = sum(e["rounds"] for e in fails)
    assert n_fail == s["faults"]["launch_failures"] > 0
    flown = len(rec.flyouts)
    assert flown == sum(e["rounds"] for e in launches)
    spent = sum(b.magazine - b.stock for b in rec.batteries)
    assert spent == flown + n_fail  # a failed round is spent
    # About half the rounds fired fail.
    assert 0.3 < n_fail / (flown + n_fail) < 0.7
    clean = summarize(run(small()))
    assert clean["faults"] == {"radar_down_s": {}, "launcher_down_s": {}, "launch_failures": 0}
