"""The battle replay in a real headless browser: Debian's Chromium driven by Playwright.

The page is opened from file:// with every request intercepted: the page
itself is the only one allowed, and any other is recorded and refused.  The
page exposes a read-only ``window.tdomeReplay`` (time, counts of what it
drew, the screen position of an item) so the test can check what is shown.

``.ci/install-tools`` installs the browser (CI runs it from ``.ci/run``).
Under CI (CI=true) a missing browser fails the test; elsewhere it is skipped
with the reason.  A screenshot is kept in ``test-artifacts/replay.png``.
"""

import json

import pyarrow.parquet as pq
import pytest

from browser_tools import ARTIFACTS, chromium
from tdome.runfolder import load_run_folder
from tdome.viz import palette
from tdome.viz.replay import write_replay


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory, 1400, 900) as ctx:
        yield ctx


@pytest.fixture(scope="module")
def page_file(small_run, tmp_path_factory):
    return write_replay(load_run_folder(small_run[1]), tmp_path_factory.mktemp("replay") / "replay.html")


@pytest.fixture(scope="module")
def loaded(browser, page_file):
    """The replay page loaded, with what it logged and requested."""
    page = browser.new_page()
    errors, requests = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def route(r):
        requests.append(r.request.url)
        r.continue_() if r.request.url == page_file.as_uri() else r.abort()

    page.route("**/*", route)
    page.goto(page_file.as_uri(), wait_until="load")
    page.wait_for_function("() => window.tdomeReplay && window.tdomeReplay.readyMs !== null", timeout=20_000)
    yield page, errors, requests
    page.close()


def state(page):
    return page.evaluate("({t: tdomeReplay.time, drawn: tdomeReplay.drawn, listed: tdomeReplay.listedEvents,"
                         " events: document.getElementById('events').innerText})")


def scrub_to(page, t):
    """Move the timeline as a user does: set the range input and fire its input event."""
    page.evaluate("""t => { const s = document.getElementById('scrub'); s.value = String(t);
                     s.dispatchEvent(new Event('input', {bubbles: true})); }""", t)
    page.wait_for_function("t => tdomeReplay.time === t && tdomeReplay.drawn !== null", arg=t)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def test_page_loads_with_no_console_error_and_no_request_but_itself(loaded, page_file):
    page, errors, requests = loaded
    page.wait_for_timeout(300)
    assert errors == []
    assert requests == [page_file.as_uri()]


def test_the_map_shows_the_scene(loaded, small_run):
    page, _, _ = loaded
    rec, _ = small_run
    drawn = state(page)["drawn"]
    assert drawn["assets"] == len(rec.assets)
    assert drawn["radars"] == len(rec.sites)
    assert drawn["batteries"] == len(rec.batteries)
    # The canvas is painted: land and sea differ, not one flat colour.
    colours = page.evaluate("""() => { const c = document.getElementById('map');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; const seen = new Set();
        for (let i = 0; i < d.length; i += 4 * 97) seen.add(d[i] << 16 | d[i + 1] << 8 | d[i + 2]);
        return seen.size; }""")
    assert colours > 20


def test_scrubbing_changes_what_is_shown_and_matches_the_air_picture(loaded, small_run):
    page, _, _ = loaded
    tr = pq.read_table(small_run[1] / "tracks.parquet").to_pydict()
    per_time = {}
    for t in tr["time_s"]:
        per_time[t] = per_time.get(t, 0) + 1
    busy = max(per_time, key=per_time.get)
    scrub_to(page, 0)
    early = state(page)
    scrub_to(page, busy)
    late = state(page)
    assert early["drawn"]["tracks"] == 0 and early["drawn"]["markers"] == 0
    assert late["drawn"]["tracks"] == per_time[busy] > 0
    assert late["events"] != early["events"] and late["listed"] > 0
    scrub_to(page, page.evaluate("tdomeReplay.duration"))  # the run's end: the battle's, or duration_s
    end = state(page)
    kills_and_leaks = sum(1 for e in small_run[0].events if e["kind"] in ("kill", "miss", "leak", "impact"))
    assert end["drawn"]["markers"] == kills_and_leaks
    # Interceptors are drawn while in flight.
    ic = pq.read_table(small_run[1] / "interceptors.parquet").to_pydict()
    mid = (ic["launch_s"][0] + ic["intercept_s"][0]) / 2
    scrub_to(page, mid)
    assert state(page)["drawn"]["interceptors"] >= 1


