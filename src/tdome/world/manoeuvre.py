"""Manoeuvring re-entry vehicles: free flight down to a start altitude, then a commanded acceleration.

A manoeuvring re-entry vehicle flies the ballistic arc of :mod:`tdome.world.ballistic`
unchanged until, on the way down, it passes below its start altitude H (or
from its apogee, if it never climbs that high).  From that instant t_m on,
τ = t − t_m, it adds a commanded acceleration to free flight:

    r'' = a_ff(r, r') + (p_l(τ) + b_l) l̂ + (p_u(τ) + b_u) û

with a_ff the free-flight acceleration of :mod:`tdome.dynamics` (rotating ECEF,
J2) and the manoeuvre frame, perpendicular to the velocity,

    l̂ = (v × r̂) / |v × r̂|    (horizontal, to the right of the track)
    û = l̂ × v / |v|           (in the vertical plane of the track, upward)

(r̂ the radial direction).  The profile is a sine of amplitude A and period P:

- ``weave``: p_l(τ) = A sin(2π τ / P) until impact, p_u = 0: a lateral weave,
  first to the right;
- ``pull_up_dive``: p_u(τ) = A sin(2π τ / P) for τ < P, then 0, p_l = 0: a
  pull-up over the first half period, then a push-over into the dive.

The vacuum model has no aerodynamics; the command stands for the lift a
real vehicle would use and is flown as given (it is not limited by speed or
air density).

Landing on the aim.  The manoeuvre alone would move the impact point (by
hundreds of metres to kilometres).  The vehicle re-aims with a constant trim
acceleration (b_l, b_u) in the same frame, held from t_m to impact: the
impact is a smooth, nearly linear function of the trim, so Newton's method
on the miss (east, north) of the impact in the aim's local frame, with the
Jacobian from forward differences of the integrator itself, solves it to a
fraction of a metre in two or three iterations.  The part of the flight
before t_m is the ballistic arc itself (its samples are kept as they are);
the acceleration the vehicle adds is exactly the profile plus that
constant trim, which :func:`fly_manoeuvring_many` reports.  An open-loop
trim rather than a feedback guidance law keeps the flown command the
analytic profile a test (or a tracking study) can compare against.

The manoeuvring part is integrated as one compiled (numba) loop over all
vehicles, RK4 with the command evaluated at each stage's time, on the
ballistic trajectory's own time grid (samples every ``step_s`` from launch,
the impact last, placed where the geodetic height crosses zero).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numba import njit

from tdome.dynamics import _acceleration, rk4_step
from tdome.geo import ecef_to_geodetic, enu_rotation, geodetic_of, geodetic_to_ecef
from tdome.world.ballistic import newton_miss_step
from tdome.world.trajectory import Trajectory

G0_MPS2 = 9.80665  # standard gravity: the unit of the catalog's accel_g
WEAVE = 0
PULL_UP_DIVE = 1
KINDS = {"weave": WEAVE, "pull_up_dive": PULL_UP_DIVE}


@dataclass(frozen=True)
class ManoeuvreSpec:
    """One vehicle's manoeuvre, in SI units: kind, start altitude (m), amplitude (m/s²), period (s)."""

    kind: str
    below_alt_m: float
    accel_mps2: float
    period_s: float

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown manoeuvre kind {self.kind!r}; valid: {', '.join(KINDS)}")
        if not (self.below_alt_m > 0 and self.accel_mps2 > 0 and self.period_s > 0):
            raise ValueError("below_alt_m, accel_mps2 and period_s must be > 0")


@dataclass(frozen=True)
class ManoeuvreInfo:
    """What :func:`fly_manoeuvring_many` solved, one entry per vehicle.

    ``onset_s``: time the manoeuvre starts (s, absolute); ``trim_mps2`` (n, 2):
    the constant (b_l, b_u) added to the profile; ``miss_m``: the impact's
    distance from the aim; ``iterations``: Newton iterations used.
    """

    onset_s: np.ndarray
    trim_mps2: np.ndarray
    miss_m: np.ndarray
    iterations: np.ndarray


# ----------------------------------------------------------------------------
# The command
# ----------------------------------------------------------------------------

