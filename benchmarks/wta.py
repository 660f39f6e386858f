"""Weapon-target assignment: heuristics and the exact solver on the literature's instances, side by side.

    python benchmarks/wta.py            # full: W = T in {10 … 400}, 10 seeds; hard and surplus families
    python benchmarks/wta.py --quick    # a few minutes: smaller sizes, 3 seeds
    python benchmarks/wta.py --sizes 200  # one standard size, 10 seeds
    python benchmarks/wta.py --sizes 200 --budget 0.02  # the local search with 20 ms

Families (tdome.c2.assign.instances):
- standard: W = T, kill probabilities uniform in [0.6, 0.9], values uniform in [25, 100];
- hard: kill probabilities uniform in (0, 1), W/T in {0.5, 1, 2};
- surplus: more weapons than targets (W/T in {2, 3}), each weapon 1 to 3 rounds, kill probabilities in (0, 1).

For each instance the exact solver (HiGHS, outer approximation) runs to its
time limit and gives the best proven lower bound on the optimal loss; every
solver's gap is measured against that bound, so a gap is an upper bound on
the distance to the optimum (exact when the instance is proven).  Times are
wall-clock on this machine, one instance at a time, measured around the
call (not the solver's own figure): the worst time past its limit, over all
instances, is each solver's time-limit adherence.

The last line of output is one JSON object: for each family and size, for
each solver, time p50/p95 (ms), mean and max gap (%), and instances proven;
``overrun_ms_max``: per solver with a limit, the most any solve ran past it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from tdome.c2.assign import SOLVERS, violations
from tdome.c2.assign.instances import random_wta

HEURISTIC_BUDGET_S = 0.01


def cases(quick: bool):
    if quick:
        std = [10, 20, 40, 80]
        hard = [(t, r) for t in (20, 40) for r in (0.5, 1.0, 2.0)]
        surplus = [(t, r) for t in (10, 20) for r in (2.0, 3.0)]
        return std, hard, surplus, 3, 10.0
    std = [10, 20, 40, 80, 120, 200, 400]
    hard = [(t, r) for t in (20, 40, 80) for r in (0.5, 1.0, 2.0)]
    surplus = [(t, r) for t in (20, 40) for r in (2.0, 3.0)]
    return std, hard, surplus, 10, 30.0


def run_case(family: str, W: int, T: int, seeds: int, exact_limit_s: float, overrun: dict,
             budget_s: float = HEURISTIC_BUDGET_S) -> dict:
    rows = {name: dict(ms=[], loss=[]) for name in ("greedy", "local_search", "exact")}
    limits = dict(greedy=None, local_search=budget_s, exact=exact_limit_s)
    bounds, proven, worse = [], 0, 0
    for seed in range(seeds):
        p = random_wta(np.random.default_rng([W, T, seed]), W, T, family)
        runs = {}
        for name, limit in limits.items():
            t0 = time.perf_counter()
            a = SOLVERS[name](p, time_limit_s=limit)
            wall = time.perf_counter() - t0
            bad = violations(p, a)
            if bad:
                raise AssertionError(f"{name} broke a constraint on {family} {W}x{T} seed {seed}: {bad[0]}")
            rows[name]["ms"].append(wall * 1e3)
            rows[name]["loss"].append(a.loss)
            if limit is not None:
                overrun[name] = max(overrun.get(name, -np.inf), (wall - limit) * 1e3)
            runs[name] = a
        ex = runs["exact"]
        worse += ex.loss > runs["local_search"].loss * (1 + 1e-12)
        bounds.append(ex.loss_bound if ex.loss_bound is not None else np.nan)
        proven += ex.proven
    bound = np.array(bounds)
    out = {}
    for name, r in rows.items():
        gap = (np.array(r["loss"]) - bound) / bound * 100.0
        out[name] = dict(ms_p50=float(np.percentile(r["ms"], 50)), ms_p95=float(np.percentile(r["ms"], 95)),
                         gap_mean_pct=float(np.nanmean(gap)), gap_max_pct=float(np.nanmax(gap)),
                         instances=seeds)
    out["exact"]["proven_optimal"] = int(proven)
    out["exact"]["worse_than_local_search"] = int(worse)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes and 3 seeds")
    ap.add_argument("--sizes", help="only these standard sizes, e.g. 80,200 (and no hard family)")
    ap.add_argument("--budget", type=float, default=HEURISTIC_BUDGET_S, help="the local search's time limit, s")
    args = ap.parse_args(argv)
    std, hard, surplus, seeds, limit = cases(args.quick)
    if args.sizes:
        std, hard, surplus = [int(n) for n in args.sizes.split(",")], [], []
    SOLVERS["exact"](random_wta(np.random.default_rng(0), 5, 5))  # start HiGHS's process before timing
    SOLVERS["local_search"](random_wta(np.random.default_rng(0), 5, 5))  # and compile the kernels
    result: dict = {"standard": {}, "hard": {}, "surplus": {}, "seeds": seeds, "exact_time_limit_s": limit,
                    "heuristic_budget_s": args.budget}
    overrun: dict = {}
    print(f"{'family':9} {'W x T':>9} {'solver':13} {'p50 ms':>9} {'p95 ms':>9} {'gap mean %':>11} "
          f"{'gap max %':>10} {'proven':>7}")
    t0 = time.perf_counter()
    todo = ([("standard", n, n) for n in std] + [("hard", max(1, round(t * r)), t) for t, r in hard]
            + [("surplus", round(t * r), t) for t, r in surplus])
    for family, W, T in todo:
        res = run_case(family, W, T, seeds, limit, overrun, args.budget)
        result[family][f"{W}x{T}"] = res
        for name, r in res.items():
            pr = f"{r['proven_optimal']}/{seeds}" if "proven_optimal" in r else ""
            print(f"{family:9} {f'{W}x{T}':>9} {name:13} {r['ms_p50']:9.1f} {r['ms_p95']:9.1f} "
                  f"{r['gap_mean_pct']:11.4f} {r['gap_max_pct']:10.4f} {pr:>7}", flush=True)
    result["wall_s"] = time.perf_counter() - t0
    result["overrun_ms_max"] = overrun
    print("time past the limit, worst over all instances: "
          + ", ".join(f"{name} {ms:.1f} ms" for name, ms in overrun.items()), flush=True)
    print(json.dumps(result, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
