"""Shared test settings."""

import os
import sys
import warnings
from importlib.metadata import version

# The compiled kernels (numba) call the C library's elementary functions (atan2, asin, exp...).
# NumPy's AVX-512 builds call its own vectorised ones instead, which differ from the C library's in
# the last bit now and then.  The tests that hold each kernel to its numpy form to the last bit need
# both on the same functions, so the test session keeps numpy off its AVX-512 paths; this must be
# set before numpy is first imported (child processes inherit it).
_AVX512 = (
    "X86_V4 AVX512_ICL AVX512_SPR"
    if tuple(int(p) for p in version("numpy").split(".")[:2]) >= (2, 4)
    else "AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR"
)
if "numpy" not in sys.modules:
    os.environ.setdefault("NPY_DISABLE_CPU_FEATURES", _AVX512)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImportWarning)  # a build that dispatches fewer of them says so
        import numpy  # noqa: F401

from hypothesis import settings  # noqa: E402

# CI: the same examples on every run (derandomized), so a red CI is reproducible and never a draw of
# luck; a developer's runs stay random and find new cases.  Tests set their own example counts.
settings.register_profile("ci", deadline=None, print_blob=True, derandomize=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def pytest_sessionfinish(session, exitstatus):
    # A run that collected no tests is a broken suite, not a pass: never exit 5.
    if exitstatus == 5:
        session.exitstatus = 1


# One run of the compact test scenario, written to a run folder, shared by the
# replay, CZML and browser tests.
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    from pathlib import Path

    import yaml

    from tdome.pipeline import write_run
    from tdome.scenario import scenario_from_dict
    from tdome.sim.engine import run
    from tdome.sim.report import summarize

    src = Path(__file__).parent / "data" / "small.yaml"
    rec = run(scenario_from_dict(yaml.safe_load(src.read_text()), source=str(src)))
    folder = tmp_path_factory.mktemp("small-run")
    write_run(rec, summarize(rec), folder)
    return rec, folder
