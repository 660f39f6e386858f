"""CV against IMM on realistic flight profiles in clutter: does the IMM pay where targets manoeuvre, and cost nothing
where they do not?

    python benchmarks/tracking_imm.py                           # every family, 3 seeds, 5 clutter plots a scan
    python benchmarks/tracking_imm.py --families fighter missile --seeds 5 --clutter 20 --revisit 2
    python benchmarks/tracking_imm.py --association jpda        # or --filter ukf: the same for both motions

One radar (50 m and 1 mrad errors, Pd 0.9, 120 km, ``--revisit`` s, 4 by default) over a family of flights of
:mod:`tdome.world.flight_profiles`, all in the air at once, with ``--clutter`` false plots a scan uniform in range
(2-120 km), azimuth and elevation (0-10°), as in ``benchmarks/tracking_long_run.py``:

- ``airliner_straight``, ``airliner_turning``: airliners en route, straight, or with gentle turns (10-20° of bank)
  and level changes;
- ``approach``: arrivals' base and final turns at 25° of bank while slowing and descending;
- ``holding``: ICAO holding patterns (180° turns at 25° of bank);
- ``fighter``: turns of 60-270° at 3-6 g, reversals, climbs and dives;
- ``missile``: cruise missiles' terminal weave (±3-8 g), pop-up and dive.

The tracker is tdome's with its defaults, ``motion`` cv or imm.  At every scan the confirmed tracks are matched
one-to-one to the flights in the radar's coverage (least total distance, pairs within ``--match-km``, 3 km).
Per family and motion, summed over the seeds:

- ``id_changes``: a flight matched to another track number than at its previous match (a track break, or a swap);
- ``lost_scans``: scans of a flight in coverage, once first matched, with no track matched to it;
- ``false_tracks``: confirmed track numbers never matched to a flight; ``false_track_scans``: scans of confirmed
  tracks matched to no flight;
- ``clutter_taken``: false plots taken by confirmed tracks;
- ``rms_pos_m``, ``rms_vel_mps``: RMS error of the matched tracks;
- ``fast_scans``: scans where a confirmed track is faster than 1.5 times the fastest flight of the family, and
  ``max_track_speed_mps``.

The load average is printed at the start and the end; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
from scipy.optimize import linear_sum_assignment

from tdome import geo
from tdome.c2.tracking import Tracker, TrackerConfig
from tdome.messages import Detections, SensorSite
from tdome.world import flight_profiles as fp

LAT, LON = np.radians(24.0), np.radians(121.0)
PD, RANGE_M, SIGMA_R, SIGMA_ANG = 0.9, 120e3, 50.0, 1e-3
N_FLIGHTS = {"airliner_straight": 16, "airliner_turning": 16, "approach": 10, "holding": 10, "fighter": 8,
             "missile": 8}


def radar(revisit_s: float) -> SensorSite:
    return SensorSite(index=0, name="radar", lat_rad=LAT, lon_rad=LON, alt_m=100.0, max_range_m=RANGE_M,
                      min_range_m=500.0, min_el_rad=np.radians(-2.0), max_el_rad=np.radians(60.0), az_center_rad=0.0,
                      az_half_width_rad=np.pi, revisit_s=revisit_s, sigma_range_m=SIGMA_R, sigma_az_rad=SIGMA_ANG,
                      sigma_el_rad=SIGMA_ANG)


def scan(site: SensorSite, t: float, pos: np.ndarray, n_clutter: int, rng: np.random.Generator):
    """One scan: plots of the flights at ``pos`` (ECEF) it detects, and clutter; with each plot's source (-1 false)."""
    seen = np.flatnonzero(site.covers(pos) & (rng.random(len(pos)) < PD)) if len(pos) else np.zeros(0, dtype=int)
    r, az, el = geo.enu_to_razel(site.to_enu(pos[seen])) if seen.size else (np.zeros(0),) * 3
    n = seen.size
    r = np.r_[r + rng.normal(0, SIGMA_R, n), rng.uniform(2e3, RANGE_M, n_clutter)]
    az = np.mod(np.r_[az + rng.normal(0, SIGMA_ANG, n), rng.uniform(0, 2 * np.pi, n_clutter)], 2 * np.pi)
    el = np.r_[el + rng.normal(0, SIGMA_ANG, n), rng.uniform(0.0, np.radians(10.0), n_clutter)]
    source = np.r_[seen, np.full(n_clutter, -1)]
    order = rng.permutation(r.size)
    det = Detections(time_s=t, sensor=0, range_m=r[order], az_rad=az[order], el_rad=el[order],
                     sigma=np.tile([SIGMA_R, SIGMA_ANG, SIGMA_ANG], (r.size, 1)))
    return det, source[order]


