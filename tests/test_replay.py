"""The battle replay's data: what the page is given is what the run folder holds, and nothing is fetched."""

import json
import re
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest

from tdome.runfolder import RunFolderError, load_run_folder
from tdome.viz.mapplot import MAP_EVENT_KINDS, map_layers
from tdome.viz.replay import PLACEHOLDER, Q_DEG, Q_T, TRACK_CONFIRMED, build_payload, render_html


def undelta(col, series) -> np.ndarray:
    """Absolute values of a column delta-coded within each object of a payload series."""
    col = np.asarray(col, dtype=np.int64)
    out = np.empty_like(col)
    for s, n in zip(series["start"], series["n"]):
        out[s:s + n] = np.cumsum(col[s:s + n])
    return out


@pytest.fixture(scope="module")
def payload(small_run):
    return build_payload(load_run_folder(small_run[1]))


@pytest.fixture(scope="module")
def table(small_run):
    return lambda name: pq.read_table(small_run[1] / f"{name}.parquet").to_pydict()


def test_the_run_folder_carries_the_scene_and_every_interceptor(small_run):
    rec, folder = small_run
    scene = json.loads((folder / "scene.json").read_text())
    sc = rec.scenario
    assert [a["name"] for a in scene["assets"]] == [a.name for a in sc.assets]
    assert [r["name"] for r in scene["radars"]] == [r.name for r in sc.radars]
    assert [(b["name"], b["layer"], b["magazine"]) for b in scene["batteries"]] == \
        [(b.name, b.layer, b.magazine) for b in sc.batteries]
    summary = json.loads((folder / "summary.json").read_text())
    fired = sum(v["rounds_initial"] - v["rounds_left"] for v in summary["layers"].values())
    ic = pq.read_table(folder / "interceptors.parquet").to_pydict()
    assert len(ic["interceptor_id"]) == fired > 0
    events = pq.read_table(folder / "events.parquet").to_pydict()
    resolved = {i: k for i, k in zip(events["interceptor_id"], events["kind"]) if k in ("kill", "miss")}
    assert {i: o for i, o in zip(ic["interceptor_id"], ic["outcome"]) if o} == resolved
    assert all(t1 > t0 for t0, t1 in zip(ic["launch_s"], ic["intercept_s"]))


def test_tracks_carry_the_c2_predicted_impact_of_ballistic_tracks(table):
    tr = table("tracks")
    ballistic = [i for i, c in enumerate(tr["class"]) if c in ("ballistic", "rocket")]
    with_impact = [i for i in ballistic if np.isfinite(tr["impact_lat_deg"][i])]
    assert len(with_impact) > 0.5 * len(ballistic) > 0
    assert all(tr["time_to_go_s"][i] >= 0 for i in with_impact)


def test_times_are_monotonic_and_every_series_decodes(payload):
    assert np.all(np.diff(payload["events"]["t"]) >= 0)
    for name in ("tracks", "truth"):
        s = payload[name]
        t = undelta(s["t"], s)
        for start, n in zip(s["start"], s["n"]):
            assert np.all(np.diff(t[start:start + n]) > 0)
        assert sum(s["n"]) == len(s["t"]) == len(s["lat"]) == len(s["lon"]) == len(s["alt"])


def test_every_logged_event_is_in_the_page_with_its_place(payload, table):
    ev = table("events")
    kinds = payload["kinds"]
    page = payload["events"]
    for kind in set(ev["kind"]):
        assert sum(kinds[k] == kind for k in page["kind"]) == ev["kind"].count(kind), kind
    for kind in ("kill", "leak"):
        logged = sorted((round(t * Q_T), round(la * Q_DEG), round(lo * Q_DEG), th)
                        for t, k, la, lo, th in zip(ev["time_s"], ev["kind"], ev["lat_deg"], ev["lon_deg"],
                                                    ev["threat_id"]) if k == kind)
        shown = sorted((t, la, lo, th) for t, k, la, lo, th in zip(page["t"], page["kind"], page["lat"], page["lon"],
                                                                  page["threat"]) if kinds[k] == kind)
        assert shown == logged
    # One derived "track confirmed" event per track, at its first instant in the picture.
    confirmed = [(t, tk) for t, k, tk in zip(page["t"], page["kind"], page["track"]) if kinds[k] == TRACK_CONFIRMED]
    tt = undelta(payload["tracks"]["t"], payload["tracks"])
    assert sorted(confirmed) == sorted((int(tt[s]), tid) for tid, s in zip(payload["tracks"]["id"],
                                                                           payload["tracks"]["start"]))


