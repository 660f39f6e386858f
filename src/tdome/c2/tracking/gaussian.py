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

Both run as compiled loops over the stack (numba): the matrices are small
(3×3 to 9×9) and many, so the cost of a numpy call per operation would
outweigh the arithmetic.  The loops compute the same equations; a matrix
the Cholesky factorisation refuses goes through the same eigenvalue repair
as before, in numpy.

References: Bar-Shalom, Li & Kirubarajan, *Estimation with Applications to
Tracking and Navigation*, Wiley 2001 (BLK), §5.2.3 (Joseph form), §5.4
(innovation and likelihood); Golub & Van Loan, *Matrix Computations*, §4.2
(Cholesky), §3.5.2 (equilibration).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy.special import gammaincinv

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


_TINY = float(np.finfo(float).tiny)


@njit(cache=True)
def _chol_inv_logdet(S, Sinv, L):  # pragma: no cover - compiled; checked against the numpy path
    """``S⁻¹`` into ``Sinv`` of one symmetric ``S`` (k, k) by equilibrated Cholesky; returns ``(ok, ln|S|)``.

    ``D = diag(√S_ii)``, ``S̃ = D⁻¹ S D⁻¹ = L Lᵀ``, ``S⁻¹ = D⁻¹ L⁻ᵀ L⁻¹ D⁻¹``,
    ``ln|S| = 2 Σ ln L_ii + 2 Σ ln D_ii``.  ``L`` is work space (k, k);
    ``ok`` is False when a pivot is not positive (``Sinv`` is then garbage).
    """
    k = S.shape[0]
    logdet = 0.0
    dg = np.empty(k)
    for i in range(k):
        dg[i] = np.sqrt(max(S[i, i], _TINY))
        logdet += 2.0 * np.log(dg[i])
    for j in range(k):  # Cholesky–Banachiewicz on S̃
        for i in range(j, k):
            s = S[i, j] / (dg[i] * dg[j])
            for m in range(j):
                s -= L[i, m] * L[j, m]
            if i == j:
                if not s > 0.0:
                    return False, 0.0
                L[j, j] = np.sqrt(s)
                logdet += 2.0 * np.log(L[j, j])
            else:
                L[i, j] = s / L[j, j]
    # L⁻¹ by forward substitution, column by column.
    Li = np.zeros((k, k))
    for c in range(k):
        Li[c, c] = 1.0 / L[c, c]
        for i in range(c + 1, k):
            s = 0.0
            for m in range(c, i):
                s -= L[i, m] * Li[m, c]
            Li[i, c] = s / L[i, i]
    for i in range(k):  # S⁻¹ = D⁻¹ L⁻ᵀ L⁻¹ D⁻¹, symmetric by construction
        for j in range(i + 1):
            s = 0.0
            for m in range(i, k):
                s += Li[m, i] * Li[m, j]
            s /= dg[i] * dg[j]
            Sinv[i, j] = s
            Sinv[j, i] = s
    return True, logdet


@njit(cache=True, inline="always")
def _mahalanobis2(Sinv, nu):  # pragma: no cover - compiled
    """``d² = νᵀ S⁻¹ ν`` of one innovation ``nu`` (k,)."""
    q = 0.0
    for i in range(nu.shape[0]):
        s = 0.0
        for j in range(nu.shape[0]):
            s += Sinv[i, j] * nu[j]
        q += nu[i] * s
    return q


@njit(cache=True)
def _spd_inv_logdet_stack(S):  # pragma: no cover - compiled
    """:func:`_chol_inv_logdet` of each symmetrised matrix of a stack (N, k, k): ``(Sinv, logdet, ok)``."""
    N, k = S.shape[0], S.shape[1]
    Sinv = np.empty((N, k, k))
    logdet = np.empty(N)
    ok = np.empty(N, dtype=np.bool_)
    Ss = np.empty((k, k))
    L = np.empty((k, k))
    for n in range(N):
        for i in range(k):
            for j in range(k):
                Ss[i, j] = 0.5 * (S[n, i, j] + S[n, j, i])
        ok[n], logdet[n] = _chol_inv_logdet(Ss, Sinv[n], L)
    return Sinv, logdet, ok


def _repaired(S) -> np.ndarray:
    """``S`` (N, k, k) with the eigenvalues of its equilibrated form floored (:func:`_eig_floor`)."""
    S = symmetrize(S)
    dg = np.sqrt(np.maximum(np.diagonal(S, axis1=-2, axis2=-1), _TINY))
    outer = dg[..., :, None] * dg[..., None, :]
    return _eig_floor(S / outer) * outer


def spd_inv_logdet(S) -> tuple[np.ndarray, np.ndarray]:
    """Inverse and natural log-determinant of SPD matrices ``S`` (..., k, k), equilibrated Cholesky.

    A matrix that is not numerically positive definite (it can only come from
    round-off in a covariance that should be) is repaired by flooring its
    eigenvalues at 10⁻¹² of the largest before factorising.
    """
    S = np.asarray(S, dtype=float)
    shape = S.shape
    flat = np.ascontiguousarray(S.reshape((-1,) + shape[-2:]))
    Sinv, logdet, ok = _spd_inv_logdet_stack(flat)
    if not ok.all():
        bad = ~ok
        Sinv[bad], logdet[bad], _ = _spd_inv_logdet_stack(_repaired(flat[bad]))
    return Sinv.reshape(shape), logdet.reshape(shape[:-2])


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


def chi2_quantile(p: float, dof: float) -> float:
    """The ``p`` quantile of the chi-square distribution with ``dof`` degrees of freedom: ``2 P⁻¹(dof/2, p)``.

    ``P⁻¹`` is the inverse of the regularised lower incomplete gamma function
    (:func:`scipy.special.gammaincinv`): what ``scipy.stats.chi2.ppf``
    computes, to the bit, without importing ``scipy.stats``, which would be
    most of a study worker's start-up.
    """
    return float(2 * gammaincinv(dof / 2, p))


