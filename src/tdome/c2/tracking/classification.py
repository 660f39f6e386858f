"""Classification of confirmed tracks from their kinematics: ballistic or not, and a kinematic class.

Interface (batched over tracks; the tracker applies the results to its table)::

    ballistic_test(x, P, config)                          -> (n,) bool   flag as ballistic (never unflagged)
    kinematic_class(v, P_v, current, ballistic, config)   -> (n,) int8   KinematicClass codes
    classify(table, rows, estimator, config)              both, applied to the tracks ``rows`` of the table

The kinematic class is what the C2's threat evaluation may use to tell a
drone from a cruise missile (:func:`tdome.c2.threat.classify`); it is kept
in the track table and the air picture as the int8 codes of
:class:`KinematicClass`.
"""

from __future__ import annotations

import enum

import numpy as np

from tdome.c2.tracking.config import TrackerConfig
from tdome.c2.tracking.track_table import TrackTable
from tdome.geo import ecef_to_geodetic


class KinematicClass(enum.IntEnum):
    """What a track's kinematics say it is: arrays (``AirPicture.kin_class``) hold these codes."""

    UNKNOWN = 0  # not enough evidence yet (young or noisy track)
    SLOW = 1  # air-breathing, slower than ``slow_speed_mps`` (drone-like)
    FAST = 2  # air-breathing, faster (cruise missile, aircraft)
    BALLISTIC = 3  # flagged ballistic by :func:`ballistic_test`

    @property
    def label(self) -> str:
        """The name in reports: 'unknown', 'slow', 'fast', 'ballistic'."""
        return self.name.lower()


def up_vectors(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Geodetic altitude (n,) and local vertical unit vectors (n, 3) at the positions of states (n, ≥3)."""
    lat, lon, alt = ecef_to_geodetic(x[:, :3])
    up = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1)
    return alt, up


def ballistic_test(x: np.ndarray, P: np.ndarray, config: TrackerConfig) -> np.ndarray:
    """Tracks (n,) high, or fast and steep, enough to be ballistic.

    A track is ballistic when ``h - kσ_h > h_min`` or when both
    ``|v| - kσ_|v| > v_min`` and ``|v_up| - kσ_up > v_up_min`` (k =
    ``ballistic_sigmas``, σ from the track covariance along the local
    vertical and the velocity direction), so that the noisy velocity of a
    young track seen by a coarse radar does not flag an aircraft.  The
    tracker applies it to confirmed tracks not yet flagged, and never
    unflags one (hysteresis).
    """
    c = config
    k = c.ballistic_sigmas
    alt, up = up_vectors(x)
    sd_alt = np.sqrt(np.einsum("ni,nij,nj->n", up, P[:, :3, :3], up))
    v_up = np.einsum("ij,ij->i", x[:, 3:], up)
    sd_vup = np.sqrt(np.einsum("ni,nij,nj->n", up, P[:, 3:, 3:], up))
    speed = np.linalg.norm(x[:, 3:], axis=1)
    u = x[:, 3:] / np.maximum(speed, 1e-9)[:, None]
    sd_speed = np.sqrt(np.einsum("ni,nij,nj->n", u, P[:, 3:, 3:], u))
    return (alt - k * sd_alt > c.ballistic_min_alt_m) | (
        (speed - k * sd_speed > c.ballistic_min_speed_mps)
        & (np.abs(v_up) - k * sd_vup > c.ballistic_min_vspeed_mps))


def kinematic_class(v: np.ndarray, Pv: np.ndarray, current: np.ndarray, ballistic: np.ndarray,
                    config: TrackerConfig) -> np.ndarray:
    """Kinematic class (n,) of updated confirmed tracks: ballistic, fast air-breathing or slow.

    Ballistic follows the tracker's flag (:func:`ballistic_test`).
    Otherwise a track is slow (drone-like) when ``|v| + kσ_|v| <
    slow_speed_mps`` and fast when ``|v| - kσ_|v| > slow_speed_mps``
    (k = ``class_sigmas``, σ_|v| the speed's standard deviation along the
    velocity); in between the evidence is not enough and the ``current``
    class is kept (a young track stays unknown), so one noisy update never
    flips it.  ``v`` (n, 3) are the velocities and ``Pv`` (n, 3, 3) their covariances.
    """
    c = config
    speed = np.linalg.norm(v, axis=1)
    u = v / np.maximum(speed, 1e-9)[:, None]
    sd = np.sqrt(np.einsum("ni,nij,nj->n", u, Pv, u))
    k = c.class_sigmas
    cls = np.where(speed + k * sd < c.slow_speed_mps, int(KinematicClass.SLOW), current)
    cls = np.where(speed - k * sd > c.slow_speed_mps, int(KinematicClass.FAST), cls)
    return np.where(ballistic, int(KinematicClass.BALLISTIC), cls)


def classify(table: TrackTable, rows: np.ndarray, estimator, config: TrackerConfig) -> None:
    """Classify the updated confirmed tracks ``rows`` (n,) bool: ballistic flag first, then the kinematic class.

    A track newly flagged ballistic is handed to ``estimator.became_ballistic``
    (the IMM changes model set).
    """
    cols = table.cols
    new = rows & ~cols["ballistic"]
    if new.any():
        idx = np.flatnonzero(new)
        flag = ballistic_test(cols["x"][idx], cols["P"][idx], config)
        cols["ballistic"][idx[flag]] = True
        if flag.any():
            estimator.became_ballistic(table, idx[flag])
    if rows.any():
        idx = np.flatnonzero(rows)
        cols["kin_class"][idx] = kinematic_class(cols["x"][idx, 3:], cols["P"][idx, 3:, 3:], cols["kin_class"][idx],
                                                 cols["ballistic"][idx], config)
