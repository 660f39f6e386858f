"""How much main-thread time the operator console spends on each picture at 1,000 tracks, in headless Chromium.

    python benchmarks/console_page.py [--pictures 120] [--interval 1.0] [--tracks 1000] [--out console_page.json]
                                      [--web COPY_OF_tdome/viz/web]

No service: the page (``tdome/viz/web/console.html``) is served by the stand-in of
``tests/test_console_page.py`` on a free port and fed through ``window.tdomeConsole.ingest`` a hello, then
``--pictures`` pictures, one every ``--interval`` s of wall time, as ``tdome serve`` would send them under a
heavy raid: ``--tracks`` tracks of every identity and class moving a little each picture, a few hundred
engagements (growing), about five new events per picture and a few recommendations waiting.

Per picture it measures, in the page: the JSON parse of the message's text and the ``ingest`` of it (together
"handle": the task the WebSocket's message event would be), then the frame that draws the picture: the canvas
draw (``tdomeConsole.frames``, the script's part only) and the rest of that frame's rendering (the style and
layout of the panels' changes, paint, the canvas's raster), the total of the two, and the long tasks (>= 50 ms,
PerformanceObserver) from the first picture on.  ``--web`` serves another copy of the page's files, to
compare a change with what it replaces.  It prints p50 / p99 / max of each, the load average at the start and
the end (other work on the machine skews every figure: run it twice), and last, one line of JSON.  Needs
Debian's chromium (``.ci/install-tools``) and the playwright test extra.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import test_console_page  # the tests' stand-in service and scenario
from browser_tools import CHROMIUM, FLAGS  # the tests' own browser set-up
from test_console_page import REGION, Service, hello

IDENTITIES = ("hostile", "hostile", "suspect", "unknown", "unknown", "civil")
CLASSES = ("ballistic", "rocket", "cruise", "drone", "aircraft", "")
SPEED = {"ballistic": 1500.0, "rocket": 700.0, "cruise": 250.0, "drone": 50.0, "aircraft": 230.0, "": 200.0}
ASSETS = ("Taipei", "Hsinchu Science Park", "Taichung")
BATTERIES = (("Upper North", "upper"), ("Mid Taipei", "mid"), ("Lower Hsinchu", "lower"),
             ("Short Hsinchu gun", "short"))
EVENT_KINDS = ("order", "launch", "assessed_killed", "assessed_survived", "identified", "discriminated",
               "recommendation", "order_expired", "leak")

# In the page: a long-task observer, and feed(text): the text is posted to the page, whose handler then runs as
# a task of its own, as a WebSocket's message event does (parse, ingest); then, in the frame that draws the
# picture, after its draw, the rest of that frame's rendering (the style and layout of the panels' changes, paint,
# the canvas's raster) runs before a message posted then is delivered.
INSTRUMENT = """() => {
  window.__bench = { longtasks: [] };
  new PerformanceObserver((list) => { for (const e of list.getEntries())
    __bench.longtasks.push([e.startTime, e.duration]); }).observe({ type: "longtask", buffered: true });
  __bench.feed = (text) => new Promise((done) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = (m) => {
      const draws = tdomeConsole.draws;
      const frames = tdomeConsole.frames.length;
      const t0 = performance.now();
      const msg = JSON.parse(m.data);
      const t1 = performance.now();
      tdomeConsole.ingest(msg);
      const t2 = performance.now();
      const wait = () => {
        if (tdomeConsole.draws === draws) { requestAnimationFrame(wait); return; }
        const t4 = performance.now();
        const f = tdomeConsole.frames;
        const draw = f.length > frames ? f[f.length - 1] : 0;
        const after = new MessageChannel();
        after.port1.onmessage = () => done({ start: t0, parse: t1 - t0, ingest: t2 - t1, draw,
          frame: draw + performance.now() - t4 });
        after.port2.postMessage(0);
      };
      wait();
    };
    ch.port2.postMessage(text);
  });
}"""


class Raid:
    """Pictures of a heavy raid over the small test scenario's region, one per call of ``picture``."""

    def __init__(self, n_tracks: int, n_engagements: int = 300):
        self.n = n_tracks
        self.time_s = 45000.0
        self.lat, self.lon, self.course, self.speed, self.ident, self.cls = [], [], [], [], [], []
        for k in range(n_tracks):
            ident = IDENTITIES[k % len(IDENTITIES)]
            cls = "aircraft" if ident == "civil" else CLASSES[(k // len(IDENTITIES)) % len(CLASSES)]
            self.lat.append(REGION["lat_min"] + 0.05 + (REGION["lat_max"] - REGION["lat_min"] - 0.1) * ((k * 37) % 1000)
                            / 1000)
            self.lon.append(REGION["lon_min"] + 0.05 + (REGION["lon_max"] - REGION["lon_min"] - 0.1) * k / n_tracks)
            self.course.append((k * 47) % 360)
            self.speed.append(SPEED[cls])
            self.ident.append(ident)
            self.cls.append(cls)
        self.next_engagement = 1000
        self.engagements = [self._engagement() for _ in range(n_engagements)]
        self.next_event = 0
        self.count = 0

    def _engagement(self) -> dict:
        self.next_engagement += 1
        k = self.next_engagement
        battery, layer = BATTERIES[k % len(BATTERIES)]
        return dict(engagement_id=k, battery=battery, layer=layer, track_id=100 + (k * 7) % self.n, rounds=1 + k % 3,
                    intercept_time_s=self.time_s + 10 + k % 90, state="launched" if k % 3 else "ordered")

    def _tracks(self) -> dict:
        cols: dict[str, list] = {c: [] for c in ("id", "lat", "lon", "alt", "speed", "course", "climb", "cls",
                                                  "identity", "decoy", "coasting", "ilat", "ilon", "ttg", "asset",
                                                  "engaged", "callsign")}
        for k in range(self.n):
            # A little way along its course each picture, wrapping round inside the region.
            a = math.radians(self.course[k])
            self.lat[k] += self.speed[k] * math.cos(a) / 111195 * 0.2
            self.lon[k] += self.speed[k] * math.sin(a) / 111195 / 0.9 * 0.2
            lat0, lat1, lon0, lon1 = REGION["lat_min"], REGION["lat_max"], REGION["lon_min"], REGION["lon_max"]
            if not lat0 < self.lat[k] < lat1:
                self.lat[k] = lat0 + (self.lat[k] - lat0) % (lat1 - lat0)
            if not lon0 < self.lon[k] < lon1:
                self.lon[k] = lon0 + (self.lon[k] - lon0) % (lon1 - lon0)
            ident, cls = self.ident[k], self.cls[k]
            threat = ident == "hostile" and cls in ("ballistic", "rocket", "cruise")
            cols["id"].append(100 + k)
            cols["lat"].append(round(self.lat[k], 5))
            cols["lon"].append(round(self.lon[k], 5))
            cols["alt"].append(300.0 if cls == "drone" else 8000.0 + k)
            cols["speed"].append(self.speed[k])
            cols["course"].append(self.course[k])
            cols["climb"].append(-50.0 if threat else 0.0)
            cols["cls"].append(cls)
            cols["identity"].append(ident)
            cols["decoy"].append(ident == "suspect" and k % 5 == 0)
            cols["coasting"].append(k % 17 == 0)
            cols["ilat"].append(25.04 if threat else None)
            cols["ilon"].append(121.545 if threat else None)
            cols["ttg"].append(95.0 - self.count % 60 if threat else None)
            cols["asset"].append(ASSETS[k % 3] if threat else None)
            cols["engaged"].append(BATTERIES[k % 4][1] if threat and k % 2 else None)
            cols["callsign"].append(f"EVA{k:03d}" if ident == "civil" else None)
        return cols

    def _events(self, n: int) -> list[dict]:
        out = []
        for j in range(n):
            self.next_event += 1
            kind = EVENT_KINDS[self.next_event % len(EVENT_KINDS)]
            battery, layer = BATTERIES[self.next_event % len(BATTERIES)]
            out.append(dict(time_s=self.time_s - 1 + j * 0.2, kind=kind, track_id=100 + (self.next_event * 13) % self.n,
                            battery=battery if kind in ("order", "launch", "recommendation") else None,
                            layer=layer if kind in ("order", "launch", "recommendation") else None,
                            detail=f"{1 + j % 3} rounds" if kind == "order" else None, user=None))
        return out

    def _recommendations(self) -> list[dict]:
        base = 5000 + (self.count // 10) * 3  # the same few wait for ten pictures, then others come
        out = []
        for j in range(4):
            battery, layer = BATTERIES[j % 2]
            out.append(dict(engagement_id=base + j, battery=battery, layer=layer, track_id=100 + (base + j) % self.n,
                            rounds=2, launch_time_s=self.time_s + 2, intercept_time_s=self.time_s + 40,
                            latest_launch_s=self.time_s + 30, time_left_s=30.0 - self.count % 10 * 3))
        return out

    def picture(self) -> dict:
        self.count += 1
        self.time_s += 1.0
        # About five orders a second, most of which end: the table grows by one or two a picture.
        for _ in range(5):
            self.engagements.append(self._engagement())
        del self.engagements[: 3 + self.count % 2]
        for e in self.engagements[-40:]:
            e["state"] = "launched"
        t = self.time_s
        return dict(
            type="picture", time_s=t, tracks=self._tracks(),
            radars=[dict(name="Leshan EWR", state="emitting", last_scan_s=t - 4),
                    dict(name="Linkou coastal", state="silent", last_scan_s=None),
                    dict(name="FCR North", state="lost", last_scan_s=t - 60)],
            batteries=[dict(name=name, layer=layer, ready=8 - self.count % 8, stock=60 - self.count % 60, magazine=60,
                            reported_s=t, state="ready") for name, layer in BATTERIES],
            authority=dict(upper="confirm", mid="confirm", lower="auto", short="hold"),
            recommendations=self._recommendations(), engagements=[dict(e) for e in self.engagements],
            events=self._events(5), counts=dict(plots=1234 + self.count, cycles=self.count))


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))] if s else float("nan")