def test_hover_and_click_show_details(loaded, small_run):
    page, _, _ = loaded
    canvas = page.locator("#map").bounding_box()
    scrub_to(page, 0)
    at = page.evaluate("tdomeReplay.screenOf('battery', 0)")
    page.mouse.move(canvas["x"] + at["x"], canvas["y"] + at["y"])
    tip = page.locator("#tooltip")
    tip.wait_for(state="visible")
    assert small_run[0].batteries[0].name in tip.inner_text() and "magazine" in tip.inner_text()
    # A track: class, speed, altitude, predicted impact, threatened asset, assigned battery.
    tr = pq.read_table(small_run[1] / "tracks.parquet").to_pydict()
    ballistic = [(t, k) for t, k, la in zip(tr["time_s"], tr["track_id"], tr["impact_lat_deg"]) if la == la]
    t, tid = ballistic[len(ballistic) // 2]
    scrub_to(page, t)
    index = page.evaluate("""tid => JSON.parse(document.getElementById('tdome-data').textContent)
                          .tracks.id.indexOf(tid)""", tid)
    at = page.evaluate("k => tdomeReplay.screenOf('track', k)", index)
    assert at is not None
    page.mouse.click(canvas["x"] + at["x"], canvas["y"] + at["y"])
    details = page.locator("#details").inner_text()
    for word in ("class", "speed", "altitude", "predicted impact", "threatened asset", "assigned battery"):
        assert word in details
    assert f"T{tid}" in details
    assert page.evaluate("tdomeReplay.selected")["type"] == "track"


def test_play_advances_time_and_a_screenshot_is_kept(loaded, small_run):
    page, errors, _ = loaded
    scrub_to(page, 200)
    page.evaluate("document.getElementById('show-truth').click()")
    page.click("#play")
    page.wait_for_function("() => tdomeReplay.time > 215", timeout=10_000)
    page.click("#play")
    assert not page.evaluate("tdomeReplay.playing")
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    assert state(page)["drawn"]["truth"] > 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "replay.png"))
    assert (ARTIFACTS / "replay.png").stat().st_size > 20_000
    assert errors == []


def open_page(browser, url: str, allowed: str):
    """A fresh page at ``url`` (``allowed``: the one file it may load), once the replay is ready."""
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route("**/*", lambda r: r.continue_() if r.request.url == allowed else r.abort())
    page.goto(url, wait_until="load")
    page.wait_for_function("() => window.tdomeReplay && window.tdomeReplay.readyMs !== null", timeout=20_000)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return page, errors


def first_on_screen(folder) -> float:
    """The first moment the map shows something: a track, an interceptor or an event mark."""
    tr = pq.read_table(folder / "tracks.parquet").to_pydict()
    ic = pq.read_table(folder / "interceptors.parquet").to_pydict()
    ev = pq.read_table(folder / "events.parquet").to_pydict()
    marks = [t for t, k in zip(ev["time_s"], ev["kind"]) if k in ("kill", "miss", "leak", "impact")]
    return min(tr["time_s"] + ic["launch_s"] + marks)


def test_the_replay_opens_at_the_first_moment_something_is_on_the_map(browser, page_file, small_run):
    page, errors = open_page(browser, page_file.as_uri(), page_file.as_uri())
    start = first_on_screen(small_run[1])
    assert start > 0
    assert page.evaluate("tdomeReplay.time") == pytest.approx(start, abs=0.05)
    assert state(page)["drawn"]["tracks"] > 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "replay-start.png"))
    assert errors == []
    page.close()


@pytest.mark.parametrize("fragment, expect", [("#t=600", 600.0), ("#t=42.5", 42.5), ("#speed=5&t=300", 300.0),
                                              ("#t=abc", None), ("#t=-5", None), ("#t=1e9", None), ("#t=", None),
                                              ("#t=99999", None)])
def test_a_start_time_in_the_address_fragment_opens_the_replay_there(browser, page_file, small_run, fragment,
                                                                      expect):
    page, errors = open_page(browser, page_file.as_uri() + fragment, page_file.as_uri())
    assert page.evaluate("tdomeReplay.duration") > 600  # the fragments above are within the run
    want = first_on_screen(small_run[1]) if expect is None else expect  # invalid values are ignored
    assert page.evaluate("tdomeReplay.time") == pytest.approx(want, abs=0.05)
    assert errors == []
    page.close()


