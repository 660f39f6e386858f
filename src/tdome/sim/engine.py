"""The time loop: world → sensors → C2 → effectors → world.

Each C2 cycle of ``c2.cycle_s`` seconds:

1. orders and aim updates that reach the batteries in the cycle are carried
   out at their arrival, and intercepts due in the cycle are resolved
   against truth, in time order (so a radar scanning after a kill no longer
   sees the threat);
2. every radar scan due in the cycle is simulated at its own instant and its
   plots are sent over the network (:mod:`tdome.sim.network`) to the nodes
   that track them (:mod:`tdome.sim.command`);
3. threats that reach the ground in the cycle impact: a leaker if the threat
   was not intercepted, a hit on every asset within its lethal radius;
4. the batteries report their status; plots, status and launch reports that
   have arrived reach their nodes in order of arrival (a late plot reaches
   the tracker out of sequence); the deciding nodes decide from what they
   have received, never from truth; their orders wait for an operator where
   the layer's authority is 'confirm', then go out over the network, and
   what arrives at once is carried out at once.

With no ``network`` section every message arrives the instant it is sent and
the one C2 commands every battery: the run is the one a perfect network gives.

The defence's own fate in a contested sky (radars and batteries destroyed,
down with faults, silent under emission control) is kept by
:class:`tdome.sim.defence.Defence`, which the phases ask.

Everything the run observed is kept in a :class:`RunRecord` (event log,
truth and track samples, timings); :mod:`tdome.sim.report` turns it into the
summary.
"""

from __future__ import annotations

import heapq
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from itertools import repeat
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from tdome import geo
from tdome.analysis.metrics import gospa, nees
from tdome.c2.threat import ThreatPicture, evaluate_threats
from tdome.c2.tracking import AirPicture
from tdome.c2.tracking.plausibility import Envelope
from tdome.messages import THREAT_CLASSES, DefendedAsset, SensorSite
from tdome.sensors.jamming import JammerState
from tdome.sim.build import (
    RaidTruth,
    build_assets,
    build_batteries,
    build_jamming,
    build_network,
    build_raid,
    build_sensors,
    c2_config,
)
from tdome.sim.command import build_command
from tdome.sim.defence import Defence
from tdome.sim.network import Network
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
    # The same over the detectable threats only (inside some radar's coverage, above its horizon: SensorSite.covers)
    # and the tracks not held on a threat alive out of every radar's sight.
    gospa_detectable_rows: list[tuple] = field(default_factory=list)
    truth_detectable: list[bool] = field(default_factory=list)  # per truth row: detectable at that instant
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
    # The network and the chain of command.
    architecture: str = "integrated"
    perfect_network: bool = True
    plot_age_s: list[float] = field(default_factory=list)  # per scan delivered: arrival minus measurement time
    legs: list[dict] = field(default_factory=list)  # per engagement: the times of its sensor-to-shooter chain
    decisions: list[tuple] = field(default_factory=list)  # operators: (t, layer, seconds taken, refused)
    links: list[dict] = field(default_factory=list)  # per link and direction: Network.link_report
    messages: dict = field(default_factory=dict)  # per message kind: sent and delivered
    # (radars, threats): which radar ever made a plot of which threat
    detected_by: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=bool))
    # Jamming: the jammers, and per radar the plots the same draws would have made without it and the strobes.
    jamming: dict = field(default_factory=dict)
    # Radars and batteries destroyed (name -> time) and the rounds lost with the batteries.
    defence_lost: dict = field(default_factory=dict)
    # Faults: seconds each faulty radar and battery (launcher-seconds) was down, and rounds that failed at launch.
    faults: dict = field(default_factory=dict)
    # Emission control: silent scans and the plots they would have made, per radar; anti-radiation threats.
    emcon: dict = field(default_factory=dict)
    anti_radiation: dict = field(default_factory=dict)
    # The kinematics of every catalog type and of aircraft (tdome.c2.tracking.plausibility), and the tracks of the
    # recorded pictures whose estimate left it (track id -> number of record instants): zero is the goal.
    envelope: Envelope | None = None
    implausible_tracks: dict = field(default_factory=dict)


def _event(rec: RunRecord, t: float, kind: str, *, threat=-1, track=-1, battery=-1, layer="", interceptor=-1,
           rounds=0, ecef=None, detail="") -> None:
    lat = lon = alt = np.nan
    if ecef is not None and np.all(np.isfinite(ecef)):
        la, lo, al = geo.ecef_to_geodetic(np.asarray(ecef, dtype=float))
        lat, lon, alt = float(np.degrees(la)), float(np.degrees(lo)), float(al)
    rec.events.append(dict(time_s=float(t), kind=kind, threat_id=int(threat), track_id=int(track),
                           battery=int(battery), layer=layer, interceptor_id=int(interceptor), rounds=int(rounds),
                           lat_deg=lat, lon_deg=lon, alt_m=alt, detail=detail))


