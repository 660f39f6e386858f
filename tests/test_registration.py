"""Sensor registration: radars' offsets estimated online (tdome.c2.tracking.registration), and the simulated radars'
biases (tdome.sensors.radar, the scenario's radars[].bias).

The truth here is the independent test simulation (tests/tracking_sim.py): straight flights seen by three radars
with Gaussian errors, the biases added to the plots it draws.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tdome import geo
from tdome.c2.config import RegistrationConfig
from tdome.c2.core import BattleManager, C2Config
from tdome.c2.tracking import Tracker, TrackerConfig
from tdome.c2.tracking.gaussian import chi2_quantile
from tdome.c2.tracking.registration import K, RegisteredPicture, Registration, _Scan, registered
from tdome.messages import Detections
from tdome.scenario import Scenario, ScenarioError, scenario_from_dict
from tdome.sensors.radar import RadarBias
from tdome.sim.build import build_sensors, c2_config
from tdome.sim.engine import run
from tracking_sim import enu_velocity_to_ecef, make_site, measure, schedule

LAT0, LON0 = np.radians(24.0), np.radians(121.0)
SITES = [make_site(0, 23.65, 120.65, revisit=4.0), make_site(1, 23.70, 121.35, revisit=5.0),
         make_site(2, 24.40, 121.05, revisit=6.0)]
CFG = TrackerConfig()
REG = RegistrationConfig(mode="correct")
PRIOR = np.array([REG.range_sigma_m, REG.az_sigma_rad, REG.el_sigma_rad, REG.clock_sigma_s])


def flights(n: int, rng: np.random.Generator):
    """``n`` straight flights on random headings through a 100 km square about 24N 121E: truth(t) -> (pos, vel)."""
    hdg = rng.uniform(0.0, 2 * np.pi, n)
    u = np.stack([np.sin(hdg), np.cos(hdg), np.zeros(n)], axis=1)
    across = np.stack([u[:, 1], -u[:, 0], np.zeros(n)], axis=1)
    p0 = -60e3 * u + rng.uniform(-40e3, 40e3, n)[:, None] * across + np.c_[np.zeros((n, 2)),
                                                                              rng.uniform(1e3, 10e3, n)]
    v = rng.uniform(150.0, 300.0, n)[:, None] * u
    v_ecef = enu_velocity_to_ecef(LAT0, LON0, v)

    def truth(t):
        return geo.enu_to_ecef(p0 + v * t, LAT0, LON0, 0.0), v_ecef

    return truth


def biased(det: Detections, b) -> Detections:
    """``det`` as a radar with offsets ``b`` (range, azimuth, elevation, clock) reports it."""
    return dataclasses.replace(det, time_s=det.time_s + b[3], range_m=det.range_m + b[0],
                               az_rad=np.mod(det.az_rad + b[1], 2 * np.pi), el_rad=det.el_rad + b[2])


def fly(bias: np.ndarray, seed: int, t_end: float = 400.0, references: int = 0, n: int = 16,
        prior_sigma: np.ndarray | None = None) -> RegisteredPicture:
    """The three radars with offsets ``bias`` (3, 4) over ``n`` flights, through a registered tracker; the first
    ``references`` flights report their true position and velocity every second (ADS-B).  ``prior_sigma``: each
    radar's own prior (the configuration's if None)."""
    rng = np.random.default_rng(seed)
    truth = flights(n, rng)
    if prior_sigma is None:
        source = registered(Tracker(CFG, SITES), SITES, REG, CFG)
        assert isinstance(source, RegisteredPicture)
    else:
        source = RegisteredPicture(Tracker(CFG, SITES), Registration(SITES, REG, CFG.q_air, prior_sigma))
    next_ref = 1.0
    for t, site in schedule(SITES, t_end, phases=[0.3, 1.9, 4.1]):
        while references and next_ref <= t:
            pos, vel = truth(next_ref)
            for k in range(references):
                source.reference(next_ref, f"adsb{k}", pos[k] + rng.normal(0.0, 10.0, 3), vel[k])
            next_ref += 1.0
        pos, vel = truth(t)
        det, _ = measure(site, t, pos, vel, rng, pd=0.9)
        source.process(biased(det, bias[site.index]))
    return source


def errors(source: RegisteredPicture, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(estimate − truth) (3, 4), the estimate's σ (3, 4), and the NEES of the whole estimate."""
    reg = source.registration
    e = reg.b - bias.reshape(-1)
    return e.reshape(3, K), np.sqrt(np.diag(reg.P)).reshape(3, K), float(e @ np.linalg.solve(reg.P, e))