@njit(cache=True, inline="always")
def profile(kind, accel, period, tau):
    """Commanded acceleration along the manoeuvre's own axis (l̂ for weave, û for pull_up_dive), m/s²."""
    if tau < 0.0 or (kind == PULL_UP_DIVE and tau >= period):
        return 0.0
    return accel * np.sin(2.0 * np.pi * tau / period)


@njit(cache=True, inline="always")
def frame(x, y, z, vx, vy, vz):
    """The manoeuvre frame (l̂, û) at one state: l̂ = v × r̂ normalised, û = l̂ × v̂ (module docstring)."""
    r = np.sqrt(x * x + y * y + z * z)
    lx, ly, lz = (vy * z - vz * y) / r, (vz * x - vx * z) / r, (vx * y - vy * x) / r
    ln = np.sqrt(lx * lx + ly * ly + lz * lz)
    lx, ly, lz = lx / ln, ly / ln, lz / ln
    vn = np.sqrt(vx * vx + vy * vy + vz * vz)
    ux, uy, uz = (ly * vz - lz * vy) / vn, (lz * vx - lx * vz) / vn, (lx * vy - ly * vx) / vn
    return lx, ly, lz, ux, uy, uz


@njit(cache=True, inline="always")
def _total(x, y, z, vx, vy, vz, tau, kind, accel, period, b_l, b_u):
    """Free flight (rotating frame, J2) plus the command at manoeuvre time ``tau``."""
    gx, gy, gz = _acceleration(x, y, z, vx, vy, True, True)
    p = profile(kind, accel, period, tau)
    c_l = b_l + (p if kind == WEAVE else 0.0)
    c_u = b_u + (p if kind == PULL_UP_DIVE else 0.0)
    lx, ly, lz, ux, uy, uz = frame(x, y, z, vx, vy, vz)
    return gx + c_l * lx + c_u * ux, gy + c_l * ly + c_u * uy, gz + c_l * lz + c_u * uz


@njit(cache=True, inline="always")
def _rk4(x, y, z, vx, vy, vz, tau, h, kind, accel, period, b_l, b_u):
    """One classical RK4 step of length ``h`` from manoeuvre time ``tau`` (stages at τ, τ + h/2, τ + h/2, τ + h)."""
    h2 = 0.5 * h
    a1x, a1y, a1z = _total(x, y, z, vx, vy, vz, tau, kind, accel, period, b_l, b_u)
    v2x, v2y, v2z = vx + h2 * a1x, vy + h2 * a1y, vz + h2 * a1z
    a2x, a2y, a2z = _total(x + h2 * vx, y + h2 * vy, z + h2 * vz, v2x, v2y, v2z, tau + h2, kind, accel, period,
                           b_l, b_u)
    v3x, v3y, v3z = vx + h2 * a2x, vy + h2 * a2y, vz + h2 * a2z
    a3x, a3y, a3z = _total(x + h2 * v2x, y + h2 * v2y, z + h2 * v2z, v3x, v3y, v3z, tau + h2, kind, accel, period,
                           b_l, b_u)
    v4x, v4y, v4z = vx + h * a3x, vy + h * a3y, vz + h * a3z
    a4x, a4y, a4z = _total(x + h * v3x, y + h * v3y, z + h * v3z, v4x, v4y, v4z, tau + h, kind, accel, period,
                           b_l, b_u)
    s = h / 6.0
    return (x + s * (vx + 2.0 * v2x + 2.0 * v3x + v4x), y + s * (vy + 2.0 * v2y + 2.0 * v3y + v4y),
            z + s * (vz + 2.0 * v2z + 2.0 * v3z + v4z), vx + s * (a1x + 2.0 * a2x + 2.0 * a3x + a4x),
            vy + s * (a1y + 2.0 * a2y + 2.0 * a3y + a4y), vz + s * (a1z + 2.0 * a2z + 2.0 * a3z + a4z))


