"""Biased radars fused: duplicate tracks and GOSPA with the biases left in, taken out by registration, and absent.

    python benchmarks/registration.py                    # 3 radars, 40 aircraft, 20 minutes, 3 seeds
    python benchmarks/registration.py --seeds 1 --minutes 10

Three radars 70-90 km apart look at one area: revisits 4, 5 and 6 s, Pd 0.9, range σ 50 m, azimuth and elevation
σ 1 mrad (0.057°), 2 false plots a scan each, 200 km range.  Two of them carry systematic errors the C2 is not
told (``--bias``): radar A ranges 200 m long, looks 0.3° clockwise and stamps its plots 0.5 s late; radar B ranges
120 m short, looks 0.2° anticlockwise and stamps 0.3 s early; radar C is true.  Aircraft and cruise missiles
(``--targets``) fly straight across the area the three radars share, at 150-300 m/s and 0.5-10 km, on random
headings, entering at uniform times.  The same plots (one seed: the same draws, the biases added after) go to
three trackers, tdome's with its default settings:

- ``unbiased``: the radars without their biases (the best the tracker does);
- ``uncorrected``: the biased plots, registration off;
- ``corrected``: the biased plots, ``c2.registration.mode: correct`` (default priors).

Every 10 s: GOSPA (c = 2 km, p = 2, α = 2) of the confirmed tracks against the aircraft inside the area all three
radars cover, and each confirmed track attributed to the nearest aircraft within 2 km for SIAP ambiguity (tracks
per tracked aircraft; 1 is ideal), redundant tracks (the duplicates: associated tracks beyond one per aircraft, per
evaluation), track-number changes per aircraft and the position RMS; each also over the evaluations after the first
two minutes (the estimate settled); and the time per scan (the tracker, and the registration when on).  The
registration's final estimate and its 1-σ are printed against the truth.  The load average is printed at the start
and the end; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace

import numpy as np

from tdome import geo
from tdome.analysis.metrics import associate_nearest, gospa, siap
from tdome.c2.config import RegistrationConfig
from tdome.c2.tracking import Tracker, TrackerConfig
from tdome.c2.tracking.registration import RegisteredPicture, registered
from tdome.messages import Detections, SensorSite

LAT0, LON0 = np.radians(24.0), np.radians(120.9)  # centre of the shared area
# Radar sites (deg), revisits (s); A and B carry the biases.
SITES = (("A", 23.65, 120.55, 4.0), ("B", 23.70, 121.30, 5.0), ("C", 24.40, 120.95, 6.0))
PD, RANGE_M, SIGMA_R, SIGMA_ANG, CLUTTER = 0.9, 200e3, 50.0, 1e-3, 2
AREA_M = 60e3  # half-width of the square the targets cross, about the centre
EVAL_S = 10.0
GOSPA_C = 2000.0
VARIANTS = ("unbiased", "uncorrected", "corrected")
ATTRIBUTE_M = 2000.0
SETTLED_S = 120.0  # "settled" figures: evaluations after the first two minutes


def biases(scale: float) -> np.ndarray:
    """(3, 4) range m, azimuth rad, elevation rad, clock s of A, B, C."""
    b = np.array([[200.0, np.radians(0.3), 0.0, 0.5], [-120.0, np.radians(-0.2), 0.0, -0.3], [0.0, 0.0, 0.0, 0.0]])
    return scale * b


def sites() -> list[SensorSite]:
    return [SensorSite(index=k, name=name, lat_rad=np.radians(lat), lon_rad=np.radians(lon), alt_m=50.0,
                       max_range_m=RANGE_M, min_range_m=1000.0, min_el_rad=np.radians(-2.0),
                       max_el_rad=np.radians(60.0), az_center_rad=0.0, az_half_width_rad=np.pi, revisit_s=rev,
                       sigma_range_m=SIGMA_R, sigma_az_rad=SIGMA_ANG, sigma_el_rad=SIGMA_ANG)
            for k, (name, lat, lon, rev) in enumerate(SITES)]


def targets(n: int, end_s: float, rng: np.random.Generator) -> dict:
    """Straight flights across the square about the centre (ENU at the centre): start, end, p0, v."""
    hdg = rng.uniform(0.0, 2 * np.pi, n)
    u = np.stack([np.sin(hdg), np.cos(hdg), np.zeros(n)], axis=1)
    side = np.stack([u[:, 1], -u[:, 0], np.zeros(n)], axis=1)
    speed = rng.uniform(150.0, 300.0, n)
    alt = rng.uniform(500.0, 10e3, n)
    off = rng.uniform(-0.7, 0.7, n) * AREA_M
    p0 = -1.5 * AREA_M * u + off[:, None] * side + np.c_[np.zeros((n, 2)), alt]
    v = speed[:, None] * u
    dur = 3.0 * AREA_M / speed
    t0 = rng.uniform(-0.5, 0.8, n) * end_s
    return dict(t0=t0, t1=t0 + dur, p0=p0, v=v)


def truth_at(f: dict, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows flying at ``t``, their ECEF positions and velocities."""
    idx = np.flatnonzero((f["t0"] <= t) & (t < f["t1"]))
    enu = f["p0"][idx] + f["v"][idx] * (t - f["t0"][idx, None])
    rot = geo.enu_rotation(LAT0, LON0)
    return idx, geo.enu_to_ecef(enu, LAT0, LON0, 0.0), f["v"][idx] @ rot


