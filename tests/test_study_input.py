"""Bad study input ends in a StudyError that names the file or folder and what to do, never in a traceback."""

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tdome.studies import runner as study_runner
from tdome.studies.results import MEASURES
from tdome.studies.runner import run_study
from tdome.studies.spec import FIDELITIES, Study, StudyError, load_study, validate

SMALL = Path(__file__).parent / "data" / "small.yaml"


def tiny_study(**kw) -> Study:
    """One point of the small raid; these tests stop before any run."""
    return Study(**{**dict(name="t", scenario=str(SMALL), runs=1, seed=1), **kw})


# --------------------------------------------------------------------------- study files


@pytest.mark.parametrize("content, expect", [
    (np.random.default_rng(5).integers(0, 256, 4000, dtype=np.uint8).tobytes(), "not a UTF-8 text file"),
    ("name: t\nruns: 2\n".encode("utf-16"), "not a UTF-8 text file"),
    (b"name: t\nparameters: {c2.doctrine.mode: [fire_all\n", "not valid YAML"),
    (b"name: t\n\truns: 2\n", "not valid YAML"),
    (b"name: t\nname: u\n", "duplicate key"),
    (b"a: &x [*x]\n", "recursive"),
    (b"- name: t\n- runs: 2\n", "holds a list"),
    (b"just some words\n", "holds a single line of text"),
    (b"", "holds nothing"),
    (b"parameters: {1: [2, 3]}\n", "scenario path is text"),
    (b"parameters: [c2.doctrine.mode]\n", "must map a scenario path"),
    (b"runs: 0\n", "runs = 0: must be an integer >= 1"),
    (b"runz: 2\n", "runz: unknown field"),
    (b"set: {name: !!binary aGk=}\n", "set.name: cannot be stored with the study"),
    (b"runs: !!int\n", "not valid YAML: a value cannot be read"),
])
def test_a_bad_study_file_is_a_study_error_naming_the_file_and_the_problem(tmp_path, content, expect):
    f = tmp_path / "study.yaml"
    f.write_bytes(content)
    with pytest.raises(StudyError, match=expect) as e:
        load_study(f)
    assert str(f) in str(e.value)


@pytest.mark.parametrize("make, expect", [(lambda p: None, "file not found"),
                                          (lambda p: p.mkdir(), "is a directory, not a study file")])
def test_a_missing_study_file_or_a_folder_is_a_study_error(tmp_path, make, expect):
    make(tmp_path / "study.yaml")
    with pytest.raises(StudyError, match=expect):
        load_study(tmp_path / "study.yaml")


def _loads_or_study_error(f: Path) -> None:
    """What ``tdome sweep`` does with a file: load it and validate it; a StudyError is the only way out."""
    try:
        study = load_study(f)
    except StudyError:
        return
    assert isinstance(study, Study)
    with contextlib.suppress(StudyError):
        validate(study)


_yaml_like = st.lists(st.sampled_from(["name:", " t", "\n", "  ", "- ", "[", "]", "{", "}", ",", ":", "&a ", "*a",
                                       "!!binary ", "!!int ", "!!timestamp ", "? ", "runs: ", "2", "'", '"', "#",
                                       "\t", "\x00", "\ufeff", "---", "...", "%YAML 1.1", "é"]),
                      max_size=30).map(lambda parts: "".join(parts).encode())


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(content=st.one_of(st.binary(max_size=600), st.text(max_size=300).map(str.encode), _yaml_like))
def test_any_bytes_load_as_a_study_or_a_study_error(tmp_path_factory, content):
    f = tmp_path_factory.mktemp("bytes") / "study.yaml"
    f.write_bytes(content)
    _loads_or_study_error(f)


_values = st.recursive(st.none() | st.booleans() | st.integers(-3, 2**70) | st.floats() | st.text(max_size=12),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                   max_size=2), max_leaves=6)
_paths = st.sampled_from(["c2.doctrine.mode", "batteries[layer=mid].magazine", "batteries[0].launchers",
                          "raid.waves[*].groups[*].count", "duration_s", "sim.fidelity", "seed", "name",
                          "batteries[Nowhere].magazine", "assets", "raid.waves[0]"]) | st.text(max_size=12)
_derived = st.fixed_dictionaries({}, optional={"scale": _values, "add": _values})
_study_fields = st.fixed_dictionaries({"scenario": st.just(str(SMALL))}, optional={
    "name": _values, "runs": st.integers(-1, 3) | _values, "seed": st.integers(-1, 2**70) | _values,
    "fidelity": st.sampled_from(FIDELITIES) | _values,
    "parameters": st.dictionaries(_paths, st.lists(_values | _derived, max_size=3), max_size=2) | _values,
    "set": st.dictionaries(_paths, _values | _derived, max_size=2) | _values,
})


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(fields=_study_fields)
def test_any_study_mapping_loads_and_validates_or_is_a_study_error(tmp_path_factory, fields):
    f = tmp_path_factory.mktemp("mapping") / "study.yaml"
    f.write_text(yaml.safe_dump(fields, allow_unicode=True))
    _loads_or_study_error(f)


