"""The battle replay in a real headless browser: Debian's Chromium driven by Playwright.

The page is opened from file:// with every request intercepted: the page
itself is the only one allowed, and any other is recorded and refused.  The
page exposes a read-only ``window.tdomeReplay`` (time, counts of what it
drew, the screen position of an item) so the test can check what is shown.

``.ci/install-browser`` installs the browser (CI runs it from ``.ci/run``).
Under CI (CI=true) a missing browser fails the test; elsewhere it is skipped
with the reason.  A screenshot is kept in ``test-artifacts/replay.png``.
"""

import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tdome.viz.replay import write_replay
from tdome.viz.runfolder import load_run_folder

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"browser test cannot run under CI: {reason} (.ci/install-browser installs it)")
    pytest.skip(f"{reason}; run .ci/install-browser as root to install it")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        _unavailable("Debian's chromium is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (it is a test extra)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")),
            args=FLAGS, headless=True, viewport={"width": 1400, "height": 900})
        yield ctx
        ctx.close()


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
    scrub_to(page, small_run[0].scenario.duration_s)
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
