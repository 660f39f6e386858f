"""Motion models over a common 9-D ECEF state, for single- and multiple-model filters.

State and calling convention
----------------------------
Every model works on the same state, so an IMM can mix them without
augmenting or truncating anything::

    x = [ p (3), v (3), a (3) ]      ECEF position (m), velocity (m/s),
                                     total kinematic acceleration (m/s²)

``a`` is the acceleration *as seen in the rotating ECEF frame*: a missile in
free flight has ``a = g(p) - 2 Ω×v - Ω×(Ω×p)`` (≈ 9.8 m/s² downwards), an
aircraft in a level 6 g turn ``a ≈ 59 m/s²`` towards the turn centre, and a
cruising aircraft ``a ≈ 0``.

Each model is a small class with one method::

    model.predict(x, P, dt_s) -> (x_pred, P_pred)

for a batch ``x`` (n, 9), ``P`` (n, 9, 9) and per-track steps ``dt_s`` (n,)
(or a scalar).  ``dt_s`` may be zero (the state comes back unchanged, except
the ballistic model, which re-imposes ``a = a_free-flight(p, v)``) or negative
(retrodiction: the mean runs backwards and the process noise is that of the
backward prediction, ``F(-Δ) Q(Δ) F(-Δ)ᵀ``).  Inputs are never modified.

The three kinematic models apply the same one-axis model to each ECEF axis
with the same parameters, so their transition and noise matrices are
Kronecker products ``F = F₁ ⊗ I₃``, ``Q = Q₁ ⊗ I₃`` of 3 × 3 one-axis
matrices acting on ``(p_i, v_i, a_i)``.

Models
------
:class:`ConstantVelocity`
    White-noise acceleration on ``(p, v)`` (BLK §6.2.2)::

        F₁ = [[1, Δ, 0], [0, 1, 0], [0, 0, e^{-|Δ|/τ}]]
        Q₁ = [[q|Δ|³/3, qΔ|Δ|/2, 0], [qΔ|Δ|/2, q|Δ|, 0], [0, 0, σ_a²(1 - e^{-2|Δ|/τ})]]

    ``q`` (m²/s³) is the power spectral density of the white acceleration.
    The acceleration components do not drive the motion; they relax to zero
    as a first-order Gauss–Markov process of time constant ``τ`` and
    stationary standard deviation ``σ_a``, so that in an IMM the CV model's
    ``a`` is "zero, give or take σ_a" rather than whatever a manoeuvre model
    last left there.  With ``τ`` ≪ revisit the components are simply reset.

:class:`ConstantAcceleration`
    Wiener-process acceleration (white jerk of spectral density ``q``,
    m²/s⁵; BLK §6.2.3, eqs. 6.2.3-7 and -8)::

        F₁ = [[1, Δ, Δ²/2], [0, 1, Δ], [0, 0, 1]]
        Q₁ = q [[Δ⁵/20, Δ⁴/8, Δ³/6], [Δ⁴/8, Δ³/3, Δ²/2], [Δ³/6, Δ²/2, Δ]]

    (with ``|Δ|`` so that it also holds for negative Δ: entry ``(i, j)`` is
    ``q |Δ| Δ^{4-i-j} / c_ij``).

:class:`Singer`
    First-order Gauss–Markov acceleration of stationary σ_m and time
    constant τ (Singer 1970): the manoeuvre model whose spread stays within
    what airframes pull, where the CA model's grows without bound.

:class:`CoordinatedTurn`
    The 3-D coordinated-turn model of Watson & Blair (1992): a target turning
    at constant speed and constant rate ``ω`` in a fixed plane satisfies
    ``ȧ = -ω² v`` on every axis, so with white jerk ``w`` (density ``q``)::

        d/dt [p, v, a] = [[0, 1, 0], [0, 0, 1], [0, -ω², 0]] [p, v, a] + [0, 0, w]

    whose exact transition is (``s = sin ωΔ``, ``c = cos ωΔ``)::

        F₁ = [[1, s/ω,   (1-c)/ω²],
              [0, c,     s/ω     ],
              [0, -ω s,  c       ]]

    and whose process noise ``Q₁ = q ∫₀^Δ f(t) f(t)ᵀ dt``,
    ``f(t) = [(1 - cos ωt)/ω², sin ωt / ω, cos ωt]``, is::

        Q₁₁ = q (6ωΔ - 8 s + sin 2ωΔ) / (4ω⁵)      Q₁₂ = q (1 - c)² / (2ω⁴)
        Q₁₃ = q (4 s - 2ωΔ - sin 2ωΔ) / (4ω³)      Q₂₂ = q (2ωΔ - sin 2ωΔ) / (4ω³)
        Q₂₃ = q s² / (2ω²)                          Q₃₃ = q (2ωΔ + sin 2ωΔ) / (4ω)

    The turn rate is not a state: each track's ``ω = |v × a| / |v|²`` is
    computed from its current estimate (Watson & Blair §III) and held over
    the step, clipped to ``max_rate_rad_s``.  Three entries of ``Q₁`` cancel
    catastrophically for small ``ωΔ``; they are evaluated from their Taylor
    series below ``|ωΔ| = 0.5``.  As ``ω → 0`` the model becomes the
    constant-acceleration model exactly.

:class:`Ballistic`
    Vacuum free flight under the project's gravity model (WGS84 point mass +
    J2, Coriolis and centrifugal terms; :mod:`tdome.dynamics`), plus white
    acceleration noise of density ``q`` (m²/s³).  The mean of ``(p, v)`` is
    integrated with RK4 (:func:`~tdome.c2.tracking.motion.free_flight_mean`);
    the covariance uses the state-transition matrix ``Φ = ∂φ(x, Δ)/∂(p, v)``
    of that same integrator, obtained by central differences of twelve
    perturbed propagations (so it contains the gravity gradient, J2 and the
    Coriolis coupling, and is exact to the integrator for any Δ).  With
    ``P₆`` the (p, v) block of the covariance::

        P₆⁻ = Φ P₆ Φᵀ + Q_CV(Δ)

    ``Q_CV`` is the white-noise-acceleration noise (the gravity gradient's
    effect on it, ~ 3·10⁻⁶ Δ² relative, is neglected).  The acceleration is
    then *set* to the free-flight acceleration of the predicted state,
    ``a⁻ = a_ff(p⁻, v⁻)``, with covariance ``J P₆⁻ Jᵀ + σ_a² I`` and
    cross-covariance ``J P₆⁻``
    (``J = ∂a_ff/∂(p, v)``), i.e. ``a`` is a function of ``(p, v)`` up to an
    unmodelled residual of standard deviation ``σ_a``.

References
----------
- R. A. Singer, "Estimating optimal tracking filter performance for manned
  maneuvering targets", IEEE T-AES 6(4), 1970.
- Y. Bar-Shalom, X. R. Li, T. Kirubarajan, *Estimation with Applications to
  Tracking and Navigation*, Wiley 2001 (BLK), §6.2 (CV, CA models).
- G. A. Watson, W. D. Blair, "IMM algorithm for tracking targets that
  maneuver through coordinated turns", Proc. SPIE 1698, Signal and Data
  Processing of Small Targets, 1992, pp. 236–247.
- X. R. Li, V. P. Jilkov, "Survey of maneuvering target tracking. Part I:
  dynamic models", IEEE T-AES 39(4), 2003, §V (3-D turn models).
- D. A. Vallado, *Fundamentals of Astrodynamics and Applications*, 4th ed.,
  §8.6.1 (J2 gravity), as used by :mod:`tdome.dynamics`.
"""