@njit(cache=True)
def _fly_compiled(r0, v0, h_first, step_s, kind, accel, period, trim, max_steps,
                  keep_history):  # pragma: no cover - compiled; see _fly
    """Every vehicle from its onset state down to the ground, each on its own.

    Step 1 has length ``h_first[i]`` (to the vehicle's next grid sample), the
    others ``step_s``.  When a step ends at or below zero geodetic height the
    impact is placed inside it by the Illinois variant of regula falsi on the
    step's length (RK4 from the step's start, to a millimetre of height).
    Returns (n_above (n,): steps taken above the ground, hit (n,), impact r,
    v (n, 3), impact τ (n,), history r, v (n, max_steps + 1, 3): the onset
    state and the state after each step above ground; (n, 1, 3) without
    ``keep_history``).
    """
    n = r0.shape[0]
    cap = max_steps + 1 if keep_history else 1
    hist_r = np.full((n, cap, 3), np.nan)
    hist_v = np.full((n, cap, 3), np.nan)
    n_above = np.zeros(n, dtype=np.int64)
    hit = np.zeros(n, dtype=np.bool_)
    r_imp, v_imp = np.full((n, 3), np.nan), np.full((n, 3), np.nan)
    tau_imp = np.full(n, np.inf)
    for i in range(n):
        x, y, z, vx, vy, vz = r0[i, 0], r0[i, 1], r0[i, 2], v0[i, 0], v0[i, 1], v0[i, 2]
        hist_r[i, 0, 0], hist_r[i, 0, 1], hist_r[i, 0, 2] = x, y, z
        hist_v[i, 0, 0], hist_v[i, 0, 1], hist_v[i, 0, 2] = vx, vy, vz
        k_, b_l, b_u, a_, p_ = kind[i], trim[i, 0], trim[i, 1], accel[i], period[i]
        _, _, alt0 = geodetic_of(x, y, z)
        tau = 0.0
        for k in range(1, max_steps + 1):
            h = h_first[i] if k == 1 else step_s
            x1, y1, z1, vx1, vy1, vz1 = _rk4(x, y, z, vx, vy, vz, tau, h, k_, a_, p_, b_l, b_u)
            _, _, alt1 = geodetic_of(x1, y1, z1)
            if alt1 <= 0.0:
                lo, hi, f_lo, f_hi, side = 0.0, 1.0, alt0, alt1, 0
                frac = 1.0
                xc, yc, zc, vxc, vyc, vzc = x1, y1, z1, vx1, vy1, vz1
                for _ in range(60):
                    frac = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
                    xc, yc, zc, vxc, vyc, vzc = _rk4(x, y, z, vx, vy, vz, tau, frac * h, k_, a_, p_, b_l, b_u)
                    _, _, fc = geodetic_of(xc, yc, zc)
                    if abs(fc) < 1e-3:
                        break
                    if fc > 0.0:
                        lo, f_lo = frac, fc
                        if side == 1:
                            f_hi *= 0.5
                        side = 1
                    else:
                        hi, f_hi = frac, fc
                        if side == -1:
                            f_lo *= 0.5
                        side = -1
                hit[i] = True
                r_imp[i, 0], r_imp[i, 1], r_imp[i, 2] = xc, yc, zc
                v_imp[i, 0], v_imp[i, 1], v_imp[i, 2] = vxc, vyc, vzc
                tau_imp[i] = tau + frac * h
                break
            x, y, z, vx, vy, vz, alt0 = x1, y1, z1, vx1, vy1, vz1, alt1
            tau += h
            n_above[i] = k
            if keep_history:
                hist_r[i, k, 0], hist_r[i, k, 1], hist_r[i, k, 2] = x, y, z
                hist_v[i, k, 0], hist_v[i, k, 1], hist_v[i, k, 2] = vx, vy, vz
    return n_above, hit, r_imp, v_imp, tau_imp, hist_r, hist_v


def _fly(r0, v0, h_first, step_s, kind, accel, period, trim, max_steps, keep_history):
    return _fly_compiled(np.ascontiguousarray(r0, dtype=float), np.ascontiguousarray(v0, dtype=float),
                         np.ascontiguousarray(h_first, dtype=float), float(step_s),
                         np.ascontiguousarray(kind, dtype=np.int64), np.ascontiguousarray(accel, dtype=float),
                         np.ascontiguousarray(period, dtype=float), np.ascontiguousarray(trim, dtype=float),
                         int(max_steps), bool(keep_history))