def run(scenario, progress: Callable[..., None] | None = None,
        magazines: Sequence[int] | None = None, attach: Callable[[_Battle], None] | None = None) -> RunRecord:
    """Run one scenario end to end.

    ``progress(t_s, stage)`` is called during set-up with ``t_s = 0`` and a
    word on what is being built (a large raid takes a while to fly out),
    then after each cycle with the simulated time and ``stage=None``.
    The run ends at ``duration_s``, or earlier once the battle is over.
    ``magazines``: each battery's rounds at the start, in place of its
    magazine (a campaign's day after the first; fewer than its launchers
    hold is allowed: they are loaded as far as the rounds go).  ``attach(battle)`` is called once the battle is
    set up, before the first cycle: ``tdome feed`` puts a remote C2 in the place of the simulated one there
    (:mod:`tdome.live.feed`).
    """
    wall0 = time.perf_counter()
    sc = scenario
    say = progress or (lambda t_s, stage=None: None)
    say(0.0, "building assets, sensors and batteries")
    assets = build_assets(sc)
    sites, radars = build_sensors(sc)
    batteries = build_batteries(sc)
    if magazines is not None:
        batteries = [replace(b, magazine=int(m)) for b, m in zip(batteries, magazines, strict=True)]
    say(0.0, f"flying out the raid's {sc.threat_count:,} trajectories")
    raid = build_raid(sc, assets, lambda done, total: say(0.0, f"flying out trajectories: {done:,} of {total:,}"))
    say(0.0, "starting the battle")
    battle = _Battle(sc, assets, sites, radars, batteries, raid)
    if attach is not None:
        attach(battle)
    dt = float(sc.c2.cycle_s)
    t = 0.0
    while t < sc.duration_s - 1e-9:
        t_next = min(t + dt, float(sc.duration_s))
        battle.cycle(t, t_next)
        t = t_next
        if battle.over(t):
            break
        say(t)
    say(float(sc.duration_s))
    return battle.finish(t, wall0)


