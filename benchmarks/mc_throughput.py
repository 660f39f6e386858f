"""Monte Carlo throughput: runs per minute of a scenario through the study runner.

    python benchmarks/mc_throughput.py            # the default scenario, 16 runs per measurement (~6 min)
    python benchmarks/mc_throughput.py --quick    # tests/data/small.yaml, 4 runs per measurement (~1 min)
    python benchmarks/mc_throughput.py --profile  # also: the top of a cProfile of one run

Measures, each with the same study seed (so the same runs), through
:func:`tdome.studies.runner.run_study` as ``tdome mc`` uses it:

- full fidelity on 1 worker, and with the perfect air picture on 1 worker;
- full fidelity on 2 local worker processes: the speed-up from 1 to 2 (the
  1- and 2-worker measurements taken in turn, ``--repeat`` times, and their
  medians compared);
- the same speed-up between warm pools of 1 and 2 workers (spawned and
  loaded before timing), measured in alternation, ``--rounds`` rounds of 4
  runs on 1 worker and 8 on 2: what the second worker adds once start-up is
  paid, with this machine's drift (10 to 30 % over minutes) falling on both;
- full fidelity through a local Ray cluster of 2 CPUs.

Each local measurement is a fresh process that imports tdome and runs the
study, timed from its start to its end, as ``tdome mc`` runs it (without the
report): the start-up a user pays (imports, loading the compiled kernels
from numba's cache) is inside the 1-worker figure as it is inside the
2-worker one, so their ratio is the speed-up from the second worker.  The
rate of one warm process (kernels loaded, no start-up) is given alongside,
and the start-up of a fresh process (its time before its first run, and how
much longer that run takes than the same run in a warm process).  A study
pays that start-up once per worker, so the measurements run 8 runs per
worker by default: with 2 per worker the start-up is a fifth of the time,
which no study of a useful size sees.
The machine's load average is reported with the figures: other work on the
machine slows every figure, ratios taken in one run less so.  The last line
of output is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tdome.studies.results import load_results
from tdome.studies.runner import run_study
from tdome.studies.spec import Study

ROOT = Path(__file__).resolve().parent.parent
TARGET_RUNS_PER_MIN = 30.0  # full fidelity, default scenario, 2 cores: the bar "Studies at the speed of thought" sets
GOAL_RUNS_PER_MIN = 60.0  # and the goal beyond it


def _report(label: str, ran: int, wall: float) -> float:
    """Print one measurement's line; returns its runs per minute."""
    rate = ran / wall * 60.0
    print(f"{label:<46} {ran} runs in {wall:6.1f} s: {rate:6.2f} runs/min", flush=True)
    return rate


def _tasks(study: Study) -> list[dict]:
    """The study's runs (one grid point) as :func:`tdome.studies.runner.run_one` takes them."""
    from tdome.studies.spec import run_seed, validate

    base, _, fid = validate(study)
    return [dict(study=study.name, point=0, replication=r, seed=run_seed(study.seed, r), fidelity=fid, labels={},
                 overrides={}, base=base) for r in range(study.runs)]


def measure(label: str, study: Study, **how) -> float:
    """Runs per minute of ``study`` run here (this process, warm), through :func:`run_study`."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = run_study(study, Path(tmp) / "study", **how)
        wall = time.perf_counter() - t0
    if res.errors or res.lost:
        raise SystemExit(f"{label}: {res.errors} runs failed, {res.lost} lost")
    return _report(label, res.ran, wall)


def measure_warm_pools(study: Study, rounds: int) -> tuple[float, float]:
    """Runs per minute of 1 and of 2 warm local worker processes (spawned and loaded first), taken in alternation:
    each round, the 1-worker pool runs the study's runs and the 2-worker pool runs them twice over.  Start-up is
    out of both, and so is the machine's drift, which falls on both alike."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from tdome.studies.runner import run_one

    tasks = _tasks(study)
    ctx = get_context("spawn")
    elapsed = [0.0, 0.0]
    with ProcessPoolExecutor(1, mp_context=ctx) as one, ProcessPoolExecutor(2, mp_context=ctx) as two:
        list(one.map(run_one, tasks[:1]))  # each worker imports tdome and loads the kernels: not timed
        list(two.map(run_one, tasks[:2]))
        for _ in range(rounds):
            for k, (pool, work) in enumerate(((one, tasks), (two, tasks + tasks))):
                t0 = time.perf_counter()
                rows = list(pool.map(run_one, work))
                elapsed[k] += time.perf_counter() - t0
                if any(r["status"] != "ok" for r in rows):
                    raise SystemExit("warm pools: a run failed")
    return (_report("full fidelity, 1 warm worker (in alternation)", rounds * len(tasks), elapsed[0]),
            _report("full fidelity, 2 warm workers (in alternation)", 2 * rounds * len(tasks), elapsed[1]))