def run(family: str, motion: str, seed: int, revisit_s: float, n_clutter: int, match_m: float,
        n_flights: int | None = None, config: dict | None = None, on_scan=None) -> dict:
    """One family, one motion, one seed: the metrics of the module docstring (unsummed)."""
    frng = np.random.default_rng([seed, 1])  # the flights: the same for every motion
    flights = fp.FAMILIES[family](n_flights or N_FLIGHTS[family], frng, LAT, LON)
    vmax = max(float(np.linalg.norm(f.vel, axis=1).max()) for f in flights)
    site = radar(revisit_s)
    tracker = Tracker(TrackerConfig(motion=motion, **(config or {})), [site])
    rng = np.random.default_rng([seed, 2])  # the plots: the same for every motion
    t_end = max(f.t1_s for f in flights)
    last_id: dict[int, int] = {}
    matched_ever: set[int] = set()
    owner_ever: set[int] = set()
    conf_ids: set[int] = set()
    m = dict(id_changes=0, lost_scans=0, false_track_scans=0, clutter_taken=0, fast_scans=0, matched_scans=0)
    se_p, se_v, vmax_trk = 0.0, 0.0, 0.0
    for t in np.arange(revisit_s, t_end + 1e-9, revisit_s):
        ids, pos, vel = fp.truth_at(flights, float(t))
        det, source = scan(site, float(t), pos, n_clutter, rng)
        tracker.process(det)
        pic = tracker.picture(float(t))
        conf = set(pic.track_id.tolist())
        conf_ids |= conf
        pl, tid = tracker.last_association
        m["clutter_taken"] += int(sum(1 for p, i in zip(pl.tolist(), tid.tolist())
                                      if source[p] < 0 and i in conf))
        covered = np.flatnonzero(site.covers(pos)) if len(pos) else np.zeros(0, dtype=int)
        spd = np.linalg.norm(pic.x[:, 3:], axis=1) if len(pic) else np.zeros(0)
        vmax_trk = max(vmax_trk, float(spd.max(initial=0.0)))
        m["fast_scans"] += int(np.any(spd > 1.5 * vmax))
        rows, cols = np.zeros(0, dtype=int), np.zeros(0, dtype=int)
        if len(pic) and covered.size:
            d = np.linalg.norm(pos[covered, None, :] - pic.x[None, :, :3], axis=2)
            rows, cols = linear_sum_assignment(np.where(d < match_m, d, 1e9))
            ok = d[rows, cols] < match_m
            rows, cols = rows[ok], cols[ok]
        got = set()
        for r_, c_ in zip(rows.tolist(), cols.tolist()):
            fl, tk = int(ids[covered[r_]]), int(pic.track_id[c_])
            got.add(fl)
            owner_ever.add(tk)
            if fl in last_id and last_id[fl] != tk:
                m["id_changes"] += 1
            last_id[fl] = tk
            matched_ever.add(fl)
            se_p += float(np.sum((pic.x[c_, :3] - pos[covered[r_]]) ** 2))
            se_v += float(np.sum((pic.x[c_, 3:] - vel[covered[r_]]) ** 2))
            m["matched_scans"] += 1
        m["lost_scans"] += sum(1 for i in covered.tolist() if int(ids[i]) in matched_ever and int(ids[i]) not in got)
        m["false_track_scans"] += len(pic) - len(rows)
        if on_scan is not None:
            on_scan(tracker, t, ids, pos, vel, det, source)
    m["false_tracks"] = len(conf_ids - owner_ever)
    m["se_pos"], m["se_vel"], m["max_track_speed_mps"] = se_p, se_v, vmax_trk
    return m


def summarise(runs: list[dict]) -> dict:
    keys = ("id_changes", "lost_scans", "false_tracks", "false_track_scans", "clutter_taken", "fast_scans",
            "matched_scans")
    out = {k: int(sum(r[k] for r in runs)) for k in keys}
    n = max(out["matched_scans"], 1)
    out["rms_pos_m"] = round(float(np.sqrt(sum(r["se_pos"] for r in runs) / n)), 1)
    out["rms_vel_mps"] = round(float(np.sqrt(sum(r["se_vel"] for r in runs) / n)), 2)
    out["max_track_speed_mps"] = round(max(r["max_track_speed_mps"] for r in runs), 1)
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--families", nargs="+", default=list(fp.FAMILIES), choices=list(fp.FAMILIES))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--clutter", type=int, default=5, help="false plots per scan (default 5)")
    ap.add_argument("--revisit", type=float, default=4.0, help="radar revisit, s (default 4)")
    ap.add_argument("--match-km", type=float, default=3.0)
    ap.add_argument("--motions", nargs="+", default=["cv", "imm"], choices=["cv", "imm"])
    ap.add_argument("--association", default="gnn", choices=["gnn", "jpda"])
    ap.add_argument("--filter", default="ekf", choices=["ekf", "ukf"])
    args = ap.parse_args(argv)
    config = dict(association=args.association, filter=args.filter)
    load0 = os.getloadavg()
    print(f"CV vs IMM: one radar at {args.revisit:g} s, Pd {PD}, {args.clutter} clutter plots a scan, "
          f"{args.seeds} seeds, {args.association.upper()}, {args.filter.upper()}; load average {load0[0]:.2f}",
          flush=True)
    wall0 = time.perf_counter()
    results: dict = {}
    for fam in args.families:
        results[fam] = {}
        for motion in args.motions:
            w0 = time.perf_counter()
            s = summarise([run(fam, motion, seed, args.revisit, args.clutter, 1e3 * args.match_km, config=config)
                           for seed in range(args.seeds)])
            s["wall_s"] = round(time.perf_counter() - w0, 1)
            results[fam][motion] = s
            print(f"  {fam:18s} {motion:3s}: id changes {s['id_changes']:3d}, lost {s['lost_scans']:4d}, "
                  f"false tracks {s['false_tracks']:3d} ({s['false_track_scans']} scans), clutter taken "
                  f"{s['clutter_taken']:3d}, RMS {s['rms_pos_m']:6.1f} m {s['rms_vel_mps']:6.2f} m/s, fast "
                  f"{s['fast_scans']:3d}, max {s['max_track_speed_mps']:6.0f} m/s  ({s['wall_s']} s)", flush=True)
    load1 = os.getloadavg()
    result = dict(benchmark="tracking_imm", revisit_s=args.revisit, pd=PD, clutter_per_scan=args.clutter, **config,
                  seeds=args.seeds, match_km=args.match_km, families=results,
                  wall_s=round(time.perf_counter() - wall0, 1), load_average_start=round(load0[0], 2),
                  load_average_end=round(load1[0], 2))
    print(f"load average {load1[0]:.2f}")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