from __future__ import annotations

import numpy as np

from tdome.c2.tracking.gaussian import symmetrize
from tdome.c2.tracking.motion import cv_process_noise, free_flight_mean
from tdome.dynamics import OMEGA_EARTH_RAD_S, free_flight_acceleration

STATE_DIM = 9
_I3 = np.eye(3)
_IDX3 = np.arange(3)


def _batch(x, P, dt_s):
    x = np.asarray(x, dtype=float)
    P = np.asarray(P, dtype=float)
    if x.ndim != 2 or x.shape[1] != STATE_DIM or P.shape != (x.shape[0], STATE_DIM, STATE_DIM):
        raise ValueError(f"expected x (n, 9) and P (n, 9, 9), got {x.shape} and {P.shape}")
    dt = np.broadcast_to(np.asarray(dt_s, dtype=float), x.shape[:1])
    return x, P, dt


def kron_axes(A: np.ndarray) -> np.ndarray:
    """One-axis matrices ``A`` (n, 3, 3) over ``(p, v, a)`` to 9-D matrices ``A ⊗ I₃`` (n, 9, 9)."""
    n = A.shape[0]
    return np.einsum("nij,kl->nikjl", A, _I3).reshape(n, STATE_DIM, STATE_DIM)


def linear_predict(x, P, F, Q):
    """``x⁻ = F x``, ``P⁻ = F P Fᵀ + Q`` for batches (symmetrised)."""
    xp = np.einsum("nij,nj->ni", F, x)
    Pp = F @ P @ np.swapaxes(F, -1, -2) + Q
    return xp, symmetrize(Pp)