# ----------------------------------------------------------------------------
# Onset, trim and the trajectory
# ----------------------------------------------------------------------------

def _onset(traj: Trajectory, below_alt_m: float) -> tuple[int, float, np.ndarray, np.ndarray]:
    """Where a ballistic trajectory starts its manoeuvre: (sample k ≤ onset, onset time, state at onset).

    The first descending crossing of ``below_alt_m``, found by Newton on the
    length of a free-flight RK4 step from sample k (d height/dt = n̂ · v, n̂
    the ellipsoid normal); the apogee sample if the flight never reaches
    that height.
    """
    t, pos, vel = traj.t_s, traj.pos_ecef, traj.vel_ecef
    _, _, alt = ecef_to_geodetic(pos)
    top = int(np.argmax(alt))
    if alt[top] <= below_alt_m or top == t.size - 1:
        return top, float(t[top]), pos[top].copy(), vel[top].copy()
    k = top + int(np.argmax(alt[top + 1:] < below_alt_m))  # alt[k] >= H > alt[k + 1]
    h = t[k + 1] - t[k]
    frac = (alt[k] - below_alt_m) / (alt[k] - alt[k + 1])
    r, v = pos[k], vel[k]
    for _ in range(8):
        r, v = rk4_step(pos[k][None], vel[k][None], frac * h)
        r, v = r[0], v[0]
        lat, lon, a = ecef_to_geodetic(r)
        normal = np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
        frac = float(np.clip(frac - (a - below_alt_m) / (normal @ v * h), 0.0, 1.0))
    r, v = rk4_step(pos[k][None], vel[k][None], frac * h)
    if frac >= 1.0:  # onset on sample k + 1 itself
        return k + 1, float(t[k + 1]), pos[k + 1].copy(), vel[k + 1].copy()
    return k, float(t[k] + frac * h), r[0], v[0]


