"""The scene of a run: what was where, for anything that draws the run after it ended.

``scene.json`` in the run folder holds the map region, the defended assets
(with the hits they took), the radar sites with their coverage footprint and
the batteries with their layer and magazine.  Positions are degrees at this
edge (DESIGN.md conventions); the replay and the CZML export read it instead
of the scenario file, so a run folder is complete on its own.
"""

from __future__ import annotations

import numpy as np

from tdome import geo

SCENE_FORMAT = 1


def coverage_outline(site, n: int = 181) -> tuple[np.ndarray, np.ndarray]:
    """Ground footprint of the radar's maximum range (sector or full circle): lon, lat degrees."""
    if site.az_half_width_rad >= np.pi:
        az = np.linspace(0, 2 * np.pi, n)
        lat, lon = geo.destination(site.lat_rad, site.lon_rad, az, site.max_range_m)
        return np.degrees(lon), np.degrees(lat)
    az = np.linspace(site.az_center_rad - site.az_half_width_rad, site.az_center_rad + site.az_half_width_rad, n)
    lat, lon = geo.destination(site.lat_rad, site.lon_rad, az, site.max_range_m)
    lat = np.concatenate([[site.lat_rad], lat, [site.lat_rad]])
    lon = np.concatenate([[site.lon_rad], lon, [site.lon_rad]])
    return np.degrees(lon), np.degrees(lat)


def scene(rec, extent: tuple[float, float, float, float], record_step_s: float) -> dict:
    """The scene of a finished run as plain JSON-ready data; ``extent`` is (lon0, lon1, lat0, lat1)."""
    deg = lambda r: round(float(np.degrees(r)), 6)  # noqa: E731
    impact_s = rec.raid.trajectories.impact_s
    hits: dict[int, list] = {}
    for row, assets_hit in sorted(rec.impact_hits.items()):
        for j in assets_hit:
            hits.setdefault(j, []).append(dict(time_s=float(impact_s[row]), threat_id=int(row)))
    assets = [dict(name=a.name, kind=a.kind, value=float(a.value), lat_deg=deg(a.lat_rad), lon_deg=deg(a.lon_rad),
                   radius_m=float(a.radius_m), polygon=[[deg(la), deg(lo)] for la, lo in a.polygon_latlon_rad],
                   hits=sorted(hits.get(j, []), key=lambda h: h["time_s"]))
              for j, a in enumerate(rec.assets)]
    radars = []
    for s in rec.sites:
        lon, lat = coverage_outline(s, n=91)
        radars.append(dict(name=s.name, lat_deg=deg(s.lat_rad), lon_deg=deg(s.lon_rad), alt_m=float(s.alt_m),
                           max_range_m=float(s.max_range_m), az_center_deg=deg(s.az_center_rad),
                           sector_deg=round(min(2 * float(np.degrees(s.az_half_width_rad)), 360.0), 6),
                           coverage=np.round(np.column_stack([lon, lat]), 5).tolist()))
    batteries = [dict(name=b.name, layer=b.layer, interceptor=b.spec.name, lat_deg=deg(b.lat_rad),
                      lon_deg=deg(b.lon_rad), alt_m=float(b.alt_m), launchers=int(b.launchers),
                      magazine=int(b.magazine), max_range_m=float(b.spec.max_range_m),
                      max_alt_m=float(b.spec.max_alt_m), cost_usd=float(b.spec.cost_usd))
                 for b in rec.batteries]
    lon0, lon1, lat0, lat1 = (float(v) for v in extent)
    sc = rec.scenario
    return dict(format=SCENE_FORMAT, scenario=sc.name, seed=int(sc.seed), duration_s=float(rec.end_s),  # the span the run covers: it ends early once the battle is over
                record_step_s=float(record_step_s),
                region=dict(lon_min=lon0, lon_max=lon1, lat_min=lat0, lat_max=lat1),
                assets=assets, radars=radars, batteries=batteries)
