"""The operator's picture: what the console, the API and the Cursor on Target output show, as JSON-ready messages.

:func:`hello` is sent once to each console (the map: region, coastline,
assets, radars, batteries); :func:`picture` after every C2 cycle (the whole
current picture, not a change list: a console that missed one loses
nothing).  The message layout is the one ``tdome/viz/web/console.js`` reads
(documented in ``docs/manual/console.md``); tracks are columns, one list per
field, which is what a thousand tracks a second costs least to build, send
and read.

Identity, as the console and TAK clients show it (MIL-STD-2525 affiliation):

- ``civil``: identified by ADS-B (never engaged);
- ``hostile``: evaluated as a threat that endangers a defended asset, or engaged;
- ``suspect``: a missile, rocket, cruise missile or drone by its kinematics
  that endangers nothing (yet), or a track found light (a decoy);
- ``unknown``: an aircraft by its kinematics that endangers nothing, or a
  track not yet evaluated (too few updates to say).

Radars are ``emitting``, ``silent`` (kept silent by emission control) or
``lost`` (nothing heard from them for three revisits, or ever).  Batteries
are ``ready``, ``empty`` (no rounds left), ``stale`` (no status within the
doctrine's ``status_timeout_s``: the battle manager does not count on them)
or ``unknown`` (no status yet).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Protocol

import numpy as np

from tdome import geo
from tdome.c2.core import BattleManager, C2Config, CycleOutput
from tdome.messages import LAYERS, THREAT_CLASSES, BatteryStatus, DefendedAsset, SensorSite
from tdome.viz import palette


class Source(Protocol):
    """What the picture reads of the service's C2 core (:class:`tdome.live.service.LiveC2`)."""

    side: Any
    sites: list[SensorSite]
    assets: list[DefendedAsset]
    units: list[Any]  # the batteries (tdome.world.effectors.FireUnit)
    config: C2Config
    bm: BattleManager
    status: dict[int, BatteryStatus]
    identified: dict[int, tuple[int, str]]
    last: CycleOutput | None
    last_cycle_s: float
    radar_seen: list[float]
    silent_until: dict[str, float]
    launched: set[int]
    counts: Counter

    def scene(self) -> dict: ...

    def engaged_layers(self) -> dict[int, str]: ...


LOST_AFTER_REVISITS = 3.0
COASTING_REVISITS = 1.5  # as the CAT062 output marks a coasting track


def _num(a: np.ndarray, digits: int) -> list:
    """Floats rounded for the wire, NaN as None (JSON has no NaN)."""
    r = np.round(np.asarray(a, dtype=float), digits)
    return [None if not math.isfinite(v) else v for v in r.tolist()]


def hello(c2: Source) -> dict:
    """The console's map and the service's fixed facts."""
    from tdome.viz.replay import Q_DEG, _coast

    sc = c2.scene()
    return dict(type="hello", name=c2.side.name, region=sc["region"], assets=sc["assets"], radars=sc["radars"],
                batteries=sc["batteries"], coast=_coast(sc["region"]), q_deg=1.0 / Q_DEG,
                colours=dict(classes=palette.CLASS_COLOURS, layers=palette.LAYER_COLOURS, unknown=palette.UNKNOWN,
                             safe=palette.SAFE, hit=palette.HIT, kill=palette.KILL, miss=palette.MISS,
                             leak=palette.LEAK, impact=palette.IMPACT, land=palette.LAND, sea=palette.SEA),
                layers=list(LAYERS), classes=list(THREAT_CLASSES))


def tracks(c2: Source, now: float) -> dict:
    """The picture's tracks at ``now`` as columns (module docstring)."""
    out = c2.last
    if out is not None and c2.last_cycle_s == now:
        pic, threats = out.picture, out.threats
    else:  # no cycle at this time: the tracker's picture, not evaluated
        pic, threats = c2.bm.tracker.picture(now), None
    n = len(pic)
    x = pic.x
    lat, lon, alt = geo.ecef_to_geodetic(x[:, :3]) if n else (np.zeros(0), np.zeros(0), np.zeros(0))
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    vx, vy, vz = (x[:, 3], x[:, 4], x[:, 5]) if n else (np.zeros(0),) * 3
    east = -so * vx + co * vy
    north = -sl * co * vx - sl * so * vy + cl * vz
    up = cl * co * vx + cl * so * vy + sl * vz
    revisit = max(s.revisit_s for s in c2.sites)
    ids = pic.track_id.tolist()
    row_of = {} if threats is None else {t: i for i, t in enumerate(threats.track_id.tolist())}
    engaged = c2.engaged_layers()
    cls: list[str] = []
    identity: list[str] = []
    decoy: list[bool] = []
    asset: list[str | None] = []
    by: list[str | None] = []
    callsign: list[str | None] = []
    ilat: list[float | None] = []
    ilon: list[float | None] = []
    ttg: list[float | None] = []
    impact_lat = impact_lon = None
    if threats is not None and len(threats):
        ok = np.isfinite(threats.impact_ecef).all(axis=1)
        la, lo, _ = geo.ecef_to_geodetic(np.where(ok[:, None], threats.impact_ecef, 0.0))
        impact_lat, impact_lon = np.where(ok, np.degrees(la), np.nan), np.where(ok, np.degrees(lo), np.nan)
    for tid in ids:
        j = row_of.get(tid)
        layer = engaged.get(tid)
        light = tid in c2.bm.light
        ident = c2.identified.get(tid)
        c = THREAT_CLASSES[int(threats.cls[j])] if j is not None and threats is not None else ""
        a = int(threats.asset[j]) if j is not None and threats is not None else -1
        if ident is not None:
            c, who = "aircraft", "civil"
        elif light:
            who = "suspect"
        elif a >= 0 or layer is not None:
            who = "hostile"
        elif c and c != "aircraft":
            who = "suspect"
        else:
            who = "unknown"
        cls.append(c)
        identity.append(who)
        decoy.append(light)
        asset.append(c2.assets[a].name if a >= 0 else None)
        by.append(layer)
        callsign.append(ident[1] or f"{ident[0]:06X}" if ident is not None else None)
        if j is not None and impact_lat is not None and math.isfinite(impact_lat[j]):
            ilat.append(round(float(impact_lat[j]), 5))
            ilon.append(round(float(impact_lon[j]), 5))  # type: ignore[index]
            tj = float(threats.time_to_go_s[j])  # type: ignore[union-attr]
            ttg.append(round(tj, 1) if math.isfinite(tj) else None)
        else:
            ilat.append(None)
            ilon.append(None)
            ttg.append(None)
    return {"id": ids, "lat": _num(np.degrees(lat), 5), "lon": _num(np.degrees(lon), 5), "alt": _num(alt, 0),
            "speed": _num(np.hypot(np.hypot(east, north), up), 1),
            "course": _num(np.mod(np.degrees(np.arctan2(east, north)), 360.0), 1), "climb": _num(up, 1),
            "cls": cls, "identity": identity, "decoy": decoy,
            "coasting": (now - pic.last_update_s > COASTING_REVISITS * revisit).tolist(),
            "ilat": ilat, "ilon": ilon, "ttg": ttg, "asset": asset, "engaged": by, "callsign": callsign}