def measure_fresh(label: str, study: Study, workers: int) -> float:
    """Runs per minute of ``study`` on ``workers`` local workers, in a fresh process timed from its start."""
    spec = json.dumps(dict(name=study.name, scenario=study.scenario, runs=study.runs, seed=study.seed,
                           fidelity=study.fidelity, workers=workers))
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--child", spec], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode:
        raise SystemExit(f"{label}: {out.stderr.strip()}")
    return _report(label, int(out.stdout.strip().splitlines()[-1]), wall)


def child(spec: str) -> None:
    """The fresh process of :func:`measure_fresh`: run the study, print how many runs were done."""
    s = json.loads(spec)
    workers = s.pop("workers")
    with tempfile.TemporaryDirectory() as tmp:
        res = run_study(Study(**s), Path(tmp) / "study", workers=workers)
        if res.errors or res.lost:
            errors = [e for e in load_results(res.folder).column("error").to_pylist() if e]
            raise SystemExit(f"{res.errors} runs failed, {res.lost} lost; first error: {errors[:1]}")
    print(res.ran)


def _startup_study(scenario: str | None) -> Study:
    return Study(name="startup", scenario=scenario, runs=1, seed=1, fidelity="full")


def startup_child(scenario: str) -> None:
    """The fresh process of :func:`startup` (this script's imports done): run the study's one run, print its time."""
    from tdome.studies.runner import run_one

    task = _tasks(_startup_study(scenario or None))[0]
    t0 = time.perf_counter()
    if run_one(task)["status"] != "ok":
        raise SystemExit("start-up: the run failed")
    print(time.perf_counter() - t0)


def startup(scenario: str | None) -> tuple[float, float]:
    """A fresh process's start-up: (its time before its first run: interpreter, imports, the study checked; and how
    much longer that run takes than the same run in this warm process), s."""
    from tdome.studies.runner import run_one

    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--startup-child", scenario or ""], capture_output=True,
                         text=True)
    wall = time.perf_counter() - t0
    if out.returncode:
        raise SystemExit(f"start-up: {out.stderr.strip()}")
    first = float(out.stdout.strip().splitlines()[-1])
    task = _tasks(_startup_study(scenario))[0]
    t1 = time.perf_counter()
    run_one(task)
    return wall - first, first - (time.perf_counter() - t1)


