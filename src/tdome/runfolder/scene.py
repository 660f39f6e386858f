"""What ``scene.json`` holds, and the radar footprint it records.

The scene is what was where during a run: the map region, the defended
assets (with the hits they took), the radar sites with their coverage
footprint and the batteries with their layer and magazine.  Positions are
degrees at this edge (docs/design.md conventions); the map, the replay and
the CZML export read it instead of the scenario file, so a run folder is
complete on its own.

The footprint is computed here, from the scalars the scene keeps, so that
the writer records it and a reader that wants it finer (the map) draws the
same outline.
"""

from __future__ import annotations

import numpy as np

from tdome import geo


def coverage_outline(lat_rad: float, lon_rad: float, max_range_m: float, az_center_rad: float,
                     az_half_width_rad: float, n: int = 181) -> tuple[np.ndarray, np.ndarray]:
    """Ground footprint of a radar's maximum range (sector or full circle): lon, lat degrees."""
    if az_half_width_rad >= np.pi:
        az = np.linspace(0, 2 * np.pi, n)
        lat, lon = geo.destination(lat_rad, lon_rad, az, max_range_m)
        return np.degrees(lon), np.degrees(lat)
    az = np.linspace(az_center_rad - az_half_width_rad, az_center_rad + az_half_width_rad, n)
    lat, lon = geo.destination(lat_rad, lon_rad, az, max_range_m)
    lat = np.concatenate([[lat_rad], lat, [lat_rad]])
    lon = np.concatenate([[lon_rad], lon, [lon_rad]])
    return np.degrees(lon), np.degrees(lat)


def radar_outline(radar: dict, n: int = 181) -> tuple[np.ndarray, np.ndarray]:
    """:func:`coverage_outline` of one of the scene's ``radars`` (its degrees back to radians)."""
    return coverage_outline(np.radians(radar["lat_deg"]), np.radians(radar["lon_deg"]), radar["max_range_m"],
                            np.radians(radar["az_center_deg"]), np.radians(radar["sector_deg"]) / 2, n)
