"""Engagement planning: when and where each battery can intercept each threat.

For every (battery, threat) pair the planner searches the threat's predicted
path for the earliest time ``t`` at which an interceptor launched now (after
the battery's reaction time) can be at the predicted position:

    t − now − reaction ≥ |p(t) − battery| / v_interceptor

with ``p(t)`` inside the interceptor's envelope (slant range and altitude) and
before the threat reaches what it endangers.  The predicted intercept point
``p(t)`` is the aim point sent with the fire order; it is refreshed in flight
from newer tracks.  For shoot-look-shoot the planner also finds, per pair, the
latest time the battery could still *launch* at the threat, which tells
whether a survivor of an earlier shot can be engaged again.

Every battery is tested against every threat each cycle the assignment runs,
so the search over (battery, threat, time) is one compiled (numba) kernel,
:func:`_windows`; it performs the floating-point operations of the numpy
expressions it stands for in the same order (a test holds it to them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from tdome import geo
from tdome.c2.threat import ThreatPicture
from tdome.messages import BatteryStatus


@dataclass
class ShotWindows:
    """Feasible shots for rows of a threat picture (R threats) against B batteries."""

    rows: np.ndarray  # (R,) rows of the threat picture
    feasible_now: np.ndarray  # (B, R) a launch now can intercept
    intercept_s: np.ndarray  # (B, R) absolute time of the earliest intercept of a launch now
    aim_ecef: np.ndarray  # (B, R, 3) predicted intercept point
    latest_launch_s: np.ndarray  # (B, R) last time a launch can still intercept (−inf: never)


def plan_windows(threats: ThreatPicture, rows: np.ndarray, batteries: list[BatteryStatus], now_s: float,
                 step_s: float = 1.0) -> ShotWindows:
    """Shot windows of every battery against the threat-picture rows ``rows``, planned at ``now_s``.

    Launches now are searched on a grid of ``step_s`` over the longest flyout
    (Hermite-interpolated positions); latest launch times on the prediction
    nodes over the whole path.
    """
    B, R = len(batteries), len(rows)
    if B == 0 or R == 0:
        return ShotWindows(rows, np.zeros((B, R), dtype=bool), np.full((B, R), np.inf), np.full((B, R, 3), np.nan),
                           np.full((B, R), -np.inf))
    tgo = threats.time_to_go_s[rows]

    # Fine grid over the longest flyout, for launches now.
    horizon = max(b.interceptor.reaction_s + b.interceptor.max_range_m / b.interceptor.speed_mps for b in batteries)
    horizon = min(horizon + step_s, threats.node_t[-1])
    rel = np.arange(step_s, max(horizon, step_s) + 1e-9, step_s)
    pos = threats.positions_at(rel, rows)  # (R, K, 3)
    alt = geo.height_m(pos)
    valid = np.isfinite(alt) & (rel[None, :] <= tgo[:, None])

    # Coarse nodes over the whole path, for the latest launch time.
    npos = np.ascontiguousarray(threats.node_pos[rows])
    nalt = geo.height_m(npos)
    nvalid = np.isfinite(nalt) & (threats.node_t[None, :] <= tgo[:, None])

    site = np.array([b.ecef for b in batteries], dtype=float).reshape(B, 3)
    envelope = np.array([[b.interceptor.min_range_m, b.interceptor.max_range_m, b.interceptor.min_alt_m,
                          b.interceptor.max_alt_m, b.interceptor.reaction_s, b.interceptor.speed_mps]
                         for b in batteries], dtype=float)
    feas, t_int, aim, latest = _windows(pos, alt, valid, rel, npos, nalt, nvalid, threats.node_t, float(now_s), site,
                                        envelope)
    return ShotWindows(rows, feas, t_int, aim, latest)


@njit(cache=True, error_model="numpy")
def _windows(pos, alt, valid, rel, npos, nalt, nvalid, node_t, now_s, site,
             envelope):  # pragma: no cover - compiled; checked against the numpy form in the tests
    """Earliest intercept of a launch now and latest launch time, for every battery against every threat.

    Battery b at ECEF ``site[b]`` with envelope (min range, max range, min
    altitude, max altitude, reaction time, interceptor speed) can meet threat
    r at time t on its path p(t) when p(t) is valid (predicted, before the
    threat reaches what it endangers), inside the envelope, and

        t − reaction ≥ |p(t) − site| / v     (t after now).

    The earliest such t on the fine grid ``rel`` gives the intercept (now + t)
    and the aim point p(t).  On the prediction nodes ``node_t``, the latest
    launch is max over nodes in the envelope of now + t − reaction − |p(t) − site| / v
    (−inf when none is).  Returns ``(feasible_now, intercept_s, aim_ecef, latest_launch_s)``.
    """
    n_bat, n_rows = site.shape[0], pos.shape[0]
    feas = np.zeros((n_bat, n_rows), dtype=np.bool_)
    t_int = np.full((n_bat, n_rows), np.inf)
    aim = np.full((n_bat, n_rows, 3), np.nan)
    latest = np.full((n_bat, n_rows), -np.inf)
    for b in range(n_bat):
        sx, sy, sz = site[b, 0], site[b, 1], site[b, 2]
        min_r, max_r, min_alt, max_alt, reaction, speed = envelope[b]
        for r in range(n_rows):
            for k in range(rel.shape[0]):
                if not valid[r, k] or alt[r, k] < min_alt or alt[r, k] > max_alt:
                    continue
                dx, dy, dz = pos[r, k, 0] - sx, pos[r, k, 1] - sy, pos[r, k, 2] - sz
                d = np.sqrt(dx * dx + dy * dy + dz * dz)
                if d >= min_r and d <= max_r and rel[k] - reaction >= d / speed:
                    feas[b, r] = True
                    t_int[b, r] = now_s + rel[k]
                    aim[b, r] = pos[r, k]
                    break
            for k in range(node_t.shape[0]):
                if not nvalid[r, k] or nalt[r, k] < min_alt or nalt[r, k] > max_alt:
                    continue
                dx, dy, dz = npos[r, k, 0] - sx, npos[r, k, 1] - sy, npos[r, k, 2] - sz
                d = np.sqrt(dx * dx + dy * dy + dz * dz)
                if d >= min_r and d <= max_r:
                    latest[b, r] = max(latest[b, r], now_s + node_t[k] - reaction - d / speed)
    return feas, t_int, aim, latest