def test_track_positions_and_counts_at_a_time_match_the_air_picture_table(payload, table):
    tr = table("tracks")
    s = payload["tracks"]
    t = undelta(s["t"], s)
    lat = undelta(s["lat"], s) / Q_DEG
    times, counts = np.unique(np.round(np.array(tr["time_s"]) * Q_T).astype(int), return_counts=True)
    busiest = times[np.argmax(counts)]
    assert np.sum(t == busiest) == counts.max() > 1
    # Same positions to the quantum.
    want = sorted(round(la * Q_DEG) for tq, la in zip(tr["time_s"], tr["lat_deg"]) if round(tq * Q_T) == busiest)
    assert sorted(np.round(lat[t == busiest] * Q_DEG).astype(int).tolist()) == want


def test_the_page_and_the_map_png_show_the_same_assets_and_events(small_run, payload):
    png = map_layers(load_run_folder(small_run[1]))
    page_assets = [(a["name"], round(a["lon_deg"], 4), round(a["lat_deg"], 4), bool(a["hits"]))
                   for a in payload["assets"]]
    assert page_assets == [(n, round(lo, 4), round(la, 4), hit) for n, lo, la, hit in png["assets"]]
    kinds = payload["kinds"]
    ev = payload["events"]
    for kind in MAP_EVENT_KINDS:
        page = sorted((lo, la) for k, lo, la in zip(ev["kind"], ev["lon"], ev["lat"]) if kinds[k] == kind)
        want = sorted((round(lo * Q_DEG), round(la * Q_DEG)) for lo, la in png["events"][kind])
        assert page == want, kind
    assert any(png["events"][k] for k in MAP_EVENT_KINDS)


def test_the_page_fetches_nothing_from_anywhere(payload):
    html = render_html(payload)
    assert PLACEHOLDER not in html
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", html, re.IGNORECASE)
    assert not re.search(r"<(img|link|iframe|object|embed|audio|video|source)\b", html, re.IGNORECASE)
    assert not re.search(r"\bsrc\s*=|@import|\burl\(|\bfetch\(|XMLHttpRequest|WebSocket|EventSource|import\(",
                         html, re.IGNORECASE)
    assert "default-src 'none'" in html  # and the page forbids itself any request
    # The embedded data parses back to the payload and never closes its script element early.
    data = html.split('<script id="tdome-data" type="application/json">', 1)[1].split("</script>", 1)[0]
    assert json.loads(data) == json.loads(json.dumps(payload))


def test_a_name_that_looks_like_markup_stays_data(payload):
    evil = json.loads(json.dumps(payload))
    evil["assets"][0]["name"] = "</script><script>alert(1)</script>"
    html = render_html(evil)
    assert html.count("</script>") == render_html(payload).count("</script>")


def tdome(*args):
    return subprocess.run([sys.executable, "-m", "tdome.cli", *args], capture_output=True, text=True, timeout=300)


def test_replay_command_writes_the_page_and_reports_its_size(small_run, tmp_path):
    out = tmp_path / "page.html"
    r = tdome("replay", str(small_run[1]), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 10_000
    assert str(out) in r.stdout and "KiB" in r.stdout


def test_replay_of_an_old_or_missing_run_folder_exits_2_with_the_reason(small_run, tmp_path):
    r = tdome("replay", str(tmp_path / "nope"))
    assert r.returncode == 2 and "nope" in r.stderr and "Traceback" not in r.stderr
    old = tmp_path / "old"
    old.mkdir()
    for f in small_run[1].iterdir():
        if f.name not in ("scene.json", "interceptors.parquet"):
            (old / f.name).write_bytes(f.read_bytes())
    r = tdome("replay", str(old))
    assert r.returncode == 2 and "scene.json" in r.stderr and "tdome run" in r.stderr
    assert "Traceback" not in r.stderr
    with pytest.raises(RunFolderError):
        load_run_folder(old)
