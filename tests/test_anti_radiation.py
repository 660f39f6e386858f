"""Anti-radiation threats and emission control: a radar that emits is found; a silent one makes no plots, and
the seeker then misses it by its drift."""

from __future__ import annotations

import numpy as np
import pytest

from tdome import geo
from tdome.scenario import ScenarioError
from tdome.sim.engine import run
from tdome.sim.network import Network
from tdome.sim.report import summarize
from test_end_to_end import small

TARGET = "Gap filler Hsinchu"


def _arm(silent=None, count=2, target=TARGET, launch=(24.80, 120.25)):
    def mutate(d):
        d["raid"]["waves"].insert(0, {"name": "suppression", "start_s": 20.0, "spread_s": 4.0, "groups": [
            {"threat": "arm_yj91", "count": count, "launch": {"lat": launch[0], "lon": launch[1]}, "aim": target}]})
        d["batteries"] = []  # nothing shoots them down: the test is about the seeker
        if silent is not None:
            for r in d["radars"]:
                if r["name"] == target:
                    r["emcon"] = {"silent": silent}

    return mutate


def _plot_times(monkeypatch) -> list[tuple[str, float]]:
    sent: list[tuple[str, float]] = []
    original = Network.send

    def recording(self, t, kind, src, dst, payload, **kw):
        if kind == "plots":
            sent.append((src, float(t)))
        return original(self, t, kind, src, dst, payload, **kw)

    monkeypatch.setattr(Network, "send", recording)
    return sent


def test_an_emitting_radar_is_found_and_destroyed():
    rec = run(small(_arm()))
    s = summarize(rec)
    assert s["anti_radiation"] == {"threats": 2, "landed": 2, "on_their_radar": 1}  # the second finds it gone
    assert list(s["defence_lost"]["radars"]) == [TARGET]


def test_a_silent_radar_makes_no_plots_and_the_seeker_misses_it_by_its_drift(monkeypatch):
    sent = _plot_times(monkeypatch)
    quiet = 60.0
    rec = run(small(_arm(silent=[[quiet, 900.0]])))
    s = summarize(rec)
    assert s["defence_lost"]["radars"] == {}  # it survives
    assert s["anti_radiation"]["on_their_radar"] == 0 and s["anti_radiation"]["landed"] == 2
    assert s["emcon"]["silent_scans"][TARGET] > 0
    assert "plots_lost_to_silence" in s["emcon"]
    times = [t for src, t in sent if src == TARGET]
    assert times and max(times) < quiet  # it sent plots before its silence and none during it
    assert any(src != TARGET and t > quiet for src, t in sent)  # the others go on
    # Each seeker lands its drift times the time since the radar fell silent away from where it aimed.
    site = next(r for r in rec.sites if r.name == TARGET)
    arms = np.flatnonzero(rec.raid.arm_radar >= 0)
    for i in arms:
        landed = [e for e in rec.events if e["threat_id"] == i and e["kind"] in ("leak", "impact")]
        assert len(landed) == 1
        lat, lon = np.radians(landed[0]["lat_deg"]), np.radians(landed[0]["lon_deg"])
        aim_lat, aim_lon, _ = geo.ecef_to_geodetic(rec.raid.trajectories.impact_ecef[i])
        miss = float(geo.great_circle_distance_m(aim_lat, aim_lon, lat, lon))
        want = rec.raid.drift_mps[i] * (rec.raid.trajectories.impact_s[i] - quiet)
        assert miss == pytest.approx(want, rel=1e-6)
        assert float(geo.great_circle_distance_m(site.lat_rad, site.lon_rad, lat, lon)) > rec.raid.lethal_radius_m[i]


def test_anti_radiation_threats_must_aim_at_a_radar():
    def bad(d):
        _arm()(d)
        d["raid"]["waves"][0]["groups"][0]["aim"] = "Taipei"

    with pytest.raises(ScenarioError, match="homes on radars: aim it at a radar by name"):
        small(bad)

    def unknown(d):
        _arm()(d)
        d["raid"]["waves"][0]["groups"][0]["aim"] = "FCR Nowhere"

    with pytest.raises(ScenarioError, match="unknown asset, radar or battery 'FCR Nowhere'"):
        small(unknown)

    def backwards(d):
        _arm(silent=[[100.0, 50.0]])(d)

    with pytest.raises(ScenarioError, match="must end after it starts"):
        small(backwards)


def test_the_c2_orders_a_threatened_radar_silent_and_the_seeker_misses():
    """Emission control on the C2's word: a radar given a value is an asset; a track assessed to reach it soon
    has it ordered silent (from the picture, never from truth), and the seeker then drifts off it."""

    target = "Changhua coastal"  # alone on the coast: the track's path reaches it before any other asset

    def valued(emcon_s):
        def mutate(d):
            _arm(target=target, launch=(23.95, 119.60))(d)
            for r in d["radars"]:
                if r["name"] == target:
                    r["value"] = 30.0
            if emcon_s is not None:
                d.setdefault("c2", {}).setdefault("doctrine", {})["emcon_time_to_go_s"] = emcon_s

        return mutate

    quiet = summarize(rec := run(small(valued(90.0))))
    silenced = [e for e in rec.events if e["kind"] == "radar_silenced"]
    assert silenced and silenced[0]["detail"].startswith(target)
    assert quiet["defence_lost"]["radars"] == {} and quiet["anti_radiation"]["on_their_radar"] == 0
    assert quiet["emcon"]["silent_scans"][target] > 0
    loud = summarize(run(small(valued(None))))
    assert list(loud["defence_lost"]["radars"]) == [target]

    # Over a network the order takes its link's latency to reach the radar, like any other message.
    def networked(d):
        valued(90.0)(d)
        d["network"] = {"default_link": {"latency_ms": 1500.0}}

    late = run(small(networked))
    heard = [e for e in late.events if e["kind"] == "radar_silenced"]
    assert heard
    ordered = float(heard[0]["detail"].split("ordered at ")[1].split(" s")[0])
    assert heard[0]["time_s"] - ordered == pytest.approx(1.5)
    assert late.messages["emcon"]["delivered"] >= 1
    # Without a value the radar is no asset: the seekers aimed at it are counted apart, not as decoys.
    plain = run(small(_arm(target=target, launch=(23.95, 119.60))))
    ps = summarize(plain)
    assert ps["threats"]["aimed_at_defence"] == 2
    assert ps["threats"]["decoys"] == sum(label.startswith("decoy") for label in plain.raid.label)
