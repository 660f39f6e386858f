"""The battle replay: one self-contained HTML page that plays a run folder back in any browser.

The page is our own script and style inlined into ``web/replay.html`` with
the run's data embedded as compact JSON (``<script type="application/json">``):
coordinates as integers of 1e-4 degree, time as integers of 0.1 s, and the
per-object series (track and truth samples) delta-coded within each object.
It makes no network request of any kind: no fonts, no images, no tiles; the
map is the coastline shipped in the package, drawn on a canvas.  On request
(``symbols=True``) the tracks are drawn as MIL-STD-2525 symbols, by the
vendored milsymbol library (``web/vendor/milsymbol.js``, see NOTICE.md),
inlined too: the page is then about 0.85 MB larger.

Layout of the embedded data (format 1); every series is a set of flat columns
with, per object, the index of its first sample (``start``) and the count
(``n``).  ``d:`` marks a column delta-coded within each object:

- ``meta``: scenario, seed, duration_s, record_step_s, region, summary figures
- ``colours``: the one palette of every view (``tdome/viz/palette.py``)
- ``coast``: rings of d:[lon, lat] pairs (flattened)
- ``assets``, ``radars``, ``batteries``: the run's scene (``scene.json``)
- ``tracks``: id, start, n, truth; samples t (d:), lat (d:), lon (d:),
  alt (d:, 10 m), spd (m/s), cls, asset, ilat, ilon (predicted impact, null
  when none), ttg (s, null when none)
- ``truth``: id, start, n; samples t, lat, lon, alt (all d:)
- ``threats``: one row per threat (type, class, wave, label, times, aim asset)
- ``events``: t, kind, threat, track, battery, interceptor, rounds, lat, lon, detail
- ``interceptors``: id, engagement, battery, track, launch/intercept time,
  launch and aim points, outcome
"""

from __future__ import annotations

import json
import math
import re
from importlib import resources
from pathlib import Path

import numpy as np

from tdome import __version__
from tdome.runfolder import RunFolder, by_object
from tdome.viz import palette
from tdome.viz.coastline import load_coastline

PAYLOAD_FORMAT = 1
Q_DEG = 1e4  # 1e-4 degree: about 11 m
Q_T = 10  # 0.1 s
PLACEHOLDER = "__TDOME_DATA__"
SCRIPT_SLOT = "<script>/*__TDOME_SCRIPT__*/</script>"
# The parts of web/replay.js that draw symbols, left out of a page written without them: that page carries no
# symbol code at all.
SYMBOLS_BLOCK = re.compile(r"^[ \t]*// symbols:begin\n.*?^[ \t]*// symbols:end\n", re.MULTILINE | re.DOTALL)
TRACK_CONFIRMED = "track_confirmed"  # derived: a track's first instant in the recorded air picture


def _q(deg) -> np.ndarray:
    return np.round(np.asarray(deg, dtype=float) * Q_DEG).astype(np.int64)


def _qt(t_s) -> np.ndarray:
    return np.round(np.asarray(t_s, dtype=float) * Q_T).astype(np.int64)


def _nullable_int(x, scale=1.0) -> list:
    """Integers of ``x * scale``, None where x is not finite."""
    x = np.asarray(x, dtype=float) * scale
    ok = np.isfinite(x)
    out = np.where(ok, np.round(np.where(ok, x, 0.0)), 0).astype(np.int64).tolist()
    return [v if k else None for v, k in zip(out, ok.tolist(), strict=True)]


def _delta(q: np.ndarray, starts: np.ndarray) -> list[int]:
    """Differences to the previous sample of the same object; the first sample of each object absolute."""
    d = np.diff(q, prepend=0)
    d[starts] = q[starts]
    return d.tolist()


