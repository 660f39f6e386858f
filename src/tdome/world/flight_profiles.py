"""Manoeuvring flight profiles: truth trajectories of aircraft and missiles for tracker tests and benchmarks.

Interface::

    fly(start, legs, airframe, t0_s=0.0)   -> Flight     one flight from its legs of commands
    Flight.at(t_s)                         -> (pos, vel, acc) ECEF at times t (NaN outside the flight)
    airliners(n, rng, ...), approaches(...), holdings(...), fighters(...), missiles(...)
                                           -> list[Flight]  families of profiles around a radar
    truth_at(flights, t_s)                 -> (ids, pos, vel) of the flights in the air at t

A flight is flown, not drawn: a point-mass vehicle over the WGS84 ellipsoid
with state (latitude, longitude, height, speed V, heading ψ, flight-path
angle γ, lateral acceleration a_l) follows commands under its airframe's
limits (:class:`Airframe`), integrated in a compiled loop at ``step_s``
(0.05 s)::

    ψ' = a_l / (V cos γ)          a coordinated turn: a_l = g tan φ (bank φ) = g √(n² − 1) (load factor n)
    γ' = a_v / V                  a_v the vertical manoeuvre acceleration
    V' = a_t                      a_t the along-track acceleration
    lat' = V cos γ cos ψ / (M + h),   lon' = V cos γ sin ψ / ((N + h) cos lat),   h' = V sin γ

(M, N the meridian and prime-vertical radii).  Commands are those of a
pilot or an autopilot, each reached at the airframe's rate, so no
acceleration jumps:

- the lateral acceleration moves to its command (a leg's ``lat_accel_mps2``,
  or a weave ``lat_accel · sin(2π τ / period)``) at most at
  ``lat_jerk_mps3`` (roll rate and g onset), and never beyond
  ``max_lat_mps2`` (bank or structural limit);
- the speed moves to its command at most at ``max_long_mps2``;
- the height follows its command through a vertical speed
  ``(h_cmd − h) / 10 s``, clipped to the climb and descent limits, that the
  flight-path angle reaches with a time constant of 2 s and at most
  ``max_vert_mps2`` of vertical acceleration.

The flight is kept at every ``sample_s`` (0.25 s) with position, velocity
and acceleration in ECEF; :meth:`Flight.at` interpolates position and
velocity by cubic Hermite (from the samples' positions and velocities; over
0.25 s of an 8 g weave the position errs by millimetres) and the
acceleration linearly.  The velocity is exactly ``Rᵀ V [cos γ sin ψ,
cos γ cos ψ, sin γ]`` (R the local ENU rotation), the acceleration
``Rᵀ (a_t t̂ + a_l l̂ + a_v û)`` (along the track, to its right, and up in its
vertical plane): the kinematic acceleration as
:mod:`tdome.c2.tracking.models` defines it, less the ~V²/R ≈ 0.01 m/s² of
following the Earth's curve.

Types (notional, from public figures; :data:`AIRLINER`, :data:`FIGHTER`,
:data:`CRUISE_MISSILE`): an airliner banks at most 30° (a_l ≤ 5.7 m/s²) at
a roll rate of ~5°/s, climbs and descends at up to 15 m/s and changes speed
by ~1 m/s²; a fighter pulls up to 9 g with g onsets of ~10 g/s, climbs at
up to 150 m/s; a cruise missile's terminal weave or pop-up pulls up to
10 g.  ICAO holdings fly standard-rate turns (3°/s) but at most 25° of bank,
one-minute legs, at 210-230 kt; approach turns are flown at ~25° of bank.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from tdome import geo

G0 = 9.80665
KT = 0.514444  # m/s per knot


@dataclass(frozen=True)
class Airframe:
    """What a type can do (SI units): the limits the commands are flown under."""

    name: str
    max_lat_mps2: float  # lateral acceleration limit (bank or structure)
    lat_jerk_mps3: float  # how fast the lateral acceleration changes (roll rate, g onset)
    max_long_mps2: float  # along-track acceleration limit
    max_climb_mps: float
    max_descent_mps: float
    max_vert_mps2: float  # vertical manoeuvre acceleration limit


AIRLINER = Airframe("airliner", max_lat_mps2=G0 * np.tan(np.radians(30.0)), lat_jerk_mps3=1.0, max_long_mps2=1.0,
                    max_climb_mps=15.0, max_descent_mps=15.0, max_vert_mps2=1.0)
FIGHTER = Airframe("fighter", max_lat_mps2=G0 * np.sqrt(9.0**2 - 1.0), lat_jerk_mps3=100.0, max_long_mps2=10.0,
                   max_climb_mps=150.0, max_descent_mps=200.0, max_vert_mps2=4.0 * G0)
CRUISE_MISSILE = Airframe("cruise_missile", max_lat_mps2=10.0 * G0, lat_jerk_mps3=150.0, max_long_mps2=5.0,
                          max_climb_mps=100.0, max_descent_mps=200.0, max_vert_mps2=5.0 * G0)


def turn_accel(load_factor_g) -> np.ndarray:
    """Horizontal acceleration (m/s²) of a level coordinated turn at load factor ``n``: ``g √(n² − 1)``."""
    n = np.asarray(load_factor_g, dtype=float)
    return G0 * np.sqrt(np.maximum(n * n - 1.0, 0.0))


def bank_accel(bank_rad) -> np.ndarray:
    """Horizontal acceleration (m/s²) of a level coordinated turn at bank ``φ``: ``g tan φ``."""
    return G0 * np.tan(np.asarray(bank_rad, dtype=float))


@dataclass(frozen=True)
class Leg:
    """Commands held for ``duration_s``: lateral acceleration (+ right), speed and height (None: keep)."""

    duration_s: float
    lat_accel_mps2: float = 0.0
    speed_mps: float | None = None
    alt_m: float | None = None
    weave_period_s: float = 0.0  # > 0: the lateral command is lat_accel · sin(2π τ / period), τ from the leg's start


def turn_leg(angle_rad: float, accel_mps2: float, at_speed_mps: float, **kw) -> Leg:
    """A turn through ``angle_rad`` (signed, + right) at ``accel_mps2``, timed for ``at_speed_mps``.

    The turn lasts ``|angle| V / a`` plus the time the lateral acceleration takes
    to build and decay (held to the airframe's jerk, about half of it each side is
    not turning at full rate); callers read headings from the flight, not from
    this duration.
    """
    return Leg(abs(angle_rad) * at_speed_mps / accel_mps2, float(np.sign(angle_rad)) * accel_mps2, **kw)


@dataclass(frozen=True)
class Start:
    """Initial state: geodetic position (rad, m), speed (m/s), heading from north (rad), level."""

    lat_rad: float
    lon_rad: float
    alt_m: float
    speed_mps: float
    heading_rad: float


@dataclass
class Flight:
    """A flown trajectory, sampled every ``sample_s``: times (k,), ECEF positions, velocities, accelerations (k, 3)."""

    kind: str
    t_s: np.ndarray
    pos: np.ndarray
    vel: np.ndarray
    acc: np.ndarray
    legs: list[Leg] = field(default_factory=list)

    @property
    def t0_s(self) -> float:
        return float(self.t_s[0])

    @property
    def t1_s(self) -> float:
        return float(self.t_s[-1])

    def at(self, t_s) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Position, velocity, acceleration (ECEF) at times ``t_s`` (m,) by cubic Hermite; NaN outside the flight."""
        t = np.atleast_1d(np.asarray(t_s, dtype=float))
        ts = self.t_s
        i = np.clip(np.searchsorted(ts, t, side="right") - 1, 0, ts.size - 2)
        h = ts[i + 1] - ts[i]
        s = ((t - ts[i]) / h)[:, None]
        p0, p1, v0, v1 = self.pos[i], self.pos[i + 1], self.vel[i], self.vel[i + 1]
        a0, a1 = self.acc[i], self.acc[i + 1]
        hh = h[:, None]
        s2, s3 = s * s, s * s * s
        pos = (2 * s3 - 3 * s2 + 1) * p0 + (s3 - 2 * s2 + s) * hh * v0 + (-2 * s3 + 3 * s2) * p1 + (s3 - s2) * hh * v1
        dpos = ((6 * s2 - 6 * s) * p0 + (3 * s2 - 4 * s + 1) * hh * v0 + (-6 * s2 + 6 * s) * p1
                + (3 * s2 - 2 * s) * hh * v1) / hh
        acc = a0 + s * (a1 - a0)
        out = (t < ts[0]) | (t > ts[-1])
        for arr in (pos, dpos, acc):
            arr[out] = np.nan
        return pos, dpos, acc


