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
from numba import njit

from tdome.geo import wrap_angle

_TWO_PI = 2.0 * np.pi


@njit(cache=True)
def _polar_stack(x, s, M, with_rdot):  # pragma: no cover - compiled; checked against the numpy form
    """``(z_pred, H)`` of :func:`measurement_model`, one state at a time (the equations there)."""
    n = x.shape[0]
    k = 4 if with_rdot else 3
    z = np.empty((n, k))
    H = np.zeros((n, k, 6))
    d = np.empty(3)
    w = np.empty(3)
    Hd = np.zeros((k, 3))
    for r in range(n):
        for i in range(3):
            d[i] = M[i, 0] * (x[r, 0] - s[0]) + M[i, 1] * (x[r, 1] - s[1]) + M[i, 2] * (x[r, 2] - s[2])
        e, nn, u = d[0], d[1], d[2]
        rho2 = max(e * e + nn * nn, 1e-6)
        rho = np.sqrt(rho2)
        r2 = rho2 + u * u
        rr = np.sqrt(r2)
        z[r, 0] = rr
        az = np.arctan2(e, nn) % _TWO_PI
        z[r, 1] = az
        z[r, 2] = np.arctan2(u, rho)
        for i in range(3):
            Hd[0, i] = d[i] / rr
        Hd[1, 0], Hd[1, 1], Hd[1, 2] = nn / rho2, -e / rho2, 0.0
        Hd[2, 0], Hd[2, 1], Hd[2, 2] = -e * u / (r2 * rho), -nn * u / (r2 * rho), rho / r2
        if with_rdot:
            for i in range(3):
                w[i] = M[i, 0] * x[r, 3] + M[i, 1] * x[r, 4] + M[i, 2] * x[r, 5]
            rdot = (d[0] * w[0] + d[1] * w[1] + d[2] * w[2]) / rr
            z[r, 3] = rdot
            for i in range(3):
                Hd[3, i] = (w[i] - rdot * d[i] / rr) / rr
        for a in range(k):  # ∂h/∂p = ∂h/∂d · M
            for j in range(3):
                H[r, a, j] = Hd[a, 0] * M[0, j] + Hd[a, 1] * M[1, j] + Hd[a, 2] * M[2, j]
        if with_rdot:  # ∂ṙ/∂v = ∂ṙ/∂w · M, ∂ṙ/∂w = ∂r/∂d
            for j in range(3):
                H[r, 3, 3 + j] = H[r, 0, j]
    return z, H


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
    x = np.ascontiguousarray(np.asarray(x, dtype=float)[:, :6])
    return _polar_stack(x, np.ascontiguousarray(site_ecef, dtype=float),
                        np.ascontiguousarray(enu_rot, dtype=float), bool(with_rdot))


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
        if x.shape[1] == 6:
            return z, H6
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
