"""Hours of air traffic through the tracker: do the time per scan and the memory stay flat, and are the tracks of
landed aircraft deleted (not handed to the next aircraft on the approach)?

    python benchmarks/tracking_long_run.py                       # 3 hours, 200 flights, one terminal radar
    python benchmarks/tracking_long_run.py --hours 0.5 --flights 40 --clutter 5

One terminal radar at an airport: 4 s revisit, Pd 0.9, 50 m and 1 mrad errors, 120 km range; ``--clutter``
false plots a scan (default 5), uniform in range (2-120 km), azimuth and elevation (0-10°).  Of ``--flights``
flights, two thirds use the airport's one runway, as many as it takes at one movement a minute (a touchdown
or a take-off), half arriving and half departing; the others overfly, at uniform times:

- arrivals: from 80 km out at 4 km altitude, straight down a 2.9° slope to the runway at 130 m/s; the aircraft
  is gone at touchdown (no plot after it);
- departures: from the runway, climbing at 6° and 150 m/s, until they leave the radar's range;
- overflights: at 9-11 km and 230 m/s across the coverage, on a chord at most 60 km from the radar.

The tracker is tdome's, with its default settings (CV, GNN, M-of-N).  Per window of ``--window-min`` minutes
it reports the tracker's time per scan (mean, p99; the first two minutes, which compile its kernels, are left
out), the process's resident memory at the window's end, and the confirmed tracks and aircraft in the air.
Each minute, every confirmed track is attributed to the aircraft nearest it within 3 km.  For each landed
aircraft: how long after touchdown its track (the one last attributed to it) was deleted, checked at every
scan, and whether that track went on as another aircraft's (a hand-over).  The load average is printed at the
start and the end; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import numpy as np

from tdome import geo
from tdome.c2.tracking import Tracker, TrackerConfig
from tdome.messages import Detections, SensorSite

LAT, LON = np.radians(25.08), np.radians(121.23)  # a notional airport
REVISIT_S, PD, RANGE_M = 4.0, 0.9, 120e3
SIGMA_R, SIGMA_ANG = 50.0, 1e-3
ATTRIBUTE_M = 3_000.0
RUNWAY_GAP_S = 60.0  # one touchdown or take-off a minute at most
WARM_S = 120.0  # the first scans compile the tracker's kernels (numba): not counted in the time per scan


def radar() -> SensorSite:
    return SensorSite(index=0, name="terminal", lat_rad=LAT, lon_rad=LON, alt_m=30.0, max_range_m=RANGE_M,
                      min_range_m=500.0, min_el_rad=np.radians(-2.0), max_el_rad=np.radians(60.0), az_center_rad=0.0,
                      az_half_width_rad=np.pi, revisit_s=REVISIT_S, sigma_range_m=SIGMA_R, sigma_az_rad=SIGMA_ANG,
                      sigma_el_rad=SIGMA_ANG)


def flights(n: int, hours: float, rng: np.random.Generator, runway_gap_s: float = RUNWAY_GAP_S) -> dict:
    """Straight legs in the airport's ENU frame: start time, end time, start point, velocity, and kind.

    Arrivals and departures share one runway, one movement (a touchdown or a take-off) per ``runway_gap_s`` at
    most, as a real runway is used: two thirds of the flights are runway flights up to that capacity, half
    arriving and half departing in a random order; the rest are overflights at uniform times."""
    end_s = hours * 3600.0
    n_runway = min(2 * n // 3, int(end_s // runway_gap_s))
    slots = np.sort(rng.uniform(0.0, end_s, n_runway))
    for i in range(1, n_runway):  # one movement per gap: each slot as early as its draw and the gap allow
        slots[i] = max(slots[i], slots[i - 1] + runway_gap_s)
    kind = np.r_[rng.permutation(np.arange(n_runway) % 2), np.full(n - n_runway, 2)]  # 0 arr, 1 dep, 2 over
    brg = rng.uniform(0.0, 2 * np.pi, n)
    u = np.stack([np.sin(brg), np.cos(brg), np.zeros(n)], axis=1)  # outward unit vectors
    p0 = np.zeros((n, 3))
    v = np.zeros((n, 3))
    dur = np.zeros(n)
    t0 = np.r_[slots, rng.uniform(0.0, end_s, n - n_runway)]
    arr, dep, over = kind == 0, kind == 1, kind == 2
    # Arrivals: 80 km out, 4 km up, to the runway's threshold (0, 0, 0) at 130 m/s, touching down at their slot.
    p0[arr] = 80e3 * u[arr] + [0.0, 0.0, 4_000.0]
    leg = -p0[arr]
    dur[arr] = np.linalg.norm(leg, axis=1) / 130.0
    v[arr] = leg / dur[arr, None]
    t0[arr] -= dur[arr]
    # Departures: taking off at their slot, climbing at 6 degrees and 150 m/s until 120 km out.
    slope = np.radians(6.0)
    v[dep] = 150.0 * (np.cos(slope) * u[dep] + [0.0, 0.0, np.sin(slope)])
    dur[dep] = RANGE_M / (150.0 * np.cos(slope))
    # Overflights: a chord at 0-60 km from the radar, 9-11 km up, 230 m/s.
    off = rng.uniform(0.0, 60e3, over.sum())
    half = np.sqrt(RANGE_M**2 - off**2)
    across = np.stack([np.cos(brg[over]), -np.sin(brg[over]), np.zeros(over.sum())], axis=1)
    p0[over] = off[:, None] * u[over] - half[:, None] * across + np.c_[np.zeros((over.sum(), 2)),
                                                                         rng.uniform(9e3, 11e3, over.sum())]
    v[over] = 230.0 * across
    dur[over] = 2 * half / 230.0
    return dict(t0=t0, t1=t0 + dur, p0=p0, v=v, kind=kind)


def enu_at(f: dict, t: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the flights in the air at ``t`` and their ENU positions."""
    idx = np.flatnonzero((f["t0"] <= t) & (t < f["t1"]))
    return idx, f["p0"][idx] + f["v"][idx] * (t - f["t0"][idx, None])


