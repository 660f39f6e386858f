"""What each firing doctrine buys, over many seeds of the default scenario.

    python benchmarks/doctrine_study.py             # 8 seeds per doctrine
    python benchmarks/doctrine_study.py --seeds 20
    python benchmarks/doctrine_study.py --quick     # 2 seeds per doctrine

Doctrines (all else as in the default scenario):
- fire_all:            every layer that can engage fires without waiting to look; no reserve;
- shoot_look_shoot:    the outer layer fires first, inner layers keep a look-shot at survivors; no reserve;
- sls_reserve:         shoot-look-shoot, each layer holding back its reserve fraction (upper 20%,
                       mid 10%) for threats to assets worth 80 or more, all battle (the default
                       scenario's doctrine);
- sls_reserve_strict:  the same fractions kept for the two assets worth 100 or more, and released
                       when the last wave is expected (t = 1,020 s).

Each doctrine sees the same seeds, so the raids are identical across
doctrines.  Reported: expected defended value surviving, leakers and
interceptors spent (rounds by layer, cost), each as a mean with a 95%
confidence interval (Student t).  The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import yaml

from tdome.analysis.stats import mean_ci as stats_mean_ci
from tdome.scenario.loader import default_scenario_path, scenario_from_dict
from tdome.sim.engine import run
from tdome.sim.report import summarize

NO_RESERVE = {"upper": 0.0, "mid": 0.0, "lower": 0.0, "short": 0.0}
DOCTRINES = {
    "fire_all": dict(mode="fire_all", reserve_fraction=NO_RESERVE),
    "shoot_look_shoot": dict(mode="shoot_look_shoot", reserve_fraction=NO_RESERVE),
    "sls_reserve": dict(mode="shoot_look_shoot"),
    "sls_reserve_strict": dict(mode="shoot_look_shoot", reserve_min_value=100.0, reserve_until_s=1020.0),
}


def one_run(args) -> dict:
    name, seed = args
    data = yaml.safe_load(default_scenario_path().read_text())
    doc = copy.deepcopy(data["c2"]["doctrine"])
    doc.update(DOCTRINES[name])
    data["c2"]["doctrine"] = doc
    s = summarize(run(scenario_from_dict(data, source=f"default ({name})", seed=seed)))
    return dict(doctrine=name, seed=seed, value_surviving=s["defended_value"]["surviving"],
                value_total=s["defended_value"]["total"], leakers=s["leakers"]["total"],
                shots=s["interceptors"]["shots"], cost_musd=s["interceptors"]["cost_usd"] / 1e6,
                shots_by_layer={k: v["shots"] for k, v in s["layers"].items()},
                left_by_layer={k: v["rounds_left"] for k, v in s["layers"].items()})


def mean_ci(x) -> dict:
    """Mean and 95 % confidence half-width over seeds (:func:`tdome.analysis.stats.mean_ci`)."""
    r = stats_mean_ci(x)
    return dict(mean=r.mean, ci95=r.half_width)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--quick", action="store_true", help="2 seeds per doctrine")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--doctrines", default=",".join(DOCTRINES), help="comma-separated subset to run")
    args = ap.parse_args(argv)
    seeds = 2 if args.quick else args.seeds
    chosen = [d for d in args.doctrines.split(",") if d]
    unknown = sorted(set(chosen) - set(DOCTRINES))
    if unknown:
        ap.error(f"unknown doctrine(s) {', '.join(unknown)}; known: {', '.join(DOCTRINES)}")
    jobs = [(name, 1000 + k) for k in range(seeds) for name in chosen]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(one_run, jobs))
    result = {"seeds": seeds, "wall_s": time.perf_counter() - t0, "doctrines": {}}
    print(f"{'doctrine':20} {'value surviving':>18} {'leakers':>14} {'rounds':>14} {'cost M USD':>14}  rounds by layer")
    for name in chosen:
        rs = [r for r in rows if r["doctrine"] == name]
        layers = sorted(rs[0]["shots_by_layer"])
        res = dict(value_surviving=mean_ci([r["value_surviving"] for r in rs]),
                   value_total=rs[0]["value_total"],
                   leakers=mean_ci([r["leakers"] for r in rs]),
                   rounds=mean_ci([r["shots"] for r in rs]),
                   cost_musd=mean_ci([r["cost_musd"] for r in rs]),
                   rounds_by_layer={k: float(np.mean([r["shots_by_layer"][k] for r in rs])) for k in layers},
                   rounds_left_by_layer={k: float(np.mean([r["left_by_layer"][k] for r in rs])) for k in layers})
        result["doctrines"][name] = res

        def fmt(d):
            return f"{d['mean']:7.1f} ± {d['ci95']:5.1f}"

        by_layer = ", ".join(f"{k} {v:.0f}" for k, v in res["rounds_by_layer"].items())
        print(f"{name:20} {fmt(res['value_surviving']):>18} {fmt(res['leakers']):>14} {fmt(res['rounds']):>14} "
              f"{fmt(res['cost_musd']):>14}  {by_layer}")
    print(f"(of {result['doctrines'][chosen[0]]['value_total']:.0f} defended value; {seeds} seeds per doctrine; "
          f"{result['wall_s']:.0f} s)")
    print(json.dumps(result, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
