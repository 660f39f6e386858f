"""Shared test settings."""

import os

from hypothesis import settings

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
