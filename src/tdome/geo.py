"""WGS84 geodesy, local ENU frames, radar geometry and the radar horizon.

Every function is vectorized: positions are arrays of shape ``(..., 3)`` and
angles are radians.  Internal frame is Earth-centred, Earth-fixed (ECEF).

The exceptions are compiled (numba) one-point forms for loops: the radars and
the tracker ask for a few points tens of thousands of times a run, where
numpy's per-call overhead would be nearly all the cost.  :func:`geodetic_of`,
:func:`razel_of` and :func:`clears_horizon` take one point and are inlined by
the compiled loops that call them: :func:`ecef_to_geodetic` itself,
:func:`coverage` (a radar's coverage volume, :func:`in_coverage`, over many
points) and the radar scan (:mod:`tdome.sensors.radar`).  They perform the
floating-point operations of the numpy forms (:func:`enu_to_razel`,
:func:`line_of_sight`) in the same order, so both give bit-for-bit the same
numbers; the tests hold them to it.

References
----------
- NIMA TR8350.2, *Department of Defense World Geodetic System 1984* (constants).
- J. Zhu, "Conversion of Earth-centered Earth-fixed coordinates to geodetic
  coordinates", IEEE Trans. AES 30(3), 1994 (closed-form inverse, the
  Heikkinen solution used below).
- M. Skolnik, *Introduction to Radar Systems*, 3rd ed., §8.2 (4/3-Earth model).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# WGS84 defining constants and derived quantities.
A_M = 6378137.0
F = 1.0 / 298.257223563
B_M = A_M * (1.0 - F)
E2 = F * (2.0 - F)
EP2 = E2 / (1.0 - E2)
MEAN_RADIUS_M = 6371008.8
EFFECTIVE_EARTH_FACTOR = 4.0 / 3.0


def geodetic_to_ecef(lat_rad, lon_rad, alt_m) -> np.ndarray:
    """Geodetic latitude, longitude (rad) and ellipsoidal height (m) to ECEF (m)."""
    lat = np.asarray(lat_rad, dtype=float)
    lon = np.asarray(lon_rad, dtype=float)
    alt = np.asarray(alt_m, dtype=float)
    slat, clat = np.sin(lat), np.cos(lat)
    n = A_M / np.sqrt(1.0 - E2 * slat * slat)
    x = (n + alt) * clat * np.cos(lon)
    y = (n + alt) * clat * np.sin(lon)
    z = (n * (1.0 - E2) + alt) * slat
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1)


def ecef_to_geodetic(xyz) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ECEF (m) to geodetic latitude, longitude (rad) and height (m).

    Closed-form Heikkinen/Zhu solution (:func:`geodetic_of`, point by point
    in a compiled loop): millimetre-accurate from the Earth's centre region
    out to beyond geostationary altitude, no iteration.  ``xyz`` is
    ``(..., 3)`` (extra trailing columns are ignored); the three results
    have its leading shape, numpy scalars for a single point ``(3,)``.
    """
    pts = np.ascontiguousarray(xyz, dtype=float)
    if pts.ndim == 2 and pts.shape[1] == 3:  # the common case: (n, 3) in, (n,) out
        out = _ecef_to_geodetic_compiled(pts)
        return out[0], out[1], out[2]
    out = _ecef_to_geodetic_compiled(np.ascontiguousarray(pts[..., :3]).reshape(-1, 3))
    shape = pts.shape[:-1]
    if not shape:
        return out[0, 0], out[1, 0], out[2, 0]
    return out[0].reshape(shape), out[1].reshape(shape), out[2].reshape(shape)