class _Battle:
    """One run's state, and the phases of a cycle (see the module docstring)."""

    def __init__(self, sc, assets, sites, radars, batteries, raid):
        self.sc = sc
        self.sites, self.radars, self.batteries, self.raid = sites, radars, batteries, raid
        self.traj = raid.trajectories
        self.jamming = build_jamming(sc, raid)
        self.damage_done = np.zeros(len(raid), dtype=bool)  # impacts whose damage to the defence is done
        n = len(raid)
        self.kill_s = np.full(n, np.inf)
        self.first_detect = np.full(n, np.inf)
        self.first_launch = np.full(n, np.inf)
        self.rec = RunRecord(sc, assets, sites, batteries, raid, first_detect_s=self.first_detect,
                             first_launch_s=self.first_launch, kill_s=self.kill_s,  # filled in place as it runs
                             detected_by=np.zeros((len(sites), n), dtype=bool))
        # The defence's own fate: radars and batteries destroyed, down with faults, silent.
        self.defence = Defence(sc, sites, batteries, lambda t, kind, **kw: _event(self.rec, t, kind, **kw))
        self.impacted = np.zeros(n, dtype=bool)
        self.launched = np.zeros(n, dtype=bool)
        self.eng_threat: dict[int, int] = {}  # engagement id -> truth row (for metrics only)
        # track id -> plots taken from each truth row (-1: false alarm), rows in the order first counted
        self.track_truth: dict[int, dict[int, int]] = {}
        self.track_latest: dict[int, int] = {}  # track id -> truth row of the latest plot it took (-1: false alarm)
        self.eff = Effectors(batteries, stream(sc.seed, "effectors"), stream(sc.seed, "faults:launch"))
        self.impact_at: dict[int, tuple[float, float, np.ndarray]] = {}  # row -> (lat, lon, ecef) where it landed
        self.spec = build_network(sc, sites)
        perfect = sc.sim.fidelity == "perfect_picture"
        c2 = c2_config(sc)
        self.command = build_command(self.spec, sites, assets, c2, [b.name for b in batteries],
                                     self.truth_state if perfect else None, raid.cls)
        self.rec.envelope = Envelope.of(c2.tracker.threat_kinematics or (), c2.tracker)
        outages = dict(zip(self.spec.c2_nodes, self.spec.c2_outages))
        self.net = Network(self.spec, sc.seed, float(sc.duration_s), outages)
        self.operators = stream(sc.seed, "operators")
        self.decisions: list[tuple[float, int, str, int, bool]] = []  # (time, seq, node, engagement, refused)
        self._seq = 0
        self.heard_c2 = np.zeros(len(batteries))  # when each battery last heard from a C2 node
        self.autonomous = np.zeros(len(batteries), dtype=bool)
        self.legs: dict[int, dict] = {}  # engagement id -> the times of its sensor-to-shooter chain
        self.multi = len(self.command.nodes) > 1
        self.battery_index = {b.name: i for i, b in enumerate(batteries)}
        self.recorded = set(self._recorded_pictures())
        self.in_command = {self.command.c2[0].name} if self.command.c2 else set()
        self.next_record = 0.0

    # ---- truth

    def truth_state(self, t):
        pos, vel, alive = self.traj.state_at(t)
        return pos, vel, alive & (self.kill_s > t)

    def truth_pos(self, t):
        pos, _, alive = self.truth_state(t)
        return pos, alive

    # ---- one cycle

    def cycle(self, t: float, t_next: float) -> None:
        cyc0 = time.perf_counter()
        rec, traj = self.rec, self.traj
        for i in np.flatnonzero(~self.launched & (traj.launch_s <= t_next)):
            self.launched[i] = True
            _event(rec, traj.launch_s[i], "threat_launch", threat=i, ecef=traj.launch_ecef[i],
                   detail=f"{self.raid.type_name[i]} {self.raid.label[i]}".strip())
        self._downlink_and_intercepts(t, t_next)  # 1. orders and aim updates arriving, intercepts, in time order
        self._scans(t, t_next)  # 2. radar scans, their plots sent
        self._impacts(t, t_next)  # 3. impacts
        self._status(t_next)  # battery status sent
        for msg in self.net.due(t_next, "up"):  # plots, status and reports reach the deciding nodes
            self._deliver_up(msg)
        self._decide(t_next)  # 4. the nodes decide; orders go out
        self._downlink_and_intercepts(t_next, t_next)  # what arrives at once is carried out at once
        if t_next >= self.next_record - 1e-9:
            _record(rec, t_next, self.truth_state, self._views(t_next), self.track_truth)
            self.next_record += RECORD_EVERY_S
        rec.cycle_ms.append((time.perf_counter() - cyc0) * 1e3)

    def _downlink_and_intercepts(self, t: float, t_next: float) -> None:
        t_cur = t
        for msg in self.net.due(t_next, "down"):
            if msg.arrive_s > t_cur:
                self._intercepts(t_cur, msg.arrive_s)
                self._damage(t_cur, msg.arrive_s)
                t_cur = msg.arrive_s
            self._deliver_down(msg)
        if t_next > t_cur:
            self._intercepts(t_cur, t_next)
            self._damage(t_cur, t_next)

    def _intercepts(self, t: float, t_next: float) -> None:
        for itc, row, killed, miss in self.eff.resolve(t, t_next, self.truth_pos, self.kill_s, self.raid.cls):
            bat = self.batteries[itc.battery]
            kind = "kill" if killed else "miss"
            detail = f"miss distance {miss:.0f} m" if np.isfinite(miss) else "no target in basket"
            _event(self.rec, itc.intercept_s, kind, threat=row, track=itc.track_id, battery=itc.battery,
                   layer=bat.layer, interceptor=itc.interceptor_id, ecef=itc.aim_ecef, detail=detail)

    def _scans(self, t: float, t_next: float) -> None:
        feeds, traj, rcs, defence = self.command.feeds, self.traj, self.raid.rcs_m2, self.defence
        scans = sorted((ts, k) for k, r in enumerate(self.radars) for ts in r.scan_instants(t, t_next)
                       if defence.scans(k, ts))
        for ts, k in scans:
            # The live threats (truth_state's alive rows) and their states, in one compiled pass.
            idx, pos_a, vel_a = traj.live_state_at(ts, self.kill_s)
            jam = None
            if self.jamming is not None:
                jpos, fig = self.jamming.at(ts, idx, pos_a)
                jam = JammerState(jpos, fig[:, 0], fig[:, 1], fig[:, 2], fig[:, 3]) if len(jpos) else None
            det, src = self.radars[k].scan(ts, pos_a, vel_a, rcs[idx], jam)
            if defence.silent(k, ts):
                # Silent under emission control: the plots the scan would have made are its cost, and go nowhere
                # (the scan is still drawn, so that silence changes no other draw of the run).
                defence.count_silent(k, int(np.sum(src >= 0)))
                continue
            truth_rows = _plot_truth(src, idx, ts, self.first_detect, self.rec.detected_by[k])
            name = self.sites[k].name
            for f in feeds[k]:
                send = self.net.wire if f.wired else self.net.send
                send(ts, "plots", name, f.dst, det, meta=(f.picture, truth_rows), lane="up")

    def _impacts(self, t: float, t_next: float) -> None:
        traj, rec, assets = self.traj, self.rec, self.rec.assets
        for i in self._landed(self.impacted, t, t_next):
            lat, lon, ecef = self._landing(i)
            hits = [j for j, a in enumerate(assets) if a.distance_m(lat, lon) <= self.raid.lethal_radius_m[i]]
            rec.impact_hits[int(i)] = hits
            kind = "leak" if self.raid.intended_asset[i] >= 0 or hits else "impact"
            detail = ", ".join(assets[j].name for j in hits) if hits else "no asset hit"
            _event(rec, traj.impact_s[i], kind, threat=i, ecef=ecef, detail=detail)

    def _landing(self, i: int) -> tuple[float, float, np.ndarray]:
        """Where threat i lands: its trajectory's end, or for an anti-radiation threat whose radar was quiet at
        the end, that point moved by its drift since the radar fell quiet (a direction of its own stream)."""
        if i in self.impact_at:
            return self.impact_at[i]
        traj = self.traj
        lat, lon, _ = geo.ecef_to_geodetic(traj.impact_ecef[i])
        ecef = traj.impact_ecef[i]
        k = int(self.raid.arm_radar[i]) if self.raid.arm_radar.size else -1
        t_end = float(traj.impact_s[i])
        if k >= 0 and not self.defence.emitting(k, t_end):
            quiet = max(self.defence.quiet_since(k, t_end), float(traj.launch_s[i]))
            miss = float(self.raid.drift_mps[i]) * (t_end - quiet)
            bearing = stream(self.sc.seed, f"arm:{i}").uniform(0.0, 2.0 * np.pi)
            lat, lon = geo.destination(lat, lon, bearing, miss)
            ecef = geo.geodetic_to_ecef(lat, lon, 0.0)
        self.impact_at[i] = (float(lat), float(lon), ecef)
        return self.impact_at[i]

    def _damage(self, t: float, t_next: float) -> None:
        """Threats landing in (t, t_next] unkilled destroy the radars and batteries within their lethal radius.

        Called in time order with the orders arriving (:meth:`_downlink_and_intercepts`), so a battery hit
        fires nothing after the hit, and before the scans, so a radar hit scans no more.
        """
        for i in self._landed(self.damage_done, t, t_next):
            lat, lon, _ = self._landing(i)
            self.defence.destroy_near(i, float(self.traj.impact_s[i]), lat, lon, float(self.raid.lethal_radius_m[i]))

    def _landed(self, done: np.ndarray, t: float, t_next: float) -> list[int]:
        """The threats that land unkilled in (t, t_next] and are not yet ``done`` (a pass's mask), marked done."""
        traj = self.traj
        due = np.flatnonzero(~done & (traj.impact_s > t) & (traj.impact_s <= t_next))
        done[due] = True
        return [int(i) for i in due if self.kill_s[i] > traj.impact_s[i]]

    def _status(self, t: float) -> None:
        """Each battery reports to the C2 nodes over the network, and to its own fire control by wire.

        A report that arrives the instant it is sent (by wire, or over a perfect network) goes straight into the
        node's view, as the delivery at the end of the cycle would put it there: a node keeps the latest report
        of each battery, whatever the order they arrive in, and nothing reads the views before the decision.
        """
        net, c2, fire_control = self.net, self.command.c2, self.command.fire_control
        for st in self.eff.status(t):
            name = self.batteries[st.index].name
            if net.perfect:
                net.count_delivered("status", len(c2))
                for node in c2:
                    _take_status(node, t, st)
            else:
                for node in c2:
                    net.send(t, "status", name, node.name, st, lane="up")
            if st.index in fire_control:
                _take_status(fire_control[st.index], t, st)
        if len(c2) > 1:  # the C2 nodes tell each other they are alive
            for a in c2:
                for b in c2:
                    if a is not b and self.net.node_up(a.name, t):
                        self.net.send(t, "heartbeat", a.name, b.name, None, lane="up")

    def _deliver_up(self, msg) -> None:
        kind = msg.kind
        if kind == "plots":
            key, truth_rows = msg.meta
            pic = self.command.pictures[key]
            if pic.perfect is not None:
                pic.perfect.observe(truth_rows, msg.arrive_s)
            s0 = time.perf_counter()
            pic.source.process(msg.payload)
            self.rec.scan_ms.append((time.perf_counter() - s0) * 1e3)
            if key in self.recorded:
                self.rec.plot_age_s.append(msg.arrive_s - msg.payload.time_s)
            # Truth bookkeeping for metrics: which object's plots each track took.
            assoc = pic.source.last_association  # PictureSource: the tracker's, or the perfect picture's
            track_truth, latest = self.track_truth, self.track_latest
            for tid, row in zip(assoc.track_id.tolist(), truth_rows[assoc.plot].tolist()):
                c = track_truth.get(tid)
                if c is None:
                    track_truth[tid] = {row: 1}
                else:
                    c[row] = c.get(row, 0) + 1
                latest[tid] = row
            return
        node = self.command.node(msg.dst)
        if kind == "status":
            _take_status(node, msg.sent_s, msg.payload)
        elif kind == "heartbeat":
            node.heard[msg.src] = msg.arrive_s
        elif kind == "launch_report":
            node.bm.launch_report(*msg.payload)

    def _deciding(self, t: float) -> list:
        """The nodes that decide at ``t``: the C2 node in command, and fire controls fighting alone."""
        out = []
        failover = self.spec.failover_after_s
        for node in self.command.c2:
            if not self.net.node_up(node.name, t):
                continue
            seniors = self.command.c2[:node.rank]
            if all(t - node.heard.get(s.name, 0.0) > failover for s in seniors):
                out.append(node)
                if node.rank > 0 and node.name not in self.in_command:
                    _event(self.rec, t, "c2_takeover", detail=f"{node.name} takes command: no word from "
                                                              + ", ".join(s.name for s in seniors))
        self.in_command = {n.name for n in out}
        arch = self.spec.architecture
        for b, node in self.command.fire_control.items():
            if arch == "separate":
                out.append(node)
            elif t - self.heard_c2[b] > self.spec.fallback_after_s:
                if not self.autonomous[b]:
                    self.autonomous[b] = True
                    _event(self.rec, t, "fallback", battery=b, layer=self.batteries[b].layer,
                           detail=f"no word from the C2 for {t - self.heard_c2[b]:.0f} s: fighting alone")
                out.append(node)
        return out

    def _decide(self, t: float) -> None:
        rec = self.rec
        # Operators who decided since the last cycle: their orders go out at the time they decided.  The C2
        # core sees them at its cycle; a reaction time longer than the cycle keeps every launch in the future.
        for td, _, name, eid, refused in self._due_decisions(t):
            self._operator(td, self.command.node(name), eid, refused)
        for node in self._deciding(t):
            statuses = [node.status[b][1] for b in node.batteries if b in node.status]
            # A node that was not deciding a cycle ago (a standby taking command, a fire control falling back)
            # cannot say when the tracks it finds were confirmed.
            cycle = float(self.sc.c2.cycle_s)
            known = t <= cycle + 1e-9 or (node.last is not None and node.last.picture.time_s >= t - cycle - 1e-9)
            out = node.bm.decide(t, statuses)
            node.last = out
            seen, confirmed_s = node.first_seen, t if known else np.nan
            for tid, first in zip(out.picture.track_id.tolist(), out.picture.first_update_s.tolist()):
                if tid not in seen:
                    seen[tid] = (confirmed_s, first)
            where = f" ({node.name})" if self.multi else ""
            if out.assignment is not None:
                a = out.assignment
                rec.assign_rows.append((t, *out.assignment_shape, a.solve_s * 1e3,
                                        np.nan if a.gap is None else a.gap, a.proven, a.timed_out))
                if out.solver_overrun_s > 0.0:
                    limit = node.bm.config.assignment.time_budget_s
                    _event(rec, t, "solver_overrun", detail=f"{node.bm.config.assignment.solver} took "
                           f"{limit + out.solver_overrun_s:.3f} s of a {limit:.3f} s limit{where}")
            for name, until in out.silence:  # emission control: the order travels to the radar
                send = self.net.wire if node.kind == "fire_control" else self.net.send
                send(t, "emcon", node.name, name, until, meta=(t, where), lane="down")
            for tid in out.discriminated:
                # The object the track follows now: in a cloud a track may have moved from the warhead it held
                # for most of its life to a decoy, which is what the fit of its latest plots has seen.
                row = self.track_latest.get(tid, -1)
                _event(rec, t, "discriminated", threat=row if row >= 0 else truth_of(self.track_truth, tid),
                       track=tid, detail=f"track {tid} found light (a decoy) by its deceleration{where}")
            for eid, tid, verdict in out.assessments:
                _event(rec, t, "assessed_" + verdict, track=tid, detail=f"engagement {eid}{where}")
            for eid, tid, reason in out.withdrawn:
                _event(rec, t, "order_" + reason, track=tid, detail=f"engagement {eid}{where}")
            by_battery: dict[int, list] = {}
            for u in out.aim_updates:
                by_battery.setdefault(node.bm.engagements[u.engagement_id].battery, []).append(u)
            for b, ups in by_battery.items():
                self._send_down(t, node, b, "aim", ups)
            # Orders in the order they were decided; those awaiting an operator are decided now or later.
            awaiting = {o.engagement_id for o in out.requests}
            for o in sorted(out.orders + out.requests, key=lambda o: o.engagement_id):
                confirmed_s, first_plot_s = node.first_seen.get(o.track_id, (t, np.nan))
                self.legs[o.engagement_id] = dict(node=node.name, track=o.track_id, battery=o.battery,
                                                  layer=self.batteries[o.battery].layer, first_plot_s=first_plot_s,
                                                  confirmed_s=confirmed_s, decided_s=t)
                if o.engagement_id in awaiting:
                    delay, refused = self.spec.operators.draw(self.operators)
                    if delay <= 0.0:
                        self._operator(t, node, o.engagement_id, refused)
                    else:
                        self._seq += 1
                        heapq.heappush(self.decisions, (t + delay, self._seq, node.name, o.engagement_id, refused))
                else:
                    self._order_out(t, node, o)
            if node.kind == "c2" and self.spec.architecture == "integrated_with_fallback":
                for b in node.batteries:  # a battery that hears nothing for long enough fights alone
                    self._send_down(t, node, b, "heartbeat", None)

    def _due_decisions(self, t: float):
        while self.decisions and self.decisions[0][0] <= t:
            yield heapq.heappop(self.decisions)

    def _operator(self, t: float, node, eid: int, refused: bool) -> None:
        e = node.bm.engagements.get(eid)
        if e is None:
            return  # withdrawn while it waited (its window closed)
        layer = self.batteries[e.battery].layer
        self.rec.decisions.append((t, layer, t - self.legs[eid]["decided_s"], refused))
        if refused:
            node.bm.reject(eid)
            _event(self.rec, t, "order_refused", track=e.track_id, battery=e.battery, layer=layer,
                   detail=f"engagement {eid}: the operator refused")
            return
        order = node.bm.approve(eid, t)
        if order is None:
            _event(self.rec, t, "order_expired", track=e.track_id, battery=e.battery, layer=layer,
                   detail=f"engagement {eid}: approved after its shot window closed")
            return
        self._order_out(t, node, order)

    def _order_out(self, t: float, node, order) -> None:
        self.legs[order.engagement_id]["released_s"] = t
        self._send_down(t, node, order.battery, "order", order)

    def _send_down(self, t: float, node, battery: int, kind: str, payload) -> None:
        name = self.batteries[battery].name
        if node.kind == "fire_control":
            self.net.wire(t, kind, node.name, name, payload, lane="down")
        else:
            self.net.send(t, kind, node.name, name, payload, lane="down")

    def _deliver_down(self, msg) -> None:
        """A message reaches a battery, or (emission control) a radar, at ``msg.arrive_s``."""
        if msg.kind == "emcon":
            ordered_s, where = msg.meta
            self.defence.silence(msg.arrive_s, msg.dst, msg.payload, ordered_s, where)
            return
        b = self.battery_index[msg.dst]
        from_c2 = msg.src != msg.dst
        if from_c2:
            self.heard_c2[b] = max(self.heard_c2[b], msg.arrive_s)
            if self.autonomous[b]:
                self.autonomous[b] = False
                _event(self.rec, msg.arrive_s, "rejoined", battery=b, layer=self.batteries[b].layer,
                       detail=f"hears {msg.src} again")
        elif not self.autonomous[b] and self.spec.architecture != "separate":
            return  # its own fire control's word counts only while it fights alone
        if msg.kind == "aim":
            self.eff.uplink(msg.payload)
        elif msg.kind == "order":
            self._execute(msg.arrive_s, msg.payload, msg.src)

    def _execute(self, t: float, o, src: str) -> None:
        rec = self.rec
        failed_before = len(self.eff.launch_failures)
        launched = self.eff.execute(t, [o])
        bat = self.batteries[o.battery]
        row = truth_of(self.track_truth, o.track_id)
        failed = len(self.eff.launch_failures) - failed_before
        if failed:
            _event(rec, self.eff.launch_failures[-1][0], "launch_failure", threat=row, track=o.track_id,
                   battery=o.battery, layer=bat.layer, rounds=failed, ecef=bat.ecef,
                   detail=f"{failed} x {bat.spec.name} engagement {o.engagement_id}: failed at launch")
        self.eng_threat[o.engagement_id] = row
        leg = self.legs.get(o.engagement_id)
        if leg is not None:
            leg.update(delivered_s=t, rounds=len(launched))
        if not launched:  # no round ready when the order came (it was decided on an older status)
            return
        launch_s, intercept_s = launched[0].launch_s, launched[0].intercept_s
        if row >= 0:
            self.first_launch[row] = min(self.first_launch[row], launch_s)
        if leg is not None:
            leg["launch_s"] = launch_s
        _event(rec, launch_s, "launch", threat=row, track=o.track_id, battery=o.battery, layer=bat.layer,
               rounds=len(launched), ecef=bat.ecef,
               detail=f"{len(launched)} x {bat.spec.name} engagement {o.engagement_id} "
                      f"intercept at {intercept_s:.0f} s")
        report = (o.engagement_id, launch_s, intercept_s)
        if src == bat.name:
            self.net.wire(t, "launch_report", bat.name, src, report, lane="up")
        else:
            self.net.send(t, "launch_report", bat.name, src, report, lane="up")

    def _views(self, t: float) -> list:
        """The pictures the run records: the C2 node in command's, or every fire control's under 'separate'."""
        if self.spec.architecture == "separate":
            seen, out = set(), []
            for node in self.command.fire_control.values():
                if node.last is not None and node.picture.key not in seen:
                    seen.add(node.picture.key)
                    out.append((node.last.picture, node.last.threats))
            return out
        for node in self.command.c2:
            if node.last is not None and node.last.picture.time_s == t:
                return [(node.last.picture, node.last.threats)]
        node = self.command.c2[0]
        pic = node.picture.source.picture(t)
        return [(pic, evaluate_threats(pic, self.rec.assets, node.bm.config.threat))]

    def over(self, t: float) -> bool:
        """Nothing left to happen: every threat launched and resolved (killed or down), no interceptor in
        flight, no operator's decision pending and no kill assessment due at a node still deciding (one that
        no longer decides, a fire control back under the C2, never assesses), so later cycles could only repeat
        an empty sky."""
        if not (bool(self.launched.all()) and bool(np.all(self.impacted | (self.kill_s <= t)))):
            return False
        if self.eff.flying or self.decisions:
            return False
        deciding = [n for n in self.command.nodes if n.last is not None and n.last.picture.time_s == t]
        return all(e.assessed for node in deciding for e in node.bm.engagements.values())

    def finish(self, t: float, wall0: float) -> RunRecord:
        rec = self.rec
        rec.end_s = t
        stats: Counter = Counter()
        for key in self._recorded_pictures():
            stats.update(self.command.pictures[key].source.stats)  # PictureSource.stats
        rec.tracker_stats = dict(stats)
        rec.engagement_threat = self.eng_threat
        rec.flyouts = _flyouts(self.eff, self.batteries)
        rec.legs = [dict(engagement_id=eid, **leg) for eid, leg in sorted(self.legs.items())]
        rec.links = self.net.link_report()
        rec.messages = {k: dict(sent=v[0], delivered=v[1]) for k, v in self.net.by_kind.items() if v[0]}
        rec.architecture = self.spec.architecture
        rec.perfect_network = self.net.perfect
        rec.defence_lost, rec.emcon, faults = self.defence.report(t)
        arm = np.flatnonzero(self.raid.arm_radar >= 0) if self.raid.arm_radar.size else np.zeros(0, dtype=int)
        landed = [i for i in arm.tolist() if i in self.impact_at]
        rec.anti_radiation = dict(
            threats=int(arm.size), landed=len(landed),
            on_their_radar=sum(self.defence.radar_lost_s[self.raid.arm_radar[i]] == self.traj.impact_s[i]
                               for i in landed))
        rec.faults = dict(faults, launch_failures=len(self.eff.launch_failures))
        rec.jamming = dict(
            standoff_jammers=0 if self.jamming is None else len(self.jamming.standoff),
            escort_jammers=0 if self.jamming is None else int(self.jamming.escort_rows.size),
            plots_lost=int(sum(r.lost_to_jamming for r in self.radars)),
            strobes=int(sum(r.strobes_reported for r in self.radars)),
            by_radar={s.name: dict(plots_lost=r.lost_to_jamming, strobes=r.strobes_reported)
                      for s, r in zip(self.sites, self.radars)})
        rec.wall_s = time.perf_counter() - wall0
        return rec

    def _recorded_pictures(self) -> list[str]:
        if self.spec.architecture == "separate":
            return list(dict.fromkeys(n.picture.key for n in self.command.fire_control.values()))
        return [self.command.c2[0].picture.key]


