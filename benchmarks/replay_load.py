"""How heavy and how smooth the battle replay of a run is, in headless Chromium.

    python benchmarks/replay_load.py RUN_FOLDER [--out replay_load.json] [--repeat 5]

Writes the page, then measures: its size; the time to build it; over
``--repeat`` fresh loads from file://, the wall time from navigation to the
first drawn picture and the page's own figure for parsing its data and
drawing (``tdomeReplay.readyMs``); the time to draw the picture and refresh
the panel at 60 instants across the run; and the frame intervals while it
plays at 60x for five seconds.  Needs Debian's chromium
(``.ci/install-tools``) and the playwright test extra.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from tdome.runfolder import load_run_folder
from tdome.viz.replay import write_replay

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_folder", type=Path)
    ap.add_argument("--out", type=Path, default=Path("replay_load.json"))
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    t0 = time.perf_counter()
    page_file = write_replay(load_run_folder(args.run_folder), Path(tempfile.mkdtemp()) / "replay.html")
    build_s = time.perf_counter() - t0
    loads, ready = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        for _ in range(args.repeat):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            t0 = time.perf_counter()
            page.goto(page_file.as_uri())
            page.wait_for_function("() => window.tdomeReplay && window.tdomeReplay.readyMs !== null")
            loads.append(time.perf_counter() - t0)
            ready.append(page.evaluate("tdomeReplay.readyMs") / 1e3)
            page.close()
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(page_file.as_uri())
        page.wait_for_function("() => window.tdomeReplay && window.tdomeReplay.readyMs !== null")
        draw_ms = page.evaluate("""() => { const out = []; const d = tdomeReplay.duration;
            for (let k = 0; k < 60; k++) { const t0 = performance.now(); tdomeReplay.setTime(d * k / 59);
              out.push(performance.now() - t0); } return out; }""")
        page.evaluate("() => { document.getElementById('speed').value = '60'; tdomeReplay.setTime(0); }")
        frames = page.evaluate("""() => new Promise(done => { const ts = []; tdomeReplay.play();
            function tick(t) { ts.push(t); if (ts.length < 2 || t - ts[0] < 5000) requestAnimationFrame(tick);
              else { tdomeReplay.pause(); done(ts.slice(1).map((v, i) => v - ts[i])); } }
            requestAnimationFrame(tick); })""")
        browser.close()
    q = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(p * len(xs)))]  # noqa: E731
    result = dict(
        run_folder=str(args.run_folder), html_bytes=page_file.stat().st_size, build_s=round(build_s, 3),
        load_to_first_picture_s=dict(median=round(statistics.median(loads), 3), max=round(max(loads), 3)),
        page_parse_and_first_draw_s=dict(median=round(statistics.median(ready), 3), max=round(max(ready), 3)),
        draw_and_panel_ms=dict(median=round(statistics.median(draw_ms), 2), p95=round(q(draw_ms, 0.95), 2)),
        play_frame_interval_ms=dict(median=round(statistics.median(frames), 2), p95=round(q(frames, 0.95), 2),
                                    max=round(max(frames), 2), frames=len(frames)),
    )
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
