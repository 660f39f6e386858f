"""Air density of the U.S. Standard Atmosphere 1976, shared by the world (drag on re-entry) and the C2 core
(its estimate of a track's ballistic coefficient).

Like :mod:`tdome.dynamics`, this is physics both sides may know: the truth
flies a light decoy through this air, and the C2 divides the deceleration
it measures by this density to estimate the object's ballistic coefficient,
which it does not know.

Below 86 km (geometric) the density is the standard's own closed form
(U.S. Standard Atmosphere, 1976, NOAA/NASA/USAF, part 1, §1.2 to §1.3).
In geopotential height

    H = r₀ h / (r₀ + h),   r₀ = 6 356 766 m

the temperature is linear in seven layers from the base heights
H_b = 0, 11, 20, 32, 47, 51, 71 km with lapse rates
L_b = −6.5, 0, +1, +2.8, 0, −2.8, −2.0 K/km, and hydrostatic equilibrium
gives the pressure

    P = P_b (T_b / T)^(g₀ M₀ / (R* L_b))          (L_b ≠ 0)
    P = P_b exp(−g₀ M₀ (H − H_b) / (R* T_b))      (L_b = 0)

and the density ρ = P M₀ / (R* T) (g₀ = 9.806 65 m/s², M₀ = 0.028 964 4
kg/mol, R* = 8.314 32 J/(mol K)).  Above 86 km the standard's composition
changes and it has no closed form; there the density is interpolated
log-linearly between its tabulated values at 86, 100, 110, 120 and 150 km,
and falls with a 22.5 km scale height beyond 150 km (a few metres per
second squared of drag on a very light object at 90 km, nothing above).

``density_kg_m3`` is compiled (numba) so that an integrator can call it at
every stage of every step; ``density`` is its array form.
"""

from __future__ import annotations

import numpy as np
from numba import njit

R0_M = 6_356_766.0  # effective Earth radius of the geopotential height
G0 = 9.80665
M0_OVER_RSTAR = 0.0289644 / 8.31432  # kg K / J
_GMR = G0 * M0_OVER_RSTAR  # K/m: the hydrostatic constant g₀ M₀ / R*

# Layers below 86 km: base geopotential height (m), lapse rate (K/m), base temperature (K), base pressure (Pa).
_H_BASE = np.array([0.0, 11_000.0, 20_000.0, 32_000.0, 47_000.0, 51_000.0, 71_000.0])
_LAPSE = np.array([-6.5e-3, 0.0, 1.0e-3, 2.8e-3, 0.0, -2.8e-3, -2.0e-3])
_T_BASE = np.array([288.15, 216.65, 216.65, 228.65, 270.65, 270.65, 214.65])
_P_BASE = np.array([101_325.0, 22_632.06, 5_474.889, 868.0187, 110.9063, 66.93887, 3.956420])
TOP_OF_LAYERS_M = 86_000.0  # geometric height where the closed form ends
# Above: tabulated densities of the standard (geometric m, kg/m³), log-linear between them.
_H_TABLE = np.array([86_000.0, 100_000.0, 110_000.0, 120_000.0, 150_000.0])
_RHO_TABLE = np.array([6.958e-6, 5.604e-7, 9.708e-8, 2.222e-8, 2.076e-9])
_SCALE_ABOVE_M = 22_500.0


@njit(cache=True, error_model="numpy")
def density_kg_m3(h_m):  # pragma: no cover - compiled; held to the standard's tables by tests/test_atmosphere.py
    """Air density (kg/m³) at geometric height ``h_m`` above the ellipsoid; sea level's below it."""
    h = max(h_m, 0.0)
    if h < TOP_OF_LAYERS_M:
        gh = R0_M * h / (R0_M + h)
        b = 0
        while b < 6 and gh >= _H_BASE[b + 1]:
            b += 1
        lapse, tb, pb = _LAPSE[b], _T_BASE[b], _P_BASE[b]
        dh = gh - _H_BASE[b]
        if lapse == 0.0:
            t = tb
            p = pb * np.exp(-_GMR * dh / tb)
        else:
            t = tb + lapse * dh
            p = pb * (tb / t) ** (_GMR / lapse)
        return p * M0_OVER_RSTAR / t
    k = 0
    while k < _H_TABLE.size - 1 and h >= _H_TABLE[k + 1]:
        k += 1
    if k == _H_TABLE.size - 1:
        return _RHO_TABLE[k] * np.exp(-(h - _H_TABLE[k]) / _SCALE_ABOVE_M)
    w = (h - _H_TABLE[k]) / (_H_TABLE[k + 1] - _H_TABLE[k])
    return _RHO_TABLE[k] * (_RHO_TABLE[k + 1] / _RHO_TABLE[k]) ** w


@njit(cache=True)
def _density_many(h):  # pragma: no cover - compiled
    out = np.empty(h.size)
    for i in range(h.size):
        out[i] = density_kg_m3(h[i])
    return out


def density(h_m) -> np.ndarray:
    """:func:`density_kg_m3` of every height in ``h_m`` (any shape), kg/m³."""
    h = np.asarray(h_m, dtype=float)
    return _density_many(np.ascontiguousarray(h.reshape(-1))).reshape(h.shape)