def expand_state(x6, P6, accel_sigma_mps2: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Extend 6-D ``[p, v]`` states (n, 6), (n, 6, 6) to 9-D with ``a = 0 ± accel_sigma_mps2`` (uncorrelated)."""
    x6 = np.asarray(x6, dtype=float)
    P6 = np.asarray(P6, dtype=float)
    n = x6.shape[0]
    x = np.zeros((n, STATE_DIM))
    x[:, :6] = x6
    P = np.zeros((n, STATE_DIM, STATE_DIM))
    P[:, :6, :6] = P6
    P[:, _IDX3 + 6, _IDX3 + 6] = float(accel_sigma_mps2) ** 2
    return x, P


# --------------------------------------------------------------------------- kinematic models


class ConstantVelocity:
    """Nearly-constant velocity (white-noise acceleration) with relaxing acceleration components.

    Parameters
    ----------
    q : float
        Power spectral density of the white acceleration noise (m²/s³); the
        velocity random walk has variance ``q Δ`` per axis.  A σ_a of
        acceleration over a 1 s correlation time gives ``q = σ_a² · 1 s``.
    accel_sigma_mps2 : float
        Stationary standard deviation (m/s²) of the (motion-free) acceleration
        components.
    accel_tau_s : float
        Time constant (s) with which the acceleration components relax to zero.
    """

    name = "CV"

    def __init__(self, q: float = 1.0, accel_sigma_mps2: float = 1.0, accel_tau_s: float = 1.0):
        self.q = float(q)
        self.accel_sigma_mps2 = float(accel_sigma_mps2)
        self.accel_tau_s = float(accel_tau_s)

    def matrices(self, dt_s):
        """Transition and process-noise matrices ``(F, Q)``, each (n, 9, 9)."""
        dt = np.atleast_1d(np.asarray(dt_s, dtype=float))
        a = np.abs(dt)
        decay = np.exp(-a / self.accel_tau_s)
        F1 = np.zeros((dt.shape[0], 3, 3))
        F1[:, 0, 0] = F1[:, 1, 1] = 1.0
        F1[:, 0, 1] = dt
        F1[:, 2, 2] = decay
        Q1 = np.zeros_like(F1)
        Q1[:, 0, 0] = self.q * a**3 / 3.0
        Q1[:, 0, 1] = Q1[:, 1, 0] = self.q * dt * a / 2.0
        Q1[:, 1, 1] = self.q * a
        Q1[:, 2, 2] = self.accel_sigma_mps2**2 * -np.expm1(-2.0 * a / self.accel_tau_s)
        return kron_axes(F1), kron_axes(Q1)

    def predict(self, x, P, dt_s):
        """Predict states (n, 9) and covariances (n, 9, 9) by per-track ``dt_s`` (s)."""
        x, P, dt = _batch(x, P, dt_s)
        return linear_predict(x, P, *self.matrices(dt))


def _ca_matrices(dt: np.ndarray, q) -> tuple[np.ndarray, np.ndarray]:
    """One-axis Wiener-process-acceleration ``F₁, Q₁`` (n, 3, 3); Q entry (i, j) = q|Δ|Δ^{4-i-j}/c_ij."""
    a = np.abs(dt)
    F1 = np.zeros((dt.shape[0], 3, 3))
    F1[:, _IDX3, _IDX3] = 1.0
    F1[:, 0, 1] = F1[:, 1, 2] = dt
    F1[:, 0, 2] = 0.5 * dt * dt
    q = np.broadcast_to(np.asarray(q, dtype=float), dt.shape)
    Q1 = np.empty_like(F1)
    c = np.array([[20.0, 8.0, 6.0], [8.0, 3.0, 2.0], [6.0, 2.0, 1.0]])
    powers = 4 - _IDX3[:, None] - _IDX3[None, :]
    Q1[:] = (q * a)[:, None, None] * dt[:, None, None] ** powers / c
    return F1, Q1


class ConstantAcceleration:
    """Nearly-constant acceleration: Wiener-process acceleration driven by white jerk.

    Parameters
    ----------
    q : float
        Power spectral density of the white jerk (m²/s⁵); the acceleration
        random walk has variance ``q Δ`` per axis.  BLK §6.2.3 suggests
        ``√(q T)`` between half and all of the largest acceleration change
        expected over a revisit ``T``.
    """

    name = "CA"

    def __init__(self, q: float = 100.0):
        self.q = float(q)

    def matrices(self, dt_s):
        """Transition and process-noise matrices ``(F, Q)``, each (n, 9, 9)."""
        F1, Q1 = _ca_matrices(np.atleast_1d(np.asarray(dt_s, dtype=float)), self.q)
        return kron_axes(F1), kron_axes(Q1)

    def predict(self, x, P, dt_s):
        """Predict states (n, 9) and covariances (n, 9, 9) by per-track ``dt_s`` (s)."""
        x, P, dt = _batch(x, P, dt_s)
        return linear_predict(x, P, *self.matrices(dt))


# 16-point Gauss–Legendre nodes and weights on [0, 1] for the Singer model's noise integral.
_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)
_GL_X, _GL_W = 0.5 * (_GL_X + 1.0), 0.5 * _GL_W


def singer_matrices(dt, alpha: float, sigma_mps2: float) -> tuple[np.ndarray, np.ndarray]:
    """One-axis transition and process noise ``F₁, Q₁`` (n, 3, 3) of the Singer model (see :class:`Singer`).

    ``dt`` (n,) may be negative (the backward prediction of the stationary,
    time-reversible acceleration process: ``F₁₂`` and the odd noise entries
    change sign, the rest depend on ``|Δ|``).  ``Q₁ = q ∫₀^|Δ| f fᵀ ds`` with
    ``f(s) = [g₂(s), g₁(s), e^{-αs}]``, ``q = 2ασ²``, by 16-point Gauss–Legendre
    quadrature: the integrand is a smooth sum of exponentials and
    polynomials, and the closed form (Singer 1970) cancels catastrophically
    for small ``αΔ``.
    """
    dt = np.atleast_1d(np.asarray(dt, dtype=float))
    a = np.abs(dt)
    sign = np.sign(dt)

    def g(s):  # g₁ = (1 - e^{-αs})/α, g₂ = (αs - 1 + e^{-αs})/α², e^{-αs}
        e = np.expm1(-alpha * s)
        return (alpha * s + e) / alpha**2, -e / alpha, e + 1.0

    g2, g1, decay = g(a)
    F1 = np.zeros((dt.shape[0], 3, 3))
    F1[:, 0, 0] = F1[:, 1, 1] = 1.0
    F1[:, 0, 1] = dt
    F1[:, 0, 2] = g2
    F1[:, 1, 2] = sign * g1
    F1[:, 2, 2] = decay
    s = a[:, None] * _GL_X[None, :]  # (n, 16) nodes on [0, |Δ|]
    f = np.stack(g(s), axis=-1)  # (n, 16, 3)
    Q1 = (2.0 * alpha * sigma_mps2**2) * a[:, None, None] * np.einsum("k,nki,nkj->nij", _GL_W, f, f)
    Q1[:, 0, 1] *= sign
    Q1[:, 1, 0] *= sign
    Q1[:, 1, 2] *= sign
    Q1[:, 2, 1] *= sign
    return F1, Q1


class Singer:
    """Manoeuvre model with bounded acceleration: the Singer (1970) first-order Gauss–Markov acceleration.

    The acceleration is a stationary process of standard deviation ``σ_m``
    that forgets itself with time constant ``τ`` (α = 1/τ)::

        ȧ = -α a + w,    E[w wᵀ] = 2ασ_m² δ(t)

    so that, per axis, with ``g₁(Δ) = (1 - e^{-αΔ})/α``,
    ``g₂(Δ) = (αΔ - 1 + e^{-αΔ})/α²``::

        F₁ = [[1, Δ, g₂], [0, 1, g₁], [0, 0, e^{-αΔ}]]

    Unlike the Wiener-process acceleration of :class:`ConstantAcceleration`,
    whose acceleration variance grows as ``qΔ`` without bound (after three
    missed 4 s scans at ``q = 1000``, σ_a ≈ 110 m/s², 11 g, and a position σ of
    3.5 km), the acceleration here stays within what airframes can pull
    (``σ_m``), and its predicted mean decays: a manoeuvre ends, and a track
    coasting on an old acceleration estimate changes its velocity by at
    most ``a τ``.  As ``τ → ∞`` with ``2ασ_m²`` fixed it becomes the CA model.

    Parameters
    ----------
    sigma_mps2 : float
        Stationary standard deviation of the acceleration per axis (m/s²).
        Singer's rule for a target that pulls up to ``a_max`` with probability
        ``P_max`` and none with ``P_0``: ``σ² = a_max²(1 + 4P_max − P_0)/3``.
    tau_s : float
        Manoeuvre time constant (s): how long an acceleration persists.
    """

    name = "SA"

    def __init__(self, sigma_mps2: float = 30.0, tau_s: float = 10.0):
        self.sigma_mps2 = float(sigma_mps2)
        self.tau_s = float(tau_s)
        if not (self.sigma_mps2 > 0 and self.tau_s > 0):
            raise ValueError(f"sigma_mps2 and tau_s must be positive, got {sigma_mps2!r}, {tau_s!r}")

    def matrices(self, dt_s):
        """Transition and process-noise matrices ``(F, Q)``, each (n, 9, 9)."""
        F1, Q1 = singer_matrices(np.atleast_1d(np.asarray(dt_s, dtype=float)), 1.0 / self.tau_s, self.sigma_mps2)
        return kron_axes(F1), kron_axes(Q1)

    def predict(self, x, P, dt_s):
        """Predict states (n, 9) and covariances (n, 9, 9) by per-track ``dt_s`` (s)."""
        x, P, dt = _batch(x, P, dt_s)
        return linear_predict(x, P, *self.matrices(dt))


# Taylor coefficients in powers of x² (x = ωΔ) of the three noise entries of the
# turn model that cancel for small x; higher orders are below 1e-16 for |x| < 0.5.
_SERIES = {
    "g11": [1 / 20, -1 / 168, 1 / 2880, -17 / 1330560, 31 / 94348800, -1 / 159667200],
    "g13": [1 / 6, -7 / 120, 31 / 5040, -127 / 362880, 73 / 5702400, -2047 / 6227020800],
    "g22": [1 / 3, -1 / 15, 2 / 315, -1 / 2835, 2 / 155925, -2 / 6081075],
}
_SERIES_MAX = 0.5


def turn_matrices(dt, omega, q) -> tuple[np.ndarray, np.ndarray]:
    """One-axis transition and process noise ``F₁, Q₁`` (n, 3, 3) of the coordinated-turn model.

    ``dt`` (n,) may be negative; ``omega`` (n,) ≥ 0 rad/s; ``q`` jerk density
    (m²/s⁵).  Written as ``Q₁_ij = q |Δ| Δ^{4-i-j} g_ij(ωΔ)`` with even,
    dimensionless ``g_ij`` (``g → 1/c_ij`` of the CA model as ``ω → 0``).
    """
    dt = np.asarray(dt, dtype=float)
    w = np.asarray(omega, dtype=float)
    x = w * dt
    c = np.cos(x)
    sinc = np.sinc(x / np.pi)  # sin x / x, stable at 0
    half = np.sinc(x / (2.0 * np.pi))
    vers = 0.5 * half * half  # (1 - cos x) / x², stable at 0
    F1 = np.zeros(dt.shape + (3, 3))
    F1[..., 0, 0] = 1.0
    F1[..., 0, 1] = dt * sinc
    F1[..., 0, 2] = dt * dt * vers
    F1[..., 1, 1] = c
    F1[..., 1, 2] = dt * sinc
    F1[..., 2, 1] = -w * w * dt * sinc
    F1[..., 2, 2] = c

    small = np.abs(x) < _SERIES_MAX
    xs = np.where(small, 1.0, x)  # closed forms only where |x| is not small
    x2 = x * x

    def series(name):
        return np.polynomial.polynomial.polyval(x2, _SERIES[name])

    s2x = np.sin(2.0 * xs)
    g11 = np.where(small, series("g11"), (6.0 * xs - 8.0 * np.sin(xs) + s2x) / (4.0 * xs**5))
    g13 = np.where(small, series("g13"), (4.0 * np.sin(xs) - 2.0 * xs - s2x) / (4.0 * xs**3))
    g22 = np.where(small, series("g22"), (2.0 * xs - s2x) / (4.0 * xs**3))
    g12 = 0.5 * vers * vers  # (1 - cos x)² / (2 x⁴)
    g23 = 0.5 * sinc * sinc  # sin² x / (2 x²)
    g33 = 0.5 + 0.5 * np.sinc(2.0 * x / np.pi)  # (2x + sin 2x) / (4x)
    g = np.stack([np.stack([g11, g12, g13], -1), np.stack([g12, g22, g23], -1), np.stack([g13, g23, g33], -1)], -2)
    a = np.abs(dt)
    powers = 4 - _IDX3[:, None] - _IDX3[None, :]
    q = np.broadcast_to(np.asarray(q, dtype=float), dt.shape)
    Q1 = (q * a)[..., None, None] * dt[..., None, None] ** powers * g
    return F1, Q1


def turn_rate(x, max_rate_rad_s: float = np.inf, min_speed_mps: float = 1.0) -> np.ndarray:
    """Turn rate ``ω = |v × a| / |v|²`` (rad/s) of 9-D states (n, 9), clipped to ``max_rate_rad_s``."""
    x = np.asarray(x, dtype=float)
    v, a = x[:, 3:6], x[:, 6:9]
    v2 = np.maximum(np.einsum("ij,ij->i", v, v), min_speed_mps**2)
    return np.minimum(np.linalg.norm(np.cross(v, a), axis=1) / v2, max_rate_rad_s)


class CoordinatedTurn:
    """3-D coordinated turn (Watson & Blair 1992): ``ȧ = -ω² v`` with ω from the state estimate.

    Parameters
    ----------
    q : float
        Power spectral density of the white jerk about the turn dynamics
        (m²/s⁵); it absorbs changes of turn rate, speed and plane.
    max_rate_rad_s : float
        Upper bound on the estimated turn rate (rad/s); guards slow tracks
        whose ``|v|`` is poorly known (``ω = |a_⊥| / |v|``).
    min_speed_mps : float
        Speeds below this are treated as this speed in the ω estimate.
    """

    name = "CT"

    def __init__(self, q: float = 25.0, max_rate_rad_s: float = 1.0, min_speed_mps: float = 10.0):
        self.q = float(q)
        self.max_rate_rad_s = float(max_rate_rad_s)
        self.min_speed_mps = float(min_speed_mps)

    def matrices(self, x, dt_s):
        """Transition and process-noise matrices ``(F, Q)`` (n, 9, 9) at the turn rate of states ``x``."""
        dt = np.broadcast_to(np.asarray(dt_s, dtype=float), (np.asarray(x).shape[0],))
        omega = turn_rate(x, self.max_rate_rad_s, self.min_speed_mps)
        F1, Q1 = turn_matrices(dt, omega, self.q)
        return kron_axes(F1), kron_axes(Q1)

    def predict(self, x, P, dt_s):
        """Predict states (n, 9) and covariances (n, 9, 9) by per-track ``dt_s`` (s)."""
        x, P, dt = _batch(x, P, dt_s)
        return linear_predict(x, P, *self.matrices(x, dt))


# --------------------------------------------------------------------------- ballistic


# ∂a_ff/∂v: the Coriolis term -2 Ω × v with Ω = ω ẑ, as in tdome.dynamics.
_CORIOLIS = np.array([[0.0, 2.0 * OMEGA_EARTH_RAD_S, 0.0], [-2.0 * OMEGA_EARTH_RAD_S, 0.0, 0.0], [0.0, 0.0, 0.0]])


def free_flight_jacobian(x6: np.ndarray, eps_m: float = 10.0) -> np.ndarray:
    """``∂a_ff/∂(p, v)`` (n, 3, 6) of the free-flight acceleration at states ``x6`` (n, ≥6).

    The position block (gravity gradient with J2, plus centrifugal term) by
    central differences of step ``eps_m``, the velocity block (Coriolis)
    exactly.
    """
    p, v = x6[:, :3], x6[:, 3:6]
    n = p.shape[0]
    dp = eps_m * _I3
    pp = (p[:, None, :] + dp[None]).reshape(-1, 3)
    pm = (p[:, None, :] - dp[None]).reshape(-1, 3)
    vv = np.repeat(v, 3, axis=0)
    diff = (free_flight_acceleration(pp, vv) - free_flight_acceleration(pm, vv)).reshape(n, 3, 3)
    J = np.empty((n, 3, 6))
    J[:, :, :3] = np.swapaxes(diff, 1, 2) / (2.0 * eps_m)  # column j = ∂a/∂p_j
    J[:, :, 3:] = _CORIOLIS
    return J


class Ballistic:
    """Vacuum free flight under the project's gravity model (J2, rotating Earth) plus white acceleration noise.

    Parameters
    ----------
    q : float
        Power spectral density (m²/s³) of the white acceleration noise about
        free flight (unmodelled drag, thrust tail-off, gravity anomalies).
    accel_sigma_mps2 : float
        Standard deviation (m/s²) of the acceleration components about the
        free-flight acceleration of the predicted state.
    max_substep_s : float
        Longest RK4 sub-step (s) of the mean and of the twelve perturbed
        propagations that give the transition matrix.
    eps_pos_m, eps_vel_mps : float
        Central-difference steps of the transition matrix.  The map is close
        to linear (the third derivative of gravity is ~10⁻¹⁹ s⁻² m⁻²), so the
        steps are set against round-off (positions near 6.4·10⁶ m), not
        truncation.
    """

    name = "BAL"

    def __init__(self, q: float = 1.0, accel_sigma_mps2: float = 0.5, max_substep_s: float = 5.0,
                 eps_pos_m: float = 10.0, eps_vel_mps: float = 1.0):
        self.q = float(q)
        self.accel_sigma_mps2 = float(accel_sigma_mps2)
        self.max_substep_s = float(max_substep_s)
        self.eps = np.r_[np.full(3, float(eps_pos_m)), np.full(3, float(eps_vel_mps))]

    def transition(self, x, dt_s):
        """Propagated 6-D means (n, 6) and transition matrices ``Φ = ∂φ/∂(p, v)`` (n, 6, 6)."""
        x = np.asarray(x, dtype=float)
        n = x.shape[0]
        dt = np.broadcast_to(np.asarray(dt_s, dtype=float), (n,))
        offsets = np.concatenate([np.zeros((1, 6)), np.diag(self.eps), -np.diag(self.eps)])  # (13, 6)
        X = (x[:, None, :6] + offsets[None]).reshape(-1, 6)
        Y = free_flight_mean(X, np.repeat(dt, 13), self.max_substep_s).reshape(n, 13, 6)
        cols = (Y[:, 1:7] - Y[:, 7:13]) / (2.0 * self.eps)[None, :, None]  # row j: ∂φ/∂x_j
        return Y[:, 0], np.swapaxes(cols, 1, 2)

    def predict(self, x, P, dt_s):
        """Predict states (n, 9) and covariances (n, 9, 9) by per-track ``dt_s`` (s)."""
        x, P, dt = _batch(x, P, dt_s)
        n = x.shape[0]
        xp = np.empty_like(x)
        if n == 0:
            return xp, P.copy()
        x6, Phi = self.transition(x, dt)
        xp[:, :6] = x6
        xp[:, 6:] = free_flight_acceleration(x6[:, :3], x6[:, 3:])
        P6 = Phi @ P[:, :6, :6] @ np.swapaxes(Phi, 1, 2) + cv_process_noise(dt, self.q)
        J = free_flight_jacobian(x6)
        JP = J @ P6
        Pp = np.empty_like(P)
        Pp[:, :6, :6] = P6
        Pp[:, 6:, :6] = JP
        Pp[:, :6, 6:] = np.swapaxes(JP, 1, 2)
        Pp[:, 6:, 6:] = JP @ np.swapaxes(J, 1, 2) + self.accel_sigma_mps2**2 * _I3
        return xp, symmetrize(Pp)
