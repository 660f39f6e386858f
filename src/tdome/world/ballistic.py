"""Ballistic threats: free flight from burnout to ground impact, in vacuum or through the air.

The missile is modelled from *burnout at the launch point*: there is no boost
phase, the object simply starts at the launch site with its burnout velocity
and then flies unpowered under the shared model of :mod:`tdome.dynamics`
(rotating ECEF, WGS84 point mass + J2 by default).  Initial velocities are
relative to the rotating Earth.  An object given a ballistic coefficient
β = m / (C_D A) (kg/m²) also feels drag, −ρ(h) |v| v / (2β) with ρ the air
of :mod:`tdome.atmosphere` and v its velocity relative to the air (which
turns with the Earth); without one it flies in vacuum, as a dense warhead
nearly does.  Drag is what separates a light decoy from the heavy warhead
it left with: above the atmosphere both fly the same arc.  It acts on the
way down only (from the first integration step that starts descending,
r · v < 0): the way up through the air is the powered flight the model
replaces by its burnout state at the launch point, whose speed
:func:`solve_launch` finds for the whole flight, drag included.

Spherical, non-rotating closed form (Bate, Mueller & White, *Fundamentals of
Astrodynamics*, 1971, §6.2).  With burnout and re-entry at the same radius r,
speed v, flight-path angle γ above the local horizontal and the speed
parameter Q = v² r / μ, the free-flight range angle ψ satisfies

    cos(ψ/2) = (1 - Q cos²γ) / sqrt(1 + Q (Q - 2) cos²γ)          (BMW 6.2-16)

equivalently ψ = 2 atan2(Q sinγ cosγ, 1 - Q cos²γ), or, solved for Q,

    Q = (1 - cos ψ) / (cos γ (cos γ - cos(γ + ψ)))

(derived from the conic 1/r(θ) = (1 + e cos(θ - ω))/p through r(0) = r(ψ) = r
with dr/dθ = r tan γ at θ = 0, which gives p/r = Q cos²γ = 1/(1 + tanγ cot(ψ/2));
for small ψ it reduces to the flat-Earth R = v² sin 2γ / g).  The range for a
given speed is largest (the minimum-energy trajectory) at γ = (π - ψ)/4
(BMW eq. 6.2-22).

:func:`solve_launch` starts from that closed form and corrects for the
ellipsoid, Earth rotation and J2 with Newton iterations on (speed, azimuth),
the Jacobian taken by finite differences of the real integrator.
"""

from __future__ import annotations

import warnings

import numpy as np
from numba import njit

from tdome.atmosphere import density_kg_m3
from tdome.dynamics import MU_M3_S2, _acceleration, _rk4_one
from tdome.geo import A_M, B_M, ecef_to_geodetic, enu_rotation, geodetic_to_ecef, initial_bearing_rad, radial_height
from tdome.world.trajectory import Trajectory, hermite

# ----------------------------------------------------------------------------
# Spherical closed forms
# ----------------------------------------------------------------------------

def range_angle_rad(speed_mps, gamma_rad, radius_m=A_M):
    """Free-flight range angle ψ (rad) on a non-rotating spherical Earth.

    ψ = 2 atan2(Q sinγ cosγ, 1 - Q cos²γ), Q = v² r / μ (BMW §6.2).  Valid for
    sub-orbital flights (Q < 2, and ψ < 2π).
    """
    q = np.asarray(speed_mps, dtype=float) ** 2 * np.asarray(radius_m, dtype=float) / MU_M3_S2
    g = np.asarray(gamma_rad, dtype=float)
    return 2.0 * np.arctan2(q * np.sin(g) * np.cos(g), 1.0 - q * np.cos(g) ** 2)


def burnout_speed_mps(psi_rad, gamma_rad, radius_m=A_M):
    """Speed (m/s) that reaches range angle ψ at flight-path angle γ (spherical Earth).

    v = sqrt(Q μ / r),  Q = (1 - cos ψ) / (cos γ (cos γ - cos(γ + ψ))).
    """
    psi = np.asarray(psi_rad, dtype=float)
    g = np.asarray(gamma_rad, dtype=float)
    q = (1.0 - np.cos(psi)) / (np.cos(g) * (np.cos(g) - np.cos(g + psi)))
    return np.sqrt(q * MU_M3_S2 / np.asarray(radius_m, dtype=float))


