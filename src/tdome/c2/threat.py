"""Threat evaluation: where each confirmed track is going, when, and what it endangers.

Ballistic tracks are propagated with the same free-flight model the world
uses (:mod:`tdome.dynamics`) until they cross the ellipsoid, which gives the
predicted impact point and time to impact.  Air-breathing tracks are projected
along their current great-circle ground track at constant speed and altitude
over a horizon.  A track endangers an asset when its predicted impact, or its
projected path, comes within a margin of the asset's footprint; threats that
endanger nothing get no value and are never engaged.

Every track carries a prediction as nodes ``(t, position, velocity)`` on a
common time grid, so the assignment stage can ask for predicted positions at
any future time by cubic Hermite interpolation (exact to centimetres for
vacuum free flight with 10 s nodes).

It runs every C2 cycle for every track against every asset, so the stage is
three compiled (numba) calls over the whole picture, with the impact
covariances' projection on the ground and its eigenvalues (numpy, LAPACK)
between them: :func:`_classify_tracks`
(every track's kinematics, ballistic flag and class), :func:`_predict_paths`
(every track's prediction nodes, free flight or great circle, and every
impact's covariance) and :func:`_endangered` (every impact and every path
against every footprint).  Their parts, :func:`track_kinematics`,
:func:`_great_circle_nodes`, :func:`_first_asset_reached` and
:func:`footprint_distances`, and the Hermite interpolation of the nodes
(:func:`_hermite_point`) perform the floating-point operations of the numpy
expressions they stand for (:mod:`tdome.geo`'s great-circle functions and
height, :meth:`~tdome.messages.DefendedAsset.distance_m`, the stage's numpy
form) in the same order, so both give bit-for-bit the same numbers (tests
hold them to it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from tdome import dynamics, geo
from tdome.c2.config import ThreatConfig
from tdome.c2.tracking.classification import KinematicClass
from tdome.messages import THREAT_CLASSES, DefendedAsset
from tdome.messages import ThreatClass as TC

_G0 = 9.80665
# The class codes as plain ints (an enum member's lookup costs more than the array operation it feeds).
_BALLISTIC, _ROCKET, _CRUISE, _DRONE, _AIRCRAFT = (int(c) for c in (TC.BALLISTIC, TC.ROCKET, TC.CRUISE, TC.DRONE,
                                                                   TC.AIRCRAFT))
_SLOW, _FAST = int(KinematicClass.SLOW), int(KinematicClass.FAST)


@dataclass
class ThreatPicture:
    """Evaluated threats, one row per evaluated confirmed track."""

    time_s: float
    track_id: np.ndarray  # (n,)
    cls: np.ndarray  # (n,) index into THREAT_CLASSES
    node_t: np.ndarray  # (K,) seconds after time_s
    node_pos: np.ndarray  # (n, K, 3) ECEF, NaN after impact
    node_vel: np.ndarray  # (n, K, 3)
    impact_ecef: np.ndarray  # (n, 3), NaN when no impact is predicted within the horizon
    time_to_go_s: np.ndarray  # (n,) to impact (ballistic) or to reaching the asset (air)
    asset: np.ndarray  # (n,) index of the endangered asset, -1 for none
    value: np.ndarray  # (n,) value at risk
    ambiguous: np.ndarray  # (n,) ballistic track that may be a rocket or a missile

    def plausible_pk(self, pk: dict[str, float], rows: np.ndarray | Sequence[int] | None = None) -> np.ndarray:
        """Kill probability an interceptor with table ``pk`` can count on against each row.

        For an ambiguous ballistic track it is the lower of the rocket and
        missile figures: the battle manager plans for the class it cannot rule out.
        """
        return self.plausible_pks([pk], rows)[0]

    def plausible_pks(self, pks: Sequence[dict[str, float]],
                      rows: np.ndarray | Sequence[int] | None = None) -> np.ndarray:
        """:meth:`plausible_pk` of several interceptors' tables at once: (len(pks), rows)."""
        return self.plausible_pks_of(pk_table(pks), rows)

    def plausible_pks_of(self, table: np.ndarray, rows: np.ndarray | Sequence[int] | None = None) -> np.ndarray:
        """:meth:`plausible_pks` of the interceptors' tables as one array (:func:`pk_table`)."""
        rows = np.arange(len(self)) if rows is None else np.asarray(rows, dtype=int)
        both = np.minimum(table[:, TC.BALLISTIC], table[:, TC.ROCKET])[:, None]
        p = table[:, self.cls[rows]]
        return np.where(self.ambiguous[rows][None, :], np.minimum(p, both), p)

    def __len__(self) -> int:
        return int(self.track_id.shape[0])

    @property
    def class_names(self) -> list[str]:
        return [THREAT_CLASSES[c] for c in self.cls]

    def positions_at(self, rel_t: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Predicted ECEF positions (m, T, 3) of rows at times ``time_s + rel_t`` (T,).

        Cubic Hermite interpolation between nodes (:func:`_hermite_grid`); NaN
        past a track's impact or horizon.
        """
        rows = np.arange(len(self)) if rows is None else np.asarray(rows)
        return _hermite_grid(*self._node_arrays(), rows.reshape(-1), np.asarray(rel_t, dtype=float).reshape(-1))

    def position_each_at(self, rel_t: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Predicted ECEF position (n, 3) of each row ``rows[i]`` at its own time ``time_s + rel_t[i]``.

        As :meth:`positions_at`, one time per row: the same numbers as
        ``positions_at(rel_t[i:i+1], rows[i:i+1])[0, 0]``, for all rows in one call.
        """
        rows, rel = np.broadcast_arrays(np.asarray(rows), np.asarray(rel_t, dtype=float))
        out = _hermite_each(*self._node_arrays(), np.ascontiguousarray(rows).reshape(-1),
                            np.ascontiguousarray(rel).reshape(-1))
        return out.reshape(rows.shape + (3,))

    def _node_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (np.ascontiguousarray(self.node_t, dtype=float), np.ascontiguousarray(self.node_pos, dtype=float),
                np.ascontiguousarray(self.node_vel, dtype=float))


@njit(cache=True, inline="always", error_model="numpy")
def _hermite_point(node_t, node_pos, node_vel, r, t, out):
    """Cubic Hermite interpolation of row r at time t between nodes h apart, into ``out`` (3,).

    With node k before t (k clipped to the first and the last interval), s = (t − t_k)/h:
    p(t) = (2s³ − 3s² + 1) p_k + (s³ − 2s² + s) h v_k + (−2s³ + 3s²) p_k+1 + (s³ − s²) h v_k+1;
    NaN past the last node.  The operations of the numpy form it replaced, in its order.
    """
    if t > node_t[-1]:
        out[:] = np.nan
        return
    h = node_t[1] - node_t[0]
    last = node_t.shape[0] - 2
    q = np.floor(t / h)
    k = last if q >= last else int(q) if q >= 0 else 0  # NaN: 0, as numpy's clipped cast gives
    s = (t - node_t[k]) / h
    s2, s3 = s * s, s * s * s
    a, b, c, d = 2 * s3 - 3 * s2 + 1, s3 - 2 * s2 + s, -2 * s3 + 3 * s2, s3 - s2
    for x in range(3):
        out[x] = (a * node_pos[r, k, x] + b * (node_vel[r, k, x] * h) + c * node_pos[r, k + 1, x]
                  + d * (node_vel[r, k + 1, x] * h))


@njit(cache=True, error_model="numpy")
def _hermite_grid(node_t, node_pos, node_vel, rows, rel):  # pragma: no cover - compiled; checked against numpy
    """Positions (m, T, 3) of rows (m,) at every time of ``rel`` (T,) (:func:`_hermite_point`)."""
    out = np.empty((rows.shape[0], rel.shape[0], 3))
    for i in range(rows.shape[0]):
        for j in range(rel.shape[0]):
            _hermite_point(node_t, node_pos, node_vel, rows[i], rel[j], out[i, j])
    return out


@njit(cache=True, error_model="numpy")
def _hermite_each(node_t, node_pos, node_vel, rows, rel):  # pragma: no cover - compiled; checked against numpy
    """Position (n, 3) of each row ``rows[i]`` at its own time ``rel[i]`` (:func:`_hermite_point`)."""
    out = np.empty((rows.shape[0], 3))
    for i in range(rows.shape[0]):
        _hermite_point(node_t, node_pos, node_vel, rows[i], rel[i], out[i])
    return out


def pk_table(pks: Sequence[dict[str, float]]) -> np.ndarray:
    """Interceptors' kill probability tables as one array (len(pks), classes), in the order of THREAT_CLASSES."""
    return np.array([[pk.get(c, 0.0) for c in THREAT_CLASSES] for pk in pks], dtype=float).reshape(
        -1, len(THREAT_CLASSES))


def classify(x: np.ndarray, ballistic: np.ndarray, cfg: ThreatConfig,
             kin_class: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Threat class of each track from its state (n, 6), the ballistic flag and the tracker's kinematic class.

    Ballistic tracks are ranked by specific energy E = v²/2 + g·h through its
    flat-Earth range equivalent 2E/g (the range of a 45° shot with that
    energy).  Below the ambiguity band they are rockets, above it missiles;
    inside it the best guess is the nearer class and the track is flagged
    ambiguous.  Air-breathing tracks are drones when the tracker classed
    them slow (``kin_class``, decided with a margin of the speed's σ and kept
    between clear decisions), otherwise cruise missiles or aircraft by
    altitude; a track the tracker has not classed yet goes by its speed.

    Returns ``(cls, ambiguous)``.
    """
    alt, speed, _ = track_kinematics(x)
    energy_range = (speed**2 + 2 * _G0 * np.maximum(alt, 0.0)) / _G0
    slow = speed < cfg.slow_speed_mps
    if kin_class is not None:
        slow = np.where(kin_class == _SLOW, True, np.where(kin_class == _FAST, False, slow))
    cls = np.where(slow, _DRONE, np.where(alt > cfg.aircraft_min_alt_m, _AIRCRAFT, _CRUISE))
    mid_band = 0.5 * (cfg.ambiguous_min_range_m + cfg.ambiguous_max_range_m)
    cls = np.where(ballistic, np.where(energy_range < mid_band, _ROCKET, _BALLISTIC), cls)
    ambiguous = ballistic & (energy_range >= cfg.ambiguous_min_range_m) & (energy_range <= cfg.ambiguous_max_range_m)
    return cls.astype(int), ambiguous


def ballistic_like(x: np.ndarray, cfg: ThreatConfig, P: np.ndarray | None = None) -> np.ndarray:
    """Tracks whose altitude, climb rate or speed no air-breathing threat reaches.

    With the covariances ``P`` (n, 6, 6) the climb rate must exceed its
    threshold by ``ballistic_like_climb_sigmas`` of its standard deviation
    (:func:`climb_margin`): a young drone track's vertical velocity is loose.
    """
    if len(x) == 0:
        return np.zeros(0, dtype=bool)
    alt, speed, climb = track_kinematics(x)
    margin = np.zeros(len(x)) if P is None else climb_margin(x, P, cfg)
    return (alt > cfg.ballistic_like_alt_m) | (np.abs(climb) - margin > cfg.ballistic_like_vspeed_mps) | (
        speed > cfg.ballistic_like_speed_mps)


def climb_margin(x: np.ndarray, P: np.ndarray, cfg: ThreatConfig) -> np.ndarray:
    """``ballistic_like_climb_sigmas`` standard deviations (n,) of each track's climb rate (velocity along its
    radius) under its covariance ``P`` (n, 6, 6)."""
    x = np.ascontiguousarray(x, dtype=float).reshape(-1, 6)
    up = x[:, :3] / np.linalg.norm(x[:, :3], axis=1, keepdims=True)
    var = np.einsum("ni,nij,nj->n", up, np.asarray(P, dtype=float).reshape(-1, 6, 6)[:, 3:, 3:], up)
    return cfg.ballistic_like_climb_sigmas * np.sqrt(np.maximum(var, 0.0))


def track_kinematics(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Height above the ellipsoid (:func:`tdome.geo.height_m`), speed and climb rate of states (n, 6).

    Climb rate is the velocity along the radius, v·r/|r|.  One compiled loop
    (:func:`_kinematics`) over the tracks; the same numbers as the numpy
    expressions ``geo.height_m(x[:, :3])``, ``np.linalg.norm(x[:, 3:], axis=1)``
    and ``np.einsum("ij,ij->i", x[:, 3:], x[:, :3] / np.linalg.norm(x[:, :3], axis=1, keepdims=True))``.
    """
    return _kinematics(np.ascontiguousarray(x, dtype=float).reshape(-1, 6))


@njit(cache=True, error_model="numpy")
def _kinematics(x):  # pragma: no cover - compiled; checked against the numpy expressions in the tests
    """Per state r = (x, y, z), v: h = |r| − ab / √(b² cos²ψ + a² sin²ψ) with sin²ψ = z²/|r|², |v|, v·r/|r|.

    Sums of three products are taken in the order numpy takes them: einsum
    (height, climb) as (x + z) + y, the norm as (x + y) + z.
    """
    n = x.shape[0]
    alt, speed, climb = np.empty(n), np.empty(n), np.empty(n)
    for i in range(n):
        px, py, pz, vx, vy, vz = x[i, 0], x[i, 1], x[i, 2], x[i, 3], x[i, 4], x[i, 5]
        r2 = (px * px + pz * pz) + py * py
        s2 = pz * pz / r2
        alt[i] = np.sqrt(r2) - geo.A_M * geo.B_M / np.sqrt(geo.B_M * geo.B_M * (1.0 - s2) + geo.A_M * geo.A_M * s2)
        r = np.sqrt((px * px + py * py) + pz * pz)
        ux, uy, uz = px / r, py / r, pz / r
        climb[i] = (vx * ux + vz * uz) + vy * uy
        speed[i] = np.sqrt((vx * vx + vy * vy) + vz * vz)
    return alt, speed, climb


def _air_nodes(pos, vel, node_t):
    """Great-circle projection at constant ground speed, heading and altitude.

    Returns ``(node_pos, node_vel, node_lat, node_lon)``, nodes (n, K, 3) and
    (n, K), every node of every track in one compiled loop
    (:func:`_great_circle_nodes`).
    """
    lat, lon, alt = geo.ecef_to_geodetic(pos)
    return _great_circle_nodes(np.ascontiguousarray(lat, dtype=float), np.ascontiguousarray(lon, dtype=float),
                               np.ascontiguousarray(alt, dtype=float), np.ascontiguousarray(vel, dtype=float),
                               node_t)


@njit(cache=True, inline="always", error_model="numpy")
def _destination(sin_lat, cos_lat, lon, sin_brg, cos_brg, distance_m):
    """:func:`tdome.geo.destination` for one point, given the start's sines and cosines; ``(lat₂, lon₂, sin lat₂)``.

    With δ = d / R:  φ₂ = asin(sin φ cos δ + cos φ sin δ cos θ),
    λ₂ = wrap(λ + atan2(sin θ sin δ cos φ, cos δ − sin φ sin φ₂)).
    """
    d = distance_m / geo.MEAN_RADIUS_M
    sd, cd = np.sin(d), np.cos(d)
    lat2 = np.arcsin(sin_lat * cd + cos_lat * sd * cos_brg)
    sin_lat2 = np.sin(lat2)
    lon2 = lon + np.arctan2(sin_brg * sd * cos_lat, cd - sin_lat * sin_lat2)
    return lat2, np.pi - np.mod(np.pi - lon2, 2.0 * np.pi), sin_lat2


@njit(cache=True, error_model="numpy")
def _great_circle_nodes(lat, lon, alt, vel, node_t):  # pragma: no cover - compiled; checked against numpy
    """Nodes of great-circle paths flown at constant ground speed, heading and height.

    Track i starts at (φ, λ, alt) with ECEF velocity v; its ground speed and
    heading come from the velocity's east and north components,
    v_e = ê·v, v_n = n̂·v with ê = (−sin λ, cos λ, 0),
    n̂ = (−sin φ cos λ, −sin φ sin λ, cos φ) (:func:`tdome.geo.enu_rotation`):
    gs = hypot(v_e, v_n), θ = atan2(v_e, v_n).  Node k lies d = gs·t_k along
    the great circle from (φ, λ) at initial bearing θ (:func:`_destination`),
    at height max(alt, 0) (:func:`tdome.geo.geodetic_to_ecef`).  Its velocity
    is the ground speed along the local course there, the bearing β from the
    node to the point 1 m further on (:func:`tdome.geo.initial_bearing_rad`),
    turned into ECEF with the node's ê and n̂: gs (sin β ê + cos β n̂).
    Returns ``(node_pos, node_vel, node_lat, node_lon)``.
    """
    n, n_nodes = lat.shape[0], node_t.shape[0]
    node_pos, node_vel = np.empty((n, n_nodes, 3)), np.empty((n, n_nodes, 3))
    node_lat, node_lon = np.empty((n, n_nodes)), np.empty((n, n_nodes))
    for i in range(n):
        sin_lat, cos_lat = np.sin(lat[i]), np.cos(lat[i])
        sin_lon, cos_lon = np.sin(lon[i]), np.cos(lon[i])
        vx, vy, vz = vel[i, 0], vel[i, 1], vel[i, 2]
        # ê·v and n̂·v, summed as numpy's einsum sums a row of three: (x + z) + y
        v_e = (-sin_lon * vx + 0.0 * vz) + cos_lon * vy
        v_n = (-sin_lat * cos_lon * vx + cos_lat * vz) + -sin_lat * sin_lon * vy
        gs = np.hypot(v_e, v_n)
        hdg = np.arctan2(v_e, v_n)
        sin_brg, cos_brg = np.sin(hdg), np.cos(hdg)
        h = max(alt[i], 0.0)
        for k in range(n_nodes):
            dist = gs * node_t[k]
            lat2, lon2, sl = _destination(sin_lat, cos_lat, lon[i], sin_brg, cos_brg, dist)
            lat3, lon3, sin_lat3 = _destination(sin_lat, cos_lat, lon[i], sin_brg, cos_brg, dist + 1.0)
            cl, so, co = np.cos(lat2), np.sin(lon2), np.cos(lon2)
            # geodetic -> ECEF, N = a / √(1 − e² sin²φ)
            big_n = geo.A_M / np.sqrt(1.0 - geo.E2 * sl * sl)
            node_pos[i, k, 0] = (big_n + h) * cl * co
            node_pos[i, k, 1] = (big_n + h) * cl * so
            node_pos[i, k, 2] = (big_n * (1.0 - geo.E2) + h) * sl
            # local course: β = atan2(sin Δλ cos φ₃, cos φ₂ sin φ₃ − sin φ₂ cos φ₃ cos Δλ) mod 2π
            dlon = lon3 - lon2
            cos_lat3 = np.cos(lat3)
            brg = np.mod(np.arctan2(np.sin(dlon) * cos_lat3, cl * sin_lat3 - sl * cos_lat3 * np.cos(dlon)), 2.0 * np.pi)
            ve, vn = gs * np.sin(brg), gs * np.cos(brg)
            node_vel[i, k, 0] = -so * ve + -sl * co * vn
            node_vel[i, k, 1] = co * ve + -sl * so * vn
            node_vel[i, k, 2] = cl * vn
            node_lat[i, k], node_lon[i, k] = lat2, lon2
    return node_pos, node_vel, node_lat, node_lon


@dataclass(frozen=True)
class Footprints:
    """The defended assets' footprints as arrays, the form the compiled kernels take.

    Point assets: centre (lat, lon) and radius.  Polygons: their vertices in
    the asset's local plane, x east and y north in metres
    (:meth:`~tdome.messages.DefendedAsset.polygon_xy_m`), those of asset a at
    ``poly_x[poly_start[a]:poly_start[a + 1]]`` (none for a point).  Every
    footprint lies within the band of northings [band_lo, band_hi] (m, from
    the asset's latitude on the mean sphere): a point whose northing is
    further than m from the band is further than m from the footprint.
    """

    lat: np.ndarray  # (A,)
    lon: np.ndarray  # (A,)
    radius: np.ndarray  # (A,)
    value: np.ndarray  # (A,)
    band_lo: np.ndarray  # (A,)
    band_hi: np.ndarray  # (A,)
    poly_start: np.ndarray  # (A + 1,)
    poly_x: np.ndarray  # (V,)
    poly_y: np.ndarray  # (V,)

    @property
    def kernel_args(self) -> tuple[np.ndarray, ...]:
        """The arrays the compiled kernels take, in their order."""
        return (self.lat, self.lon, self.radius, self.band_lo, self.band_hi, self.poly_start, self.poly_x,
                self.poly_y)


_FOOTPRINTS: dict[tuple[int, ...], tuple[tuple[DefendedAsset, ...], Footprints]] = {}


def footprints(assets: Sequence[DefendedAsset]) -> Footprints:
    """The footprints of ``assets`` as arrays.

    Kept by the assets' identities (they are frozen; the cache holds them, so
    an identity is not reused while its entry lives): a C2 node defends the
    same assets every cycle.
    """
    key = tuple(map(id, assets))
    hit = _FOOTPRINTS.get(key)
    if hit is None:
        if len(_FOOTPRINTS) >= 16:
            _FOOTPRINTS.clear()
        hit = _FOOTPRINTS[key] = (tuple(assets), _footprints(assets))
    return hit[1]


def _footprints(assets: Sequence[DefendedAsset]) -> Footprints:
    xs, ys, start, lo, hi = [], [], [0], [], []
    for a in assets:
        if a.polygon_latlon_rad:
            px, py = a.polygon_xy_m()
            lo.append(float(np.min(py)))
            hi.append(float(np.max(py)))
        else:
            px = py = np.zeros(0)
            lo.append(-a.radius_m)
            hi.append(a.radius_m)
        xs.append(px)
        ys.append(py)
        start.append(start[-1] + px.size)

    def arr(v) -> np.ndarray:
        return np.array(v, dtype=float)

    return Footprints(arr([a.lat_rad for a in assets]), arr([a.lon_rad for a in assets]),
                      arr([a.radius_m for a in assets]), arr([a.value for a in assets]), arr(lo), arr(hi),
                      np.array(start, dtype=np.int64), np.concatenate([np.zeros(0), *xs]),
                      np.concatenate([np.zeros(0), *ys]))


@njit(cache=True, inline="always", error_model="numpy")
def _footprint_distance(a, lat, lon, f_lat, f_lon, f_radius, poly_start, poly_x, poly_y):
    """:meth:`tdome.messages.DefendedAsset.distance_m` of asset ``a`` for one point, operation for operation.

    A point asset: the haversine distance to its centre less its radius, at
    least 0, d = 2R asin √(sin²(Δφ/2) + cos φ_a cos φ sin²(Δλ/2)).  A polygon:
    the distance in its local plane, x = Δλ cos φ_a R, y = Δφ R, to the
    nearest edge, 0 inside (even-odd rule; ``_distance_to_polygon``).
    """
    v0, v1 = poly_start[a], poly_start[a + 1]
    if v0 == v1:
        s_lat, s_lon = np.sin((lat - f_lat[a]) / 2), np.sin((lon - f_lon[a]) / 2)
        hav = s_lat * s_lat + np.cos(f_lat[a]) * np.cos(lat) * (s_lon * s_lon)
        d = 2.0 * geo.MEAN_RADIUS_M * np.arcsin(np.sqrt(min(max(hav, 0.0), 1.0)))
        return max(d - f_radius[a], 0.0)
    x = (lon - f_lon[a]) * np.cos(f_lat[a]) * geo.MEAN_RADIUS_M
    y = (lat - f_lat[a]) * geo.MEAN_RADIUS_M
    d2 = np.inf
    inside = False
    for v in range(v0, v1):
        w = v + 1 if v + 1 < v1 else v0
        ax, ay, bx, by = poly_x[v], poly_y[v], poly_x[w], poly_y[w]
        ex, ey = bx - ax, by - ay
        t = min(max(((x - ax) * ex + (y - ay) * ey) / max(ex * ex + ey * ey, 1e-12), 0.0), 1.0)
        dx, dy = x - (ax + t * ex), y - (ay + t * ey)
        d2 = min(d2, dx * dx + dy * dy)
        if ((ay > y) != (by > y)) and x < (bx - ax) * (y - ay) / (by - ay if by != ay else 1e-12) + ax:
            inside = not inside
    return 0.0 if inside else np.sqrt(d2)


@njit(cache=True, error_model="numpy")
def _footprint_distances(lat, lon, f_lat, f_lon, f_radius, band_lo, band_hi, poly_start, poly_x,
                         poly_y):  # pragma: no cover - compiled; checked against DefendedAsset.distance_m
    n, n_assets = lat.shape[0], f_lat.shape[0]
    d = np.empty((n, n_assets))
    for i in range(n):
        for a in range(n_assets):
            d[i, a] = _footprint_distance(a, lat[i], lon[i], f_lat, f_lon, f_radius, poly_start, poly_x, poly_y)
    return d


def footprint_distances(lat_rad, lon_rad, fp: Footprints) -> np.ndarray:
    """Ground distance (m) from points (n,) to every footprint (A,), 0 inside: (n, A).

    Column a is ``assets[a].distance_m(lat, lon)``, bit for bit, in one compiled loop.
    """
    lat = np.ascontiguousarray(lat_rad, dtype=float).reshape(-1)
    lon = np.ascontiguousarray(lon_rad, dtype=float).reshape(-1)
    return _footprint_distances(lat, lon, *fp.kernel_args)


@njit(cache=True, error_model="numpy")
def _first_asset_reached(node_lat, node_lon, node_t, margin, reach, value, f_lat, f_lon, f_radius, band_lo,
                         band_hi, poly_start, poly_x, poly_y):  # pragma: no cover - compiled; checked against numpy
    """The asset each projected path reaches first, and the time to reach it.

    Path i comes near asset a at the first node whose footprint distance is
    within ``margin[i]``; the asset reached first is endangered, ties to the
    more valuable (the smaller t_first − 10⁻⁶ value).  Its time to go is to the
    first node within ``reach[i]`` of the footprint itself, or to the
    closest approach when the path only grazes the corridor.  A node whose
    northing lies more than the margin (plus 1 m for rounding) outside an
    asset's band cannot be near it (great-circle distance ≥ R |Δφ|; the
    polygon plane's y is R Δφ), so only nodes within the band are measured.
    Returns ``(asset, arrive)``: -1 and inf where no asset is reached.
    """
    n, n_nodes, n_assets = node_lat.shape[0], node_t.shape[0], f_lat.shape[0]
    asset = np.full(n, -1, dtype=np.int64)
    arrive = np.full(n, np.inf)
    for i in range(n):
        best, best_key = 0, np.inf
        for a in range(n_assets):
            first = np.inf
            for k in range(n_nodes):
                north = (node_lat[i, k] - f_lat[a]) * geo.MEAN_RADIUS_M
                if max(band_lo[a] - north, north - band_hi[a]) > margin[i] + 1.0:
                    continue
                if _footprint_distance(a, node_lat[i, k], node_lon[i, k], f_lat, f_lon, f_radius, poly_start,
                                       poly_x, poly_y) <= margin[i]:
                    first = node_t[k]
                    break
            key = first - 1e-6 * value[a]
            if a == 0 or key < best_key:
                best, best_key = a, key
        if best_key == np.inf:
            continue
        asset[i] = best
        k_min, d_min = 0, np.inf
        for k in range(n_nodes):
            d = _footprint_distance(best, node_lat[i, k], node_lon[i, k], f_lat, f_lon, f_radius, poly_start,
                                    poly_x, poly_y)
            if d <= reach[i]:
                arrive[i] = node_t[k]
                break
            if d < d_min:
                k_min, d_min = k, d
        if arrive[i] == np.inf:
            arrive[i] = node_t[k_min]
    return asset, arrive


@njit(cache=True, error_model="numpy")
def _impact_covariance(impact, tgo, P, rows):  # pragma: no cover - compiled; checked against numpy in the tests
    """Geodetic impact points, the impact covariance and the ground plane there, for ``rows`` (m,).

    The state covariance carried to the impact time t to first order,
    Σ = P_pp + t (P_pv + P_vp) + t² P_vv, and the east and north rows of
    :func:`tdome.geo.enu_rotation` at the impact point (φ, λ)
    (:func:`tdome.geo.geodetic_of`): ê = (−sin λ, cos λ, 0),
    n̂ = (−sin φ cos λ, −sin φ sin λ, cos φ).  Returns ``(lat, lon, Σ (m, 3, 3), rot (m, 2, 3))``.
    """
    m = rows.shape[0]
    lat, lon = np.empty(m), np.empty(m)
    cov, rot = np.empty((m, 3, 3)), np.zeros((m, 2, 3))
    for i in range(m):
        r = rows[i]
        la, lo, _ = geo.geodetic_of(impact[r, 0], impact[r, 1], impact[r, 2])
        lat[i], lon[i] = la, lo
        t = tgo[r]
        for a in range(3):
            for b in range(3):
                cov[i, a, b] = P[r, a, b] + t * (P[r, a, 3 + b] + P[r, 3 + a, b]) + t * t * P[r, 3 + a, 3 + b]
        sl, cl, so, co = np.sin(la), np.cos(la), np.sin(lo), np.cos(lo)
        rot[i, 0, 0], rot[i, 0, 1] = -so, co
        rot[i, 1, 0], rot[i, 1, 1], rot[i, 1, 2] = -sl * co, -sl * so, cl
    return lat, lon, cov, rot


@njit(cache=True, error_model="numpy")
def _asset_at_impact(lat, lon, margin, value, f_lat, f_lon, f_radius, band_lo, band_hi, poly_start, poly_x,
                     poly_y):  # pragma: no cover - compiled; checked against numpy in the tests
    """The most valuable asset whose footprint lies within ``margin[i]`` of impact point i; −1: none.

    Footprint distances as :func:`footprint_distances` gives them.  The
    choice is numpy's ``argmax`` of the values, −1 for an asset outside the
    margin (the first of equals; a NaN wins), kept when that asset is within it.
    """
    m, n_assets = lat.shape[0], f_lat.shape[0]
    asset = np.full(m, -1, dtype=np.int64)
    for i in range(m):
        j, best, j_inside = 0, 0.0, False
        for a in range(n_assets):
            inside = _footprint_distance(a, lat[i], lon[i], f_lat, f_lon, f_radius, poly_start, poly_x,
                                         poly_y) <= margin[i]
            v = value[a] if inside else -1.0
            if a == 0 or (best == best and (v > best or v != v)):
                j, best, j_inside = a, v, inside
        if j_inside:
            asset[i] = j
    return asset


@njit(cache=True, error_model="numpy")
def _classify_tracks(x, climb_margin, flagged, kin, params):  # pragma: no cover - compiled; checked in the tests
    """:func:`ballistic_like` and :func:`classify` of states (n, 6) in one loop, from :func:`track_kinematics`.

    A track is ballistic when the tracker ``flagged`` it or it is ballistic-like;
    ``kin`` holds the tracker's kinematic class codes (``UNKNOWN`` where it has
    none); ``params`` are :func:`_class_params`.  The comparisons and the
    energy range 2E/g = (v² + 2 g max(h, 0)) / g of the numpy forms, in their
    order.  Returns ``(ballistic, cls, ambiguous, speed)``.
    """
    bl_alt, bl_climb, bl_speed, slow_speed, aircraft_alt, amb_lo, amb_hi, mid_band = params
    alt, speed, climb = _kinematics(x)
    n = x.shape[0]
    bal, cls, ambiguous = np.empty(n, dtype=np.bool_), np.empty(n, dtype=np.int64), np.empty(n, dtype=np.bool_)
    for i in range(n):
        bal[i] = (flagged[i] or alt[i] > bl_alt or np.abs(climb[i]) - climb_margin[i] > bl_climb
                  or speed[i] > bl_speed)
        up = alt[i] if alt[i] >= 0.0 or alt[i] != alt[i] else 0.0  # np.maximum(alt, 0)
        energy_range = (speed[i] * speed[i] + 2 * _G0 * up) / _G0
        if kin[i] == _SLOW:
            slow = True
        elif kin[i] == _FAST:
            slow = False
        else:
            slow = speed[i] < slow_speed
        if bal[i]:
            cls[i] = _ROCKET if energy_range < mid_band else _BALLISTIC
        else:
            cls[i] = _DRONE if slow else _AIRCRAFT if alt[i] > aircraft_alt else _CRUISE
        ambiguous[i] = bal[i] and energy_range >= amb_lo and energy_range <= amb_hi
    return bal, cls, ambiguous, speed


def _class_params(cfg: ThreatConfig) -> np.ndarray:
    """The settings :func:`_classify_tracks` takes, in its order."""
    return np.array([cfg.ballistic_like_alt_m, cfg.ballistic_like_vspeed_mps, cfg.ballistic_like_speed_mps,
                     cfg.slow_speed_mps, cfg.aircraft_min_alt_m, cfg.ambiguous_min_range_m, cfg.ambiguous_max_range_m,
                     0.5 * (cfg.ambiguous_min_range_m + cfg.ambiguous_max_range_m)])


@njit(cache=True, error_model="numpy")
def _predict_paths(x, P, bal, node_t):  # pragma: no cover - compiled; checked against numpy in the tests
    """Every track's prediction nodes: free flight to the ground for the ballistic, great circles for the rest.

    Ballistic tracks fly :func:`tdome.dynamics.free_flight_to_ground` on the
    node grid; those that come down get their impact point's latitude,
    longitude, covariance and ground plane (:func:`_impact_covariance`).
    Air-breathing tracks are projected from their geodetic position
    (:func:`tdome.geo.geodetic_of`) along great circles (:func:`_great_circle_nodes`).
    Returns ``(node_pos, node_vel, impact, tgo, impact_rows, impact_lat, impact_lon, impact_cov, impact_rot,
    air_rows, air_lat, air_lon)``, the last two the air rows' node latitudes and longitudes.
    """
    n, n_nodes = x.shape[0], node_t.shape[0]
    node_pos, node_vel = np.empty((n, n_nodes, 3)), np.empty((n, n_nodes, 3))
    impact, tgo = np.full((n, 3), np.nan), np.full(n, np.inf)
    ib, ia = np.flatnonzero(bal), np.flatnonzero(~bal)

    pos, vel = np.empty((ib.shape[0], 3)), np.empty((ib.shape[0], 3))
    for i in range(ib.shape[0]):
        pos[i], vel[i] = x[ib[i], :3], x[ib[i], 3:]
    bp, bv, bi, bt = dynamics._to_ground_compiled(pos, vel, n_nodes, node_t[1] - node_t[0])
    for i in range(ib.shape[0]):
        node_pos[ib[i]], node_vel[ib[i]], impact[ib[i]], tgo[ib[i]] = bp[i], bv[i], bi[i], bt[i]
    rows = ib[np.isfinite(bt)]
    ilat, ilon, cov, rot = _impact_covariance(impact, tgo, P, rows)

    lat, lon, alt, vel = np.empty(ia.shape[0]), np.empty(ia.shape[0]), np.empty(ia.shape[0]), np.empty((ia.shape[0], 3))
    for i in range(ia.shape[0]):
        r = ia[i]
        lat[i], lon[i], alt[i] = geo.geodetic_of(x[r, 0], x[r, 1], x[r, 2])
        vel[i] = x[r, 3:]
    ap, av, alat, alon = _great_circle_nodes(lat, lon, alt, vel, node_t)
    for i in range(ia.shape[0]):
        node_pos[ia[i]], node_vel[ia[i]] = ap[i], av[i]
    return node_pos, node_vel, impact, tgo, rows, ilat, ilon, cov, rot, ia, alat, alon


@njit(cache=True, error_model="numpy")
def _endangered(n, impact_rows, impact_lat, impact_lon, impact_margin, air_rows, air_lat, air_lon, speed, node_t,
                corridor, tgo, value, f_lat, f_lon, f_radius, band_lo, band_hi, poly_start, poly_x,
                poly_y):  # pragma: no cover - compiled; checked against numpy in the tests
    """The asset each track endangers and its value; an air-breathing track's time to go to it (into ``tgo``).

    A predicted impact endangers the most valuable asset within its margin
    (:func:`_asset_at_impact`); a projected path, the asset it reaches first
    within a corridor plus half the distance between nodes, its time to go the
    time to reach the footprint, at least one node step (:func:`_first_asset_reached`).
    Returns ``(asset, value)``, −1 and 0 where none is endangered.
    """
    asset, at_risk = np.full(n, -1, dtype=np.int64), np.zeros(n)
    fp = (f_lat, f_lon, f_radius, band_lo, band_hi, poly_start, poly_x, poly_y)
    j = _asset_at_impact(impact_lat, impact_lon, impact_margin, value, *fp)
    for i in range(impact_rows.shape[0]):
        if j[i] >= 0:
            asset[impact_rows[i]], at_risk[impact_rows[i]] = j[i], value[j[i]]
    h = node_t[1] - node_t[0]
    half_step = np.empty(air_rows.shape[0])
    for i in range(air_rows.shape[0]):
        half_step[i] = 0.5 * speed[air_rows[i]] * h  # nodes are h apart along the path
    j, arrive = _first_asset_reached(air_lat, air_lon, node_t, corridor + half_step, half_step, value, *fp)
    for i in range(air_rows.shape[0]):
        if j[i] >= 0:
            r = air_rows[i]
            asset[r], at_risk[r] = j[i], value[j[i]]
            tgo[r] = arrive[i] if arrive[i] >= h or arrive[i] != arrive[i] else h  # np.maximum(arrive, h)
    return asset, at_risk


def evaluate_threats(picture, assets: list[DefendedAsset], cfg: ThreatConfig) -> ThreatPicture:
    """Evaluate the confirmed tracks of an air picture against the defended assets.

    Three compiled calls over the whole picture (:func:`_classify_tracks`,
    :func:`_predict_paths`, :func:`_endangered`), with the impact margins'
    eigenvalues between them; the same numbers as the numpy form they
    replaced (a test holds them to it).
    """
    keep = picture.n_hits >= cfg.min_track_updates
    track_id = picture.track_id[keep]
    x = np.ascontiguousarray(picture.x[keep], dtype=float).reshape(-1, 6)
    n = track_id.shape[0]
    h = cfg.node_step_s
    n_nodes = max(int(np.ceil(cfg.horizon_s / h)) + 1, 2)
    node_t = h * np.arange(n_nodes)
    kin = np.zeros(n, dtype=np.int8) if picture.kin_class is None else picture.kin_class[keep]
    P = np.ascontiguousarray(picture.P[keep], dtype=float).reshape(-1, 6, 6)
    bal, cls, ambiguous, speed = _classify_tracks(x, climb_margin(x, P, cfg), picture.ballistic[keep], kin,
                                                  _class_params(cfg))
    # Ballistic tracks: free flight on the node grid, one RK4 step per node, to where the height
    # above the ellipsoid crosses zero (regula falsi); the node past the impact is kept so Hermite
    # interpolation up to it stays smooth.  Air-breathing tracks: great circles at constant speed.
    node_pos, node_vel, impact, tgo, irows, ilat, ilon, Pi, rot, ia, alat, alon = _predict_paths(
        x, P, bal, node_t)
    if assets:
        # An impact's margin grows with its uncertainty: the state covariance carried to the
        # impact time to first order, on the ground plane there, its largest σ.
        Ph = rot @ Pi @ np.swapaxes(rot, 1, 2)
        sd = np.sqrt(np.maximum(np.linalg.eigvalsh(Ph)[:, -1], 0.0)) if irows.size else np.zeros(0)
        margin = cfg.corridor_m + np.minimum(cfg.impact_sigmas * sd, cfg.max_impact_margin_m)
        fp = footprints(assets)
        asset, value = _endangered(n, irows, ilat, ilon, margin, ia, alat, alon, speed, node_t, cfg.corridor_m, tgo,
                                   fp.value, *fp.kernel_args)
    else:
        asset, value = np.full(n, -1), np.zeros(n)

    return ThreatPicture(
        time_s=float(picture.time_s),
        track_id=track_id,
        cls=cls,
        node_t=node_t,
        node_pos=node_pos,
        node_vel=node_vel,
        impact_ecef=impact,
        time_to_go_s=tgo,
        asset=asset,
        value=value,
        ambiguous=ambiguous,
    )