@njit(cache=True, inline="always", error_model="numpy")
def geodetic_of(x, y, z):
    """Geodetic (lat, lon, height) of one ECEF point: Heikkinen's closed form (Zhu 1994).

    With p² = x² + y², F = 54 b² z², G = p² + (1 − e²) z² − e² (a² − b²),
    c = e⁴ F p² / G³, s = ∛(1 + c + √(c² + 2c)), P = F / (3 (s + 1 + 1/s)² G²),
    Q = √(1 + 2 e⁴ P):

        r₀ = −P e² p / (1 + Q) + √(a²/2 (1 + 1/Q) − P (1 − e²) z² / (Q (1 + Q)) − P p²/2)
        U  = √((p − e² r₀)² + z²),   V = √((p − e² r₀)² + (1 − e²) z²),   z₀ = b² z / (a V)
        h  = U (1 − b² / (a V)),     φ = atan((z + e'² z₀) / p),          λ = atan2(y, x)

    Compiled (numba); the loops that call it inline it.  NaN in, NaN out.
    """
    p, z0, alt = _heikkinen(x, y, z)
    return np.arctan((z + EP2 * z0) / p), np.arctan2(y, x), alt


@njit(cache=True, inline="always", error_model="numpy")
def _heikkinen(x, y, z):
    """p, z₀ and the height h of :func:`geodetic_of`: all a height needs, without the two arc tangents."""
    p2 = x * x + y * y
    p = np.sqrt(p2)
    z2 = z * z
    f = 54.0 * B_M * B_M * z2
    g = p2 + (1.0 - E2) * z2 - E2 * (A_M * A_M - B_M * B_M)
    c = E2 * E2 * f * p2 / (g * g * g)
    s = np.cbrt(1.0 + c + np.sqrt(c * c + 2.0 * c))
    k = s + 1.0 + 1.0 / s
    pp = f / (3.0 * k * k * g * g)
    q = np.sqrt(1.0 + 2.0 * E2 * E2 * pp)
    r0 = -pp * E2 * p / (1.0 + q) + np.sqrt(
        np.maximum(0.5 * A_M * A_M * (1.0 + 1.0 / q) - pp * (1.0 - E2) * z2 / (q * (1.0 + q)) - 0.5 * pp * p2, 0.0)
    )
    d = p - E2 * r0
    u = np.sqrt(d * d + z2)
    v = np.sqrt(d * d + (1.0 - E2) * z2)
    z0 = B_M * B_M * z / (A_M * v)
    alt = u * (1.0 - B_M * B_M / (A_M * v))
    return p, z0, alt


@njit(cache=True, error_model="numpy")
def _ecef_to_geodetic_compiled(xyz):  # pragma: no cover - compiled; checked against the numpy form and pymap3d
    """(lat, lon, height) of points (n, 3) as the rows of one (3, n) array (one array out of the compiled code)."""
    n = xyz.shape[0]
    out = np.empty((3, n))
    for i in range(n):
        out[0, i], out[1, i], out[2, i] = geodetic_of(xyz[i, 0], xyz[i, 1], xyz[i, 2])
    return out


def enu_rotation(lat_rad, lon_rad) -> np.ndarray:
    """Rotation matrix (``(..., 3, 3)``) taking ECEF vectors to local East-North-Up."""
    lat = np.asarray(lat_rad, dtype=float)
    lon = np.asarray(lon_rad, dtype=float)
    sl, cl = np.sin(lat), np.cos(lat)
    so, co = np.sin(lon), np.cos(lon)
    zero = np.zeros_like(sl * so)
    rows = [
        np.stack(np.broadcast_arrays(-so, co, zero), axis=-1),
        np.stack(np.broadcast_arrays(-sl * co, -sl * so, cl), axis=-1),
        np.stack(np.broadcast_arrays(cl * co, cl * so, sl), axis=-1),
    ]
    return np.stack(rows, axis=-2)


def ecef_to_enu(xyz, lat0_rad, lon0_rad, alt0_m) -> np.ndarray:
    """ECEF points to ENU coordinates about the geodetic origin (lat0, lon0, alt0)."""
    origin = geodetic_to_ecef(lat0_rad, lon0_rad, alt0_m)
    rot = enu_rotation(lat0_rad, lon0_rad)
    return np.einsum("...ij,...j->...i", rot, np.asarray(xyz, dtype=float) - origin)


