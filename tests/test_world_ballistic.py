"""Ballistic truth trajectories, launch solution and the TrajectorySet container."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tdome.dynamics import J2, MU_M3_S2, OMEGA_EARTH_RAD_S
from tdome.geo import A_M, destination, ecef_to_geodetic, enu_rotation, geodetic_to_ecef, great_circle_distance_m
from tdome.world.ballistic import (
    burnout_speed_mps,
    fly_ballistic,
    fly_ballistic_many,
    min_energy_gamma_rad,
    range_angle_rad,
    solve_launch,
)
from tdome.world.trajectory import Trajectory, TrajectorySet

DEG = np.pi / 180.0
G0 = MU_M3_S2 / A_M**2


def _bmw_range_angle(speed, gamma, radius):
    """BMW eq. 6.2-16, cos(ψ/2) = (1 - Q cos²γ)/sqrt(1 + Q(Q-2)cos²γ), written independently."""
    q = speed**2 * radius / MU_M3_S2
    c2 = np.cos(gamma) ** 2
    return 2.0 * np.arccos((1.0 - q * c2) / np.sqrt(1.0 + q * (q - 2.0) * c2))


def _launch_state(lat, lon, radius, speed, gamma, az):
    """Geocentric state at radius ``radius`` above (lat, lon), velocity in the geocentric horizon."""
    up = np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    east = np.array([-np.sin(lon), np.cos(lon), 0.0])
    north = np.cross(up, east)
    vel = speed * (np.cos(gamma) * (np.sin(az) * east + np.cos(az) * north) + np.sin(gamma) * up)
    return radius * up, vel


def _central_angle(p, q):
    p, q = np.atleast_2d(p), np.atleast_2d(q)
    c = np.einsum("ij,ij->i", p, q) / (np.linalg.norm(p, axis=1) * np.linalg.norm(q, axis=1))
    s = np.linalg.norm(np.cross(p, q), axis=1) / (np.linalg.norm(p, axis=1) * np.linalg.norm(q, axis=1))
    return np.arctan2(s, c)


# ---------------------------------------------------------------------------- closed forms

def test_closed_forms_are_consistent():
    psi = np.linspace(0.01, 0.5, 30)
    gam = np.linspace(0.2, 1.2, 30)
    v = burnout_speed_mps(psi, gam, A_M)
    assert np.allclose(range_angle_rad(v, gam, A_M), psi, rtol=1e-12)
    assert np.allclose(_bmw_range_angle(v, gam, A_M), psi, rtol=1e-9)
    # Minimum-energy angle maximises range at fixed speed.
    v_fixed = burnout_speed_mps(0.1, min_energy_gamma_rad(0.1), A_M)
    g = np.linspace(0.3, 1.2, 2001)
    best = g[np.argmax(range_angle_rad(v_fixed, g, A_M))]
    assert abs(best - min_energy_gamma_rad(0.1)) < 1e-3


# ---------------------------------------------------------------------------- (a) analytic range

@settings(max_examples=25, deadline=None)
@given(speed=st.floats(1000.0, 3000.0), gamma_deg=st.floats(20.0, 60.0), lat_deg=st.floats(-70.0, 70.0),
       az_deg=st.floats(0.0, 360.0))
def test_range_matches_spherical_closed_form(speed, gamma_deg, lat_deg, az_deg):
    """Non-rotating point mass: the range angle at which |r| returns to its launch value is BMW's ψ.

    Launch radius a + 100 m is above the ellipsoid everywhere, so the descent
    crosses the launch radius before ground impact and the comparison is
    independent of the ellipsoid's shape.  Required 0.5 %; achieved ~1e-6.
    """
    gamma = gamma_deg * DEG
    r0, v0 = _launch_state(lat_deg * DEG, 0.3, A_M + 100.0, speed, gamma, az_deg * DEG)
    tr = fly_ballistic(r0, v0, rotating=False, j2=False)
    rad = np.linalg.norm(tr.pos_ecef, axis=1)
    k = np.flatnonzero((rad[:-1] >= rad[0]) & (rad[1:] < rad[0]) & (np.arange(rad.size - 1) > 0))[0]
    ang = _central_angle(r0, tr.pos_ecef[k:k + 2])
    psi = ang[0] + (ang[1] - ang[0]) * (rad[k] - rad[0]) / (rad[k] - rad[k + 1])
    expected = _bmw_range_angle(speed, gamma, A_M + 100.0)
    assert abs(psi / expected - 1.0) < 1e-4


def test_impact_on_equator_matches_closed_form():
    """East/west along the equator the ellipsoid is a circle of radius a: the impact itself is exact."""
    speed = np.array([1000.0, 1500.0, 2000.0, 2500.0, 3000.0, 1200.0])
    gamma = np.array([20.0, 35.0, 45.0, 60.0, 30.0, 50.0]) * DEG
    az = np.array([90.0, 270.0, 90.0, 270.0, 90.0, 270.0]) * DEG
    states = [_launch_state(0.0, 1.0, A_M, s, g, a) for s, g, a in zip(speed, gamma, az)]
    r0 = np.array([s[0] for s in states])
    v0 = np.array([s[1] for s in states])
    trs = fly_ballistic_many(r0, v0, np.arange(6.0), rotating=False, j2=False)
    imp = np.array([tr.impact_ecef for tr in trs])
    psi = _central_angle(r0, imp)
    rel = np.abs(psi / _bmw_range_angle(speed, gamma, A_M) - 1.0)
    assert rel.max() < 1e-5
    _, _, alt = ecef_to_geodetic(imp)
    assert np.all(np.abs(alt) < 1e-3)
    for i, tr in enumerate(trs):
        assert tr.t_s[0] == i and np.allclose(np.diff(tr.t_s[:-1]), 0.5)
        assert 0.0 < tr.t_s[-1] - tr.t_s[-2] <= 0.5


# ---------------------------------------------------------------------------- (b) flat Earth

@settings(max_examples=25, deadline=None)
@given(speed=st.floats(100.0, 1000.0), gamma_deg=st.floats(10.0, 80.0))
def test_short_range_matches_flat_earth(speed, gamma_deg):
    """R_flat = v² sin 2γ / g.

    Tolerance: the exact spherical range exceeds R_flat by the factor
    1 + Q cos²γ + O(Q²), Q = v²/(g a) (from tan(ψ/2) = Q sinγ cosγ / (1 - Q cos²γ)),
    i.e. up to 1.6 % at 1 km/s: the ground curving away and gravity
    weakening with height both lengthen the shot.  We check the ratio is
    within 2 % and matches that first-order correction to O(Q²).
    """
    gamma = gamma_deg * DEG
    r0, v0 = _launch_state(0.0, 0.0, A_M, speed, gamma, 90.0 * DEG)
    tr = fly_ballistic(r0, v0, rotating=False, j2=False)
    rng = A_M * _central_angle(r0, tr.impact_ecef)[0]
    ratio = rng / (speed**2 * np.sin(2 * gamma) / G0)
    q = speed**2 / (G0 * A_M)
    assert abs(ratio - 1.0) < 0.02
    assert abs(ratio - 1.0 - q * np.cos(gamma) ** 2) < 2 * q * q + 1e-6


# ---------------------------------------------------------------------------- (c) aiming

FUJIAN = (25.0 * DEG, 118.5 * DEG)


def _aim_cases():
    lat0, lon0 = FUJIAN
    launch, aim, gamma = [], [], []
    # Taiwan Strait cases from the brief.
    for a in [(25.0 * DEG, 121.5 * DEG), (22.6 * DEG, 120.3 * DEG)]:
        launch.append((lat0, lon0)), aim.append(a), gamma.append(np.nan)
    # Rings of 80-1,000 km in various directions.
    for rng_km, brg_deg in [(80, 90), (80, 200), (150, 120), (300, 0), (450, 315), (600, 135), (800, 45),
                            (1000, 100), (1000, 250)]:
        a = destination(lat0, lon0, brg_deg * DEG, rng_km * 1e3)
        launch.append((lat0, lon0)), aim.append(a), gamma.append(np.nan)
    # Rockets: flatter fixed flight-path angle.
    for rng_km, brg_deg, g in [(70, 110, 0.65), (150, 95, 0.6), (280, 130, 0.7)]:
        a = destination(lat0, lon0, brg_deg * DEG, rng_km * 1e3)
        launch.append((lat0, lon0)), aim.append(a), gamma.append(g)
    launch, aim = np.array(launch), np.array([np.array(a, dtype=float) for a in aim])
    return launch, aim, np.array(gamma)


def test_solve_launch_hits_aim_with_rotation_and_j2():
    launch, aim, gamma = _aim_cases()
    r0 = geodetic_to_ecef(launch[:, 0], launch[:, 1], 0.0)
    target = geodetic_to_ecef(aim[:, 0], aim[:, 1], 0.0)
    me = np.isnan(gamma)
    v0 = np.zeros((len(gamma), 3))
    v0[me], info = solve_launch(launch[me, 0], launch[me, 1], aim[me, 0], aim[me, 1], full_output=True)
    v0[~me] = solve_launch(launch[~me, 0], launch[~me, 1], aim[~me, 0], aim[~me, 1], gamma_rad=gamma[~me])
    assert np.all(info["iterations"] <= 6)
    trs = fly_ballistic_many(r0, v0, 0.0)
    miss = np.linalg.norm(np.array([tr.impact_ecef for tr in trs]) - target, axis=1)
    assert miss.max() < 100.0, miss
    assert miss.max() < 5.0  # Newton is driven to 1 m; fly-out uses the same integrator.
    # The fixed flight-path angle is honoured (local geodetic horizontal).
    enu = np.einsum("nij,nj->ni", enu_rotation(launch[:, 0], launch[:, 1]), v0)
    fpa = np.arctan2(enu[:, 2], np.hypot(enu[:, 0], enu[:, 1]))
    assert np.allclose(fpa[~me], gamma[~me], atol=1e-12)
    # Rotation + J2 matter: the spherical, non-rotating first guess misses by kilometres.
    with pytest.warns(RuntimeWarning):
        _, guess = solve_launch(launch[me, 0], launch[me, 1], aim[me, 0], aim[me, 1], max_iter=0,
                                full_output=True)
    rng = great_circle_distance_m(launch[me, 0], launch[me, 1], aim[me, 0], aim[me, 1])
    assert np.all(guess["miss_m"][rng > 500e3] > 1e3)


def test_solve_launch_scalar_and_consistency_without_rotation():
    lat0, lon0 = FUJIAN
    aim = (25.0 * DEG, 121.5 * DEG)
    v0 = solve_launch(lat0, lon0, *aim, rotating=False, j2=False)
    assert v0.shape == (3,)
    r0 = geodetic_to_ecef(lat0, lon0, 0.0)
    tr = fly_ballistic(r0, v0, rotating=False, j2=False)
    assert np.linalg.norm(tr.impact_ecef - geodetic_to_ecef(*aim, 0.0)) < 5.0
    # Without rotation/J2 the answer is close to the spherical closed form (ellipsoid effects only).
    psi = _central_angle(r0, geodetic_to_ecef(*aim, 0.0))[0]
    v_sph = burnout_speed_mps(psi, min_energy_gamma_rad(psi), np.linalg.norm(r0))
    assert abs(np.linalg.norm(v0) / v_sph - 1.0) < 5e-3


# ---------------------------------------------------------------------------- (d) energy

def _energy(tr):
    r = np.linalg.norm(tr.pos_ecef, axis=1)
    return 0.5 * np.sum(tr.vel_ecef**2, axis=1) - MU_M3_S2 / r


def _jacobi(tr):
    """Rotating-frame Jacobi integral v²/2 + U_J2 - ω²(x²+y²)/2 (conserved with rotation and J2)."""
    p, v = tr.pos_ecef, tr.vel_ecef
    r = np.linalg.norm(p, axis=1)
    s2 = (p[:, 2] / r) ** 2
    u = -MU_M3_S2 / r * (1.0 - 0.5 * J2 * (A_M / r) ** 2 * (3.0 * s2 - 1.0))
    return 0.5 * np.sum(v**2, axis=1) + u - 0.5 * OMEGA_EARTH_RAD_S**2 * (p[:, 0] ** 2 + p[:, 1] ** 2)


def test_energy_conserved_non_rotating():
    lat0, lon0 = FUJIAN
    r0 = geodetic_to_ecef(np.full(3, lat0), np.full(3, lon0), 0.0)
    aims = [destination(lat0, lon0, b, d) for b, d in [(1.6, 300e3), (2.4, 700e3), (0.5, 1000e3)]]
    aims = np.array(aims, dtype=float)
    v0 = solve_launch(np.full(3, lat0), lon0, aims[:, 0], aims[:, 1], rotating=False, j2=False)
    for tr in fly_ballistic_many(r0, v0, rotating=False, j2=False):
        e = _energy(tr)
        assert np.max(np.abs(e / e[0] - 1.0)) < 1e-6
    # With rotation and J2 the Jacobi integral is the conserved quantity.
    v0 = solve_launch(np.full(3, lat0), lon0, aims[:, 0], aims[:, 1])
    for tr in fly_ballistic_many(r0, v0):
        c = _jacobi(tr)
        assert np.max(np.abs(c / c[0] - 1.0)) < 1e-6


# ---------------------------------------------------------------------------- (e) SRBM plausibility

def test_srbm_600km_min_energy():
    lat0, lon0 = FUJIAN
    aim = destination(lat0, lon0, 100 * DEG, 600e3)
    v0 = solve_launch(lat0, lon0, *aim)
    tr = fly_ballistic(geodetic_to_ecef(lat0, lon0, 0.0), v0)
    _, _, alt = ecef_to_geodetic(tr.pos_ecef)
    reentry = np.linalg.norm(tr.vel_ecef[-1])
    assert 2000.0 < reentry < 3000.0
    assert 100e3 < alt.max() < 200e3
    assert 250.0 < tr.t_s[-1] < 450.0  # ~6 min flight
    assert 2000.0 < np.linalg.norm(v0) < 3000.0


def test_no_impact_within_max_time_warns():
    r0 = geodetic_to_ecef(0.0, 0.0, 0.0)
    v0 = np.array([3000.0, 0.0, 0.0])  # straight up
    with pytest.warns(RuntimeWarning):
        tr = fly_ballistic(r0, v0, max_time_s=20.0)
    assert tr.t_s[-1] == pytest.approx(20.0)


# ---------------------------------------------------------------------------- TrajectorySet

@pytest.fixture(scope="module")
def salvo():
    lat0, lon0 = FUJIAN
    n = 12
    brg = np.linspace(60, 160, n) * DEG
    rng = np.linspace(80e3, 900e3, n)
    alat, alon = destination(lat0, lon0, brg, rng)
    v0 = solve_launch(np.full(n, lat0), lon0, alat, alon)
    r0 = geodetic_to_ecef(np.full(n, lat0), lon0, 0.0)
    t0 = np.linspace(0.0, 37.3, n)  # launches off the grid
    return fly_ballistic_many(r0, v0, t0)


def test_trajectory_set_grid_and_nan(salvo):
    trs = salvo
    ts = TrajectorySet(trs, dt_s=0.5)
    n = len(trs)
    assert ts.pos.shape == (n, ts.t_s.size, 3) and ts.vel.shape == ts.pos.shape
    assert ts.t_s[0] == min(tr.t_s[0] for tr in trs) and ts.t_s[-1] >= max(tr.t_s[-1] for tr in trs)
    for i, tr in enumerate(trs):
        inside = (ts.t_s >= tr.launch_s) & (ts.t_s <= tr.impact_s)
        assert np.all(np.isfinite(ts.pos[i, inside])) and np.all(np.isnan(ts.pos[i, ~inside]))
        assert np.array_equal(ts.impact_ecef[i], tr.impact_ecef)
    assert np.allclose(ts.launch_s, [tr.launch_s for tr in trs])
    assert np.allclose(ts.impact_s, [tr.impact_s for tr in trs])


def test_trajectory_set_state_at_accuracy(salvo):
    trs = salvo
    ts = TrajectorySet(trs, dt_s=0.5)
    rng = np.random.default_rng(1)
    for t in rng.uniform(ts.t_s[0] - 5, ts.t_s[-1] + 5, 200):
        pos, vel, alive = ts.state_at(t)
        exp_alive = (t >= ts.launch_s) & (t <= ts.impact_s)
        assert np.array_equal(alive, exp_alive)
        assert np.all(np.isnan(pos[~alive]))
        for i in np.flatnonzero(alive):
            p, v = trs[i].sample(t)
            # Linear interpolation over 0.5 s: error <= |a| h² / 8 ~ 0.3 m.
            assert np.linalg.norm(pos[i] - p) < 1.0
            assert np.linalg.norm(vel[i] - v) < 0.5
    # Exact ends.
    pos, _, alive = ts.state_at(ts.impact_s, idx=np.arange(len(trs)))
    assert alive.all() and np.allclose(pos, ts.impact_ecef, atol=1e-6)
    pos, _, alive = ts.state_at(ts.launch_s)
    assert alive.all() and np.allclose(pos, ts.launch_ecef, atol=1e-6)
    # Subset and per-object times.
    idx = np.array([3, 0, 7])
    t = ts.launch_s[idx] + 12.3
    pos, vel, alive = ts.state_at(t, idx)
    assert pos.shape == (3, 3) and alive.all()
    for j, i in enumerate(idx):
        assert np.linalg.norm(pos[j] - trs[i].sample(t[j])[0]) < 1.0


def test_trajectory_set_short_life_and_speed(salvo):
    # Lifetime shorter than one grid step: launch and impact bracket the query.
    tr = Trajectory([10.1, 10.3], [[0, 0, 0], [2, 0, 0]], [[10, 0, 0], [10, 0, 0]])
    ts = TrajectorySet([tr], dt_s=0.5, t0_s=0.0, t_end_s=20.0)
    pos, _, alive = ts.state_at(10.2)
    assert alive[0] and np.allclose(pos[0], [1, 0, 0])
    assert np.all(np.isnan(ts.pos))
    # The vectorized look-up on 1,000 objects, 200 queries: every copy of a trajectory is where the original is.
    # (How fast it is belongs in benchmarks/: a test never asserts a wall-clock time.)
    base = salvo
    big = TrajectorySet([base[i % len(base)] for i in range(1000)], dt_s=0.5)
    small = TrajectorySet(list(base), dt_s=0.5)
    rep = np.arange(1000) % len(base)
    for t in np.linspace(0, 400, 200):
        pos, _, alive = big.state_at(t)
        pos0, _, alive0 = small.state_at(t)
        assert np.array_equal(alive, alive0[rep])
        assert np.allclose(pos[alive], pos0[rep][alive])
