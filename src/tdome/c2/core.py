"""The battle manager: one C2 cycle from plots to fire orders.

    ingest(scan)            plots from any radar, in time order, into the tracker
    decide(now, batteries)  air picture → threat evaluation → kill assessment →
                            shot windows → assignment under doctrine → orders

It consumes only :mod:`tdome.messages` types (plots, sensor sites, battery
status) and emits fire orders and mid-course aim updates; it never sees truth.

Doctrine
--------
- ``shoot_look_shoot``: a threat with shots in flight is not engaged again
  until the kill assessment after their intercept time; the assignment values
  an early shot by the chance a later layer still has at a survivor, so the
  outer layer fires first when that leaves the inner layers a look-shot.
- ``fire_all``: every layer that can engage fires without waiting to look,
  up to the cap of shots per threat.
- Reserve: each battery holds back a fraction of its initial rounds for
  threats worth at least ``reserve_min_value``, until ``reserve_until_s``
  (when no later wave is expected) if the scenario gives it.

Kill assessment: ``kill_assessment_s`` after the intercept time, a track that
has not been updated since the intercept (or has been dropped) is assessed
killed and never engaged again; one that has been updated is a survivor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tdome.c2.assign import SOLVERS, Assignment, AssignmentProblem
from tdome.c2.config import AssignmentConfig, DoctrineConfig, ThreatConfig
from tdome.c2.engage import plan_windows
from tdome.c2.threat import ThreatPicture, evaluate_threats
from tdome.c2.tracking import AirPicture, PictureSource, Tracker, TrackerConfig
from tdome.messages import THREAT_CLASSES, AimUpdate, BatteryStatus, DefendedAsset, Detections, FireOrder, SensorSite


@dataclass(frozen=True)
class C2Config:
    """The whole C2 core's configuration, one dataclass per stage (each owns its defaults and rules)."""

    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    threat: ThreatConfig = field(default_factory=ThreatConfig)
    doctrine: DoctrineConfig = field(default_factory=DoctrineConfig)
    assignment: AssignmentConfig = field(default_factory=AssignmentConfig)


@dataclass
class Engagement:
    engagement_id: int
    track_id: int
    battery: int
    rounds: int
    launch_s: float
    intercept_s: float
    assessed: str = ""  # "", "killed" or "survived"


def _xyz(v: np.ndarray) -> tuple[float, float, float]:
    """A 3-vector as the plain floats a message carries."""
    x, y, z = v
    return float(x), float(y), float(z)


@dataclass
class CycleOutput:
    orders: list[FireOrder]
    aim_updates: list[AimUpdate]
    picture: AirPicture
    threats: ThreatPicture
    assessments: list[tuple[int, int, str]]  # (engagement_id, track_id, verdict) made this cycle
    assignment: Assignment | None = None  # the solver's result this cycle (None: nothing to assign)
    assignment_shape: tuple[int, int] = (0, 0)  # (batteries, threats) of the problem solved


