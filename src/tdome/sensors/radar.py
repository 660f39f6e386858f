"""Radar model: truth in, plots out.

A radar scans its coverage every ``revisit_s``.  Each target inside the
coverage volume and above the 4/3-Earth radar horizon is detected with the
probability given by the radar equation and a Swerling-1 fluctuating target:

    SNR = SNR_ref · (σ / 1 m²) · (R_ref / R)⁴          (Skolnik, eq. 2.61)
    Pd  = Pfa ^ (1 / (1 + SNR))                          (Swerling 1, single look)

Detected targets are measured in range, azimuth, elevation (and range rate
when the radar reports it) with independent Gaussian errors.  False alarms
arrive as a Poisson number per scan, uniform in range, azimuth sector and the
lower elevation band.  The simulator owns this module; the C2 core only ever
sees the resulting :class:`~tdome.messages.Detections` and the radar's
:class:`~tdome.messages.SensorSite`.

A run makes tens of thousands of scans of a few tens of targets each, where
numpy's per-call overhead would be nearly all the cost: the deterministic
stages of a scan (coverage, :meth:`~tdome.messages.SensorSite.covers`; range,
angles and Pd of the covered targets; the plots assembled from the draws,
range rate included) are compiled loops (numba) around the rotations into
the radar's frame (:meth:`~tdome.messages.SensorSite.to_enu`, numpy matrix
products).  The random draws stay numpy calls, the same draws in the same order
(the measurement errors of a scan, and its false alarms' coordinates, come
from one call each, as the per-quantity calls would draw them), so a seed
gives the same plots; the loops
perform the operations of the numpy expressions they stand for
(:func:`tdome.geo.enu_to_razel`, :meth:`RadarModel.detection_probability`)
in the same order, so the plots are the same to the last bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from tdome import geo
from tdome.messages import Detections, SensorSite

# False alarms fill the lower part of the elevation coverage, where clutter is.
_CLUTTER_MAX_EL_RAD = np.radians(10.0)


@dataclass
class RadarModel:
    """Detection performance of one radar; geometry and accuracy live in ``site``."""

    site: SensorSite
    snr_ref: float  # linear SNR for a 1 m² target at ref_range_m
    ref_range_m: float
    pfa: float
    false_alarms_per_scan: float
    rng: np.random.Generator
    phase_s: float = 0.0

    def scan_times(self, t_from_s: float, t_to_s: float) -> np.ndarray:
        """Scan instants in the half-open interval (t_from, t_to]."""
        rev = self.site.revisit_s
        k0 = np.floor((t_from_s - self.phase_s) / rev) + 1
        k1 = np.floor((t_to_s - self.phase_s) / rev)
        if k1 < k0:
            return np.empty(0)
        return self.phase_s + rev * np.arange(k0, k1 + 1)

    def detection_probability(self, range_m: np.ndarray, rcs_m2: np.ndarray) -> np.ndarray:
        """Swerling-1 single-look Pd from the radar-equation SNR."""
        snr = self.snr_ref * np.asarray(rcs_m2) * (self.ref_range_m / np.maximum(range_m, 1.0)) ** 4
        return self.pfa ** (1.0 / (1.0 + snr))

    def scan(self, t_s: float, pos_ecef: np.ndarray, vel_ecef: np.ndarray, rcs_m2: np.ndarray):
        """One scan over the given (alive) targets.

        Returns ``(detections, source)`` where ``source[i]`` is the row of the
        target that produced plot ``i`` or -1 for a false alarm.  ``source`` is
        truth: the simulator keeps it for metrics and never passes it to the C2.
        """
        s = self.site
        rng = self.rng
        with_rdot = s.sigma_rdot_mps is not None
        idx = np.flatnonzero(s.covers(pos_ecef)) if len(pos_ecef) else np.empty(0, dtype=int)
        d_enu = s.to_enu(pos_ecef[idx])
        r, az, el, pd = _detection_geometry(d_enu, np.asarray(rcs_m2, dtype=float), idx, float(self.snr_ref),
                                            float(self.ref_range_m), float(self.pfa))  # rows of one array
        hit = rng.random(idx.size) < pd
        n = int(np.count_nonzero(hit))
        # The measurement errors: range, azimuth, elevation (and range rate) of each detection, drawn as
        # rng.normal(0, σ, n) would draw them one quantity after the other (loc + σ z, from one call).
        z = rng.standard_normal((4 if with_rdot else 3) * n)
        noise_r = 0.0 + s.sigma_range_m * z[:n]
        noise_az = 0.0 + s.sigma_az_rad * z[n:2 * n]
        noise_el = 0.0 + s.sigma_el_rad * z[2 * n:3 * n]
        v_enu, noise_rdot = _NONE2, _NONE
        if s.sigma_rdot_mps is not None:
            v_enu = vel_ecef[idx[hit]] @ s.enu_rot.T
            noise_rdot = 0.0 + s.sigma_rdot_mps * z[3 * n:]

        # False alarms: Poisson count, uniform over the clutter region of the coverage (range, azimuth
        # offset, elevation drawn as rng.uniform(low, high, n_fa) would, one after the other: low + (high - low) u).
        n_fa = rng.poisson(self.false_alarms_per_scan)
        fa_r = fa_az = fa_el = fa_rdot = _NONE
        if n_fa:
            u = rng.random(3 * n_fa)
            fa_r = _uniform(max(s.min_range_m, 1000.0), s.max_range_m, u[:n_fa])
            fa_az = _uniform(-s.az_half_width_rad, s.az_half_width_rad, u[n_fa:2 * n_fa])
            fa_el = _uniform(max(s.min_el_rad, 0.0), max(min(s.max_el_rad, _CLUTTER_MAX_EL_RAD), 1e-3), u[2 * n_fa:])
            if with_rdot:
                fa_rdot = rng.normal(0.0, 30.0, n_fa)

        # Plots leave the radar in an order that says nothing about their source.
        order = rng.permutation(n + n_fa)
        sig = [s.sigma_range_m, s.sigma_az_rad, s.sigma_el_rad]
        if s.sigma_rdot_mps is not None:  # exactly when the range rate was measured
            sig.append(s.sigma_rdot_mps)
        z, source, sigma = _plots(idx, d_enu, r, az, el, hit, v_enu, noise_r, noise_az, noise_el, noise_rdot, fa_r,
                                  fa_az, fa_el, fa_rdot, with_rdot, float(s.az_center_rad), order,
                                  np.array(sig, dtype=float))
        det = Detections(
            time_s=float(t_s),
            sensor=s.index,
            range_m=z[0],
            az_rad=z[1],
            el_rad=z[2],
            sigma=sigma,
            rdot_mps=z[3] if with_rdot else None,
        )
        return det, source


def _uniform(low: float, high: float, u: np.ndarray) -> np.ndarray:
    """``low + (high - low) u``: draws on [low, high) from draws on [0, 1), as ``Generator.uniform`` makes them."""
    return low + (high - low) * u


# Stand-ins for absent draws and velocities (read only: they have no elements).
_NONE = np.empty(0)
_NONE2 = np.empty((0, 3))


@njit(cache=True, error_model="numpy")
def _detection_geometry(d_enu, rcs, rows, snr_ref, ref_range_m, pfa):  # pragma: no cover - compiled
    """Range, azimuth, elevation (:func:`tdome.geo.razel_of`) and Pd of targets at ENU ``d_enu`` (n, 3).

    Target i has RCS ``rcs[rows[i]]``.
    Pd is :meth:`RadarModel.detection_probability`, the Swerling-1
    Pd = Pfa^(1/(1 + SNR)) with SNR = SNR_ref σ (R_ref / max(R, 1 m))⁴.
    Returns them as the rows of one (4, n) array.
    """
    n = d_enu.shape[0]
    out = np.empty((4, n))
    r, az, el, pd = out[0], out[1], out[2], out[3]
    for i in range(n):
        r[i], az[i], el[i], _ = geo.razel_of(d_enu[i, 0], d_enu[i, 1], d_enu[i, 2])
        snr = snr_ref * rcs[rows[i]] * (ref_range_m / np.maximum(r[i], 1.0)) ** 4.0
        pd[i] = pfa ** (1.0 / (1.0 + snr))
    return out


@njit(cache=True, error_model="numpy")
def _plots(rows, d_enu, r, az, el, hit, v_enu, noise_r, noise_az, noise_el, noise_rdot, fa_r, fa_az, fa_el, fa_rdot,
           with_rdot, az_center_rad, order, sigma_row):  # pragma: no cover - compiled
    """A scan's plots from its geometry and its draws, in the drawn ``order``.

    The covered targets (rows ``rows``, ENU ``d_enu``, range, azimuth,
    elevation) that were detected (``hit``) come first, in row order: R + ε_R,
    (az + ε_az) mod 2π, el + ε_el and, ``with_rdot``, ṙ + ε_ṙ with
    ṙ = d·v / max(R, 1 m), v the ENU velocity ``v_enu`` of the k-th detected
    target (d·v summed as numpy's einsum does: (d_e v_e + d_u v_u) + d_n v_n).
    Then the false alarms: range and elevation as drawn, azimuth
    (az_center + drawn offset) mod 2π, range rate as drawn.  Plot q is entry
    ``order[q]`` of that list.  Returns (z, source, σ): z the rows R, az, el
    and, ``with_rdot``, ṙ of one (3 or 4, n) array; source the truth rows
    (-1 for a false alarm); σ one ``sigma_row`` per plot.
    """
    n_fa = fa_r.size
    total = order.size
    r_all, az_all, el_all = np.empty(total), np.empty(total), np.empty(total)
    rdot_all = np.empty(total if with_rdot else 0)
    src_all = np.empty(total, dtype=np.int64)
    k = 0
    for i in range(rows.size):
        if hit[i]:
            r_all[k] = r[i] + noise_r[k]
            az_all[k] = np.mod(az[i] + noise_az[k], 2.0 * np.pi)
            el_all[k] = el[i] + noise_el[k]
            if with_rdot:
                dv = (d_enu[i, 0] * v_enu[k, 0] + d_enu[i, 2] * v_enu[k, 2]) + d_enu[i, 1] * v_enu[k, 1]
                rdot_all[k] = dv / np.maximum(r[i], 1.0) + noise_rdot[k]
            src_all[k] = rows[i]
            k += 1
    for j in range(n_fa):
        r_all[k + j] = fa_r[j]
        az_all[k + j] = np.mod(az_center_rad + fa_az[j], 2 * np.pi)
        el_all[k + j] = fa_el[j]
        if with_rdot:
            rdot_all[k + j] = fa_rdot[j]
        src_all[k + j] = -1
    z = np.empty((4 if with_rdot else 3, total))
    source = np.empty(total, dtype=np.int64)
    sigma = np.empty((total, sigma_row.size))
    for q in range(total):
        o = order[q]
        z[0, q], z[1, q], z[2, q], source[q] = r_all[o], az_all[o], el_all[o], src_all[o]
        if with_rdot:
            z[3, q] = rdot_all[o]
        sigma[q] = sigma_row
    return z, source, sigma
