"""Monte Carlo studies and parameter sweeps.

A study is a base scenario, an optional grid of parameters (each named by its
path in the scenario, :mod:`tdome.analysis.params`), a number of replications
per grid point and one study seed.  Every point's scenario is validated before
any run starts.

Seeds: replication ``r`` runs with the seed ``SeedSequence(study_seed,
spawn_key=(r,))`` draws, at *every* grid point (common random numbers), so
the difference between two points comes from their parameters and not from
the luck of the draw, and a run's result depends on nothing but its point and
replication: the same table on one worker, on many, or on a Ray cluster.

Results are written as they arrive, one Parquet file per run, into
``<study>/results/`` (a Parquet dataset: ``pandas.read_parquet(folder)``).  A
file is written under a temporary name and renamed, so an interrupted study
never leaves half a row; ``resume`` runs exactly the (point, replication)
pairs that have no file yet.  A run that raises is recorded with its seed and
error (``status = "error"``) and the study goes on.

Execution: the runs go to a :class:`concurrent.futures.ProcessPoolExecutor`
(local cores; one worker runs in this process) or to Ray tasks on an existing
cluster (``ray_address``; ``"local"`` starts one on this machine).  Local
workers die with the process that started them, even on ``kill -9``
(:func:`die_with_parent`).  A Ray cluster started here (``"local"``) ends
with it too, by Ray's own means: its workers within seconds, its agents
after Ray's GCS reconnect timeout (about a minute).
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
import typing
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from multiprocessing.connection import wait as mp_wait
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from tdome.analysis import params as P
from tdome.messages import LAYERS
from tdome.scenario import ErrorItem, ScenarioError, read_scenario_data, scenario_from_dict
from tdome.scenario.schema import SimSettings

FIDELITIES = typing.get_args(SimSettings.model_fields["fidelity"].annotation)  # as the scenario schema allows
FIDELITY_LABELS = {
    "full": "full fidelity (tracker on radar plots)",
    "perfect_picture": "PERFECT AIR PICTURE from truth (tracker bypassed)",
}
RESULTS_DIR = "results"
SPEC_FILE = "study.json"

# Outcome measures, one float column each (NaN where undefined in a run, null for a
# failed run): name -> (label, where it sits in a run's summary, :func:`tdome.sim.report.summarize`).
_MEASURES: dict[str, tuple[str, tuple[str, ...]]] = {
    "leakers": ("leakers (threats aimed at assets that hit the ground)", ("leakers", "total")),
    "leak_rate": ("leak rate (leakers / threats aimed at assets)", ("leakers", "rate")),
    "defended_value_surviving": ("defended value surviving", ("defended_value", "surviving")),
    "defended_value_fraction": ("defended value surviving (fraction)", ("defended_value", "fraction")),
    **{f"shots_{layer}": (f"interceptors spent, {layer} layer", ("layers", layer, "shots")) for layer in LAYERS},
    "shots_total": ("interceptors spent, all layers", ("interceptors", "shots")),
    "shots_at_decoys": ("interceptors spent on threats aimed at nothing", ("interceptors", "shots_at_decoys")),
    **{f"cost_{layer}_usd": (f"interceptor cost (USD), {layer} layer", ("layers", layer, "cost_usd"))
       for layer in LAYERS},
    "cost_usd": ("interceptor cost (USD)", ("interceptors", "cost_usd")),
    "cost_exchange": ("cost exchange (interceptor cost / raid cost)", ("cost_exchange", "per_raid_cost")),
    "cost_per_leaker_prevented_usd": ("interceptor cost per leaker prevented (USD)",
                                      ("cost_exchange", "per_leaker_prevented_usd")),
    "threats_killed": ("threats killed", ("threats", "killed")),
    "s2s_median_s": ("sensor-to-shooter time, median (s)", ("sensor_to_shooter_s", "median")),
    "s2s_p95_s": ("sensor-to-shooter time, 95th percentile (s)", ("sensor_to_shooter_s", "p95")),
    "gospa_mean_m": ("tracking GOSPA, mean (m)", ("tracking", "gospa_mean_m")),
    "siap_completeness": ("tracking SIAP completeness (fraction of live threats held by a track)",
                          ("tracking", "siap_completeness")),
    "siap_spuriousness": ("tracking SIAP spuriousness (fraction of tracks on no threat)",
                          ("tracking", "siap_spuriousness")),
    "siap_position_rms_m": ("tracking position error of associated tracks, RMS (m)",
                            ("tracking", "siap_position_rms_m")),
    "siap_track_changes_per_truth": ("tracking track-number changes per threat",
                                     ("tracking", "siap_track_changes_per_truth")),
    "wall_time_s": ("wall time of the run (s)", ("wall_time_s",)),
}
MEASURES: dict[str, str] = {name: label for name, (label, _) in _MEASURES.items()}
KEY_COLUMNS = [("study", pa.string()), ("point", pa.int64()), ("replication", pa.int64()), ("seed", pa.int64()),
               ("fidelity", pa.string()), ("status", pa.string()), ("error", pa.string())]


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
        return [dict(zip(keys, combo)) for combo in itertools.product(*(self.parameters[k] for k in keys))]

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
    data = _read_study_yaml(p)
    if not isinstance(data, dict):
        kind = {type(None): "nothing", list: "a list", str: "a single line of text"}.get(
            type(data), f"a single {type(data).__name__} value")
        raise StudyError(src, f"a study file is a mapping with scenario, runs, seed and parameters; "
                              f"this one holds {kind}")
    allowed = {"name", "scenario", "runs", "seed", "parameters", "set", "fidelity"}
    errs = [ErrorItem(str(k), f"unknown field; allowed: {', '.join(sorted(allowed))}")
            for k in data if k not in allowed]
    scen = data.get("scenario", "default")
    if scen in (None, "default"):
        scen = None
    elif not isinstance(scen, str) or not scen or "\0" in scen:
        errs.append(ErrorItem("scenario", f"= {scen!r}: must be a file path or 'default'"))
    else:
        scen = str((p.parent / scen).resolve()) if not Path(scen).is_absolute() else scen
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


def _read_study_yaml(p: Path) -> Any:
    """The parsed study file, read as strictly as a scenario file (encoding, duplicate keys, recursive aliases).

    The scenario reader already turns every way a file can be unreadable into one
    message; only its words for what the file should be are changed.
    """
    try:
        return read_scenario_data(p)[0]
    except ScenarioError as e:
        items = [ErrorItem(i.path, i.message.replace("a scenario is", "a study file is")
                           .replace("not a scenario file", "not a study file"), i.line, i.column) for i in e.errors]
        raise StudyError(str(p), items) from None
    except (LookupError, AttributeError):  # PyYAML on a tag its value does not fit: `!!int`, `!!bool x`
        raise StudyError(str(p), "not valid YAML: a value cannot be read (a tag such as !!int, !!float, !!bool "
                                 "or !!timestamp on a value that is not one)") from None


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
    values = [("name", study.name), ("scenario", study.scenario), ("fidelity", study.fidelity)]
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


# --------------------------------------------------------------------------- one run


def outcome_row(summary: dict) -> dict[str, float]:
    """The outcome measures of one run's summary; NaN where undefined, 0 for a layer the scenario lacks."""
    row = {}
    for name, (_, path) in _MEASURES.items():
        v = summary
        for key in path:
            v = v.get(key) if isinstance(v, dict) else None
        if v is None and path[0] == "layers":
            v = 0.0
        row[name] = float("nan") if v is None else float(v)
    return row


