"""Free-flight dynamics shared by the world (truth) and the C2 core (prediction).

The equations of motion are written in the rotating ECEF frame:

    r'' = g(r) - 2 Ω × r' - Ω × (Ω × r)

with g the WGS84 point-mass plus J2 gravity and Ω the Earth's rotation rate
(Vallado, *Fundamentals of Astrodynamics and Applications*, 4th ed., §8.6.1
for J2; Coriolis and centrifugal terms for the rotating frame).  Both sides of
the one rule use this single model, so a C2 impact prediction and the truth
trajectory differ only by what the tracker does not know.

Integration is a fixed-step classical Runge-Kutta 4, vectorized over any
number of objects (arrays of shape ``(n, 3)``).  The prediction loops call
it for a few tens of objects at a time, hundreds of thousands of times a run,
where numpy's per-call overhead is nearly all the cost; for ``(n, 3)`` arrays
:func:`rk4_step` therefore runs a compiled loop (numba) that performs the
same floating-point operations in the same order as the numpy expressions,
so both give bit-for-bit the same numbers (a test holds them to it).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from tdome.geo import A_M, radial_height

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
    r = np.asarray(r, dtype=float)
    if r.ndim == 2 and r.shape[1] == 3:
        n = r.shape[0]
        if np.ndim(dt) == 0:
            h = np.full(n, float(dt))
        else:
            h = np.asarray(dt, dtype=float).reshape(-1)
            h = np.ascontiguousarray(np.broadcast_to(h, (n,))) if h.size != n else h
        return _rk4_compiled(np.ascontiguousarray(r), np.ascontiguousarray(v, dtype=float), h, bool(rotating),
                             bool(j2))
    return rk4_step_numpy(r, v, dt, rotating, j2)


def rk4_steps(r: np.ndarray, v: np.ndarray, dt: np.ndarray, n_steps: int):
    """``n_steps`` RK4 steps of free flight (rotating frame, J2) of per-object length ``dt`` (n,)."""
    return _rk4_steps_compiled(np.ascontiguousarray(r, dtype=float), np.ascontiguousarray(v, dtype=float),
                               np.ascontiguousarray(dt, dtype=float), int(n_steps))


def free_flight_to_ground(pos: np.ndarray, vel: np.ndarray, n_nodes: int, h: float):
    """Free flight (rotating frame, J2) on a grid of ``n_nodes`` nodes ``h`` apart, down to the ground.

    Returns ``(node_pos, node_vel, impact, t_impact)``: nodes (n, n_nodes, 3),
    NaN after the first node past the ground; the impact point and time (s
    after the first node) where the height above the ellipsoid
    (:func:`tdome.geo.height_m`) reaches zero, found by regula falsi (six
    iterations) on the fraction of the step; NaN and inf where no impact
    comes within the grid.  Objects starting at or below the ground stay put.
    """
    return _to_ground_compiled(np.ascontiguousarray(pos, dtype=float), np.ascontiguousarray(vel, dtype=float),
                               int(n_nodes), float(h))


def rk4_step_numpy(r: np.ndarray, v: np.ndarray, dt, rotating: bool = True, j2: bool = True):
    """:func:`rk4_step` in numpy for any shape ``(..., 3)``: the reference the compiled loop matches."""
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


_C_J2 = 1.5 * J2 * A_M * A_M


@njit(cache=True, inline="always")
def _acceleration(x, y, z, vx, vy, rotating, j2):
    """Free-flight acceleration ``(gx, gy, gz)`` at ``(x, y, z)`` moving at ``(vx, vy, ·)``.

    As :func:`gravity_ecef` + :func:`free_flight_acceleration`, operation for
    operation (einsum sums r·r as (x² + z²) + y²).
    """
    r2 = (x * x + z * z) + y * y
    k = -MU_M3_S2 / (r2 * np.sqrt(r2))
    if j2:
        c = _C_J2 / r2
        kf = k * (1.0 + c * (1.0 - 5.0 * z * z / r2))
        gx, gy, gz = x * kf, y * kf, z * kf + (2.0 * k * c) * z
    else:
        gx, gy, gz = x * k, y * k, z * k
    if rotating:
        w = OMEGA_EARTH_RAD_S
        gx += 2.0 * w * vy + w * w * x
        gy += -2.0 * w * vx + w * w * y
    return gx, gy, gz


@njit(cache=True, inline="always")
def _rk4_one(x, y, z, vx, vy, vz, h, rotating, j2):
    """One RK4 step of one object, as :func:`rk4_step_numpy`: returns ``(x, y, z, vx, vy, vz)`` after ``h``."""
    h2 = 0.5 * h
    a1x, a1y, a1z = _acceleration(x, y, z, vx, vy, rotating, j2)
    v2x, v2y, v2z = vx + h2 * a1x, vy + h2 * a1y, vz + h2 * a1z
    a2x, a2y, a2z = _acceleration(x + h2 * vx, y + h2 * vy, z + h2 * vz, v2x, v2y, rotating, j2)
    v3x, v3y, v3z = vx + h2 * a2x, vy + h2 * a2y, vz + h2 * a2z
    a3x, a3y, a3z = _acceleration(x + h2 * v2x, y + h2 * v2y, z + h2 * v2z, v3x, v3y, rotating, j2)
    v4x, v4y, v4z = vx + h * a3x, vy + h * a3y, vz + h * a3z
    a4x, a4y, a4z = _acceleration(x + h * v3x, y + h * v3y, z + h * v3z, v4x, v4y, rotating, j2)
    s = h / 6.0
    return (x + s * (vx + 2.0 * v2x + 2.0 * v3x + v4x), y + s * (vy + 2.0 * v2y + 2.0 * v3y + v4y),
            z + s * (vz + 2.0 * v2z + 2.0 * v3z + v4z), vx + s * (a1x + 2.0 * a2x + 2.0 * a3x + a4x),
            vy + s * (a1y + 2.0 * a2y + 2.0 * a3y + a4y), vz + s * (a1z + 2.0 * a2z + 2.0 * a3z + a4z))


@njit(cache=True)
def _rk4_compiled(r, v, dt, rotating, j2):  # pragma: no cover - compiled; checked against rk4_step_numpy
    """:func:`rk4_step` of every row of ``r``, ``v`` (n, 3), row ``i`` by ``dt[i]``."""
    r_new, v_new = np.empty_like(r), np.empty_like(v)
    for i in range(r.shape[0]):
        (r_new[i, 0], r_new[i, 1], r_new[i, 2], v_new[i, 0], v_new[i, 1],
         v_new[i, 2]) = _rk4_one(r[i, 0], r[i, 1], r[i, 2], v[i, 0], v[i, 1], v[i, 2], dt[i], rotating, j2)
    return r_new, v_new


@njit(cache=True)
def _rk4_steps_compiled(r, v, dt, n_steps):  # pragma: no cover - compiled
    """``n_steps`` RK4 steps (rotating frame, J2) of every row, row ``i`` by ``dt[i]`` each; new arrays."""
    r_new, v_new = np.empty_like(r), np.empty_like(v)
    for i in range(r.shape[0]):
        x, y, z, vx, vy, vz = r[i, 0], r[i, 1], r[i, 2], v[i, 0], v[i, 1], v[i, 2]
        for _ in range(n_steps):
            x, y, z, vx, vy, vz = _rk4_one(x, y, z, vx, vy, vz, dt[i], True, True)
        r_new[i, 0], r_new[i, 1], r_new[i, 2], v_new[i, 0], v_new[i, 1], v_new[i, 2] = x, y, z, vx, vy, vz
    return r_new, v_new


@njit(cache=True)
def _to_ground_compiled(pos, vel, n_nodes, h):  # pragma: no cover - compiled; see free_flight_to_ground
    n = pos.shape[0]
    node_pos = np.full((n, n_nodes, 3), np.nan)
    node_vel = np.full((n, n_nodes, 3), np.nan)
    impact = np.full((n, 3), np.nan)
    t_imp = np.full(n, np.inf)
    for i in range(n):
        x, y, z, vx, vy, vz = pos[i, 0], pos[i, 1], pos[i, 2], vel[i, 0], vel[i, 1], vel[i, 2]
        node_pos[i, 0, 0], node_pos[i, 0, 1], node_pos[i, 0, 2] = x, y, z
        node_vel[i, 0, 0], node_vel[i, 0, 1], node_vel[i, 0, 2] = vx, vy, vz
        alt_prev = radial_height(x, y, z)
        if not alt_prev > 0:
            continue
        for k in range(1, n_nodes):
            x1, y1, z1, vx1, vy1, vz1 = _rk4_one(x, y, z, vx, vy, vz, h, True, True)
            alt1 = radial_height(x1, y1, z1)
            node_pos[i, k, 0], node_pos[i, k, 1], node_pos[i, k, 2] = x1, y1, z1
            node_vel[i, k, 0], node_vel[i, k, 1], node_vel[i, k, 2] = vx1, vy1, vz1
            if alt1 <= 0:  # regula falsi on the step's length for the height's zero
                lo, hi, f_lo, f_hi = 0.0, 1.0, alt_prev, alt1
                for _ in range(6):
                    frac = lo + (hi - lo) * f_lo / max(f_lo - f_hi, 1e-9)
                    xc, yc, zc, _, _, _ = _rk4_one(x, y, z, vx, vy, vz, frac * h, True, True)
                    fc = radial_height(xc, yc, zc)
                    if fc > 0:
                        lo, f_lo = frac, fc
                    else:
                        hi, f_hi = frac, fc
                frac = lo + (hi - lo) * f_lo / max(f_lo - f_hi, 1e-9)
                xc, yc, zc, _, _, _ = _rk4_one(x, y, z, vx, vy, vz, frac * h, True, True)
                impact[i, 0], impact[i, 1], impact[i, 2] = xc, yc, zc
                t_imp[i] = (k - 1 + frac) * h
                break
            x, y, z, vx, vy, vz, alt_prev = x1, y1, z1, vx1, vy1, vz1, alt1
    return node_pos, node_vel, impact, t_imp


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