def _take_status(node, sent_s: float, st) -> None:
    """A battery's report reaches a node, which keeps each battery's latest (by the time it was sent)."""
    if st.index not in node.status or node.status[st.index][0] <= sent_s:
        node.status[st.index] = (sent_s, st)


def truth_of(track_truth: dict, track_id: int) -> int:
    """The truth row whose plots a track took most often (-1: none, or mostly false alarms)."""
    c = track_truth.get(track_id)
    if not c:
        return -1
    return max(c, key=c.__getitem__)  # c.most_common(1)[0][0]: the first counted of the most common


def _record(rec: RunRecord, t, truth_state, views: list[tuple[AirPicture, ThreatPicture]], track_truth):
    """Truth, GOSPA and every track of the recorded pictures at ``t`` (several under 'separate': together they
    are what the batteries' operators see, duplicates and all)."""
    pos, vel, alive = truth_state(t)
    idx = np.flatnonzero(alive)
    seen = np.zeros(idx.size, dtype=bool)  # detectable: inside some radar's coverage, above its horizon
    if idx.size:
        lat, lon, alt = geo.ecef_to_geodetic(pos[idx])
        spd = np.linalg.norm(vel[idx], axis=1)
        rec.truth_rows.extend(zip(repeat(t, idx.size), idx.tolist(), np.degrees(lat).tolist(),
                                  np.degrees(lon).tolist(), alt.tolist(), spd.tolist()))
        for site in rec.sites:
            seen |= np.atleast_1d(site.covers(pos[idx]))
        rec.truth_detectable.extend(seen.tolist())
    est = np.concatenate([pic.x[:, :3] for pic, _ in views]) if views else np.zeros((0, 3))
    g = gospa(pos[idx], est, c=GOSPA_C_M)
    rec.gospa_rows.append((t, g.total, g.localisation, g.missed, g.false, len(idx), len(est),
                           len(idx) - g.n_missed))
    # The truth row each track is scored against (truth_of), once for the GOSPA below and the track rows.
    rows = [[truth_of(track_truth, tid) for tid in pic.track_id.tolist()] for pic, _ in views]
    # Over the detectable threats: a track held on a threat no radar can see now (coasting out of coverage) is
    # neither false nor a match; every other track stays in.
    hidden = set(idx[~seen].tolist())
    if hidden:
        est = est[np.array([r not in hidden for view_rows in rows for r in view_rows], dtype=bool)]
    g = gospa(pos[idx[seen]], est, c=GOSPA_C_M)
    rec.gospa_detectable_rows.append((t, g.total, g.localisation, g.missed, g.false, int(seen.sum()), len(est),
                                      int(seen.sum()) - g.n_missed))
    for (pic, threats), view_rows in zip(views, rows):
        if rec.envelope is not None and len(pic.track_id):  # the audit: tracks no object could be
            for tid in pic.track_id[rec.envelope.outside(pic.x)].tolist():
                rec.implausible_tracks[tid] = rec.implausible_tracks.get(tid, 0) + 1
        _record_tracks(rec, t, pic, threats, view_rows, pos, vel, alive)


