"""CZML export of a run, for Cesium-based viewers.

A CZML document is a JSON array of packets; the first is the document packet
(``id: "document"``, ``version: "1.0"``, the clock).  Each later packet is one
entity: defended assets, radar sites with their coverage, batteries (label
with the magazine left, changing over time), fused tracks, true threat
paths, interceptor flyouts, and intercept, leak and impact events.  Moving
entities carry ``position.cartographicDegrees`` as time-tagged samples
``[t, lon, lat, height, ...]`` in seconds from the packet's ``epoch`` and an
``availability`` interval that spans their samples.  Parent packets group the
entities (``tracks``, ``truth``, ``interceptors``, ``events``) so a viewer can
switch a whole group on or off.

The run has no calendar date, so simulated time 0 is mapped to ``epoch``
(an ISO 8601 UTC instant, ``--epoch`` on the command line).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from tdome.runfolder import RunFolder, by_object
from tdome.viz import palette

CZML_VERSION = "1.0"
CLASS_RGBA = {k: palette.rgba(c) for k, c in palette.CLASS_COLOURS.items()}
LAYER_RGBA = {k: palette.rgba(c) for k, c in palette.LAYER_COLOURS.items()}
UNKNOWN_RGBA = palette.rgba(palette.UNKNOWN)
SAFE_RGBA = palette.rgba(palette.SAFE)
HIT_RGBA = palette.rgba(palette.HIT)
EVENT_STYLE = {"kill": (palette.rgba(palette.KILL), 9), "miss": (palette.rgba(palette.MISS), 6),
               "leak": (palette.rgba(palette.LEAK), 14), "impact": (palette.rgba(palette.IMPACT), 6)}
EVENT_SHOWN_S = 60.0  # how long an event marker stays on the globe


class CzmlError(ValueError):
    """Bad export settings, such as an epoch that is not an ISO 8601 instant."""


def parse_epoch(text: str) -> datetime:
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise CzmlError(f"--epoch: value {text!r} is not an ISO 8601 instant, e.g. 2025-01-01T00:00:00Z") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC)


class _Clock:
    """Simulated seconds to ISO 8601 UTC instants."""

    def __init__(self, epoch: datetime, duration_s: float):
        self.epoch = epoch
        self.duration_s = duration_s

    def iso(self, t_s: float) -> str:
        return (self.epoch + timedelta(seconds=float(t_s))).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def interval(self, t0_s: float, t1_s: float) -> str:
        return f"{self.iso(t0_s)}/{self.iso(t1_s)}"

    @property
    def whole(self) -> str:
        return self.interval(0.0, self.duration_s)


def _samples(t_s, lon, lat, alt) -> list[float]:
    """Time-tagged cartographicDegrees samples [t, lon, lat, h, ...], times strictly increasing."""
    t_s = np.asarray(t_s, dtype=float)
    keep = np.r_[True, np.diff(t_s) > 0] if t_s.size else np.zeros(0, dtype=bool)
    cols = [np.round(t_s[keep], 3), np.round(np.asarray(lon)[keep], 5), np.round(np.asarray(lat)[keep], 5),
            np.round(np.asarray(alt)[keep], 0)]
    return np.column_stack(cols).ravel().tolist()


def _point(lon, lat, alt=0.0) -> list[float]:
    return [round(float(lon), 6), round(float(lat), 6), float(alt)]


def _label(text: str, size_px: int = 12) -> dict:
    return dict(text=text, font=f"{size_px}px sans-serif", style="FILL_AND_OUTLINE", outlineWidth=2,
                outlineColor=dict(rgba=[0, 0, 0, 255]), fillColor=dict(rgba=[255, 255, 255, 255]),
                horizontalOrigin="LEFT", pixelOffset=dict(cartesian2=[8, -4]))


def _description(pairs: list[tuple[str, str]]) -> str:
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in pairs)
    return f"<table>{rows}</table>"


def _groups(objects: list[tuple[str, str]]) -> list[dict]:
    return [dict(id=gid, name=name) for gid, name in objects]


def _scene_packets(run: RunFolder, clock: _Clock) -> list[dict]:
    sc = run.scene
    out = _groups([("assets", "defended assets"), ("radars", "radars"), ("batteries", "batteries")])
    vmax = max([a["value"] for a in sc["assets"]] or [1.0])
    for j, a in enumerate(sc["assets"]):
        colour: list | dict = SAFE_RGBA
        if a["hits"]:
            t_hit = a["hits"][0]["time_s"]
            colour = [dict(interval=clock.interval(0.0, t_hit), rgba=SAFE_RGBA),
                      dict(interval=clock.interval(t_hit, clock.duration_s), rgba=HIT_RGBA)]
        out.append(dict(
            id=f"asset/{j}", parent="assets", name=a["name"],
            description=_description([("kind", a["kind"]), ("value", f"{a['value']:g}"),
                                      ("hits", str(len(a["hits"])))]),
            position=dict(cartographicDegrees=_point(a["lon_deg"], a["lat_deg"])),
            point=dict(pixelSize=round(8 + 12 * (a["value"] / vmax) ** 0.5, 1), color=dict(rgba=colour),
                       outlineColor=dict(rgba=[255, 255, 255, 255]), outlineWidth=1.5),
            label=_label(a["name"], 13)))
    for j, r in enumerate(sc["radars"]):
        ring = [v for lon, lat in r["coverage"] for v in (lon, lat, 0.0)]
        out.append(dict(
            id=f"radar/{j}", parent="radars", name=r["name"],
            description=_description([("max range", f"{r['max_range_m'] / 1e3:.0f} km"),
                                      ("sector", f"{r['sector_deg']:.0f} deg")]),
            position=dict(cartographicDegrees=_point(r["lon_deg"], r["lat_deg"], r["alt_m"])),
            point=dict(pixelSize=7, color=dict(rgba=[20, 20, 20, 255])),
            label=_label(r["name"], 10)))
        out.append(dict(
            id=f"radar/{j}/coverage", parent="radars", name=f"{r['name']} coverage",
            polygon=dict(positions=dict(cartographicDegrees=ring), material=dict(solidColor=dict(
                color=dict(rgba=[70, 90, 110, 25]))), outline=True, outlineColor=dict(rgba=[50, 60, 70, 160]),
                height=0.0)))
    fired = {j: np.sort(run.interceptors["launch_s"][run.interceptors["battery"] == j])
             for j in range(len(sc["batteries"]))}
    for j, b in enumerate(sc["batteries"]):
        # The label shows the magazine left; it changes at each launch.
        times = np.unique(fired[j])
        edges = np.r_[0.0, times, clock.duration_s]
        text = []
        for k in range(len(edges) - 1):
            if edges[k + 1] <= edges[k]:
                continue
            left = b["magazine"] - int(np.searchsorted(fired[j], edges[k], side="right"))
            text.append(dict(interval=clock.interval(edges[k], edges[k + 1]),
                             string=f"{b['name']} ({b['layer']}) {left}/{b['magazine']}"))
        label = _label("", 10)
        label["text"] = text
        out.append(dict(
            id=f"battery/{j}", parent="batteries", name=b["name"],
            description=_description([("layer", b["layer"]), ("interceptor", b["interceptor"]),
                                      ("magazine", str(b["magazine"])),
                                      ("max range", f"{b['max_range_m'] / 1e3:.0f} km")]),
            position=dict(cartographicDegrees=_point(b["lon_deg"], b["lat_deg"], b["alt_m"])),
            point=dict(pixelSize=9, color=dict(rgba=LAYER_RGBA.get(b["layer"], UNKNOWN_RGBA)),
                       outlineColor=dict(rgba=[255, 255, 255, 255]), outlineWidth=1),
            label=label))
    return out


def _moving(pid: str, parent: str, name: str, clock: _Clock, t, lon, lat, alt, rgba, trail_s=None,
            size=7, description=None) -> dict | None:
    samples = _samples(t, lon, lat, alt)
    if len(samples) < 8:  # one sample: nothing to interpolate
        return None
    packet: dict[str, Any] = dict(
        id=pid, parent=parent, name=name, availability=clock.interval(samples[0], samples[-4]),
        position=dict(epoch=clock.iso(0.0), interpolationAlgorithm="LINEAR", cartographicDegrees=samples),
        point=dict(pixelSize=size, color=dict(rgba=rgba)),
        path=dict(leadTime=0.0, width=1.5, resolution=5.0,
                  material=dict(solidColor=dict(color=dict(rgba=rgba[:3] + [170])))))
    if trail_s is not None:
        packet["path"]["trailTime"] = float(trail_s)
    if description:
        packet["description"] = description
    return packet


def _grouped_rows(key: np.ndarray, t: np.ndarray):
    """(object id, row indices in time order) for each object."""
    order, starts = by_object(key, t)
    if not order.size:
        return
    for rows in np.split(order, starts[1:]):
        yield int(key[rows[0]]), rows


def _moving_packets(run: RunFolder, clock: _Clock) -> list[dict]:
    out = _groups([("tracks", "fused tracks"), ("truth", "true threat paths"), ("interceptors", "interceptors")])
    tr = run.tracks
    for tid, rows in _grouped_rows(tr["track_id"], tr["time_s"]):
        cls = tr["class"][rows[-1]] or "unclassified"
        p = _moving(f"track/{tid}", "tracks", f"T{tid} {cls}", clock, tr["time_s"][rows], tr["lon_deg"][rows],
                    tr["lat_deg"][rows], tr["alt_m"][rows], CLASS_RGBA.get(cls, UNKNOWN_RGBA), trail_s=60.0,
                    description=_description([("class", cls), ("first in picture", f"{tr['time_s'][rows[0]]:.0f} s")]))
        if p:
            p["label"] = _label(f"T{tid}", 10)
            out.append(p)
    th = run.threats
    truth = run.truth
    for row, rows in _grouped_rows(truth["threat_id"], truth["time_s"]):
        p = _moving(f"truth/{row}", "truth", f"threat #{row} {th['type'][row]}", clock, truth["time_s"][rows],
                    truth["lon_deg"][rows], truth["lat_deg"][rows], truth["alt_m"][rows],
                    CLASS_RGBA.get(th["cls"][row], UNKNOWN_RGBA), size=4,
                    description=_description([("type", th["type"][row]), ("class", th["cls"][row]),
                                              ("wave", th["wave"][row]),
                                              ("aimed at", th["intended_asset"][row] or "-")]))
        if p:
            out.append(p)
    ic = run.interceptors
    layers = [b["layer"] for b in run.scene["batteries"]]
    for k in range(len(ic["interceptor_id"])):
        t0, t_int = float(ic["launch_s"][k]), float(ic["intercept_s"][k])
        # Straight flyout at its average speed, as the world flies it; one still in
        # flight at the end of the run is cut there.
        t = np.linspace(t0, min(t_int, max(clock.duration_s, t0)), 5)
        f = ((t - t0) / max(t_int - t0, 1e-9))[:, None]
        a = np.array([ic["launch_lon_deg"][k], ic["launch_lat_deg"][k], ic["launch_alt_m"][k]])
        b = np.array([ic["aim_lon_deg"][k], ic["aim_lat_deg"][k], ic["aim_alt_m"][k]])
        pts = a + f * (b - a)
        p = _moving(f"interceptor/{int(ic['interceptor_id'][k])}", "interceptors",
                    f"interceptor {int(ic['interceptor_id'][k])}", clock, t, pts[:, 0], pts[:, 1],
                    pts[:, 2], LAYER_RGBA.get(layers[int(ic["battery"][k])], UNKNOWN_RGBA), size=5,
                    description=_description([("battery", run.scene["batteries"][int(ic["battery"][k])]["name"]),
                                              ("track", f"T{int(ic['track_id'][k])}"),
                                              ("outcome", ic["outcome"][k] or "in flight at the end")]))
        if p:
            out.append(p)
    return out


def _event_packets(run: RunFolder, clock: _Clock) -> list[dict]:
    out = _groups([("events", "intercepts, leaks and impacts")])
    ev = run.events
    for i in range(len(ev["time_s"])):
        kind = ev["kind"][i]
        if kind not in EVENT_STYLE or not np.isfinite(ev["lat_deg"][i]):
            continue
        rgba, size = EVENT_STYLE[kind]
        t = float(ev["time_s"][i])
        out.append(dict(
            id=f"event/{i}", parent="events", name=f"{kind} at {t:.0f} s",
            availability=clock.interval(t, max(t, min(t + EVENT_SHOWN_S, clock.duration_s))),
            description=_description([("kind", kind), ("time", f"{t:.1f} s"), ("detail", ev["detail"][i])]),
            position=dict(cartographicDegrees=_point(ev["lon_deg"][i], ev["lat_deg"][i],
                                                     np.nan_to_num(ev["alt_m"][i]))),
            point=dict(pixelSize=size, color=dict(rgba=rgba), outlineColor=dict(rgba=[0, 0, 0, 255]),
                       outlineWidth=1)))
    return out


def build_czml(run: RunFolder, epoch: str = "2025-01-01T00:00:00Z") -> list[dict]:
    """The CZML document of a run folder: a list of packets, the document packet first."""
    sc = run.scene
    clock = _Clock(parse_epoch(epoch), float(sc["duration_s"]))
    doc = dict(id="document", name=f"tdome — {sc['scenario']} — seed {sc['seed']}", version=CZML_VERSION,
               clock=dict(interval=clock.whole, currentTime=clock.iso(0.0), multiplier=30, range="LOOP_STOP",
                          step="SYSTEM_CLOCK_MULTIPLIER"))
    return [doc] + _scene_packets(run, clock) + _moving_packets(run, clock) + _event_packets(run, clock)


def write_czml(run: RunFolder, out: Path, epoch: str = "2025-01-01T00:00:00Z") -> Path:
    out = Path(out)
    doc = build_czml(run, epoch)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, separators=(",", ":"), allow_nan=False), encoding="utf-8")
    return out
