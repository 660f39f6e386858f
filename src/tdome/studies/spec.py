"""What a study is: a base scenario, a grid of parameters, replications and one seed; read and checked.

A study is a base scenario, an optional grid of parameters (each named by its
path in the scenario, :mod:`tdome.studies.params`), a number of replications
per grid point and one study seed.  Every point's scenario is validated before
any run starts, so a bad value is reported at once and never after hours of runs.

Seeds: replication ``r`` runs with the seed ``SeedSequence(study_seed,
spawn_key=(r,))`` draws, at *every* grid point (common random numbers), so
the difference between two points comes from their parameters and not from
the luck of the draw, and a run's result depends on nothing but its point and
replication: the same table on one worker, on many, or on a Ray cluster.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tdome.scenario import BUILTIN_SCENARIOS, ErrorItem, ScenarioError, read_scenario_data, scenario_from_dict
from tdome.scenario.schema import FIDELITIES
from tdome.studies import params as P


class StudyError(ScenarioError):
    """A study that cannot start: bad study file, parameter path or value, or study folder."""

    def _text(self) -> str:
        return super()._text().replace("scenario file", "study", 1)


# --------------------------------------------------------------------------- the study


@dataclass
class Study:
    """What to run.  ``parameters`` maps a scenario path to the values it takes (a grid)."""

    name: str
    scenario: str | None  # scenario file; None: the built-in default
    runs: int
    seed: int = 0
    parameters: dict[str, list] = field(default_factory=dict)
    fixed: dict[str, Any] = field(default_factory=dict)  # overrides applied at every point
    fidelity: str | None = None  # None: the scenario's own sim.fidelity
    source: str = "<study>"  # the study file, for messages

    def points(self) -> list[dict[str, Any]]:
        """The grid, in file order, the last parameter varying fastest."""
        keys = list(self.parameters)
        return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(self.parameters[k] for k in keys))]

    def overrides(self, point: dict[str, Any]) -> list[tuple[str, Any]]:
        ov = list(self.fixed.items())
        if self.fidelity is not None:
            ov.append(("sim.fidelity", self.fidelity))
        return ov + list(point.items())

    def spec(self) -> dict:
        d = asdict(self)
        d.pop("source")
        return d


def load_study(path: str | Path) -> Study:
    """Read a study YAML file (see ``examples/sweep_mid_magazine.yaml``); raises StudyError, never a traceback."""
    src = str(path)
    p = Path(path)
    data = read_spec_yaml(p, "study file", StudyError)
    if not isinstance(data, dict):
        kind = {type(None): "nothing", list: "a list", str: "a single line of text"}.get(
            type(data), f"a single {type(data).__name__} value")
        raise StudyError(src, f"a study file is a mapping with scenario, runs, seed and parameters; "
                              f"this one holds {kind}")
    allowed = {"name", "scenario", "runs", "seed", "parameters", "set", "fidelity"}
    errs = [ErrorItem(str(k), f"unknown field; allowed: {', '.join(sorted(allowed))}")
            for k in data if k not in allowed]
    scen = scenario_field(data, p, errs)
    parameters = _path_mapping(data, "parameters", "must map a scenario path to a list of values", errs)
    for k, v in parameters.items():
        if not isinstance(v, list) or not v:
            errs.append(ErrorItem(f"parameters.{k}", f"= {v!r}: must be a non-empty list of values"))
    fixed = _path_mapping(data, "set", "must map a scenario path to one value", errs)
    if errs:
        raise StudyError(src, errs)
    study = Study(name=str(data.get("name") or p.stem), scenario=scen, runs=data.get("runs", 10),
                  seed=data.get("seed", 0), parameters=parameters, fixed=fixed, fidelity=data.get("fidelity"),
                  source=src)
    check_settings(study)
    return study


def read_spec_yaml(p: Path, what: str, error: type[ScenarioError]) -> Any:
    """A study's or a campaign's parsed file, read as strictly as a scenario file (encoding, duplicate keys,
    recursive aliases); ``what`` names the kind of file in the messages, ``error`` is raised.

    The scenario reader already turns every way a file can be unreadable into one
    message; only its words for what the file should be are changed.
    """
    try:
        return read_scenario_data(p)[0]
    except ScenarioError as e:
        items = [ErrorItem(i.path, i.message.replace("a scenario is", f"a {what} is")
                           .replace("not a scenario file", f"not a {what}"), i.line, i.column) for i in e.errors]
        raise error(str(p), items) from None


def scenario_field(data: dict, p: Path, errs: list[ErrorItem]) -> str | None:
    """The ``scenario`` a study or campaign file at ``p`` names: None for the built-in default, else a path
    resolved against the file's folder; a bad value goes to ``errs``."""
    scen = data.get("scenario", "default")
    if scen in (None, "default"):
        return None
    if not isinstance(scen, str) or not scen or "\0" in scen:
        errs.append(ErrorItem("scenario", f"= {scen!r}: must be a file path or a built-in scenario's name "
                                          f"({', '.join(BUILTIN_SCENARIOS)})"))
        return None
    local = (p.parent / scen).resolve() if not Path(scen).is_absolute() else Path(scen)
    if scen in BUILTIN_SCENARIOS and not local.exists():
        return scen  # the loader reads the built-in of that name
    return str(local)