def enu_to_ecef(enu, lat0_rad, lon0_rad, alt0_m) -> np.ndarray:
    """ENU coordinates about the geodetic origin back to ECEF points."""
    origin = geodetic_to_ecef(lat0_rad, lon0_rad, alt0_m)
    rot = enu_rotation(lat0_rad, lon0_rad)
    return np.einsum("...ji,...j->...i", rot, np.asarray(enu, dtype=float)) + origin


def enu_to_razel(enu) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ENU vector to slant range (m), azimuth from north clockwise (rad, [0, 2π)), elevation (rad)."""
    enu = np.asarray(enu, dtype=float)
    e, n, u = enu[..., 0], enu[..., 1], enu[..., 2]
    horiz = np.hypot(e, n)
    rng = np.hypot(horiz, u)
    az = np.mod(np.arctan2(e, n), 2.0 * np.pi)
    el = np.arctan2(u, horiz)
    return rng, az, el


@njit(cache=True, inline="always", error_model="numpy")
def razel_of(e, n, u):
    """:func:`enu_to_razel` of one ENU vector, compiled: (range, azimuth, elevation, horizontal range √(e² + n²))."""
    horiz = np.hypot(e, n)
    return np.hypot(horiz, u), np.mod(np.arctan2(e, n), 2.0 * np.pi), np.arctan2(u, horiz), horiz


def razel_to_enu(range_m, az_rad, el_rad) -> np.ndarray:
    """Slant range, azimuth (from north, clockwise) and elevation to an ENU vector."""
    r = np.asarray(range_m, dtype=float)
    az = np.asarray(az_rad, dtype=float)
    el = np.asarray(el_rad, dtype=float)
    ce = np.cos(el)
    return np.stack(np.broadcast_arrays(r * ce * np.sin(az), r * ce * np.cos(az), r * np.sin(el)), axis=-1)


def wrap_angle(a):
    """Wrap angles to (-π, π]."""
    return np.pi - np.mod(np.pi - np.asarray(a, dtype=float), 2.0 * np.pi)


def great_circle_distance_m(lat1_rad, lon1_rad, lat2_rad, lon2_rad, radius_m: float = MEAN_RADIUS_M):
    """Haversine distance on a sphere of the mean Earth radius (m)."""
    dlat = np.asarray(lat2_rad) - np.asarray(lat1_rad)
    dlon = np.asarray(lon2_rad) - np.asarray(lon1_rad)
    h = np.sin(dlat / 2) ** 2 + np.cos(lat1_rad) * np.cos(lat2_rad) * np.sin(dlon / 2) ** 2
    return 2.0 * radius_m * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def initial_bearing_rad(lat1_rad, lon1_rad, lat2_rad, lon2_rad):
    """Initial great-circle bearing from point 1 to point 2 (rad from north, clockwise)."""
    dlon = np.asarray(lon2_rad) - np.asarray(lon1_rad)
    y = np.sin(dlon) * np.cos(lat2_rad)
    x = np.cos(lat1_rad) * np.sin(lat2_rad) - np.sin(lat1_rad) * np.cos(lat2_rad) * np.cos(dlon)
    return np.mod(np.arctan2(y, x), 2.0 * np.pi)


def destination(lat_rad, lon_rad, bearing_rad, distance_m, radius_m: float = MEAN_RADIUS_M):
    """Point reached from (lat, lon) along a great circle of the given bearing (sphere)."""
    d = np.asarray(distance_m, dtype=float) / radius_m
    lat = np.asarray(lat_rad, dtype=float)
    brg = np.asarray(bearing_rad, dtype=float)
    lat2 = np.arcsin(np.sin(lat) * np.cos(d) + np.cos(lat) * np.sin(d) * np.cos(brg))
    lon2 = lon_rad + np.arctan2(np.sin(brg) * np.sin(d) * np.cos(lat), np.cos(d) - np.sin(lat) * np.sin(lat2))
    return lat2, wrap_angle(lon2)


def horizon_range_m(radar_height_m, target_height_m, k: float = EFFECTIVE_EARTH_FACTOR):
    """Radar-horizon ground range (m) in the k-Earth model: sqrt(2kRh_r) + sqrt(2kRh_t)."""
    re = k * MEAN_RADIUS_M
    hr = np.maximum(np.asarray(radar_height_m, dtype=float), 0.0)
    ht = np.maximum(np.asarray(target_height_m, dtype=float), 0.0)
    return np.sqrt(2.0 * re * hr + hr * hr) + np.sqrt(2.0 * re * ht + ht * ht)


def line_of_sight(radar_height_m, target_height_m, ground_range_m, k: float = EFFECTIVE_EARTH_FACTOR):
    """True where the straight ray clears a smooth Earth of radius k·R (refraction model).

    The radar sits at height h_r above the effective sphere, the target at h_t,
    separated by the central angle ground_range / R_eff.  The ray is blocked when
    the sphere intrudes between them, i.e. when the closest point of the segment
    to the sphere's centre lies inside the sphere.  :func:`clears_horizon` is
    the same test for one point, compiled.
    """
    re = k * MEAN_RADIUS_M
    hr = np.maximum(np.asarray(radar_height_m, dtype=float), 0.0)
    ht = np.maximum(np.asarray(target_height_m, dtype=float), 0.0)
    theta = np.asarray(ground_range_m, dtype=float) / re
    r1 = re + hr
    r2 = re + ht
    # Segment from P1 = (0, r1) to P2 = (r2 sinθ, r2 cosθ); distance of the origin to it.
    dx = r2 * np.sin(theta)
    dy = r2 * np.cos(theta) - r1
    seg2 = dx * dx + dy * dy
    t = np.clip(-(0.0 * dx + r1 * dy) / np.where(seg2 > 0, seg2, 1.0), 0.0, 1.0)
    cx = t * dx
    cy = r1 + t * dy
    return cx * cx + cy * cy >= re * re * (1.0 - 1e-12)


@njit(cache=True, inline="always", error_model="numpy")
def clears_horizon(radar_height_m, target_height_m, ground_range_m, k=EFFECTIVE_EARTH_FACTOR):
    """:func:`line_of_sight` for one radar and one target: compiled (numba), operation for operation.

    With R = k·R_mean, r₁ = R + h_r, r₂ = R + h_t, θ = ground range / R, the
    segment P₁ = (0, r₁) → P₂ = (r₂ sin θ, r₂ cos θ) = P₁ + (dx, dy) comes
    closest to the centre at t* = clip(−P₁·(dx, dy) / |(dx, dy)|², 0, 1); the
    ray clears the sphere when |P₁ + t*(dx, dy)| ≥ R (less a 1e-12 relative
    tolerance).  False where a height is NaN.
    """
    re = k * MEAN_RADIUS_M
    hr = np.maximum(radar_height_m, 0.0)
    ht = np.maximum(target_height_m, 0.0)
    theta = ground_range_m / re
    r1 = re + hr
    r2 = re + ht
    dx = r2 * np.sin(theta)
    dy = r2 * np.cos(theta) - r1
    seg2 = dx * dx + dy * dy
    t = np.minimum(np.maximum(-(0.0 * dx + r1 * dy) / (seg2 if seg2 > 0 else 1.0), 0.0), 1.0)
    cx = t * dx
    cy = r1 + t * dy
    return cx * cx + cy * cy >= re * re * (1.0 - 1e-12)


@njit(cache=True, inline="always", error_model="numpy")
def in_coverage(x, y, z, e, n, u, radar_alt_m, min_range_m, max_range_m, min_el_rad, max_el_rad, az_center_rad,
                az_half_width_rad):
    """Whether one target lies inside a radar's nominal coverage volume; compiled (numba).

    The target is at ECEF (x, y, z) and at (e, n, u) in the radar's ENU
    frame.  Inside means, with range, azimuth, elevation and horizontal
    range as :func:`razel_of` gives them: min_range ≤ R ≤ max_range,
    min_el ≤ el ≤ max_el, |wrap(az − az_center)| ≤ az_half_width (tested
    only for a sector narrower than 360°, ``az_half_width < π``), and the
    ray from the radar at ``radar_alt_m`` to the target at its geodetic
    height (:func:`geodetic_of`) clears the 4/3 Earth (:func:`clears_horizon`).
    Each quantity is computed only once the tests before it have passed.
    False where anything is NaN.
    """
    horiz = np.hypot(e, n)
    rng = np.hypot(horiz, u)
    if not (rng <= max_range_m and rng >= min_range_m):
        return False
    el = np.arctan2(u, horiz)
    if not (el >= min_el_rad and el <= max_el_rad):
        return False
    if az_half_width_rad < np.pi:
        az = np.mod(np.arctan2(e, n), 2.0 * np.pi)
        off = np.pi - np.mod(np.pi - (az - az_center_rad), 2.0 * np.pi)  # wrap_angle
        if not np.abs(off) <= az_half_width_rad:
            return False
    _, _, h = _heikkinen(x, y, z)
    return clears_horizon(radar_alt_m, h, horiz)


@njit(cache=True, error_model="numpy")
def coverage(xyz, enu, radar_alt_m, min_range_m, max_range_m, min_el_rad, max_el_rad, az_center_rad,
             az_half_width_rad):  # pragma: no cover - compiled; checked against the numpy form in the tests
    """:func:`in_coverage` (compiled) for ECEF points ``xyz`` (n, 3) and their ENU vectors ``enu`` (n, 3)."""
    n = xyz.shape[0]
    ok = np.empty(n, dtype=np.bool_)
    for i in range(n):
        ok[i] = in_coverage(xyz[i, 0], xyz[i, 1], xyz[i, 2], enu[i, 0], enu[i, 1], enu[i, 2], radar_alt_m,
                            min_range_m, max_range_m, min_el_rad, max_el_rad, az_center_rad, az_half_width_rad)
    return ok


@njit(cache=True, inline="always", error_model="numpy")
def radial_height(x, y, z):
    """:func:`height_m` of one point, operation for operation (numpy's einsum sums r·r as (x² + z²) + y²); compiled.

    A lower bound of the geodetic height ``h``: where the radius meets the
    ellipsoid, its tangent plane has the whole (convex) ellipsoid below it,
    so a point above the ellipsoid is at least ``h_r cos δ`` from it, ``δ``
    (under 0.2°) the angle between the radius and the normal there; a point
    below is at most ``|h_r|`` from it.  So ``h ≥ 0.999 h_r`` above and
    ``h ≥ h_r`` below.
    """
    r2 = (x * x + z * z) + y * y
    s2 = z * z / r2
    re = A_M * B_M / np.sqrt(B_M * B_M * (1.0 - s2) + A_M * A_M * s2)
    return np.sqrt(r2) - re


def height_m(xyz) -> np.ndarray:
    """Height above the ellipsoid along the radius (m): |r| minus the ellipsoid radius there.

    Differs from the geodetic height by about h·(e²·sin 2φ / 2)²/2: about 1 m
    at 200 km and 3 m at 500 km, at a fraction of :func:`ecef_to_geodetic`'s cost; for
    the altitude tests of propagation loops.
    """
    xyz = np.asarray(xyz, dtype=float)
    r2 = np.einsum("...i,...i->...", xyz, xyz)
    s2 = xyz[..., 2] ** 2 / r2  # sin² of the geocentric latitude
    # Ellipsoid radius at geocentric latitude: ab / sqrt(b² cos² + a² sin²).
    re = A_M * B_M / np.sqrt(B_M * B_M * (1.0 - s2) + A_M * A_M * s2)
    return np.sqrt(r2) - re
