"""Free-flight dynamics shared by the world (truth) and the C2 core (prediction).

The equations of motion are written in the rotating ECEF frame:

    r'' = g(r) - 2 Ω × r' - Ω × (Ω × r)

with g the WGS84 point-mass plus J2 gravity and Ω the Earth's rotation rate
(Vallado, *Fundamentals of Astrodynamics and Applications*, 4th ed., §8.6.1
for J2; Coriolis and centrifugal terms for the rotating frame).  Both sides of
the one rule use this single model, so a C2 impact prediction and the truth
trajectory differ only by what the tracker does not know.

Integration is a fixed-step classical Runge-Kutta 4, vectorized over any
number of objects (arrays of shape ``(n, 3)``).
"""

from __future__ import annotations

import numpy as np

from tdome.geo import A_M

MU_M3_S2 = 3.986004418e14
J2 = 1.08262668e-3
OMEGA_EARTH_RAD_S = 7.292115e-5
_OMEGA = np.array([0.0, 0.0, OMEGA_EARTH_RAD_S])


def gravity_ecef(r: np.ndarray, j2: bool = True) -> np.ndarray:
    """Gravitational acceleration (m/s²) at ECEF positions ``r`` (``(..., 3)``).

    Point mass plus J2:  g = −μ r/|r|³ · [1 + 3/2 J2 (a/|r|)² (1 − 5 z²/|r|²)]
    on x and y, with (3 − 5 z²/|r|²) in place of (1 − 5 z²/|r|²) on z.
    """
    r = np.asarray(r, dtype=float)
    r2 = np.einsum("...i,...i->...", r, r)
    k = -MU_M3_S2 / (r2 * np.sqrt(r2))
    if not j2:
        return r * k[..., None]
    z = r[..., 2]
    c = (1.5 * J2 * A_M * A_M) / r2
    f = 1.0 + c * (1.0 - 5.0 * z * z / r2)
    g = r * (k * f)[..., None]
    g[..., 2] += (2.0 * k * c) * z
    return g


def free_flight_acceleration(r: np.ndarray, v: np.ndarray, rotating: bool = True, j2: bool = True) -> np.ndarray:
    """Acceleration in the ECEF frame of an object in vacuum free flight."""
    a = gravity_ecef(r, j2=j2)
    if rotating:
        # −2 Ω×v − Ω×(Ω×r) with Ω along +z, written out to avoid np.cross overhead.
        w = OMEGA_EARTH_RAD_S
        a[..., 0] += 2.0 * w * v[..., 1] + w * w * r[..., 0]
        a[..., 1] += -2.0 * w * v[..., 0] + w * w * r[..., 1]
    return a


def rk4_step(r: np.ndarray, v: np.ndarray, dt, rotating: bool = True, j2: bool = True):
    """One RK4 step of free flight; ``dt`` is a scalar or an array broadcastable to ``(n, 1)``.

    For r'' = a(r, r') the four stages are (k_r, k_v) = (v_i, a(r_i, v_i)) at
    r_i = r + c_i dt k_r(i−1), v_i = v + c_i dt k_v(i−1), c = (0, ½, ½, 1).
    """
    dt = np.asarray(dt, dtype=float)
    if dt.ndim == 1:
        dt = dt[:, None]
    h2 = 0.5 * dt
    a1 = free_flight_acceleration(r, v, rotating, j2)
    v2 = v + h2 * a1
    a2 = free_flight_acceleration(r + h2 * v, v2, rotating, j2)
    v3 = v + h2 * a2
    a3 = free_flight_acceleration(r + h2 * v2, v3, rotating, j2)
    v4 = v + dt * a3
    a4 = free_flight_acceleration(r + dt * v3, v4, rotating, j2)
    r_new = r + (dt / 6.0) * (v + 2.0 * v2 + 2.0 * v3 + v4)
    v_new = v + (dt / 6.0) * (a1 + 2.0 * a2 + 2.0 * a3 + a4)
    return r_new, v_new


def propagate(r: np.ndarray, v: np.ndarray, duration_s, step_s: float = 1.0, rotating: bool = True, j2: bool = True):
    """Propagate states in free flight by ``duration_s`` (scalar or per object), fixed steps.

    Objects with different durations are advanced together in the same number
    of equal sub-steps (set by the longest duration), each of its own length.
    """
    r = np.array(r, dtype=float)
    v = np.array(v, dtype=float)
    dur = np.broadcast_to(np.asarray(duration_s, dtype=float), r.shape[:-1]).copy()
    n_steps = int(np.max(np.ceil(np.abs(dur) / step_s))) if dur.size else 0
    if n_steps == 0:
        return r, v
    h = dur / n_steps
    for _ in range(n_steps):
        r, v = rk4_step(r, v, h if h.ndim else float(h), rotating=rotating, j2=j2)
    return r, v