def min_energy_gamma_rad(psi_rad):
    """Flight-path angle of the minimum-energy trajectory, γ = (π - ψ)/4 (BMW eq. 6.2-22)."""
    return 0.25 * (np.pi - np.asarray(psi_rad, dtype=float))


# ----------------------------------------------------------------------------
# Integration to impact
# ----------------------------------------------------------------------------

def _crossing(r0, v0, r1, v1, h_s):
    """Zero-height crossing inside one step, on the cubic Hermite of the two end states.

    Newton on τ ∈ [0, 1] for alt(p(τ)) = 0, with d alt/dτ = n̂ · dp/dτ
    (n̂ the ellipsoid normal).  Returns (tau, pos, vel).
    """
    _, _, a0 = ecef_to_geodetic(r0)
    _, _, a1 = ecef_to_geodetic(r1)
    tau = np.clip(a0 / np.where(a0 - a1 > 0, a0 - a1, 1.0), 0.0, 1.0)
    for _ in range(6):
        p, v = hermite(r0, v0, r1, v1, h_s, tau)
        lat, lon, alt = ecef_to_geodetic(p)
        normal = np.stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)), axis=-1)
        rate = np.einsum("ij,ij->i", normal, v) * h_s  # d alt / d tau
        tau = np.clip(tau - alt / np.where(rate < 0, rate, -1e-9), 0.0, 1.0)
    p, v = hermite(r0, v0, r1, v1, h_s, tau)
    return tau, p, v


@njit(cache=True, inline="always")
def _with_drag(x, y, z, vx, vy, vz, rotating, j2, inv_beta):
    """Free-flight acceleration plus drag −ρ(h) |v| v / (2β) (``inv_beta`` = 1/β, m²/kg; v relative to the air,
    which turns with the Earth: the ECEF velocity)."""
    gx, gy, gz = _acceleration(x, y, z, vx, vy, rotating, j2)
    k = 0.5 * density_kg_m3(radial_height(x, y, z)) * np.sqrt(vx * vx + vy * vy + vz * vz) * inv_beta
    return gx - k * vx, gy - k * vy, gz - k * vz


@njit(cache=True, inline="always")
def _rk4_drag_one(x, y, z, vx, vy, vz, h, rotating, j2, inv_beta):
    """One RK4 step of one object under free flight and drag (:func:`_with_drag`), as
    :func:`tdome.dynamics._rk4_one` steps free flight."""
    h2 = 0.5 * h
    a1x, a1y, a1z = _with_drag(x, y, z, vx, vy, vz, rotating, j2, inv_beta)
    v2x, v2y, v2z = vx + h2 * a1x, vy + h2 * a1y, vz + h2 * a1z
    a2x, a2y, a2z = _with_drag(x + h2 * vx, y + h2 * vy, z + h2 * vz, v2x, v2y, v2z, rotating, j2, inv_beta)
    v3x, v3y, v3z = vx + h2 * a2x, vy + h2 * a2y, vz + h2 * a2z
    a3x, a3y, a3z = _with_drag(x + h2 * v2x, y + h2 * v2y, z + h2 * v2z, v3x, v3y, v3z, rotating, j2, inv_beta)
    v4x, v4y, v4z = vx + h * a3x, vy + h * a3y, vz + h * a3z
    a4x, a4y, a4z = _with_drag(x + h * v3x, y + h * v3y, z + h * v3z, v4x, v4y, v4z, rotating, j2, inv_beta)
    s = h / 6.0
    return (x + s * (vx + 2.0 * v2x + 2.0 * v3x + v4x), y + s * (vy + 2.0 * v2y + 2.0 * v3y + v4y),
            z + s * (vz + 2.0 * v2z + 2.0 * v3z + v4z), vx + s * (a1x + 2.0 * a2x + 2.0 * a3x + a4x),
            vy + s * (a1y + 2.0 * a2y + 2.0 * a3y + a4y), vz + s * (a1z + 2.0 * a2z + 2.0 * a3z + a4z))


