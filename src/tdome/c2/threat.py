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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tdome import dynamics, geo
from tdome.c2.config import ThreatConfig
from tdome.c2.tracking.classification import KinematicClass
from tdome.messages import THREAT_CLASSES, DefendedAsset
from tdome.messages import ThreatClass as TC

_G0 = 9.80665


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
        rows = np.arange(len(self)) if rows is None else np.asarray(rows)
        p = np.array([pk.get(THREAT_CLASSES[c], 0.0) for c in self.cls[rows]])
        both = min(pk.get("ballistic", 0.0), pk.get("rocket", 0.0))
        return np.where(self.ambiguous[rows], np.minimum(p, both), p)

    def __len__(self) -> int:
        return int(self.track_id.shape[0])

    @property
    def class_names(self) -> list[str]:
        return [THREAT_CLASSES[c] for c in self.cls]

    def positions_at(self, rel_t: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Predicted ECEF positions (m, T, 3) of rows at times ``time_s + rel_t`` (T,).

        Cubic Hermite interpolation between nodes; NaN past a track's impact
        or horizon.
        """
        rows = np.arange(len(self)) if rows is None else np.asarray(rows)
        rel_t = np.asarray(rel_t, dtype=float)
        h = self.node_t[1] - self.node_t[0]
        k = np.clip(np.floor(rel_t / h).astype(int), 0, len(self.node_t) - 2)
        s = ((rel_t - self.node_t[k]) / h)[None, :, None]
        p0 = self.node_pos[rows][:, k]
        p1 = self.node_pos[rows][:, k + 1]
        v0 = self.node_vel[rows][:, k] * h
        v1 = self.node_vel[rows][:, k + 1] * h
        s2, s3 = s * s, s * s * s
        out = (2 * s3 - 3 * s2 + 1) * p0 + (s3 - 2 * s2 + s) * v0 + (-2 * s3 + 3 * s2) * p1 + (s3 - s2) * v1
        out[:, rel_t > self.node_t[-1]] = np.nan
        return out


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
    alt = geo.height_m(x[:, :3])
    speed = np.linalg.norm(x[:, 3:], axis=1)
    energy_range = (speed**2 + 2 * _G0 * np.maximum(alt, 0.0)) / _G0
    slow = speed < cfg.slow_speed_mps
    if kin_class is not None:
        slow = np.where(kin_class == KinematicClass.SLOW, True,
                        np.where(kin_class == KinematicClass.FAST, False, slow))
    cls = np.where(slow, TC.DRONE, np.where(alt > cfg.aircraft_min_alt_m, TC.AIRCRAFT, TC.CRUISE))
    mid_band = 0.5 * (cfg.ambiguous_min_range_m + cfg.ambiguous_max_range_m)
    cls = np.where(ballistic, np.where(energy_range < mid_band, TC.ROCKET, TC.BALLISTIC), cls)
    ambiguous = ballistic & (energy_range >= cfg.ambiguous_min_range_m) & (energy_range <= cfg.ambiguous_max_range_m)
    return cls.astype(int), ambiguous


def ballistic_like(x: np.ndarray, cfg: ThreatConfig) -> np.ndarray:
    """Tracks whose altitude, climb rate or speed no air-breathing threat reaches."""
    if len(x) == 0:
        return np.zeros(0, dtype=bool)
    up = x[:, :3] / np.linalg.norm(x[:, :3], axis=1, keepdims=True)
    vz = np.einsum("ij,ij->i", x[:, 3:], up)
    speed = np.linalg.norm(x[:, 3:], axis=1)
    return (geo.height_m(x[:, :3]) > cfg.ballistic_like_alt_m) | (np.abs(vz) > cfg.ballistic_like_vspeed_mps) | (
        speed > cfg.ballistic_like_speed_mps)


def _air_nodes(pos, vel, node_t):
    """Great-circle projection at constant ground speed, heading and altitude."""
    lat, lon, alt = geo.ecef_to_geodetic(pos)
    rot = geo.enu_rotation(lat, lon)
    v_enu = np.einsum("nij,nj->ni", rot, vel)
    gs = np.hypot(v_enu[:, 0], v_enu[:, 1])
    hdg = np.arctan2(v_enu[:, 0], v_enu[:, 1])
    dist = gs[:, None] * node_t[None, :]
    lat2, lon2 = geo.destination(lat[:, None], lon[:, None], hdg[:, None], dist)
    alt2 = np.broadcast_to(np.maximum(alt, 0.0)[:, None], lat2.shape)
    node_pos = geo.geodetic_to_ecef(lat2, lon2, alt2)
    # Velocity along the path: ground speed along the local course at each node.
    # Local course along the great circle: the bearing from each node to the point 1 m further on.
    brg = geo.initial_bearing_rad(lat2, lon2, *geo.destination(lat[:, None], lon[:, None], hdg[:, None], dist + 1.0))
    ve = gs[:, None] * np.sin(brg)
    vn = gs[:, None] * np.cos(brg)
    rot2 = geo.enu_rotation(lat2, lon2)
    node_vel = np.einsum("nkji,nkj->nki", rot2, np.stack([ve, vn, np.zeros_like(ve)], axis=-1))
    return node_pos, node_vel, lat2, lon2


def evaluate_threats(picture, assets: list[DefendedAsset], cfg: ThreatConfig) -> ThreatPicture:
    """Evaluate the confirmed tracks of an air picture against the defended assets."""
    keep = picture.n_hits >= cfg.min_track_updates
    track_id = picture.track_id[keep]
    x = picture.x[keep]
    P = picture.P[keep]
    bal = picture.ballistic[keep] | ballistic_like(x, cfg)
    n = track_id.shape[0]
    h = cfg.node_step_s
    n_nodes = max(int(np.ceil(cfg.horizon_s / h)) + 1, 2)
    node_t = h * np.arange(n_nodes)
    node_pos = np.full((n, n_nodes, 3), np.nan)
    node_vel = np.full((n, n_nodes, 3), np.nan)
    impact = np.full((n, 3), np.nan)
    tgo = np.full(n, np.inf)
    asset = np.full(n, -1)
    value = np.zeros(n)
    kin = None if picture.kin_class is None else picture.kin_class[keep]
    cls, ambiguous = classify(x, bal, cfg, kin) if n else (np.zeros(0, dtype=int), np.zeros(0, dtype=bool))

    ib = np.flatnonzero(bal)
    if ib.size:
        # Free flight on the node grid, one RK4 step per node, to where the height above
        # the ellipsoid crosses zero (regula falsi); the node past the impact is kept so
        # Hermite interpolation up to it stays smooth.  Compiled: it runs for every
        # ballistic track every C2 cycle.
        bp, bv, bi, bt = dynamics.free_flight_to_ground(x[ib, :3], x[ib, 3:], n_nodes, h)
        node_pos[ib], node_vel[ib], impact[ib], tgo[ib] = bp, bv, bi, bt
        has_imp = np.isfinite(bt)
        if has_imp.any() and assets:
            rows = ib[has_imp]
            ilat, ilon, _ = geo.ecef_to_geodetic(impact[rows])
            # Margin grows with the impact uncertainty: the state covariance carried to
            # the impact time to first order, Σ = P_pp + t(P_pv + P_vp) + t²P_vv, on the ground plane.
            t_go = tgo[rows][:, None, None]
            Pi = P[rows, :3, :3] + t_go * (P[rows, :3, 3:] + P[rows, 3:, :3]) + t_go**2 * P[rows, 3:, 3:]
            rot = geo.enu_rotation(ilat, ilon)[:, :2, :]
            Ph = rot @ Pi @ np.swapaxes(rot, 1, 2)
            sd = np.sqrt(np.maximum(np.linalg.eigvalsh(Ph)[:, -1], 0.0))
            margin = cfg.corridor_m + np.minimum(cfg.impact_sigmas * sd, cfg.max_impact_margin_m)
            d = np.stack([a.distance_m(ilat, ilon) for a in assets], axis=1)  # (m, A)
            vals = np.array([a.value for a in assets])
            inside = d <= margin[:, None]
            best = np.where(inside, vals[None, :], -1.0)
            j = np.argmax(best, axis=1)
            hit = inside[np.arange(rows.size), j]
            asset[rows[hit]] = j[hit]
            value[rows[hit]] = vals[j[hit]]

    ia = np.flatnonzero(~bal)
    if ia.size:
        ap, av, alat, alon = _air_nodes(x[ia, :3], x[ia, 3:], node_t)
        node_pos[ia], node_vel[ia] = ap, av
        if assets:
            speed = np.linalg.norm(x[ia, 3:], axis=1)
            margin = cfg.corridor_m + 0.5 * speed * h  # nodes are h apart along the path
            vals = np.array([a.value for a in assets])
            first = np.full((ia.size, len(assets)), np.inf)
            dist = []
            for j, a in enumerate(assets):
                d = a.distance_m(alat, alon)
                dist.append(d)
                near = d <= margin[:, None]
                any_near = near.any(axis=1)
                first[any_near, j] = node_t[np.argmax(near[any_near], axis=1)]
            # The asset reached first is the one endangered; ties go to the more valuable.
            key = first - 1e-6 * vals[None, :]
            j = np.argmin(key, axis=1)
            ok = np.isfinite(first[np.arange(ia.size), j])
            asset[ia[ok]] = j[ok]
            value[ia[ok]] = vals[j[ok]]
            # Time to go is to the asset's footprint itself (or the closest approach when
            # the path only grazes the corridor), not to the edge of the corridor.
            dj = np.stack(dist, axis=1)[np.arange(ia.size), j]  # (m, K)
            reach = dj <= 0.5 * speed[:, None] * h
            arrive = np.where(reach.any(axis=1), node_t[np.argmax(reach, axis=1)], node_t[np.argmin(dj, axis=1)])
            tgo[ia[ok]] = np.maximum(arrive[ok], h)

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
