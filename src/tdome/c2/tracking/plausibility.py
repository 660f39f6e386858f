"""Plausibility: can any object the C2 knows of move the way a track moves?

Interface::

    ThreatKinematics(threat_class, speed_mps, cruise_alt_m, max_range_m, ...)   one catalog type, as the C2 knows it
    Envelope.of(types, config)          the kinematic envelope of those types and of aircraft, by altitude band
    envelope.implausible(x, P, sigmas)  -> (n,) bool  outside the envelope by ``sigmas`` standard deviations
    envelope.outside(x)                 -> (n,) bool  the point estimate outside (no uncertainty: an audit)

A ghost (a track confirmed on clutter, or an aircraft's track that took a
clutter plot far off) can fly at kilometres a second in civil airspace,
and a fast high track is exactly what threat evaluation calls ballistic:
one such ghost costs a real interceptor.  So a track must move as some
object could.  The envelope is the union of two:

- **air-breathing**: below ``air_ceiling_m``, no faster than the fastest
  air-breathing type of the catalog or than ``air_max_speed_mps`` (civil
  and friendly aircraft, which the threat catalog does not list), times
  ``plausibility_speed_margin``, and climbing no faster than
  ``air_max_climb_mps`` (a dive is not limited: an anti-radiation missile
  comes down on its radar at full speed);
- **ballistic**: the states of the catalog's ballistic and rocket types on
  their free-flight arcs, over every range from 5 % to 100 % of their
  maximum, launched at their ``gamma_deg`` or on the minimum-energy arc.
  Per altitude band the envelope keeps the fastest and the slowest speed
  there and, per speed, the flattest flight-path angle of an object at
  least that fast
  (a 3 km/s object at 5 km altitude must be diving steeply: only a
  re-entering missile goes that fast that low).  The slowest speed holds
  in vacuum; where the air slows the catalog's lightest object (a decoy)
  by a metre per second squared or more, the slowest is that object's
  terminal speed ``√(2 β g / ρ)``.  A type's terminal
  manoeuvre may bend its flight path by up to ``a · T / (π v)`` below its
  start altitude, so the angle is lowered by that much there.

The arcs are Keplerian ellipses about a spherical, non-rotating Earth, in
closed form: from the range angle ψ and the launch angle γ, the launch speed
``v² = ν μ / R`` with ``ν = tan(ψ/2) / (sin γ cos γ + tan(ψ/2) cos² γ)``;
along the arc the vis-viva equation gives the speed at each radius and the
angular momentum the flight-path angle (Zarchan, *Tactical and Strategic
Missile Guidance*, ch. "Ballistic engagements"; Bate, Mueller and White,
*Fundamentals of Astrodynamics*, ch. 6).  Launch from the surface at
burnout speed, no drag and no Earth rotation make the envelope wider than
the truth, never narrower (drag only slows; rotation changes the
Earth-relative speed by less than the margin).

The test under uncertainty (:meth:`Envelope.implausible`) gives a track the
benefit of its covariance: altitude ± kσ, speed down to ``|v| − kσ`` along
the velocity, climb down to ``v_up − kσ``, flight path as steep as
``(|v_up| + kσ) / (|v| − kσ)`` allows; it is implausible only when neither
envelope holds any point of that box.  A young track from two coarse plots
is therefore not dropped for its noisy velocity, a ghost flying 3 km/s level
is.  The tracker applies it to every track a scan updated
(:meth:`~tdome.c2.tracking.tracker.Tracker.process`): an implausible
tentative track is deleted before it can confirm, an implausible confirmed
track is dropped before any picture shows it; both are counted.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from tdome.atmosphere import density
from tdome.c2.tracking.gaussian import quad_block
from tdome.dynamics import MU_M3_S2
from tdome.geo import MEAN_RADIUS_M, geodetic_of

BALLISTIC_CLASSES = ("ballistic", "rocket")
AIR_BREATHING_CLASSES = ("cruise", "drone", "aircraft")

# Altitude bands (m): 1 km up to 20 km, 5 km up to 100 km, 25 km up to 1,000 km; the last open above.
BAND_EDGES_M = np.concatenate([np.arange(0.0, 20e3, 1e3), np.arange(20e3, 100e3, 5e3), np.arange(100e3, 1000e3, 25e3),
                               [1000e3]])
SPEED_STEP_MPS = 50.0  # speed bins of the ballistic envelope
MAX_SPEED_MPS = 10000.0
DRAG_MPS2 = 1.0  # where drag slows the lightest object this much, a ballistic object may be as slow as drag makes it
G0_MPS2 = 9.80665


@dataclass(frozen=True)
class ThreatKinematics:
    """One threat type of the catalog, as far as its motion goes (SI units).

    ``cruise_alt_m`` for air-breathing classes; ``max_range_m``,
    ``gamma_rad`` (None: the minimum-energy arc) and the terminal manoeuvre
    (acceleration amplitude, period and start altitude; zero: none) for
    ballistic and rocket classes, and the ballistic coefficient of the
    lightest object it flies (the re-entry vehicle, or its decoys; None:
    no drag).
    """

    threat_class: str
    speed_mps: float
    max_range_m: float
    cruise_alt_m: float | None = None
    gamma_rad: float | None = None
    manoeuvre_accel_mps2: float = 0.0
    manoeuvre_period_s: float = 0.0
    manoeuvre_below_alt_m: float = 0.0
    lightest_beta_kg_m2: float | None = None  # the lightest thing it flies (its RV or its decoys); None: vacuum

    def __post_init__(self) -> None:
        if self.threat_class not in BALLISTIC_CLASSES + AIR_BREATHING_CLASSES:
            raise ValueError(f"unknown threat class {self.threat_class!r}")


def arc_samples(t: ThreatKinematics, n_ranges: int = 40, n_points: int = 300) -> tuple[np.ndarray, ...]:
    """States along a ballistic type's free-flight arcs (module docstring): ``(altitude m, speed m/s, |sin γ|)``.

    ``n_ranges`` ranges from 5 % to 100 % of ``max_range_m``, each sampled at
    ``n_points`` radii from the surface to the apogee (the descent mirrors
    the ascent); ``|sin γ|`` is already lowered by the terminal manoeuvre's
    bend below its start altitude.
    """
    re = MEAN_RADIUS_M
    psi = np.linspace(0.05, 1.0, n_ranges) * t.max_range_m / re  # range angles
    gamma = np.full(n_ranges, t.gamma_rad) if t.gamma_rad is not None else np.pi / 4 - psi / 4
    tan_half = np.tan(psi / 2)
    nu = tan_half / (np.sin(gamma) * np.cos(gamma) + tan_half * np.cos(gamma) ** 2)
    v0_sq = nu * MU_M3_S2 / re
    energy = v0_sq / 2 - MU_M3_S2 / re
    h_mom = re * np.sqrt(v0_sq) * np.cos(gamma)
    # Apogee: the larger root of 2ε r² + 2μ r − h² = 0 (cos γ = 1 there).
    r_apo = (-2 * MU_M3_S2 - np.sqrt(4 * MU_M3_S2**2 + 8 * energy * h_mom**2)) / (4 * energy)
    frac = np.linspace(0.0, 1.0, n_points)
    r = re + frac[None, :] * (r_apo - re)[:, None]
    v = np.sqrt(np.maximum(2 * (energy[:, None] + MU_M3_S2 / r), 0.0))
    cos_g = np.clip(h_mom[:, None] / np.maximum(r * v, 1e-9), 0.0, 1.0)
    g = np.arccos(cos_g)  # |γ|
    alt = r - re
    if t.manoeuvre_accel_mps2 > 0:
        bend = t.manoeuvre_accel_mps2 * t.manoeuvre_period_s / (np.pi * np.maximum(v, 1.0))
        g = np.where(alt <= t.manoeuvre_below_alt_m, np.maximum(g - bend, 0.0), g)
    return alt.ravel(), v.ravel(), np.sin(g).ravel()


@dataclass(frozen=True)
class Envelope:
    """The kinematic envelope (module docstring), as arrays the compiled test reads.

    ``band_edges_m`` (B + 1,) altitude bands; ``ballistic_speed_mps`` (B,)
    the fastest ballistic object in each band and ``ballistic_slow_mps`` the
    slowest, margin included (0 and inf: none there); ``ballistic_min_sin`` (B, S) the flattest ``|sin γ|`` of a
    ballistic object at least ``s · SPEED_STEP_MPS`` fast in the band, the
    angle margin taken off (2: none that fast); then the air-breathing
    limits, margin included.
    """

    band_edges_m: np.ndarray
    ballistic_speed_mps: np.ndarray
    ballistic_slow_mps: np.ndarray
    ballistic_min_sin: np.ndarray
    speed_margin: float
    air_speed_mps: float
    air_climb_mps: float
    air_ceiling_m: float

    @classmethod
    def of(cls, types: Sequence[ThreatKinematics], config) -> Envelope:
        """The envelope of ``types`` and of aircraft, with the limits and margins of ``config`` (a
        :class:`~tdome.c2.tracking.config.TrackerConfig`).

        Built once per catalog and settings (each tracker of a run, and the run's record, ask for the same
        one; a study asks for it every run): the arrays are shared, read-only.
        """
        c = config
        return _envelope(tuple(types), float(c.plausibility_speed_margin), float(c.plausibility_angle_margin_rad),
                         float(c.air_max_speed_mps), float(c.air_max_climb_mps), float(c.air_ceiling_m))

    def implausible(self, x: np.ndarray, P: np.ndarray, sigmas: float) -> np.ndarray:
        """Tracks (n,) outside the envelope by ``sigmas`` standard deviations of their covariance ``P``."""
        x = np.ascontiguousarray(np.atleast_2d(x), dtype=float)
        P = np.ascontiguousarray(P, dtype=float).reshape(-1, 6, 6)
        return _implausible(x, P, np.ones(len(x), dtype=np.bool_), float(sigmas), *self.arrays)

    def outside(self, x: np.ndarray) -> np.ndarray:
        """Tracks (n,) whose point estimate ``x`` (n, 6) is outside the envelope (no uncertainty)."""
        x = np.ascontiguousarray(np.atleast_2d(x), dtype=float)
        return _implausible(x, np.zeros((len(x), 6, 6)), np.ones(len(x), dtype=np.bool_), 0.0, *self.arrays)

    @property
    def arrays(self) -> tuple:
        """The envelope as the compiled test takes it."""
        return (self.band_edges_m, self.ballistic_speed_mps, self.ballistic_slow_mps, self.ballistic_min_sin,
                self.speed_margin,
                self.air_speed_mps, self.air_climb_mps, self.air_ceiling_m)


@functools.lru_cache(maxsize=16)
def _envelope(types: tuple[ThreatKinematics, ...], margin: float, angle_margin_rad: float, air_max_speed_mps: float,
              air_max_climb_mps: float, air_ceiling_m: float) -> Envelope:
    """:meth:`Envelope.of`, by value (cached)."""
    edges = BAND_EDGES_M
    n_band, n_speed = edges.size - 1, int(MAX_SPEED_MPS / SPEED_STEP_MPS) + 1
    top = np.zeros(n_band)
    low = np.full(n_band, np.inf)
    min_sin = np.full((n_band, n_speed), 2.0)
    for t in types:
        if t.threat_class not in BALLISTIC_CLASSES:
            continue
        alt, v, s = arc_samples(t)
        b = np.clip(np.searchsorted(edges, alt, side="right") - 1, 0, n_band - 1)
        k = np.minimum((v // SPEED_STEP_MPS).astype(np.int64), n_speed - 1)
        np.maximum.at(top, b, v * margin)
        np.minimum.at(low, b, v / margin)
        np.minimum.at(min_sin, (b, k), s)
    # Where the air slows the catalog's lightest object by a metre per second squared or more at the band's top
    # speed, a ballistic object may be as slow as the air makes it, down to that object's terminal speed
    # √(2 β g / ρ) at the bottom of the band (falling, it nears it from above).
    betas = [t.lightest_beta_kg_m2 for t in types if t.lightest_beta_kg_m2 is not None]
    if betas:
        rho = density(edges[:-1])
        drag = density(0.5 * (edges[:-1] + edges[1:])) * top**2 / (2 * min(betas)) >= DRAG_MPS2
        low = np.where(drag, np.minimum(low, np.sqrt(2 * min(betas) * G0_MPS2 / rho) / margin), low)
    # At least k·step fast: the flattest of every sample in that bin or a faster one.
    min_sin = np.minimum.accumulate(min_sin[:, ::-1], axis=1)[:, ::-1]
    angle = np.arcsin(np.clip(min_sin, 0.0, 1.0)) - angle_margin_rad
    min_sin = np.where(min_sin > 1.0, 2.0, np.sin(np.maximum(angle, 0.0)))
    air = [t for t in types if t.threat_class in AIR_BREATHING_CLASSES]
    air_speed = max([air_max_speed_mps] + [t.speed_mps for t in air]) * margin
    ceiling = max([air_ceiling_m] + [float(t.cruise_alt_m or 0.0) for t in air])
    arrays = [edges.copy(), top, low, min_sin]
    for a in arrays:
        a.setflags(write=False)  # shared by every tracker the cache serves
    return Envelope(band_edges_m=arrays[0], ballistic_speed_mps=top, ballistic_slow_mps=low, ballistic_min_sin=min_sin,
                    speed_margin=margin, air_speed_mps=air_speed, air_climb_mps=air_max_climb_mps,
                    air_ceiling_m=ceiling)



@njit(cache=True)
def _implausible(x, P, rows, k, edges, top, low, min_sin, margin, air_speed, air_climb,
                 ceiling):  # pragma: no cover - compiled
    """:meth:`Envelope.implausible` of the tracks ``rows`` (n,) bool; False elsewhere."""
    n = x.shape[0]
    out = np.zeros(n, dtype=np.bool_)
    up = np.empty(3)
    u = np.empty(3)
    g = np.empty(3)
    n_band = top.shape[0]
    n_speed = min_sin.shape[1]
    for r in range(n):
        if not rows[r]:
            continue
        lat, lon, alt = geodetic_of(x[r, 0], x[r, 1], x[r, 2])
        up[0], up[1], up[2] = np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)
        speed = np.sqrt(x[r, 3] ** 2 + x[r, 4] ** 2 + x[r, 5] ** 2)
        for i in range(3):
            u[i] = x[r, 3 + i] / speed if speed > 0 else up[i]
        v_up = x[r, 3] * up[0] + x[r, 4] * up[1] + x[r, 5] * up[2]
        sd_alt = np.sqrt(max(quad_block(up, P[r], 0), 0.0))
        sd_speed = np.sqrt(max(quad_block(u, P[r], 3), 0.0))
        sd_up = np.sqrt(max(quad_block(up, P[r], 3), 0.0))
        alt_lo, alt_hi = alt - k * sd_alt, alt + k * sd_alt
        speed_lo, speed_hi = max(speed - k * sd_speed, 0.0), speed + k * sd_speed
        # Air-breathing: some point of the box below the ceiling, slow enough, not climbing too fast.
        if alt_lo <= ceiling and speed_lo <= air_speed and v_up - k * sd_up <= air_climb:
            continue
        # Ballistic: some band the altitude reaches holds an object that fast with a flight path that flat:
        # |v_up| - m |v| >= 0 (m the flattest |sin γ| there), within k σ of its linearisation
        # (gradient sign(v_up) up - m u in velocity).
        s_bin = min(int(speed_lo / margin // SPEED_STEP_MPS), n_speed - 1)
        b0 = min(max(np.searchsorted(edges, alt_lo, side="right") - 1, 0), n_band - 1)
        b1 = min(max(np.searchsorted(edges, alt_hi, side="right") - 1, 0), n_band - 1)
        sign = 1.0 if v_up >= 0 else -1.0
        ok = False
        for b in range(b0, b1 + 1):
            m = min_sin[b, s_bin]
            if top[b] < speed_lo or low[b] > speed_hi or m > 1.0:
                continue
            for i in range(3):
                g[i] = sign * up[i] - m * u[i]
            if abs(v_up) - m * speed + k * np.sqrt(max(quad_block(g, P[r], 3), 0.0)) >= 0:
                ok = True
                break
        out[r] = not ok
    return out
