"""Measurement models: what a radar or a Cartesian feed would see of a state.

Interface.  A measurement model is a callable ``measure(x) -> (z_pred, H)``
that maps a batch of states ``x`` (n, d) to predicted measurements (n, k)
and their Jacobians ``H = ∂h/∂x`` (n, k, d), with an attribute
``angle_components``: the measurement columns that are angles, whose
residuals are wrapped to (-π, π].  Its method ``h(x)`` returns the predicted
measurements alone (for sigma-point filters).  The same object serves the
EKF, the UKF and every model of an IMM, over 6-D or 9-D ECEF states.

- :class:`PolarRadar`: range, azimuth, elevation (and optionally range rate)
  from a radar site, the 6-D model of :func:`measurement_model` with zero
  columns for the acceleration components.
- :class:`CartesianPosition`: ``z = p``, ``H = [I 0 0]`` (converted plots,
  fused positions).

Radar measurement model
-----------------------
A radar at ECEF position ``s`` with ECEF→ENU rotation ``M`` measures the
target at ``p`` through the ENU line of sight ``d = M (p - s) = (e, n, u)``::

    h(x) = [ r, az, el (, ṙ) ]
    r   = |d|,  az = atan2(e, n) ∈ [0, 2π),  el = atan2(u, ρ),  ρ = √(e² + n²)
    ṙ   = d·(M v) / r

and the EKF (BLK §10.3) is run in that measurement space with the analytic
Jacobian ``H = ∂h/∂x`` of :func:`measurement_model`.  Azimuth residuals are
wrapped to (-π, π] (:func:`wrapped_residual`).
"""

from __future__ import annotations

import numpy as np

from tdome.geo import wrap_angle


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


class PolarRadar:
    """``h(x) = [r, az, el (, ṙ)]`` seen from a radar at ``site_ecef`` with ECEF→ENU rotation ``enu_rot``.

    Azimuth (column 1) is in [0, 2π) and is wrapped in residuals.  See
    :func:`measurement_model` for the equations
    and the Jacobian.
    """

    angle_components = (1,)

    def __init__(self, site_ecef, enu_rot, with_rdot: bool = False):
        self.site_ecef = np.asarray(site_ecef, dtype=float)
        self.enu_rot = np.asarray(enu_rot, dtype=float)
        self.with_rdot = bool(with_rdot)

    @classmethod
    def from_site(cls, site, with_rdot: bool | None = None) -> PolarRadar:
        """From a :class:`tdome.messages.SensorSite`; range rate if the site reports it (unless overridden)."""
        if with_rdot is None:
            with_rdot = site.sigma_rdot_mps is not None
        return cls(site.ecef, site.enu_rot, with_rdot)

    @property
    def dim(self) -> int:
        return 4 if self.with_rdot else 3

    def __call__(self, x):
        x = np.asarray(x, dtype=float)
        z, H6 = measurement_model(x[:, :6], self.site_ecef, self.enu_rot, self.with_rdot)
        H = np.zeros((x.shape[0], z.shape[1], x.shape[1]))
        H[:, :, :6] = H6
        return z, H

    def h(self, x):
        """Predicted measurements (m, k) of states (m, d)."""
        return measurement_model(np.asarray(x, dtype=float)[:, :6], self.site_ecef, self.enu_rot,
                                 self.with_rdot)[0]


class CartesianPosition:
    """Linear position measurement ``z = p``, ``H = [I₃ 0 …]``."""

    angle_components = ()
    dim = 3

    def __call__(self, x):
        x = np.asarray(x, dtype=float)
        H = np.zeros((x.shape[0], 3, x.shape[1]))
        H[:, np.arange(3), np.arange(3)] = 1.0
        return x[:, :3].copy(), H

    def h(self, x):
        """Predicted measurements (m, 3) of states (m, d)."""
        return np.asarray(x, dtype=float)[:, :3].copy()


def wrapped_residual(z, z_pred, angle_components=()) -> np.ndarray:
    """``z - z_pred`` with the given columns wrapped to (-π, π]."""
    nu = np.asarray(z, dtype=float) - np.asarray(z_pred, dtype=float)
    for j in angle_components:
        nu[..., j] = wrap_angle(nu[..., j])
    return nu


def diagonal_noise(sigma) -> np.ndarray:
    """Measurement covariances ``diag(σ²)`` (n, k, k) from 1-σ errors ``sigma`` (n, k) or (k,)."""
    s = np.atleast_2d(np.asarray(sigma, dtype=float))
    R = np.zeros(s.shape + (s.shape[-1],))
    idx = np.arange(s.shape[-1])
    R[:, idx, idx] = s * s
    return R
