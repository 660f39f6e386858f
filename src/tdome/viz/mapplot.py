"""Static map of a run: coastline, assets, radar coverage, batteries, threat paths, intercepts, leakers.

Drawn from the run folder (:class:`~tdome.runfolder.RunFolder`: its scene
and tables), never from the simulator's record, so the map shows what the
folder holds, as the replay and the CZML export do, and can be redrawn from
any run folder.

Names of assets, radars and batteries are placed by :mod:`tdome.viz.labels`
once the layout is final, in pixels, so they never print over each other or
over a marker, the legend or the scale bar.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import patheffects
from matplotlib.legend_handler import HandlerTuple
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from tdome import geo
from tdome.runfolder import RunFolder
from tdome.runfolder.scene import radar_outline
from tdome.viz import palette
from tdome.viz.coastline import load_coastline
from tdome.viz.labels import leader_end, marker_box, place_labels
from tdome.viz.palette import CLASS_COLOURS, HIT, LAYER_COLOURS, SAFE

DPI = 110
LEAK_SIZE = 80  # the leaker star (points²): smaller than the asset it hit, whose hit ring is drawn over it
RADAR_MS = 6
BATTERY_MS = 5
ALONE_RING = 6  # points added to a battery's marker for the ring of one that fought alone
LEADER_MIN_PX = 6.0
LABEL_STYLE = {"asset": dict(fontsize=7, weight="bold", color="#10202e"),
               "radar": dict(fontsize=5.5, color="#222222"), "battery": dict(fontsize=5.5, color="#222222")}


def map_extent(run: RunFolder) -> tuple[float, float, float, float]:
    """(lon_min, lon_max, lat_min, lat_max) in degrees: the region the run's scene covers."""
    r = run.scene["region"]
    return r["lon_min"], r["lon_max"], r["lat_min"], r["lat_max"]


MAP_EVENT_KINDS = ("kill", "miss", "leak", "impact")


def map_layers(run: RunFolder) -> dict:
    """What the map plots of assets and events, as data.

    ``assets``: (name, lon, lat, hit) per asset in scenario order; ``events``:
    kind -> list of (lon, lat) for the kinds in :data:`MAP_EVENT_KINDS`, in
    time order; ``alone``: the batteries (scene order) that fought alone at
    some time after losing their C2 (a "fallback" event).  The replay is
    tested against this, so the two pictures of a run agree.
    """
    assets = [(a["name"], float(a["lon_deg"]), float(a["lat_deg"]), bool(a["hits"])) for a in run.scene["assets"]]
    ev = run.events
    events = {}
    for k in MAP_EVENT_KINDS:
        sel = ev["kind"] == k
        events[k] = list(zip(ev["lon_deg"][sel].tolist(), ev["lat_deg"][sel].tolist(), strict=True))
    alone = sorted({int(b) for b in ev["battery"][ev["kind"] == "fallback"].tolist() if b >= 0})
    return dict(assets=assets, events=events, alone=alone)


def metres_per_degree_lon(lat_deg) -> np.ndarray:
    """Length of one degree of longitude along the parallel at ``lat_deg`` on the WGS84 ellipsoid (m).

    pi/180 * a cos(phi) / sqrt(1 - e^2 sin^2(phi)): the radius of the parallel
    times one degree; it shrinks with cos(latitude), so a scale bar is only
    true at the latitude it is drawn for.
    """
    phi = np.radians(lat_deg)
    return np.pi / 180.0 * geo.A_M * np.cos(phi) / np.sqrt(1.0 - geo.E2 * np.sin(phi) ** 2)


def scale_bar(lon_span_deg: float, lat_deg: float, fraction: float = 0.2) -> tuple[float, float]:
    """(km, width in degrees of longitude) of a round 1-2-5 length at most ``fraction`` of the map's width."""
    m_per_deg = float(metres_per_degree_lon(lat_deg))
    most_km = fraction * lon_span_deg * m_per_deg / 1000.0
    decade = 10.0 ** np.floor(np.log10(most_km))
    km = max(k * decade for k in (1, 2, 5) if k * decade <= most_km)
    return km, km * 1000.0 / m_per_deg


def _add_scale_bar(ax, extent):
    """A km scale bar in the lower left, true at the latitude it is drawn at (named on the bar)."""
    lon0, lon1, lat0, lat1 = extent
    lat = lat0 + 0.03 * (lat1 - lat0)
    km, width = scale_bar(lon1 - lon0, lat)
    hemi = "N" if lat >= 0 else "S"
    bar = AnchoredSizeBar(ax.transData, width, f"{km:g} km (at {abs(lat):.1f}°{hemi})", "lower left", pad=0.4,
                          borderpad=0.6, sep=3, size_vertical=0.004 * (lat1 - lat0), frameon=True,
                          fontproperties=dict(size=7))
    bar.patch.set_alpha(0.85)
    bar.set_zorder(10)
    ax.add_artist(bar)
    return bar


def _pt(size_pt: float) -> float:
    """Points to pixels at the map's resolution."""
    return size_pt * DPI / 72.0


