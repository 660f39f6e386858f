"""The README's load-a-table one-liners run as written after the README's install (the ``analysis`` extra)."""

import importlib
import os
import re
from pathlib import Path

import pytest

from tdome.studies.runner import run_study
from tdome.studies.spec import Study

ROOT = Path(__file__).parent.parent
SMALL = Path(__file__).parent / "data" / "small.yaml"
README = (ROOT / "README.md").read_text()


@pytest.fixture(scope="module")
def study_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs") / "study"
    run_study(Study(name="docs", scenario=str(SMALL), runs=1, seed=3,
                    parameters={"c2.doctrine.mode": ["shoot_look_shoot", "fire_all"]}, fixed={"duration_s": 130.0}),
              out, workers=1)
    return out


def _calls(module):
    calls = [c if isinstance(c, str) else next(x for x in c if x) for c in
             re.findall(rf"(?m)^({module}\.[a-z_]+\(.*\))$|`({module}\.[a-z_]+\([^`]*\))`", README)]
    assert calls, f"the README shows no {module} one-liner"
    return calls


@pytest.mark.parametrize("module", ["pandas", "duckdb"])
def test_readme_one_liners_run_on_real_folders(module, small_run, study_folder, monkeypatch):
    if os.environ.get("CI"):  # the test install brings the extra: missing it is a broken install
        mod = importlib.import_module(module)
    else:
        mod = pytest.importorskip(module, reason=f"pip install -e '.[analysis]' brings {module}")
    _, run_folder = small_run
    for call in _calls(module):
        code = (call.replace("runs/.../", f"{run_folder}/")
                .replace("runs/sweep-sweep_mid_magazine/", f"{study_folder}/"))
        assert "runs/" not in code, f"a README path this test does not know: {call}"
        result = eval(code, {module: mod})  # noqa: S307 - the README's own text
        rows = len(result) if module == "pandas" else len(result.fetchall())
        assert rows > 0, call
