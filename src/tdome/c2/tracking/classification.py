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
from numba import njit

from tdome.c2.tracking.config import TrackerConfig
from tdome.c2.tracking.gaussian import quad_block
from tdome.c2.tracking.track_table import TrackTable
from tdome.geo import geodetic_of


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


_SLOW, _FAST, _BALLISTIC = int(KinematicClass.SLOW), int(KinematicClass.FAST), int(KinematicClass.BALLISTIC)


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
    return _ballistic_test(np.ascontiguousarray(x, dtype=float), np.ascontiguousarray(P, dtype=float),
                           float(c.ballistic_sigmas), float(c.ballistic_min_alt_m), float(c.ballistic_min_speed_mps),
                           float(c.ballistic_min_vspeed_mps))


@njit(cache=True, inline="always")
def _is_ballistic(x, P, k, min_alt, min_speed, min_vspeed):  # pragma: no cover - compiled
    """:func:`ballistic_test` of one track (the inequalities there): ``x`` (6,), ``P`` (6, 6)."""
    up = np.empty(3)
    u = np.empty(3)
    lat, lon, alt = geodetic_of(x[0], x[1], x[2])
    up[0], up[1], up[2] = np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)
    sd_alt = np.sqrt(quad_block(up, P, 0))
    v_up = x[3] * up[0] + x[4] * up[1] + x[5] * up[2]
    sd_vup = np.sqrt(quad_block(up, P, 3))
    speed = np.sqrt(x[3] * x[3] + x[4] * x[4] + x[5] * x[5])
    for i in range(3):
        u[i] = x[3 + i] / max(speed, 1e-9)
    sd_speed = np.sqrt(quad_block(u, P, 3))
    return (alt - k * sd_alt > min_alt) or (speed - k * sd_speed > min_speed and abs(v_up) - k * sd_vup > min_vspeed)


@njit(cache=True)
def _ballistic_test(x, P, k, min_alt, min_speed, min_vspeed):  # pragma: no cover - compiled
    """:func:`ballistic_test` track by track."""
    n = x.shape[0]
    out = np.empty(n, dtype=np.bool_)
    for r in range(n):
        out[r] = _is_ballistic(x[r], P[r], k, min_alt, min_speed, min_vspeed)
    return out


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
    return _kinematic_class(np.ascontiguousarray(v, dtype=float), np.ascontiguousarray(Pv, dtype=float),
                            np.ascontiguousarray(current, dtype=np.int8), np.ascontiguousarray(ballistic, dtype=bool),
                            float(c.slow_speed_mps), float(c.class_sigmas))


@njit(cache=True, inline="always")
def _class_of(v, Pv, current, ballistic, slow, k):  # pragma: no cover - compiled
    """:func:`kinematic_class` of one track (the inequalities there): ``v`` (3,), ``Pv`` (3, 3)."""
    u = np.empty(3)
    speed = np.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
    for i in range(3):
        u[i] = v[i] / max(speed, 1e-9)
    sd = np.sqrt(quad_block(u, Pv, 0))
    c = current
    if speed + k * sd < slow:
        c = _SLOW
    if speed - k * sd > slow:
        c = _FAST
    return _BALLISTIC if ballistic else c


@njit(cache=True)
def _kinematic_class(v, Pv, current, ballistic, slow, k):  # pragma: no cover - compiled
    """:func:`kinematic_class` track by track."""
    n = v.shape[0]
    out = np.empty(n, dtype=np.int8)
    for r in range(n):
        out[r] = _class_of(v[r], Pv[r], current[r], ballistic[r], slow, k)
    return out


def classify(table: TrackTable, rows: np.ndarray, estimator, config: TrackerConfig) -> None:
    """Classify the updated confirmed tracks ``rows`` (n,) bool: ballistic flag first, then the kinematic class.

    A track newly flagged ballistic is handed to ``estimator.became_ballistic``
    (the IMM changes model set).
    """
    c, cols = config, table.cols
    flagged = _classify_rows(cols["x"], cols["P"], rows, cols["ballistic"], cols["kin_class"],
                             float(c.ballistic_sigmas), float(c.ballistic_min_alt_m),
                             float(c.ballistic_min_speed_mps), float(c.ballistic_min_vspeed_mps),
                             float(c.slow_speed_mps), float(c.class_sigmas))
    if flagged.size:
        estimator.became_ballistic(table, flagged)


@njit(cache=True)
def _classify_rows(x, P, rows, ballistic, kin_class, k_bal, min_alt, min_speed, min_vspeed, slow,
                   k_class):  # pragma: no cover - compiled
    """:func:`classify` in one pass: writes ``ballistic`` and ``kin_class``, returns the rows newly flagged.

    The kinematic class reads the track's state only, so a newly flagged
    track is classed ballistic before ``became_ballistic`` is told of it.
    """
    flagged = np.empty(rows.shape[0], dtype=np.intp)
    nf = 0
    for r in range(rows.shape[0]):
        if not rows[r]:
            continue
        if not ballistic[r] and _is_ballistic(x[r], P[r], k_bal, min_alt, min_speed, min_vspeed):
            ballistic[r] = True
            flagged[nf] = r
            nf += 1
        kin_class[r] = _class_of(x[r, 3:], P[r, 3:, 3:], kin_class[r], ballistic[r], slow, k_class)
    return flagged[:nf].copy()