def _draw_coast(ax) -> None:
    ax.set_facecolor(palette.SEA)
    for _, rings in load_coastline():
        for ring in rings:
            ax.fill(ring[:, 0], ring[:, 1], color=palette.LAND, ec="#8c8c7a", lw=0.5, zorder=1)


def _draw_radars(ax, radars: list[dict]) -> list[tuple]:
    """Each radar and the footprint of its maximum range (recomputed finer than the scene's outline)."""
    for r in radars:
        x, y = radar_outline(r)
        ax.plot(x, y, color="#4d4d4d", lw=0.5, ls=":", zorder=2)
        ax.plot(r["lon_deg"], r["lat_deg"], marker="^", color="black", ms=RADAR_MS, zorder=6)
    return [(r["name"], "radar", r["lon_deg"], r["lat_deg"], RADAR_MS / 2 + 0.5, 1.0) for r in radars]


def _draw_paths(ax, run: RunFolder) -> None:
    """Threat paths from the truth samples, in the colour of their class."""
    tr = run.truth
    if not len(tr["threat_id"]):
        return
    cls = dict(zip(run.threats["threat_id"].tolist(), run.threats["cls"].tolist(), strict=True))
    ids = tr["threat_id"]
    for i in np.unique(ids).tolist():
        sel = ids == i
        ax.plot(tr["lon_deg"][sel], tr["lat_deg"][sel], color=CLASS_COLOURS.get(cls.get(i, ""), "k"), lw=0.6, alpha=0.6,
                zorder=3)


def _asset_size(a: dict, vmax: float) -> float:
    return 40 + 160 * a["value"] / vmax


def _draw_assets(ax, assets: list[dict], layers) -> list[tuple]:
    vmax = max(a["value"] for a in assets) if assets else 1.0
    names = []
    for a, (_, lon, lat, hit) in zip(assets, layers["assets"], strict=True):
        c = HIT if hit else SAFE
        if a["polygon"]:
            p = np.asarray(a["polygon"], dtype=float)  # [lat, lon] pairs
            ax.fill(p[:, 1], p[:, 0], color=c, alpha=0.7, zorder=5)
        d = np.sqrt(_asset_size(a, vmax))
        ax.scatter(lon, lat, s=d ** 2, c=c, ec="white", lw=0.8, zorder=5)
        if hit:  # a ring over the leaker star, so the hit asset shows through the mark of what hit it
            d += 6
            ax.scatter(lon, lat, s=d ** 2, facecolors="none", edgecolors=HIT, lw=1.6, zorder=9, gid="hit-ring")
        names.append((a["name"], "asset", lon, lat, d / 2 + 1, 2.0 + a["value"] / vmax))
    return names


def _draw_batteries(ax, batteries: list[dict], alone: list[int]) -> list[tuple]:
    for b in batteries:
        ax.plot(b["lon_deg"], b["lat_deg"], marker="s", color=LAYER_COLOURS[b["layer"]], ms=BATTERY_MS, mec="white",
                mew=0.5, zorder=6)
    for j in alone:  # a dashed ring: this battery lost its C2 and fought with its own fire control for a while
        ax.scatter(batteries[j]["lon_deg"], batteries[j]["lat_deg"], s=(BATTERY_MS + ALONE_RING) ** 2, marker="o",
                   facecolors="none", edgecolors=palette.ALONE, linestyles="--", lw=0.9, zorder=6, gid="alone-ring")
    return [(b["name"], "battery", b["lon_deg"], b["lat_deg"],
             (BATTERY_MS + (ALONE_RING if j in alone else 0)) / 2 + 0.5, 0.0) for j, b in enumerate(batteries)]


EVENT_MARKS = {"kill": ("x", palette.KILL, 30), "miss": ("x", palette.MISS, 14), "leak": ("*", palette.LEAK, LEAK_SIZE),
               "impact": ("o", palette.IMPACT, 12)}


def _draw_events(ax, layers) -> list[tuple]:
    """Intercept, miss, leak and impact marks; returns the leaker stars, which labels must not cover."""
    for kind, (m, c, size) in EVENT_MARKS.items():
        pts = np.array(layers["events"][kind])
        if len(pts):
            ax.scatter(pts[:, 0], pts[:, 1], marker=m, c=c, s=size, zorder=8, lw=0.8 if kind == "leak" else 1.0,
                       edgecolors="black" if kind == "leak" else None, gid=kind)
    return [(lon, lat, np.sqrt(LEAK_SIZE) / 2) for lon, lat in layers["events"]["leak"]]


