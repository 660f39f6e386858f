"""Air-breathing threats along waypoint routes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tdome.geo import ecef_to_geodetic, enu_rotation, geodetic_to_ecef, great_circle_distance_m
from tdome.world.airbreathing import fly_route, fly_routes
from tdome.world.trajectory import TrajectorySet

DEG = np.pi / 180.0

# Fujian coast -> around the south of Taiwan -> Kaohsiung area (turns of at most ~90 deg).
ROUTE_LAT = np.array([25.0, 24.2, 23.0, 22.2, 22.6]) * DEG
ROUTE_LON = np.array([118.5, 119.2, 119.6, 120.4, 120.3]) * DEG

KINDS = {  # speed m/s, cruise height m
    "cruise_missile": (250.0, 50.0),
    "drone": (50.0, 1500.0),
    "aircraft": (240.0, 8000.0),
}


def _ground_speed_and_alt(tr):
    lat, lon, alt = ecef_to_geodetic(tr.pos_ecef)
    enu = np.einsum("nij,nj->ni", enu_rotation(lat, lon), tr.vel_ecef)
    return np.hypot(enu[:, 0], enu[:, 1]), enu[:, 2], alt


def _route_length_m(lat, lon):
    return great_circle_distance_m(lat[:-1], lon[:-1], lat[1:], lon[1:]).sum()


def _point_segment_distance(p, a, b):
    ab = b - a
    t = np.clip(np.einsum("ij,ij->i", p - a, ab) / np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-12), 0, 1)
    return np.linalg.norm(a + t[:, None] * ab - p, axis=1)


@pytest.mark.parametrize("kind", list(KINDS))
def test_route_profile(kind):
    speed, cruise = KINDS[kind]
    tr = fly_route(ROUTE_LAT, ROUTE_LON, speed, cruise, t0_s=100.0)
    aim = geodetic_to_ecef(ROUTE_LAT[-1], ROUTE_LON[-1], 0.0)
    # Ends at the aim point on the ground.
    assert np.linalg.norm(tr.impact_ecef - aim) < 1.0
    assert tr.t_s[0] == 100.0 and np.allclose(np.diff(tr.t_s[:-1]), 0.5)
    assert np.linalg.norm(tr.pos_ecef[0] - geodetic_to_ecef(ROUTE_LAT[0], ROUTE_LON[0], 0.0)) < 1e-6
    hspeed, vz, alt = _ground_speed_and_alt(tr)
    cruising = np.abs(alt - cruise) < 1e-3
    assert cruising.mean() > 0.5
    # Cruise: height within 1 m, horizontal speed within 1 % (ground speed; at height h the
    # ECEF horizontal speed is larger by h/R, 0.13 % at 8 km), no vertical speed.
    assert np.all(np.abs(alt[cruising] - cruise) < 1.0)
    assert np.all(np.abs(hspeed[cruising] / speed - 1.0) < 0.01)
    assert np.all(np.abs(hspeed[cruising] / (speed * (1 + cruise / 6.37e6)) - 1.0) < 5e-4)
    assert np.all(np.abs(vz[cruising]) < 1e-6 * speed)
    # Height never exceeds cruise and never goes below the ground.
    assert alt.max() < cruise + 1e-3 and alt.min() > -1e-3
    # Duration ≈ great-circle route length / speed (sphere vs ellipsoid: < 0.5 %).
    duration = tr.t_s[-1] - tr.t_s[0]
    assert abs(duration * speed / _route_length_m(ROUTE_LAT, ROUTE_LON) - 1.0) < 0.01
    # Terminal dive at 30 deg: the final samples descend at tan(30 deg) of the ground speed.
    assert vz[-1] / hspeed[-1] == pytest.approx(-np.tan(30 * DEG), rel=1e-3)


@pytest.mark.parametrize("kind", list(KINDS))
def test_passes_waypoints_and_velocity_consistent(kind):
    speed, cruise = KINDS[kind]
    tr = fly_route(ROUTE_LAT, ROUTE_LON, speed, cruise, t0_s=0.0)
    lat, lon, _ = ecef_to_geodetic(tr.pos_ecef)
    ground = geodetic_to_ecef(lat, lon, 0.0)
    for wl, wo in zip(ROUTE_LAT[1:-1], ROUTE_LON[1:-1]):
        wp = geodetic_to_ecef(wl, wo, 0.0)[None, :]
        d = _point_segment_distance(np.repeat(wp, len(ground) - 1, 0), ground[:-1], ground[1:])
        assert d.min() < 50.0
    # Central differences vs reported velocity, away from the waypoints / phase changes
    # (where the model turns or changes climb rate instantly).
    p, v = tr.pos_ecef, tr.vel_ecef
    fd = (p[2:-1] - p[:-3]) / (2 * 0.5)
    vk = v[1:-2]
    smooth = np.linalg.norm(v[2:-1] - v[:-3], axis=1) < 1e-3 * np.linalg.norm(vk, axis=1)
    assert smooth.mean() > 0.95
    rel = np.linalg.norm(fd - vk, axis=1) / np.linalg.norm(vk, axis=1)
    assert rel[smooth].max() < 0.01
    assert rel[smooth].max() < 1e-4  # in fact exact to second order in dt


def test_level_terminal_and_short_route():
    lat = np.array([24.0, 24.0]) * DEG
    lon = np.array([119.0, 119.3]) * DEG
    tr = fly_route(lat, lon, 280.0, 30.0, terminal="level")
    _, _, alt = ecef_to_geodetic(tr.pos_ecef)
    assert alt[-1] == pytest.approx(30.0, abs=1e-3)
    assert np.linalg.norm(tr.impact_ecef - geodetic_to_ecef(lat[-1], lon[-1], 30.0)) < 1.0
    # 3 km route, cruise 2 km, dive 30 deg: it peaks below cruise and still ends on the aim.
    lat = np.array([24.0, 24.0]) * DEG
    lon = np.array([119.0, 119.0295]) * DEG  # ~3.0 km
    tr = fly_route(lat, lon, 50.0, 2000.0, climb_rate_mps=10.0, aim_alt_m=15.0)
    _, _, alt = ecef_to_geodetic(tr.pos_ecef)
    assert alt.max() < 2000.0
    assert np.linalg.norm(tr.impact_ecef - geodetic_to_ecef(lat[-1], lon[-1], 15.0)) < 1.0
    with pytest.raises(ValueError):
        fly_route(lat, lon, 50.0, 100.0, terminal="spiral")
    with pytest.raises(ValueError):
        fly_route(lat[:1], lon[:1], 50.0, 100.0)


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 6).flatmap(lambda m: st.tuples(
    st.lists(st.floats(21.5, 26.5), min_size=m, max_size=m),
    st.lists(st.floats(117.5, 123.0), min_size=m, max_size=m))),
    st.floats(30.0, 300.0), st.floats(30.0, 9000.0), st.floats(10.0, 60.0))
def test_random_routes(route, speed, cruise, dive_deg):
    lat, lon = np.array(route[0]) * DEG, np.array(route[1]) * DEG
    if np.any(great_circle_distance_m(lat[:-1], lon[:-1], lat[1:], lon[1:]) < 1.0):
        return
    tr = fly_route(lat, lon, speed, cruise, terminal_dive_deg=dive_deg)
    assert np.linalg.norm(tr.impact_ecef - geodetic_to_ecef(lat[-1], lon[-1], 0.0)) < 1.0
    hspeed, _, alt = _ground_speed_and_alt(tr)
    assert np.all(np.abs(hspeed / speed - 1.0) < 0.01)
    assert alt.max() < cruise + 1e-3
    duration = tr.t_s[-1] - tr.t_s[0]
    assert abs(duration * speed / _route_length_m(lat, lon) - 1.0) < 0.01


def test_fly_routes_many_with_per_route_parameters():
    rng = np.random.default_rng(7)
    n = 300
    routes = []
    for _ in range(n):
        m = rng.integers(2, 5)
        routes.append((rng.uniform(22, 26, m) * DEG, rng.uniform(118, 122, m) * DEG))
    speeds = rng.uniform(120, 280, n)  # ~2,000 samples per route
    terminal = ["dive" if i % 2 else "level" for i in range(n)]
    trs = fly_routes(routes, speeds, 60.0, t0_s=np.arange(n, dtype=float), terminal=terminal)
    assert len(trs) == n
    assert all(tr.t_s[0] == i for i, tr in enumerate(trs))
    _, _, alt_end = ecef_to_geodetic(np.array([tr.impact_ecef for tr in trs]))
    assert np.allclose(alt_end[1::2], 0.0, atol=1e-3) and np.allclose(alt_end[0::2], 60.0, atol=1e-3)
    # They pack into one TrajectorySet; grid samples agree with each route's own samples.
    ts = TrajectorySet(trs[:20], dt_s=0.5, t0_s=0.0)
    pos, _, alive = ts.state_at(25.0)
    for i in np.flatnonzero(alive):
        k = np.searchsorted(trs[i].t_s, 25.0)
        assert np.allclose(pos[i], trs[i].pos_ecef[k], atol=1e-6)
