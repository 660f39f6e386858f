"""Radar model: truth in, plots out.

A radar scans its coverage every ``revisit_s``.  Each target inside the
coverage volume and above the 4/3-Earth radar horizon is detected with the
probability given by the radar equation and a Swerling-1 fluctuating target:

    SNR = SNR_ref · (σ / 1 m²) · (R_ref / R)⁴          (Skolnik, eq. 2.61)
    Pd  = Pfa ^ (1 / (1 + SNR))                          (Swerling 1, single look)

Under noise jamming the SNR is divided by 1 + J/N, the jamming-to-noise
ratio while the beam looks at the target (:mod:`tdome.sensors.jamming`), and
the radar reports the bearings of the jammers it hears (strobes).

Detected targets are measured in range, azimuth, elevation (and range rate
when the radar reports it) with independent Gaussian errors.  A radar may
also carry systematic errors (:class:`RadarBias`: range, azimuth and
elevation offsets, and a clock that runs ahead of true time), which every
plot and strobe it reports carries and the C2 is not told.  False alarms
arrive as a Poisson number per scan, uniform in range, azimuth sector and the
lower elevation band.  The simulator owns this module; the C2 core only ever
sees the resulting :class:`~tdome.messages.Detections` and the radar's
:class:`~tdome.messages.SensorSite`.

A run makes tens of thousands of scans of a few tens of targets each, where
numpy's per-call overhead would be nearly all the cost.  A scan is three
compiled passes (numba): the coverage test of every target and the covered
targets' offsets from the radar (:func:`_covered`;
:meth:`~tdome.messages.SensorSite.covers`), their range, angles, Pd and
detection draw (:func:`_detect`), and the plots assembled from the draws,
range rate included (:func:`_plots`).  Between them stay the two things a
compiled loop would not reproduce to the bit: the rotations into the radar's
frame (:meth:`~tdome.messages.SensorSite.to_enu`, numpy matrix products, whose
rounding is the BLAS kernel's) and the random draws (numpy calls, the same
draws in the same order: the measurement errors of a scan, and its false
alarms' coordinates, come from one call each, as the per-quantity calls
would draw them; a draw of nothing is not made).  So a seed gives the same
plots, and the loops, which perform the operations of the numpy expressions
they stand for (:func:`tdome.geo.enu_to_razel`,
:meth:`RadarModel.detection_probability`) in the same order, give them to
the last bit; tests/test_radar_compiled_sim.py holds each pass to its numpy
form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from tdome import geo
from tdome.messages import Detections, SensorSite
from tdome.sensors.jamming import STROBE_JNR, JammerState, Receiver, heard_jammers, jamming_to_noise

# False alarms fill the lower part of the elevation coverage, where clutter is.
_CLUTTER_MAX_EL_RAD = np.radians(10.0)


@dataclass(frozen=True)
class RadarBias:
    """A radar's systematic errors (truth; the C2 is not told them).

    Every plot's range is ``range_m`` long, its azimuth ``az_rad`` clockwise
    and its elevation ``el_rad`` high, and its scan is stamped ``clock_s``
    after the true time of the measurement (the radar's clock runs ahead).
    Strobes carry the angle offsets; range rates are unchanged.
    """

    range_m: float = 0.0
    az_rad: float = 0.0
    el_rad: float = 0.0
    clock_s: float = 0.0


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
    receiver: Receiver | None = None  # what it makes of a jammer; None: it is not jammed
    lost_to_jamming: int = 0  # plots the same draws would have made without jamming (truth, for the results)
    strobes_reported: int = 0
    bias: RadarBias | None = None  # systematic errors of every plot (truth); None: none
    # The site's plot σ row and false-alarm box, made once (see _constants): (site, σ row, box).
    _cache: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def scan_times(self, t_from_s: float, t_to_s: float) -> np.ndarray:
        """Scan instants in the half-open interval (t_from, t_to]."""
        return np.array(self.scan_instants(t_from_s, t_to_s), dtype=float)

    def scan_instants(self, t_from_s: float, t_to_s: float) -> list[float]:
        """:meth:`scan_times` as a list of floats: phase + revisit·k for k = ⌊(t_from − phase)/revisit⌋ + 1 …
        ⌊(t_to − phase)/revisit⌋ (the loop asks every radar every cycle, and most answers are one instant or none).
        """
        rev = float(self.site.revisit_s)
        phase = float(self.phase_s)
        k0 = math.floor((t_from_s - phase) / rev) + 1
        k1 = math.floor((t_to_s - phase) / rev)
        return [phase + rev * float(k) for k in range(k0, k1 + 1)]

    def detection_probability(self, range_m: np.ndarray, rcs_m2: np.ndarray, jnr=None) -> np.ndarray:
        """Swerling-1 single-look Pd from the radar-equation SNR; under jamming (``jnr``: J/N) from the SINR."""
        snr = self.snr_ref * np.asarray(rcs_m2) * (self.ref_range_m / np.maximum(range_m, 1.0)) ** 4
        if jnr is not None:
            snr = snr / (1.0 + np.asarray(jnr, dtype=float))
        return self.pfa ** (1.0 / (1.0 + snr))

    def jamming_to_noise(self, pos_ecef: np.ndarray, jam: JammerState) -> np.ndarray:
        """J/N while the beam looks at each ECEF point (n, 3), from the jammers ``jam`` that the radar hears."""
        rx = self.receiver
        pos = np.atleast_2d(np.asarray(pos_ecef, dtype=float))
        if rx is None or not len(jam):
            return np.zeros(len(pos))
        rot_t = self.site.enu_rot.T
        jam_enu, factor = heard_jammers(self.site, rx, jam, rot_t)
        return jamming_to_noise((pos - self.site.ecef) @ rot_t, jam_enu, factor, rx.beamwidth_rad, rx.sidelobe)

    def scan(self, t_s: float, pos_ecef: np.ndarray, vel_ecef: np.ndarray, rcs_m2: np.ndarray,
             jam: JammerState | None = None):
        """One scan over the given (alive) targets, with the jammers ``jam`` radiating (if any).

        Returns ``(detections, source)`` where ``source[i]`` is the row of the
        target that produced plot ``i`` or -1 for a false alarm.  ``source`` is
        truth: the simulator keeps it for metrics and never passes it to the C2.
        """
        s = self.site
        rng = self.rng
        with_rdot = s.sigma_rdot_mps is not None
        sigma_row, fa_box = self._constants()
        rot_t = s.enu_rot.T  # ECEF → ENU: x_enu = (x − x_site) @ rot_t, as SensorSite.to_enu computes it
        jam_enu, jam_factor = _NONE2, _NONE
        if jam is not None and len(jam) and self.receiver is not None:
            jam_enu, jam_factor = heard_jammers(s, self.receiver, jam, rot_t)
        if len(pos_ecef):
            # Coverage (SensorSite.covers): every target rotated into the radar's frame, then tested.
            xyz = np.ascontiguousarray(pos_ecef, dtype=float)
            idx, d = _covered(xyz, (xyz - s.ecef) @ rot_t, s.ecef, *s.coverage_limits)
        else:
            idx, d = _NO_ROWS, _NONE2
        # Detection: one uniform draw per covered target against its Pd (no target covered: nothing drawn).
        d_enu, geom, hit, vel_hit = _NONE2, _NO_GEOMETRY, _NO_HITS, _NONE2
        if idx.size:
            d_enu = d @ rot_t  # the covered targets in the radar's frame: SensorSite.to_enu(pos_ecef[idx])
            jnr = _NONE
            if jam_factor.size:
                rx = self.receiver
                assert rx is not None
                jnr = jamming_to_noise(d_enu, jam_enu, jam_factor, rx.beamwidth_rad, rx.sidelobe)
            geom, hit, vel_hit, lost = _detect(d_enu, np.ascontiguousarray(rcs_m2, dtype=float), idx,
                                               rng.random(idx.size), np.ascontiguousarray(vel_ecef, dtype=float),
                                               float(self.snr_ref), float(self.ref_range_m), float(self.pfa), jnr)
            self.lost_to_jamming += lost
        n = vel_hit.shape[0]
        # The measurement errors: range, azimuth, elevation (and range rate) of each detection, drawn as
        # rng.normal(0, σ, n) would draw them one quantity after the other (loc + σ z, from one call).
        z, v_enu = _NONE, _NONE2
        if n:
            z = rng.standard_normal((4 if with_rdot else 3) * n)
            if with_rdot:
                v_enu = vel_hit @ rot_t

        # False alarms: Poisson count, uniform over the clutter region of the coverage (range, azimuth
        # offset, elevation drawn as rng.uniform(low, high, n_fa) would, one after the other: low + (high - low) u).
        n_fa = rng.poisson(self.false_alarms_per_scan)
        u_fa = fa_rdot = _NONE
        if n_fa:
            u_fa = rng.random(3 * n_fa)
            if with_rdot:
                fa_rdot = rng.normal(0.0, 30.0, n_fa)

        # Plots leave the radar in an order that says nothing about their source.
        # (A permutation of no plot or of one draws nothing: it is the identity.)
        order = rng.permutation(n + n_fa) if n + n_fa > 1 else np.arange(n + n_fa)
        zs, source, sigma = _plots(idx, d_enu, geom, hit, v_enu, z, u_fa, fa_rdot, with_rdot,
                                   float(s.az_center_rad), order, sigma_row, fa_box)
        strobe_az = strobe_el = None
        if jam_factor.size:
            strobe_az, strobe_el = self._strobes(jam_enu, jam_factor)
        b = self.bias
        stamp_s = float(t_s)
        if b is not None:  # after every draw, so a bias changes no draw of the run
            zs[0] += b.range_m
            zs[1] = np.mod(zs[1] + b.az_rad, 2.0 * np.pi)
            zs[2] += b.el_rad
            stamp_s += b.clock_s
            if strobe_az is not None and strobe_el is not None:
                strobe_az, strobe_el = np.mod(strobe_az + b.az_rad, 2.0 * np.pi), strobe_el + b.el_rad
        det = Detections(
            time_s=stamp_s,
            sensor=s.index,
            range_m=zs[0],
            az_rad=zs[1],
            el_rad=zs[2],
            sigma=sigma,
            rdot_mps=zs[3] if with_rdot else None,
            strobe_az_rad=strobe_az,
            strobe_el_rad=strobe_el,
        )
        return det, source

    def _strobes(self, jam_enu: np.ndarray, jam_factor: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Bearings (azimuth, elevation, with the plot errors) of the jammers heard through the main lobe above
        :data:`~tdome.sensors.jamming.STROBE_JNR` inside the coverage sector and elevations; None for none."""
        s = self.site
        r, az, el = geo.enu_to_razel(jam_enu)
        off = np.abs(geo.wrap_angle(az - s.az_center_rad))
        seen = ((jam_factor / np.maximum(r, 1.0) ** 2 >= STROBE_JNR) & (off <= s.az_half_width_rad)
                & (el >= s.min_el_rad) & (el <= s.max_el_rad))
        m = int(seen.sum())
        self.strobes_reported += m
        if not m:
            return None, None
        z = self.rng.standard_normal(2 * m)
        return (np.mod(az[seen] + s.sigma_az_rad * z[:m], 2.0 * np.pi), el[seen] + s.sigma_el_rad * z[m:])

    def _constants(self) -> tuple[np.ndarray, np.ndarray]:
        """The site's plot σ row (σ_R, σ_az, σ_el and σ_ṙ when measured) and false-alarm box, made once per site.

        The box is (R_low, R_high, Δaz_low, Δaz_high, el_low, el_high): range from max(min range, 1 km) to
        max range, azimuth offset across the sector, elevation over the clutter band.
        """
        cached = self._cache
        if cached is not None and cached[0] is self.site:
            return cached[1], cached[2]
        s = self.site
        sig = [s.sigma_range_m, s.sigma_az_rad, s.sigma_el_rad]
        if s.sigma_rdot_mps is not None:  # exactly when the range rate is measured
            sig.append(s.sigma_rdot_mps)
        box = [max(s.min_range_m, 1000.0), s.max_range_m, -s.az_half_width_rad, s.az_half_width_rad,
               max(s.min_el_rad, 0.0), max(min(s.max_el_rad, _CLUTTER_MAX_EL_RAD), 1e-3)]
        self._cache = (s, np.array(sig, dtype=float), np.array(box, dtype=float))
        return self._cache[1], self._cache[2]


# Stand-ins for absent rows, draws and velocities (read only: they have no elements).
_NO_ROWS = np.empty(0, dtype=np.int64)
_NONE = np.empty(0)
_NONE2 = np.empty((0, 3))
_NO_HITS = np.empty(0, dtype=np.bool_)
_NO_GEOMETRY = np.empty((3, 0))


@njit(cache=True, error_model="numpy")
def _covered(xyz, enu, site_ecef, radar_alt_m, min_range_m, max_range_m, min_el_rad, max_el_rad, az_center_rad,
             az_half_width_rad):  # pragma: no cover - compiled
    """The targets inside the coverage volume, and their offsets from the radar.

    Target i is at ECEF ``xyz[i]`` and ENU ``enu[i]``; it is covered when
    :func:`tdome.geo.in_coverage` says so (range, elevation and sector
    limits, 4/3-Earth horizon: :meth:`~tdome.messages.SensorSite.covers`).
    Returns ``idx``, the covered rows in order (``flatnonzero(covers)``),
    and ``d = xyz[idx] − site_ecef`` (m, 3), the offsets the rotation into
    the radar's frame takes.
    """
    n = xyz.shape[0]
    idx = np.empty(n, dtype=np.int64)
    d = np.empty((n, 3))
    m = 0
    for i in range(n):
        if geo.in_coverage(xyz[i, 0], xyz[i, 1], xyz[i, 2], enu[i, 0], enu[i, 1], enu[i, 2], radar_alt_m,
                           min_range_m, max_range_m, min_el_rad, max_el_rad, az_center_rad, az_half_width_rad):
            idx[m] = i
            for c in range(3):
                d[m, c] = xyz[i, c] - site_ecef[c]
            m += 1
    return idx[:m], d[:m]


@njit(cache=True, error_model="numpy")
def _detect(d_enu, rcs, rows, u, vel, snr_ref, ref_range_m, pfa, jnr):  # pragma: no cover - compiled
    """Range, angles and detection of the covered targets at ENU ``d_enu`` (n, 3), from uniform draws ``u``.

    Target i is row ``rows[i]`` of ``rcs`` and ``vel``.  Its range, azimuth
    and elevation are :func:`tdome.geo.razel_of`; its Pd is
    :meth:`RadarModel.detection_probability`, the Swerling-1
    Pd = Pfa^(1/(1 + SNR)) with SNR = SNR_ref σ (R_ref / max(R, 1 m))⁴; it is
    detected when u_i < Pd.  Under jamming (``jnr``, each target's J/N, not
    empty: :func:`tdome.sensors.jamming.jamming_to_noise`) the SNR is divided
    by 1 + J/N; a target the same draw would have detected without jamming
    and does not is a plot lost to jamming.  Returns (geometry, hit, vel_hit,
    lost): R, az, el as the rows of one (3, n) array, the detected mask (n,),
    the ECEF velocities of the detected targets in row order
    (``vel[rows[hit]]``), and the number of plots lost to jamming.
    """
    n = d_enu.shape[0]
    geom = np.empty((3, n))
    r, az, el = geom[0], geom[1], geom[2]
    hit = np.empty(n, dtype=np.bool_)
    jammed = jnr.shape[0] > 0
    k = lost = 0
    for i in range(n):
        r[i], az[i], el[i], _ = geo.razel_of(d_enu[i, 0], d_enu[i, 1], d_enu[i, 2])
        snr = snr_ref * rcs[rows[i]] * (ref_range_m / np.maximum(r[i], 1.0)) ** 4.0
        pd = pfa ** (1.0 / (1.0 + snr))
        if jammed:
            clear = u[i] < pd
            pd = pfa ** (1.0 / (1.0 + snr / (1.0 + jnr[i])))
            lost += clear and not u[i] < pd
        hit[i] = u[i] < pd
        if hit[i]:
            k += 1
    vel_hit = np.empty((k, 3))
    k = 0
    for i in range(n):
        if hit[i]:
            for c in range(3):
                vel_hit[k, c] = vel[rows[i], c]
            k += 1
    return geom, hit, vel_hit, lost


@njit(cache=True, error_model="numpy")
def _plots(rows, d_enu, geom, hit, v_enu, z, u_fa, fa_rdot, with_rdot, az_center_rad, order, sigma_row,
           fa_box):  # pragma: no cover - compiled
    """A scan's plots from its geometry and its draws, in the drawn ``order``.

    The covered targets (rows ``rows``, ENU ``d_enu``, range, azimuth and
    elevation the rows of ``geom``) that were detected (``hit``; n of them)
    come first, in row order.  The k-th has the errors ε = 0 + σ z (σ from
    ``sigma_row``, z the standard normal draws ``z``: z[k] for range, z[n + k]
    azimuth, z[2n + k] elevation, z[3n + k] range rate) and measures
    R + ε_R, (az + ε_az) mod 2π, el + ε_el and, ``with_rdot``, ṙ + ε_ṙ with
    ṙ = d·v / max(R, 1 m), v its ENU velocity ``v_enu[k]`` (d·v summed as
    numpy's einsum does: (d_e v_e + d_u v_u) + d_n v_n).  Then the n_fa false
    alarms, from the uniform draws ``u_fa`` (range, azimuth offset, elevation,
    n_fa each) mapped to low + (high − low) u over ``fa_box`` (R_low, R_high,
    Δaz_low, Δaz_high, el_low, el_high): range and elevation as drawn,
    azimuth (az_center + offset) mod 2π, range rate ``fa_rdot``.  Plot q is
    entry ``order[q]`` of that list.  Returns (z, source, σ): z the rows R,
    az, el and, ``with_rdot``, ṙ of one (3 or 4, n + n_fa) array; source the
    truth rows (-1 for a false alarm); σ one ``sigma_row`` per plot.
    """
    n_fa = u_fa.size // 3
    total = order.size
    n = total - n_fa
    r, az, el = geom[0], geom[1], geom[2]
    r_all, az_all, el_all = np.empty(total), np.empty(total), np.empty(total)
    rdot_all = np.empty(total if with_rdot else 0)
    src_all = np.empty(total, dtype=np.int64)
    k = 0
    for i in range(rows.size):
        if hit[i]:
            r_all[k] = r[i] + (0.0 + sigma_row[0] * z[k])
            az_all[k] = np.mod(az[i] + (0.0 + sigma_row[1] * z[n + k]), 2.0 * np.pi)
            el_all[k] = el[i] + (0.0 + sigma_row[2] * z[2 * n + k])
            if with_rdot:
                dv = (d_enu[i, 0] * v_enu[k, 0] + d_enu[i, 2] * v_enu[k, 2]) + d_enu[i, 1] * v_enu[k, 1]
                rdot_all[k] = dv / np.maximum(r[i], 1.0) + (0.0 + sigma_row[3] * z[3 * n + k])
            src_all[k] = rows[i]
            k += 1
    r_lo, r_hi, daz_lo, daz_hi, el_lo, el_hi = fa_box[0], fa_box[1], fa_box[2], fa_box[3], fa_box[4], fa_box[5]
    for j in range(n_fa):
        r_all[n + j] = r_lo + (r_hi - r_lo) * u_fa[j]
        az_all[n + j] = np.mod(az_center_rad + (daz_lo + (daz_hi - daz_lo) * u_fa[n_fa + j]), 2 * np.pi)
        el_all[n + j] = el_lo + (el_hi - el_lo) * u_fa[2 * n_fa + j]
        if with_rdot:
            rdot_all[n + j] = fa_rdot[j]
        src_all[n + j] = -1
    out = np.empty((4 if with_rdot else 3, total))
    source = np.empty(total, dtype=np.int64)
    sigma = np.empty((total, sigma_row.size))
    for q in range(total):
        o = order[q]
        out[0, q], out[1, q], out[2, q], source[q] = r_all[o], az_all[o], el_all[o], src_all[o]
        if with_rdot:
            out[3, q] = rdot_all[o]
        sigma[q] = sigma_row
    return out, source, sigma