def scan(site: SensorSite, t: float, pos: np.ndarray, rng: np.random.Generator) -> tuple[Detections, np.ndarray]:
    """One scan's plots without bias (drawn), and the rows of the targets they measure (-1 for clutter)."""
    ok = np.flatnonzero(site.covers(pos) & (rng.random(len(pos)) < PD)) if len(pos) else np.zeros(0, dtype=int)
    r, az, el = geo.enu_to_razel(site.to_enu(pos[ok])) if ok.size else (np.zeros(0),) * 3
    n = ok.size
    r = np.r_[r + rng.normal(0, SIGMA_R, n), rng.uniform(5e3, RANGE_M, CLUTTER)]
    az = np.r_[az + rng.normal(0, SIGMA_ANG, n), rng.uniform(0, 2 * np.pi, CLUTTER)]
    el = np.r_[el + rng.normal(0, SIGMA_ANG, n), rng.uniform(0.0, np.radians(5.0), CLUTTER)]
    src = np.r_[ok, -np.ones(CLUTTER, dtype=int)]
    order = rng.permutation(r.size)
    det = Detections(time_s=t, sensor=site.index, range_m=r[order], az_rad=np.mod(az[order], 2 * np.pi),
                     el_rad=el[order], sigma=np.tile([SIGMA_R, SIGMA_ANG, SIGMA_ANG], (r.size, 1)))
    return det, src[order]


def biased(det: Detections, b: np.ndarray) -> Detections:
    """The scan as the biased radar reports it: offsets added, stamped ``b[3]`` late."""
    return replace(det, time_s=det.time_s + b[3], range_m=det.range_m + b[0],
                   az_rad=np.mod(det.az_rad + b[1], 2 * np.pi), el_rad=det.el_rad + b[2])