@njit(cache=True)
def _to_ground_compiled(r0, v0, step_s, n_steps, rotating, j2, keep_history,
                        inv_beta):  # pragma: no cover - compiled
    """RK4 of all objects in lock-step until each is below the ellipsoid; see :func:`_integrate`.

    Step k (1 ≤ k ≤ n_steps) advances the objects still above ground by one
    :func:`tdome.dynamics.rk4_step` of ``step_s`` (object i with drag of
    ``inv_beta[i]`` = 1/β when that is not zero and the object descends at the
    start of the step: :func:`_rk4_drag_one`); an object whose new
    position p has (p_x² + p_y²)/a² + p_z²/b² < 1 has hit the ground in step
    k.  Returns (n_pre (n,), hit (n,), ends (4, n, 3): r, v before and after
    the impact step, or the last state twice where there is no impact, and the
    history (K+1, n, 3) of positions and of velocities after each step k = 0 … K,
    an object that has landed keeping its first state below ground; K = 0
    without ``keep_history``).
    """
    n = r0.shape[0]
    r, v = r0.copy(), v0.copy()
    n_pre = np.full(n, n_steps, dtype=np.int64)
    hit = np.zeros(n, dtype=np.bool_)
    ends = np.empty((4, n, 3))
    cap = 64 if keep_history else 1
    hist_r, hist_v = np.empty((cap, n, 3)), np.empty((cap, n, 3))
    hist_r[0], hist_v[0] = r, v
    active = np.arange(n)
    m = n
    h = np.full(n, step_s)
    k = 0
    while k < n_steps and m > 0:
        k += 1
        ra, va = np.empty((m, 3)), np.empty((m, 3))
        rn, vn = np.empty((m, 3)), np.empty((m, 3))
        for j in range(m):
            i = active[j]
            for c in range(3):
                ra[j, c], va[j, c] = r[i, c], v[i, c]
            x, y, z, vx, vy, vz = ra[j, 0], ra[j, 1], ra[j, 2], va[j, 0], va[j, 1], va[j, 2]
            if inv_beta[i] > 0.0 and x * vx + y * vy + z * vz < 0.0:  # drag on the way down only
                out = _rk4_drag_one(x, y, z, vx, vy, vz, h[j], rotating, j2, inv_beta[i])
            else:
                out = _rk4_one(x, y, z, vx, vy, vz, h[j], rotating, j2)
            rn[j, 0], rn[j, 1], rn[j, 2], vn[j, 0], vn[j, 1], vn[j, 2] = out
        kept = 0
        for j in range(m):
            i = active[j]
            for c in range(3):
                r[i, c], v[i, c] = rn[j, c], vn[j, c]
            x, y, z = rn[j, 0], rn[j, 1], rn[j, 2]
            if (x * x + y * y) / (A_M * A_M) + z * z / (B_M * B_M) < 1.0:
                hit[i] = True
                n_pre[i] = k
                ends[0, i], ends[1, i], ends[2, i], ends[3, i] = ra[j], va[j], rn[j], vn[j]
            else:
                active[kept] = i
                kept += 1
        m = kept
        if keep_history:
            if k == cap:
                cap *= 2
                grown_r, grown_v = np.empty((cap, n, 3)), np.empty((cap, n, 3))
                grown_r[:k], grown_v[:k] = hist_r[:k], hist_v[:k]
                hist_r, hist_v = grown_r, grown_v
            hist_r[k], hist_v[k] = r, v
    for j in range(m):  # still airborne at n_steps
        i = active[j]
        ends[0, i], ends[1, i], ends[2, i], ends[3, i] = r[i], v[i], r[i], v[i]
    top = k + 1 if keep_history else 1
    return n_pre, hit, ends, hist_r[:top], hist_v[:top]