def profile_one(scenario: str | None) -> None:
    from tdome.scenario import load_scenario
    from tdome.sim.engine import run

    sc = load_scenario(scenario)
    prof = cProfile.Profile()
    prof.enable()
    run(sc)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(15)
    print(out.getvalue())


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the small test scenario and fewer runs")
    ap.add_argument("--runs", type=int, default=None, help="runs per measurement (default 16; 4 with --quick)")
    ap.add_argument("--scenario", default=None, help="scenario file (default: the built-in default scenario)")
    ap.add_argument("--repeat", type=int, default=2, help="measurements of 1 and of 2 workers, in turn (default 2)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of the warm pools in alternation (default 3)")
    ap.add_argument("--no-ray", action="store_true", help="skip the Ray measurement")
    ap.add_argument("--profile", action="store_true", help="print a cProfile of one run first")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--startup-child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child)
        return {}
    if args.startup_child is not None:
        startup_child(args.startup_child)
        return {}
    scenario = args.scenario or (str(ROOT / "tests" / "data" / "small.yaml") if args.quick else None)
    runs = args.runs or (4 if args.quick else 16)
    load0 = os.getloadavg()
    print(f"scenario: {scenario or 'built-in default'}; {runs} runs per measurement; {os.cpu_count()} cores; "
          f"load average {load0[0]:.2f}", flush=True)
    if args.profile:
        profile_one(scenario)

    # Compile the numba kernels once (or load them from numba's cache) before any timing: a run of the small
    # test scenario calls every one the default scenario calls.  Workers then load them from the cache.
    from tdome.scenario import load_scenario
    from tdome.sim.engine import run

    run(load_scenario(str(ROOT / "tests" / "data" / "small.yaml")))

    def study(fidelity: str) -> Study:
        return Study(name="throughput", scenario=scenario, runs=runs, seed=1, fidelity=fidelity)

    warm1 = measure("full fidelity, one warm process (no start-up)", study("full"), workers=1)
    perfect1 = measure_fresh("perfect air picture, 1 worker", study("perfect_picture"), workers=1)
    # 1 and 2 workers in turn, repeated: this machine's speed drifts by 10-30 % over minutes, which a ratio of
    # two measurements taken minutes apart would carry.
    ones, twos = [], []
    for _ in range(args.repeat):
        ones.append(measure_fresh("full fidelity, 1 worker", study("full"), workers=1))
        twos.append(measure_fresh("full fidelity, 2 local workers", study("full"), workers=2))
    full1, full2 = statistics.median(ones), statistics.median(twos)
    if args.repeat > 1:
        print(f"medians of {args.repeat}: 1 worker {full1:.2f}, 2 local workers {full2:.2f} runs/min", flush=True)
    # The scaling itself, start-up and drift out: warm pools of 1 and 2 workers in alternation, 4 runs a round.
    warm_one, warm_two = measure_warm_pools(
        Study(name="throughput", scenario=scenario, runs=4, seed=1, fidelity="full"), args.rounds)
    ray_rate = None
    if not args.no_ray:
        import ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
        try:
            ray_rate = measure("full fidelity, local Ray cluster (2 CPUs)", study("full"), ray_address="local")
        finally:
            ray.shutdown()
    load1 = os.getloadavg()
    before_s, first_run_s = startup(scenario)
    print(f"start-up of a fresh process: {before_s:.2f} s before its first run (interpreter, imports), and that run "
          f"{first_run_s:.2f} s longer than in a warm process (the kernels loaded from numba's cache)", flush=True)
    result = dict(
        benchmark="mc_throughput",
        scenario=scenario or "default",
        runs_per_measurement=runs,
        cores=os.cpu_count(),
        full_runs_per_min_warm_process=round(warm1, 2),
        startup_before_first_run_s=round(before_s, 2),
        startup_first_run_extra_s=round(first_run_s, 2),
        full_runs_per_min_1_worker=round(full1, 2),
        perfect_picture_runs_per_min_1_worker=round(perfect1, 2),
        full_runs_per_min_2_workers=round(full2, 2),
        full_runs_per_min_1_worker_each=[round(r, 2) for r in ones],
        full_runs_per_min_2_workers_each=[round(r, 2) for r in twos],
        speedup_1_to_2_workers=round(full2 / full1, 2),
        warm_pool_runs_per_min_1_worker=round(warm_one, 2),
        warm_pool_runs_per_min_2_workers=round(warm_two, 2),
        speedup_1_to_2_warm_workers=round(warm_two / warm_one, 2),
        ray_local_runs_per_min=None if ray_rate is None else round(ray_rate, 2),
        ray_speedup_vs_1_worker=None if ray_rate is None else round(ray_rate / full1, 2),
        perfect_picture_speedup=round(perfect1 / full1, 2),
        target_full_runs_per_min_2_cores=TARGET_RUNS_PER_MIN,
        target_fraction=round(full2 / TARGET_RUNS_PER_MIN, 3),
        goal_full_runs_per_min_2_cores=GOAL_RUNS_PER_MIN,
        goal_fraction=round(full2 / GOAL_RUNS_PER_MIN, 3),
        load_average_start=round(load0[0], 2),
        load_average_end=round(load1[0], 2),
        python=sys.version.split()[0],
    )
    print(f"full fidelity on 2 workers: {full2:.1f} runs/min: {full2 / TARGET_RUNS_PER_MIN:.0%} of the target of "
          f"{TARGET_RUNS_PER_MIN:.0f}, {full2 / GOAL_RUNS_PER_MIN:.0%} of the goal of {GOAL_RUNS_PER_MIN:.0f}")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