def test_changing_the_fragment_moves_the_replay(browser, page_file):
    page, _ = open_page(browser, page_file.as_uri(), page_file.as_uri())
    page.evaluate("window.location.hash = '#t=250'")
    page.wait_for_function("() => tdomeReplay.time === 250")
    page.evaluate("window.location.hash = '#t=nonsense'")
    page.wait_for_timeout(100)
    assert page.evaluate("tdomeReplay.time") == 250
    page.close()


def _disjoint(boxes) -> bool:
    return not any(a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
                   for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_names_on_the_map_never_overlap_even_zoomed_out(loaded, small_run):
    page, _, _ = loaded
    rec, _ = small_run
    everything = {a.name for a in rec.assets} | {s.name for s in rec.sites} | {b.name for b in rec.batteries}
    scrub_to(page, 0)
    canvas = page.locator("#map").bounding_box()
    try:
        for zoom in (0, 600, 900, 1500):  # as opened, then zoomed out until the names crowd and must give way
            if zoom:
                page.mouse.move(canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2)
                page.mouse.wheel(0, zoom)
                page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            labels = page.evaluate("tdomeReplay.labels")
            boxes = [lab["box"] for lab in labels]
            legend = page.evaluate("""() => { const c = document.getElementById('map').getBoundingClientRect();
                const l = document.getElementById('legend').getBoundingClientRect();
                return [l.left - c.left, l.top - c.top, l.right - c.left, l.bottom - c.top]; }""")
            assert _disjoint(boxes + [legend]), zoom
            names = [lab["name"] for lab in labels]
            assert len(names) == len(set(names)) and set(names) <= everything
            # The assets, placed first, always keep their names; as opened, every name has room.
            assert {a.name for a in rec.assets} <= set(names), zoom
            if not zoom:
                assert set(names) == everything
    finally:
        page.evaluate("document.getElementById('reset-view').click()")


def test_hovering_a_radar_names_it(loaded, small_run):
    page, _, _ = loaded
    page.evaluate("document.getElementById('reset-view').click()")
    canvas = page.locator("#map").bounding_box()
    items = page.evaluate("""() => { const c = tdomeReplay.counts(); const out = [];
        for (const [type, n] of [['radar', c.radars], ['battery', c.batteries], ['asset', c.assets]])
            for (let i = 0; i < n; i++) out.push([type, i, tdomeReplay.screenOf(type, i)]);
        return out; }""")
    # A radar with no other marker near it, so the pointer can only mean the radar.
    for kind, i, at in items:
        if kind == "radar" and all((x["x"] - at["x"]) ** 2 + (x["y"] - at["y"]) ** 2 > 20 ** 2
                                   for k, j, x in items if (k, j) != (kind, i)):
            break
    else:
        pytest.skip("every radar of the test scenario sits on another marker")
    page.mouse.move(canvas["x"] + at["x"], canvas["y"] + at["y"])
    tip = page.locator("#tooltip")
    tip.wait_for(state="visible")
    assert small_run[0].sites[i].name in tip.inner_text() and "max range" in tip.inner_text()
    page.mouse.move(0, 0)


def _with_a_hit(payload: dict, t_s: float) -> dict:
    """The payload of the small run with asset 0 hit by a leaker at ``t_s`` (the run itself has no leaker)."""
    from tdome.viz.replay import Q_DEG, Q_T

    p = json.loads(json.dumps(payload))
    a = p["assets"][0]
    a["hits"] = [dict(time_s=t_s, threat_id=0)]
    ev = p["events"]
    at = sum(1 for t in ev["t"] if t <= round(t_s * Q_T))
    row = dict(t=round(t_s * Q_T), kind=p["kinds"].index("leak"), threat=0, track=-1, battery=-1, interceptor=-1,
               rounds=0, lat=round(a["lat_deg"] * Q_DEG), lon=round(a["lon_deg"] * Q_DEG), detail="")
    for k, v in row.items():
        ev[k].insert(at, v)
    return p


def test_a_hit_asset_is_ringed_over_its_leaker_star(browser, small_run, tmp_path):
    from tdome.viz.replay import build_payload, render_html

    html = tmp_path / "hit.html"
    html.write_text(render_html(_with_a_hit(build_payload(load_run_folder(small_run[1])), 300.0)), encoding="utf-8")
    page, errors = open_page(browser, html.as_uri() + "#t=299", html.as_uri())
    hit = tuple(int(palette.HIT[i:i + 2], 16) for i in (1, 3, 5))

    def ring_pixels():
        """Pixels on the ring's circle (radius: the asset's marker + 4 px), as (r, g, b)."""
        return page.evaluate("""() => { const at = tdomeReplay.screenOf('asset', 0);
            const D = JSON.parse(document.getElementById('tdome-data').textContent);
            const vmax = Math.max(1, ...D.assets.map((a) => a.value));
            const r = 4 + 8 * Math.sqrt(D.assets[0].value / vmax) + 4;
            const c = document.getElementById('map'); const dpr = c.width / c.clientWidth;
            const g = c.getContext('2d'); const out = [];
            for (let k = 0; k < 16; k++) { const a = k * Math.PI / 8;
                const d = g.getImageData(Math.round((at.x + r * Math.cos(a)) * dpr),
                                         Math.round((at.y + r * Math.sin(a)) * dpr), 1, 1).data;
                out.push([d[0], d[1], d[2]]); }
            return out; }""")

    def near_hit(px):
        return sum(abs(a - b) for a, b in zip(px, hit)) < 60

    assert not any(near_hit(p) for p in ring_pixels())
    page.evaluate("tdomeReplay.setTime(301)")
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    assert state(page)["drawn"]["markers"] >= 1  # the leaker star is drawn...
    assert sum(near_hit(p) for p in ring_pixels()) >= 12  # ...and the ring around the asset shows over it
    assert errors == []
    page.close()


# The frame fills milsymbol draws: hostile (2525C light red), suspect (2525E light amber, the replay's choice)
# and unknown (light yellow); the classic page draws no pixel of them.
SYMBOL_FILLS = {(255, 128, 128), (255, 229, 153), (255, 255, 128)}


def test_the_replay_can_draw_tracks_as_military_symbols(browser, small_run, tmp_path):
    from tdome.viz.replay import build_payload, render_html

    payload = build_payload(load_run_folder(small_run[1]))
    plain = render_html(payload)
    assert "symbols:begin" not in plain and "ms.Symbol" not in plain and "milsymbol" not in plain
    html = tmp_path / "symbols.html"
    write_replay(load_run_folder(small_run[1]), html, symbols=True)
    text = html.read_text(encoding="utf-8")
    assert "Måns Beckman" in text and text.count("<script") == plain.count("<script") + 1  # milsymbol, licence kept
    assert len(text) > len(plain) + 800_000
    tr = pq.read_table(small_run[1] / "tracks.parquet").to_pydict()
    per_time = {}
    for t in tr["time_s"]:
        per_time[t] = per_time.get(t, 0) + 1
    busy = max(per_time, key=per_time.get)
    requests = []
    page = browser.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route("**/*", lambda r: (requests.append(r.request.url),
                                  r.continue_() if r.request.url.startswith(html.as_uri()) else r.abort()))
    page.goto(html.as_uri() + f"#t={busy}", wait_until="load")
    page.wait_for_function("() => window.tdomeReplay && window.tdomeReplay.readyMs !== null", timeout=20_000)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    assert page.evaluate("tdomeReplay.time") == pytest.approx(busy, abs=0.05)
    assert state(page)["drawn"]["tracks"] == per_time[busy] > 0
    # The colours within 8 px of the tracks (one readback of the whole canvas).
    fills = page.evaluate("""() => { const c = document.getElementById('map'); const k = c.width / c.clientWidth;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; const seen = new Set();
        for (let i = 0; i < tdomeReplay.counts().tracks; i++) { const at = tdomeReplay.screenOf('track', i);
            if (!at) continue;
            for (let y = Math.round((at.y - 8) * k); y < (at.y + 8) * k; y++)
                for (let x = Math.round((at.x - 8) * k); x < (at.x + 8) * k; x++) {
                    if (x < 0 || y < 0 || x >= c.width || y >= c.height) continue;
                    const j = 4 * (y * c.width + x); seen.add([d[j], d[j + 1], d[j + 2]].join()); } }
        return [...seen]; }""")
    assert SYMBOL_FILLS & {tuple(int(v) for v in f.split(",")) for f in fills}
    assert page.locator("#legend canvas").count() >= 3 + 1  # the three frames and the run's classes
    assert "hostile" in page.inner_text("#legend")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "replay-symbols.png"))
    assert errors == []
    assert requests == [html.as_uri() + f"#t={busy}"] or requests == [html.as_uri()]
    page.close()
