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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
    B, R = len(batteries), len(rows)
    feas = np.zeros((B, R), dtype=bool)
    t_int = np.full((B, R), np.inf)
    aim = np.full((B, R, 3), np.nan)
    latest = np.full((B, R), -np.inf)
    if B == 0 or R == 0:
        return ShotWindows(rows, feas, t_int, aim, latest)
    tgo = threats.time_to_go_s[rows]

    # Fine grid over the longest flyout, for launches now.
    horizon = max(b.interceptor.reaction_s + b.interceptor.max_range_m / b.interceptor.speed_mps for b in batteries)
    horizon = min(horizon + step_s, threats.node_t[-1])
    rel = np.arange(step_s, max(horizon, step_s) + 1e-9, step_s)
    pos = threats.positions_at(rel, rows)  # (R, K, 3)
    alt = geo.height_m(pos)
    valid = np.isfinite(alt) & (rel[None, :] <= tgo[:, None])

    # Coarse nodes over the whole path, for the latest launch time.
    npos = threats.node_pos[rows]
    nalt = geo.height_m(npos)
    nvalid = np.isfinite(nalt) & (threats.node_t[None, :] <= tgo[:, None])

    for i, b in enumerate(batteries):
        spec = b.interceptor
        d = np.linalg.norm(pos - b.ecef, axis=-1)
        ok = valid & (d >= spec.min_range_m) & (d <= spec.max_range_m)
        ok &= (alt >= spec.min_alt_m) & (alt <= spec.max_alt_m)
        ok &= rel[None, :] - spec.reaction_s >= d / spec.speed_mps
        any_ok = ok.any(axis=1)
        k = np.argmax(ok, axis=1)
        feas[i] = any_ok
        t_int[i, any_ok] = now_s + rel[k[any_ok]]
        aim[i, any_ok] = pos[np.flatnonzero(any_ok), k[any_ok]]

        nd = np.linalg.norm(npos - b.ecef, axis=-1)
        nok = nvalid & (nd >= spec.min_range_m) & (nd <= spec.max_range_m)
        nok &= (nalt >= spec.min_alt_m) & (nalt <= spec.max_alt_m)
        launch = np.where(nok, now_s + threats.node_t[None, :] - spec.reaction_s - nd / spec.speed_mps, -np.inf)
        latest[i] = launch.max(axis=1)
    return ShotWindows(rows, feas, t_int, aim, latest)
