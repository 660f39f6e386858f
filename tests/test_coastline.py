"""Bundled Taiwan Strait coastline: loading, land/sea checks and island area."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tdome.viz.coastline import is_land, load_coastline, region_bbox


def _area_km2(ring: np.ndarray) -> float:
    """Shoelace area with lon scaled by cos(lat) * 111.32 km and lat by 111.32 km."""
    lon, lat = ring[:, 0], ring[:, 1]
    k = 111.32
    x = lon * np.cos(np.radians(lat.mean())) * k
    y = lat * k
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)))


def test_loads():
    data = load_coastline()
    assert len(data) >= 2
    lon_min, lat_min, lon_max, lat_max = region_bbox()
    assert (lon_min, lat_min, lon_max, lat_max) == (115.5, 20.5, 125.0, 27.8)
    for name, rings in data:
        assert isinstance(name, str) and rings
        for ring in rings:
            assert ring.ndim == 2 and ring.shape[1] == 2 and ring.shape[0] >= 4
            assert np.array_equal(ring[0], ring[-1])
            assert ring[:, 0].min() >= lon_min - 1e-9 and ring[:, 0].max() <= lon_max + 1e-9
            assert ring[:, 1].min() >= lat_min - 1e-9 and ring[:, 1].max() <= lat_max + 1e-9


def test_taiwan_and_china_present():
    names = {name for name, _ in load_coastline()}
    assert "Taiwan" in names
    assert "China" in names


@pytest.mark.parametrize(
    ("place", "lat", "lon"),
    [
        ("Taipei", 25.03, 121.56),
        ("Kaohsiung", 22.63, 120.30),
        ("Kinmen", 24.44, 118.35),
        ("Penghu Magong", 23.57, 119.58),
        ("Fuzhou", 26.07, 119.30),
    ],
)
def test_land(place, lat, lon):
    assert bool(is_land(lat, lon)), place


@pytest.mark.parametrize(
    ("place", "lat", "lon"),
    [
        ("mid-strait", 24.0, 119.8),
        ("east of Taiwan", 23.5, 122.5),
    ],
)
def test_sea(place, lat, lon):
    assert not bool(is_land(lat, lon)), place


def test_is_land_vectorized():
    lat = np.array([[25.03, 24.0], [23.5, 26.07]])
    lon = np.array([[121.56, 119.8], [122.5, 119.30]])
    got = is_land(lat, lon)
    assert got.shape == (2, 2) and got.dtype == bool
    assert got.tolist() == [[True, False], [False, True]]
    assert is_land(np.array([]), np.array([])).shape == (0,)
    assert not is_land(0.0, 0.0)  # outside the region: no data, reported as sea


def test_taiwan_main_island_area():
    rings = dict(load_coastline())["Taiwan"]
    area = max(_area_km2(r) for r in rings)
    assert math.isclose(area, 35_800.0, rel_tol=0.10), area