def relative_sigma(reg: Registration, i: int, j: int) -> np.ndarray:
    """1-σ of radar i's offsets less radar j's."""
    D = np.zeros((K, reg.b.size))
    D[:, K * i:K * i + K] = np.eye(K)
    D[:, K * j:K * j + K] = -np.eye(K)
    return np.sqrt(np.diag(D @ reg.P @ D.T))


NEES_999 = chi2_quantile(0.999, 3 * K)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_estimate_converges_to_the_true_offsets_within_its_uncertainty(seed):
    # Offsets drawn from the prior the C2 states (its belief of how far a radar may be off), so the posterior's
    # uncertainty is the one to meet: every offset within 3σ, and the whole estimate's NEES within its 99.9 % bound.
    bias = np.random.default_rng(100 + seed).normal(0.0, PRIOR, (3, K))
    source = fly(bias, seed)
    err, sig, nees = errors(source, bias)
    assert np.all(np.abs(err) <= 3 * sig), (err / sig).round(2)
    assert nees <= NEES_999
    reg = source.registration
    # It has learnt: what pairs of radars see is known far better than the prior said ...
    for i, j in ((0, 1), (0, 2), (1, 2)):
        rel = relative_sigma(reg, i, j)
        assert np.all(rel < 0.1 * np.sqrt(2) * PRIOR), rel / PRIOR
    # ... and what they cannot see, a clock offset shared by all three, keeps the prior's uncertainty.
    common = np.full(3 * K, 0.0)
    common[3::K] = 1.0 / 3.0
    assert np.sqrt(common @ reg.P @ common) == pytest.approx(PRIOR[3] / np.sqrt(3), rel=0.05)
    assert reg.counts["registration_pairs"] > 500


def test_unbiased_radars_give_an_estimate_consistent_with_zero():
    source = fly(np.zeros((3, K)), seed=7)
    err, sig, nees = errors(source, np.zeros((3, K)))
    assert nees <= NEES_999
    assert np.all(np.abs(err) <= 3 * sig)


def test_references_pin_the_absolute_offsets_the_radars_cannot_see():
    # A clock offset shared by every radar (here 0.4 s each) is invisible to pairs of radars; aircraft reporting
    # where they are (ADS-B) show it.
    bias = np.array([[150.0, np.radians(0.2), 0.0, 0.4], [-80.0, 0.0, 0.0, 0.4], [0.0, np.radians(-0.1), 0.0, 0.4]])
    without = fly(bias, seed=4)
    with_ref = fly(bias, seed=4, references=3)
    assert with_ref.registration.counts["registration_reference_pairs"] > 50
    err, sig, nees = errors(with_ref, bias)
    assert np.all(np.abs(err) <= 3 * sig)
    assert nees <= NEES_999
    clock_without = np.sqrt(np.diag(without.registration.P))[3::K]
    assert np.all(sig[:, 3] < 0.25 * clock_without)
    assert np.all(np.abs(err[:, 3]) < 0.1)


def test_a_reference_radar_anchors_the_others():
    # Radar 2 trusted (a tight prior, and it is true): the others' clocks, which pairs see only relative to it,
    # are then known absolutely.
    bias = np.array([[150.0, np.radians(0.2), 0.0, 0.4], [-80.0, 0.0, 0.0, 0.4], [0.0, 0.0, 0.0, 0.0]])
    prior = np.tile(PRIOR, (3, 1))
    prior[2] = [1.0, np.radians(0.001), np.radians(0.001), 0.001]
    source = fly(bias, seed=6, prior_sigma=prior)
    err, sig, nees = errors(source, bias)
    assert np.all(np.abs(err) <= 3 * sig)
    assert nees <= NEES_999
    assert np.all(sig[:, 3] < 0.02)


