"""The CZML export: the rules of the CZML format we can state, and czml3's models as an independent check."""

import itertools
import json
import subprocess
import sys
from datetime import datetime

import pyarrow.parquet as pq
import pytest
from czml3.core import Packet

from tdome.runfolder import load_run_folder
from tdome.viz.czml import CzmlError, build_czml

EPOCH = "2025-03-01T06:00:00Z"


@pytest.fixture(scope="module")
def doc(small_run):
    return build_czml(load_run_folder(small_run[1]), EPOCH)


def instant(text: str) -> datetime:
    assert text.endswith("Z"), text  # UTC, ISO 8601
    return datetime.fromisoformat(text)


def interval(text: str) -> tuple[datetime, datetime]:
    start, end = text.split("/")
    a, b = instant(start), instant(end)
    assert a <= b, text
    return a, b


def test_the_document_packet_comes_first_with_version_and_clock(doc, small_run):
    first = doc[0]
    assert first["id"] == "document" and first["version"] == "1.0"
    a, b = interval(first["clock"]["interval"])
    # The clock spans the run: it ends at duration_s, or earlier once the battle is over (scene.json says which).
    span_s = json.loads((small_run[1] / "scene.json").read_text())["duration_s"]
    assert 0 < span_s <= small_run[0].scenario.duration_s
    assert a == instant(EPOCH) and (b - a).total_seconds() == span_s
    assert instant(first["clock"]["currentTime"]) == a
    assert all(p["id"] != "document" for p in doc[1:])


def test_ids_are_unique_and_parents_come_first(doc):
    ids = [p["id"] for p in doc]
    assert len(ids) == len(set(ids))
    seen = set()
    for p in doc:
        if "parent" in p:
            assert p["parent"] in seen, p["id"]
        seen.add(p["id"])


def test_samples_are_whole_time_tagged_and_inside_their_availability(doc):
    moving = [p for p in doc if isinstance(p.get("position", {}).get("epoch"), str)]
    assert moving
    for p in moving:
        s = p["position"]["cartographicDegrees"]
        assert len(s) % 4 == 0 and len(s) >= 8, p["id"]
        t = s[0::4]
        assert all(b > a for a, b in itertools.pairwise(t)), p["id"]
        epoch = instant(p["position"]["epoch"])
        a, b = interval(p["availability"])
        assert (a - epoch).total_seconds() == pytest.approx(t[0], abs=1e-3)
        assert (b - epoch).total_seconds() == pytest.approx(t[-1], abs=1e-3)
        lon, lat = s[1::4], s[2::4]
        assert all(-180 <= x <= 180 for x in lon) and all(-90 <= y <= 90 for y in lat)
    for p in doc:
        if "availability" in p:
            interval(p["availability"])
        for prop in ("point", "label"):
            for v in (p.get(prop, {}).get("color", {}).get("rgba"), p.get(prop, {}).get("text")):
                if isinstance(v, list) and v and isinstance(v[0], dict):
                    for iv in v:
                        interval(iv["interval"])


def test_the_document_has_every_scene_item_track_flyout_and_event(doc, small_run):
    rec, folder = small_run
    ids = {p["id"] for p in doc}
    assert {f"asset/{j}" for j in range(len(rec.assets))} <= ids
    assert {f"radar/{j}/coverage" for j in range(len(rec.sites))} <= ids
    assert {f"battery/{j}" for j in range(len(rec.batteries))} <= ids
    tr = pq.read_table(folder / "tracks.parquet").to_pydict()
    multi = {t for t in set(tr["track_id"]) if tr["track_id"].count(t) > 1}
    assert {f"track/{t}" for t in multi} == {i for i in ids if i.startswith("track/")}
    ic = pq.read_table(folder / "interceptors.parquet").to_pydict()
    assert {f"interceptor/{i}" for i in ic["interceptor_id"]} == {i for i in ids if i.startswith("interceptor/")}
    kinds = [p["name"].split(" ")[0] for p in doc if p.get("parent") == "events"]
    for kind in ("kill", "leak", "impact", "miss"):
        assert kinds.count(kind) == sum(e["kind"] == kind for e in rec.events)


def test_every_packet_is_valid_for_czml3(doc):
    for p in doc:
        Packet.model_validate(p)


def test_a_bad_epoch_is_refused(small_run):
    with pytest.raises(CzmlError, match="ISO 8601"):
        build_czml(load_run_folder(small_run[1]), "yesterday")


def tdome(*args):
    return subprocess.run([sys.executable, "-m", "tdome.cli", *args], capture_output=True, text=True, timeout=300)


def test_export_command_writes_czml_and_refuses_bad_input(small_run, tmp_path):
    out = tmp_path / "run.czml"
    r = tdome("export", str(small_run[1]), "--czml", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())[0]["id"] == "document"
    for args, expect in ((["--czml", "--epoch", "noon"], "epoch"), ([], "--czml")):
        r = tdome("export", str(small_run[1]), *args, "--out", str(tmp_path / "x.czml"))
        assert r.returncode == 2 and expect in r.stderr and "Traceback" not in r.stderr