def _integrate(r0, v0, step_s, max_time_s, rotating, j2, keep_history, inv_beta=None):
    """RK4 all objects together until each crosses zero height; see :func:`fly_ballistic_many`.

    Returns (n_pre (n,), tau (n,), r_imp (n,3), v_imp (n,3), hit (n,), history)
    where the impact happens ``(n_pre - 1 + tau) * step_s`` after launch and
    history is (r, v), each (n, K+1, 3) after steps 0 … K (None without
    ``keep_history``).  The steps run in one compiled call
    (:func:`_to_ground_compiled`), then every impact step's crossing in one
    :func:`_crossing`.
    """
    r = np.ascontiguousarray(np.asarray(r0, dtype=float).reshape(-1, 3))
    v = np.ascontiguousarray(np.asarray(v0, dtype=float).reshape(-1, 3))
    n_steps = int(np.ceil(max_time_s / step_s))
    ib = np.zeros(r.shape[0]) if inv_beta is None else np.ascontiguousarray(
        np.broadcast_to(np.asarray(inv_beta, dtype=float), (r.shape[0],)))
    n_pre, hit, ends, hist_r, hist_v = _to_ground_compiled(r, v, float(step_s), n_steps, bool(rotating), bool(j2),
                                                           bool(keep_history), ib)
    tau = np.zeros(r.shape[0])
    r_imp, v_imp = ends[2].copy(), ends[3].copy()
    ids = np.flatnonzero(hit)
    if ids.size:
        tau[ids], r_imp[ids], v_imp[ids] = _crossing(ends[0, ids], ends[1, ids], ends[2, ids], ends[3, ids], step_s)
    history = (hist_r.transpose(1, 0, 2), hist_v.transpose(1, 0, 2)) if keep_history else (None, None)
    return n_pre, tau, r_imp, v_imp, hit, history


def fly_ballistic_many(r0_ecef, v0_ecef, t0_s=0.0, step_s: float = 0.5, max_time_s: float = 2000.0,
                       rotating: bool = True, j2: bool = True, inv_beta=None) -> list[Trajectory]:
    """Integrate n ballistic objects together from burnout (or release) to ground impact.

    Parameters
    ----------
    r0_ecef, v0_ecef : ndarray (n, 3)
        Burnout position (m) and Earth-relative velocity (m/s) in ECEF.
    t0_s : float or ndarray (n,)
        Burnout (launch) times (s).
    step_s : float
        Fixed RK4 step (s); samples are at ``t0 + k step_s``.
    max_time_s : float
        Flight-time cap; an object still airborne then ends there (warning).
    rotating, j2 : bool
        Dynamics options of :func:`tdome.dynamics.free_flight_acceleration`.
    inv_beta : float or ndarray (n,), optional
        1/β (m²/kg) of each object, β = m / (C_D A) its ballistic
        coefficient: drag −ρ(h) |v| v / (2β) in the air of
        :mod:`tdome.atmosphere`.  None or 0: vacuum.

    Returns
    -------
    list of Trajectory
        Samples every ``step_s`` while above ground, plus the impact, placed on
        the zero-height crossing of the cubic Hermite through the last two RK4
        states (Newton on the geodetic height; sub-millimetre for 0.5 s steps).
    """
    r0 = np.asarray(r0_ecef, dtype=float).reshape(-1, 3)
    v0 = np.asarray(v0_ecef, dtype=float).reshape(-1, 3)
    n = r0.shape[0]
    t0 = np.broadcast_to(np.asarray(t0_s, dtype=float), (n,))
    n_pre, tau, r_imp, v_imp, hit, (hist_r, hist_v) = _integrate(r0, v0, step_s, max_time_s, rotating, j2, True,
                                                                 inv_beta)
    if not hit.all():
        warnings.warn(f"{np.count_nonzero(~hit)} ballistic object(s) still airborne after {max_time_s} s",
                      RuntimeWarning, stacklevel=2)
    hr, hv = hist_r, hist_v  # (n, K+1, 3)
    out = []
    for i in range(n):
        m = n_pre[i]  # samples 0 .. m-1 are above ground, impact lies in step m
        t_imp = (m - 1 + tau[i]) * step_s
        # The last sample kept (index keep) becomes the impact, or is the end of the flight if none.
        keep = m if not hit[i] or t_imp > (m - 1) * step_s + 1e-9 else m - 1
        t = t0[i] + step_s * np.arange(keep + 1)
        pos, vel = hr[i, :keep + 1].copy(), hv[i, :keep + 1].copy()
        if hit[i]:
            t[keep] = t0[i] + t_imp
            pos[keep], vel[keep] = r_imp[i], v_imp[i]
        out.append(Trajectory(t, pos, vel))
    return out


