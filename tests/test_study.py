"""Monte Carlo studies and sweeps: intervals, paths, determinism across backends, resume, failures, report."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
import pytest

from tdome.analysis.stats import mean_ci
from tdome.scenario import read_scenario_data
from tdome.studies import params as P
from tdome.studies.report import write_report
from tdome.studies.results import load_results
from tdome.studies.runner import run_study
from tdome.studies.spec import Study, StudyError, load_study, validate

ROOT = Path(__file__).parent.parent
SMALL = Path(__file__).parent / "data" / "small.yaml"


def small_study(**kw) -> Study:
    """Two doctrine points x two runs of a shortened small raid (full tracker)."""
    args = dict(name="test study", scenario=str(SMALL), runs=2, seed=11,
                parameters={"c2.doctrine.mode": ["shoot_look_shoot", "fire_all"]}, fixed={"duration_s": 130.0})
    return Study(**{**args, **kw})


def comparable(table):
    """The table without the one column that may differ between executions: wall time."""
    return table.drop_columns(["wall_time_s"])


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    out = tmp_path_factory.mktemp("one") / "study"
    res = run_study(small_study(), out, workers=1)
    return out, res


# --------------------------------------------------------------------------- statistics


def test_mean_ci_is_the_student_t_interval():
    # x = 1..5: mean 3, s = sqrt(2.5), t(0.975, 4) = 2.776445; half-width = t s / sqrt(5) = 1.963243.
    ci = mean_ci([1, 2, 3, 4, 5])
    assert ci.n == 5 and ci.mean == 3.0
    assert ci.half_width == pytest.approx(1.963243, abs=1e-6)
    assert (ci.ci_low, ci.ci_high) == pytest.approx((3 - 1.963243, 3 + 1.963243), abs=1e-6)
    assert ci.p50 == 3.0


def test_mean_ci_leaves_out_missing_values_and_needs_two_for_an_interval():
    assert mean_ci([2.0, np.nan, 4.0]).n == 2
    one = mean_ci([7.0])
    assert one.mean == 7.0 and math.isnan(one.half_width)
    assert mean_ci([]).n == 0


# --------------------------------------------------------------------------- parameter paths


def test_paths_pick_items_by_index_name_field_or_all_and_derive_values():
    base, _ = read_scenario_data(SMALL)
    d = P.with_overrides(base, [("batteries[layer=mid].magazine", 48), ("batteries[Upper North].launchers", 3),
                                ("raid.waves[*].groups[*].count", {"scale": 2}), ("batteries[6].magazine", {"add": 5}),
                                ("c2.doctrine.mode", "fire_all")])
    assert [b["magazine"] for b in d["batteries"] if b["layer"] == "mid"] == [48, 48]
    assert d["batteries"][0]["launchers"] == 3
    assert d["batteries"][6]["magazine"] == base["batteries"][6]["magazine"] + 5
    counts = [g["count"] for w in d["raid"]["waves"] for g in w["groups"]]
    assert counts == [2 * g["count"] for w in base["raid"]["waves"] for g in w["groups"]]
    assert d["c2"]["doctrine"]["mode"] == "fire_all"
    assert "c2" not in base  # the base is not modified


@pytest.mark.parametrize("path, expect", [
    ("batteries[9].magazine", "no item 9"),
    ("batteries[layer=top].magazine", "values present"),
    ("batteries[Nowhere].magazine", "names: Upper North"),
    ("raid.wavs[0].count", "no list"),
    ("a..b", "cannot read"),
])
def test_bad_paths_say_what_is_wrong(path, expect):
    base, _ = read_scenario_data(SMALL)
    with pytest.raises(P.PathError, match=expect):
        P.with_overrides(base, [(path, 1)])


def _study_file(tmp_path, parameters: str) -> Path:
    f = tmp_path / "study.yaml"
    f.write_text(f"name: t\nscenario: {SMALL}\nruns: 2\nseed: 1\nparameters:\n{parameters}")
    return f


@pytest.mark.parametrize("parameters, expect", [
    ("  batteries[12].magazine: [10, 20]\n", "parameters.batteries[12].magazine"),
    ("  batteries[0].magazine: [20, -3]\n", "-3"),
    ("  c2.doctrine.mode: [shoot_look_shoot, shoot_first]\n", "shoot_first"),
    ("  c2.doctrin.mode: [fire_all]\n", "doctrin"),
])
def test_bad_sweep_path_or_value_is_rejected_before_any_run(tmp_path, parameters, expect):
    out = tmp_path / "out"
    with pytest.raises(StudyError, match=expect.replace("[", r"\[").replace("]", r"\]")):
        run_study(load_study(_study_file(tmp_path, parameters)), out, workers=1)
    assert not out.exists()


def test_sweep_command_rejects_a_bad_path_with_exit_2_and_no_traceback(tmp_path):
    f = _study_file(tmp_path, "  batteries[Nowhere].magazine: [10]\n")
    r = subprocess.run([sys.executable, "-m", "tdome.cli", "sweep", str(f), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    assert "batteries[Nowhere]" in r.stderr and "Traceback" not in r.stderr + r.stdout


def test_example_study_file_validates():
    study = load_study(ROOT / "examples" / "sweep_mid_magazine.yaml")
    _, points, fidelity = validate(study)
    assert len(points) == 8 and fidelity == "full"


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "examples").glob("s*.yaml")))
def test_every_shipped_study_file_validates(name):
    """Every study and sweep in examples/, the one on the built-in contested scenario included."""
    _, points, _ = validate(load_study(ROOT / "examples" / name))
    assert len(points) >= 1


# --------------------------------------------------------------------------- execution


def test_one_worker_table_has_a_row_per_run_with_derived_seeds(one_worker):
    out, res = one_worker
    t = load_results(out)
    assert res.ran == t.num_rows == 4 and res.errors == 0
    rows = t.to_pylist()
    assert [(r["point"], r["replication"]) for r in rows] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert rows[0]["seed"] == rows[2]["seed"] != rows[1]["seed"]  # common random numbers across points
    assert {r["c2.doctrine.mode"] for r in rows} == {"shoot_look_shoot", "fire_all"}
    assert all(r["status"] == "ok" and r["fidelity"] == "full" for r in rows)
    # One line with pyarrow (pandas.read_parquet / DuckDB read the same folder).
    assert ds.dataset(out / "results").to_table().num_rows == 4


def test_two_workers_and_ray_give_the_same_table_as_one(one_worker, tmp_path):
    ray = pytest.importorskip("ray")
    ref = comparable(load_results(one_worker[0]))
    run_study(small_study(), tmp_path / "two", workers=2)
    assert comparable(load_results(tmp_path / "two")).equals(ref)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        run_study(small_study(), tmp_path / "ray", ray_address="local")
    finally:
        ray.shutdown()
    assert comparable(load_results(tmp_path / "ray")).equals(ref)


class Interrupt(KeyboardInterrupt):
    pass


def test_interrupted_study_resumes_without_losing_or_repeating_a_run(one_worker, tmp_path):
    out = tmp_path / "study"
    seen = []

    def stop_after_two(row):
        seen.append(row)
        if len(seen) == 2:
            raise Interrupt  # as Ctrl-C while runs are in flight

    with pytest.raises(Interrupt):
        run_study(small_study(), out, workers=2, on_row=stop_after_two)
    assert len(list((out / "results").glob("*.parquet"))) == 2
    with pytest.raises(StudyError, match="--resume"):
        run_study(small_study(), out, workers=1)  # results there: only --resume may add to them
    res = run_study(small_study(), out, workers=1, resume=True)
    assert (res.skipped, res.ran) == (2, 2)
    assert comparable(load_results(out)).equals(comparable(load_results(one_worker[0])))


def test_a_killed_worker_loses_no_written_run_and_resume_completes_the_study(one_worker, tmp_path):
    import multiprocessing
    import os
    import signal

    out = tmp_path / "study"
    killed = []

    def kill_a_worker(row):
        if not killed:
            victims = [p for p in multiprocessing.active_children() if p.is_alive()]
            assert victims, "no worker process to kill"
            os.kill(victims[0].pid, signal.SIGKILL)  # as the out-of-memory killer would
            killed.append(victims[0].pid)

    res = run_study(small_study(), out, workers=2, on_row=kill_a_worker)
    written = len(list((out / "results").glob("*.parquet")))
    assert killed and res.lost > 0 and written < 4
    res = run_study(small_study(), out, workers=1, resume=True)
    assert (res.skipped, res.ran) == (written, 4 - written)
    assert comparable(load_results(out)).equals(comparable(load_results(one_worker[0])))


def test_a_failing_run_is_recorded_with_its_seed_and_error_and_the_study_goes_on(tmp_path, monkeypatch):
    import tdome.sim.engine as engine

    real_run = engine.run
    study = small_study(parameters={}, runs=3, fidelity="perfect_picture")
    from tdome.studies.spec import run_seed

    bad_seed = run_seed(study.seed, 1)

    def flaky(sc, progress=None):
        if sc.seed == bad_seed:
            raise RuntimeError("radar model exploded")
        return real_run(sc, progress)

    monkeypatch.setattr(engine, "run", flaky)
    res = run_study(study, tmp_path / "s", workers=1)
    assert (res.ran, res.errors) == (3, 1)
    rows = load_results(tmp_path / "s").to_pylist()
    bad = [r for r in rows if r["status"] == "error"]
    assert len(bad) == 1 and bad[0]["seed"] == bad_seed and bad[0]["replication"] == 1
    assert "radar model exploded" in bad[0]["error"] and bad[0]["leakers"] is None
    assert all(r["leakers"] is not None for r in rows if r["status"] == "ok")
    report = write_report(tmp_path / "s").read_text()
    assert "Failed runs (1)" in report and str(bad_seed) in report


def test_perfect_picture_is_labelled_in_the_table_and_the_report(tmp_path):
    out = tmp_path / "pp"
    run_study(small_study(fidelity="perfect_picture"), out, workers=1)
    assert set(load_results(out).column("fidelity").to_pylist()) == {"perfect_picture"}
    html = write_report(out).read_text()
    assert "PERFECT AIR PICTURE" in html.split("</title>")[0]
    assert "<img" in html and "data:image/png;base64," in html
    assert "http://" not in html and "https://" not in html  # self-contained: opens offline
    for name in ("vs_param_0", "expenditure_by_layer", "leaker_distribution", "cost_exchange"):
        assert (out / "plots" / f"{name}.png").stat().st_size > 1000
        assert (out / "tables" / f"{name}.csv").exists()
    assert (out / "tables" / "summary.csv").exists()


def test_run_command_labels_a_perfect_picture_run(tmp_path):
    import json

    small = tmp_path / "short.yaml"
    small.write_text(SMALL.read_text().replace("duration_s: 900.0", "duration_s: 150.0"))
    r = subprocess.run([sys.executable, "-m", "tdome.cli", "run", str(small), "--quiet", "--fidelity",
                        "perfect_picture", "--out", str(tmp_path / "run")], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["fidelity"] == "perfect_picture"
    assert "perfect picture" in r.stdout


def test_resume_reruns_a_row_file_that_a_crash_left_unreadable(one_worker, tmp_path):
    import shutil

    out = tmp_path / "study"
    shutil.copytree(one_worker[0], out)
    (out / "results" / "p00001-r000000.parquet").write_bytes(b"PAR1 truncated")
    res = run_study(small_study(), out, workers=1, resume=True)
    assert (res.skipped, res.ran) == (3, 1)
    assert comparable(load_results(out)).equals(comparable(load_results(one_worker[0])))


def test_mc_command_runs_a_study_and_writes_its_report(tmp_path):
    short = tmp_path / "short.yaml"
    short.write_text(SMALL.read_text().replace("duration_s: 900.0", "duration_s: 130.0"))
    out = tmp_path / "mc"
    r = subprocess.run([sys.executable, "-m", "tdome.cli", "mc", str(short), "--runs", "2", "--workers", "1",
                        "--fidelity", "perfect_picture", "--out", str(out), "--quiet"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "PERFECT AIR PICTURE" in r.stdout and "±" in r.stdout
    assert (out / "report.html").exists() and len(list((out / "results").glob("*.parquet"))) == 2
