"""Decoys and discrimination: the standard atmosphere, drag on re-entry, decoys that share the warhead's arc until
the air separates them, the C2's estimate of each track's ballistic coefficient, and the rounds they draw."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from tdome import geo
from tdome.atmosphere import density
from tdome.c2.tracking import TrackerConfig
from tdome.c2.tracking.discrimination import Discriminator
from tdome.dynamics import MU_M3_S2
from tdome.scenario import ScenarioError
from tdome.sim.build import build_assets, build_raid
from tdome.sim.engine import run
from tdome.sim.report import summarize
from tdome.world.ballistic import fly_ballistic
from test_end_to_end import small

# U.S. Standard Atmosphere 1976, geometric heights (m) and densities (kg/m³) as tabulated in the standard.
US76 = [(0.0, 1.2250), (1_000.0, 1.1117), (5_000.0, 0.73643), (10_000.0, 0.41351), (20_000.0, 0.088910),
        (30_000.0, 0.018410), (40_000.0, 3.9957e-3), (50_000.0, 1.0269e-3), (60_000.0, 3.0968e-4),
        (70_000.0, 8.2829e-5), (80_000.0, 1.8458e-5), (86_000.0, 6.958e-6)]


@pytest.mark.parametrize(("h_m", "rho"), US76)
def test_density_matches_the_standard_tables(h_m, rho):
    assert float(density(h_m)) == pytest.approx(rho, rel=2e-4)


@settings(max_examples=200, deadline=None)
@given(st.floats(0.0, 200e3), st.floats(1.0, 5_000.0))
def test_density_falls_with_height_and_is_continuous(h, dh):
    lo, hi = float(density(h)), float(density(h + dh))
    assert hi < lo
    # Never faster than the steepest scale height of the standard (about 5 km), so no jump at a layer boundary.
    assert hi / lo >= np.exp(-dh / 4_500.0)


def test_a_light_object_falls_at_its_terminal_speed():
    """Dropped from 3 km over a non-rotating Earth, it reaches v_t = sqrt(2 β g / ρ) at the ground (the air thins
    little over the last seconds, so quasi-steady within 1 %)."""
    beta = 100.0
    r0 = geo.geodetic_to_ecef(0.0, 0.0, 3_000.0)
    tr = fly_ballistic(r0, np.zeros(3), rotating=False, j2=False, inv_beta=1.0 / beta, step_s=0.1)
    # Radial height on a non-rotating sphere of gravity μ/r²: the equator's point is on the ellipsoid.
    g = MU_M3_S2 / np.linalg.norm(tr.impact_ecef) ** 2
    v_t = np.sqrt(2.0 * beta * g / float(density(0.0)))
    assert np.linalg.norm(tr.vel_ecef[-1]) == pytest.approx(v_t, rel=0.01)


def test_drag_integration_matches_an_independent_integrator():
    """Re-entry of a light object from 90 km at 3 km/s, 30° down, against scipy's adaptive Runge-Kutta on the
    same equations written here (point-mass gravity, non-rotating Earth, drag in the standard air)."""
    beta = 300.0
    lat, lon, h0 = np.radians(24.0), np.radians(120.0), 90e3
    r0 = geo.geodetic_to_ecef(lat, lon, h0)
    up = r0 / np.linalg.norm(r0)
    east = np.array([-np.sin(lon), np.cos(lon), 0.0])
    v0 = 3_000.0 * (np.cos(np.radians(30.0)) * east - np.sin(np.radians(30.0)) * up)
    tr = fly_ballistic(r0, v0, rotating=False, j2=False, inv_beta=1.0 / beta)

    def rhs(_t, y):
        r, v = y[:3], y[3:]
        h = float(geo.height_m(r))
        a = -MU_M3_S2 * r / np.linalg.norm(r) ** 3 - float(density(h)) * np.linalg.norm(v) * v / (2.0 * beta)
        return np.concatenate([v, a])

    t_end = tr.t_s[-2]
    ref = solve_ivp(rhs, (0.0, t_end), np.concatenate([r0, v0]), rtol=1e-11, atol=1e-6, dense_output=True)
    for t in np.linspace(0.0, t_end, 9):
        p, v = tr.sample(t)
        want = ref.sol(t)
        assert np.linalg.norm(p - want[:3]) < 2.0
        assert np.linalg.norm(v - want[3:]) < 0.2
    # The air took most of its speed: this was a test of drag, not of vacuum flight.
    assert np.linalg.norm(tr.vel_ecef[-1]) < 0.3 * 3_000.0


def _penaid_raid(decoys=3, seed=None):
    def mutate(d):
        d["raid"]["waves"] = [{"name": "penaids", "start_s": 0.0, "spread_s": 20.0, "groups": [
            {"threat": "srbm_penaid", "count": 2, "decoys": decoys,
             "launch": {"lat": 26.0, "lon": 119.3, "radius_km": 10.0}, "aim": "Taipei", "aim_spread_km": 0.3}]}]
        bats = {b["name"]: b for b in d["batteries"]}
        upper = bats["Upper North"]
        upper.update(launchers=1, rounds_per_launcher=3, magazine=3)  # too few rounds for the whole cloud
        d["batteries"] = [upper, bats["Mid Taipei"], bats["Lower Taipei"]]
        d.setdefault("c2", {}).setdefault("tracker", {})["drag_beta_min_kg_m2"] = 300.0

    return small(mutate, seed=seed)


def test_decoys_keep_to_the_warheads_arc_above_the_air_and_fall_behind_in_it():
    sc = _penaid_raid()
    raid = build_raid(sc, build_assets(sc))
    spec = sc.threat_types["srbm_penaid"].decoys
    decoys = np.flatnonzero(raid.decoy_of >= 0)
    assert decoys.size == 6 and np.all(raid.lethal_radius_m[decoys] == 0.0) and np.all(raid.cost_usd[decoys] == 0)
    assert np.all(raid.rcs_m2[decoys] == spec.rcs_m2)
    tr = raid.trajectories.trajectories
    for d in decoys:
        w = int(raid.decoy_of[d])
        assert tr[d].launch_s == pytest.approx(tr[w].launch_s + spec.release_s)
        for t in np.arange(tr[d].launch_s, tr[w].impact_s, 5.0):
            pw, _ = tr[w].sample(t)
            pd, _ = tr[d].sample(t)
            h = float(geo.height_m(pw))
            sep = np.linalg.norm(pw - pd)
            if h > 70e3:  # in vacuum only the push apart separates them (plus tidal terms, well under 10 %)
                assert sep <= 1.1 * spec.spread_mps * (t - tr[d].launch_s) + 1.0
        # Down in the air the decoy is far behind, and much slower at the warhead's impact time.
        pd, vd = tr[d].sample(tr[w].impact_s)
        assert np.linalg.norm(vd) < 0.6 * np.linalg.norm(tr[w].vel_ecef[-1])
        assert float(geo.height_m(pd)) > 5e3
    again = build_raid(sc, build_assets(sc))
    assert np.array_equal(again.trajectories.pos, raid.trajectories.pos, equal_nan=True)


def _plots_of(tr, t_s, sigma_m, rng):
    """Cartesian plots of a trajectory at times ``t_s`` with isotropic noise ``sigma_m``."""
    pos = np.array([tr.sample(t)[0] for t in t_s]) + rng.normal(0.0, sigma_m, (len(t_s), 3))
    return pos, np.broadcast_to(np.eye(3) * sigma_m**2, (len(t_s), 3, 3)).copy()


def _reentry(beta):
    r0 = geo.geodetic_to_ecef(np.radians(24.0), np.radians(120.0), 95e3)
    up = r0 / np.linalg.norm(r0)
    east = np.array([-np.sin(np.radians(120.0)), np.cos(np.radians(120.0)), 0.0])
    v0 = 2_000.0 * (np.cos(np.radians(35.0)) * east - np.sin(np.radians(35.0)) * up)
    return fly_ballistic(r0, v0, inv_beta=0.0 if beta is None else 1.0 / beta)


def _discriminate(tr, seed, sigma_m=30.0, step_s=1.0):
    """Feed a discriminator a plot a second along ``tr`` with the track's state taken from truth; returns it and its
    fits ``(height, γ̂, σ)``."""
    cfg = TrackerConfig()
    disc = Discriminator(cfg)
    rng = np.random.default_rng(seed)
    errs = []
    for t in np.arange(tr.launch_s, tr.impact_s - 1.0, step_s):
        pos, cov = _plots_of(tr, [t], sigma_m, rng)
        disc.observe(t, np.array([1]), pos, cov)
        p, v = tr.sample(t)
        disc.assess(t, np.array([1]), np.concatenate([p, v])[None])
        if 1 in disc.estimate:
            errs.append((float(geo.height_m(p)), *disc.estimate[1]))
    return disc, errs


def test_the_fit_recovers_a_light_objects_ballistic_coefficient_and_finds_it_light():
    beta = 300.0
    tr = _reentry(beta)
    disc, fits = _discriminate(tr, seed=1)
    assert 1 in disc.light
    h_found = float(geo.height_m(tr.sample(disc.light[1])[0]))
    assert 30e3 < h_found < 75e3  # found in the upper air, long before the ground
    _, g, s = fits[-1]
    assert abs(g - 1.0 / beta) < 4.0 * s and s < 0.25 / beta  # a sharp, honest estimate


@pytest.mark.parametrize("beta", [None, 15_000.0])
def test_a_heavy_or_vacuum_object_is_never_found_light(beta):
    tr = _reentry(beta)
    for seed in range(20):
        disc, fits = _discriminate(tr, seed=seed)
        assert not disc.light
        # Where the air says something, and above the last few kilometres (there a heavy warhead loses a tenth of
        # its speed within the window, which the fit's speed correction follows only to first order).
        informative = [(g, s) for h, g, s in fits if s < 1e-4 and h > 5e3]
        assert informative  # the fits did see the air
        z = np.array([(g - (0.0 if beta is None else 1.0 / beta)) / s for g, s in informative])
        assert np.all(np.abs(z) < 5.0)


def test_decoys_draw_rounds_before_discrimination_and_none_after():
    rec = run(_penaid_raid())
    s = summarize(rec)
    d = s["discrimination"]
    assert d["decoys_released"] == 6 and s["threats"]["decoys_released"] == 6
    assert d["shots_at_decoys_before"] >= 1  # above the air the cloud draws rounds
    assert d["decoys_found_light"] >= 1 and d["threats_found_light"] == 0
    assert d["shots_at_decoys_after"] == 0
    # No order at a track the C2 had found light, by the C2's own record.
    light = {e["track_id"]: e["time_s"] for e in rec.events if e["kind"] == "discriminated"}
    for leg in rec.legs:
        assert leg["decided_s"] < light.get(leg["track"], np.inf)
    assert s["tracking"]["tracker"]["discriminated_light"] >= d["decoys_found_light"]
    assert summarize(run(_penaid_raid()))["discrimination"] == d  # same seed, same results


def test_bad_decoy_input_is_refused():
    cases = [
        (lambda g, d: g.update(decoys=5), r"carries at most 4 decoys \(catalog limit"),
        (lambda g, d: g.update(threat="srbm_df15", decoys=1), "carries no decoys"),
        (lambda g, d: g.update(decoys=-1), "decoys = -1"),
        (lambda g, d: d.setdefault("catalog", {}).setdefault("threats", {}).update(
            cm={"class": "cruise", "speed_mps": 250.0, "cruise_alt_m": 50.0, "max_range_km": 1500.0, "rcs_m2": 0.1,
                "lethal_radius_m": 50.0, "cost_usd": 1e6, "source": "notional",
                "ballistic_coefficient_kg_m2": 1000.0}), "only for ballistic/rocket classes"),
    ]
    for mutate, message in cases:
        def bad(d, mutate=mutate):
            d["raid"]["waves"] = [{"name": "w", "start_s": 0.0, "groups": [
                {"threat": "srbm_penaid", "count": 1, "decoys": 2, "launch": {"lat": 26.0, "lon": 119.3},
                 "aim": "Taipei"}]}]
            mutate(d["raid"]["waves"][0]["groups"][0], d)

        with pytest.raises(ScenarioError, match=message):
            small(bad)


def test_tdome_validate_refuses_too_many_decoys_with_exit_2(tmp_path):
    from test_cli import tdome
    from test_end_to_end import SMALL

    d = yaml.safe_load(SMALL.read_text())
    d["raid"]["waves"][0]["groups"][0].update(threat="srbm_penaid", decoys=9)
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(d, sort_keys=False))
    r = tdome("validate", str(f))
    assert r.returncode == 2 and "Traceback" not in r.stderr + r.stdout
    assert "raid.waves[0].groups[0].decoys" in r.stderr and "at most 4" in r.stderr
