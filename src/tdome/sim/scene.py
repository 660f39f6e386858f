"""The scene of a finished run, from its :class:`~tdome.sim.engine.RunRecord`: what was where.

The simulator's objects (assets, radar sites, batteries, the raid) become
the plain JSON-ready data that ``scene.json`` holds
(:mod:`tdome.runfolder.scene` says what that is); anything that draws the
run afterwards reads the scene from the run folder, never the record.
"""

from __future__ import annotations

import numpy as np

from tdome import geo
from tdome.runfolder.layout import SCENE_FORMAT
from tdome.runfolder.scene import coverage_outline


def run_region(rec) -> tuple[float, float, float, float]:
    """(lon_min, lon_max, lat_min, lat_max) in degrees: the scenario's region, or everything in it with a margin."""
    region = getattr(rec.scenario, "region", None)
    if region is not None:
        return region.lon_min, region.lon_max, region.lat_min, region.lat_max
    lats = [np.degrees(a.lat_rad) for a in rec.assets] + [np.degrees(s.lat_rad) for s in rec.sites]
    lons = [np.degrees(a.lon_rad) for a in rec.assets] + [np.degrees(s.lon_rad) for s in rec.sites]
    la, lo, _ = geo.ecef_to_geodetic(rec.raid.trajectories.launch_ecef)
    lats += list(np.degrees(la))
    lons += list(np.degrees(lo))
    return min(lons) - 0.5, max(lons) + 0.5, min(lats) - 0.5, max(lats) + 0.5


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
        lon, lat = coverage_outline(s.lat_rad, s.lon_rad, s.max_range_m, s.az_center_rad, s.az_half_width_rad, n=91)
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
    # duration_s: the span the run covers, which ends early once the battle is over.
    return dict(format=SCENE_FORMAT, scenario=sc.name, seed=int(sc.seed), duration_s=float(rec.end_s),
                record_step_s=float(record_step_s),
                region=dict(lon_min=lon0, lon_max=lon1, lat_min=lat0, lat_max=lat1),
                assets=assets, radars=radars, batteries=batteries)
