"""Batched Kalman filtering in ECEF for radar tracks.

Every function works on a *batch* of tracks (or of track/plot pairs): states
``x`` are ``(n, 6)`` arrays ``[px, py, pz, vx, vy, vz]`` in the rotating ECEF
frame (m, m/s) and covariances ``P`` are ``(n, 6, 6)``.  Nothing here loops
over tracks in Python.

Motion model
------------
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

Measurement model
-----------------
A radar at ECEF position ``s`` with ECEF→ENU rotation ``M`` measures the
target at ``p`` through the ENU line of sight ``d = M (p - s) = (e, n, u)``::

    h(x) = [ r, az, el (, ṙ) ]
    r   = |d|,  az = atan2(e, n) ∈ [0, 2π),  el = atan2(u, ρ),  ρ = √(e² + n²)
    ṙ   = d·(M v) / r

and the EKF (BLK §10.3) is run in that measurement space with the analytic
Jacobian ``H = ∂h/∂x`` of :func:`measurement_model`.  Azimuth residuals are
wrapped to (-π, π].  The covariance update uses the Joseph form (BLK eq.
5.2.3-18), which stays symmetric positive semi-definite for any gain.
"""

from __future__ import annotations

import numpy as np

from tdome.c2.tracking.gaussian import kalman_update
from tdome.dynamics import rk4_steps
from tdome.geo import razel_to_enu

_IDX3 = np.arange(3)
_I6 = np.eye(6)


# --------------------------------------------------------------------------- motion model


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
    x = np.asarray(x, dtype=float)
    dt = np.broadcast_to(np.asarray(dt_s, dtype=float), x.shape[:1])
    out = x.copy()
    if x.shape[0] == 0:
        return out
    n_sub = max(int(np.ceil(np.max(np.abs(dt)) / max_substep_s)), 1)
    h = dt / n_sub
    r, v = rk4_steps(x[:, :3], x[:, 3:], h, n_sub)  # n_sub rk4_step calls, in one compiled loop
    out[:, :3] = r
    out[:, 3:] = v
    return out


def predict(x, P, dt_s, q, ballistic=None, max_substep_s: float = 2.0):
    """Predict states and covariances by per-track ``dt_s`` (n,), possibly negative.

    ::

        x⁻ = F x                    (CV tracks)
        x⁻ = φ_free-flight(x, Δ)    (tracks flagged ``ballistic``)
        P⁻ = F P Fᵀ + Q(Δ)

    ``q`` is the acceleration spectral density per track (m²/s³).  Returns
    ``(x_pred, P_pred)``; inputs are not modified.
    """
    x = np.asarray(x, dtype=float)
    P = np.asarray(P, dtype=float)
    dt = np.broadcast_to(np.asarray(dt_s, dtype=float), x.shape[:1])
    F = cv_transition(dt)
    xp = x.copy()
    xp[:, :3] += dt[:, None] * x[:, 3:]
    if ballistic is not None:
        b = np.asarray(ballistic, dtype=bool)
        if b.any():
            xp[b] = free_flight_mean(x[b], dt[b], max_substep_s)
    Pp = F @ P @ F.transpose(0, 2, 1) + cv_process_noise(dt, q)
    return xp, 0.5 * (Pp + Pp.transpose(0, 2, 1))


# --------------------------------------------------------------------------- measurement model