def _record_tracks(rec: RunRecord, t, pic: AirPicture, threats: ThreatPicture, rows: list[int], pos, vel, alive):
    """One row per track (columns tdome.runfolder.TRACK_COLUMNS): :func:`_track_columns` and the NEES; ``rows``:
    the truth row each track is scored against."""
    n = len(pic.track_id)
    if not n:
        return
    tids = pic.track_id.tolist()
    row_of = {tid: i for i, tid in enumerate(threats.track_id.tolist())}
    threat_rows = [row_of.get(tid, -1) for tid in tids]  # -1: threat evaluation has no row for the track
    x = np.ascontiguousarray(pic.x, dtype=float)
    cols, e, ok = _track_columns(x, geo.ecef_to_geodetic(x[:, :3]), np.array(rows, dtype=np.int64), pos, vel,
                                 alive, np.array(threat_rows, dtype=np.int64), threats.impact_ecef,
                                 geo.ecef_to_geodetic(threats.impact_ecef), threats.time_to_go_s)
    if ok.all():  # every track on a live truth
        cols[6] = nees(e[:, :3], pic.P[:, :3, :3])
        cols[7] = nees(e, pic.P)
    elif ok.any():
        e, P = e[ok], pic.P[ok]
        cols[6, ok] = nees(e[:, :3], P[:, :3, :3])
        cols[7, ok] = nees(e, P)
    names = [THREAT_CLASSES[c] for c in threats.cls.tolist()]
    assets = threats.asset.tolist()
    cls = [names[r] if r >= 0 else "" for r in threat_rows]
    asset = [int(assets[r]) if r >= 0 else -1 for r in threat_rows]
    lat, lon, alt, spd, e_pos, e_vel, nees3, nees6, ilat, ilon, ttg = cols.tolist()
    rec.track_rows.extend(zip(repeat(t, n), tids, lat, lon, alt, spd, cls, asset, rows, e_pos, e_vel, nees3, nees6,
                              ilat, ilon, ttg))


