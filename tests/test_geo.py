"""Geodesy against pymap3d (an independent implementation) and analytic horizon results."""

import numpy as np
import pymap3d
from hypothesis import given, settings
from hypothesis import strategies as st

from tdome import geo

lat_s = st.floats(-89.9, 89.9)
lon_s = st.floats(-180.0, 180.0)
alt_s = st.floats(-1000.0, 2.0e6)


@settings(max_examples=200, deadline=None)
@given(lat_s, lon_s, alt_s)
def test_geodetic_ecef_matches_pymap3d_and_round_trips(lat, lon, alt):
    xyz = geo.geodetic_to_ecef(np.radians(lat), np.radians(lon), alt)
    ref = np.array(pymap3d.geodetic2ecef(lat, lon, alt))
    assert np.allclose(xyz, ref, atol=1e-6)
    la, lo, h = geo.ecef_to_geodetic(xyz)
    assert abs(np.degrees(la) - lat) < 1e-9
    assert abs(np.degrees(geo.wrap_angle(lo - np.radians(lon)))) < 1e-9
    assert abs(h - alt) < 1e-5


@settings(max_examples=100, deadline=None)
@given(lat_s, lon_s, st.floats(-20e3, 20e3), st.floats(-20e3, 20e3), st.floats(0, 20e3))
def test_enu_matches_pymap3d(lat0, lon0, e, n, u):
    enu = np.array([e, n, u])
    xyz = geo.enu_to_ecef(enu, np.radians(lat0), np.radians(lon0), 100.0)
    ref = np.array(pymap3d.enu2ecef(e, n, u, lat0, lon0, 100.0))
    assert np.allclose(xyz, ref, atol=1e-6)
    assert np.allclose(geo.ecef_to_enu(xyz, np.radians(lat0), np.radians(lon0), 100.0), enu, atol=1e-6)


@settings(max_examples=100, deadline=None)
@given(st.floats(1.0, 1e6), st.floats(0, 2 * np.pi - 1e-9), st.floats(-1.5, 1.5))
def test_razel_round_trip(r, az, el):
    rr, aa, ee = geo.enu_to_razel(geo.razel_to_enu(r, az, el))
    assert np.isclose(rr, r, rtol=1e-12)
    assert abs(geo.wrap_angle(aa - az)) < 1e-9 or abs(np.cos(el)) < 1e-9
    assert abs(ee - el) < 1e-9


def test_horizon_formula_and_ray_test_agree():
    # A 2,600 m mountain radar sees a 50 m sea skimmer out to sqrt(2kRh1)+sqrt(2kRh2).
    d = geo.horizon_range_m(2600.0, 50.0)
    re = 4.0 / 3.0 * geo.MEAN_RADIUS_M
    assert np.isclose(d, np.sqrt(2 * re * 2600 + 2600**2) + np.sqrt(2 * re * 50 + 50**2))
    assert 230e3 < d < 240e3
    # The ray test flips from visible to hidden within 0.5% of the formula's range.
    assert geo.line_of_sight(2600.0, 50.0, 0.995 * d)
    assert not geo.line_of_sight(2600.0, 50.0, 1.005 * d)
    # A coastal radar at 30 m sees the same skimmer only at ~ 45 km: late warning.
    assert 40e3 < geo.horizon_range_m(30.0, 50.0) < 52e3


def test_great_circle_destination_round_trip():
    lat, lon = np.radians(25.0), np.radians(119.0)
    lat2, lon2 = geo.destination(lat, lon, np.radians(100.0), 250e3)
    assert np.isclose(geo.great_circle_distance_m(lat, lon, lat2, lon2), 250e3, rtol=1e-9)
    assert np.isclose(geo.initial_bearing_rad(lat, lon, lat2, lon2), np.radians(100.0), atol=1e-9)


@settings(max_examples=200, deadline=None)
@given(lat_s, lon_s, st.floats(-20e3, 2.0e6))
def test_radial_height_bounds_the_geodetic_height_from_below(lat, lon, alt):
    """``h ≥ 0.999 h_r`` above the ellipsoid and ``h ≥ h_r`` below it (the bound the deletion test relies on)."""
    x, y, z = geo.geodetic_to_ecef(np.radians(lat), np.radians(lon), alt)
    hr = geo.radial_height(x, y, z)
    assert hr == geo.height_m(np.array([x, y, z]))  # the compiled form is the numpy one, to the bit
    assert alt >= (hr if hr < 0 else 0.999 * hr) - 1e-6


def test_radial_height_is_close_to_geodetic_height():
    rng = np.random.default_rng(1)
    lat, lon = rng.uniform(-1.5, 1.5, 5000), rng.uniform(-3, 3, 5000)
    h = rng.uniform(-500.0, 200e3, 5000)
    assert np.max(np.abs(geo.height_m(geo.geodetic_to_ecef(lat, lon, h)) - h)) < 1.5
