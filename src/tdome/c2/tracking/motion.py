"""The single-model motion: nearly-constant velocity in ECEF, free flight once a track is ballistic.

Interface (every function batched over tracks, nothing loops in Python)::

    cv_transition(dt)                          -> F (n, 6, 6)
    cv_process_noise(dt, q)                    -> Q (n, 6, 6)
    free_flight_mean(x, dt)                    -> x (n, 6)
    predict(x, P, dt, q, ballistic)            -> (x⁻, P⁻)

States ``x`` are ``(n, 6)`` arrays ``[px, py, pz, vx, vy, vz]`` in the
rotating ECEF frame (m, m/s) and covariances ``P`` are ``(n, 6, 6)``.  The
IMM's 9-D models are in :mod:`tdome.c2.tracking.models`.

Nearly-constant velocity, i.e. the continuous white-noise acceleration model
(Bar-Shalom, Li & Kirubarajan 2001, §6.2.2; Blackman & Popoli 1999, §4.2.1)
applied on each ECEF axis::

    x(t+Δ) = F(Δ) x(t) + w,     F(Δ) = [[I, Δ I], [0, I]]

    Q(Δ) = q [[Δ³/3 I, Δ²/2 I],
              [Δ²/2 I, Δ   I]]                  (BLK eq. 6.2.2-12)

with ``q`` the power spectral density of the acceleration noise (m²/s³).
Written with ``|Δ|`` (``Q = q [[|Δ|³/3, Δ|Δ|/2], [Δ|Δ|/2, |Δ|]]``) the same
expression is the covariance of the process noise of a *backward* prediction
(retrodiction), ``F(-Δ) Q(Δ) F(-Δ)ᵀ``, which is what out-of-sequence plots
need.

Ballistic tracks propagate the *mean* with the shared vacuum free-flight model
(:func:`tdome.dynamics.rk4_step`, gravity + J2 + Coriolis/centrifugal) and the
covariance with the CV transition above: over a few seconds the gravity
gradient term ∂g/∂r ~ 2μ/r³ ≈ 3·10⁻⁶ s⁻² of the true Jacobian is negligible
next to the process noise.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from tdome.atmosphere import density_kg_m3
from tdome.dynamics import _rk4_steps_compiled
from tdome.geo import radial_height

_IDX3 = np.arange(3)
_I6 = np.eye(6)


def cv_transition(dt_s) -> np.ndarray:
    """CV transition matrices ``F(Δ)`` (n, 6, 6) for per-track time steps ``dt_s`` (n,)."""
    dt = np.atleast_1d(np.asarray(dt_s, dtype=float))
    F = np.broadcast_to(_I6, (dt.shape[0], 6, 6)).copy()
    F[:, _IDX3, _IDX3 + 3] = dt[:, None]
    return F


def cv_process_noise(dt_s, q) -> np.ndarray:
    """Process-noise covariance ``Q(Δ)`` (n, 6, 6) of the continuous white-noise acceleration model.

    ``q`` is the acceleration power spectral density (m²/s³), scalar or per
    track.  Valid for negative ``Δ`` (retrodiction): the pos/vel cross term
    changes sign and the diagonal blocks use ``|Δ|``.
    """
    dt = np.atleast_1d(np.asarray(dt_s, dtype=float))
    q = np.broadcast_to(np.asarray(q, dtype=float), dt.shape)
    a = np.abs(dt)
    q_pp = q * a**3 / 3.0
    q_pv = q * dt * a / 2.0
    q_vv = q * a
    Q = np.zeros((dt.shape[0], 6, 6))
    Q[:, _IDX3, _IDX3] = q_pp[:, None]
    Q[:, _IDX3, _IDX3 + 3] = q_pv[:, None]
    Q[:, _IDX3 + 3, _IDX3] = q_pv[:, None]
    Q[:, _IDX3 + 3, _IDX3 + 3] = q_vv[:, None]
    return Q


def free_flight_mean(x: np.ndarray, dt_s, max_substep_s: float = 2.0) -> np.ndarray:
    """Propagate states (n, 6) by ``dt_s`` (n,) in vacuum free flight (RK4, sub-steps ≤ ``max_substep_s``).

    All objects take the same number of sub-steps, each of its own length
    ``Δ / n_sub``; negative ``Δ`` integrates backwards.
    """
    x = np.ascontiguousarray(x, dtype=float)
    n = x.shape[0]
    out = x.copy()
    _free_flight_rows(x, _per_track(dt_s, n, float), np.arange(n), float(max_substep_s), out)
    return out


@njit(cache=True)
def _free_flight_rows(x, dt, rows, max_substep_s, out):  # pragma: no cover - compiled
    """States ``rows`` of ``x`` flown ``dt`` in free flight, into the same rows of ``out``.

    All take ``n_sub = ⌈max |Δ| / max_substep_s⌉`` RK4 sub-steps (at least
    one), each of its own length ``Δ / n_sub``.
    """
    nb = rows.shape[0]
    if nb == 0:
        return
    r = np.empty((nb, 3))
    v = np.empty((nb, 3))
    h = np.empty(nb)
    longest = 0.0
    for a in range(nb):
        longest = max(longest, abs(dt[rows[a]]))
    n_sub = max(int(np.ceil(longest / max_substep_s)), 1)
    for a in range(nb):
        i = rows[a]
        for j in range(3):
            r[a, j] = x[i, j]
            v[a, j] = x[i, 3 + j]
        h[a] = dt[i] / n_sub
    r, v = _rk4_steps_compiled(r, v, h, n_sub)
    for a in range(nb):
        for j in range(3):
            out[rows[a], j] = r[a, j]
            out[rows[a], 3 + j] = v[a, j]


@njit(cache=True)
def _cv_predict_stack(x, P, dt, q):  # pragma: no cover - compiled; checked against the matrix form
    """``x⁻ = F x`` and ``P⁻ = F P Fᵀ + Q(Δ)`` (symmetrised) of every track, by 3×3 blocks.

    With ``P = [[A, B], [C, D]]`` and ``F = [[I, Δ I], [0, I]]``::

        F P Fᵀ = [[A + Δ (B + C) + Δ² D,  B + Δ D],
                  [C + Δ D,               D      ]]
    """
    n = x.shape[0]
    xp = np.empty((n, 6))
    Pp = np.empty((n, 6, 6))
    for r in range(n):
        h = dt[r]
        a = abs(h)
        q_pp, q_pv, q_vv = q[r] * a * a * a / 3.0, q[r] * h * a / 2.0, q[r] * a
        for i in range(3):
            xp[r, i] = x[r, i] + h * x[r, i + 3]
            xp[r, i + 3] = x[r, i + 3]
        for i in range(3):
            for j in range(3):
                A, B, C, D = P[r, i, j], P[r, i, j + 3], P[r, i + 3, j], P[r, i + 3, j + 3]
                Pp[r, i, j] = A + h * (B + C) + h * h * D
                Pp[r, i, j + 3] = B + h * D
                Pp[r, i + 3, j] = C + h * D
                Pp[r, i + 3, j + 3] = D
            Pp[r, i, i] += q_pp
            Pp[r, i, i + 3] += q_pv
            Pp[r, i + 3, i] += q_pv
            Pp[r, i + 3, i + 3] += q_vv
        for i in range(6):
            for j in range(i):
                Pp[r, i, j] = Pp[r, j, i] = 0.5 * (Pp[r, i, j] + Pp[r, j, i])
    return xp, Pp


def predict(x, P, dt_s, q, ballistic=None, max_substep_s: float = 2.0):
    """Predict states and covariances by per-track ``dt_s`` (n,), possibly negative.

    ::

        x⁻ = F x                    (CV tracks)
        x⁻ = φ_free-flight(x, Δ)    (tracks flagged ``ballistic``)
        P⁻ = F P Fᵀ + Q(Δ)

    ``q`` is the acceleration spectral density per track (m²/s³).  Returns
    ``(x_pred, P_pred)``; inputs are not modified.
    """
    x = np.ascontiguousarray(x, dtype=float)
    n = x.shape[0]
    b = np.zeros(n, dtype=bool) if ballistic is None else _per_track(ballistic, n, bool)
    return _predict_stack(x, np.ascontiguousarray(P, dtype=float), _per_track(dt_s, n, float), _per_track(q, n, float),
                          b, float(max_substep_s))


def _per_track(v, n: int, dtype) -> np.ndarray:
    """``v`` as a contiguous (n,) array (a scalar is repeated)."""
    a = np.asarray(v, dtype=dtype)
    return a if a.shape == (n,) and a.flags.c_contiguous else np.ascontiguousarray(np.broadcast_to(a, (n,)))


@njit(cache=True)
def _predict_stack(x, P, dt, q, ballistic, max_substep_s):  # pragma: no cover - compiled
    """:func:`predict` in one compiled call: the CV step of every track, then free flight of the ballistic ones.

    The ballistic tracks fly as in :func:`free_flight_mean` (the same loop).
    """
    xp, Pp = _cv_predict_stack(x, P, dt, q)
    _free_flight_rows(x, dt, np.flatnonzero(ballistic), max_substep_s, xp)
    return xp, Pp


@njit(cache=True, inline="always")
def ballistic_q(px, py, pz, vx, vy, vz, q_ballistic, inv_beta_min, q_time_s):  # pragma: no cover - compiled
    """Spectral density (m²/s³) about free flight of a ballistic track at ``p``, ``v`` (ECEF).

    ``q_ballistic``, or, where the air would decelerate an object with the
    lightest ballistic coefficient β_min more (``inv_beta_min`` = 1/β_min;
    0: never), that deceleration as the acceleration σ:
    q = (ρ(h) |v|² / (2 β_min))² ``q_time_s``.  A decoy the air slows then
    keeps its track instead of leaving the free-flight prediction's gate.
    """
    if inv_beta_min <= 0.0:
        return q_ballistic
    v2 = vx * vx + vy * vy + vz * vz
    drag = 0.5 * density_kg_m3(radial_height(px, py, pz)) * v2 * inv_beta_min
    return max(q_ballistic, drag * drag * q_time_s)


@njit(cache=True)
def ballistic_q_rows(x, ballistic, q_air, q_ballistic, inv_beta_min, q_time_s):  # pragma: no cover - compiled
    """Each track's spectral density: :func:`ballistic_q` where ``ballistic``, ``q_air`` elsewhere."""
    q = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        q[i] = (ballistic_q(x[i, 0], x[i, 1], x[i, 2], x[i, 3], x[i, 4], x[i, 5], q_ballistic, inv_beta_min,
                            q_time_s) if ballistic[i] else q_air)
    return q