def summary(xs: list[float]) -> dict:
    return {"p50": round(statistics.median(xs), 2) if xs else None, "p99": round(pct(xs, 0.99), 2) if xs else None,
            "max": round(max(xs), 2) if xs else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pictures", type=int, default=120)
    ap.add_argument("--interval", type=float, default=1.0, help="wall time between pictures, s")
    ap.add_argument("--tracks", type=int, default=1000)
    ap.add_argument("--engagements", type=int, default=300, help="engagements in the first picture")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON result here")
    ap.add_argument("--web", type=Path, default=None,
                    help="serve the page's files from this folder (a copy of tdome/viz/web) to compare a change")
    args = ap.parse_args()
    if args.web:
        test_console_page.WEB = args.web

    from playwright.sync_api import sync_playwright

    load_start = os.getloadavg()
    raid = Raid(args.tracks, args.engagements)
    srv = Service()
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    rows, texts_kb = [], []
    try:
        with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
            ctx = pw.chromium.launch_persistent_context(profile, executable_path=str(CHROMIUM), args=FLAGS,
                                                        headless=True, viewport={"width": 1400, "height": 900})
            page = ctx.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning")
                    and "favicon" not in m.location.get("url", "") else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(srv.origin + "/", wait_until="load")
            page.wait_for_function("() => window.tdomeConsole !== undefined", timeout=20_000)
            page.evaluate(INSTRUMENT)
            page.evaluate("s => __bench.feed(s)", json.dumps(hello()))
            t0 = time.perf_counter()
            for k in range(args.pictures):
                text = json.dumps(raid.picture())  # made before its slot: the page's time only is measured
                texts_kb.append(len(text) / 1024)
                time.sleep(max(0.0, t0 + k * args.interval - time.perf_counter()))
                rows.append(page.evaluate("s => __bench.feed(s)", text))
            time.sleep(max(0.0, t0 + args.pictures * args.interval - time.perf_counter()))
            longtasks = page.evaluate("__bench.longtasks")
            page_errors = page.evaluate("tdomeConsole.errors") + errors
            dom = page.evaluate("""() => ({events: document.querySelectorAll('#events li').length,
                engagements: document.querySelectorAll('#engagements tr').length,
                recommendations: document.querySelectorAll('#recommendations li').length,
                elements: document.getElementsByTagName('*').length})""")
            ctx.close()
    finally:
        srv.shutdown()
        srv.server_close()
    load_end = os.getloadavg()

    handle = [r["parse"] + r["ingest"] for r in rows]
    per_picture_long = [0] * len(rows)  # long tasks that began in each picture's slot
    starts = [r["start"] for r in rows]
    first = starts[0] if starts else 0.0
    for st, _ in longtasks:
        if st < first - 5:
            continue  # the page's load and the hello
        k = max(0, sum(1 for s in starts if s <= st + 5) - 1)
        per_picture_long[k] += 1
    in_run = [d for st, d in longtasks if st >= first - 5]
    result = {
        "pictures": len(rows), "tracks": args.tracks, "interval_s": args.interval, "web": str(test_console_page.WEB),
        "message_kb": summary(texts_kb),
        "handle_ms": summary(handle), "parse_ms": summary([r["parse"] for r in rows]),
        "ingest_ms": summary([r["ingest"] for r in rows]),
        "draw_ms": summary([r["draw"] for r in rows]), "frame_ms": summary([r["frame"] for r in rows]),
        "total_ms": summary([r["parse"] + r["ingest"] + r["frame"] for r in rows]),
        "longtasks": len(in_run), "longtask_ms": summary(in_run),
        "pictures_with_longtask": sum(1 for c in per_picture_long if c),
        "dom_at_end": dom, "page_errors": page_errors[:5],
        "loadavg_start": [round(x, 2) for x in load_start], "loadavg_end": [round(x, 2) for x in load_end],
    }
    print(f"{len(rows)} pictures of {args.tracks} tracks, one per {args.interval} s; "
          f"message {result['message_kb']['p50']:.0f} kB")
    print(f"{'ms per picture':<28}{'p50':>8}{'p99':>8}{'max':>8}")
    for key, label in (("handle_ms", "handle (parse + ingest)"), ("parse_ms", "  JSON.parse"),
                       ("ingest_ms", "  ingest"), ("frame_ms", "frame (draw + rendering)"),
                       ("draw_ms", "  canvas draw (JS)"), ("total_ms", "total main thread"),
                       ("longtask_ms", "long tasks (>= 50 ms)")):
        s = result[key]
        print(f"{label:<28}" + "".join(f"{'-' if s[q] is None else f'{s[q]:.1f}':>8}" for q in ("p50", "p99", "max")))
    print(f"long tasks: {result['longtasks']} ({result['pictures_with_longtask']} of {len(rows)} pictures)")
    print(f"DOM at the end: {dom}")
    if page_errors:
        print(f"page errors: {page_errors[:5]}")
    print(f"load average: start {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}, "
          f"end {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f} ({os.cpu_count()} CPUs)")
    line = json.dumps(result)
    if args.out:
        args.out.write_text(line + "\n")
    print(line)


if __name__ == "__main__":
    main()
