"""Measurement models for filters over 9-D (or 6-D) ECEF states.

A measurement model is a callable ``measure(x) -> (z_pred, H)`` that maps a
batch of states ``x`` (n, d) to predicted measurements (n, k) and their
Jacobians ``H = ∂h/∂x`` (n, k, d), with an attribute ``angle_components``:
the measurement columns that are angles, whose residuals are wrapped to
(-π, π].  Its method ``h(x)`` returns the predicted measurements alone (for
sigma-point filters).  The same object serves the EKF, the UKF and every
model of an IMM.

- :class:`PolarRadar`: range, azimuth, elevation (and optionally range rate)
  from a radar site, the 6-D model of
  :func:`tdome.c2.tracking.filters.measurement_model` with zero columns for
  the acceleration components.
- :class:`CartesianPosition`: ``z = p``, ``H = [I 0 0]`` (converted plots,
  fused positions).
"""

from __future__ import annotations

import numpy as np

from tdome.c2.tracking.filters import measurement_model
from tdome.geo import wrap_angle


class PolarRadar:
    """``h(x) = [r, az, el (, ṙ)]`` seen from a radar at ``site_ecef`` with ECEF→ENU rotation ``enu_rot``.

    Azimuth (column 1) is in [0, 2π) and is wrapped in residuals.  See
    :func:`tdome.c2.tracking.filters.measurement_model` for the equations
    and the Jacobian.
    """

    angle_components = (1,)

    def __init__(self, site_ecef, enu_rot, with_rdot: bool = False):
        self.site_ecef = np.asarray(site_ecef, dtype=float)
        self.enu_rot = np.asarray(enu_rot, dtype=float)
        self.with_rdot = bool(with_rdot)

    @classmethod
    def from_site(cls, site, with_rdot: bool | None = None) -> "PolarRadar":
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
