"""The battle manager: one C2 cycle from plots to fire orders.

    ingest(scan)            plots from any radar, in time order, into the tracker (registered first:
                            each radar's estimated offsets taken out, c2.registration)
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

A battery is offered to the assignment only while its status is fresh (no
older than ``status_timeout_s``): one cut off from the C2 is not given orders
it would never receive.

Authority (per layer): under ``auto`` orders go out as decided; under
``confirm`` each is a request that waits for an operator (:meth:`approve`,
:meth:`reject`) and expires when its latest launch time passes; under
``hold`` the layer's batteries are not offered to the assignment.  A request
waiting, or an order the battery has not yet acknowledged in its status,
holds its rounds and its threat; an order unacknowledged after
``order_timeout_s`` is presumed lost and its threat freed.

Kill assessment: ``kill_assessment_s`` after the intercept time, a track that
has not been updated since the intercept (or has been dropped) is assessed
killed and never engaged again; one that has been updated is a survivor.

Kill probabilities are planned per round fired: an interceptor's pk times
its launch reliability (a round that fails at launch is spent and kills
nothing).

Discrimination: a track the air picture has found light (a decoy slowed by
the air, :mod:`tdome.c2.tracking.discrimination`) is never engaged again,
endangers no asset in the asset-based objective and silences no radar.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from tdome.c2.assign import SOLVERS, Assignment, AssignmentProblem
from tdome.c2.assign.base import DEADLINE_MARGIN_S
from tdome.c2.config import AUTHORITIES, AssignmentConfig, DoctrineConfig, RegistrationConfig, ThreatConfig
from tdome.c2.engage import plan_windows
from tdome.c2.lookahead import ExpectedThreats, LookAhead
from tdome.c2.threat import ThreatPicture, evaluate_threats, pk_table
from tdome.c2.tracking import AirPicture, PictureSource, Tracker, TrackerConfig
from tdome.c2.tracking.registration import registered
from tdome.messages import (
    THREAT_CLASSES,
    AimUpdate,
    BatteryStatus,
    DefendedAsset,
    Detections,
    FireOrder,
    InterceptorSpec,
    SensorSite,
)


@dataclass(frozen=True)
class C2Config:
    """The whole C2 core's configuration, one dataclass per stage (each owns its defaults and rules)."""

    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    threat: ThreatConfig = field(default_factory=ThreatConfig)
    doctrine: DoctrineConfig = field(default_factory=DoctrineConfig)
    assignment: AssignmentConfig = field(default_factory=AssignmentConfig)
    # Each radar's systematic errors estimated online and taken out of its plots (off by default).
    registration: RegistrationConfig = field(default_factory=RegistrationConfig)
    # The intelligence estimate of threats still to come; when given, each round fired costs what it would save
    # against them (tdome.c2.lookahead).
    intel: tuple[ExpectedThreats, ...] = ()


@dataclass
class Engagement:
    engagement_id: int
    track_id: int
    battery: int
    rounds: int
    launch_s: float
    intercept_s: float
    assessed: str = ""  # "", "killed" or "survived"
    issued_s: float = 0.0  # when the order went out (awaiting: when it was decided)
    latest_launch_s: float = np.inf  # the shot window's end: the last time an order can still intercept
    aim_ecef: tuple[float, float, float] = (np.nan, np.nan, np.nan)
    awaiting: bool = False  # an operator's decision is awaited (authority 'confirm')
    acked: bool = False  # the battery has reported the order received


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
    requests: list[FireOrder] = field(default_factory=list)  # decided, awaiting an operator (authority 'confirm')
    withdrawn: list[tuple[int, int, str]] = field(default_factory=list)  # (engagement_id, track_id, reason)
    # How far the solver ran past its time limit, timed around its call (its own solve_s may not count all of
    # it), when by more than the solvers' DEADLINE_MARGIN_S; else 0.
    solver_overrun_s: float = 0.0
    # Emission control: (radar name, silent until s) for each radar a threat is assessed inbound on.
    silence: list[tuple[str, float]] = field(default_factory=list)
    # Tracks found light objects (decoys) since the last cycle: no longer engaged.
    discriminated: list[int] = field(default_factory=list)