def measurement_model(x, site_ecef, enu_rot, with_rdot: bool = False):
    """Predicted radar measurements and their Jacobians for states ``x`` (n, 6).

    Returns ``(z_pred, H)`` of shapes (n, k) and (n, k, 6), k = 3 or 4.  With
    ``d = M (p - s) = (e, n, u)``, ``ρ² = e² + n²``, ``r² = ρ² + u²`` the rows
    of ``H`` with respect to the ENU line of sight are::

        ∂r/∂d  = dᵀ / r
        ∂az/∂d = [ n, -e, 0 ] / ρ²
        ∂el/∂d = [ -e u / (r² ρ), -n u / (r² ρ), ρ / r² ]
        ∂ṙ/∂d  = (w - ṙ d / r)ᵀ / r,   ∂ṙ/∂w = dᵀ / r          (w = M v)

    and ``∂/∂p = ∂/∂d · M``, ``∂/∂v = ∂/∂w · M`` (the site is fixed in ECEF).
    """
    x = np.asarray(x, dtype=float)
    M = np.asarray(enu_rot, dtype=float)
    d = (x[:, :3] - np.asarray(site_ecef, dtype=float)) @ M.T
    e, nn, u = d[:, 0], d[:, 1], d[:, 2]
    rho2 = np.maximum(e * e + nn * nn, 1e-6)
    rho = np.sqrt(rho2)
    r2 = rho2 + u * u
    r = np.sqrt(r2)
    k = 4 if with_rdot else 3
    n = x.shape[0]
    z = np.empty((n, k))
    z[:, 0] = r
    z[:, 1] = np.mod(np.arctan2(e, nn), 2.0 * np.pi)
    z[:, 2] = np.arctan2(u, rho)
    Hd = np.zeros((n, k, 3))  # ∂h/∂d
    Hd[:, 0] = d / r[:, None]
    Hd[:, 1, 0] = nn / rho2
    Hd[:, 1, 1] = -e / rho2
    Hd[:, 2, 0] = -e * u / (r2 * rho)
    Hd[:, 2, 1] = -nn * u / (r2 * rho)
    Hd[:, 2, 2] = rho / r2
    H = np.zeros((n, k, 6))
    if with_rdot:
        w = x[:, 3:] @ M.T
        rdot = np.einsum("ij,ij->i", d, w) / r
        z[:, 3] = rdot
        Hd[:, 3] = (w - rdot[:, None] * d / r[:, None]) / r[:, None]
        H[:, 3, 3:] = Hd[:, 0] @ M  # ∂ṙ/∂w = dᵀ/r, same as ∂r/∂d
    H[:, :, :3] = Hd @ M
    return z, H


def ekf_update(x, P, nu, H, R):
    """EKF measurement update of a batch, Joseph form (BLK eqs. 5.2.3-9..18, 10.3.2).

    ``x`` (n, d), ``P`` (n, d, d), ``nu`` (n, k), ``H`` (n, k, d), ``R`` (n, k, k).
    Returns ``(x_upd, P_upd)``; the equations are in
    :func:`tdome.c2.tracking.gaussian.kalman_update`.
    """
    return kalman_update(x, P, nu, H, R)[:2]


# --------------------------------------------------------------------------- plots in Cartesian space


def razel_jacobian(range_m, az_rad, el_rad) -> np.ndarray:
    """Jacobian ``∂(e, n, u)/∂(r, az, el)`` (n, 3, 3) of :func:`tdome.geo.razel_to_enu`.

    ::

        e = r cos(el) sin(az),  n = r cos(el) cos(az),  u = r sin(el)
        J = [[ce sa,  r ce ca, -r se sa],
             [ce ca, -r ce sa, -r se ca],
             [se,     0,        r ce   ]]
    """
    r = np.atleast_1d(np.asarray(range_m, dtype=float))
    az = np.atleast_1d(np.asarray(az_rad, dtype=float))
    el = np.atleast_1d(np.asarray(el_rad, dtype=float))
    sa, ca, se, ce = np.sin(az), np.cos(az), np.sin(el), np.cos(el)
    J = np.empty(r.shape + (3, 3))
    J[:, 0, 0] = ce * sa
    J[:, 0, 1] = r * ce * ca
    J[:, 0, 2] = -r * se * sa
    J[:, 1, 0] = ce * ca
    J[:, 1, 1] = -r * ce * sa
    J[:, 1, 2] = -r * se * ca
    J[:, 2, 0] = se
    J[:, 2, 1] = 0.0
    J[:, 2, 2] = r * ce
    return J


