"""Batteries and interceptors on the world side: rounds, reloads, flyout and the kill draw.

A battery has launchers holding ``rounds_per_launcher`` each and a magazine
of ``magazine`` rounds in all; an emptied launcher reloads from the magazine
in ``reload_time_s``.  An interceptor flies from the battery to its aim point
at its average speed, receiving mid-course aim updates from the C2.  At the
intercept time its seeker homes on the nearest live threat within the
``homing_basket_m`` of the aim point, and the kill is a Bernoulli draw with
the interceptor's Pk against that threat's true class.  If no threat is in
the basket (a poor track, or the target already destroyed), it misses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tdome import geo
from tdome.messages import AimUpdate, BatteryStatus, FireOrder, InterceptorSpec
from tdome.world.faults import is_down


@dataclass
class FireUnit:
    index: int
    name: str
    layer: str
    lat_rad: float
    lon_rad: float
    alt_m: float
    spec: InterceptorSpec
    launchers: int
    rounds_per_launcher: int
    magazine: int
    reload_time_s: float
    homing_basket_m: float
    loaded: np.ndarray = field(init=False)
    reload_done_s: np.ndarray = field(init=False)
    stock: int = field(init=False)  # rounds not yet fired, loaded or not
    orders_received: set[int] = field(init=False, default_factory=set)  # engagement ids of the orders it executed
    ecef: np.ndarray = field(init=False, repr=False)
    # Earliest reload in progress (inf: none), so that a status report between reloads costs no array work.
    _next_reload_s: float = field(init=False, default=np.inf, repr=False)
    # The last status report's frozen copy of ``orders_received`` (the set only grows: same size, same set).
    _orders_frozen: frozenset[int] = field(init=False, default=frozenset(), repr=False)
    # loaded.sum() as a Python int, kept by _advance and fire (the only code that changes ``loaded``), so that
    # the status report of every cycle costs no array work.
    _ready: int = field(init=False, default=0, repr=False)
    # Faults: each launcher's down intervals (k, 2), [start, end) in s; empty: it never fails.  A launcher that
    # is down cannot fire what it holds; its reload goes on.
    down: tuple[np.ndarray, ...] = ()

    def __post_init__(self) -> None:
        self.stock = self.magazine
        per = np.full(self.launchers, self.rounds_per_launcher)
        # Load launchers in turn until the magazine is used up.
        total = min(self.magazine, per.sum())
        self.loaded = np.zeros(self.launchers, dtype=int)
        for i in range(self.launchers):
            take = min(per[i], total - self.loaded.sum())
            self.loaded[i] = take
        self._ready = int(self.loaded.sum())
        self.reload_done_s = np.full(self.launchers, np.inf)
        self.ecef = geo.geodetic_to_ecef(self.lat_rad, self.lon_rad, self.alt_m)
        self.ecef.flags.writeable = False  # every status report shares it

    def _advance(self, t_s: float) -> None:
        if t_s < self._next_reload_s:
            return
        done = self.reload_done_s <= t_s
        for i in np.flatnonzero(done):
            unloaded = self.stock - self.loaded.sum()
            self.loaded[i] = min(self.rounds_per_launcher, unloaded)
            self.reload_done_s[i] = np.inf
        self._ready = int(self.loaded.sum())
        self._next_reload_s = float(self.reload_done_s.min())

    def destroy(self, t_s: float) -> tuple[int, int]:
        """The launchers are hit at ``t_s``: they and the rounds on them are lost, and the rounds still in the
        magazine can no longer be fired.  Returns (rounds lost on the launchers, rounds left stranded)."""
        self._advance(t_s)
        lost = int(self.loaded.sum())
        stranded = self.stock - lost
        self.loaded[:] = 0
        self.stock = 0
        self._ready = 0
        self.reload_done_s[:] = np.inf
        self._next_reload_s = np.inf
        return lost, stranded

    def up(self, t_s: float) -> np.ndarray:
        """Which launchers are working at ``t_s``."""
        return np.array([not is_down(w, t_s) for w in self.down], dtype=bool)

    def ready_rounds(self, t_s: float) -> int:
        self._advance(t_s)
        if self.down:
            return int(self.loaded[self.up(t_s)].sum())
        return self._ready

    def fire(self, t_s: float, rounds: int) -> int:
        """Fire up to ``rounds`` now; returns how many left the rails."""
        self._advance(t_s)
        fired = 0
        working = self.up(t_s) if self.down else None
        for i in np.argsort(-self.loaded, kind="stable"):
            if working is not None and not working[i]:
                continue
            while self.loaded[i] > 0 and fired < rounds:
                self.loaded[i] -= 1
                self.stock -= 1
                fired += 1
            if self.loaded[i] == 0 and self.stock - self.loaded.sum() > 0 and not np.isfinite(self.reload_done_s[i]):
                self.reload_done_s[i] = t_s + self.reload_time_s
                self._next_reload_s = min(self._next_reload_s, self.reload_done_s[i])
            if fired == rounds:
                break
        self._ready -= fired
        return fired

    def status(self, t_s: float) -> BatteryStatus:
        if len(self._orders_frozen) != len(self.orders_received):
            self._orders_frozen = frozenset(self.orders_received)
        # Positional: a dataclass takes them at less than half the cost of keywords, and every battery
        # reports every cycle.  The order is BatteryStatus's field order (index, name, layer, lat_rad,
        # lon_rad, alt_m, interceptor, ready_rounds, stock_rounds, initial_rounds, ecef, time_s,
        # orders_received); tests/test_world_speed.py holds it to the keyword form.
        return BatteryStatus(self.index, self.name, self.layer, self.lat_rad, self.lon_rad, self.alt_m, self.spec,
                             self.ready_rounds(t_s), self.stock, self.magazine, self.ecef, float(t_s),
                             self._orders_frozen)


@dataclass
class Interceptor:
    interceptor_id: int
    engagement_id: int
    battery: int
    track_id: int
    launch_s: float
    intercept_s: float
    launch_ecef: np.ndarray
    aim_ecef: np.ndarray
    resolved: bool = False


class Effectors:
    """All batteries and interceptors in flight.

    ``flying`` and ``done`` are read by the simulator; only :meth:`execute`
    and :meth:`resolve` change them, and they keep two indexes of ``flying``
    with it: the interceptors of each engagement (for :meth:`uplink`) and the
    earliest intercept time (so that :meth:`resolve` of an interval before it
    costs nothing).
    """

    def __init__(self, batteries: list[FireUnit], rng: np.random.Generator,
                 launch_rng: np.random.Generator | None = None):
        self.batteries = batteries
        self.rng = rng
        # Launch failures draw from their own stream, and only for interceptors less than fully reliable.
        self.launch_rng = launch_rng if launch_rng is not None else np.random.default_rng(0)
        self.launch_failures: list[tuple[float, int, int]] = []  # (time, battery, engagement id) per round
        self.flying: list[Interceptor] = []
        self.done: list[Interceptor] = []
        self._next_id = 1
        self._by_engagement: dict[int, list[Interceptor]] = {}  # engagement id -> its interceptors in flight
        self._next_intercept_s = np.inf  # min intercept_s over ``flying`` (inf: none)

    def status(self, t_s: float) -> list[BatteryStatus]:
        return [b.status(t_s) for b in self.batteries]

    def execute(self, t_s: float, orders: list[FireOrder]) -> list[Interceptor]:
        """Carry out orders received at ``t_s``.

        An order launches its reaction time after it was issued; one that
        arrives late (a slow link, an operator's wait) launches that much
        later and flies the same time to its aim point, until an aim update
        moves it.
        """
        launched = []
        for o in orders:
            bat = self.batteries[o.battery]
            bat.orders_received.add(o.engagement_id)
            late = t_s + bat.spec.reaction_s - o.launch_time_s
            launch_s, intercept_s = o.launch_time_s, o.intercept_time_s
            if late > 0.0:
                launch_s, intercept_s = launch_s + late, intercept_s + late
            n = bat.fire(t_s, o.rounds)
            if n and bat.spec.launch_reliability < 1.0:
                fails = int(np.sum(self.launch_rng.random(n) >= bat.spec.launch_reliability))
                self.launch_failures += [(launch_s, o.battery, o.engagement_id)] * fails
                n -= fails
            for _ in range(n):
                itc = Interceptor(self._next_id, o.engagement_id, o.battery, o.track_id, launch_s,
                                  intercept_s, bat.ecef.copy(), np.array(o.aim_ecef))
                self._next_id += 1
                self.flying.append(itc)
                self._by_engagement.setdefault(itc.engagement_id, []).append(itc)
                self._next_intercept_s = min(self._next_intercept_s, itc.intercept_s)
                launched.append(itc)
        return launched

    def uplink(self, updates: list[AimUpdate]) -> None:
        by_eng = {u.engagement_id: u for u in updates}  # the last update of an engagement wins
        for eng, u in by_eng.items():
            for itc in self._by_engagement.get(eng, ()):
                itc.aim_ecef = np.array(u.aim_ecef)

    def resolve(self, t_from_s: float, t_to_s: float, truth_pos, kill_s: np.ndarray, threat_class: list[str]):
        """Intercepts whose time falls in (t_from, t_to], in time order.

        ``truth_pos(t) -> (pos (n,3), live (n,))`` gives threat truth, live
        meaning launched, not yet impacted and not killed before ``t``.  A kill
        sets ``kill_s[row]`` in place, so a second round of the same salvo
        finds the threat gone.  Returns ``(interceptor, threat_row or -1,
        killed, miss_m)`` per interceptor.
        """
        out: list[tuple[Interceptor, int, bool, float]] = []
        if self._next_intercept_s > t_to_s:  # nothing flying reaches its intercept by t_to
            return out
        due = sorted((i for i in self.flying if t_from_s < i.intercept_s <= t_to_s), key=lambda i: i.intercept_s)
        for itc in due:
            pos, live = truth_pos(itc.intercept_s)
            bat = self.batteries[itc.battery]
            row, killed, miss = -1, False, np.inf
            if live.any():
                d = np.linalg.norm(pos - itc.aim_ecef, axis=1)
                d[~live] = np.inf
                j = int(np.argmin(d))
                miss = float(d[j])
                if miss <= bat.homing_basket_m:
                    row = j
                    killed = bool(self.rng.random() < bat.spec.pk.get(threat_class[j], 0.0))
                    if killed:
                        kill_s[j] = itc.intercept_s
            itc.resolved = True
            out.append((itc, row, killed, miss))
        self.flying = [i for i in self.flying if not i.resolved]
        self.done.extend(i for i, *_ in out)
        for itc, *_ in out:
            mates = self._by_engagement[itc.engagement_id]
            mates.remove(itc)
            if not mates:
                del self._by_engagement[itc.engagement_id]
        self._next_intercept_s = min((i.intercept_s for i in self.flying), default=np.inf)
        return out