def run(seed: int, n_targets: int, end_s: float, scale: float) -> dict:
    rng = np.random.default_rng(seed)
    ss = sites()
    f = targets(n_targets, end_s, rng)
    b = biases(scale)
    cfg = TrackerConfig()
    trackers = {
        "unbiased": Tracker(cfg, ss),
        "uncorrected": Tracker(cfg, ss),
        "corrected": registered(Tracker(cfg, ss), ss, RegistrationConfig(mode="correct"), cfg),
    }
    rows: dict[str, list] = {k: [] for k in trackers}
    g: dict[str, list[float]] = {k: [] for k in trackers}
    truth_rows: list = []
    ms: dict[str, float] = dict.fromkeys(trackers, 0.0)
    schedule = sorted((t, k) for k, s in enumerate(ss) for t in np.arange(s.revisit_s * rng.uniform(0.1, 1.0),
                                                                         end_s, s.revisit_s))
    shared = None
    next_eval = EVAL_S
    for t, k in schedule:
        while t >= next_eval:  # evaluate every tracker at next_eval on the aircraft all three radars cover
            idx, pos, _ = truth_at(f, next_eval)
            inside = np.ones(idx.size, dtype=bool)
            for s in ss:
                inside &= s.covers(pos) if idx.size else inside
            shared = pos[inside]
            truth_rows += [(next_eval, int(i), p) for i, p in zip(idx[inside], pos[inside])]
            for name, tr in trackers.items():
                pic = tr.picture(next_eval)
                xyz = pic.x[:, :3]
                if len(pic) and len(shared):  # tracks near the shared area only (within the cut-off of an aircraft)
                    near = np.linalg.norm(xyz[:, None] - shared[None], axis=2).min(axis=1) < 3 * GOSPA_C
                else:
                    near = np.zeros(len(pic), dtype=bool)
                g[name].append(gospa(shared, xyz[near], c=GOSPA_C).total)
                rows[name] += [(next_eval, int(tid), p) for tid, p in zip(pic.track_id[near], xyz[near])]
            next_eval += EVAL_S
        idx, pos, _ = truth_at(f, float(t))
        det, _ = scan(ss[k], float(t), pos, rng)
        for name, tr in trackers.items():
            d = det if name == "unbiased" else biased(det, b[k])
            c0 = time.perf_counter()
            tr.process(d)
            ms[name] += time.perf_counter() - c0
    out = {}
    tt = np.array([r[0] for r in truth_rows])
    tu = np.array([r[1] for r in truth_rows])
    tx = np.array([r[2] for r in truth_rows]).reshape(-1, 3)
    for name in trackers:
        rt = np.array([r[0] for r in rows[name]])
        rn = np.array([r[1] for r in rows[name]])
        rx = np.array([r[2] for r in rows[name]]).reshape(-1, 3)
        ru = associate_rows(rt, rx, tt, tu, tx)
        err = np.full(rt.size, np.nan)
        for q in np.flatnonzero(ru >= 0):
            m = (tt == rt[q]) & (tu == ru[q])
            err[q] = np.linalg.norm(rx[q] - tx[m][0])
        s = siap(tt, tu, rt, rn, ru, pos_err=err)
        steps = s.n_truths_tracked.size
        dup = s.n_tracks_associated - s.n_truths_tracked  # associated tracks beyond one per aircraft, per evaluation
        late = s.time_s > SETTLED_S
        gl = np.array(g[name])
        kt, kr = tt > SETTLED_S, rt > SETTLED_S
        settled = siap(tt[kt], tu[kt], rt[kr], rn[kr], ru[kr], pos_err=err[kr])
        out[name] = dict(gospa_mean_m=round(float(gl.mean()), 1),
                         gospa_settled_m=round(float(gl[EVAL_S * np.arange(1, gl.size + 1) > SETTLED_S].mean()), 1),
                         ambiguity=round(s.ambiguity, 4),
                         duplicates_per_eval=round(float(dup.sum()) / steps, 3),
                         duplicates_settled=round(float(dup[late].mean()), 3),
                         completeness=round(s.completeness, 4), spuriousness=round(s.spuriousness, 4),
                         track_changes_per_truth=round(s.track_changes_per_truth, 3),
                         position_rms_m=round(s.position_rms, 1),
                         track_changes_settled=round(settled.track_changes_per_truth, 3),
                         position_rms_settled_m=round(settled.position_rms, 1),
                         tracker_ms_per_scan=round(1e3 * ms[name] / len(schedule), 3))
    for name in ("corrected",):
        reg = trackers[name]
        assert isinstance(reg, RegisteredPicture)
        est = np.array([reg.registration.bias(k) for k in range(3)])
        sig = np.array([reg.registration.sigma(k) for k in range(3)])
        out[name]["estimate"] = _table(est)
        out[name]["sigma"] = _table(sig)
        out[name]["error_over_sigma"] = np.round((est - b) / sig, 2).tolist()
        rel = relative_sigma(reg.registration.P)
        out[name]["relative_sigma_A_minus_C"] = _row(rel)
        out[name]["pairs"] = reg.registration.counts["registration_pairs"]
        out[name]["ambiguous"] = reg.registration.counts["registration_ambiguous"]
    out["truth"] = _table(b)
    return out


