"""Manoeuvring re-entry vehicles (tdome.world.manoeuvre): the flown command is the specified profile plus a
constant trim, it starts at the start altitude, the arc before it is the ballistic one, the vehicle lands on its
aim, the raid is the same for the same seed, and a bad manoeuvre in a file is a clear error."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tdome import geo
from tdome.dynamics import rk4_step
from tdome.scenario import ScenarioError, load_scenario
from tdome.world.ballistic import fly_ballistic_many, solve_launch
from tdome.world.manoeuvre import G0_MPS2, ManoeuvreSpec, fly_manoeuvring_many

EXAMPLE = Path(__file__).parents[1] / "examples" / "manoeuvring_rv.yaml"
AIM_TOLERANCE_M = 1.0  # the re-aim's promise: the impact within a metre of the aim (it solves to 0.5 m)
r = np.radians


def ballistic(launch, aim):
    """Ballistic trajectories from launch (lat, lon) degrees to aim (lat, lon) degrees, arrays of n."""
    lat, lon = r(np.asarray(launch[0], float)), r(np.asarray(launch[1], float))
    alat, alon = r(np.asarray(aim[0], float)), r(np.asarray(aim[1], float))
    v0 = solve_launch(lat, lon, alat, alon)
    return fly_ballistic_many(geo.geodetic_to_ecef(lat, lon, 0.0), v0, 0.0), alat, alon


@pytest.fixture(scope="module")
def flights():
    """A DF-15-class flight (~400 km), weaving and pulling up, and the same ballistic flight."""
    bal, alat, alon = ballistic(([24.5, 24.5], [117.9, 117.9]), ([24.023, 24.023], [121.618, 121.618]))
    specs = [ManoeuvreSpec("weave", 40000.0, 6 * G0_MPS2, 8.0), ManoeuvreSpec("pull_up_dive", 30000.0, 10 * G0_MPS2,
                                                                              6.0)]
    out, info = fly_manoeuvring_many(bal, specs, alat, alon)
    return bal, out, info, specs, alat, alon


def frame_of(x, v):
    """(l̂, û) of tdome.world.manoeuvre, in numpy."""
    lhat = np.cross(v, x / np.linalg.norm(x))
    lhat /= np.linalg.norm(lhat)
    uhat = np.cross(lhat, v / np.linalg.norm(v))
    return lhat, uhat


def command_residual(tr):
    """Mean commanded acceleration over each sample step: (Δv of the truth − Δv of free flight) / h."""
    _, v1 = rk4_step(tr.pos_ecef[:-1], tr.vel_ecef[:-1], np.diff(tr.t_s))
    return (tr.vel_ecef[1:] - v1) / np.diff(tr.t_s)[:, None]


def analytic_mean(spec, tau_a, tau_b):
    """Mean of A sin(2πτ/P) over [τa, τb] (the profile; zero before the onset and after one period of pull_up_dive)."""
    w = 2 * np.pi / spec.period_s
    lo, hi = max(tau_a, 0.0), tau_b
    if spec.kind == "pull_up_dive":
        hi = min(hi, spec.period_s)
    if hi <= lo:
        return 0.0
    return spec.accel_mps2 * (np.cos(w * lo) - np.cos(w * hi)) / w / (tau_b - tau_a)


def test_command_is_the_profile_plus_a_constant_trim(flights):
    _, out, info, specs, _, _ = flights
    for tr, spec, t_on, trim in zip(out, specs, info.onset_s, info.trim_mps2):
        res = command_residual(tr)
        for k in np.flatnonzero(tr.t_s[:-2] >= t_on):  # whole steps after the onset, the impact step left out
            ta, tb = tr.t_s[k] - t_on, tr.t_s[k + 1] - t_on
            xm, vm = 0.5 * (tr.pos_ecef[k] + tr.pos_ecef[k + 1]), 0.5 * (tr.vel_ecef[k] + tr.vel_ecef[k + 1])
            lhat, uhat = frame_of(xm, vm)
            p = analytic_mean(spec, ta, tb)
            p_l, p_u = (p, 0.0) if spec.kind == "weave" else (0.0, p)
            want = (p_l + trim[0]) * lhat + (p_u + trim[1]) * uhat
            assert np.linalg.norm(res[k] - want) < 0.01 * spec.accel_mps2 + 0.05, (spec.kind, k)
        # The trim is small beside the manoeuvre.
        assert np.hypot(*trim) < 0.25 * spec.accel_mps2
    # The weave goes right first, the pull-up up first.
    w, pud = out[0], out[1]
    k0 = int(np.flatnonzero(w.t_s >= info.onset_s[0])[0])
    assert command_residual(w)[k0] @ frame_of(w.pos_ecef[k0], w.vel_ecef[k0])[0] > 0.2 * specs[0].accel_mps2
    k1 = int(np.flatnonzero(pud.t_s >= info.onset_s[1])[0])
    assert command_residual(pud)[k1] @ frame_of(pud.pos_ecef[k1], pud.vel_ecef[k1])[1] > 0.2 * specs[1].accel_mps2


def test_starts_at_the_start_altitude_after_the_unchanged_ballistic_arc(flights):
    bal, out, info, specs, _, _ = flights
    for b, tr, spec, t_on in zip(bal, out, specs, info.onset_s):
        before = tr.t_s < t_on
        k = int(np.count_nonzero(before))  # samples before the onset
        # The samples before the onset are the ballistic ones, bit for bit, on the same grid.
        assert np.array_equal(tr.t_s[:k], b.t_s[:k])
        assert np.array_equal(tr.pos_ecef[:k], b.pos_ecef[:k]) and np.array_equal(tr.vel_ecef[:k], b.vel_ecef[:k])
        # The onset is on the way down, at the start altitude.
        on_r, on_v = rk4_step(b.pos_ecef[k - 1][None], b.vel_ecef[k - 1][None], t_on - b.t_s[k - 1])
        assert abs(geo.ecef_to_geodetic(on_r[0])[2] - spec.below_alt_m) < 1.0
        assert on_r[0] @ on_v[0] < 0
        # Free flight before it (no command), and the grid goes on every 0.5 s to the impact.
        assert np.abs(command_residual(tr)[:k - 1]).max() < 1e-9
        assert np.allclose(np.diff(tr.t_s[:-1]), 0.5)
        assert 0 < tr.t_s[-1] - tr.t_s[-2] <= 0.5 + 1e-9


def test_lands_on_the_aim(flights):
    bal, out, info, _, alat, alon = flights
    aim = geo.geodetic_to_ecef(alat, alon, 0.0)
    for tr, b, a in zip(out, bal, aim):
        assert np.linalg.norm(tr.impact_ecef - a) < AIM_TOLERANCE_M
        assert abs(geo.ecef_to_geodetic(tr.impact_ecef)[2]) < 0.01
        assert tr.impact_s != b.impact_s  # it did fly differently
    assert np.all(info.miss_m < AIM_TOLERANCE_M)


@settings(max_examples=12, deadline=None)
@given(kind=st.sampled_from(["weave", "pull_up_dive"]), g=st.floats(0.5, 15.0), period=st.floats(2.0, 20.0),
       below=st.floats(5000.0, 60000.0), dlat=st.floats(-0.5, 0.5), dlon=st.floats(-0.5, 0.5),
       rng_km=st.sampled_from([150.0, 300.0, 500.0]))
def test_any_manoeuvre_lands_on_its_aim_and_keeps_its_arc(kind, g, period, below, dlat, dlon, rng_km):
    lat0, lon0 = 24.5 + dlat, 118.0 + dlon
    alat, alon = geo.destination(r(lat0), r(lon0), r(95.0), rng_km * 1e3)
    bal, alat, alon = ballistic(([lat0], [lon0]), ([np.degrees(alat)], [np.degrees(alon)]))
    spec = ManoeuvreSpec(kind, below, g * G0_MPS2, period)
    (tr,), info = fly_manoeuvring_many(bal, [spec], alat, alon)
    aim = geo.geodetic_to_ecef(alat, alon, 0.0)[0]
    assert np.linalg.norm(tr.impact_ecef - aim) < AIM_TOLERANCE_M
    k = int(np.count_nonzero(tr.t_s < info.onset_s[0]))
    assert np.array_equal(tr.pos_ecef[:k], bal[0].pos_ecef[:k])
    assert np.all(np.diff(tr.t_s) > 0)


def test_bad_spec_is_refused():
    with pytest.raises(ValueError, match="unknown manoeuvre kind"):
        ManoeuvreSpec("corkscrew", 30000.0, 50.0, 5.0)
    with pytest.raises(ValueError, match="> 0"):
        ManoeuvreSpec("weave", 30000.0, -50.0, 5.0)


# --------------------------------------------------------------------------- in a scenario


def test_raid_is_the_same_for_the_same_seed_and_lands_on_its_aims():
    from tdome.sim.build import build_assets, build_raid

    sc = load_scenario(EXAMPLE)
    assets = build_assets(sc)
    a, b = build_raid(sc, assets), build_raid(sc, assets)
    ta, tb = a.trajectories, b.trajectories
    assert np.array_equal(ta.pos, tb.pos, equal_nan=True) and np.array_equal(ta.impact_s, tb.impact_s)
    assert set(a.type_name) == {"srbm_df15_marv"}
    aims = geo.geodetic_to_ecef(a.aim_lat_rad, a.aim_lon_rad, 0.0)
    assert np.linalg.norm(ta.impact_ecef - aims, axis=1).max() < AIM_TOLERANCE_M
    # The plain counterpart, same seed: same launches and aims, different terminal flight.
    d = yaml.safe_load(EXAMPLE.read_text())
    for g in d["raid"]["waves"][0]["groups"]:
        g["threat"] = "srbm_df15"
    plain = build_raid(load_scenario_from(d), assets)
    assert np.array_equal(plain.aim_lat_rad, a.aim_lat_rad)
    assert np.array_equal(plain.trajectories.launch_s, ta.launch_s)
    assert not np.array_equal(plain.trajectories.impact_s, ta.impact_s)


def load_scenario_from(d: dict):
    from tdome.scenario import scenario_from_dict

    return scenario_from_dict(d, source=str(EXAMPLE))


def _with_threat(tmp_path: Path, entry: dict) -> Path:
    d = yaml.safe_load(EXAMPLE.read_text())
    d = copy.deepcopy(d)
    d["catalog"] = {"threats": {"t1": entry}}
    d["raid"]["waves"][0]["groups"][0]["threat"] = "t1"
    p = tmp_path / "bad_manoeuvre.yaml"
    p.write_text(yaml.safe_dump(d, sort_keys=False), encoding="utf-8")
    return p


CRUISE = {"class": "cruise", "speed_mps": 250, "cruise_alt_m": 50, "max_range_km": 1500, "rcs_m2": 0.1,
          "lethal_radius_m": 60, "cost_usd": 1e6, "source": "notional",
          "manoeuvre": {"kind": "weave", "below_alt_m": 30000, "accel_g": 5, "period_s": 5}}


@pytest.mark.parametrize("entry, expected", [
    (CRUISE, ["catalog.threats.t1.manoeuvre", "only for ballistic/rocket classes", "'cruise'"]),
    ({"manoeuvre": {"kind": "weave", "below_alt_m": 30000, "accel_g": -5, "period_s": 5}},
     ["catalog.threats.t1.manoeuvre.accel_g", "-5", "> 0"]),
    ({"manoeuvre": {"kind": "spiral", "below_alt_m": 30000, "accel_g": 5, "period_s": 5}},
     ["catalog.threats.t1.manoeuvre.kind", "spiral", "weave", "pull_up_dive"]),
    ({"manoeuvre": {"kind": "weave", "below_alt_m": 30000, "accel_g": 5}},
     ["catalog.threats.t1", "missing manoeuvre.period_s"]),
])
def test_bad_manoeuvre_is_a_clear_error(tmp_path, entry, expected):
    if "class" not in entry:  # a complete ballistic entry with the bad manoeuvre
        entry = {"class": "ballistic", "speed_mps": 2200, "max_range_km": 600, "rcs_m2": 0.1,
                 "lethal_radius_m": 150, "cost_usd": 2e6, "source": "notional", **entry}
    p = _with_threat(tmp_path, entry)
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    msg = str(info.value)
    assert "bad_manoeuvre.yaml" in msg and "Traceback" not in msg
    for part in expected:
        assert part in msg, f"{part!r} not in:\n{msg}"


def test_cli_refuses_a_manoeuvring_cruise_missile_with_exit_2(tmp_path):
    p = _with_threat(tmp_path, CRUISE)
    res = subprocess.run([sys.executable, "-m", "tdome.cli", "validate", str(p)], capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr + res.stdout
    assert "manoeuvre" in res.stderr and "only for ballistic/rocket classes" in res.stderr
