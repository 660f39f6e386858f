"""Running a study: every (point, replication) not yet in its folder, locally or on a Ray cluster.

The runs go to a :class:`concurrent.futures.ProcessPoolExecutor` (local
cores; one worker runs in this process) or to Ray tasks on an existing
cluster (``ray_address``; ``"local"`` starts one on this machine).  A run
that raises is recorded with its seed and error (``status = "error"``) and
the study goes on; ``resume`` runs exactly the pairs that have no file yet.
Local workers die with the process that started them, even on ``kill -9``
(:func:`tdome.studies.lifetime.die_with_parent`).  A Ray cluster started here
(``"local"``) ends with it too, by Ray's own means: its workers within
seconds, its agents after Ray's GCS reconnect timeout (about a minute).
"""

from __future__ import annotations

import itertools
import os
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from tdome.scenario import scenario_from_dict
from tdome.sim import engine, report
from tdome.studies import params as P
from tdome.studies.lifetime import die_with_parent
from tdome.studies.results import MEASURES, done_pairs, outcome_row, point_labels, prepare_folder, schema, write_row
from tdome.studies.spec import Study, StudyError, run_seed, validate


def run_one(task: dict) -> dict:
    """Run one replication of one grid point; never raises (a failure is a row with its error)."""
    row = dict(study=task["study"], point=task["point"], replication=task["replication"], seed=task["seed"],
               fidelity=task["fidelity"], status="ok", error=None, **task["labels"])
    try:
        data = P.with_overrides(task["base"], task["overrides"])
        sc = scenario_from_dict(data, source=task["study"], seed=task["seed"])
        row["fidelity"] = sc.sim.fidelity
        rec = engine.run(sc)  # looked up at call time: a test may stand in for the simulator
        with np.errstate(invalid="ignore"):  # inf - inf for threats never detected or never engaged
            row.update(outcome_row(report.summarize(rec)))
    except Exception as e:  # noqa: BLE001 - a failed run is recorded, the study goes on
        tb = traceback.format_exception_only(type(e), e)[-1].strip()
        row.update(status="error", error=f"{tb}\n{traceback.format_exc(limit=-3)}")
        row.update(dict.fromkeys(MEASURES))
    return row


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
    results = prepare_folder(study, out, resume, sch)
    done = done_pairs(results)
    total = len(points) * study.runs
    tasks = []
    for i, point in enumerate(points):
        labels = point_labels(study, point)
        for r in range(study.runs):
            if (i, r) not in done:
                tasks.append(dict(study=study.name, point=i, replication=r, seed=run_seed(study.seed, r),
                                  fidelity=fid, labels=labels, overrides=study.overrides(point)))
    t0 = time.perf_counter()
    stats = dict(ran=0, errors=0)
    if progress:
        progress(total - len(tasks), total)

    def accept(row: dict) -> None:
        write_row(results, row, sch)
        stats["ran"] += 1
        stats["errors"] += row["status"] != "ok"
        if progress:
            progress(total - len(tasks) + stats["ran"], total)
        if on_row:
            on_row(row)

    if ray_address is not None:
        _run_ray(tasks, base, accept, ray_address)
    else:
        _run_local(tasks, base, accept, workers or os.cpu_count() or 1)
    lost = len(tasks) - stats["ran"]  # every run not written went down with a worker: resume runs it again
    return StudyRun(out, total, stats["ran"], total - len(tasks), stats["errors"], lost,
                    time.perf_counter() - t0, fid)


def _run_local(tasks: list[dict], base: dict, accept, workers: int) -> None:
    if workers <= 1:
        for task in tasks:
            accept(_run_with_base(task, base))
        return
    todo = iter(tasks)
    window = 2 * workers  # runs queued at once: enough to keep every worker busy
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=die_with_parent,
                             initargs=(os.getpid(),)) as pool:
        running: set = set()
        try:
            while True:
                for task in itertools.islice(todo, window - len(running)):
                    running.add(pool.submit(_run_with_base, task, base))
                if not running:
                    return
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    accept(fut.result())
        except BrokenProcessPool:
            # A worker died (killed, out of memory): what was written stays; resume runs the rest.
            return
        except BaseException:
            for fut in running:
                fut.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _run_ray(tasks: list[dict], base: dict, accept, address: str) -> None:
    try:
        import ray
    except ImportError:
        raise StudyError("--ray", "ray is not installed; install it with: pip install 'tdome[ray]'") from None
    started = not ray.is_initialized()
    if started:
        ray.init(address=None if address == "local" else address, log_to_driver=False,
                 include_dashboard=False, configure_logging=False)
    try:
        _ray_loop(ray, tasks, base, accept)
    finally:
        if started:
            ray.shutdown()


def _ray_loop(ray, tasks: list[dict], base: dict, accept) -> None:
    remote = ray.remote(max_retries=2)(_run_with_base)
    base_ref = ray.put(base)
    window = 2 * max(int(ray.cluster_resources().get("CPU", 1)), 1)
    todo = iter(tasks)
    running: list = []
    try:
        while True:
            running += [remote.remote(t, base_ref) for t in itertools.islice(todo, window - len(running))]
            if not running:
                return
            ready, running = ray.wait(running, num_returns=1)
            # A worker that died even after retries loses its run (counted by run_study; resume runs it again).
            with suppress(ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError):
                accept(ray.get(ready[0]))
    except BaseException:
        for ref in running:
            ray.cancel(ref, force=True)
        raise


def _run_with_base(task: dict, base: dict) -> dict:
    return run_one(dict(task, base=base))