def relative_sigma(P: np.ndarray) -> np.ndarray:
    """1-σ of radar A's offsets less radar C's (what pairs of radars observe)."""
    D = np.zeros((4, P.shape[0]))
    D[:, 0:4] = np.eye(4)
    D[:, 8:12] = -np.eye(4)
    return np.sqrt(np.diag(D @ P @ D.T))


def _row(v: np.ndarray) -> list[float]:
    """range m, azimuth deg, elevation deg, clock s."""
    return [round(float(v[0]), 1), round(float(np.degrees(v[1])), 4), round(float(np.degrees(v[2])), 4),
            round(float(v[3]), 4)]


def _table(b: np.ndarray) -> dict[str, list[float]]:
    return {SITES[k][0]: _row(b[k]) for k in range(len(b))}


def associate_rows(rt, rx, tt, tu, tx) -> np.ndarray:
    """Each track row's nearest aircraft at its time within ATTRIBUTE_M, else -1."""
    return associate_nearest(rt, rx, tt, tu, tx, ATTRIBUTE_M)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--targets", type=int, default=40)
    ap.add_argument("--seeds", type=int, default=3, help="seeds 1..n (default 3)")
    ap.add_argument("--bias", type=float, default=1.0, help="scale of the biases (default 1: A 200 m, 0.3°, 0.5 s)")
    args = ap.parse_args(argv)
    load0 = os.getloadavg()
    print(f"registration: 3 radars, {args.targets} aircraft, {args.minutes:g} min, {args.seeds} seeds, bias scale "
          f"{args.bias:g}; load average {load0[0]:.2f}", flush=True)
    wall0 = time.perf_counter()
    runs = []
    for seed in range(1, args.seeds + 1):
        r = run(seed, args.targets, args.minutes * 60.0, args.bias)
        runs.append(r)
        for name in VARIANTS:
            m = r[name]
            print(f"  seed {seed} {name:11s}: GOSPA {m['gospa_mean_m']:7.1f} m, duplicates "
                  f"{m['duplicates_per_eval']:.3f} per evaluation, ambiguity {m['ambiguity']:.4f}, track changes "
                  f"{m['track_changes_per_truth']:.3f} per aircraft, position RMS {m['position_rms_m']:.1f} m",
                  flush=True)
        c = r["corrected"]
        for k in ("A", "B", "C"):
            print(f"    {k}: truth {r['truth'][k]}  estimate {c['estimate'][k]}  σ {c['sigma'][k]}", flush=True)
        print(f"    A − C: relative σ {c['relative_sigma_A_minus_C']}; pairs {c['pairs']}, ambiguous {c['ambiguous']}",
              flush=True)
    summary = {}
    for name in VARIANTS:
        summary[name] = {key: round(float(np.mean([r[name][key] for r in runs])), 4)
                         for key in ("gospa_mean_m", "gospa_settled_m", "duplicates_per_eval", "duplicates_settled",
                                     "ambiguity", "track_changes_per_truth", "position_rms_m", "completeness",
                                     "spuriousness", "track_changes_settled", "position_rms_settled_m",
                                     "tracker_ms_per_scan")}
    load1 = os.getloadavg()
    for name, m in summary.items():
        print(f"mean over seeds, {name:11s}: GOSPA {m['gospa_mean_m']:.1f} m, duplicates "
              f"{m['duplicates_per_eval']:.3f}, ambiguity {m['ambiguity']:.4f}, track changes "
              f"{m['track_changes_per_truth']:.3f}, position RMS {m['position_rms_m']:.1f} m; after 2 min: GOSPA "
              f"{m['gospa_settled_m']:.1f} m, duplicates {m['duplicates_settled']:.3f}, track changes "
              f"{m['track_changes_settled']:.3f}, position RMS {m['position_rms_settled_m']:.1f} m; "
              f"{m['tracker_ms_per_scan']:.3f} ms a scan")
    print(f"wall {time.perf_counter() - wall0:.1f} s; load average {load1[0]:.2f}")
    result = dict(benchmark="registration", minutes=args.minutes, targets=args.targets, seeds=args.seeds,
                  bias_scale=args.bias, summary=summary, runs=runs, wall_s=round(time.perf_counter() - wall0, 1),
                  load_average_start=round(load0[0], 2), load_average_end=round(load1[0], 2))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
