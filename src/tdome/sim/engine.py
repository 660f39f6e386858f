"""The time loop: world → sensors → C2 → effectors → world.

Each C2 cycle of ``c2.cycle_s`` seconds:

1. intercepts due in the cycle are resolved against truth (so a radar
   scanning after a kill no longer sees the threat);
2. every radar scan due in the cycle is simulated at its own instant and its
   plots are handed to the C2 in time order;
3. threats that reach the ground in the cycle impact: a leaker if the threat
   was not intercepted, a hit on every asset within its lethal radius;
4. the C2 decides at the end of the cycle from plots and battery status
   only; its fire orders launch interceptors and its aim updates reach those
   in flight.

Everything the run observed is kept in a :class:`RunRecord` (event log,
truth and track samples, timings); :mod:`tdome.sim.report` turns it into the
summary.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from tdome import geo
from tdome.analysis.metrics import gospa, nees
from tdome.c2.core import BattleManager
from tdome.c2.threat import ThreatPicture
from tdome.messages import DefendedAsset, SensorSite
from tdome.sim.build import RaidTruth, build_assets, build_batteries, build_raid, build_sensors, c2_config
from tdome.sim.perfect_picture import PerfectPicture
from tdome.sim.streams import stream
from tdome.world.effectors import Effectors, FireUnit

if TYPE_CHECKING:  # for the annotations only: the time loop reads a scenario and never imports the package
    from tdome.scenario import Scenario

RECORD_EVERY_S = 2.0
GOSPA_C_M = 5000.0


@dataclass
class RunRecord:
    scenario: Scenario
    assets: list[DefendedAsset]
    sites: list[SensorSite]
    batteries: list[FireUnit]
    raid: RaidTruth
    # Per threat row, filled in during the run; inf: never.
    first_detect_s: np.ndarray  # (n,) time of the first plot
    first_launch_s: np.ndarray  # (n,) time of the first launch at it
    kill_s: np.ndarray  # (n,) time of the kill
    events: list[dict] = field(default_factory=list)
    truth_rows: list[tuple] = field(default_factory=list)
    # One tuple per track per record instant, columns tdome.runfolder.TRACK_COLUMNS; errors and NEES against the
    # attributed truth, NaN when it is not alive; the prediction NaN where threat evaluation has none.
    track_rows: list[tuple] = field(default_factory=list)
    gospa_rows: list[tuple] = field(default_factory=list)  # (t, total, loc, missed, false, n_truth, n_tracks, n_pairs)
    impact_hits: dict = field(default_factory=dict)  # threat row -> list of asset indices hit
    scan_ms: list[float] = field(default_factory=list)
    cycle_ms: list[float] = field(default_factory=list)
    # (t, batteries, threats, solve_ms, gap or nan, proven, timed_out)
    assign_rows: list[tuple] = field(default_factory=list)
    wall_s: float = 0.0
    end_s: float = 0.0  # simulated time the run ended: the battle's end or the scenario's duration
    tracker_stats: dict = field(default_factory=dict)
    engagement_threat: dict = field(default_factory=dict)  # engagement id -> truth row, -1 unknown
    flyouts: list[dict] = field(default_factory=list)  # every interceptor launched (for the replay)


def _event(rec: RunRecord, t: float, kind: str, *, threat=-1, track=-1, battery=-1, layer="", interceptor=-1,
           rounds=0, ecef=None, detail="") -> None:
    lat = lon = alt = np.nan
    if ecef is not None and np.all(np.isfinite(ecef)):
        la, lo, al = geo.ecef_to_geodetic(np.asarray(ecef, dtype=float))
        lat, lon, alt = float(np.degrees(la)), float(np.degrees(lo)), float(al)
    rec.events.append(dict(time_s=float(t), kind=kind, threat_id=int(threat), track_id=int(track),
                           battery=int(battery), layer=layer, interceptor_id=int(interceptor), rounds=int(rounds),
                           lat_deg=lat, lon_deg=lon, alt_m=alt, detail=detail))


def run(scenario, progress: Callable[..., None] | None = None) -> RunRecord:
    """Run one scenario end to end.

    ``progress(t_s, stage)`` is called during set-up with ``t_s = 0`` and a
    word on what is being built (a large raid takes a while to fly out),
    then after each cycle with the simulated time and ``stage=None``.
    The run ends at ``duration_s``, or earlier once the battle is over.
    """
    wall0 = time.perf_counter()
    sc = scenario
    say = progress or (lambda t_s, stage=None: None)
    say(0.0, "building assets, sensors and batteries")
    assets = build_assets(sc)
    sites, radars = build_sensors(sc)
    batteries = build_batteries(sc)
    say(0.0, f"flying out the raid's {sc.threat_count:,} trajectories")
    raid = build_raid(sc, assets, lambda done, total: say(0.0, f"flying out trajectories: {done:,} of {total:,}"))
    say(0.0, "starting the battle")
    traj = raid.trajectories
    n = len(raid)
    bm = BattleManager(sites, assets, c2_config(sc))
    eff = Effectors(batteries, stream(sc.seed, "effectors"))
    kill_s = np.full(n, np.inf)
    first_detect = np.full(n, np.inf)
    first_launch = np.full(n, np.inf)
    rec = RunRecord(sc, assets, sites, batteries, raid, first_detect_s=first_detect, first_launch_s=first_launch,
                    kill_s=kill_s)  # the three arrays are filled in place as the run goes
    impacted = np.zeros(n, dtype=bool)
    launched = np.zeros(n, dtype=bool)
    eng_threat: dict[int, int] = {}  # engagement id -> truth row (for metrics only)
    track_truth: dict[int, Counter] = {}  # track id -> plots taken from each truth row (-1: false alarm)

    def truth_state(t):
        pos, vel, alive = traj.state_at(t)
        return pos, vel, alive & (kill_s > t)

    def truth_pos(t):
        pos, _, alive = truth_state(t)
        return pos, alive

    perfect = None
    if sc.sim.fidelity == "perfect_picture":
        perfect = PerfectPicture(truth_state, raid.cls, first_detect)
        bm.use_picture_source(perfect)

    dt = float(sc.c2.cycle_s)
    t = 0.0
    next_record = 0.0
    while t < sc.duration_s - 1e-9:
        t_next = min(t + dt, float(sc.duration_s))
        cyc0 = time.perf_counter()

        for i in np.flatnonzero(~launched & (traj.launch_s <= t_next)):
            launched[i] = True
            _event(rec, traj.launch_s[i], "threat_launch", threat=i, ecef=traj.launch_ecef[i],
                   detail=f"{raid.type_name[i]} {raid.label[i]}".strip())

        # 1. Intercepts in (t, t_next].
        for itc, row, killed, miss in eff.resolve(t, t_next, truth_pos, kill_s, raid.cls):
            bat = batteries[itc.battery]
            kind = "kill" if killed else "miss"
            detail = f"miss distance {miss:.0f} m" if np.isfinite(miss) else "no target in basket"
            _event(rec, itc.intercept_s, kind, threat=row, track=itc.track_id, battery=itc.battery, layer=bat.layer,
                   interceptor=itc.interceptor_id, ecef=itc.aim_ecef, detail=detail)

        # 2. Radar scans in (t, t_next], in time order.
        scans = sorted((float(ts), k) for k, r in enumerate(radars) for ts in r.scan_times(t, t_next))
        for ts, k in scans:
            pos, vel, alive = truth_state(ts)
            idx = np.flatnonzero(alive)
            det, src = radars[k].scan(ts, pos[idx], vel[idx], raid.rcs_m2[idx])
            truth_rows = np.full(src.size, -1)
            truth_rows[src >= 0] = idx[src[src >= 0]]
            src_rows = truth_rows[truth_rows >= 0]
            new = src_rows[first_detect[src_rows] > ts]
            first_detect[new] = ts
            if perfect is not None:
                perfect.observe(truth_rows)
            s0 = time.perf_counter()
            bm.ingest(det)
            rec.scan_ms.append((time.perf_counter() - s0) * 1e3)
            # Truth bookkeeping for metrics: which object's plots each track took.
            assoc = bm.tracker.last_association  # PictureSource: the tracker's, or the perfect picture's
            for tid, row in zip(assoc.track_id.tolist(), truth_rows[assoc.plot].tolist()):
                track_truth.setdefault(tid, Counter())[row] += 1

        # 3. Impacts in (t, t_next].
        due = np.flatnonzero(~impacted & (traj.impact_s > t) & (traj.impact_s <= t_next))
        for i in due:
            impacted[i] = True
            if kill_s[i] <= traj.impact_s[i]:
                continue
            lat, lon, _ = geo.ecef_to_geodetic(traj.impact_ecef[i])
            hits = [j for j, a in enumerate(assets) if a.distance_m(lat, lon) <= raid.lethal_radius_m[i]]
            rec.impact_hits[int(i)] = hits
            kind = "leak" if raid.intended_asset[i] >= 0 or hits else "impact"
            detail = ", ".join(assets[j].name for j in hits) if hits else "no asset hit"
            _event(rec, traj.impact_s[i], kind, threat=i, ecef=traj.impact_ecef[i], detail=detail)

        # 4. The C2 decides; effectors act.
        status = eff.status(t_next)
        out = bm.decide(t_next, status)
        if out.assignment is not None:
            a = out.assignment
            rec.assign_rows.append((t_next, *out.assignment_shape, a.solve_s * 1e3,
                                    np.nan if a.gap is None else a.gap, a.proven, a.timed_out))
        for eid, tid, verdict in out.assessments:
            _event(rec, t_next, "assessed_" + verdict, track=tid, detail=f"engagement {eid}")
        eff.uplink(out.aim_updates)
        if out.orders:
            _orders(rec, t_next, out.orders, eff, batteries, track_truth, first_launch, eng_threat)

        if t_next >= next_record - 1e-9:
            _record(rec, t_next, truth_state, out.picture, out.threats, track_truth)
            next_record += RECORD_EVERY_S
        rec.cycle_ms.append((time.perf_counter() - cyc0) * 1e3)
        t = t_next
        if _battle_over(t, launched, impacted, kill_s, eff, bm):
            break
        say(t)

    rec.end_s = t
    say(float(sc.duration_s))
    rec.tracker_stats = dict(bm.tracker.stats)  # PictureSource.stats
    rec.engagement_threat = eng_threat
    rec.flyouts = _flyouts(eff, batteries)
    rec.wall_s = time.perf_counter() - wall0
    return rec


def _battle_over(t: float, launched, impacted, kill_s, eff: Effectors, bm: BattleManager) -> bool:
    """Nothing left to happen: every threat launched and resolved (killed or down), no interceptor in
    flight and no kill assessment pending, so later cycles could only repeat an empty sky."""
    return (bool(launched.all()) and bool(np.all(impacted | (kill_s <= t))) and not eff.flying
            and all(e.assessed for e in bm.engagements.values()))


def truth_of(track_truth: dict, track_id: int) -> int:
    """The truth row whose plots a track took most often (-1: none, or mostly false alarms)."""
    c = track_truth.get(track_id)
    if not c:
        return -1
    return c.most_common(1)[0][0]


def _orders(rec, t, orders, eff, batteries, track_truth, first_launch, eng_threat):
    eff.execute(t, orders)
    for o in orders:
        bat = batteries[o.battery]
        row = truth_of(track_truth, o.track_id)
        if row >= 0:
            first_launch[row] = min(first_launch[row], o.launch_time_s)
        eng_threat[o.engagement_id] = row
        _event(rec, o.launch_time_s, "launch", threat=row, track=o.track_id, battery=o.battery, layer=bat.layer,
               rounds=o.rounds, ecef=bat.ecef,
               detail=f"{o.rounds} x {bat.spec.name} engagement {o.engagement_id} "
                      f"intercept at {o.intercept_time_s:.0f} s")


def _record(rec: RunRecord, t, truth_state, pic, threats: ThreatPicture, track_truth):
    pos, vel, alive = truth_state(t)
    idx = np.flatnonzero(alive)
    if idx.size:
        lat, lon, alt = geo.ecef_to_geodetic(pos[idx])
        spd = np.linalg.norm(vel[idx], axis=1)
        for k, i in enumerate(idx):
            rec.truth_rows.append((t, int(i), float(np.degrees(lat[k])), float(np.degrees(lon[k])), float(alt[k]),
                                   float(spd[k])))
    est = pic.x[:, :3]
    g = gospa(pos[idx], est, c=GOSPA_C_M)
    rec.gospa_rows.append((t, g.total, g.localisation, g.missed, g.false, len(idx), len(est),
                           len(idx) - g.n_missed))
    if len(pic.track_id):
        tids = pic.track_id.tolist()
        rows = np.array([truth_of(track_truth, tid) for tid in tids], dtype=np.int64)
        err = _truth_errors(pic, rows, pos, vel, alive)
        lat, lon, alt = geo.ecef_to_geodetic(est)
        spd = np.linalg.norm(pic.x[:, 3:], axis=1)
        row_of = {int(tid): i for i, tid in enumerate(threats.track_id)}
        # The C2's predicted impact point and time to go, where threat evaluation has one.
        imp = np.full((len(threats.track_id), 3), np.nan)
        ok = np.all(np.isfinite(threats.impact_ecef), axis=1)
        if ok.any():
            ilat, ilon, _ = geo.ecef_to_geodetic(threats.impact_ecef[ok])
            imp[ok] = np.column_stack([np.degrees(ilat), np.degrees(ilon), threats.time_to_go_s[ok]])
        for k, tid in enumerate(tids):
            r = row_of.get(tid, -1)
            cls = threats.class_names[r] if r >= 0 else ""
            asset = int(threats.asset[r]) if r >= 0 else -1
            pred = imp[r].tolist() if r >= 0 else [np.nan] * 3
            rec.track_rows.append((t, tid, float(np.degrees(lat[k])), float(np.degrees(lon[k])), float(alt[k]),
                                   float(spd[k]), cls, asset, int(rows[k]), *err[k].tolist(), *pred))


def _truth_errors(pic, rows, pos, vel, alive) -> np.ndarray:
    """Per track: position error (m), velocity error (m/s), position NEES (3 dof) and state NEES (6 dof).

    Against the state of the truth the track took most plots from, at the
    picture's time; NaN where that truth is not alive (killed, impacted, or
    none: a track of false alarms).  Feeds the SIAP accuracy and NEES of the
    run summary.
    """
    out = np.full((rows.size, 4), np.nan)
    ok = rows >= 0
    ok[ok] = alive[rows[ok]]
    if ok.any():
        r = rows[ok]
        e = pic.x[ok] - np.concatenate([pos[r], vel[r]], axis=1)
        P = pic.P[ok]
        out[ok, 0] = np.linalg.norm(e[:, :3], axis=1)
        out[ok, 1] = np.linalg.norm(e[:, 3:], axis=1)
        out[ok, 2] = nees(e[:, :3], P[:, :3, :3])
        out[ok, 3] = nees(e, P)
    return out


# --------------------------------------------------------------------------- replay records


def _flyouts(eff: Effectors, batteries) -> list[dict]:
    """Every interceptor launched: battery, engagement, times, launch point and its last aim point.

    An interceptor flies from its battery to its aim point at its average
    speed (:mod:`tdome.world.effectors`), so these two points and times give
    its path; one still in flight at the end of the run keeps its last aim.
    """
    out = []
    for itc in sorted(eff.done + eff.flying, key=lambda i: i.interceptor_id):
        la, lo, al = geo.ecef_to_geodetic(np.stack([itc.launch_ecef, itc.aim_ecef]))
        out.append(dict(interceptor_id=itc.interceptor_id, engagement_id=itc.engagement_id, battery=itc.battery,
                        layer=batteries[itc.battery].layer, track_id=itc.track_id, launch_s=float(itc.launch_s),
                        intercept_s=float(itc.intercept_s),
                        launch_lat_deg=float(np.degrees(la[0])), launch_lon_deg=float(np.degrees(lo[0])),
                        launch_alt_m=float(al[0]), aim_lat_deg=float(np.degrees(la[1])),
                        aim_lon_deg=float(np.degrees(lo[1])), aim_alt_m=float(al[1])))
    return out
