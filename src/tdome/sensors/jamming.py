"""Noise jamming: the power a jammer puts into a radar's receiver, and where the radar burns through.

A noise jammer of effective radiated power ERP (W, toward the radar) and
noise bandwidth B_j, at range R_j from a radar whose receiving antenna has
main-lobe gain G and relative gain g(Δθ) at the angle Δθ between its beam
and the jammer, puts into the receiver, over the one-way path (Skolnik,
*Introduction to Radar Systems*, 3rd ed., §10.7; Adamy, *EW 101*, ch. 9):

    J = ERP · G g(Δθ) · λ² / ((4π)² R_j²) · min(1, B_r / B_j)

against the receiver's own noise N = k T₀ F B_r (B_r its bandwidth, F its
noise figure, T₀ = 290 K).  Noise jamming adds to the noise: a target whose
signal-to-noise ratio is SNR (:class:`~tdome.sensors.radar.RadarModel`) is
seen with

    SINR = SNR / (1 + Σ_j J_j / N)

and detected with the Swerling-1 Pd = Pfa^(1/(1 + SINR)).  The beam points
at the target it looks at, so a jammer near the target's direction comes in
through the main lobe and one elsewhere through the side lobes:
g(Δθ) = max(exp(−4 ln 2 (Δθ/θ₃)²), g_sl), a Gaussian main lobe of 3 dB
width θ₃ floored at the side-lobe level g_sl.  A jammer is heard only if it
radiates in the radar's band and is above the radar's 4/3-Earth horizon.

Burn-through: a target that carries its own jammer (self-screening) at range
R gives SNR = SNR_ref σ (R_ref/R)⁴ and J/N = K / R², so the SINR falls as
R⁻² rather than R⁻⁴ once J ≫ N; the range where the SINR reaches what
detection needs is :func:`self_screening_burn_through_m` (closed form).

A jammed radar also reports *strobes*: the bearing of each jammer it hears
through its main lobe above :data:`STROBE_JNR`, when that bearing is inside
its coverage sector.  Strobes carry no range; the tracker does not use them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from tdome import geo

BOLTZMANN = 1.380649e-23  # J/K
T0_K = 290.0  # standard noise temperature
LIGHT_MPS = 299_792_458.0
STROBE_JNR = 10.0  # main-lobe J/N (10 dB) above which a radar reports the jammer's bearing


@dataclass(frozen=True)
class Receiver:
    """What a radar's receiver makes of a jammer: antenna, band and noise."""

    gain: float  # main-lobe gain, linear
    sidelobe: float  # side-lobe level relative to the main lobe, linear
    beamwidth_rad: float  # 3 dB beamwidth
    frequency_hz: float
    bandwidth_hz: float
    noise_w: float  # k T0 F B_r

    @classmethod
    def of(cls, gain_db: float, sidelobe_db: float, beamwidth_deg: float, frequency_ghz: float,
           bandwidth_mhz: float, noise_figure_db: float) -> Receiver:
        b = bandwidth_mhz * 1e6
        return cls(gain=10 ** (gain_db / 10.0), sidelobe=10 ** (sidelobe_db / 10.0),
                   beamwidth_rad=math.radians(beamwidth_deg), frequency_hz=frequency_ghz * 1e9, bandwidth_hz=b,
                   noise_w=BOLTZMANN * T0_K * 10 ** (noise_figure_db / 10.0) * b)

    @property
    def wavelength_m(self) -> float:
        return LIGHT_MPS / self.frequency_hz

    def jnr_factor(self, erp_w: np.ndarray, bandwidth_hz: np.ndarray) -> np.ndarray:
        """J/N · R_j² / g for each jammer: ERP G λ² min(1, B_r/B_j) / ((4π)² N), in m²."""
        share = np.minimum(1.0, self.bandwidth_hz / np.asarray(bandwidth_hz, dtype=float))
        return (np.asarray(erp_w, dtype=float) * self.gain * self.wavelength_m ** 2 * share
                / ((4.0 * np.pi) ** 2 * self.noise_w))

    def relative_gain(self, off_rad: np.ndarray) -> np.ndarray:
        """g(Δθ): the antenna's gain at Δθ off its beam, relative to the main lobe."""
        return _relative_gain(np.asarray(off_rad, dtype=float), self.beamwidth_rad, self.sidelobe)


