"""Batched Gaussian linear algebra shared by the Kalman-type filters.

Every function works on stacks of matrices ``(..., k, k)``; nothing loops over
tracks in Python.

- :func:`spd_inv_logdet` inverts symmetric positive-definite matrices through
  an *equilibrated Cholesky factor*.  Radar innovation covariances mix m²,
  rad² and (m/s)² and have condition numbers near 10¹⁰; scaling by
  ``D = diag(√S_ii)`` first, ``S = D S̃ D``, brings ``S̃`` to a unit diagonal
  (condition number of the correlation structure only), so the factorisation
  ``S̃ = L Lᵀ`` loses nothing.  Then::

      S⁻¹ = D⁻¹ L⁻ᵀ L⁻¹ D⁻¹,     ln|S| = 2 Σ ln L_ii + 2 Σ ln D_ii

- :func:`kalman_update` is the (extended) Kalman measurement update in Joseph
  form for any state dimension, returning what the multiple-model filters
  need besides the new state: the normalised innovation squared and the log
  determinant of the innovation covariance (for the Gaussian likelihood).
- :func:`sqrt_psd` gives a matrix square root ``L Lᵀ = P`` for sigma points,
  robust to covariances that are only positive *semi*-definite.

References: Bar-Shalom, Li & Kirubarajan, *Estimation with Applications to
Tracking and Navigation*, Wiley 2001 (BLK), §5.2.3 (Joseph form), §5.4
(innovation and likelihood); Golub & Van Loan, *Matrix Computations*, §4.2
(Cholesky), §3.5.2 (equilibration).
"""

from __future__ import annotations

import numpy as np

LOG_2PI = float(np.log(2.0 * np.pi))


def symmetrize(P: np.ndarray) -> np.ndarray:
    """``(P + Pᵀ) / 2`` over the last two axes."""
    return 0.5 * (P + np.swapaxes(P, -1, -2))


def _eig_floor(S: np.ndarray, rel: float = 1e-12) -> np.ndarray:
    """Clip the eigenvalues of symmetric ``S`` to at least ``rel`` times its largest (a PSD repair)."""
    w, V = np.linalg.eigh(symmetrize(S))
    floor = rel * np.maximum(w[..., -1:], np.finfo(float).tiny)
    w = np.maximum(w, floor)
    return (V * w[..., None, :]) @ np.swapaxes(V, -1, -2)


def spd_inv_logdet(S) -> tuple[np.ndarray, np.ndarray]:
    """Inverse and natural log-determinant of SPD matrices ``S`` (..., k, k), equilibrated Cholesky.

    A matrix that is not numerically positive definite (it can only come from
    round-off in a covariance that should be) is repaired by flooring its
    eigenvalues at 10⁻¹² of the largest before factorising.
    """
    S = symmetrize(np.asarray(S, dtype=float))
    dg = np.sqrt(np.maximum(np.diagonal(S, axis1=-2, axis2=-1), np.finfo(float).tiny))
    outer = dg[..., :, None] * dg[..., None, :]
    Sn = S / outer
    try:
        L = np.linalg.cholesky(Sn)
    except np.linalg.LinAlgError:
        L = np.linalg.cholesky(_eig_floor(Sn))
    eye = np.broadcast_to(np.eye(S.shape[-1]), L.shape)
    Linv = np.linalg.solve(L, eye)
    Sinv = (np.swapaxes(Linv, -1, -2) @ Linv) / outer
    logdet = 2.0 * np.log(np.diagonal(L, axis1=-2, axis2=-1)).sum(axis=-1) + 2.0 * np.log(dg).sum(axis=-1)
    return symmetrize(Sinv), logdet


def sqrt_psd(P) -> np.ndarray:
    """A square root ``L`` with ``L Lᵀ = P`` for each matrix of the stack (..., d, d).

    Lower Cholesky factor of the equilibrated matrix when it exists; otherwise
    (semi-definite or slightly indefinite from round-off) the symmetric
    eigen-decomposition square root ``V √max(Λ, 0)``.
    """
    P = symmetrize(np.asarray(P, dtype=float))
    dg = np.sqrt(np.maximum(np.diagonal(P, axis1=-2, axis2=-1), 0.0))
    scale = np.where(dg > 0, dg, 1.0)
    Pn = P / (scale[..., :, None] * scale[..., None, :])
    try:
        L = np.linalg.cholesky(Pn)
    except np.linalg.LinAlgError:
        w, V = np.linalg.eigh(Pn)
        L = V * np.sqrt(np.maximum(w, 0.0))[..., None, :]
    return scale[..., :, None] * L


def gaussian_loglik(d2, logdet, k: int) -> np.ndarray:
    """``ln N(ν; 0, S) = -(d² + ln|S| + k ln 2π) / 2`` from ``d² = νᵀ S⁻¹ ν`` and ``ln|S|``."""
    return -0.5 * (np.asarray(d2) + np.asarray(logdet) + k * LOG_2PI)


def kalman_update(x, P, nu, H, R):
    """Kalman / EKF measurement update of a batch in Joseph form, any state dimension.

    ::

        S  = H P Hᵀ + R
        K  = P Hᵀ S⁻¹
        x⁺ = x + K ν
        P⁺ = (I - K H) P (I - K H)ᵀ + K R Kᵀ          (BLK eq. 5.2.3-18)

    ``x`` (n, d), ``P`` (n, d, d), ``nu`` = z - h(x) (n, k) with angles
    already wrapped, ``H`` (n, k, d), ``R`` (n, k, k) or (k, k).  Returns
    ``(x⁺, P⁺, d2, logdet)`` with ``d2 = νᵀ S⁻¹ ν`` (the normalised
    innovation squared) and ``logdet = ln|S|``.
    """
    x = np.asarray(x, dtype=float)
    P = np.asarray(P, dtype=float)
    nu = np.asarray(nu, dtype=float)
    H = np.asarray(H, dtype=float)
    Ht = np.swapaxes(H, -1, -2)
    PHt = P @ Ht
    S = H @ PHt + R
    Sinv, logdet = spd_inv_logdet(S)
    K = PHt @ Sinv
    Sinv_nu = np.einsum("nij,nj->ni", Sinv, nu)
    d2 = np.einsum("ni,ni->n", nu, Sinv_nu)
    xu = x + np.einsum("nij,nj->ni", K, nu)
    IKH = np.eye(x.shape[-1]) - K @ H
    Pu = IKH @ P @ np.swapaxes(IKH, -1, -2) + K @ (R @ np.swapaxes(K, -1, -2))
    return xu, symmetrize(Pu), d2, logdet