@njit(cache=True)
def _fly(lat, lon, h, V, psi, legs, limits, step_s, every):  # pragma: no cover - compiled
    """Integrate one flight over its legs (rows: duration, lateral accel, speed, alt, weave period; NaN: keep).

    Returns the samples every ``every`` steps: (k, 9) rows lat, lon, h, V, ψ, γ, a_l, a_t, a_v (the last two
    the along-track and vertical accelerations of the step that follows).
    """
    max_lat, jerk, max_long, max_climb, max_descent, max_vert = (limits[0], limits[1], limits[2], limits[3],
                                                                 limits[4], limits[5])
    total = 0.0
    for j in range(legs.shape[0]):
        total += legs[j, 0]
    n_steps = int(np.ceil(total / step_s - 1e-9))
    out = np.empty((n_steps // every + 2, 9))
    gam, a_l, a_t, a_v = 0.0, 0.0, 0.0, 0.0
    v_cmd, h_cmd = V, h
    leg, leg_t0, t = 0, 0.0, 0.0
    k = 0
    for step in range(n_steps + 1):
        while leg < legs.shape[0] - 1 and t >= leg_t0 + legs[leg, 0] - 1e-9:
            leg_t0 += legs[leg, 0]
            leg += 1
        if not np.isnan(legs[leg, 2]):
            v_cmd = legs[leg, 2]
        if not np.isnan(legs[leg, 3]):
            h_cmd = legs[leg, 3]
        # commands, reached at the airframe's rates
        a_cmd = legs[leg, 1]
        if legs[leg, 4] > 0.0:
            a_cmd = a_cmd * np.sin(2.0 * np.pi * (t - leg_t0) / legs[leg, 4])
        a_cmd = min(max(a_cmd, -max_lat), max_lat)
        a_l += min(max(a_cmd - a_l, -jerk * step_s), jerk * step_s)
        a_t = min(max((v_cmd - V) / 2.0, -max_long), max_long)
        hdot_cmd = min(max((h_cmd - h) / 10.0, -max_descent), max_climb)
        g_cmd = np.arcsin(min(max(hdot_cmd / V, -0.99), 0.99))
        a_v = min(max((g_cmd - gam) * V / 2.0, -max_vert), max_vert)
        if step % every == 0 or step == n_steps:
            out[k, 0], out[k, 1], out[k, 2], out[k, 3], out[k, 4], out[k, 5] = lat, lon, h, V, psi, gam
            out[k, 6], out[k, 7], out[k, 8] = a_l, a_t, a_v
            k += 1
        if step == n_steps:
            break
        # midpoint step of the kinematics
        Vm = V + 0.5 * a_t * step_s
        gm = gam + 0.5 * a_v / V * step_s
        pm = psi + 0.5 * a_l / (V * np.cos(gam)) * step_s
        hm = h + 0.5 * V * np.sin(gam) * step_s
        slat = np.sin(lat)
        w = np.sqrt(1.0 - geo.E2 * slat * slat)
        m_rad = geo.A_M * (1.0 - geo.E2) / (w * w * w)
        n_rad = geo.A_M / w
        vh = Vm * np.cos(gm)
        latm = lat + 0.5 * V * np.cos(gam) * np.cos(psi) / (m_rad + h) * step_s
        lat += vh * np.cos(pm) / (m_rad + hm) * step_s
        lon += vh * np.sin(pm) / ((n_rad + hm) * np.cos(latm)) * step_s
        h += Vm * np.sin(gm) * step_s
        psi += a_l / (Vm * np.cos(gm)) * step_s
        gam += a_v / Vm * step_s
        V += a_t * step_s
        t += step_s
    return out[:k]


def fly(start: Start, legs: list[Leg], airframe: Airframe, t0_s: float = 0.0, kind: str | None = None,
        step_s: float = 0.05, sample_s: float = 0.25) -> Flight:
    """Fly ``legs`` from ``start`` under ``airframe``'s limits (module docstring); the flight starts at ``t0_s``."""
    if not legs:
        raise ValueError("a flight needs at least one leg")
    table = np.array([[lg.duration_s, lg.lat_accel_mps2, np.nan if lg.speed_mps is None else lg.speed_mps,
                       np.nan if lg.alt_m is None else lg.alt_m, lg.weave_period_s] for lg in legs], dtype=float)
    if np.any(~(table[:, 0] > 0)):
        raise ValueError("leg durations must be positive seconds")
    limits = np.array([airframe.max_lat_mps2, airframe.lat_jerk_mps3, airframe.max_long_mps2, airframe.max_climb_mps,
                       airframe.max_descent_mps, airframe.max_vert_mps2])
    every = max(1, round(sample_s / step_s))
    s = _fly(float(start.lat_rad), float(start.lon_rad), float(start.alt_m), float(start.speed_mps),
             float(start.heading_rad), table, limits, float(step_s), every)
    lat, lon, h, V, psi, gam = s[:, 0], s[:, 1], s[:, 2], s[:, 3], s[:, 4], s[:, 5]
    t = t0_s + np.arange(s.shape[0]) * every * step_s
    t[-1] = t0_s + table[:, 0].sum()
    pos = geo.geodetic_to_ecef(lat, lon, h)
    # unit vectors in ENU: along the velocity, to the right (horizontal), and up in the vertical plane of the track
    along = np.stack([np.cos(gam) * np.sin(psi), np.cos(gam) * np.cos(psi), np.sin(gam)], axis=1)
    right = np.stack([np.cos(psi), -np.sin(psi), np.zeros_like(psi)], axis=1)
    up = np.stack([-np.sin(gam) * np.sin(psi), -np.sin(gam) * np.cos(psi), np.cos(gam)], axis=1)
    rot = geo.enu_rotation(lat, lon)
    vel = np.einsum("nji,nj->ni", rot, V[:, None] * along)
    a_enu = s[:, 7, None] * along + s[:, 6, None] * right + s[:, 8, None] * up
    acc = np.einsum("nji,nj->ni", rot, a_enu)
    return Flight(kind or airframe.name, t, pos, vel, acc, list(legs))


# --------------------------------------------------------------------------- families of profiles


def _start_near(rng, lat0, lon0, r_min_m, r_max_m, alt_m, speed_mps, heading_rad=None) -> Start:
    """A start at a random bearing and distance ``[r_min, r_max]`` from (lat0, lon0), heading random by default."""
    d = rng.uniform(r_min_m, r_max_m)
    lat, lon = geo.destination(lat0, lon0, rng.uniform(0, 2 * np.pi), d)
    hdg = rng.uniform(0, 2 * np.pi) if heading_rad is None else heading_rad
    return Start(float(lat), float(lon), float(alt_m), float(speed_mps), float(hdg))


def _inbound(rng, lat0, lon0, r_m, spread_rad=0.6) -> tuple[float, float, float]:
    """A point ``r_m`` from (lat0, lon0) and a heading roughly towards it: (lat, lon, heading)."""
    brg = rng.uniform(0, 2 * np.pi)
    lat, lon = geo.destination(lat0, lon0, brg, r_m)
    return float(lat), float(lon), float(np.mod(brg + np.pi + rng.uniform(-spread_rad, spread_rad), 2 * np.pi))


def airliners(n: int, rng: np.random.Generator, lat0_rad: float, lon0_rad: float, duration_s: float = 600.0,
              turning: bool = True) -> list[Flight]:
    """Airliners en route, straight or gently turning: 130-250 m/s at 2-11 km, over a radar at (lat0, lon0).

    Each starts 30-70 km out, heading roughly across the coverage.  With
    ``turning``: legs of 60-180 s, each followed by a heading change of 10-40°
    at 10-20° of bank, and one in two changes level by 600-1500 m at 5-10 m/s.
    """
    out = []
    for _ in range(n):
        lat, lon, hdg = _inbound(rng, lat0_rad, lon0_rad, rng.uniform(30e3, 70e3), 0.8)
        v = rng.uniform(130.0, 250.0)
        alt0 = alt = rng.uniform(2e3, 11e3)
        legs: list[Leg] = []
        t = 0.0
        while t < duration_s:
            straight = rng.uniform(60.0, 180.0) if turning else duration_s
            legs.append(Leg(straight))
            t += straight
            if turning and t < duration_s:
                a = bank_accel(np.radians(rng.uniform(10.0, 20.0)))
                turn = turn_leg(np.radians(rng.uniform(10.0, 40.0)) * rng.choice([-1, 1]), float(a), v)
                if rng.random() < 0.5:
                    alt = float(np.clip(alt + rng.choice([-1, 1]) * rng.uniform(600.0, 1500.0), 1500.0, 12e3))
                    turn = Leg(turn.duration_s, turn.lat_accel_mps2, alt_m=alt)
                legs.append(turn)
                t += turn.duration_s
        out.append(fly(Start(lat, lon, alt0, v, hdg), legs, AIRLINER,
                       kind="airliner_turning" if turning else "airliner_straight"))
    return out


def approaches(n: int, rng: np.random.Generator, lat0_rad: float, lon0_rad: float) -> list[Flight]:
    """Arrivals flying a downwind, base and final: two 90° turns at 25° of bank, slowing from ~125 to ~75 m/s.

    Downwind at 2.5-3.5 km and 115-135 m/s for 60-120 s, a 90° turn to base
    while descending to 1.5 km and slowing to 95 m/s, base for 30-60 s, a
    90° turn to final, and the final at 75-80 m/s down a 3° slope (~4 m/s)
    for 150 s.  The circuit is placed 10-40 km from the radar, left or
    right hand.
    """
    out = []
    bank = float(bank_accel(np.radians(25.0)))
    for _ in range(n):
        v0 = rng.uniform(115.0, 135.0)
        start = _start_near(rng, lat0_rad, lon0_rad, 10e3, 40e3, rng.uniform(2.5e3, 3.5e3), v0)
        side = float(rng.choice([-1.0, 1.0]))
        v_final = rng.uniform(75.0, 80.0)
        legs = [Leg(rng.uniform(60.0, 120.0)),
                turn_leg(side * np.pi / 2, bank, 105.0, speed_mps=95.0, alt_m=1500.0),
                Leg(rng.uniform(30.0, 60.0)),
                turn_leg(side * np.pi / 2, bank, 90.0, speed_mps=v_final),
                Leg(150.0, alt_m=1500.0 - 150.0 * v_final * np.tan(np.radians(3.0)))]
        out.append(fly(start, legs, AIRLINER, kind="approach"))
    return out


def holdings(n: int, rng: np.random.Generator, lat0_rad: float, lon0_rad: float, laps: int = 2) -> list[Flight]:
    """ICAO holding patterns: one-minute legs and 180° turns at standard rate or 25° of bank, 210-230 kt, level.

    The rate is 3°/s unless that needs more than 25° of bank (at 220 kt it
    does: 25° gives ~2.3°/s); holdings 15-50 km from the radar at 3-7 km,
    right-hand (the standard) or left.
    """
    out = []
    for _ in range(n):
        v = rng.uniform(210.0, 230.0) * KT
        a = min(v * np.radians(3.0), float(bank_accel(np.radians(25.0))))
        side = rng.choice([-1.0, 1.0], p=[0.2, 0.8])
        legs = [Leg(rng.uniform(20.0, 60.0))]
        for _ in range(laps):
            legs += [turn_leg(side * np.pi, a, v), Leg(60.0), turn_leg(side * np.pi, a, v), Leg(60.0)]
        out.append(fly(_start_near(rng, lat0_rad, lon0_rad, 15e3, 50e3, rng.uniform(3e3, 7e3), v), legs, AIRLINER,
                       kind="holding"))
    return out


def fighters(n: int, rng: np.random.Generator, lat0_rad: float, lon0_rad: float, g_range=(3.0, 6.0),
             duration_s: float = 240.0) -> list[Flight]:
    """Fighters manoeuvring hard: 220-300 m/s at 3-9 km, turns of 60-270° at 3-6 g, reversals, climbs and dives.

    Straight legs of 8-30 s alternate with turns at a load factor drawn from
    ``g_range`` (horizontal acceleration ``g √(n² − 1)``), their direction
    reversed one time in two; one turn in three also changes height by 1-3 km.
    """
    out = []
    for _ in range(n):
        v = rng.uniform(220.0, 300.0)
        alt = rng.uniform(3e3, 9e3)
        start = _start_near(rng, lat0_rad, lon0_rad, 20e3, 60e3, alt, v)
        legs: list[Leg] = []
        t, side = 0.0, rng.choice([-1.0, 1.0])
        while t < duration_s:
            legs.append(Leg(rng.uniform(8.0, 30.0), speed_mps=rng.uniform(220.0, 300.0)))
            a = float(turn_accel(rng.uniform(*g_range)))
            side = -side if rng.random() < 0.5 else side
            alt_cmd = None
            if rng.random() < 1 / 3:
                alt = float(np.clip(alt + rng.choice([-1, 1]) * rng.uniform(1e3, 3e3), 1.5e3, 11e3))
                alt_cmd = alt
            turn = turn_leg(side * np.radians(rng.uniform(60.0, 270.0)), a, v, alt_m=alt_cmd)
            legs.append(turn)
            t += legs[-2].duration_s + turn.duration_s
        out.append(fly(start, legs, FIGHTER, kind="fighter"))
    return out


def missiles(n: int, rng: np.random.Generator, lat0_rad: float, lon0_rad: float) -> list[Flight]:
    """Cruise missiles' terminal manoeuvres: a run-in, a weave of ±3-8 g, a pop-up and a dive.

    240-280 m/s at 300-600 m (low, but seen by a radar on a hill), towards a
    point near the radar: 20-40 s straight, a lateral weave of amplitude 3-8 g
    and period 4-8 s for 15-30 s, a pop-up to 1.5-2.5 km and a dive back down.
    """
    out = []
    for _ in range(n):
        lat, lon, hdg = _inbound(rng, lat0_rad, lon0_rad, rng.uniform(40e3, 60e3), 0.3)
        v = rng.uniform(240.0, 280.0)
        alt = rng.uniform(300.0, 600.0)
        g = float(turn_accel(rng.uniform(3.0, 8.0)))
        top = rng.uniform(1.5e3, 2.5e3)
        legs = [Leg(rng.uniform(20.0, 40.0)), Leg(rng.uniform(15.0, 30.0), g, weave_period_s=rng.uniform(4.0, 8.0)),
                Leg(15.0, alt_m=top), Leg(25.0, alt_m=alt)]
        out.append(fly(Start(lat, lon, alt, v, hdg), legs, CRUISE_MISSILE, kind="missile"))
    return out


FAMILIES = {"airliner_straight": lambda n, rng, lat, lon: airliners(n, rng, lat, lon, turning=False),
            "airliner_turning": airliners, "approach": approaches, "holding": holdings, "fighter": fighters,
            "missile": missiles}


def truth_at(flights: list[Flight], t_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The flights in the air at ``t_s``: their indices (k,), ECEF positions and velocities (k, 3)."""
    ids = np.array([i for i, f in enumerate(flights) if f.t0_s <= t_s <= f.t1_s], dtype=np.intp)
    if not ids.size:
        return ids, np.empty((0, 3)), np.empty((0, 3))
    pv = [flights[i].at(t_s) for i in ids]
    return ids, np.concatenate([p for p, _, _ in pv]), np.concatenate([v for _, v, _ in pv])