class BattleManager:
    def __init__(self, sensors: list[SensorSite], assets: list[DefendedAsset], config: C2Config | None = None):
        self.config = config or C2Config()
        self.sensors = sensors
        self.assets = assets
        self.tracker: PictureSource = Tracker(self.config.tracker, sensors)  # or use_picture_source's
        self.engagements: dict[int, Engagement] = {}
        self.rounds_at: dict[int, int] = {}  # track id -> rounds fired at it
        self.killed: set[int] = set()  # track ids assessed killed
        self.endangering: dict[int, int] = {}  # track id -> consecutive cycles endangering an asset
        self._next_engagement = 1

    def ingest(self, scan: Detections) -> None:
        self.tracker.process(scan)

    def use_picture_source(self, source: PictureSource) -> None:
        """Take the air picture from ``source`` instead of the tracker.

        ``source`` is a :class:`~tdome.c2.tracking.PictureSource`, as the tracker is:
        ``process(scan)``, ``picture(t_s) -> AirPicture``, ``stats`` and
        ``last_association``.  A simulator uses this to hand the C2 a perfect
        picture built from its truth, to separate tracking from assignment.
        """
        self.tracker = source

    def decide(self, now_s: float, batteries: list[BatteryStatus]) -> CycleOutput:
        doc = self.config.doctrine
        picture = self.tracker.picture(now_s)
        threats = evaluate_threats(picture, self.assets, self.config.threat)
        row_of = {int(t): i for i, t in enumerate(threats.track_id)}
        # A threat must keep endangering an asset for a few cycles before it may be
        # engaged: one prediction from a young or swapped track is not enough.
        self.endangering = {tid: self.endangering.get(tid, 0) + 1
                            for tid, v in zip(threats.track_id.tolist(), threats.value.tolist()) if v > 0}
        last_update = dict(zip(picture.track_id.tolist(), picture.last_update_s.tolist()))

        # Kill assessment of engagements whose look time has come.
        verdicts = []
        for e in self.engagements.values():
            if e.assessed or now_s < e.intercept_s + doc.kill_assessment_s:
                continue
            seen_after = last_update.get(e.track_id, -np.inf) > e.intercept_s
            e.assessed = "survived" if seen_after else "killed"
            if not seen_after:
                self.killed.add(e.track_id)
            verdicts.append((e.engagement_id, e.track_id, e.assessed))

        # Mid-course updates: re-predict each in-flight engagement's intercept point.
        updates = []
        for e in self.engagements.values():
            if e.intercept_s > now_s and e.track_id in row_of:
                p = threats.positions_at(np.array([e.intercept_s - now_s]), np.array([row_of[e.track_id]]))[0, 0]
                if np.all(np.isfinite(p)):
                    updates.append(AimUpdate(e.engagement_id, _xyz(p)))

        # Threats open to engagement this cycle.
        pending = {e.track_id for e in self.engagements.values() if not e.assessed}
        in_flight_q: dict[int, float] = {}
        by_index = {b.index: b for b in batteries}
        for e in self.engagements.values():
            if not e.assessed:
                pk = 0.0
                bat = by_index.get(e.battery)  # a battery that has not reported counts for nothing
                if e.track_id in row_of and bat is not None:
                    pk = float(threats.plausible_pk(bat.interceptor.pk, [row_of[e.track_id]])[0])
                in_flight_q[e.track_id] = in_flight_q.get(e.track_id, 1.0) * (1.0 - pk) ** e.rounds
        eligible = []
        for i, tid in enumerate(threats.track_id.tolist()):
            if threats.value[i] <= 0 or tid in self.killed:
                continue
            if self.endangering.get(tid, 0) < self.config.threat.confirm_cycles:
                continue
            if self.rounds_at.get(tid, 0) >= doc.max_shots_per_threat:
                continue
            if doc.mode == "shoot_look_shoot" and tid in pending:
                continue
            eligible.append(i)
        rows = np.array(eligible, dtype=int)
        orders: list[FireOrder] = []
        result = None
        if rows.size and batteries:
            orders, result = self._assign(now_s, threats, rows, batteries, in_flight_q)
        return CycleOutput(orders, updates, picture, threats, verdicts, result, (len(batteries), int(rows.size)))

    def _assign(self, now_s, threats, rows, batteries, in_flight_q) -> tuple[list[FireOrder], Assignment]:
        doc = self.config.doctrine
        win = plan_windows(threats, rows, batteries, now_s)
        cls_names = [THREAT_CLASSES[c] for c in threats.cls[rows]]
        salvo = np.array([doc.salvo.get(c, 1) for c in cls_names], dtype=int)
        shots_left = np.array([doc.max_shots_per_threat - self.rounds_at.get(int(threats.track_id[r]), 0)
                               for r in rows])
        salvo = np.minimum(salvo, np.maximum(shots_left, 1))
        pk_cls = np.array([threats.plausible_pk(b.interceptor.pk, rows) for b in batteries])
        pk = np.where(win.feasible_now, pk_cls, 0.0)

        followup = np.zeros_like(pk)
        if doc.mode == "shoot_look_shoot":
            # A survivor of a shot from b can be engaged again by any battery whose
            # latest launch time comes after b's intercept plus the look.
            look = win.intercept_s + doc.kill_assessment_s  # (B, R)
            can = win.latest_launch_s[None, :, :] >= look[:, None, :]  # (B, B', R)
            followup = np.max(np.where(can, pk_cls[None, :, :], 0.0), axis=1)
            followup = np.where(win.feasible_now, followup, 0.0)

        cost = np.array([b.interceptor.cost_usd for b in batteries]) / 1e6 * doc.cost_weight_per_musd
        capacity = np.array([min(b.ready_rounds, b.stock_rounds) for b in batteries])
        reserve = np.array([int(np.ceil(doc.reserve_fraction.get(b.layer, 0.0) * b.initial_rounds)) for b in batteries])
        if doc.reserve_until_s is not None and now_s >= doc.reserve_until_s:
            reserve[:] = 0
        # Of the rounds that may fire now, those that would dip below the reserve.
        stock = np.array([b.stock_rounds for b in batteries])
        reserved = np.clip(capacity - np.maximum(stock - reserve, 0), 0, capacity)
        survival = np.array([in_flight_q.get(int(threats.track_id[r]), 1.0) for r in rows])
        asset_kw = {}
        if self.config.assignment.objective == "asset":
            asset_kw = self._asset_terms(threats, rows, in_flight_q)
        problem = AssignmentProblem(
            objective=self.config.assignment.objective,
            **asset_kw,
            value=threats.value[rows],
            pk=pk,
            salvo=salvo,
            cost=cost,
            capacity=capacity,
            reserved=reserved,
            high_value=threats.value[rows] >= doc.reserve_min_value,
            survival=survival,
            followup_pk=followup,
            max_engagements=np.ones(len(rows), dtype=int),
        )
        a = self.config.assignment
        result = SOLVERS[a.solver](problem, time_limit_s=a.time_budget_s)
        orders = []
        for b, j, n in zip(result.battery.tolist(), result.threat.tolist(), result.rounds.tolist()):
            tid = int(threats.track_id[rows[j]])
            eid = self._next_engagement
            self._next_engagement += 1
            launch = now_s + batteries[b].interceptor.reaction_s
            orders.append(FireOrder(eid, batteries[b].index, tid, n, launch, float(win.intercept_s[b, j]),
                                    _xyz(win.aim_ecef[b, j])))
            self.engagements[eid] = Engagement(eid, tid, batteries[b].index, n, launch, float(win.intercept_s[b, j]))
            self.rounds_at[tid] = self.rounds_at.get(tid, 0) + n
        return orders, result

    def _asset_terms(self, threats: ThreatPicture, rows: np.ndarray, in_flight_q: dict[int, float]) -> dict:
        """Asset-based objective: each asset's value, discounted by the threats to it outside this problem.

        A threat that endangers an asset but is not open to engagement this
        cycle (shots in flight, not yet confirmed) still threatens it; the
        asset's value in this cycle's problem is its value times the chance
        that those threats leave it standing.
        """
        lethality = self.config.assignment.lethality
        value = np.array([a.value for a in self.assets], dtype=float)
        in_problem = np.zeros(len(threats), dtype=bool)
        in_problem[rows] = True
        for i in np.flatnonzero(~in_problem & (threats.asset >= 0) & (threats.value > 0)):
            tid = int(threats.track_id[i])
            if tid in self.killed:
                continue
            value[threats.asset[i]] *= 1.0 - lethality * in_flight_q.get(tid, 1.0)
        return dict(asset=threats.asset[rows], asset_value=value, lethality=np.full(len(rows), lethality))