def plot_to_ecef(range_m, az_rad, el_rad, sigma, site_ecef, enu_rot):
    """Convert plots to ECEF positions (n, 3) and linearised covariances (n, 3, 3).

    ``p = s + Mᵀ enu(r, az, el)`` and ``C = Mᵀ J diag(σ_r², σ_az², σ_el²) Jᵀ M``
    with ``J`` from :func:`razel_jacobian` (the standard linearised converted
    measurement, BLK §10.4.3; the conversion bias ~ r σ_θ² / 2 is ignored).
    ``sigma`` is (n, ≥3); extra columns (range rate) are ignored.
    """
    r = np.atleast_1d(np.asarray(range_m, dtype=float))
    az = np.atleast_1d(np.asarray(az_rad, dtype=float))
    el = np.atleast_1d(np.asarray(el_rad, dtype=float))
    M = np.asarray(enu_rot, dtype=float)
    pos = razel_to_enu(r, az, el).reshape(-1, 3) @ M + np.asarray(site_ecef, dtype=float)
    sig = np.asarray(sigma, dtype=float)
    sig = (sig[None] if sig.ndim == 1 else sig)[:, :3]
    JM = np.swapaxes(M.T @ razel_jacobian(r, az, el), -1, -2)  # (Mᵀ J)ᵀ = Jᵀ M
    cov = np.swapaxes(JM, -1, -2) @ (sig[:, :, None] ** 2 * JM)
    return pos, 0.5 * (cov + np.swapaxes(cov, -1, -2))


def one_point_state(pos, cov, speed_sigma_mps: float):
    """Track state from a single plot: position, zero velocity with isotropic std ``speed_sigma_mps``."""
    pos = np.asarray(pos, dtype=float)
    n = pos.shape[0]
    x = np.zeros((n, 6))
    x[:, :3] = pos
    P = np.zeros((n, 6, 6))
    P[:, :3, :3] = cov
    P[:, _IDX3 + 3, _IDX3 + 3] = speed_sigma_mps**2
    return x, P


def two_point_init(p_a, C_a, t_a, p_b, C_b, t_b, q, speed_sigma_mps: float | None = None):
    """Two-point differencing initialisation (BLK §5.5.3, extended to 3-D and process noise).

    From two independent Cartesian position measurements ``p_1`` at ``t_1``
    and ``p_2`` at ``t_2 > t_1`` (covariances ``C_1``, ``C_2``), ``T = t_2 - t_1``::

        x = [ p_2, (p_2 - p_1) / T ]
        P = [[ C_2,    C_2 / T                    ],
             [ C_2 / T, (C_1 + C_2) / T² + q T / 3 ]]

    The ``q T / 3`` term is the variance of ``v(t_2)`` about the mean velocity
    over the interval under white-noise acceleration of density ``q``.  The
    arguments may come in either time order; the state is at the later time.

    With ``speed_sigma_mps`` the prior on the velocity that a one-plot track
    carries (zero mean, isotropic σ) is fused in as the independent
    pseudo-measurement ``v = 0``, ``R = σ² I`` (a Kalman update with
    ``H = [0 I]``): the estimate is then the posterior given the prior and
    both plots, which matters when the prior is as informative as the
    plots (short baselines, slow targets).  Returns ``(x, P, t)``.
    """
    t_a = np.asarray(t_a, dtype=float)
    t_b = np.asarray(t_b, dtype=float)
    later_b = (t_b >= t_a)[:, None]
    p1 = np.where(later_b, p_a, p_b)
    p2 = np.where(later_b, p_b, p_a)
    C1 = np.where(later_b[:, :, None], C_a, C_b)
    C2 = np.where(later_b[:, :, None], C_b, C_a)
    T = np.abs(t_b - t_a)
    n = T.shape[0]
    x = np.empty((n, 6))
    x[:, :3] = p2
    x[:, 3:] = (p2 - p1) / T[:, None]
    P = np.empty((n, 6, 6))
    P[:, :3, :3] = C2
    P[:, :3, 3:] = C2 / T[:, None, None]
    P[:, 3:, :3] = P[:, :3, 3:]
    Pvv = (C1 + C2) / (T * T)[:, None, None]
    Pvv[:, _IDX3, _IDX3] += (np.broadcast_to(q, T.shape) * T / 3.0)[:, None]
    P[:, 3:, 3:] = Pvv
    P = 0.5 * (P + np.swapaxes(P, -1, -2))
    if speed_sigma_mps is not None:
        H = np.zeros((n, 3, 6))
        H[:, _IDX3, _IDX3 + 3] = 1.0
        x, P = kalman_update(x, P, -x[:, 3:], H, np.eye(3) * float(speed_sigma_mps) ** 2)[:2]
    return x, P, np.maximum(t_a, t_b)