def test_sweep_command_on_a_binary_file_exits_2_without_a_traceback(tmp_path):
    f = tmp_path / "study.yaml"
    f.write_bytes(np.random.default_rng(3).integers(0, 256, 2000, dtype=np.uint8).tobytes())
    r = subprocess.run([sys.executable, "-m", "tdome.cli", "sweep", str(f), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    assert "not a UTF-8 text file" in r.stderr and "Traceback" not in r.stderr + r.stdout
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------- study folders


@pytest.mark.parametrize("make, expect", [
    (lambda out: None, "does not exist"),
    (lambda out: out.mkdir(), "holds no study"),
    (lambda out: (out / "results").mkdir(parents=True), "holds no study"),
])
def test_resume_of_a_folder_without_a_study_is_an_error_and_starts_nothing(tmp_path, make, expect):
    out = tmp_path / "stdy"
    make(out)
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(StudyError, match=expect) as e:
        run_study(tiny_study(), out, workers=1, resume=True)
    assert str(out) in str(e.value) and "run without --resume to start a new study" in str(e.value)
    assert sorted(tmp_path.rglob("*")) == before  # nothing written


@pytest.mark.parametrize("spec", ["{not json", "[1, 2]", "\udcff"])
def test_resume_of_a_folder_with_a_damaged_study_description_is_an_error(tmp_path, spec):
    out = tmp_path / "stdy"
    out.mkdir()
    (out / "study.json").write_bytes(spec.encode("utf-8", "surrogateescape"))
    with pytest.raises(StudyError, match=r"study\.json in this folder is damaged"):
        run_study(tiny_study(), out, workers=1, resume=True)


def test_results_without_a_study_description_are_not_mixed_into_a_new_study(tmp_path):
    out = tmp_path / "stdy"
    (out / "results").mkdir(parents=True)
    (out / "results" / "p00000-r000000.parquet").write_bytes(b"PAR1")
    with pytest.raises(StudyError, match="already holds results"):
        run_study(tiny_study(), out, workers=1)


def test_a_file_where_the_study_folder_should_be_is_an_error(tmp_path):
    out = tmp_path / "stdy"
    out.write_text("not a folder")
    for resume in (False, True):
        with pytest.raises(StudyError, match="is a file, not a study folder"):
            run_study(tiny_study(), out, workers=1, resume=resume)


def test_resume_of_a_study_stopped_before_its_first_run_finished_runs_it(tmp_path, monkeypatch):
    out = tmp_path / "stdy"

    def interrupted(task):
        raise KeyboardInterrupt

    def no_op_run(task):  # a row as run_one makes it, without the simulation
        return dict(study=task["study"], point=task["point"], replication=task["replication"], seed=task["seed"],
                    fidelity=task["fidelity"], status="ok", error=None, **task["labels"], **dict.fromkeys(MEASURES))

    monkeypatch.setattr(study_runner, "run_one", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_study(tiny_study(), out, workers=1)
    assert json.loads((out / "study.json").read_text())["name"] == "t"
    assert not list((out / "results").iterdir())
    monkeypatch.setattr(study_runner, "run_one", no_op_run)
    res = run_study(tiny_study(), out, workers=1, resume=True)
    assert (res.skipped, res.ran) == (0, 1)


def test_mc_command_resume_of_a_mistyped_folder_exits_2_and_says_what_to_do(tmp_path):
    out = tmp_path / "no-such-study"
    r = subprocess.run([sys.executable, "-m", "tdome.cli", "mc", str(SMALL), "--runs", "1", "--workers", "1",
                        "--out", str(out), "--resume", "--quiet"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stdout + r.stderr
    text = " ".join(r.stderr.split())  # the console wraps long lines
    assert "nothing to resume" in text and "without --resume" in text and "Traceback" not in r.stderr + r.stdout
    assert not out.exists()


def test_a_parameter_set_to_lists_or_mappings_reads_as_their_json_in_a_text_column():
    from tdome.studies.params import value_label
    from tdome.studies.results import param_types
    from tdome.studies.spec import Study

    intel = [{"threat_class": "drone", "asset": "Taipei", "count": 2}]
    assert value_label(intel) == '[{"threat_class":"drone","asset":"Taipei","count":2}]'
    assert value_label({"upper": 0.2}) == '{"upper":0.2}' and value_label({"scale": 2}) == "x2"
    study = Study(name="t", scenario=None, runs=1, seed=0, parameters={"c2.intel": [[], intel], "seed": [1, "x"]})
    assert [str(t) for _, t in param_types(study)] == ["string", "string"]