class BattleManager:
    def __init__(self, sensors: list[SensorSite], assets: list[DefendedAsset], config: C2Config | None = None,
                 first_id: int = 1):
        """``first_id``: where its track and engagement numbers start (several C2 nodes number apart)."""
        self.config = config or C2Config()
        self.sensors = sensors
        self.assets = assets
        # The tracker (behind the registration of the radars' plots, when it is on), or use_picture_source's.
        self.tracker: PictureSource = registered(Tracker(self.config.tracker, sensors, first_id), sensors,
                                                 self.config.registration, self.config.tracker)
        self.engagements: dict[int, Engagement] = {}
        # The engagements a cycle may still act on, in the order of ``engagements`` (see :meth:`_settle`);
        # ``engagements`` is changed only through this class's methods, which keep the two in step.
        self._open: dict[int, Engagement] = {}
        self._settled_s = -np.inf  # the time of the last settling
        self.rounds_at: dict[int, int] = {}  # track id -> rounds fired at it
        self.killed: set[int] = set()  # track ids assessed killed
        self.light: set[int] = set()  # track ids the picture has found light (decoys): never engaged again
        # Engagement authority per layer: the doctrine's at first; an operator may change it (set_authority).
        self.authority: dict[str, str] = dict(self.config.doctrine.authority)
        self.endangering: dict[int, int] = {}  # track id -> consecutive cycles endangering an asset
        self._next_engagement = int(first_id)
        self._last: tuple[float, ThreatPicture, dict[int, int]] | None = None  # the last cycle's threats
        # The batteries' interceptors (kept, so their identities stay theirs) and their kill probability tables.
        self._pk_tables: tuple[tuple[InterceptorSpec, ...], np.ndarray] = ((), np.zeros((0, len(THREAT_CLASSES))))
        doc = self.config.doctrine
        self.lookahead = (LookAhead(self.config.intel, assets, doc.salvo, doc.max_shots_per_threat)
                          if self.config.intel else None)

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
        if now_s < self._settled_s:  # time ran back: an engagement settled since may be in flight again
            self._open = dict(self.engagements)
        picture = self.tracker.picture(now_s)
        discriminated = []
        if picture.light is not None and picture.light.any():
            discriminated = [t for t in picture.track_id[picture.light].tolist() if t not in self.light]
            self.light.update(discriminated)
        threats = evaluate_threats(picture, self.assets, self.config.threat)
        track_ids, values = threats.track_id.tolist(), threats.value.tolist()
        row_of = dict(zip(track_ids, range(len(track_ids))))
        # A threat must keep endangering an asset for a few cycles before it may be
        # engaged: one prediction from a young or swapped track is not enough.
        self.endangering = {tid: self.endangering.get(tid, 0) + 1
                            for tid, v in zip(track_ids, values) if v > 0}
        last_update = dict(zip(picture.track_id.tolist(), picture.last_update_s.tolist()))
        self._last = (now_s, threats, row_of)
        withdrawn = self._withdraw_stale(now_s, batteries)

        # Kill assessment of engagements whose look time has come.
        verdicts = []
        for e in self._open.values():
            if e.awaiting or e.assessed or now_s < e.intercept_s + doc.kill_assessment_s:
                continue
            seen_after = last_update.get(e.track_id, -np.inf) > e.intercept_s
            e.assessed = "survived" if seen_after else "killed"
            if not seen_after:
                self.killed.add(e.track_id)
            verdicts.append((e.engagement_id, e.track_id, e.assessed))

        # Mid-course updates: re-predict each in-flight engagement's intercept point (all in one call).
        flying = [e for e in self._open.values()
                  if not e.awaiting and e.intercept_s > now_s and e.track_id in row_of]
        updates = []
        if flying:
            aims = threats.position_each_at(np.array([e.intercept_s - now_s for e in flying]),
                                            np.array([row_of[e.track_id] for e in flying]))
            for e, p, ok in zip(flying, aims.tolist(), np.isfinite(aims).all(axis=1).tolist()):
                if ok:
                    updates.append(AimUpdate(e.engagement_id, tuple(p)))

        # Threats open to engagement this cycle.
        pending = {e.track_id for e in self._open.values() if not e.assessed}
        in_flight_q: dict[int, float] = {}
        column = {b.index: i for i, b in enumerate(batteries)}
        # What each battery can count on against each row, (B, n), for the shots in flight and the assignment.
        pk_all = threats.plausible_pks_of(self._pk_table(batteries))
        for e in self._open.values():
            if not e.assessed:
                pk = 0.0
                b = column.get(e.battery)  # a battery that has not reported counts for nothing
                if e.track_id in row_of and b is not None:
                    pk = float(pk_all[b, row_of[e.track_id]])
                in_flight_q[e.track_id] = in_flight_q.get(e.track_id, 1.0) * (1.0 - pk) ** e.rounds
        eligible = []
        for i, (tid, v) in enumerate(zip(track_ids, values)):
            if v <= 0 or tid in self.killed or tid in self.light:
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
        requests: list[FireOrder] = []
        result, over = None, 0.0
        # A battery out of contact (no recent status) cannot be counted on; one on hold is not offered.
        armed_at = [i for i, b in enumerate(batteries)
                    if self.authority.get(b.layer, "auto") != "hold"
                    and (b.time_s is None or now_s - b.time_s <= doc.status_timeout_s)]
        armed = [batteries[i] for i in armed_at]
        if rows.size and armed:
            orders, requests, result, took_s = self._assign(now_s, threats, rows, armed, in_flight_q,
                                                            pk_all[np.ix_(np.array(armed_at, dtype=int), rows)])
            over = took_s - self.config.assignment.time_budget_s
        self._settle(now_s)
        return CycleOutput(orders, updates, picture, threats, verdicts, result, (len(armed), int(rows.size)),
                           requests, withdrawn, over if over > DEADLINE_MARGIN_S else 0.0,
                           self._silence(now_s, threats), discriminated)

    def _silence(self, now_s: float, threats: ThreatPicture) -> list[tuple[str, float]]:
        """Emission control: the radars (assets of kind radar) a track is assessed to reach within the doctrine's
        time, each to keep silent until ``emcon_hold_s`` from now."""
        doc = self.config.doctrine
        if doc.emcon_time_to_go_s is None or not threats.asset.size:
            return []
        near = (threats.asset >= 0) & (threats.time_to_go_s <= doc.emcon_time_to_go_s)
        if self.light:
            near &= ~np.isin(threats.track_id, np.fromiter(self.light, dtype=np.int64))
        names = sorted({self.assets[a].name for a in threats.asset[near].tolist() if self.assets[a].kind == "radar"})
        return [(name, now_s + doc.emcon_hold_s) for name in names]

    def _pk_table(self, batteries: list[BatteryStatus]) -> np.ndarray:
        """The batteries' kill probability per round fired (:func:`~tdome.c2.threat.pk_table`): each
        interceptor's pk times its launch reliability, since a round that fails at launch kills nothing.
        Kept while their interceptors are the same (the specifications are frozen)."""
        specs = tuple(b.interceptor for b in batteries)
        kept, table = self._pk_tables
        if len(kept) != len(specs) or any(a is not b for a, b in zip(kept, specs)):
            table = pk_table([s.pk for s in specs]) * np.array([s.launch_reliability for s in specs]).reshape(-1, 1)
            self._pk_tables = (specs, table)
        return table

    def _withdraw_stale(self, now_s: float, batteries: list[BatteryStatus]) -> list[tuple[int, int, str]]:
        """Acknowledge what the batteries report received; withdraw expired requests and orders presumed lost."""
        received = {b.index: b.orders_received for b in batteries}
        out = []
        for e in list(self._open.values()):
            if not e.acked and e.engagement_id in received.get(e.battery, ()):
                e.acked = True
            if e.awaiting and now_s > e.latest_launch_s:
                out.append((e.engagement_id, e.track_id, "expired"))
            elif not e.awaiting and not e.acked and now_s - e.issued_s > self.config.doctrine.order_timeout_s:
                out.append((e.engagement_id, e.track_id, "unacknowledged"))
            else:
                continue
            self._withdraw(e.engagement_id)
        return out

    def _settle(self, now_s: float) -> None:
        """Close the engagements no later cycle can act on: assessed, acknowledged, not awaiting an operator
        and past their intercept.

        Such an engagement is neither withdrawn nor acknowledged, assessed, re-aimed,
        pending, in flight nor holding rounds, so the cycle's loops over
        engagements skip it; only a launch report that moves its intercept
        later (:meth:`launch_report`) opens it again.
        """
        self._settled_s = now_s
        self._open = {k: e for k, e in self._open.items()
                      if not (e.assessed and e.acked and not e.awaiting and e.intercept_s <= now_s)}

    def _withdraw(self, engagement_id: int) -> None:
        e = self.engagements.pop(engagement_id)
        self._open.pop(engagement_id, None)
        self.rounds_at[e.track_id] = self.rounds_at.get(e.track_id, 0) - e.rounds

    def approve(self, engagement_id: int, now_s: float) -> FireOrder | None:
        """An operator approves a request at ``now_s``: the order, re-timed from now; None if its window has
        closed (the request is then withdrawn) or it is not awaiting."""
        e = self.engagements.get(engagement_id)
        if e is None or not e.awaiting:
            return None
        shift = now_s - e.issued_s
        if now_s > e.latest_launch_s:
            self._withdraw(engagement_id)
            return None
        aim = e.aim_ecef
        if shift > 0.0:
            e.launch_s += shift
            e.intercept_s += shift
            if self._last is not None and e.track_id in self._last[2]:
                t0, threats, row_of = self._last
                p = threats.positions_at(np.array([e.intercept_s - t0]), np.array([row_of[e.track_id]]))[0, 0]
                if np.all(np.isfinite(p)):
                    aim = e.aim_ecef = _xyz(p)
        e.issued_s = now_s
        e.awaiting = False
        return FireOrder(e.engagement_id, e.battery, e.track_id, e.rounds, e.launch_s, e.intercept_s, aim)

    def set_authority(self, layer: str, authority: str) -> None:
        """An operator sets a layer's engagement authority, from the next decision on.  Requests already waiting
        keep waiting (the caller decides what becomes of them: see :meth:`waiting`)."""
        if authority not in AUTHORITIES:
            raise ValueError(f"authority {authority!r} is not one of {', '.join(AUTHORITIES)}")
        self.authority[layer] = authority

    def waiting(self) -> list[Engagement]:
        """The requests awaiting an operator's decision, oldest first."""
        return sorted((e for e in self.engagements.values() if e.awaiting), key=lambda e: e.engagement_id)

    def reject(self, engagement_id: int) -> None:
        """An operator refuses a request: its threat is open to engagement again."""
        e = self.engagements.get(engagement_id)
        if e is not None and e.awaiting:
            self._withdraw(engagement_id)

    def launch_report(self, engagement_id: int, launch_s: float, intercept_s: float) -> None:
        """A battery reports an order's launch: its launch and intercept times as flown (a late order flies late)."""
        e = self.engagements.get(engagement_id)
        if e is not None:
            e.launch_s, e.intercept_s = launch_s, intercept_s
            e.acked = True
            if engagement_id not in self._open:  # settled, but its intercept may now lie ahead
                self._open = {k: o for k, o in self.engagements.items() if k in self._open or k == engagement_id}

    def _assign(self, now_s, threats, rows, batteries, in_flight_q,
                pk_cls) -> tuple[list[FireOrder], list[FireOrder], Assignment, float]:
        """Orders, requests, the solver's result and the wall time of its call.

        ``pk_cls`` (B, R): what each battery can count on against each row (:meth:`ThreatPicture.plausible_pk`).
        """
        doc = self.config.doctrine
        win = plan_windows(threats, rows, batteries, now_s)
        cls_names = [THREAT_CLASSES[c] for c in threats.cls[rows]]
        salvo = np.array([doc.salvo.get(c, 1) for c in cls_names], dtype=int)
        shots_left = np.array([doc.max_shots_per_threat - self.rounds_at.get(int(threats.track_id[r]), 0)
                               for r in rows])
        salvo = np.minimum(salvo, np.maximum(shots_left, 1))
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
        # Rounds promised by requests still awaiting an operator and by orders the battery has not yet
        # reported received are not in its status: they are not free.
        committed = dict.fromkeys((b.index for b in batteries), 0)
        for e in self._open.values():
            if (e.awaiting or not e.acked) and e.battery in committed:
                committed[e.battery] += e.rounds
        held = np.array([committed[b.index] for b in batteries])
        capacity = np.maximum(np.array([min(b.ready_rounds, b.stock_rounds) for b in batteries]) - held, 0)
        reserve = np.array([int(np.ceil(doc.reserve_fraction.get(b.layer, 0.0) * b.initial_rounds)) for b in batteries])
        if doc.reserve_until_s is not None and now_s >= doc.reserve_until_s:
            reserve[:] = 0
        # Of the rounds that may fire now, those that would dip below the reserve.
        stock = np.maximum(np.array([b.stock_rounds for b in batteries]) - held, 0)
        reserved = np.clip(capacity - np.maximum(stock - reserve, 0), 0, capacity)
        if self.lookahead is not None:  # what each round would save later, on top of its price
            cost = cost + self.lookahead.round_values(now_s, batteries, stock, self._pk_table(batteries), cost)
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
        t0 = time.perf_counter()
        result = SOLVERS[a.solver](problem, time_limit_s=a.time_budget_s)
        took_s = time.perf_counter() - t0
        orders: list[FireOrder] = []
        requests: list[FireOrder] = []
        for b, j, n in zip(result.battery.tolist(), result.threat.tolist(), result.rounds.tolist()):
            tid = int(threats.track_id[rows[j]])
            eid = self._next_engagement
            self._next_engagement += 1
            bat = batteries[b]
            launch = now_s + bat.interceptor.reaction_s
            awaiting = self.authority.get(bat.layer, "auto") == "confirm"
            order = FireOrder(eid, bat.index, tid, n, launch, float(win.intercept_s[b, j]), _xyz(win.aim_ecef[b, j]))
            (requests if awaiting else orders).append(order)
            self.engagements[eid] = self._open[eid] = Engagement(
                eid, tid, bat.index, n, launch, float(win.intercept_s[b, j]), issued_s=now_s,
                # feasible now: open at least now, whatever the coarser prediction nodes of the window say
                latest_launch_s=max(float(win.latest_launch_s[b, j]), now_s), aim_ecef=order.aim_ecef,
                awaiting=awaiting)
            self.rounds_at[tid] = self.rounds_at.get(tid, 0) + n
        return orders, requests, result, took_s

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
            if tid in self.killed or tid in self.light:
                continue
            value[threats.asset[i]] *= 1.0 - lethality * in_flight_q.get(tid, 1.0)
        return dict(asset=threats.asset[rows], asset_value=value, lethality=np.full(len(rows), lethality))