def fly_manoeuvring_many(ballistic: list[Trajectory], specs: list[ManoeuvreSpec], aim_lat_rad=None,
                         aim_lon_rad=None, step_s: float = 0.5, tol_m: float = 0.5,
                         max_iter: int = 8) -> tuple[list[Trajectory], ManoeuvreInfo]:
    """Re-fly ballistic trajectories with a terminal manoeuvre each, re-aimed on their aim points.

    Parameters
    ----------
    ballistic : list of Trajectory
        The vehicles' ballistic flights (from :func:`tdome.world.ballistic.fly_ballistic_many`,
        samples every ``step_s`` from launch).
    specs : list of ManoeuvreSpec
        One manoeuvre per vehicle.
    aim_lat_rad, aim_lon_rad : array (n,), optional
        The aim points (zero height); None: each ballistic impact point.
    step_s : float
        The samples' spacing (that of the ballistic trajectories).
    tol_m : float
        Stop the trim's Newton iterations when the impact is this close to the aim.
    max_iter : int
        Newton iterations at most; a RuntimeWarning names the vehicles that miss by more than ``tol_m``.

    Returns
    -------
    (list of Trajectory, ManoeuvreInfo)
        The ballistic samples up to the onset, unchanged, then the manoeuvring
        flight on the same grid, the impact last; and what was solved.
    """
    n = len(ballistic)
    if len(specs) != n:
        raise ValueError("one ManoeuvreSpec per trajectory")
    if n == 0:
        empty = np.zeros(0)
        return [], ManoeuvreInfo(empty, np.zeros((0, 2)), empty, np.zeros(0, dtype=int))
    ons = [_onset(tr, s.below_alt_m) for tr, s in zip(ballistic, specs)]
    k_on = np.array([o[0] for o in ons])
    t_on = np.array([o[1] for o in ons])
    r_on = np.array([o[2] for o in ons])
    v_on = np.array([o[3] for o in ons])
    t_k = np.array([tr.t_s[0] + step_s * k for tr, k in zip(ballistic, k_on)])
    h_first = np.where(t_on - t_k > 1e-9, t_k + step_s - t_on, step_s)
    kind = np.array([KINDS[s.kind] for s in specs])
    accel = np.array([s.accel_mps2 for s in specs])
    period = np.array([s.period_s for s in specs])
    remaining = np.array([tr.impact_s for tr in ballistic]) - t_on
    max_steps = int(np.ceil(3.0 * remaining.max() / step_s)) + 20

    if aim_lat_rad is None or aim_lon_rad is None:
        imp = np.array([tr.impact_ecef for tr in ballistic])
        aim_lat_rad, aim_lon_rad, _ = ecef_to_geodetic(imp)
    alat = np.broadcast_to(np.asarray(aim_lat_rad, dtype=float), (n,))
    alon = np.broadcast_to(np.asarray(aim_lon_rad, dtype=float), (n,))
    r_aim = geodetic_to_ecef(alat, alon, 0.0)
    rot_aim = enu_rotation(alat, alon)

    trim = np.zeros((n, 2))
    miss = np.full(n, np.inf)
    iters = np.zeros(n, dtype=int)
    todo = np.arange(n)
    d = 0.05  # m/s², the finite-difference step of the trim
    for it in range(max_iter + 1):
        if todo.size == 0:
            break
        m = todo.size
        i3 = np.tile(todo, 3)
        t3 = np.concatenate((trim[todo], trim[todo] + [d, 0.0], trim[todo] + [0.0, d]))
        _, _, r_imp, _, _, _, _ = _fly(r_on[i3], v_on[i3], h_first[i3], step_s, kind[i3], accel[i3], period[i3],
                                       t3, max_steps, False)
        e3 = np.einsum("nij,nj->ni", rot_aim[i3], r_imp - r_aim[i3])[:, :2]
        e0, e_l, e_u = e3[:m], e3[m:2 * m], e3[2 * m:]
        miss[todo] = np.hypot(e0[:, 0], e0[:, 1])
        iters[todo] = it
        ok = miss[todo] <= tol_m
        if it == max_iter:
            break
        db_l, db_u = newton_miss_step(e0, e_l, e_u, d, d)  # on the trim (lateral, up)
        upd = ~ok & np.isfinite(db_l) & np.isfinite(db_u)
        trim[todo[upd], 0] += db_l[upd]
        trim[todo[upd], 1] += db_u[upd]
        todo = todo[upd]
    if np.any(miss > tol_m):
        bad = np.flatnonzero(miss > tol_m)
        warnings.warn(f"manoeuvring re-entry: {bad.size} vehicle(s) miss the aim by up to {np.max(miss):.1f} m "
                      f"after {max_iter} trim iterations", RuntimeWarning, stacklevel=2)

    n_above, hit, r_imp, v_imp, tau_imp, hr, hv = _fly(r_on, v_on, h_first, step_s, kind, accel, period, trim,
                                                       max_steps, True)
    if not hit.all():
        warnings.warn(f"{np.count_nonzero(~hit)} manoeuvring vehicle(s) still airborne after {max_steps} steps",
                      RuntimeWarning, stacklevel=2)
    out = []
    for i, tr in enumerate(ballistic):
        k = k_on[i]
        m = n_above[i]  # grid samples after the onset, above the ground
        t_after = t_on[i] + h_first[i] + step_s * np.arange(m)
        t = np.concatenate((tr.t_s[:k + 1], t_after))
        pos = np.concatenate((tr.pos_ecef[:k + 1], hr[i, 1:m + 1]))
        vel = np.concatenate((tr.vel_ecef[:k + 1], hv[i, 1:m + 1]))
        if hit[i]:
            t_imp = t_on[i] + tau_imp[i]
            if t_imp <= t[-1] + 1e-9:  # the impact on (or a hair before) the last sample: it replaces it
                t, pos, vel = t[:-1], pos[:-1], vel[:-1]
            t = np.append(t, t_imp)
            pos = np.vstack((pos, r_imp[i]))
            vel = np.vstack((vel, v_imp[i]))
        out.append(Trajectory(t, pos, vel))
    return out, ManoeuvreInfo(onset_s=t_on, trim_mps2=trim, miss_m=miss, iterations=iters)
