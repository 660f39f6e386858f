"""One scan's plots, in its measurement space and converted to ECEF.

Interface::

    ScanPlots.from_scan(scan, site, false_alarm_density_m3, max_speed_mps) -> ScanPlots
    plots.z, plots.R            measurements (m, k) and their covariances, the space the filters update in
    plots.pos, plots.cov        the same plots as ECEF positions (m, 3) and covariances, for the
                                k-d tree prefilter, two-point initiation and new tracks
    plots.measure               the measurement model (:mod:`tdome.c2.tracking.measurements`)
    plots.clutter               false-plot density of each plot in its measurement space (JPDA, score)

A radar scan (:class:`~tdome.messages.Detections`) measures range, azimuth,
elevation and possibly range rate, with ``R = diag(σ²)``; a Cartesian feed
(:class:`~tdome.messages.PositionPlots`) gives ECEF positions with full
covariances, so ``z`` is the position itself.

Plot conversion
---------------
``p = s + Mᵀ enu(r, az, el)`` and ``C = Mᵀ J diag(σ_r², σ_az², σ_el²) Jᵀ M``
with ``J = ∂(e, n, u)/∂(r, az, el)`` (:func:`razel_jacobian`): the standard
linearised converted measurement (BLK §10.4.3; the conversion bias
~ r σ_θ² / 2 is ignored).

Clutter density in measurement space
------------------------------------
A volume element in (range, azimuth, elevation) is ``dV = r² cos(el) dr daz
del``, so a Cartesian density λ (m⁻³) is ``λ r² cos(el)`` per m·rad²; range
rate, when measured, is taken as uniform over ±``max_speed_mps``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from tdome.c2.tracking.measurements import CartesianPosition, PolarRadar
from tdome.messages import Detections, PositionPlots, SensorSite


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
    sig = np.asarray(sigma, dtype=float)
    sig = np.ascontiguousarray((sig[None] if sig.ndim == 1 else sig)[:, :3])
    return _plots_to_ecef(np.ascontiguousarray(r), np.ascontiguousarray(az), np.ascontiguousarray(el), sig,
                          np.ascontiguousarray(site_ecef, dtype=float).reshape(3),
                          np.ascontiguousarray(enu_rot, dtype=float))


@njit(cache=True)
def _plots_to_ecef(r, az, el, sig, s, M):  # pragma: no cover - compiled; checked against the matrix form
    """:func:`plot_to_ecef` plot by plot: ``p = s + Mᵀ enu``, ``C = G diag(σ²) Gᵀ`` with ``G = Mᵀ J``."""
    m = r.shape[0]
    pos = np.empty((m, 3))
    cov = np.empty((m, 3, 3))
    J = np.empty((3, 3))
    G = np.empty((3, 3))
    for p in range(m):
        sa, ca, se, ce = np.sin(az[p]), np.cos(az[p]), np.sin(el[p]), np.cos(el[p])
        rp = r[p]
        enu0, enu1, enu2 = rp * ce * sa, rp * ce * ca, rp * se
        J[0, 0], J[0, 1], J[0, 2] = ce * sa, rp * ce * ca, -rp * se * sa
        J[1, 0], J[1, 1], J[1, 2] = ce * ca, -rp * ce * sa, -rp * se * ca
        J[2, 0], J[2, 1], J[2, 2] = se, 0.0, rp * ce
        for i in range(3):
            pos[p, i] = s[i] + (M[0, i] * enu0 + M[1, i] * enu1 + M[2, i] * enu2)
            for j in range(3):
                G[i, j] = M[0, i] * J[0, j] + M[1, i] * J[1, j] + M[2, i] * J[2, j]
        for i in range(3):
            for j in range(i + 1):
                c = 0.0
                for k in range(3):
                    c += G[i, k] * sig[p, k] * sig[p, k] * G[j, k]
                cov[p, i, j] = c
                cov[p, j, i] = c
    return pos, cov


@njit(cache=True)
def _radar_plots(r, az, el, rdot, k, sig, s_rdot, s, M, lam, max_speed):  # pragma: no cover - compiled
    """A radar scan's plots in one pass: ``(z, R, pos, cov, clutter)`` as :meth:`ScanPlots.from_scan` gives them.

    ``z = [r, az, el (, ṙ)]``, ``R = diag(σ²)`` (``s_rdot`` for a range rate
    without its σ), the converted plots of :func:`plot_to_ecef` and the
    clutter density ``λ r² cos(el)`` (over ``2 max_speed`` with range rate;
    module docstring); ``k`` is 3, or 4 with range rate (``rdot``).
    """
    m = r.shape[0]
    z = np.empty((m, k))
    R = np.zeros((m, k, k))
    sig3 = np.empty((m, 3))
    clutter = np.empty(m)
    tiny = np.finfo(np.float64).tiny
    for p in range(m):
        z[p, 0], z[p, 1], z[p, 2] = r[p], az[p], el[p]
        if k == 4:
            z[p, 3] = rdot[p]
        for a in range(k):
            sd = sig[p, a] if a < sig.shape[1] else s_rdot
            R[p, a, a] = sd**2
        for a in range(3):
            sig3[p, a] = sig[p, a]
        c = lam * r[p] ** 2 * np.cos(el[p])
        if k == 4:
            c = c / (2.0 * max_speed)
        clutter[p] = max(c, tiny)
    pos, cov = _plots_to_ecef(r, az, el, sig3, s, M)
    return z, R, pos, cov, clutter


def radar_arrays(scan: Detections, site: SensorSite) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int,
                                                           np.ndarray, float]:
    """A radar scan as :func:`_radar_plots` takes it: ``(r, az, el, rdot, k, σ, σ_ṙ)``.

    Contiguous float arrays; ``rdot`` empty and ``k = 3`` without range rate;
    ``σ`` (m, ≥3) as reported, ``σ_ṙ`` the site's range-rate σ for reports
    that give none (1 m/s if the site has none either).
    """
    m, k = len(scan), 3 if scan.rdot_mps is None else 4
    sig = np.asarray(scan.sigma, dtype=float).reshape(m, -1) if m else np.zeros((0, k))
    return (_f64(scan.range_m), _f64(scan.az_rad), _f64(scan.el_rad),
            _NONE if scan.rdot_mps is None else _f64(scan.rdot_mps), k, np.ascontiguousarray(sig),
            1.0 if site.sigma_rdot_mps is None else float(site.sigma_rdot_mps))


_NONE = np.empty(0)


def _f64(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=float).reshape(-1)


@dataclass
class ScanPlots:
    """One scan's plots: measurements, ECEF positions, measurement model and clutter density."""

    time_s: float
    sensor: int
    site: SensorSite | None  # None: a Cartesian feed from no listed sensor, taken to cover everywhere
    z: np.ndarray  # (m, k) measurements
    R: np.ndarray  # (m, k, k) their covariances
    pos: np.ndarray  # (m, 3) ECEF positions
    cov: np.ndarray  # (m, 3, 3) their covariances
    measure: PolarRadar | CartesianPosition
    clutter: np.ndarray  # (m,) false-plot density in the measurement space
    sector_rad: tuple[float, float] | None = None  # the part of the radar's coverage swept (Detections.sector_rad)

    @classmethod
    def from_scan(cls, scan: Detections | PositionPlots, site: SensorSite | None, false_alarm_density_m3: float,
                  max_speed_mps: float) -> ScanPlots:
        """The plots of a radar scan (``site`` its radar) or of a Cartesian feed."""
        m = len(scan)
        if isinstance(scan, PositionPlots):  # positions: the false-plot density is the Cartesian one
            z = np.asarray(scan.pos, dtype=float).reshape(m, 3)
            R = np.asarray(scan.cov, dtype=float).reshape(m, 3, 3)
            return cls(float(scan.time_s), int(scan.sensor), site, z, R, z, R, CartesianPosition(),
                       np.full(m, float(false_alarm_density_m3)))
        if site is None:
            raise ValueError(f"a radar scan (sensor {scan.sensor}) needs its radar's site")
        arrays = radar_arrays(scan, site)
        z, R, pos, cov, lam = _radar_plots(*arrays, site.ecef, site.enu_rot, float(false_alarm_density_m3),
                                           float(max_speed_mps))
        return cls(float(scan.time_s), int(scan.sensor), site, z, R, pos, cov,
                   PolarRadar(site.ecef, site.enu_rot, with_rdot=arrays[4] == 4), lam, scan.sector_rad)

    def __len__(self) -> int:
        return int(self.z.shape[0])

    @property
    def k(self) -> int:
        """Dimension of a measurement: 3, or 4 with range rate."""
        return int(self.z.shape[1])

    @property
    def cartesian(self) -> bool:
        return isinstance(self.measure, CartesianPosition)

    @property
    def bit(self) -> np.uint64:
        """The sensor's bit in a track's ``seen_by`` mask."""
        return np.uint64(1) << np.uint64(self.sensor)
