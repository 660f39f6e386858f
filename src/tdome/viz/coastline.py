"""Bundled Taiwan Strait coastline (Natural Earth 1:10m, public domain).

The data file ``tdome/data/coastline.json`` is produced by
``tools/extract_coastline.py``; see ``tdome/data/NOTICE.md`` for provenance.
Nothing is downloaded at run time.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import numpy as np
from matplotlib.path import Path

_DATA_PACKAGE = "tdome.data"
_DATA_FILE = "coastline.json"


@lru_cache(maxsize=1)
def _raw() -> dict:
    text = resources.files(_DATA_PACKAGE).joinpath(_DATA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def _load() -> tuple[tuple[str, tuple[np.ndarray, ...]], ...]:
    out = []
    for country in _raw()["countries"]:
        rings = []
        for ring in country["polygons"]:
            arr = np.asarray(ring, dtype=float).reshape(-1, 2)
            arr.setflags(write=False)
            rings.append(arr)
        out.append((str(country["name"]), tuple(rings)))
    return tuple(out)


def load_coastline() -> list[tuple[str, list[np.ndarray]]]:
    """Country name and land rings, each an array of shape ``(k, 2)`` of [lon, lat] degrees.

    Rings are closed (first vertex repeated at the end) and clipped to
    :func:`region_bbox`.  The arrays are shared and read-only.
    """
    return [(name, list(rings)) for name, rings in _load()]


def region_bbox() -> tuple[float, float, float, float]:
    """``(lon_min, lat_min, lon_max, lat_max)`` in degrees covered by the coastline data."""
    lon_min, lat_min, lon_max, lat_max = _raw()["bbox"]
    return float(lon_min), float(lat_min), float(lon_max), float(lat_max)


@lru_cache(maxsize=1)
def _paths() -> tuple[tuple[Path, tuple[float, float, float, float]], ...]:
    paths = []
    for _name, rings in _load():
        for ring in rings:
            lo = ring.min(axis=0)
            hi = ring.max(axis=0)
            paths.append((Path(ring, closed=False), (lo[0], lo[1], hi[0], hi[1])))
    return tuple(paths)


def is_land(lat_deg, lon_deg) -> np.ndarray:
    """Vectorized land test for points given in degrees; returns a bool array of the broadcast shape.

    Points outside :func:`region_bbox` are reported as sea (no data there).
    Rings within one country never overlap and the region has no holes, so a
    point is land when any ring contains it.
    """
    lat = np.asarray(lat_deg, dtype=float)
    lon = np.asarray(lon_deg, dtype=float)
    lat, lon = np.broadcast_arrays(lat, lon)
    shape = lat.shape
    pts = np.column_stack([lon.ravel(), lat.ravel()])
    land = np.zeros(pts.shape[0], dtype=bool)
    finite = np.isfinite(pts).all(axis=1)
    for path, (x0, y0, x1, y1) in _paths():
        cand = (
            finite
            & ~land
            & (pts[:, 0] >= x0)
            & (pts[:, 0] <= x1)
            & (pts[:, 1] >= y0)
            & (pts[:, 1] <= y1)
        )
        if cand.any():
            land[cand] = path.contains_points(pts[cand])
    return land.reshape(shape)