def test_correction_takes_the_duplicates_out():
    # Biased radars left alone hold several tracks on one aircraft; corrected, one (checked once the estimate has
    # settled: the last 100 s).
    bias = np.array([[200.0, np.radians(0.3), 0.0, 0.5], [-120.0, np.radians(-0.2), 0.0, -0.3], [0.0] * 4])
    rng = np.random.default_rng(5)
    truth = flights(16, rng)
    plain = Tracker(CFG, SITES)
    source = registered(Tracker(CFG, SITES), SITES, REG, CFG)
    extra = {"plain": [], "registered": []}
    for t, site in schedule(SITES, 500.0, phases=[0.3, 1.9, 4.1]):
        pos, vel = truth(t)
        det, _ = measure(site, t, pos, vel, rng, pd=0.9)
        for name, tr in (("plain", plain), ("registered", source)):
            tr.process(biased(det, bias[site.index]))
            if t > 400.0:
                pic = tr.picture(t)
                near = np.linalg.norm(pic.x[:, None, :3] - pos[None], axis=2) < 2000.0  # tracks × aircraft
                seen = near.any(axis=0)
                extra[name].append(int(near.any(axis=1).sum() - seen.sum()))
    assert np.mean(extra["plain"]) > 1.0
    assert np.mean(extra["registered"]) < 0.1


def test_off_leaves_the_tracker_alone():
    tracker = Tracker(CFG, SITES)
    assert registered(tracker, SITES, RegistrationConfig(), CFG) is tracker
    assert isinstance(BattleManager(SITES, []).tracker, Tracker)
    bm = BattleManager(SITES, [], C2Config(registration=REG))
    assert isinstance(bm.tracker, RegisteredPicture)
    assert bm.tracker.sensors == bm.tracker.tracker.sensors  # anything else is the tracker's


def test_a_radar_it_does_not_know_passes_through():
    reg = Registration(SITES[:2], REG, CFG.q_air)
    reg.b[:] = 1.0
    det, _ = measure(SITES[2], 10.0, np.zeros((0, 3)), np.zeros((0, 3)), np.random.default_rng(0))
    assert reg.correct(det) is det


angles = st.floats(0.0, 2 * np.pi)


@settings(max_examples=60, deadline=None)
@given(st.floats(-500.0, 500.0), st.floats(-0.02, 0.02), st.floats(-0.01, 0.01), st.floats(-2.0, 2.0),
       st.lists(st.tuples(st.floats(5e3, 300e3), angles, st.floats(-0.05, 0.5)), min_size=1, max_size=5))
def test_correction_undoes_the_offsets_it_knows(dr, da, de, dt, plots):
    # A radar with offsets b, corrected by an estimate equal to b, reports what it measured.
    z = np.array(plots)
    det = Detections(time_s=100.0, sensor=1, range_m=z[:, 0], az_rad=z[:, 1], el_rad=z[:, 2],
                     sigma=np.tile([50.0, 1e-3, 1e-3], (len(z), 1)))
    reg = Registration(SITES, REG, CFG.q_air)
    reg.b[K:2 * K] = [dr, da, de, dt]
    back = reg.correct(biased(det, [dr, da, de, dt]))
    assert back.time_s == pytest.approx(100.0, abs=1e-12)
    np.testing.assert_allclose(back.range_m, det.range_m, atol=1e-7)
    np.testing.assert_allclose(geo.wrap_angle(back.az_rad - det.az_rad), 0.0, atol=1e-12)
    np.testing.assert_allclose(back.el_rad, det.el_rad, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2), st.integers(0, 2), st.floats(20e3, 250e3), angles, st.floats(0.0, 0.3),
       st.floats(20e3, 250e3), angles, st.floats(0.0, 0.3), st.floats(-3.0, 3.0),
       st.tuples(st.floats(-300.0, 300.0), st.floats(-300.0, 300.0), st.floats(-50.0, 50.0)),
       st.lists(st.floats(-1.0, 1.0), min_size=3 * K, max_size=3 * K))
