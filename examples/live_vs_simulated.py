"""The default raid through the live path against the simulator, seed by seed.

For each seed, ``tdome serve`` runs the C2 core in one process and ``tdome
feed`` plays the scenario to it from another, over loopback (CAT048/CAT034
in, orders back, CAT062 read back for the tracks); the same seed is also run
by ``tdome run``'s simulator in-process.  The live path changes what the C2
sees only by ASTERIX's resolution (a time of day to 1/128 s, a range to
1/256 NM, an azimuth to 360/65536 degrees), so its leak rate must agree with
the simulator's within the Monte Carlo spread.

    python examples/live_vs_simulated.py --seeds 5 --out runs/live-check

Prints one line per seed and a JSON line: the leakers through each path, their
means with 95 % confidence intervals, and the paired difference.  Each live run
takes about as long as the battle at full speed with the service keeping up
(some 100 s on two cores for the default raid).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from tdome.analysis.stats import mean_ci
from tdome.scenario import load_scenario
from tdome.sim.engine import run
from tdome.sim.report import summarize


def live_run(seed: int, out: Path) -> dict:
    """One seed through serve + feed; the feed's summary."""
    serve = subprocess.Popen([sys.executable, "-m", "tdome.cli", "serve", "default", "--out", str(out / "service"),
                              "--duration", "3600"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert serve.stdout is not None
        line = serve.stdout.readline()  # the banner: the sockets are open
        if "ASTERIX in" not in line:
            raise RuntimeError(f"tdome serve did not start: {line}{serve.stdout.read()}")
        subprocess.run([sys.executable, "-m", "tdome.cli", "feed", "default", "--seed", str(seed), "--speed", "0",
                        "--quiet", "--out", str(out / "feed")], check=True, stdout=subprocess.DEVNULL, timeout=3600)
    finally:
        serve.terminate()
        serve.wait(timeout=120)
    return json.loads((out / "feed" / "summary.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("runs/live-check"))
    args = ap.parse_args()
    live, sim = [], []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        t0 = time.perf_counter()
        s_live = live_run(seed, args.out / f"seed{seed}")
        wall = time.perf_counter() - t0
        s_sim = summarize(run(load_scenario(seed=seed)))
        live.append(s_live["leakers"]["total"])
        sim.append(s_sim["leakers"]["total"])
        shots = (s_live["interceptors"]["shots"], s_sim["interceptors"]["shots"])
        print(f"seed {seed}: leakers live {live[-1]}, simulated {sim[-1]}; shots live {shots[0]}, simulated "
              f"{shots[1]}; live run {wall:.0f} s", flush=True)
    diff = [a - b for a, b in zip(live, sim, strict=True)]

    def ci(values):
        m = mean_ci(values)
        return dict(mean=m.mean, ci_low=m.ci_low, ci_high=m.ci_high)

    out = dict(seeds=list(range(args.first_seed, args.first_seed + args.seeds)), live=live, simulated=sim,
               live_leakers=ci(live), simulated_leakers=ci(sim), paired_difference=ci(diff))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
