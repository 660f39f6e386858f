"""Noise jamming: the radar equation with the jamming term against closed forms, strobes, and whole runs."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import yaml

from tdome import geo
from tdome.messages import SensorSite
from tdome.scenario import ScenarioError, scenario_from_dict
from tdome.sensors.jamming import (
    BOLTZMANN,
    LIGHT_MPS,
    STROBE_JNR,
    T0_K,
    JammerState,
    Receiver,
    self_screening_burn_through_m,
)
from tdome.sensors.radar import RadarModel
from test_scenario import minimal

LAT, LON = np.radians(24.0), np.radians(120.0)
DB = 10.0


def _lin(db: float) -> float:
    return 10 ** (db / DB)


# A notional C-band fire-control radar written in physical units: the radar equation gives its SNR_ref.
PT_W, GAIN_DB, FREQ_GHZ, BW_MHZ, NF_DB, REF_M = 1.0e5, 40.0, 5.5, 5.0, 4.0, 100e3


def _snr_ref() -> float:
    lam = LIGHT_MPS / (FREQ_GHZ * 1e9)
    noise = BOLTZMANN * T0_K * _lin(NF_DB) * BW_MHZ * 1e6
    return PT_W * _lin(GAIN_DB) ** 2 * lam ** 2 * 1.0 / ((4 * np.pi) ** 3 * REF_M ** 4 * noise)


def _radar(sector_deg: float = 360.0, sidelobe_db: float = -30.0) -> RadarModel:
    site = SensorSite(index=0, name="R", lat_rad=float(LAT), lon_rad=float(LON), alt_m=10.0, max_range_m=400e3,
                      min_range_m=0.0, min_el_rad=-0.1, max_el_rad=1.5, az_center_rad=0.0,
                      az_half_width_rad=math.radians(sector_deg / 2), revisit_s=1.0, sigma_range_m=10.0,
                      sigma_az_rad=1e-3, sigma_el_rad=1e-3)
    rx = Receiver.of(GAIN_DB, sidelobe_db, 2.0, FREQ_GHZ, BW_MHZ, NF_DB)
    return RadarModel(site, _snr_ref(), REF_M, 1e-6, 0.0, np.random.default_rng(0), receiver=rx)


def _at(az_deg: float, ground_m: float, alt_m: float) -> np.ndarray:
    lat, lon = geo.destination(LAT, LON, math.radians(az_deg), ground_m)
    return geo.geodetic_to_ecef(float(lat), float(lon), alt_m)


def _jammers(pos, erp_w, bw_mhz=100.0, band=(4.0, 8.0)) -> JammerState:
    pos = np.atleast_2d(np.asarray(pos, dtype=float))
    n = len(pos)
    return JammerState(pos, np.full(n, float(erp_w)), np.full(n, bw_mhz * 1e6), np.full(n, band[0] * 1e9),
                       np.full(n, band[1] * 1e9))


def _sinr(radar: RadarModel, pos: np.ndarray, rcs: float, jam: JammerState) -> float:
    """The SINR the model computes for a target at ``pos`` (from its Pd, inverted)."""
    r = float(np.linalg.norm(pos - radar.site.ecef))
    jnr = radar.jamming_to_noise(pos[None, :], jam)
    pd = float(radar.detection_probability(np.array([r]), np.array([rcs]), jnr)[0])
    return math.log(radar.pfa) / math.log(pd) - 1.0


@pytest.mark.parametrize("erp_w, rcs, sinr_db", [(100.0, 1.0, 13.0), (10.0, 1.0, 10.0), (1.0, 5.0, 15.0)])
def test_self_screening_burn_through_matches_the_closed_form(erp_w, rcs, sinr_db):
    """S/J = Pt G σ Bj / (4π ERP R² Br) (Skolnik §10.7): R_bt = √(Pt G σ Bj / (4π ERP Br (S/J)_needed)).

    The model adds the receiver noise to the jamming, so its burn-through is
    the closed form's within 1 % where the jamming dwarfs the noise there; and
    its exact root (noise included) is :func:`self_screening_burn_through_m`.
    """
    radar = _radar()
    bw_j = 100.0
    needed = _lin(sinr_db)
    textbook = math.sqrt(PT_W * _lin(GAIN_DB) * rcs * bw_j / (4 * math.pi * erp_w * BW_MHZ * needed))

    def excess(ground_m: float) -> float:
        pos = _at(45.0, ground_m, 300.0)
        return _sinr(radar, pos, rcs, _jammers(pos, erp_w, bw_j)) - needed

    lo, hi = 100.0, 300e3
    assert excess(lo) > 0 > excess(hi)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if excess(mid) > 0 else (lo, mid)
    pos = _at(45.0, lo, 300.0)
    r_model = float(np.linalg.norm(pos - radar.site.ecef))
    assert r_model == pytest.approx(textbook, rel=0.01)
    k = float(radar.receiver.jnr_factor(np.array([erp_w]), np.array([bw_j * 1e6]))[0])
    exact = self_screening_burn_through_m(radar.snr_ref, radar.ref_range_m, rcs, k, needed)
    assert r_model == pytest.approx(exact, rel=1e-6)


def test_a_stand_off_jammer_shrinks_detection_range_most_in_its_direction():
    """SINR ∝ R⁻⁴ / (1 + J/N): the range at equal Pd shrinks by ((1 + J/N)_toward / (1 + J/N)_away)^¼."""
    radar = _radar(sidelobe_db=-30.0)
    jpos = _at(90.0, 150e3, 9000.0)
    jam = _jammers(jpos, 2e4, 200.0)
    toward, away = _at(90.0, 60e3, 5000.0), _at(0.0, 60e3, 5000.0)
    jnr_toward, jnr_away = radar.jamming_to_noise(np.stack([toward, away]), jam)
    assert jnr_toward > 100 * jnr_away > 0  # main lobe against side lobes
    d = np.linalg.norm(jpos - radar.site.ecef)
    gain_away = radar.receiver.relative_gain(np.array([math.pi / 2]))[0]
    assert gain_away == pytest.approx(_lin(-30.0))  # 90° off the beam: the side-lobe floor
    want_away = float(radar.receiver.jnr_factor(np.array([2e4]), np.array([200e6]))[0]) * gain_away / d ** 2
    assert jnr_away == pytest.approx(want_away, rel=1e-3)  # the target is 0.1° or so from due north
    ratio = ((1 + jnr_toward) / (1 + jnr_away)) ** 0.25
    # A target toward the jammer at range R is seen as one away from it at R·ratio: detection ranges shrink by
    # the ratio in the jammer's direction.
    r = float(np.linalg.norm(toward - radar.site.ecef))
    far_away = _at(0.0, 1.0, 5000.0)  # bisect along the bearing away for the range of equal SINR
    lo, hi = 1e3, 5e6
    sinr_toward = _sinr(radar, toward, 1.0, jam)
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        far_away = _at(0.0, mid, 5000.0)
        lo, hi = (mid, hi) if _sinr(radar, far_away, 1.0, jam) > sinr_toward else (lo, mid)
    r_away = float(np.linalg.norm(far_away - radar.site.ecef))
    assert ratio > 3.0
    assert r_away / r == pytest.approx(ratio, rel=2e-3)


def test_jammers_out_of_band_or_below_the_horizon_are_not_heard():
    radar = _radar()
    target = _at(45.0, 80e3, 3000.0)
    out_of_band = _jammers(target, 1e4, band=(8.5, 12.0))
    assert radar.jamming_to_noise(target[None, :], out_of_band)[0] == 0.0
    hidden = _jammers(_at(45.0, 400e3, 50.0), 1e6)  # far beyond the 4/3-Earth horizon of a 50 m jammer
    assert radar.jamming_to_noise(target[None, :], hidden)[0] == 0.0
    assert radar.jamming_to_noise(target[None, :], _jammers(target, 1e4))[0] > 0.0


def test_a_jammed_radar_reports_the_jammers_bearing_and_loses_plots_it_would_have_made():
    radar = _radar()
    jpos = _at(120.0, 150e3, 9000.0)
    jam = _jammers(jpos, 2e4, 200.0)
    rng = np.random.default_rng(1)
    targets = np.stack([_at(az, 40e3, 3000.0) for az in rng.uniform(100.0, 140.0, 40)])
    vel = np.zeros_like(targets)
    rcs = np.full(len(targets), 1.0)
    clear = _radar()
    det_clear, _ = clear.scan(1.0, targets, vel, rcs)
    det, _ = radar.scan(1.0, targets, vel, rcs, jam)
    assert len(det) + radar.lost_to_jamming == len(det_clear)  # the same draws: each plot lost is counted
    assert radar.lost_to_jamming > 10 and clear.lost_to_jamming == 0
    assert det.strobe_az_rad is not None and det.strobe_az_rad.size == 1
    _, az, el = geo.enu_to_razel(radar.site.to_enu(jpos[None, :]))
    assert abs(geo.wrap_angle(det.strobe_az_rad[0] - az[0])) < 5e-3  # 5 σ_az
    assert abs(det.strobe_el_rad[0] - el[0]) < 5e-3
    assert det_clear.strobe_az_rad is None
    # Out of the radar's sector, or too weak, no strobe.
    narrow = _radar(sector_deg=60.0)
    assert narrow.scan(1.0, targets, vel, rcs, jam)[0].strobe_az_rad is None
    weak = _jammers(jpos, 1e-9, 200.0)
    assert radar.jamming_to_noise(jpos[None, :], weak)[0] < STROBE_JNR
    assert radar.scan(1.0, targets, vel, rcs, weak)[0].strobe_az_rad is None


def test_the_tracker_is_not_corrupted_by_strobes():
    """The same plots with and without strobes attached give the same tracks, to the last bit."""
    from dataclasses import replace

    from tdome.c2.tracking import Tracker, TrackerConfig

    radar = _radar()
    site = radar.site
    jam = _jammers(_at(120.0, 150e3, 9000.0), 2e4, 200.0)
    a = Tracker(TrackerConfig(), [site])
    b = Tracker(TrackerConfig(), [site])
    for k in range(30):
        t = 1.0 + k
        pos = np.stack([_at(10.0 + 3 * i, 30e3 - 200.0 * t, 4000.0) for i in range(5)])
        det, _ = radar.scan(t, pos, np.zeros_like(pos), np.full(5, 5.0), jam)
        assert det.strobe_az_rad is not None
        a.process(det)
        b.process(replace(det, strobe_az_rad=None, strobe_el_rad=None))
    pa, pb = a.picture(31.0), b.picture(31.0)
    assert len(pa.track_id) >= 5
    assert np.array_equal(pa.track_id, pb.track_id) and np.array_equal(pa.x, pb.x) and np.array_equal(pa.P, pb.P)


# ---- scenarios


def _jammed(d: dict) -> dict:
    d = copy.deepcopy(d)
    d["raid"]["jammers"] = [{"name": "SOJ", "type": "soj_y9g", "route": [{"lat": 24.3, "lon": 119.3},
                                                                        {"lat": 23.7, "lon": 119.3}],
                             "alt_m": 9000.0, "speed_mps": 180.0}]
    d["raid"]["waves"][0]["groups"][1]["jammer"] = "drone_jammer"
    return d


def test_a_jammed_scenario_loads_and_bad_jammer_input_is_refused():
    sc = scenario_from_dict(_jammed(minimal()))
    assert sc.raid.jammers[0].type == "soj_y9g"
    cases = [
        (lambda d: d["catalog"].update(jammers={"j": {"erp_w": -5.0, "bandwidth_mhz": 10.0, "min_freq_ghz": 1.0,
                                                       "max_freq_ghz": 2.0, "source": "notional"}}),
         r"erp_w = -5.0: must be > 0"),
        (lambda d: d["raid"]["jammers"][0].update(route=[{"lat": 24.3, "lon": 119.3}]), "at least 2"),
        (lambda d: d["raid"]["jammers"][0].update(type="nope"), "unknown jammer type 'nope'"),
        (lambda d: d["raid"]["waves"][0]["groups"][0].update(jammer="escort_pod"), "air-breathing threats only"),
        (lambda d: d["raid"]["jammers"][0].update(at={"lat": 24.0, "lon": 119.0}), "exactly one of"),
    ]
    for mutate, message in cases:
        d = _jammed(minimal())
        d.setdefault("catalog", {})
        mutate(d)
        with pytest.raises(ScenarioError, match=message):
            scenario_from_dict(d)


def test_tdome_validate_refuses_a_bad_jammer_with_exit_2(tmp_path):
    from test_cli import tdome

    d = _jammed(minimal())
    d["raid"]["jammers"][0]["route"] = [{"lat": 24.3, "lon": 119.3}]
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(d, sort_keys=False))
    r = tdome("validate", str(f))
    assert r.returncode == 2 and "Traceback" not in r.stderr + r.stdout
    assert "bad.yaml" in r.stderr and "raid.jammers[0].route" in r.stderr


def test_a_jammed_raid_loses_plots_and_repeats_itself():
    """End to end on the small raid: a stand-off jammer and jamming drones cost plots (none without them), a
    radar out of their band loses none, and the same seed gives the same run."""
    from tdome.sim.engine import run
    from tdome.sim.report import summarize
    from test_end_to_end import small

    def jam(d):
        d["raid"]["jammers"] = [{"name": "SOJ", "type": "soj_y9g", "route": [{"lat": 25.0, "lon": 119.6},
                                                                            {"lat": 24.0, "lon": 119.6}],
                                 "alt_m": 9000.0, "speed_mps": 180.0}]
        for w in d["raid"]["waves"]:
            for g in w["groups"]:
                if g["threat"] in ("drone_owa", "cruise_cj10"):
                    g["jammer"] = "drone_jammer"

    clear = summarize(run(small()))
    assert clear["jamming"]["plots_lost"] == 0 and clear["jamming"]["strobes"] == 0
    a, b = run(small(jam)), run(small(jam))
    sa = summarize(a)
    assert sa["jamming"]["standoff_jammers"] == 1 and sa["jamming"]["escort_jammers"] > 0
    assert sa["jamming"]["plots_lost"] > 100 and sa["jamming"]["strobes"] > 0
    assert sa["jamming"]["by_radar"]["Leshan EWR"]["plots_lost"] == 0  # UHF: out of every jammer's band
    assert a.events == b.events and sa["jamming"] == summarize(b)["jamming"]
    from tdome.studies.results import outcome_row

    assert outcome_row(sa)["plots_lost_to_jamming"] == sa["jamming"]["plots_lost"]
