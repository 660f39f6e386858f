"""The command line: bad input gives a clear message and exit code 2, never a traceback."""

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
