"""What the network model costs: the default scenario with and without a link on every node.

    python benchmarks/network_cost.py             # 3 runs each, interleaved
    python benchmarks/network_cost.py --runs 5
    python benchmarks/network_cost.py --quick     # the small test scenario

"without": no ``network`` section (every message arrives the instant it is
sent).  "with": every radar and every battery joined to the C2 by its own
link of 50 ms latency, 10 ms exponential jitter and 1% loss, so every plot,
status, order, aim update and launch report is carried link by link.  The
runs alternate (without, with, without, ...) so a change of load hits both
alike; the figure is the ratio of the median wall times, with the load
average before and after.  The goal is a ratio of at most 1.10.  The last
line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import yaml

from tdome.scenario.loader import default_scenario_path, scenario_from_dict
from tdome.sim.engine import run

ROOT = Path(__file__).resolve().parents[1]
LINK = {"latency_ms": 50.0, "jitter_ms": 10.0, "jitter": "exponential", "loss": 0.01}


def timed(data: dict) -> tuple[float, int]:
    sc = scenario_from_dict(data)
    t0 = time.perf_counter()
    rec = run(sc)
    return time.perf_counter() - t0, sum(v["sent"] for v in rec.messages.values())


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="runs of each (default 3)")
    ap.add_argument("--quick", action="store_true", help="the small test scenario")
    args = ap.parse_args(argv)
    path = ROOT / "tests" / "data" / "small.yaml" if args.quick else default_scenario_path()
    base = yaml.safe_load(path.read_text())
    linked = {**base, "network": {"default_link": dict(LINK)}}
    load0 = os.getloadavg()
    print(f"scenario: {path.name}; {args.runs} runs each; {os.cpu_count()} cores; load average {load0[0]:.2f}",
          flush=True)
    without, with_ = [], []
    messages = 0
    for i in range(args.runs):
        w, _ = timed(base)
        without.append(w)
        n, messages = timed(linked)
        with_.append(n)
        print(f"run {i + 1}: without {w:6.1f} s, with {n:6.1f} s ({messages:,} messages)", flush=True)
    load1 = os.getloadavg()
    ratio = statistics.median(with_) / statistics.median(without)
    print(f"network cost: median {statistics.median(without):.1f} s without, {statistics.median(with_):.1f} s "
          f"with: ratio {ratio:.3f} (goal <= 1.10); load average {load0[0]:.2f} -> {load1[0]:.2f}")
    out = dict(scenario=path.name, runs=args.runs, without_s=without, with_s=with_, messages=messages,
               ratio=ratio, goal=1.10, loadavg_before=load0[0], loadavg_after=load1[0])
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
