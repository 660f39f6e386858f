"""Batched unscented transform and unscented Kalman filter (UKF) measurement update.

Interface::

    unscented_transform(x, P, f, angles)     -> (mean, covariance, cross-covariance) of f(x)
    ukf_update(x, P, z, R, h, angles)        -> (x⁺, P⁺, S, ν)

Scaled sigma points (Julier 2002; Wan & van der Merwe 2000) of a Gaussian
``N(x, P)`` in ``d`` dimensions, with ``λ = α² (d + κ) - d``::

    X_0     = x
    X_i     = x + (√((d + λ) P))_i,      X_{i+d} = x - (√((d + λ) P))_i,    i = 1..d
    W_0^m   = λ / (d + λ),               W_0^c = W_0^m + 1 - α² + β
    W_i^m   = W_i^c = 1 / (2 (d + λ))

``√`` is any square root ``L Lᵀ`` (Cholesky; see
:func:`~tdome.c2.tracking.gaussian.sqrt_psd`).  The defaults ``α = 1``,
``β = 2``, ``κ = 0`` make every weight non-negative (``W_0^m = 0``,
``W_0^c = 2``), so the transformed covariance is positive semi-definite by
construction, and ``β = 2`` is the optimal value for a Gaussian prior.

Measurement update with ``Z_i = h(X_i)``::

    ẑ    = Σ W_i^m Z_i
    S    = Σ W_i^c (Z_i - ẑ)(Z_i - ẑ)ᵀ + R
    C    = Σ W_i^c (X_i - x)(Z_i - ẑ)ᵀ
    K    = C S⁻¹,   x⁺ = x + K (z - ẑ),   P⁺ = P - K S Kᵀ

Angle components of the measurement (radar azimuth) are averaged through
residuals about the central point, ``ẑ = Z_0 + Σ W_i^m wrap(Z_i - Z_0)``, and
every residual is wrapped to (-π, π], so a target straddling north is
handled like any other.

References
----------
- S. J. Julier, J. K. Uhlmann, "Unscented filtering and nonlinear
  estimation", Proc. IEEE 92(3), 2004.
- S. J. Julier, "The scaled unscented transformation", Proc. ACC 2002.
- E. A. Wan, R. van der Merwe, "The unscented Kalman filter for nonlinear
  estimation", Proc. IEEE AS-SPCC 2000.
"""

from __future__ import annotations

import numpy as np

from tdome.c2.tracking.gaussian import spd_inv_logdet, sqrt_psd, symmetrize
from tdome.c2.tracking.measurements import wrapped_residual


def sigma_weights(d: int, alpha: float = 1.0, beta: float = 2.0, kappa: float = 0.0):
    """Mean and covariance weights ``(Wm, Wc)`` (2d+1,) and the spread ``√(d + λ)``."""
    lam = alpha * alpha * (d + kappa) - d
    if not d + lam > 0:
        raise ValueError(f"d + λ must be positive (d={d}, alpha={alpha}, kappa={kappa})")
    Wm = np.full(2 * d + 1, 0.5 / (d + lam))
    Wc = Wm.copy()
    Wm[0] = lam / (d + lam)
    Wc[0] = Wm[0] + 1.0 - alpha * alpha + beta
    return Wm, Wc, float(np.sqrt(d + lam))


def sigma_points(x, P, alpha: float = 1.0, beta: float = 2.0, kappa: float = 0.0):
    """Scaled sigma points ``X`` (n, 2d+1, d) of ``N(x, P)`` for a batch, and the weights ``(Wm, Wc)``."""
    x = np.asarray(x, dtype=float)
    _n, d = x.shape
    Wm, Wc, spread = sigma_weights(d, alpha, beta, kappa)
    L = spread * sqrt_psd(P)  # columns are the offsets
    offs = np.swapaxes(L, 1, 2)  # (n, d, d): row i = column i of L
    X = np.concatenate([x[:, None, :], x[:, None, :] + offs, x[:, None, :] - offs], axis=1)
    return X, Wm, Wc


def unscented_transform(x, P, f, angles=(), alpha: float = 1.0, beta: float = 2.0, kappa: float = 0.0):
    """Mean (n, k), covariance (n, k, k) of ``f(X)`` and cross-covariance (n, d, k) with ``x``.

    ``f`` maps (m, d) points to (m, k); the columns listed in ``angles`` are
    angles (averaged through wrapped residuals).
    """
    x = np.asarray(x, dtype=float)
    n, d = x.shape
    X, Wm, Wc = sigma_points(x, P, alpha, beta, kappa)
    Z = np.asarray(f(X.reshape(-1, d)), dtype=float)
    Z = Z.reshape(n, 2 * d + 1, Z.shape[-1])
    dZ0 = wrapped_residual(Z, Z[:, :1, :], angles)  # residuals about the central point
    z_mean = Z[:, 0] + np.einsum("i,nik->nk", Wm, dZ0)
    dZ = wrapped_residual(Z, z_mean[:, None, :], angles)
    dX = X - x[:, None, :]
    Pzz = np.einsum("i,nik,nil->nkl", Wc, dZ, dZ)
    Pxz = np.einsum("i,nid,nik->ndk", Wc, dX, dZ)
    return z_mean, symmetrize(Pzz), Pxz


def ukf_update(x, P, z, R, h, angles=(), alpha: float = 1.0, beta: float = 2.0, kappa: float = 0.0):
    """Unscented Kalman measurement update of a batch.

    ``x`` (n, d), ``P`` (n, d, d), ``z`` (n, k), ``R`` (n, k, k) or (k, k),
    ``h`` a measurement function (m, d) -> (m, k) (e.g.
    :meth:`tdome.c2.tracking.measurements.PolarRadar.h`), ``angles`` the
    angle columns of ``z`` (``(1,)`` for radar azimuth).

    Returns ``(x⁺, P⁺, S, nu)``: updated states and covariances, innovation
    covariances (n, k, k) and innovations ``z - ẑ`` (n, k), angles wrapped.
    """
    x = np.asarray(x, dtype=float)
    P = np.asarray(P, dtype=float)
    z_mean, Pzz, Pxz = unscented_transform(x, P, h, angles, alpha, beta, kappa)
    S = symmetrize(Pzz + R)
    Sinv, _ = spd_inv_logdet(S)
    K = Pxz @ Sinv
    nu = wrapped_residual(np.atleast_2d(np.asarray(z, dtype=float)), z_mean, angles)
    xu = x + np.einsum("ndk,nk->nd", K, nu)
    Pu = P - K @ S @ np.swapaxes(K, -1, -2)
    return xu, symmetrize(Pu), S, nu