def _legend(ax, run: RunFolder, alone: bool):
    classes = set(run.threats["cls"].tolist())
    layers = {b["layer"] for b in run.scene["batteries"]}
    handles: list = [plt.Line2D([], [], color=c, lw=1.5, label=k) for k, c in CLASS_COLOURS.items() if k in classes]
    handles += [plt.Line2D([], [], marker="s", ls="", color=c, label=f"{k} layer battery")
                for k, c in LAYER_COLOURS.items() if k in layers]
    handles += [plt.Line2D([], [], marker="^", ls="", color="black", label="radar (dotted: max range)"),
                plt.Line2D([], [], marker="x", ls="", color=palette.KILL, label="intercept (kill)"),
                plt.Line2D([], [], marker="*", ls="", color=palette.LEAK, mec="black", ms=9, label="leaker impact"),
                plt.Line2D([], [], marker="o", ls="", color=palette.IMPACT, label="impact away from assets"),
                plt.Line2D([], [], marker="o", ls="", color=SAFE, label="asset safe"),
                (plt.Line2D([], [], marker="o", ls="", color=HIT, ms=5),
                 plt.Line2D([], [], marker="o", ls="", mfc="none", mec=HIT, mew=1.4, ms=10))]
    if alone:  # only on the map of a run where a battery lost its C2
        handles.insert(-1, plt.Line2D([], [], marker="o", ls="", mfc="none", mec=palette.ALONE, ms=9,
                                      label="battery that fought alone (lost its C2)"))
    labels = [h.get_label() for h in handles[:-1]] + ["asset hit (ringed)"]
    return ax.legend(handles=handles, labels=labels, loc="lower right", fontsize=7, framealpha=0.9,
                     handler_map={tuple: HandlerTuple(ndivide=1)})


def _place_names(fig, ax, names: list[tuple], stars: list[tuple], blockers: list) -> None:
    """Write the names where :func:`place_labels` finds room, in pixels of the final layout.

    ``names``: (text, kind, lon, lat, marker radius in points, priority);
    every marker and leaker star, and the ``blockers`` artists (legend,
    scale bar), are obstacles.  A name more than ``LEADER_MIN_PX`` from its
    marker gets a leader line; a name with no room is left out (hover in the
    replay names everything).
    """
    renderer = fig.canvas.get_renderer()
    to_px = ax.transData.transform
    anchors = to_px(np.array([(lon, lat) for _, _, lon, lat, _, _ in names]).reshape(-1, 2))
    radii = np.array([_pt(r) for *_, r, _ in names])
    texts = [ax.text(0, 0, n[0], ha="left", va="bottom", zorder=11, gid=f"label:{n[1]}", **LABEL_STYLE[n[1]],
                     path_effects=[patheffects.withStroke(linewidth=2.0, foreground="white")]) for n in names]
    sizes = np.array([[e.width, e.height] for e in (t.get_window_extent(renderer) for t in texts)]).reshape(-1, 2)
    obstacles = [marker_box(a, r) for a, r in zip(anchors, radii, strict=True)]
    obstacles += [marker_box(to_px((lon, lat)), _pt(r)) for lon, lat, r in stars]
    obstacles += [b.get_window_extent(renderer).extents for b in blockers]
    boxes, ring = place_labels(anchors, sizes, radii, priority=[n[5] for n in names], obstacles=obstacles,
                               bounds=ax.get_window_extent(renderer).extents, pad=2.0)
    from_px = ax.transData.inverted().transform
    for t, a, r, box, k in zip(texts, anchors, radii, boxes, ring, strict=True):
        if k < 0:
            t.remove()
            continue
        t.set_position(from_px(box[:2]))
        end = np.array(leader_end(a, box))
        if np.linalg.norm(end - a) - r > LEADER_MIN_PX:  # a name this far from its marker gets a leader line
            start = a + r * (end - a) / np.linalg.norm(end - a)
            line = from_px(np.array([start, end]))
            ax.plot(line[:, 0], line[:, 1], color="#4a5866", lw=0.5, zorder=10, gid="leader")


def draw_map(run: RunFolder):
    """The map of a run folder as a matplotlib (figure, axes), names placed; :func:`plot_run` saves it."""
    scene = run.scene
    extent = map_extent(run)
    lon0, lon1, lat0, lat1 = extent
    aspect = 1.0 / np.cos(np.radians(0.5 * (lat0 + lat1)))
    fig, ax = plt.subplots(figsize=(11, 11 * (lat1 - lat0) * aspect / (lon1 - lon0) * 0.95 + 0.6), dpi=DPI)
    _draw_coast(ax)
    names = _draw_radars(ax, scene["radars"])
    _draw_paths(ax, run)
    layers = map_layers(run)
    names = _draw_assets(ax, scene["assets"], layers) + names + _draw_batteries(ax, scene["batteries"],
                                                                                 layers["alone"])
    stars = _draw_events(ax, layers)
    blockers = [_legend(ax, run, bool(layers["alone"])), _add_scale_bar(ax, extent)]
    ax.set_xlim(lon0, lon1)
    ax.set_ylim(lat0, lat1)
    ax.set_aspect(aspect)
    ax.set_xlabel("longitude (°E)")
    ax.set_ylabel("latitude (°N)")
    ax.set_title(f"{scene['scenario']} — seed {scene['seed']}")
    fig.tight_layout()
    fig.draw_without_rendering()  # applies the aspect: from here on, data-to-pixel transforms are final
    _place_names(fig, ax, names, stars, blockers)
    return fig, ax


def plot_run(run: RunFolder, path: Path) -> Path:
    """Draw the map of ``run`` and save it as PNG at ``path``."""
    fig, _ = draw_map(run)
    fig.savefig(path)
    plt.close(fig)
    return path