def gaussian_loglik(d2, logdet, k: int) -> np.ndarray:
    """``ln N(ν; 0, S) = -(d² + ln|S| + k ln 2π) / 2`` from ``d² = νᵀ S⁻¹ ν`` and ``ln|S|``."""
    return -0.5 * (np.asarray(d2) + np.asarray(logdet) + k * LOG_2PI)


@njit(cache=True)
def _kalman_stack(x, P, nu, H, R, Sinv_given, logdet_given, given):  # pragma: no cover - compiled
    """:func:`kalman_update` row by row; rows with ``given`` take ``S⁻¹``, ``ln|S|`` from the ``*_given`` arrays.

    Returns ``(x⁺, P⁺, d2, logdet, ok)``; ``ok`` is False where the
    Cholesky factorisation of ``S`` failed (the row is then to be redone with
    a repaired ``S⁻¹`` given).
    """
    n, d, k = x.shape[0], x.shape[1], nu.shape[1]
    xu = np.empty((n, d))
    Pu = np.empty((n, d, d))
    d2 = np.empty(n)
    logdet = np.empty(n)
    ok = np.ones(n, dtype=np.bool_)
    PHt = np.empty((d, k))
    S = np.empty((k, k))
    Sinv = np.empty((k, k))
    L = np.empty((k, k))
    K = np.empty((d, k))
    IKH = np.empty((d, d))
    A = np.empty((d, d))
    KR = np.empty((d, k))
    for r in range(n):
        for i in range(d):  # P Hᵀ
            for j in range(k):
                s = 0.0
                for m in range(d):
                    s += P[r, i, m] * H[r, j, m]
                PHt[i, j] = s
        for i in range(k):  # S = H P Hᵀ + R, symmetrised
            for j in range(k):
                s = 0.0
                for m in range(d):
                    s += H[r, i, m] * PHt[m, j]
                S[i, j] = s + R[r, i, j]
        for i in range(k):
            for j in range(i):
                S[i, j] = S[j, i] = 0.5 * (S[i, j] + S[j, i])
        if given[r]:
            Sinv[:, :] = Sinv_given[r]
            logdet[r] = logdet_given[r]
        else:
            ok[r], logdet[r] = _chol_inv_logdet(S, Sinv, L)
            if not ok[r]:
                continue
        for i in range(d):  # K = P Hᵀ S⁻¹
            for j in range(k):
                s = 0.0
                for m in range(k):
                    s += PHt[i, m] * Sinv[m, j]
                K[i, j] = s
        d2[r] = _mahalanobis2(Sinv, nu[r])
        for i in range(d):  # x⁺ = x + K ν
            s = x[r, i]
            for j in range(k):
                s += K[i, j] * nu[r, j]
            xu[r, i] = s
        for i in range(d):  # I - K H
            for j in range(d):
                s = 1.0 if i == j else 0.0
                for m in range(k):
                    s -= K[i, m] * H[r, m, j]
                IKH[i, j] = s
        for i in range(d):  # A = (I - K H) P
            for j in range(d):
                s = 0.0
                for m in range(d):
                    s += IKH[i, m] * P[r, m, j]
                A[i, j] = s
        for i in range(d):  # K R
            for j in range(k):
                s = 0.0
                for m in range(k):
                    s += K[i, m] * R[r, m, j]
                KR[i, j] = s
        for i in range(d):  # P⁺ = A (I - K H)ᵀ + K R Kᵀ, symmetrised
            for j in range(i + 1):
                s = 0.0
                for m in range(d):
                    s += A[i, m] * IKH[j, m]
                t = 0.0
                for m in range(d):
                    t += A[j, m] * IKH[i, m]
                u = 0.0
                for m in range(k):
                    u += KR[i, m] * K[j, m]
                v = 0.0
                for m in range(k):
                    v += KR[j, m] * K[i, m]
                Pu[r, i, j] = Pu[r, j, i] = 0.5 * ((s + u) + (t + v))
    return xu, Pu, d2, logdet, ok


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
    x = np.ascontiguousarray(x, dtype=float)
    n, k = x.shape[0], np.shape(nu)[-1]
    P = np.ascontiguousarray(P, dtype=float)
    nu = np.ascontiguousarray(nu, dtype=float)
    H = np.ascontiguousarray(H, dtype=float)
    R = np.ascontiguousarray(np.broadcast_to(np.asarray(R, dtype=float), (n, k, k)))
    xu, Pu, d2, logdet, ok = _kalman_stack(x, P, nu, H, R, np.empty((n, k, k)), np.empty(n), np.zeros(n, dtype=bool))
    if not ok.all():  # S not numerically positive definite: the repaired inverse (spd_inv_logdet)
        bad = np.flatnonzero(~ok)
        S = H[bad] @ P[bad] @ np.swapaxes(H[bad], -1, -2) + R[bad]
        Sinv, ld = spd_inv_logdet(S)
        fix = _kalman_stack(x[bad], P[bad], nu[bad], H[bad], R[bad], Sinv, ld, np.ones(bad.size, dtype=bool))
        xu[bad], Pu[bad], d2[bad], logdet[bad] = fix[:4]
    return xu, Pu, d2, logdet


@njit(cache=True)
def quad_block(u, P, o):  # pragma: no cover - compiled
    """``uᵀ P[o:o+3, o:o+3] u``: the variance along ``u`` (3,) of the 3-vector block of a state at ``o``."""
    s = 0.0
    for i in range(3):
        for j in range(3):
            s += u[i] * P[o + i, o + j] * u[j]
    return s
