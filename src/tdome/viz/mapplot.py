"""Static map of a run: coastline, assets, radar coverage, batteries, threat paths, intercepts, leakers."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tdome import geo  # noqa: E402
from tdome.sim.scene import coverage_outline  # noqa: E402
from tdome.viz.coastline import load_coastline  # noqa: E402

from tdome.viz.palette import CLASS_COLOURS, HIT, LAYER_COLOURS, SAFE  # noqa: E402


def map_extent(rec) -> tuple[float, float, float, float]:
    """(lon_min, lon_max, lat_min, lat_max) in degrees: the scenario's region or everything in it."""
    region = getattr(rec.scenario, "region", None)
    if region is not None:
        return region.lon_min, region.lon_max, region.lat_min, region.lat_max
    lats = [np.degrees(a.lat_rad) for a in rec.assets] + [np.degrees(s.lat_rad) for s in rec.sites]
    lons = [np.degrees(a.lon_rad) for a in rec.assets] + [np.degrees(s.lon_rad) for s in rec.sites]
    la, lo, _ = geo.ecef_to_geodetic(rec.raid.trajectories.launch_ecef)
    lats += list(np.degrees(la))
    lons += list(np.degrees(lo))
    return min(lons) - 0.5, max(lons) + 0.5, min(lats) - 0.5, max(lats) + 0.5


MAP_EVENT_KINDS = ("kill", "miss", "leak", "impact")


def map_layers(rec) -> dict:
    """What the map plots of assets and events, as data.

    ``assets``: (name, lon, lat, hit) per asset in scenario order; ``events``:
    kind -> list of (lon, lat) for the kinds in :data:`MAP_EVENT_KINDS`.  The
    replay is tested against this, so the two pictures of a run agree.
    """
    hit_assets = {j for hits in rec.impact_hits.values() for j in hits}
    assets = [(a.name, float(np.degrees(a.lon_rad)), float(np.degrees(a.lat_rad)), j in hit_assets)
              for j, a in enumerate(rec.assets)]
    events = {k: [(e["lon_deg"], e["lat_deg"]) for e in rec.events if e["kind"] == k] for k in MAP_EVENT_KINDS}
    return dict(assets=assets, events=events)


def plot_run(rec, path: Path) -> Path:
    lon0, lon1, lat0, lat1 = map_extent(rec)
    aspect = 1.0 / np.cos(np.radians(0.5 * (lat0 + lat1)))
    fig, ax = plt.subplots(figsize=(11, 11 * (lat1 - lat0) * aspect / (lon1 - lon0) * 0.95 + 0.6), dpi=110)
    ax.set_facecolor("#dbe9f4")
    for _, rings in load_coastline():
        for ring in rings:
            ax.fill(ring[:, 0], ring[:, 1], color="#f3efe2", ec="#8c8c7a", lw=0.5, zorder=1)

    for s in rec.sites:
        x, y = coverage_outline(s)
        ax.plot(x, y, color="#4d4d4d", lw=0.5, ls=":", zorder=2)
        ax.plot(np.degrees(s.lon_rad), np.degrees(s.lat_rad), marker="^", color="black", ms=6, zorder=6)
        ax.annotate(s.name, (np.degrees(s.lon_rad), np.degrees(s.lat_rad)), fontsize=6, xytext=(3, -8),
                    textcoords="offset points", zorder=7)

    # Threat paths from the truth samples.
    raid = rec.raid
    if rec.truth_rows:
        tr = np.array([(r[1], r[2], r[3]) for r in rec.truth_rows])
        for i in np.unique(tr[:, 0]).astype(int):
            sel = tr[:, 0] == i
            ax.plot(tr[sel, 2], tr[sel, 1], color=CLASS_COLOURS.get(raid.cls[i], "k"), lw=0.6, alpha=0.6, zorder=3)

    layers = map_layers(rec)
    vmax = max(a.value for a in rec.assets) if rec.assets else 1.0
    for a, (_, _, _, hit) in zip(rec.assets, layers["assets"]):
        c = HIT if hit else SAFE
        if a.polygon_latlon_rad:
            p = np.degrees(np.asarray(a.polygon_latlon_rad))
            ax.fill(p[:, 1], p[:, 0], color=c, alpha=0.7, zorder=5)
        ax.scatter(np.degrees(a.lon_rad), np.degrees(a.lat_rad), s=40 + 160 * a.value / vmax, c=c, ec="white",
                   lw=0.8, zorder=5)
        ax.annotate(a.name, (np.degrees(a.lon_rad), np.degrees(a.lat_rad)), fontsize=7, xytext=(5, 4),
                    textcoords="offset points", zorder=7, weight="bold")

    for b in rec.batteries:
        ax.plot(np.degrees(b.lon_rad), np.degrees(b.lat_rad), marker="s", color=LAYER_COLOURS[b.layer], ms=5,
                mec="white", mew=0.5, zorder=6)

    kinds = {"kill": ("x", "#1a9850", 30), "miss": ("x", "#999999", 14), "leak": ("*", "#ffd92f", 160),
             "impact": ("o", "#969696", 12)}
    for kind, (m, c, size) in kinds.items():
        pts = np.array(layers["events"][kind])
        if len(pts):
            ax.scatter(pts[:, 0], pts[:, 1], marker=m, c=c, s=size, zorder=8, lw=1.0,
                       edgecolors="black" if kind == "leak" else None)

    handles = [plt.Line2D([], [], color=c, lw=1.5, label=k) for k, c in CLASS_COLOURS.items() if k in set(raid.cls)]
    handles += [plt.Line2D([], [], marker="s", ls="", color=c, label=f"{k} layer battery")
                for k, c in LAYER_COLOURS.items() if any(b.layer == k for b in rec.batteries)]
    handles += [plt.Line2D([], [], marker="^", ls="", color="black", label="radar (dotted: max range)"),
                plt.Line2D([], [], marker="x", ls="", color="#1a9850", label="intercept (kill)"),
                plt.Line2D([], [], marker="*", ls="", color="#ffd92f", mec="black", ms=12, label="leaker impact"),
                plt.Line2D([], [], marker="o", ls="", color="#969696", label="impact away from assets"),
                plt.Line2D([], [], marker="o", ls="", color=SAFE, label="asset safe"),
                plt.Line2D([], [], marker="o", ls="", color=HIT, label="asset hit")]
    ax.legend(handles=handles, loc="lower right", fontsize=7, framealpha=0.9)
    ax.set_xlim(lon0, lon1)
    ax.set_ylim(lat0, lat1)
    ax.set_aspect(aspect)
    ax.set_xlabel("longitude (°E)")
    ax.set_ylabel("latitude (°N)")
    ax.set_title(f"{rec.scenario.name} — seed {rec.scenario.seed}")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
