"""Where one run's time goes: each stage of the chain, and the C2 cycle latency at the raid's peak.

    python benchmarks/stage_profile.py                 # the default scenario, full fidelity
    python benchmarks/stage_profile.py --scenario F    # another scenario
    python benchmarks/stage_profile.py --runs 3        # the median of three runs

Times each stage with wall-clock timers around the functions that implement
it (no profiler, so the figures are what a run costs; each timer costs about
a microsecond per call).  A stage's time is *exclusive*: the time in a stage
called from inside another (truth interpolation inside the recording, threat
evaluation inside the C2 decision) is counted once, in the inner one.

Stages: ``tracker`` (every scan through the tracker), ``threat evaluation``
(the C2's), ``shot windows``, ``assignment`` (the solver), ``C2 decision,
rest`` (the battle manager around those), ``radar model`` (the scans),
``truth`` (trajectory interpolation), ``recording`` (tracks, truth and the
analysis views written as the run goes), ``network``
(messages sent and delivered), and ``other`` (the engine's loop and
everything not listed), per run.

The C2 cycle latency is what the C2 spends per one-second cycle: its
tracker on the scans that arrived in the cycle plus its decision.  It is
given over every cycle and over the raid's *peak*: the cycles in which the
air picture holds at least 90 % of its largest track count.

The last line of output is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from tdome.c2 import core
from tdome.c2.assign import SOLVERS
from tdome.c2.tracking.tracker import Tracker
from tdome.scenario import load_scenario
from tdome.sensors.radar import RadarModel
from tdome.sim import engine
from tdome.sim.network import Network

SMALL = Path(__file__).resolve().parent.parent / "tests" / "data" / "small.yaml"
STAGES = ("tracker", "threat evaluation", "shot windows", "assignment", "C2 decision, rest", "radar model",
          "truth", "recording", "network")


class Timers:
    """Exclusive wall time per label: a call inside another timed call pauses the outer one."""

    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)
        self.stack: list[list] = []  # [label, start of the current slice]

    def wrap(self, owner, name: str, label: str) -> None:
        fn = getattr(owner, name)
        timers = self

        def timed(*args, **kwargs):
            now = time.perf_counter()
            if timers.stack:
                outer = timers.stack[-1]
                timers.total[outer[0]] += now - outer[1]
            timers.stack.append([label, now])
            try:
                return fn(*args, **kwargs)
            finally:
                end = time.perf_counter()
                lab, start = timers.stack.pop()
                timers.total[lab] += end - start
                if timers.stack:
                    timers.stack[-1][1] = end

        setattr(owner, name, timed)


class Cycles:
    """Per engine cycle: the C2's tracker and decision time, and the air picture's size."""

    def __init__(self) -> None:
        self.rows: list[tuple[float, float, int]] = []  # (tracker s, decision s, tracks)
        self.track_s = self.decide_s = 0.0
        self.tracks = 0

    def install(self) -> None:
        cyc = self

        def around(owner, name, attr):
            fn = getattr(owner, name)

            def timed(*args, **kwargs):
                t0 = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    setattr(cyc, attr, getattr(cyc, attr) + time.perf_counter() - t0)

            setattr(owner, name, timed)

        around(Tracker, "process", "track_s")
        around(core.BattleManager, "decide", "decide_s")
        picture = Tracker.picture

        def counted(self, t_s):
            pic = picture(self, t_s)
            cyc.tracks = max(cyc.tracks, len(pic.track_id))
            return pic

        Tracker.picture = counted
        cycle = engine._Battle.cycle

        def one_cycle(self, t, t_next):
            cyc.track_s = cyc.decide_s = 0.0
            cyc.tracks = 0
            cycle(self, t, t_next)
            cyc.rows.append((cyc.track_s, cyc.decide_s, cyc.tracks))

        engine._Battle.cycle = one_cycle


def install() -> tuple[Timers, Cycles]:
    timers, cycles = Timers(), Cycles()
    cycles.install()  # outermost: the stage timers below run inside these wrappers
    timers.wrap(Tracker, "process", "tracker")
    timers.wrap(core, "evaluate_threats", "threat evaluation")
    timers.wrap(core, "plan_windows", "shot windows")
    for name, fn in list(SOLVERS.items()):  # the battle manager looks its solver up in this dict
        holder = SimpleNamespace(f=fn)
        timers.wrap(holder, "f", "assignment")
        SOLVERS[name] = holder.f
    timers.wrap(core.BattleManager, "decide", "C2 decision, rest")
    timers.wrap(RadarModel, "scan", "radar model")
    timers.wrap(engine._Battle, "truth_state", "truth")
    timers.wrap(engine, "_record", "recording")
    timers.wrap(Network, "send", "network")
    timers.wrap(Network, "due", "network")
    return timers, cycles


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default=None, help="scenario file (default: the built-in default scenario)")
    ap.add_argument("--runs", type=int, default=1, help="runs; the figures are their medians (default 1)")
    args = ap.parse_args(argv)
    load0 = os.getloadavg()[0]
    engine.run(load_scenario(str(SMALL)))  # compile (or load from numba's cache) the kernels before timing
    timers, cycles = install()
    per_run, lat_all, lat_peak, walls = [], [], [], []
    for _ in range(args.runs):
        timers.total.clear()
        cycles.rows.clear()
        sc = load_scenario(args.scenario)
        t0 = time.perf_counter()
        engine.run(sc)
        wall = time.perf_counter() - t0
        walls.append(wall)
        stages = {s: timers.total.get(s, 0.0) for s in STAGES}
        stages["other"] = wall - sum(stages.values())
        per_run.append(stages)
        rows = np.array(cycles.rows)
        lat = (rows[:, 0] + rows[:, 1]) * 1e3
        peak = rows[:, 2] >= 0.9 * rows[:, 2].max()
        lat_all.append(lat)
        lat_peak.append(lat[peak])
    med = {s: float(np.median([r[s] for r in per_run])) for s in per_run[0]}
    wall = float(np.median(walls))
    print(f"scenario: {args.scenario or 'built-in default'}; {args.runs} run(s); load average {load0:.2f}")
    print(f"{'stage':<20} {'s per run':>10} {'share':>7}")
    for s, v in med.items():
        print(f"{s:<20} {v:10.2f} {v / wall:7.1%}")
    print(f"{'total':<20} {wall:10.2f}")
    la, lp = np.concatenate(lat_all), np.concatenate(lat_peak)
    print(f"C2 cycle latency (tracker + decision), ms: all cycles p50 {np.percentile(la, 50):.1f} "
          f"p99 {np.percentile(la, 99):.1f}; peak ({lp.size} cycles) p50 {np.percentile(lp, 50):.1f} "
          f"p99 {np.percentile(lp, 99):.1f}")
    result = dict(benchmark="stage_profile", scenario=args.scenario or "default", runs=args.runs,
                  wall_s=round(wall, 2), stages_s={s: round(v, 3) for s, v in med.items()},
                  c2_cycle_ms_p50=round(float(np.percentile(la, 50)), 2),
                  c2_cycle_ms_p99=round(float(np.percentile(la, 99)), 2),
                  c2_cycle_ms_peak_p50=round(float(np.percentile(lp, 50)), 2),
                  c2_cycle_ms_peak_p99=round(float(np.percentile(lp, 99)), 2),
                  peak_cycles=int(lp.size), load_average_start=round(load0, 2),
                  load_average_end=round(os.getloadavg()[0], 2), python=sys.version.split()[0])
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