@dataclass(frozen=True)
class JammerState:
    """The jammers radiating at one instant: ECEF positions (n, 3), ERP (W), noise bandwidth (Hz), band (Hz)."""

    pos_ecef: np.ndarray
    erp_w: np.ndarray
    bandwidth_hz: np.ndarray
    band_low_hz: np.ndarray
    band_high_hz: np.ndarray

    def __len__(self) -> int:
        return int(self.pos_ecef.shape[0])

    def heard_by(self, rx: Receiver) -> np.ndarray:
        """Which jammers radiate in the radar's band."""
        return (self.band_low_hz <= rx.frequency_hz) & (rx.frequency_hz <= self.band_high_hz)


def self_screening_burn_through_m(snr_ref: float, ref_range_m: float, rcs_m2: float, jnr_1m: float,
                                  sinr_needed: float) -> float:
    """Range at which a target carrying its own jammer reaches ``sinr_needed``: the burn-through range.

    SNR = a / R⁴ with a = SNR_ref σ R_ref⁴, and J/N = K / R² with K = ``jnr_1m``
    (J/N at 1 m, main lobe).  SINR = a / (R⁴ + K R²) = s solves, with x = R²,
    s x² + s K x − a = 0: R_bt = √x, x = (√(K² + 4a/s) − K) / 2.  With J ≫ N it
    is the textbook R_bt ≈ √(a / (s K)) (Skolnik §10.7).
    """
    a = snr_ref * rcs_m2 * ref_range_m ** 4
    k = jnr_1m
    x = (math.sqrt(k * k + 4.0 * a / sinr_needed) - k) / 2.0
    return math.sqrt(x)


@njit(cache=True, inline="always", error_model="numpy")
def _relative_gain(off_rad, beamwidth_rad, sidelobe):  # pragma: no cover - compiled
    return np.maximum(np.exp(-4.0 * np.log(2.0) * (off_rad / beamwidth_rad) ** 2), sidelobe)


@njit(cache=True, error_model="numpy")
def jamming_to_noise(d_enu, jam_enu, jam_factor, beamwidth_rad, sidelobe):  # pragma: no cover - compiled
    """Σ_j J/N at the radar while its beam looks at each target: (n,).

    ``d_enu`` (n, 3): the targets in the radar's frame; ``jam_enu`` (m, 3): the
    jammers heard (in band, above the horizon); ``jam_factor`` (m,): each
    jammer's :meth:`Receiver.jnr_factor`.  Jammer j adds
    factor_j · g(Δθ_ij) / R_j², Δθ_ij the angle between the two directions.
    """
    n, m = d_enu.shape[0], jam_enu.shape[0]
    out = np.zeros(n)
    for j in range(m):
        jx, jy, jz = jam_enu[j, 0], jam_enu[j, 1], jam_enu[j, 2]
        r2 = jx * jx + jy * jy + jz * jz
        rj = np.sqrt(r2)
        for i in range(n):
            tx, ty, tz = d_enu[i, 0], d_enu[i, 1], d_enu[i, 2]
            rt = np.sqrt(tx * tx + ty * ty + tz * tz)
            c = (tx * jx + ty * jy + tz * jz) / max(rt * rj, 1e-9)
            off = np.arccos(min(1.0, max(-1.0, c)))
            out[i] += jam_factor[j] * _relative_gain(off, beamwidth_rad, sidelobe) / max(r2, 1.0)
    return out


def heard_jammers(site, rx: Receiver, jam: JammerState, rot_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The jammers a radar hears: their ENU vectors from it (m, 3) and their J/N factors (m,).

    Heard means radiating in the radar's band and above its 4/3-Earth horizon
    (:func:`tdome.geo.line_of_sight`, from the jammer's geodetic height).
    """
    band = jam.heard_by(rx)
    if not band.any():
        return np.empty((0, 3)), np.empty(0)
    pos = jam.pos_ecef[band]
    enu = (pos - site.ecef) @ rot_t
    clear = geo.line_of_sight(site.alt_m, geo.ecef_to_geodetic(pos)[2], np.hypot(enu[:, 0], enu[:, 1]))
    return enu[clear], rx.jnr_factor(jam.erp_w[band][clear], jam.bandwidth_hz[band][clear])