def fly_ballistic(r0_ecef, v0_ecef, t0_s: float = 0.0, step_s: float = 0.5, max_time_s: float = 2000.0,
                  rotating: bool = True, j2: bool = True, inv_beta: float = 0.0) -> Trajectory:
    """One ballistic object from burnout to impact; see :func:`fly_ballistic_many`."""
    return fly_ballistic_many(np.reshape(r0_ecef, (1, 3)), np.reshape(v0_ecef, (1, 3)), t0_s, step_s,
                              max_time_s, rotating, j2, inv_beta)[0]


# ----------------------------------------------------------------------------
# Aiming
# ----------------------------------------------------------------------------

def newton_miss_step(e0, e1, e2, d1, d2) -> tuple[np.ndarray, np.ndarray]:
    """One Newton step on two controls for a miss (east, north), the Jacobian by forward differences.

    ``e0`` (m, 2) is the miss at the controls, ``e1`` and ``e2`` the misses
    with the first control moved by ``d1`` and the second by ``d2``.  Solves
    J dx = −e0 with J = [[∂e/∂x₁, ∂e/∂x₂], [∂n/∂x₁, ∂n/∂x₂]] per row; returns
    the two corrections (m,) each (inf or NaN where J is singular).
    """
    j11, j21 = (e1[:, 0] - e0[:, 0]) / d1, (e1[:, 1] - e0[:, 1]) / d1
    j12, j22 = (e2[:, 0] - e0[:, 0]) / d2, (e2[:, 1] - e0[:, 1]) / d2
    det = j11 * j22 - j12 * j21
    return -(j22 * e0[:, 0] - j12 * e0[:, 1]) / det, -(-j21 * e0[:, 0] + j11 * e0[:, 1]) / det


def _velocity_ecef(rot_enu, speed_mps, az_rad, gamma_rad):
    """ECEF velocity from speed, azimuth (from north, clockwise) and flight-path angle."""
    cg = np.cos(gamma_rad)
    enu = np.stack((speed_mps * cg * np.sin(az_rad), speed_mps * cg * np.cos(az_rad),
                    speed_mps * np.sin(gamma_rad)), axis=-1)
    return np.einsum("nji,nj->ni", rot_enu, enu)