def run_one(task: dict) -> dict:
    """Run one replication of one grid point; never raises (a failure is a row with its error)."""
    from tdome.sim.engine import run
    from tdome.sim.report import summarize

    row = dict(study=task["study"], point=task["point"], replication=task["replication"], seed=task["seed"],
               fidelity=task["fidelity"], status="ok", error=None, **task["labels"])
    try:
        data = P.with_overrides(task["base"], task["overrides"])
        sc = scenario_from_dict(data, source=task["study"], seed=task["seed"])
        row["fidelity"] = sc.sim.fidelity
        rec = run(sc)
        with np.errstate(invalid="ignore"):  # inf - inf for threats never detected or never engaged
            row.update(outcome_row(summarize(rec)))
    except Exception as e:  # noqa: BLE001 - a failed run is recorded, the study goes on
        tb = traceback.format_exception_only(type(e), e)[-1].strip()
        row.update(status="error", error=f"{tb}\n{traceback.format_exc(limit=-3)}")
        row.update(dict.fromkeys(MEASURES))
    return row


# --------------------------------------------------------------------------- the results folder


def param_types(study: Study) -> list[tuple[str, pa.DataType]]:
    """One column per swept parameter, typed by its values (labels for derived values)."""
    cols = []
    for path, values in study.parameters.items():
        labels = [P.value_label(v) for v in values]
        if all(isinstance(v, bool) for v in labels):
            t = pa.bool_()
        elif all(isinstance(v, int) and not isinstance(v, bool) for v in labels):
            t = pa.int64()
        elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in labels):
            t = pa.float64()
        else:
            t = pa.string()
        cols.append((path, t))
    return cols


def schema(study: Study) -> pa.Schema:
    return pa.schema(KEY_COLUMNS + param_types(study) + [(m, pa.float64()) for m in MEASURES])


def _row_file(point: int, replication: int) -> str:
    return f"p{point:05d}-r{replication:06d}.parquet"


