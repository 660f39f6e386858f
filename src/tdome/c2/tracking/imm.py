"""Batched Interacting Multiple Model (IMM) filter.

Interface (:class:`IMM`, a set of motion models and their switching; used by
:mod:`tdome.c2.tracking.estimator_imm`)::

    imm.initial_state(x, P)                     -> (xm, Pm, mu)
    imm.predict(xm, Pm, mu, dt)                 -> (xm⁻, Pm⁻, mu⁻)       mixing and model-matched prediction
    imm.update(xm, Pm, mu, z, R, measure)       -> (xm⁺, Pm⁺, mu⁺, ln Λ) (iterated) EKF, or UKF (unscented=True)
    imm.update_pda(xm, Pm, mu, track, z, R, β, β₀, measure) -> (xm⁺, Pm⁺, mu⁺)   IMM-(J)PDA: every plot weighed
    imm.score(xm, Pm, mu, z, R, measure)        -> (ln Λ, d² per model)  association without updating
    score_models(...)                           -> (ln Λ, d², ln|S| per model)
    in_gate(ln Λ, mu, ln|S|, γ, k)              -> bool                  the model-probability-weighted gate
    combine(xm, Pm, mu)                         -> (x, P)                moment matching

Each track carries ``r`` model-conditioned estimates over the common 9-D
state of :mod:`tdome.c2.tracking.models` and the probabilities of the models::

    xm (n, r, 9),   Pm (n, r, 9, 9),   mu (n, r)

One cycle (Blom & Bar-Shalom 1988; BLK §11.6.6) is

1. **Mixing** with the Markov transition matrix ``Π(Δ)`` (``π_ij`` = P(model
   j at k+1 | model i at k))::

       c_j      = Σ_i π_ij μ_i                     (predicted model probability)
       μ_{i|j}  = π_ij μ_i / c_j
       x0_j     = Σ_i μ_{i|j} x_i
       P0_j     = Σ_i μ_{i|j} [P_i + (x_i - x0_j)(x_i - x0_j)ᵀ]

2. **Model-matched prediction** of ``(x0_j, P0_j)`` by model j
   (:meth:`IMM.predict` does 1 and 2).
3. **Model-matched update** with the plot (EKF or iterated EKF, Joseph
   form; :mod:`tdome.c2.tracking.ekf`), each model's
   likelihood ``Λ_j = N(ν_j; 0, S_j)``, and the new probabilities
   ``μ_j = Λ_j c_j / Σ_l Λ_l c_l`` (:func:`update`).  The track's
   measurement likelihood ``Σ_j c_j Λ_j`` (returned as its logarithm) is the
   score of the plot for association.
4. **Combination** (moment matching) for output::

       x = Σ_j μ_j x_j,    P = Σ_j μ_j [P_j + (x_j - x)(x_j - x)ᵀ]

Markov transition matrix from sojourn times
-------------------------------------------
Revisit intervals vary (1 s to tens of seconds, and per track), so the
switching is specified in continuous time: model i is left at rate ``1/τ_i``
(``τ_i`` its mean sojourn time, s) for model j with probability ``s_ij``
(``Σ_{j≠i} s_ij = 1``, uniform by default).  The generator
``Λ_ii = -1/τ_i``, ``Λ_ij = s_ij / τ_i`` gives

    Π(Δ) = exp(Λ |Δ|)

which holds for any revisit, composes (``Π(a) Π(b) = Π(a + b)``) and
includes multiple switches within a long interval (for Δ ≪ τ it reduces to
the familiar ``π_ii ≈ 1 - Δ/τ_i``; BLK §11.6.7, Blackman & Popoli §4.5).

Gating
------
A single Gaussian's gate (``d² ≤ γ``, γ from the gate probability) has two
mixture versions, and neither serves alone:

- the *union* of the model-matched gates (``min_j d²_j ≤ γ``) keeps the
  plots of a manoeuvre's onset, which the moment-matched gate loses (on a
  6 g turn at 250 m/s, 50 tracks, 99.99 % gate, plots σ 20 m / 1 mrad at
  30-45 km: the combined gate lost 4 of 3,950 plots at 1 s revisits and 38
  of 950 at 4 s, the union none).  But it gives a model of probability 0.1
  the same say as one of 0.8, and after missed scans the widest model's gate
  grows fastest: on airliners at 4 s revisits the former Wiener-acceleration
  model (position σ 1.3 km after one miss, 3.5 km after two) made it 6-16 km
  wide, and GNN, which has no "no plot" choice, gave the tracks clutter.
- the *model-probability-weighted* gate (:func:`in_gate`) is the region
  where the mixture density ``Σ_j μ_j N(ν_j; 0, S_j)`` is at least that of
  the most probable model ``j*`` at its gate edge, ``μ_j* N(d² = γ; S_j*)``.
  It contains ``j*``'s own gate, and model j's only about where
  ``d²_j ≤ γ − ln(|S_j|/|S_j*|) − 2 ln(μ_j*/μ_j)``: a wide, improbable model
  adds little.  But it is blind to onsets.

:class:`~tdome.c2.tracking.estimator_imm.IMMEstimator` takes a plot inside
the weighted gate, or inside the union while the track is fresh (about one
revisit since its last plot, when every model's spread is one revisit's).
Measured on the flight profiles of :mod:`tdome.world.flight_profiles`
(benchmarks/tracking_imm.py, 4 s revisits, 5 clutter plots a scan): the
weighted gate alone broke fighter tracks, the union alone took clutter
after misses; together they keep airliners' tracks as clean as CV's and
fighters' tracks whole.

References
----------
- R. A. Singer, "Estimating optimal tracking filter performance for manned
  maneuvering targets", IEEE T-AES 6(4), 1970 (the manoeuvre model).
- H. A. P. Blom, E. A. Bloem, "Probabilistic data association avoiding track
  coalescence", IEEE T-AC 45(2), 2000 (the IMM-JPDA's per-model events).
- H. A. P. Blom, Y. Bar-Shalom, "The interacting multiple model algorithm for
  systems with Markovian switching coefficients", IEEE T-AC 33(8), 1988.
- Y. Bar-Shalom, X. R. Li, T. Kirubarajan, *Estimation with Applications to
  Tracking and Navigation*, Wiley 2001 (BLK), §11.6.
- S. Blackman, R. Popoli, *Design and Analysis of Modern Tracking Systems*,
  Artech House 1999, §4.5.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.linalg import expm
from scipy.special import logsumexp

from tdome.c2.tracking.ekf import measurement_update
from tdome.c2.tracking.gaussian import LOG_2PI, gaussian_loglik, spd_inv_logdet, symmetrize
from tdome.c2.tracking.jpda import pda_update
from tdome.c2.tracking.measurements import wrapped_residual
from tdome.c2.tracking.ukf import ukf_update


def generator(sojourn_s, switch=None) -> np.ndarray:
    """Generator ``Λ`` (r, r) of the model-switching chain from mean sojourn times ``τ_i`` (s).

    ``switch`` (r, r): where model i goes when it is left (diagonal ignored,
    rows normalised); default uniform over the other models.
    """
    tau = np.atleast_1d(np.asarray(sojourn_s, dtype=float))
    if tau.ndim != 1 or np.any(~(tau > 0)):
        raise ValueError(f"sojourn times must be positive seconds, got {sojourn_s!r}")
    r = tau.shape[0]
    if r == 1:
        return np.zeros((1, 1))
    s = np.ones((r, r)) if switch is None else np.array(switch, dtype=float)
    if s.shape != (r, r) or np.any(s < 0):
        raise ValueError(f"switch must be a non-negative ({r}, {r}) matrix")
    np.fill_diagonal(s, 0.0)
    rows = s.sum(axis=1, keepdims=True)
    if np.any(rows <= 0):
        raise ValueError("every model needs somewhere to switch to (a row of switch is all zero)")
    L = s / rows / tau[:, None]
    np.fill_diagonal(L, -1.0 / tau)
    return L


def transition_matrix(dt_s, sojourn_s, switch=None) -> np.ndarray:
    """Markov transition matrices ``Π(Δ) = exp(Λ|Δ|)`` (n, r, r) for per-track steps ``dt_s`` (n,)."""
    L = generator(sojourn_s, switch)
    dt = np.abs(np.atleast_1d(np.asarray(dt_s, dtype=float)))
    if dt.size == 0:
        return np.empty((0,) + L.shape)
    u, inv = np.unique(dt, return_inverse=True)
    # Π(Δ) = V exp(DΔ) V⁻¹ from one eigendecomposition of Λ (r × r): tracks
    # updated by different radars have as many distinct steps as tracks, so
    # a matrix exponential per step would dominate the cycle.  A defective or
    # ill-conditioned Λ falls back to the exponential per step.
    w, V = np.linalg.eig(L)
    if np.linalg.cond(V) < 1e8:
        Pi = np.real(np.einsum("ij,nj,jk->nik", V, np.exp(u[:, None] * w[None, :]), np.linalg.inv(V)))
    else:
        Pi = expm(u[:, None, None] * L)
    Pi = np.clip(Pi, 0.0, None)
    return (Pi / Pi.sum(axis=-1, keepdims=True))[inv.reshape(-1)]


def mix(xm, Pm, mu, Pi):
    """IMM mixing (step 1): ``(x0, P0, c)`` with mixed states (n, r, d), covariances (n, r, d, d), ``c`` (n, r)."""
    xm = np.asarray(xm, dtype=float)
    Pm = np.asarray(Pm, dtype=float)
    mu = np.asarray(mu, dtype=float)
    joint = Pi * mu[:, :, None]  # (n, i, j): π_ij μ_i
    c = joint.sum(axis=1)
    w = joint / np.maximum(c, np.finfo(float).tiny)[:, None, :]  # μ_{i|j}
    x0 = np.einsum("nij,nid->njd", w, xm)
    dx = xm[:, :, None, :] - x0[:, None, :, :]  # (n, i, j, d)
    P0 = np.einsum("nij,nide->njde", w, Pm) + np.einsum("nij,nijd,nije->njde", w, dx, dx)
    return x0, symmetrize(P0), c


def combine(xm, Pm, mu):
    """Moment-matched single Gaussian ``(x, P)`` (n, d), (n, d, d) of the model-conditioned mixture."""
    xm = np.asarray(xm, dtype=float)
    Pm = np.asarray(Pm, dtype=float)
    mu = np.asarray(mu, dtype=float)
    x = np.einsum("nj,njd->nd", mu, xm)
    dx = xm - x[:, None, :]
    P = np.einsum("nj,njde->nde", mu, Pm) + np.einsum("nj,njd,nje->nde", mu, dx, dx)
    return x, symmetrize(P)


def _flat_measure(xm, z, R, measure, angles):
    """Predicted measurements of all model states, residuals and noise, flattened to (n·r, ...)."""
    n, r, d = xm.shape
    z = np.atleast_2d(np.asarray(z, dtype=float))
    xf = xm.reshape(n * r, d)
    z_pred, H = measure(xf)
    k = z_pred.shape[1]
    if angles is None:
        angles = getattr(measure, "angle_components", ())
    nu = wrapped_residual(np.repeat(z, r, axis=0), z_pred, angles)
    R = np.asarray(R, dtype=float)
    Rf = np.repeat(R, r, axis=0) if R.ndim == 3 else np.broadcast_to(R, (n * r, k, k))
    return xf, nu, H, Rf, k


def update_models(xm, Pm, z, R, measure, angles=None, iterations: int = 1, unscented: bool = False):
    """(Iterated) EKF, or UKF, update of every model of every track with the track's plot.

    ``z`` (n, k), ``R`` (n, k, k) or (k, k); ``measure(x) -> (z_pred, H)`` on
    (m, d) states; ``iterations`` > 1 relinearises about the updated state
    (:func:`tdome.c2.tracking.ekf.measurement_update`); ``unscented`` updates
    by the UKF instead (:func:`tdome.c2.tracking.ukf.ukf_update`, with
    ``measure.h``), whose innovation and its covariance give the likelihood.
    Returns ``(xm⁺, Pm⁺, d2, loglik)`` with the normalised innovation squared
    and the Gaussian log-likelihood of each model's prediction (n, r).
    """
    xm = np.asarray(xm, dtype=float)
    n, r, d = xm.shape
    z = np.atleast_2d(np.asarray(z, dtype=float))
    R = np.asarray(R, dtype=float)
    Rf = np.repeat(R, r, axis=0) if R.ndim == 3 else R
    xf, Pf, zf = xm.reshape(n * r, d), np.asarray(Pm, dtype=float).reshape(n * r, d, d), np.repeat(z, r, axis=0)
    if unscented:
        if angles is None:
            angles = getattr(measure, "angle_components", ())
        Rf = np.broadcast_to(Rf, (n * r,) + Rf.shape[-2:]) if Rf.ndim == 2 else Rf
        xu, Pu, S, nu = ukf_update(xf, Pf, zf, Rf, measure.h, angles)
        Sinv, logdet = spd_inv_logdet(S)
        d2 = np.einsum("ni,nij,nj->n", nu, Sinv, nu)
    else:
        xu, Pu, d2, logdet = measurement_update(xf, Pf, zf, Rf, measure, angles, iterations)
    ll = gaussian_loglik(d2, logdet, z.shape[1])
    return xu.reshape(n, r, d), Pu.reshape(n, r, d, d), d2.reshape(n, r), ll.reshape(n, r)


def _posterior(mu, ll):
    log_joint = np.log(np.maximum(np.asarray(mu, dtype=float), 1e-300)) + ll
    total = logsumexp(log_joint, axis=1)
    return np.exp(log_joint - total[:, None]), total


def update(xm, Pm, mu, z, R, measure, angles=None, iterations: int = 1, unscented: bool = False):
    """IMM update (step 3) with one plot per track.

    ``xm`` (n, r, d), ``Pm`` (n, r, d, d), ``mu`` (n, r) predicted (from
    :meth:`IMM.predict`), ``z`` (n, k), ``R`` (n, k, k) or (k, k),
    ``measure(x) -> (z_pred, H)`` on (m, d) states, ``angles`` the angle
    columns of ``z`` (default ``measure.angle_components``), ``iterations``
    of the (iterated) EKF, or the UKF (``unscented``).

    Returns ``(xm⁺, Pm⁺, mu⁺, loglik)`` where ``loglik`` (n,) is
    ``ln Σ_j c_j N(ν_j; 0, S_j)``, the log-likelihood of the plot under the
    track's predicted mixture.
    """
    xu, Pu, _, ll = update_models(xm, Pm, z, R, measure, angles, iterations, unscented)
    mu_u, total = _posterior(mu, ll)
    return xu, Pu, mu_u, total


def update_pda(xm, Pm, mu, track, z, R, beta, beta0, measure, angles=None):
    """IMM–(J)PDA update: every model of each track weighs all the plots in the track's gate.

    ``xm`` (n, r, d), ``Pm`` (n, r, d, d), ``mu`` (n, r) predicted; per pair
    ``e``: ``track`` (p,) its track, ``z`` (p, k), ``R`` (p, k, k), ``beta``
    (p,) the probability that the plot is the track's; ``beta0`` (n,) that
    none is (``β₀ + Σ_e β_e = 1``), computed, as :meth:`IMMEstimator.gate
    <tdome.c2.tracking.estimator_imm.IMMEstimator.gate>` scores the pairs,
    from the mixture likelihood ``L_e = Σ_j μ_j N_ej`` (``N_ej = N(ν_ej; 0,
    S_ej)``, model j's EKF innovation of plot e).  Splitting each event by
    model (Blom & Bloem 2000, the IMM-JPDA's per-track approximation):
    ``P(plot e, model j | Z) = β_e μ_j N_ej / L_e``, ``P(no plot, model j | Z) =
    β₀ μ_j``, so::

        Λ_j    = β₀ + Σ_e β_e N_ej / L_e          μ_j⁺ = μ_j Λ_j   (Σ_j μ_j Λ_j = 1)
        β_ej   = β_e N_ej / (L_e Λ_j),           β_0j = β₀ / Λ_j

    and each model takes the PDA update (:func:`~tdome.c2.tracking.jpda.pda_update`)
    with its own ``β_ej``, ``β_0j``.  With one plot and ``β₀ = 0`` this is
    :func:`update`'s EKF step.  Returns ``(xm⁺, Pm⁺, mu⁺)``.
    """
    xm = np.asarray(xm, dtype=float)
    Pm = np.asarray(Pm, dtype=float)
    mu = np.asarray(mu, dtype=float)
    _, r, d = xm.shape
    track = np.asarray(track, dtype=np.intp)
    p = track.size
    if angles is None:
        angles = getattr(measure, "angle_components", ())
    z_pred, H = measure(xm[track].reshape(p * r, d))
    k = z_pred.shape[1]
    R = np.broadcast_to(np.asarray(R, dtype=float), (p, k, k))
    nu = wrapped_residual(np.repeat(np.atleast_2d(z), r, axis=0), z_pred, angles).reshape(p, r, k)
    H = H.reshape(p, r, k, d)
    S = H @ Pm[track] @ np.swapaxes(H, -1, -2) + R[:, None]
    Sinv, logdet = spd_inv_logdet(S)
    ll = gaussian_loglik(np.einsum("prk,prkl,prl->pr", nu, Sinv, nu), logdet, k)  # (p, r)
    log_l = logsumexp(np.log(np.maximum(mu[track], 1e-300)) + ll, axis=1)
    w = np.exp(ll - log_l[:, None])  # N_ej / L_e
    lam = np.asarray(beta0, dtype=float)[:, None].repeat(r, axis=1)
    np.add.at(lam, track, np.asarray(beta, dtype=float)[:, None] * w)
    mu_u = mu * lam
    mu_u /= np.maximum(mu_u.sum(axis=1, keepdims=True), 1e-300)
    xu, Pu = xm.copy(), Pm.copy()
    for j in range(r):
        lam_j = np.maximum(lam[:, j], 1e-300)
        xu[:, j], Pu[:, j] = pda_update(xm[:, j], Pm[:, j], track, nu[:, j], H[:, j], R,
                                        beta * w[:, j] / lam_j[track], np.asarray(beta0, dtype=float) / lam_j)
    return xu, Pu, mu_u


def score_models(xm, Pm, mu, z, R, measure, angles=None):
    """:func:`score` with each model's ``ln|S_j|`` (n, r) too: ``(loglik (n,), d2 (n, r), logdet (n, r))``."""
    xm = np.asarray(xm, dtype=float)
    n, r, d = xm.shape
    _xf, nu, H, Rf, k = _flat_measure(xm, z, R, measure, angles)
    Pf = np.asarray(Pm, dtype=float).reshape(n * r, d, d)
    S = H @ Pf @ np.swapaxes(H, -1, -2) + Rf
    Sinv, logdet = spd_inv_logdet(S)
    d2 = np.einsum("ni,nij,nj->n", nu, Sinv, nu)
    ll = gaussian_loglik(d2, logdet, k).reshape(n, r)
    return _posterior(mu, ll)[1], d2.reshape(n, r), logdet.reshape(n, r)


def score(xm, Pm, mu, z, R, measure, angles=None):
    """Association score of plots without updating: ``(loglik (n,), d2 (n, r))``.

    ``loglik`` is the mixture log-likelihood of :func:`update`, ``d2`` each
    model's normalised innovation squared.  Rows are (track, plot) pairs:
    index ``xm``, ``Pm``, ``mu`` by the pairs' tracks.  Whether the plot is
    in the track's gate is :func:`in_gate`'s question.
    """
    loglik, d2, _ = score_models(xm, Pm, mu, z, R, measure, angles)
    return loglik, d2


def in_gate(loglik, mu, logdet, gamma: float, k: int) -> np.ndarray:
    """The model-probability-weighted gate: is the mixture density of the plot at least that of the main gate's edge?

    With ``j*`` the most probable model, a plot is in the gate when
    ``Σ_j μ_j N(ν_j; 0, S_j) ≥ μ_j* N(d² = γ; S_j*)``, i.e. when its GNN cost
    ``-2 ln Σ_j μ_j N_j - k ln 2π`` is at most ``γ + ln|S_j*| − 2 ln μ_j*``
    (module docstring, Gating).  ``loglik`` (n,), ``mu`` and ``logdet``
    (n, r) of the pairs as :func:`score_models` gives them.
    """
    mu = np.asarray(mu, dtype=float)
    rows = np.arange(mu.shape[0])
    j = np.argmax(mu, axis=1)
    edge = np.log(mu[rows, j]) - 0.5 * (k * LOG_2PI + np.asarray(logdet)[rows, j] + gamma)
    return np.asarray(loglik) >= edge


def predicted_measurement(xm, Pm, mu, R, measure):
    """Measurement prediction ``(z_pred (n, k), S (n, k, k))`` of the combined (moment-matched) state."""
    x, P = combine(xm, Pm, mu)
    z_pred, H = measure(x)
    S = H @ P @ np.swapaxes(H, -1, -2) + R
    return z_pred, symmetrize(S)


def initial_state(x, P, mu0):
    """Start IMM tracks from single estimates ``x`` (n, d), ``P`` (n, d, d): every model gets the same.

    ``mu0`` (r,) or (n, r) are the initial model probabilities.
    """
    x = np.asarray(x, dtype=float)
    P = np.asarray(P, dtype=float)
    mu0 = np.asarray(mu0, dtype=float)
    r = mu0.shape[-1]
    mu = np.broadcast_to(mu0 / mu0.sum(axis=-1, keepdims=True), (x.shape[0], r)).copy()
    xm = np.repeat(x[:, None], r, axis=1)
    Pm = np.repeat(P[:, None], r, axis=1)
    return xm, Pm, mu


class IMM:
    """An IMM configuration: motion models (each with ``predict(x, P, dt) -> (x, P)``) and sojourn times.

    Parameters
    ----------
    models : sequence of motion models over the same state (see
        :mod:`tdome.c2.tracking.models`).
    sojourn_s : (r,) mean sojourn time of each model (s).
    switch : optional (r, r) destination weights when a model is left.
    mu0 : optional (r,) model probabilities of a new track (default: uniform).
    iterations : EKF iterations of the update (1: EKF; 2-3: iterated EKF,
        worth it for long revisits of manoeuvring targets).

    :meth:`air_breathing` and :meth:`ballistic_missile` build the recommended
    configurations.
    """

    def __init__(self, models: Sequence, sojourn_s, switch=None, mu0=None, iterations: int = 1):
        self.models = list(models)
        r = len(self.models)
        self.sojourn_s = np.asarray(sojourn_s, dtype=float)
        if self.sojourn_s.shape != (r,):
            raise ValueError(f"need one sojourn time per model ({r}), got {sojourn_s!r}")
        self.switch = None if switch is None else np.asarray(switch, dtype=float)
        generator(self.sojourn_s, self.switch)  # validate once
        self.mu0 = np.full(r, 1.0 / r) if mu0 is None else np.asarray(mu0, dtype=float)
        if self.mu0.shape != (r,) or np.any(self.mu0 < 0) or not self.mu0.sum() > 0:
            raise ValueError(f"mu0 must be {r} non-negative probabilities, got {mu0!r}")
        self.mu0 = self.mu0 / self.mu0.sum()
        if int(iterations) < 1:
            raise ValueError(f"iterations must be at least 1, got {iterations!r}")
        self.iterations = int(iterations)

    @classmethod
    def air_breathing(cls, iterations: int = 2) -> IMM:
        """CV + coordinated turn + Singer manoeuvre model for aircraft, cruise missiles and drones.

        ============  ==============================  ============  ======
        model         process noise                   sojourn (s)   μ₀
        ============  ==============================  ============  ======
        CV            q = 1 m²/s³ (σ_a ≈ 1 m/s²)       20            0.8
        CT            q = 4 m²/s⁵                     10            0.1
        SA (Singer)   σ_m = 40 m/s², τ = 5 s          5             0.1
        ============  ==============================  ============  ======

        CV is the cruise model (σ_a of 1 m/s² over 1 s); CT carries sustained
        turns with little noise because it knows their dynamics (q = 4: the
        acceleration may drift by 2 m/s² per second within a turn; onsets and
        reversals are the manoeuvre model's), so that its white-jerk spread,
        which grows without bound while a track coasts, stays below a CV
        track's (on holdings, q = 25 let coasting tracks take clutter); SA is
        the short-lived manoeuvre model (onsets, reversals, weaves, pull-ups).  Its acceleration is bounded by what
        airframes pull: Singer's rule ``σ_m² = a_max²(1 + 4P_max − P_0)/3``
        with ``a_max`` = 8 g (fighters and cruise missiles), ``P_max`` = 0.1
        and ``P_0`` = 0.5 gives 43 m/s²; ``τ`` = 5 s is how long a manoeuvre
        holds before the turn model takes it over or it ends.  It replaces a
        Wiener-process CA model (q = 1000 m²/s⁵) whose variance grew without
        bound over missed scans (σ_a ≈ 90 m/s² and a position σ of 1.3 km
        after one missed 4 s scan, 3.5 km after two) and whose acceleration
        estimate, fed a clutter plot, drove coasting tracks to km/s.
        Sojourn times: aircraft cruise for tens of seconds, turn for ~10 s,
        and onsets last seconds.  Checked on a 6 g, 243° turn at 250 m/s with
        1 s revisits (tests/test_filters_models.py) and on the flight
        profiles of :mod:`tdome.world.flight_profiles`
        (tests/test_tracking_imm.py, benchmarks/tracking_imm.py).
        """
        from tdome.c2.tracking.models import ConstantVelocity, CoordinatedTurn, Singer

        return cls([ConstantVelocity(q=1.0), CoordinatedTurn(q=4.0), Singer(sigma_mps2=40.0, tau_s=5.0)],
                   [20.0, 10.0, 5.0], mu0=[0.8, 0.1, 0.1], iterations=iterations)

    @classmethod
    def ballistic_missile(cls, iterations: int = 2) -> IMM:
        """CA (boost, drag, manoeuvring re-entry) + ballistic (coast) for rockets and ballistic missiles.

        ============  ==========================  ============  ======
        model         process noise               sojourn (s)   μ₀
        ============  ==========================  ============  ======
        CA            q = 10 m²/s⁵                30            0.5
        Ballistic     q = 1 m²/s³, σ_a = 0.5 m/s²  120           0.5
        ============  ==========================  ============  ======

        Thrust varies slowly within a stage (jerk ~ 1-3 m/s³), so CA needs
        little jerk noise; burnout is a step that the ballistic model takes
        over within 3-4 scans at 1 s revisits.  The ballistic model's 1 m/s²
        (over 1 s) absorbs what vacuum free flight misses above ~40 km
        (residual drag, thrust tail-off); low in the atmosphere drag grows to
        tens of m/s² and the CA model takes the track.  Boost lasts ~1 min,
        coast several minutes.  Checked on a 5 g boost to free flight with
        1 s revisits (tests/test_filters_models.py).
        """
        from tdome.c2.tracking.models import Ballistic, ConstantAcceleration

        return cls([ConstantAcceleration(q=10.0), Ballistic(q=1.0, accel_sigma_mps2=0.5)], [30.0, 120.0],
                   mu0=[0.5, 0.5], iterations=iterations)

    @property
    def names(self) -> list[str]:
        return [getattr(m, "name", type(m).__name__) for m in self.models]

    def transition(self, dt_s) -> np.ndarray:
        """``Π(Δ)`` (n, r, r)."""
        return transition_matrix(dt_s, self.sojourn_s, self.switch)

    def initial_state(self, x, P):
        """New tracks ``(xm, Pm, mu)`` from single estimates ``x`` (n, d), ``P`` (n, d, d), probabilities ``mu0``."""
        return initial_state(x, P, self.mu0)

    def predict(self, xm, Pm, mu, dt_s):
        """Mixing and model-matched prediction by per-track ``dt_s`` (n,): returns ``(xm⁻, Pm⁻, mu⁻)``.

        ``mu⁻ = c`` are the predicted model probabilities.  With ``dt_s = 0``
        the chain does not move (``Π = I``) and nothing is mixed.
        """
        xm = np.asarray(xm, dtype=float)
        n = xm.shape[0]
        dt = np.broadcast_to(np.asarray(dt_s, dtype=float), (n,))
        x0, P0, c = mix(xm, Pm, mu, self.transition(dt))
        xp = np.empty_like(x0)
        Pp = np.empty_like(P0)
        for j, model in enumerate(self.models):  # loop over the r models, each batched over tracks
            xp[:, j], Pp[:, j] = model.predict(x0[:, j], P0[:, j], dt)
        return xp, Pp, c

    def update(self, xm, Pm, mu, z, R, measure, angles=None, unscented: bool = False):
        """:func:`update` with this configuration's EKF iterations (or the UKF): ``(xm⁺, Pm⁺, mu⁺, loglik)``."""
        return update(xm, Pm, mu, z, R, measure, angles, self.iterations, unscented)

    update_pda = staticmethod(update_pda)

    combine = staticmethod(combine)
    score = staticmethod(score)
    score_models = staticmethod(score_models)
    predicted_measurement = staticmethod(predicted_measurement)
