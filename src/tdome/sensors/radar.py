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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
        idx = np.flatnonzero(s.covers(pos_ecef)) if len(pos_ecef) else np.empty(0, dtype=int)
        d_enu = s.to_enu(pos_ecef[idx])
        r, az, el = geo.enu_to_razel(d_enu)
        pd = self.detection_probability(r, rcs_m2[idx])
        hit = rng.random(idx.size) < pd
        idx, d_enu, r, az, el = idx[hit], d_enu[hit], r[hit], az[hit], el[hit]
        n = idx.size
        r_m = r + rng.normal(0.0, s.sigma_range_m, n)
        az_m = np.mod(az + rng.normal(0.0, s.sigma_az_rad, n), 2.0 * np.pi)
        el_m = el + rng.normal(0.0, s.sigma_el_rad, n)
        rdot_m = None
        if s.sigma_rdot_mps is not None:
            v_enu = vel_ecef[idx] @ s.enu_rot.T
            rdot = np.einsum("ij,ij->i", d_enu, v_enu) / np.maximum(r, 1.0)
            rdot_m = rdot + rng.normal(0.0, s.sigma_rdot_mps, n)

        # False alarms: Poisson count, uniform over the clutter region of the coverage.
        n_fa = rng.poisson(self.false_alarms_per_scan)
        if n_fa:
            fa_r = rng.uniform(max(s.min_range_m, 1000.0), s.max_range_m, n_fa)
            fa_az = np.mod(s.az_center_rad + rng.uniform(-s.az_half_width_rad, s.az_half_width_rad, n_fa), 2 * np.pi)
            fa_el = rng.uniform(max(s.min_el_rad, 0.0), max(min(s.max_el_rad, _CLUTTER_MAX_EL_RAD), 1e-3), n_fa)
            r_m = np.concatenate([r_m, fa_r])
            az_m = np.concatenate([az_m, fa_az])
            el_m = np.concatenate([el_m, fa_el])
            if rdot_m is not None:
                rdot_m = np.concatenate([rdot_m, rng.normal(0.0, 30.0, n_fa)])
            idx = np.concatenate([idx, -np.ones(n_fa, dtype=int)])

        # Plots leave the radar in an order that says nothing about their source.
        order = rng.permutation(idx.size)
        sig = [s.sigma_range_m, s.sigma_az_rad, s.sigma_el_rad]
        if s.sigma_rdot_mps is not None:  # exactly when rdot_m was measured
            sig.append(s.sigma_rdot_mps)
        det = Detections(
            time_s=float(t_s),
            sensor=s.index,
            range_m=r_m[order],
            az_rad=az_m[order],
            el_rad=el_m[order],
            sigma=np.tile(np.array(sig), (idx.size, 1)),
            rdot_mps=None if rdot_m is None else rdot_m[order],
        )
        return det, idx[order]