def solve_launch(launch_lat_rad, launch_lon_rad, aim_lat_rad, aim_lon_rad, gamma_rad=None,
                 launch_alt_m=0.0, rotating: bool = True, j2: bool = True, step_s: float = 0.5,
                 tol_m: float = 1.0, max_iter: int = 12, max_time_s: float = 2000.0,
                 full_output: bool = False, inv_beta=None):
    """Burnout velocity (ECEF, Earth-relative) that makes free flight land on the aim point.

    The missile is modelled from burnout at the launch point (no boost phase).
    Vectorized over n threats; all arguments broadcast to (n,).

    Parameters
    ----------
    launch_lat_rad, launch_lon_rad : float or ndarray (n,)
        Geodetic launch (burnout) point.
    aim_lat_rad, aim_lon_rad : float or ndarray (n,)
        Geodetic aim point, at zero height.
    gamma_rad : float or ndarray (n,), optional
        Flight-path angle above the local (geodetic) horizontal, kept fixed.
        None: the spherical minimum-energy angle γ = (π - ψ)/4, ψ the central
        angle between launch and aim.  Rockets of 70-300 km typically fly
        flatter (γ ≈ 0.6-0.7 rad).
    launch_alt_m : float or ndarray (n,)
        Height of the burnout point above the ellipsoid.
    rotating, j2, step_s, max_time_s, inv_beta :
        Passed to the integrator (``inv_beta``: 1/β of each threat, drag of
        :func:`fly_ballistic_many`); fly the result with the same values.
    tol_m : float
        Stop when the impact is within this distance of the aim.
    max_iter : int
        Newton iterations; a RuntimeWarning is issued if some do not converge.
    full_output : bool
        Also return a dict with ``speed_mps``, ``az_rad``, ``gamma_rad``,
        ``miss_m`` and ``iterations``.

    Returns
    -------
    v0_ecef : ndarray (n, 3), or (3,) for scalar inputs

    Notes
    -----
    1. Initial guess, spherical non-rotating Earth of radius r = |r_launch|:
       v = sqrt(Q μ / r) with Q = (1 - cos ψ)/(cos γ (cos γ - cos(γ + ψ))),
       azimuth = initial great-circle bearing to the aim.
    2. Newton on x = (speed, azimuth) for the miss m(x) = (east, north) of the
       impact in the aim's ENU frame: x ← x - J⁻¹ m, with J from forward
       differences (δv = 1e-4 v, δaz = 1e-5 rad).  The 3n trajectories of one
       iteration (nominal and two perturbed per threat) are integrated as one
       batch; converged threats drop out.
    """
    args = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in
                                 (launch_lat_rad, launch_lon_rad, aim_lat_rad, aim_lon_rad, launch_alt_m)))
    scalar = args[0].ndim == 0
    lat, lon, alat, alon, alt = (a.reshape(-1) for a in args)
    n = lat.size
    r_launch = geodetic_to_ecef(lat, lon, alt)
    r_aim = geodetic_to_ecef(alat, alon, 0.0)
    radius = np.linalg.norm(r_launch, axis=1)
    cos_psi = np.einsum("ij,ij->i", r_launch, r_aim) / (radius * np.linalg.norm(r_aim, axis=1))
    psi = np.arccos(np.clip(cos_psi, -1.0, 1.0))
    gamma = min_energy_gamma_rad(psi) if gamma_rad is None else np.broadcast_to(
        np.asarray(gamma_rad, dtype=float), (n,)).copy()
    speed = burnout_speed_mps(psi, gamma, radius)
    az = initial_bearing_rad(lat, lon, alat, alon)
    rot_launch = enu_rotation(lat, lon)
    rot_aim = enu_rotation(alat, alon)

    miss = np.full(n, np.inf)
    iters = np.zeros(n, dtype=int)
    todo = np.arange(n)
    for it in range(max_iter + 1):
        if todo.size == 0:
            break
        m = todo.size
        dv = 1e-4 * speed[todo]
        daz = np.full(m, 1e-5)
        s3 = np.concatenate((speed[todo], speed[todo] + dv, speed[todo]))
        a3 = np.concatenate((az[todo], az[todo], az[todo] + daz))
        i3 = np.tile(todo, 3)
        v3 = _velocity_ecef(rot_launch[i3], s3, a3, gamma[i3])
        ib3 = None if inv_beta is None else np.broadcast_to(np.asarray(inv_beta, dtype=float), (n,))[i3]
        _, _, r_imp, _, _, _ = _integrate(r_launch[i3], v3, step_s, max_time_s, rotating, j2, False, ib3)
        e3 = np.einsum("nij,nj->ni", rot_aim[i3], r_imp - r_aim[i3])[:, :2]
        e0, e_v, e_a = e3[:m], e3[m:2 * m], e3[2 * m:]
        miss[todo] = np.hypot(e0[:, 0], e0[:, 1])
        iters[todo] = it
        ok = miss[todo] <= tol_m
        if it == max_iter:
            break
        d_speed, d_az = newton_miss_step(e0, e_v, e_a, dv, daz)  # on (speed, azimuth), per threat
        # Damp large corrections (far initial guesses) to stay in the basin.
        d_speed = np.clip(d_speed, -0.2 * speed[todo], 0.2 * speed[todo])
        d_az = np.clip(d_az, -0.2, 0.2)
        upd = ~ok
        speed[todo[upd]] += d_speed[upd]
        az[todo[upd]] += d_az[upd]
        todo = todo[upd]
    if np.any(miss > tol_m):
        warnings.warn(f"solve_launch: {np.count_nonzero(miss > tol_m)} threat(s) miss the aim by up to "
                      f"{np.max(miss):.1f} m after {max_iter} iterations", RuntimeWarning, stacklevel=2)
    v0 = _velocity_ecef(rot_launch, speed, az, gamma)
    if scalar:
        v0 = v0[0]
    if full_output:
        info = {"speed_mps": speed, "az_rad": az, "gamma_rad": gamma, "miss_m": miss, "iterations": iters}
        return v0, info
    return v0