def _done(results: Path) -> set[tuple[int, int]]:
    """The (point, replication) pairs already written; a file a crash left unreadable is removed, to run again."""
    done = set()
    for f in results.glob("p*-r*.parquet"):
        try:
            pq.read_metadata(f)
        except (OSError, pa.ArrowException):
            f.unlink()
            continue
        p, r = f.stem.split("-")
        done.add((int(p[1:]), int(r[1:])))
    return done


def _write_row(results: Path, row: dict, sch: pa.Schema) -> None:
    name = _row_file(row["point"], row["replication"])
    tmp = results / f".{name}.tmp"
    pq.write_table(pa.Table.from_pylist([row], schema=sch), tmp)
    os.replace(tmp, results / name)


def load_results(folder: str | Path) -> pa.Table:
    """All rows of a study folder, sorted by point and replication."""
    path = Path(folder)
    path = path / RESULTS_DIR if (path / RESULTS_DIR).is_dir() else path
    spec = path.parent / SPEC_FILE
    sch = None
    if spec.exists():
        sch = pa.schema([(f["name"], pa.type_for_alias(f["type"])) for f in json.loads(spec.read_text())["schema"]])
    table = ds.dataset(path, format="parquet", schema=sch).to_table()
    return table.sort_by([("point", "ascending"), ("replication", "ascending")])


def _prepare_folder(study: Study, out: Path, resume: bool, sch: pa.Schema) -> Path:
    """Check that ``out`` can take this study, then ready it: ``results/`` made, ``study.json`` written."""
    results = out / RESULTS_DIR
    spec = json.loads(json.dumps(dict(study.spec(), schema=[dict(name=f.name, type=str(f.type)) for f in sch])))
    if out.exists() and not out.is_dir():
        raise StudyError(str(out), "is a file, not a study folder; choose another --out")
    if resume:
        _check_resumable(out, spec)
    elif any(results.glob("*.parquet")):
        raise StudyError(str(out), "the study folder already holds results; add --resume to finish that "
                                   "study, or choose another --out")
    try:
        results.mkdir(parents=True, exist_ok=True)
        for tmp in results.glob(".*.tmp"):  # half-written by an interrupted study
            tmp.unlink()
        (out / SPEC_FILE).write_text(json.dumps(spec, indent=2) + "\n")
    except OSError as e:
        raise StudyError(str(out), f"cannot write the study folder: {e.strerror or e}") from None
    return results


def _check_resumable(out: Path, spec: dict) -> None:
    """Resume only the same study; a folder without one is a mistyped path, not a request for a new study."""
    spec_path = out / SPEC_FILE
    if not spec_path.is_file():
        what = "does not exist" if not out.exists() else f"holds no study (no {SPEC_FILE})"
        raise StudyError(str(out), f"--resume: this folder {what}, so there is nothing to resume; check the "
                                   f"path, or run without --resume to start a new study there")
    try:
        old, why = json.loads(spec_path.read_text(encoding="utf-8")), "not a study description"
    except (OSError, ValueError) as e:
        old, why = None, f"cannot be read: {e}"
    if not isinstance(old, dict):
        raise StudyError(str(out), f"--resume: {SPEC_FILE} in this folder is damaged ({why}), so the study "
                                   f"cannot be resumed; choose another --out to start it again")
    # More runs is the same study, extended; anything else is another study.
    changed = sorted(k for k in set(old) | set(spec) if k != "runs" and old.get(k) != spec.get(k))
    if changed:
        raise StudyError(str(out), f"--resume: this folder holds another study (differs in: "
                                   f"{', '.join(changed)}); resume it with the same settings or choose "
                                   f"another --out")


# --------------------------------------------------------------------------- running


@dataclass
class StudyRun:
    """What :func:`run_study` did."""

    folder: Path
    total: int  # runs in the study
    ran: int  # runs done by this call
    skipped: int  # runs already in the folder (resume)
    errors: int  # runs of this call that raised (recorded)
    lost: int  # runs whose worker died (not recorded: run the study again with resume)
    wall_s: float
    fidelity: str