# --------------------------------------------------------------------------- the track table, compiled
# Each record instant writes a few tens of tracks: as numpy calls, their columns would be some twenty calls on tiny
# arrays.  This pass gives the same numbers (numpy's operations in numpy's order) from the geodetic coordinates
# geo gives; the NEES stays with numpy's solve (LAPACK).

RAD2DEG = 180.0 / np.pi  # np.degrees


@njit(cache=True, error_model="numpy")
def _track_columns(x, geodetic, rows, pos, vel, alive, threat_rows, impact, impact_geodetic, ttg):  # pragma: no cover
    """The track table's numeric columns in one pass over the tracks: (11, n), the errors (n, 6) and ``ok`` (n,).

    For track k with state x̂ = (p̂, v̂), truth row r = ``rows[k]`` and threat row q = ``threat_rows[k]``
    (``geodetic``, ``impact_geodetic``: :func:`geo.ecef_to_geodetic` of p̂ and of the threats' impact points):

    - 0–3: latitude, longitude (deg) and height of p̂, speed ‖v̂‖;
    - 4–5: position and velocity error ‖p̂ − p_r‖, ‖v̂ − v_r‖ where ``ok[k]`` (r ≥ 0 and truth r alive; the
      error e = x̂ − (p_r, v_r) is row k of the second array), else NaN;
    - 6–7: NaN, for the position and state NEES of e (numpy's solve, by the caller);
    - 8–10: latitude, longitude (deg) of threat q's predicted impact and its time to go, NaN where q < 0 or
      the impact point is not finite.

    Each norm sums its squares in order, (e₀² + e₁²) + e₂², as ``np.linalg.norm``; degrees are
    ``rad · (180/π)``, as ``np.degrees``.  Held to the numpy form in tests/test_recording_compiled.py.
    """
    n = rows.size
    cols = np.full((11, n), np.nan)
    e = np.full((n, 6), np.nan)
    ok = np.zeros(n, dtype=np.bool_)
    lat, lon, alt = geodetic
    ilat, ilon, _ = impact_geodetic
    for k in range(n):
        cols[0, k] = lat[k] * RAD2DEG
        cols[1, k] = lon[k] * RAD2DEG
        cols[2, k] = alt[k]
        cols[3, k] = np.sqrt((x[k, 3] * x[k, 3] + x[k, 4] * x[k, 4]) + x[k, 5] * x[k, 5])
        r = rows[k]
        if r >= 0 and alive[r]:
            ok[k] = True
            for j in range(3):
                e[k, j] = x[k, j] - pos[r, j]
                e[k, 3 + j] = x[k, 3 + j] - vel[r, j]
            cols[4, k] = np.sqrt((e[k, 0] * e[k, 0] + e[k, 1] * e[k, 1]) + e[k, 2] * e[k, 2])
            cols[5, k] = np.sqrt((e[k, 3] * e[k, 3] + e[k, 4] * e[k, 4]) + e[k, 5] * e[k, 5])
        q = threat_rows[k]
        if q >= 0 and np.isfinite(impact[q, 0]) and np.isfinite(impact[q, 1]) and np.isfinite(impact[q, 2]):
            cols[8, k] = ilat[q] * RAD2DEG
            cols[9, k] = ilon[q] * RAD2DEG
            cols[10, k] = ttg[q]
    return cols, e, ok


# --------------------------------------------------------------------------- a scan's truth, compiled
# A run makes tens of thousands of scans of a few tens of live threats: as numpy calls, the bookkeeping of a
# scan's plots would be a handful of calls on tiny arrays each.  (The live rows and their states before a scan are
# one compiled pass too: TrajectorySet.live_state_at.)


@njit(cache=True)
def _plot_truth(src, idx, t_s, first_detect, detected):  # pragma: no cover - compiled; see _Battle._scans
    """The truth row of each plot of a scan at ``t_s`` (``idx[src]``, -1 for a false alarm, ``src`` -1).

    In place: ``first_detect[row] = min(first_detect[row], t_s)`` and ``detected[row] = True`` for every
    row a plot came from (``detected`` is the scanning radar's row of :attr:`RunRecord.detected_by`).
    """
    rows = np.empty(src.size, dtype=np.int64)
    for i in range(src.size):
        if src[i] < 0:
            rows[i] = -1
            continue
        r = idx[src[i]]
        rows[i] = r
        if first_detect[r] > t_s:
            first_detect[r] = t_s
        detected[r] = True
    return rows


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