def radars(c2: Source, now: float) -> list[dict]:
    out = []
    for k, s in enumerate(c2.sites):
        seen = c2.radar_seen[k]
        if now < c2.silent_until.get(s.name, -math.inf):
            state = "silent"
        elif not math.isfinite(seen) or now - seen > LOST_AFTER_REVISITS * s.revisit_s:
            state = "lost"
        else:
            state = "emitting"
        out.append(dict(name=s.name, state=state, last_scan_s=seen if math.isfinite(seen) else None))
    return out


def batteries(c2: Source, now: float) -> list[dict]:
    timeout = float(c2.config.doctrine.status_timeout_s)
    out: list[dict] = []
    for u in c2.units:
        st = c2.status.get(u.index)
        if st is None:
            out.append({"name": u.name, "layer": u.layer, "ready": None, "stock": None, "magazine": int(u.magazine),
                        "reported_s": None, "state": "unknown"})
            continue
        t = float(st.time_s) if st.time_s is not None else math.nan
        state = ("stale" if not now - t <= timeout else "empty" if st.stock_rounds <= 0 else "ready")
        out.append({"name": u.name, "layer": u.layer, "ready": int(st.ready_rounds), "stock": int(st.stock_rounds),
                    "magazine": int(u.magazine), "reported_s": t if math.isfinite(t) else None, "state": state})
    return out


def recommendations(c2: Source, now: float) -> list[dict]:
    """The requests waiting for an operator, with the time left before their shot window closes."""
    out = []
    for e in c2.bm.waiting():
        u = c2.units[e.battery]
        out.append(dict(engagement_id=e.engagement_id, battery=u.name, layer=u.layer, track_id=e.track_id,
                        rounds=e.rounds, launch_time_s=e.launch_s, intercept_time_s=e.intercept_s,
                        latest_launch_s=e.latest_launch_s if math.isfinite(e.latest_launch_s) else None,
                        time_left_s=round(e.latest_launch_s - now, 1) if math.isfinite(e.latest_launch_s) else None))
    return out


def engagements(c2: Source) -> list[dict]:
    """Orders out and not yet assessed: who fires at what."""
    out = []
    for e in c2.bm.engagements.values():
        if e.awaiting or e.assessed:
            continue
        u = c2.units[e.battery]
        out.append(dict(engagement_id=e.engagement_id, battery=u.name, layer=u.layer, track_id=e.track_id,
                        rounds=e.rounds, intercept_time_s=e.intercept_s,
                        state="launched" if e.engagement_id in c2.launched else "ordered"))
    return out


def authority(c2: Source) -> dict[str, str]:
    return {layer: c2.bm.authority.get(layer, "auto") for layer in LAYERS}


def picture(c2: Source, now: float, events: list[dict]) -> dict:
    """The whole picture at ``now`` (module docstring), with the events since the previous one."""
    return dict(type="picture", time_s=now, tracks=tracks(c2, now), radars=radars(c2, now),
                batteries=batteries(c2, now), authority=authority(c2), recommendations=recommendations(c2, now),
                engagements=engagements(c2), events=[_event(c2, e) for e in events],
                counts={k: int(c2.counts.get(k, 0)) for k in ("datagrams", "plots", "cycles", "adsb")})


def _event(c2: Source, e: dict) -> dict:
    b = e["battery"]
    return dict(time_s=e["time_s"], kind=e["kind"], track_id=e["track_id"],
                battery=c2.units[b].name if 0 <= b < len(c2.units) else None, layer=e["layer"] or None,
                detail=e["detail"], user=e.get("user"))