def run_study(study: Study, out: str | Path, *, workers: int | None = None, ray_address: str | None = None,
              resume: bool = False, progress: Callable[[int, int], None] | None = None,
              on_row: Callable[[dict], None] | None = None, validated: tuple | None = None) -> StudyRun:
    """Run every (point, replication) of ``study`` not yet in ``out``; see the module docstring.

    ``progress(done, total)`` is called as rows arrive; ``on_row(row)`` after
    each row is written (an exception there stops the study, as Ctrl-C does).
    ``validated``: what :func:`validate` returned for ``study``, if the caller has it already.
    """
    base, points, fid = validated if validated is not None else validate(study)
    out = Path(out)
    sch = schema(study)
    results = _prepare_folder(study, out, resume, sch)
    done = _done(results)
    total = len(points) * study.runs
    tasks = []
    for i, point in enumerate(points):
        labels = {k: P.value_label(v) for k, v in point.items()}
        for r in range(study.runs):
            if (i, r) not in done:
                tasks.append(dict(study=study.name, point=i, replication=r, seed=run_seed(study.seed, r),
                                  fidelity=fid, labels=labels, overrides=study.overrides(point)))
    t0 = time.perf_counter()
    stats = dict(ran=0, errors=0)
    if progress:
        progress(total - len(tasks), total)

    def accept(row: dict) -> None:
        _write_row(results, row, sch)
        stats["ran"] += 1
        stats["errors"] += row["status"] != "ok"
        if progress:
            progress(total - len(tasks) + stats["ran"], total)
        if on_row:
            on_row(row)

    if ray_address is not None:
        lost = _run_ray(tasks, base, accept, ray_address)
    else:
        lost = _run_local(tasks, base, accept, workers or os.cpu_count() or 1)
    return StudyRun(out, total, stats["ran"], total - len(tasks), stats["errors"], lost,
                    time.perf_counter() - t0, fid)


def _run_local(tasks: list[dict], base: dict, accept, workers: int) -> int:
    if workers <= 1:
        for task in tasks:
            accept(run_one(dict(task, base=base)))
        return 0
    from concurrent.futures.process import BrokenProcessPool

    todo = iter(tasks)
    window = 2 * workers  # runs queued at once: enough to keep every worker busy
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=die_with_parent,
                             initargs=(os.getpid(),)) as pool:
        running = set()
        try:
            while True:
                for task in itertools.islice(todo, window - len(running)):
                    running.add(pool.submit(run_one, dict(task, base=base)))
                if not running:
                    return 0
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    accept(fut.result())
        except BrokenProcessPool:
            # A worker died (killed, out of memory): what was written stays; resume runs the rest.
            return len(running) + 1 + sum(1 for _ in todo)
        except BaseException:
            for fut in running:
                fut.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
            raise


# --------------------------------------------------------------------------- worker lifetime


def die_with_parent(parent_pid: int) -> None:
    """Pool initializer: end this worker as soon as the study process ends, however it ends.

    An idle worker waits on its task queue, a pipe it holds both ends of, so it
    never sees its parent go: after a ``kill -9`` of ``tdome mc`` the workers
    would wait forever, each holding a loaded simulator.  On Linux the kernel
    sends SIGKILL when the parent thread that started the worker ends
    (``PR_SET_PDEATHSIG``); the parent may have died before that call, so its
    pid is checked after it.  Elsewhere a thread watches the parent.
    """
    if _set_parent_death_signal(signal.SIGKILL):
        if os.getppid() != parent_pid:  # orphaned before prctl: no signal will ever come
            os._exit(1)
        return
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="tdome-watch-parent", daemon=True).start()


def _set_parent_death_signal(sig: int) -> bool:
    """``prctl(PR_SET_PDEATHSIG, sig)``; False where it is not available (not Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(1, int(sig), 0, 0, 0) == 0  # 1 = PR_SET_PDEATHSIG, <linux/prctl.h>
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int, period_s: float = 1.0) -> None:
    """Exit when the parent is gone: its multiprocessing sentinel closes, or this process is re-parented."""
    parent = multiprocessing.parent_process()
    while os.getppid() == parent_pid:
        if parent is None:
            time.sleep(period_s)
        elif mp_wait([parent.sentinel], timeout=period_s):
            break
    os._exit(1)


def _run_ray(tasks: list[dict], base: dict, accept, address: str) -> int:
    try:
        import ray
    except ImportError:
        raise StudyError("--ray", "ray is not installed; install it with: pip install 'tdome[ray]'") from None
    started = not ray.is_initialized()
    if started:
        ray.init(address=None if address == "local" else address, log_to_driver=False,
                 include_dashboard=False, configure_logging=False)
    try:
        return _ray_loop(ray, tasks, base, accept)
    finally:
        if started:
            ray.shutdown()


def _ray_loop(ray, tasks: list[dict], base: dict, accept) -> int:
    remote = ray.remote(max_retries=2)(_run_with_base)
    base_ref = ray.put(base)
    window = 2 * max(int(ray.cluster_resources().get("CPU", 1)), 1)
    todo = iter(tasks)
    running: list = []
    lost = 0
    try:
        while True:
            running += [remote.remote(t, base_ref) for t in itertools.islice(todo, window - len(running))]
            if not running:
                return lost
            ready, running = ray.wait(running, num_returns=1)
            try:
                accept(ray.get(ready[0]))
            except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError):
                lost += 1  # the worker died even after retries: resume runs it again
    except BaseException:
        for ref in running:
            ray.cancel(ref, force=True)
        raise


def _run_with_base(task: dict, base: dict) -> dict:
    return run_one(dict(task, base=base))