def scan(site: SensorSite, t: float, enu: np.ndarray, n_clutter: int, rng: np.random.Generator) -> Detections:
    r, az, el = geo.enu_to_razel(enu) if len(enu) else (np.zeros(0),) * 3
    seen = (r <= RANGE_M) & (r >= 500.0) & (el >= site.min_el_rad) & (rng.random(r.size) < PD)
    r, az, el = r[seen], az[seen], el[seen]
    n = r.size
    r = np.r_[r + rng.normal(0, SIGMA_R, n), rng.uniform(2e3, RANGE_M, n_clutter)]
    az = np.mod(np.r_[az + rng.normal(0, SIGMA_ANG, n), rng.uniform(0, 2 * np.pi, n_clutter)], 2 * np.pi)
    el = np.r_[el + rng.normal(0, SIGMA_ANG, n), rng.uniform(0.0, np.radians(10.0), n_clutter)]
    order = rng.permutation(r.size)
    return Detections(time_s=t, sensor=0, range_m=r[order], az_rad=az[order], el_rad=el[order],
                      sigma=np.tile([SIGMA_R, SIGMA_ANG, SIGMA_ANG], (r.size, 1)))


def rss_mb() -> float:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, default=3.0)
    ap.add_argument("--flights", type=int, default=200)
    ap.add_argument("--clutter", type=int, default=5, help="false plots per scan (default 5)")
    ap.add_argument("--window-min", type=float, default=15.0, help="reporting window, minutes (default 15)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    load0 = os.getloadavg()
    print(f"tracker long run: {args.hours:g} h, {args.flights} flights, one radar at {REVISIT_S:g} s, Pd {PD}, "
          f"{args.clutter} clutter plots a scan; load average {load0[0]:.2f}", flush=True)
    rng = np.random.default_rng(args.seed)
    site = radar()
    f = flights(args.flights, args.hours, rng)
    tracker = Tracker(TrackerConfig(), [site])
    rot = geo.enu_rotation(LAT, LON)
    origin = np.asarray(geo.geodetic_to_ecef(LAT, LON, site.alt_m), dtype=float)
    end_s = args.hours * 3600.0
    window_s = args.window_min * 60.0
    windows: list[dict] = []
    scan_ms: list[float] = []
    owner: dict[int, int] = {}  # track id -> the flight it was last attributed to
    track_of_landed: dict[int, int] = {}  # arrival flight -> its track at its last attribution before touchdown
    deleted_after: dict[int, float] = {}  # arrival flight -> seconds from touchdown to its track's deletion
    handed: set[int] = set()  # arrivals whose track went on as another flight's
    next_window, next_attr = window_s, 60.0
    wall0 = time.perf_counter()
    for t in np.arange(REVISIT_S, end_s + 1e-9, REVISIT_S):
        idx, enu = enu_at(f, float(t))
        det = scan(site, float(t), enu, args.clutter, rng)
        c0 = time.perf_counter()
        tracker.process(det)
        if t > WARM_S:
            scan_ms.append(1e3 * (time.perf_counter() - c0))
        waiting = [fl for fl, tid in track_of_landed.items() if f["t1"][fl] < t and fl not in deleted_after]
        if waiting:  # the landed aircraft's tracks: held still, or deleted at this scan
            held_now = set(tracker.picture(float(t)).track_id.tolist())
            for fl in waiting:
                if track_of_landed[fl] not in held_now:
                    deleted_after[fl] = float(t - f["t1"][fl])
        if t >= next_attr:  # attribute the confirmed tracks to the flights nearest them
            next_attr += 60.0
            pic = tracker.picture(float(t))
            if len(pic) and idx.size:
                xyz = origin + enu @ rot
                d = np.linalg.norm(pic.x[:, None, :3] - xyz[None], axis=2)
                j = np.argmin(d, axis=1)
                for tid, jj, dist in zip(pic.track_id.tolist(), j.tolist(), d[np.arange(len(pic)), j].tolist()):
                    if dist > ATTRIBUTE_M:
                        continue
                    fl = int(idx[jj])
                    before = owner.get(tid)
                    if before is not None and before != fl and f["kind"][before] == 0 and f["t1"][before] < t:
                        handed.add(before)
                    owner[tid] = fl
                    if f["kind"][fl] == 0:
                        track_of_landed[fl] = tid
        if t >= next_window or t + REVISIT_S > end_s:
            ms = np.array(scan_ms)
            pic = tracker.picture(float(t))
            windows.append(dict(end_min=round(t / 60.0, 1), scan_ms_mean=round(float(ms.mean()), 3),
                                scan_ms_p99=round(float(np.percentile(ms, 99)), 3), rss_mb=round(rss_mb(), 1),
                                confirmed_tracks=len(pic), aircraft=int(idx.size)))
            w = windows[-1]
            print(f"  {w['end_min']:6.1f} min: {w['aircraft']:3d} aircraft, {w['confirmed_tracks']:3d} tracks; "
                  f"scan {w['scan_ms_mean']:.3f} ms mean, {w['scan_ms_p99']:.3f} ms p99; RSS {w['rss_mb']} MB",
                  flush=True)
            scan_ms = []
            next_window += window_s
    landed = [int(i) for i in np.flatnonzero((f["kind"] == 0) & (f["t0"] >= 0.0) & (f["t1"] <= end_s - 120.0))]
    tracked = [fl for fl in landed if fl in track_of_landed]
    delays = np.array([deleted_after.get(fl, np.inf) for fl in tracked])
    load1 = os.getloadavg()
    first, last = windows[0], windows[-1]
    result = dict(
        benchmark="tracking_long_run", hours=args.hours, flights=args.flights, clutter_per_scan=args.clutter,
        runway_flights=int((f["kind"] < 2).sum()),
        scans=int(end_s // REVISIT_S), wall_s=round(time.perf_counter() - wall0, 1), windows=windows,
        scan_ms_mean_first_last=[first["scan_ms_mean"], last["scan_ms_mean"]],
        rss_mb_first_last=[first["rss_mb"], last["rss_mb"]],
        landed=len(landed), landed_tracked=len(tracked),
        landed_track_deleted=int(np.isfinite(delays).sum()),
        landed_track_deleted_after_s=dict(median=float(np.median(delays)) if delays.size else None,
                                          max=float(delays.max()) if delays.size else None),
        landed_track_handed_over=len(handed), tracker_stats=dict(tracker.stats),
        load_average_start=round(load0[0], 2), load_average_end=round(load1[0], 2))
    after = result["landed_track_deleted_after_s"]
    print(f"landed aircraft: {len(landed)}, tracked before touchdown {len(tracked)}; their tracks deleted: "
          f"{result['landed_track_deleted']} (after touchdown: median {after['median']} s, max {after['max']} s); "
          f"handed to another aircraft: {len(handed)}")
    print(f"scan time {first['scan_ms_mean']} -> {last['scan_ms_mean']} ms (first -> last window); RSS "
          f"{first['rss_mb']} -> {last['rss_mb']} MB; load average {load1[0]:.2f}")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