def test_pair_jacobian_is_the_derivative_of_the_discrepancy(i, j, r_i, az_i, el_i, r_j, az_j, el_j, gap, v, unit):
    # g(b) = p_i(b) − p_j(b) − v (t_i(b) − t_j(b)) for any geometry and estimate, against central differences.
    if i == j:
        j = (i + 1) % 3
    reg = Registration(SITES, REG, CFG.q_air)
    reg.b = np.array(unit) * np.tile(PRIOR, 3)
    v = np.array(v)
    sig = np.array([[50.0, 1e-3, 1e-3]])
    scan_i = _Scan(100.0 + gap, np.array([[r_i, az_i, el_i]]), sig, np.zeros(1, dtype=bool))
    scan_j = _Scan(100.0, np.array([[r_j, az_j, el_j]]), sig, np.zeros(1, dtype=bool))

    def g(b):
        reg.b = b
        a, c = reg._place(i, scan_i), reg._place(j, scan_j)
        return a.pos[0] - c.pos[0] - v * (a.time_s - c.time_s)

    b0 = reg.b.copy()
    H = reg._jacobian(reg._place(i, scan_i), 0, v, reg._place(j, scan_j), 0)
    step = np.tile([0.1, 1e-6, 1e-6, 1e-3], 3)
    fd = np.stack([(g(b0 + step[c] * np.eye(b0.size)[c]) - g(b0 - step[c] * np.eye(b0.size)[c])) / (2 * step[c])
                   for c in range(b0.size)], axis=1)
    np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-4 * (1.0 + np.abs(fd).max()))


# --------------------------------------------------------------------------- the scenario's biased radars


SMALL = Path(__file__).parent / "data" / "small.yaml"


def small(mutate=None) -> Scenario:
    data = yaml.safe_load(SMALL.read_text())
    if mutate is not None:
        mutate(data)
    return scenario_from_dict(data, source=str(SMALL))


def with_biases(data: dict) -> None:
    data["radars"][0]["bias"] = {"range_m": 100.0, "az_deg": 0.2, "clock_s": 0.2}
    data["radars"][1]["bias"] = {"range_m": 200.0, "az_deg": 0.3, "el_deg": 0.05, "clock_s": 0.5}
    data["radars"][2]["bias"] = {"range_m": 0.0}  # all zero: no bias at all
    data.setdefault("c2", {})["registration"] = {"mode": "correct", "range_sigma_m": 300.0}


def test_scenario_radars_carry_biases_the_c2_is_not_told():
    sc = small(with_biases)
    sites, models = build_sensors(sc)
    assert models[1].bias == RadarBias(range_m=200.0, az_rad=np.radians(0.3), el_rad=np.radians(0.05), clock_s=0.5)
    assert models[2].bias is None and models[3].bias is None  # zero or absent: the radar is exactly as before
    assert sites == build_sensors(small())[0]  # what the C2 knows of each radar does not change
    cfg = c2_config(sc)
    assert cfg.registration.mode == "correct" and cfg.registration.range_sigma_m == 300.0
    assert cfg.registration.az_sigma_rad == pytest.approx(np.radians(0.3))
    assert c2_config(small()).registration == RegistrationConfig()


def test_a_bias_out_of_bounds_is_refused_with_its_field():
    def bad(data):
        data["radars"][0]["bias"] = {"range_m": 1e6}

    with pytest.raises(ScenarioError, match=r"radars\[0\]\.bias\.range_m"):
        small(bad)


def test_a_biased_radar_is_off_by_its_offsets_and_draws_the_same():
    sc = small(with_biases)
    _, plain = build_sensors(small())
    _, off = build_sensors(sc)
    rng = np.random.default_rng(3)
    site = plain[1].site
    # targets all around the radar, 20-80 km out, 3-8 km up
    lat, lon = geo.destination(site.lat_rad, site.lon_rad, rng.uniform(0, 2 * np.pi, 30), rng.uniform(20e3, 80e3, 30))
    pos = geo.geodetic_to_ecef(lat, lon, rng.uniform(3e3, 8e3, 30))
    vel = np.tile([100.0, 0.0, 0.0], (30, 1))
    a, src_a = plain[1].scan(50.0, pos, vel, np.full(30, 5.0))
    b, src_b = off[1].scan(50.0, pos, vel, np.full(30, 5.0))
    np.testing.assert_array_equal(src_a, src_b)
    assert len(a) > 10
    bias = off[1].bias
    assert b.time_s == 50.0 + bias.clock_s
    np.testing.assert_allclose(b.range_m - a.range_m, bias.range_m, atol=1e-8)
    np.testing.assert_allclose(geo.wrap_angle(b.az_rad - a.az_rad), bias.az_rad, atol=1e-12)
    np.testing.assert_allclose(b.el_rad - a.el_rad, bias.el_rad, atol=1e-12)
    np.testing.assert_array_equal(b.sigma, a.sigma)


def test_the_simulator_registers_its_biased_radars():
    rec = run(small(with_biases))
    assert rec.tracker_stats["registration_pairs"] > 50
    assert not rec.tracker_stats.get("registration_reference_pairs")
