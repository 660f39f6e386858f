"""Track accuracy in the terminal phase, where a manoeuvring re-entry vehicle manoeuvres.

The study examples/study_manoeuvre_imm.yaml reports the air picture's
measures over each threat's whole flight, most of which is the plain
ballistic arc seen by the early-warning radar.  This script runs the same
grid points with the same seeds and keeps, for each threat, only the record
instants after it descends below the manoeuvre's start altitude (50 km
for srbm_df15_marv in the built-in catalog; the plain missile is cut at the
same height), then gives per point the mean over the
replications, with its 95 % confidence interval, of: the tracks' position
and velocity error (RMS, against the threat each track took most plots
from), the position NEES (3 if the covariance is right), the share of
terminal instants a threat is held by a track, and the median distance from
the C2's predicted impact point to the aim.

    python examples/manoeuvre_terminal.py --runs 40 --workers 2
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from tdome import geo
from tdome.analysis.stats import mean_ci
from tdome.runfolder.layout import TRACK_COLUMNS
from tdome.scenario import builtin_catalog, scenario_from_dict
from tdome.sim import engine
from tdome.studies import params as P
from tdome.studies.spec import load_study, run_seed, validate

STUDY = Path(__file__).with_name("study_manoeuvre_imm.yaml")
TERMINAL_BELOW_M = float(builtin_catalog().threats["srbm_df15_marv"].manoeuvre.below_alt_m)  # type: ignore[union-attr]
MEASURES = ("pos_rms_m", "vel_rms_mps", "nees_pos_mean", "held", "impact_err_median_m")


def terminal(rec) -> dict[str, float]:
    """The terminal-phase measures of one run (see the module docstring)."""
    tr = np.array([row[:5] for row in rec.truth_rows], dtype=float)  # time, threat, lat, lon, alt
    n = len(rec.raid)
    onset = np.full(n, np.inf)
    for j in range(n):
        mine = tr[tr[:, 1] == j]
        if mine.size:
            top = int(np.argmax(mine[:, 4]))
            below = np.flatnonzero(mine[top:, 4] < TERMINAL_BELOW_M)
            onset[j] = mine[top + below[0], 0] if below.size else np.inf
    c = {name: TRACK_COLUMNS.index(name) for name in ("time_s", "truth_id", "pos_err_m", "vel_err_mps", "nees_pos",
                                                      "impact_lat_deg", "impact_lon_deg")}
    k = np.array([[row[i] for i in c.values()] for row in rec.track_rows], dtype=float).reshape(-1, len(c))
    t, truth = k[:, 0], k[:, 1].astype(np.int64)
    on = (truth >= 0) & (t >= onset[np.maximum(truth, 0)])
    k, truth = k[on], truth[on]
    term_truth = tr[tr[:, 0] >= onset[tr[:, 1].astype(np.int64)]]
    held = {(a, b) for a, b in zip(k[:, 0].tolist(), truth.tolist())}
    n_term = len(term_truth)
    ok = np.isfinite(k[:, 5])
    d = geo.great_circle_distance_m(np.radians(k[ok, 5]), np.radians(k[ok, 6]), rec.raid.aim_lat_rad[truth[ok]],
                                    rec.raid.aim_lon_rad[truth[ok]])
    with np.errstate(invalid="ignore"):
        return dict(
            pos_rms_m=float(np.sqrt(np.nanmean(k[:, 2] ** 2))) if len(k) else np.nan,
            vel_rms_mps=float(np.sqrt(np.nanmean(k[:, 3] ** 2))) if len(k) else np.nan,
            nees_pos_mean=float(np.nanmean(k[:, 4])) if len(k) else np.nan,
            held=sum((a, b) in held for a, b in zip(term_truth[:, 0].tolist(),
                                                    term_truth[:, 1].astype(int).tolist())) / max(n_term, 1),
            impact_err_median_m=float(np.median(d)) if d.size else np.nan,
        )


def one(task) -> tuple[int, dict[str, float]]:
    point, data, seed = task
    return point, terminal(engine.run(scenario_from_dict(data, source=str(STUDY), seed=seed)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=None, help="replications per point (default: the study's)")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    study = load_study(STUDY)
    base, points, _ = validate(study)
    runs = a.runs or study.runs
    tasks = [(i, P.with_overrides(base, study.overrides(p)), run_seed(study.seed, r))
             for i, p in enumerate(points) for r in range(runs)]
    with ProcessPoolExecutor(max_workers=a.workers, mp_context=get_context("spawn")) as pool:
        rows = list(pool.map(one, tasks))
    print("| " + " | ".join([*study.parameters, *MEASURES]) + " |")
    print("|" + " --- |" * (len(study.parameters) + len(MEASURES)))
    for i, p in enumerate(points):
        got = [r for j, r in rows if j == i]
        cells = [str(v) for v in p.values()]
        for m in MEASURES:
            ci = mean_ci([g[m] for g in got if np.isfinite(g[m])])
            cells.append(f"{ci.mean:.3g} ± {ci.half_width:.2g}")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