def _path_mapping(data: dict, key: str, what: str, errs: list[ErrorItem]) -> dict:
    """``data[key]`` as a mapping from scenario paths (strings); a problem goes to ``errs``."""
    value = data.get(key) or {}
    if not isinstance(value, dict):
        errs.append(ErrorItem(key, what))
        return {}
    bad = [k for k in value if not isinstance(k, str)]
    errs += [ErrorItem(f"{key}.{k!r}", "a scenario path is text, such as batteries[layer=mid].magazine")
             for k in bad]
    return {k: v for k, v in value.items() if isinstance(k, str)}


def check_settings(study: Study) -> None:
    errs = []
    for name, lo in (("runs", 1), ("seed", 0)):
        v = getattr(study, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            errs.append(ErrorItem(name, f"= {v!r}: must be an integer >= {lo}"))
    if study.fidelity is not None and study.fidelity not in FIDELITIES:
        errs.append(ErrorItem("fidelity", f"= {study.fidelity!r}: must be one of {', '.join(FIDELITIES)}"))
    values: list[tuple[str, Any]] = [("name", study.name), ("scenario", study.scenario), ("fidelity", study.fidelity)]
    values += [(f"set.{k}", v) for k, v in study.fixed.items()]
    values += [(f"parameters.{k}", v) for k, v in study.parameters.items()]
    for where, value in values:  # the study folder keeps the study as JSON, to resume it
        try:
            json.dumps(value)
        except (TypeError, ValueError) as e:
            errs.append(ErrorItem(where, f"cannot be stored with the study ({e}); use numbers, text, "
                                         f"true/false, lists and mappings"))
    if errs:
        raise StudyError(study.source, errs)


def validate(study: Study) -> tuple[dict, list[dict[str, Any]], str]:
    """Check every grid point's scenario; returns (base data, points, fidelity label) or raises StudyError."""
    check_settings(study)
    try:
        base, base_src = read_scenario_data(study.scenario)
    except ScenarioError as e:
        raise StudyError(study.source, [ErrorItem("scenario", str(e))]) from None
    settings = [(f"set.{k}", k, [v]) for k, v in study.fixed.items()]
    settings += [(f"parameters.{k}", k, v) for k, v in study.parameters.items()]
    for field_path, path, values in settings:
        for v in values:
            try:
                P.with_overrides(base, [(path, v)])
            except P.PathError as e:
                raise StudyError(study.source, [ErrorItem(field_path, str(e))]) from None
    points = study.points()
    fidelities = set()
    for i, point in enumerate(points):
        data = P.with_overrides(base, study.overrides(point))
        where = ", ".join(f"{k} = {P.value_label(v)!r}" for k, v in point.items()) or "the base scenario"
        try:
            sc = scenario_from_dict(data, source=f"{base_src}, sweep point {i} ({where})")
        except ScenarioError as e:
            raise StudyError(study.source, [ErrorItem("", str(e))]) from None
        fidelities.add(sc.sim.fidelity)
    return base, points, " + ".join(sorted(fidelities))


def run_seed(study_seed: int, replication: int) -> int:
    """The scenario seed of a replication (the same at every grid point)."""
    ss = np.random.SeedSequence(int(study_seed), spawn_key=(int(replication),))
    return int(ss.generate_state(1, np.uint32)[0])