def _series(key: np.ndarray, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """Order samples by (object, time); returns (order, starts, the per-object columns id, start, n)."""
    order, starts = by_object(key, t_s)
    n = np.diff(np.r_[starts, order.size])
    return order, starts, dict(id=key[order][starts].tolist(), start=starts.tolist(), n=n.tolist())


def _positions(cols: dict, order, starts) -> dict:
    """Delta-coded time, latitude, longitude and altitude (10 m) of ordered samples."""
    return dict(t=_delta(_qt(cols["time_s"][order]), starts), lat=_delta(_q(cols["lat_deg"][order]), starts),
                lon=_delta(_q(cols["lon_deg"][order]), starts),
                alt=_delta(np.round(cols["alt_m"][order] / 10.0).astype(np.int64), starts))


def _coast(region: dict) -> list[list[int]]:
    """Coastline rings whose box meets the region (with a margin), each d:[lon, lat] flattened."""
    pad_lat = 0.5 * (region["lat_max"] - region["lat_min"])
    pad_lon = 0.5 * (region["lon_max"] - region["lon_min"])
    rings = []
    for _name, country in load_coastline():
        for ring in country:
            lo, hi = ring.min(axis=0), ring.max(axis=0)
            if (hi[0] < region["lon_min"] - pad_lon or lo[0] > region["lon_max"] + pad_lon
                    or hi[1] < region["lat_min"] - pad_lat or lo[1] > region["lat_max"] + pad_lat):
                continue
            q = _q(ring)
            d = np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
            rings.append(d.ravel().tolist())
    return rings


def _tracks(tr: dict, classes: list[str]) -> tuple[dict, list[tuple]]:
    """The track series, and a derived event per track: its first instant in the recorded air picture."""
    order, starts, out = _series(tr["track_id"].astype(np.int64), tr["time_s"])
    cls_index = {c: i for i, c in enumerate(classes)}
    ends = np.r_[starts[1:], order.size] - 1 if order.size else starts
    out.update(_positions(tr, order, starts))
    out.update(
        truth=tr["truth_id"][order][ends].astype(int).tolist(),
        spd=np.round(tr["speed_mps"][order]).astype(np.int64).tolist(),
        cls=[cls_index.get(c, -1) for c in tr["class"][order].tolist()],
        asset=tr["asset"][order].astype(int).tolist(),
        ilat=_nullable_int(tr["impact_lat_deg"][order], Q_DEG),
        ilon=_nullable_int(tr["impact_lon_deg"][order], Q_DEG),
        ttg=_nullable_int(tr["time_to_go_s"][order]),
    )
    first = order[starts]
    confirmed = [(float(tr["time_s"][i]), TRACK_CONFIRMED, -1, int(tr["track_id"][i]), -1, -1, 0,
                  float(tr["lat_deg"][i]), float(tr["lon_deg"][i]),
                  "in the air picture" + (f" as {c}" if (c := tr["class"][i]) else ""))
                 for i in first.tolist()]
    return out, confirmed


def _events(ev: dict, derived: list[tuple], kinds: list[str]) -> dict:
    """The event log merged with derived events, in time order; kinds as indices into ``kinds``."""
    names = ("time_s", "kind", "threat_id", "track_id", "battery", "interceptor_id", "rounds", "lat_deg", "lon_deg",
             "detail")
    rows = list(zip(*(ev[c].tolist() for c in names), strict=True)) + derived
    rows.sort(key=lambda r: r[0])
    kidx = {k: i for i, k in enumerate(kinds)}
    col = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    return dict(t=_qt(col[0]).tolist(), kind=[kidx[k] for k in col[1]], threat=[int(v) for v in col[2]],
                track=[int(v) for v in col[3]], battery=[int(v) for v in col[4]],
                interceptor=[int(v) for v in col[5]], rounds=[int(v) for v in col[6]],
                lat=_nullable_int(col[7], Q_DEG), lon=_nullable_int(col[8], Q_DEG), detail=list(col[9]))


def _truth(tr: dict) -> dict:
    order, starts, out = _series(tr["threat_id"].astype(np.int64), tr["time_s"])
    out.update(_positions(tr, order, starts))
    return out


def _threats(th: dict) -> dict:
    return dict(type=th["type"].tolist(), cls=th["cls"].tolist(), wave=th["wave"].tolist(),
                label=th["label"].tolist(), launch_s=_nullable_int(th["launch_s"], Q_T),
                impact_s=_nullable_int(th["impact_s"], Q_T), killed_s=_nullable_int(th["killed_s"], Q_T),
                aim=th["intended_asset"].tolist())


def _interceptors(ic: dict, outcomes: list[str]) -> dict:
    oidx = {k: i for i, k in enumerate(outcomes)}
    return dict(id=ic["interceptor_id"].tolist(), engagement=ic["engagement_id"].tolist(),
                battery=ic["battery"].tolist(), track=ic["track_id"].tolist(),
                t0=_qt(ic["launch_s"]).tolist(), t1=_qt(ic["intercept_s"]).tolist(),
                lat0=_q(ic["launch_lat_deg"]).tolist(), lon0=_q(ic["launch_lon_deg"]).tolist(),
                lat1=_q(ic["aim_lat_deg"]).tolist(), lon1=_q(ic["aim_lon_deg"]).tolist(),
                alt1=np.round(ic["aim_alt_m"] / 10.0).astype(np.int64).tolist(),
                outcome=[oidx[o] for o in ic["outcome"].tolist()])


def _summary(s: dict) -> dict:
    """The summary figures the page shows as they stand at the end of the run (0 where the folder has none: a
    live session's, which knows no truth)."""
    def get(section: str, key: str) -> float:
        return s.get(section, {}).get(key, 0)

    return dict(threats=get("threats", "total"), aimed=get("threats", "aimed_at_assets"),
                killed=get("threats", "killed"), leakers=get("leakers", "total"), shots=get("interceptors", "shots"),
                cost_usd=get("interceptors", "cost_usd"), value_total=get("defended_value", "total"),
                value_surviving=get("defended_value", "surviving"))


# Every kind the page has a label and a colour for (web/replay.js KIND_LABELS, web/replay.css .k-<kind>); the
# chain of command's own: an order the operator refused, one withdrawn because its shot window closed while it
# waited or because the battery never acknowledged it, a battery fighting alone after losing its C2, and back, and a
# standby C2 taking command.
EVENT_KINDS = ["threat_launch", TRACK_CONFIRMED, "launch", "kill", "miss", "assessed_killed", "assessed_survived",
               "leak", "impact", "order_refused", "order_expired", "order_unacknowledged", "fallback", "rejoined",
               "c2_takeover"]
OUTCOMES = ["", "kill", "miss"]


def build_payload(run: RunFolder) -> dict:
    """Everything the page draws, from one run folder."""
    sc = run.scene
    classes = sorted(set(run.threats["cls"].tolist()) | {c for c in run.tracks["class"].tolist() if c})
    tracks, confirmed = _tracks(run.tracks, classes)
    kinds = EVENT_KINDS + sorted(set(run.events["kind"].tolist()) - set(EVENT_KINDS))
    return dict(
        format=PAYLOAD_FORMAT, generator=f"tdome {__version__}",
        meta=dict(scenario=sc["scenario"], seed=sc["seed"], duration_s=sc["duration_s"],
                  record_step_s=sc["record_step_s"], region=sc["region"], summary=_summary(run.summary),
                  q_deg=Q_DEG, q_t=Q_T),
        colours=dict(classes=palette.CLASS_COLOURS, layers=palette.LAYER_COLOURS, unknown=palette.UNKNOWN,
                     safe=palette.SAFE, hit=palette.HIT, kill=palette.KILL, miss=palette.MISS, leak=palette.LEAK,
                     impact=palette.IMPACT, land=palette.LAND, sea=palette.SEA),
        classes=classes, kinds=kinds, outcomes=OUTCOMES, layers=["upper", "mid", "lower", "short"],
        coast=_coast(sc["region"]), assets=sc["assets"], radars=sc["radars"], batteries=sc["batteries"],
        tracks=tracks, truth=_truth(run.truth), threats=_threats(run.threats),
        events=_events(run.events, confirmed, kinds), interceptors=_interceptors(run.interceptors, OUTCOMES),
    )


def _web(name: str) -> str:
    return resources.files("tdome.viz").joinpath("web", name).read_text(encoding="utf-8")


def render_html(payload: dict, symbols: bool = False) -> str:
    """The page: our template with our style and script inlined and the data embedded; with ``symbols``, tracks
    are drawn as MIL-STD-2525 symbols and milsymbol is inlined too, in a script element of its own before ours."""
    script = _web("replay.js")
    page = _web("replay.html")
    if symbols:
        payload = {**payload, "symbols": True}
        milsymbol = _web("vendor/milsymbol.js")
        if re.search(r"</script|<!--", milsymbol, re.IGNORECASE) or page.count(SCRIPT_SLOT) != 1:
            raise RuntimeError("milsymbol.js cannot be inlined in the replay template as it stands")
        page = page.replace(SCRIPT_SLOT, f"<script>{milsymbol}</script>\n{SCRIPT_SLOT}")
        script = _web("symbols.js") + script
    else:
        script = SYMBOLS_BLOCK.sub("", script)
    data = json.dumps(payload, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    data = data.replace("</", "<\\/")  # a JSON string may never close the script element
    page = page.replace("/*__TDOME_STYLE__*/", _web("replay.css")).replace("/*__TDOME_SCRIPT__*/",
                                                                         _web("map.js") + script)
    head, sep, tail = page.partition(PLACEHOLDER)
    if not sep or PLACEHOLDER in tail:
        raise RuntimeError("replay template must hold the data placeholder exactly once")
    return head + data + tail


def write_replay(run: RunFolder, out: Path, symbols: bool = False) -> Path:
    """Write the replay page of ``run`` to ``out`` (with ``symbols``: tracks as MIL-STD-2525 symbols); returns the
    path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(build_payload(run), symbols=symbols), encoding="utf-8")
    return out


def human_size(n_bytes: int) -> str:
    if n_bytes < 1024:
        return f"{n_bytes} B"
    k = int(math.log(n_bytes, 1024))
    k = min(k, 3)
    return f"{n_bytes / 1024**k:.1f} {'BKMG'[k]}{'iB' if k else ''}"
