"""The command line: bad input gives a clear message and exit code 2, never a traceback."""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

SMALL = Path(__file__).parent / "data" / "small.yaml"


def tdome(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tdome.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


@pytest.mark.parametrize("content, expect", [
    ("name: x\nseed: [1, 2\n", "line"),  # not YAML
    ("- just\n- a list\n", "mapping"),
    (SMALL.read_text().replace("magazine: 24", "magazine: -3", 1), "magazine"),
    (SMALL.read_text().replace("lat: 25.040", "lat: 95.0", 1), "95"),
    (SMALL.read_text().replace("type: fcr_mpq65", "type: fcr_x", 1), "fcr_x"),
])
def test_validate_rejects_bad_files_with_exit_2_and_no_traceback(tmp_path, content, expect):
    f = tmp_path / "bad.yaml"
    f.write_text(content)
    r = tdome("validate", str(f))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr + r.stdout
    assert "bad.yaml" in r.stderr and expect in r.stderr


def test_run_of_a_missing_file_exits_2(tmp_path):
    r = tdome("run", str(tmp_path / "nope.yaml"))
    assert r.returncode == 2 and "nope.yaml" in r.stderr and "Traceback" not in r.stderr


def test_validate_accepts_the_test_scenario():
    r = tdome("validate", str(SMALL))
    assert r.returncode == 0 and "24 threats" in r.stdout


def test_run_writes_the_run_folder_with_the_seed_override(tmp_path):
    out = tmp_path / "run"
    r = tdome("run", str(SMALL), "--out", str(out), "--seed", "11", "--quiet")
    assert r.returncode == 0, r.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 11
    for name in ("events.parquet", "tracks.parquet", "truth.parquet", "threats.parquet", "map.png"):
        assert (out / name).stat().st_size > 0
    assert "leakers" in r.stdout and "sensor-to-shooter" in r.stdout


# --------------------------------------------------------------------------- output paths, before any work


def _blocked(tmp_path: Path) -> Path:
    """A path no one can create, root included: its parent is a regular file."""
    f = tmp_path / "a-file"
    f.write_text("x")
    return f / "sub"


def _clean_error(r, *words):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout
    for w in words:
        assert w in r.stderr, r.stderr


def test_run_refuses_an_existing_file_as_its_folder_before_running(tmp_path):
    f = tmp_path / "taken"
    f.write_text("keep me")
    r = tdome("run", str(SMALL), "--out", str(f), "--quiet")
    _clean_error(r, "--out", "is a file")
    assert "leakers" not in r.stdout  # refused before the run, not after it
    assert f.read_text() == "keep me"


@pytest.mark.parametrize("command", [["run", str(SMALL)], ["mc", str(SMALL), "--runs", "1"]])
def test_run_and_mc_refuse_an_unwritable_folder(tmp_path, command):
    r = tdome(*command, "--out", str(_blocked(tmp_path) / "out"), "--quiet")
    _clean_error(r, "--out", "cannot write")


def test_sweep_refuses_an_unwritable_folder(tmp_path):
    study = tmp_path / "study.yaml"
    study.write_text(f"name: s\nscenario: {SMALL}\nruns: 1\n"
                     "parameters:\n  c2.doctrine.mode: [shoot_look_shoot, fire_all]\n")
    r = tdome("sweep", str(study), "--out", str(_blocked(tmp_path) / "out"), "--quiet")
    _clean_error(r, "--out", "cannot write")


@pytest.mark.parametrize("command", [["replay"], ["export", "--czml"]])
def test_replay_and_export_refuse_an_unwritable_file(small_run, tmp_path, command):
    _, folder = small_run
    r = tdome(*command, str(folder), "--out", str(_blocked(tmp_path) / "x.out"))
    _clean_error(r, "--out", "cannot write")
    r = tdome(*command, str(folder), "--out", str(tmp_path))  # a folder where a file is wanted
    _clean_error(r, "--out", "is a folder")


@pytest.mark.parametrize("command", [["init"], ["schema", "--out"]])
def test_init_and_schema_refuse_an_unwritable_file(tmp_path, command):
    r = tdome(*command, str(_blocked(tmp_path) / "x.yaml"))
    _clean_error(r, "cannot write")


def test_replay_of_a_scenario_file_says_to_run_it_first(tmp_path):
    r = tdome("replay", str(SMALL))
    _clean_error(r, "scenario file", "tdome run")
    assert f"--out {SMALL}" not in r.stderr


# --------------------------------------------------------------------------- starting out


def test_init_writes_a_starter_that_validates_and_never_overwrites(tmp_path):
    f = tmp_path / "my_raid.yaml"
    r = tdome("init", str(f))
    assert r.returncode == 0, r.stderr
    assert f.read_text().lstrip().startswith("#")  # commented
    v = tdome("validate", str(f))
    assert v.returncode == 0, v.stderr
    before = f.read_text()
    _clean_error(tdome("init", str(f)), "already exists")
    assert f.read_text() == before


def test_schema_prints_the_json_schema_of_scenario_files():
    r = tdome("schema")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["type"] == "object" and "raid" in s["properties"] and "batteries" in s["properties"]


def test_version_and_flags_shown_as_flags():
    from tdome import __version__

    r = tdome("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"tdome {__version__}"
    for command in ("run", "mc", "sweep", "replay"):
        h = tdome(command, "--help")
        assert h.returncode == 0
        flags = [ln for ln in h.stdout.splitlines() if ln.strip().startswith(("--quiet", "--resume", "--open"))]
        assert flags or (command == "replay" and "--open" in h.stdout)
        for ln in flags:
            assert "<bool>" not in ln and "BOOLEAN" not in ln, ln


def test_study_summary_fits_an_80_column_terminal(tmp_path, monkeypatch):
    from rich.console import Console

    from tdome import cli

    (tmp_path / "tables").mkdir()
    rows = ["point,measure,mean,half_width"]
    for p in range(9):
        for m in ("leakers", "leak_rate", "defended_value_fraction", "shots_total", "cost_usd", "cost_exchange",
                  "s2s_median_s", "gospa_mean_m"):
            rows.append(f"{p},{m},{123456.789 * (p + 1)},{0.01234 * (p + 1)}")
    (tmp_path / "tables" / "summary.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "study.json").write_text(json.dumps({"parameters": {}}))
    con = Console(width=80, record=True, file=io.StringIO())
    monkeypatch.setattr(cli, "console", con)
    cli._print_study_summary(tmp_path)
    text = con.export_text()
    assert max(len(ln) for ln in text.splitlines()) <= 80
    for p in range(9):
        assert f"point {p}" in text  # every point shown, in several tables
    assert "…" not in text  # nothing cut


def test_fit_columns_packs_greedily_and_never_drops_an_item():
    from tdome.cli import _fit_columns

    chunks = _fit_columns(list(range(10)), lambda i: 10, 40)
    assert chunks == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert _fit_columns([1], lambda i: 500, 40) == [[1]]  # a column wider than the room still shows
