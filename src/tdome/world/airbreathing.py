"""Air-breathing threats (cruise missiles, drones, aircraft) flying waypoint routes.

Horizontal path
    Great-circle legs between waypoints, straight through each waypoint (an
    instantaneous heading change there; no turn model).  As in
    :func:`tdome.geo.destination`, the great circles are drawn on the unit
    sphere of the geodetic (lat, lon), u = (cosφ cosλ, cosφ sinλ, sinφ), and
    leg j is u(s) = a_j cos s + t_j sin s, s ∈ [0, Θ_j], with t_j the unit
    tangent at a_j towards b_j.

Speed
    ``speed_mps`` is the ground speed: the speed of the point below the
    threat on the WGS84 ellipsoid, held constant over the whole route.  The
    curve parameter σ is therefore advanced at

        dσ/dt = v / |∂P₀/∂σ|,   ∂P/∂σ = (M + h)(u'·n̂) n̂ + (N + h)(u'·ê) ê

    with M, N the meridian and prime-vertical radii of curvature, ê, n̂ the
    local east and north and P₀ the surface point (h = 0).  Positions come
    from a tabulated σ(d) (chords of 1 mrad, i.e. ~6 km, relative error
    ~1e-8); the ECEF horizontal speed at height h is v (1 + h/ρ), i.e. larger
    by 0.16 % at 10 km.

Vertical profile (function of the ground distance d flown, route length D)
    h(d) = min(c d,  h_cruise,  h_aim + tan(δ) (D - d))
    with c = climb_rate / v (climb from the ground at the first waypoint) and
    the last term only for ``terminal='dive'`` (dive angle δ onto the aim).
    Short routes simply peak below cruise altitude.  With ``terminal='level'``
    the threat stays at cruise height and the trajectory ends at cruise
    height above the aim point (e.g. a sea-skimmer hitting a ship).
    Heights are above the ellipsoid (taken as above sea level).

Velocity is the exact time derivative of that position model,
dP/dt = ∂P/∂σ dσ/dt + û v dh/dd.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tdome.geo import A_M, E2
from tdome.world.trajectory import Trajectory

_TABLE_STEP_RAD = 1e-3


def _unit(lat, lon):
    cl = np.cos(lat)
    return np.stack((cl * np.cos(lon), cl * np.sin(lon), np.sin(lat)), axis=-1)


def _geodetic_point(u, h):
    """ECEF point at height h over the geodetic (lat, lon) whose unit vector is u.

    With cosφ cosλ = u_x, cosφ sinλ = u_y, sinφ = u_z this is
    :func:`tdome.geo.geodetic_to_ecef` without trigonometry.  Also returns the
    prime-vertical and meridian radii of curvature N, M.
    """
    w2 = 1.0 - E2 * u[:, 2] ** 2
    n_rad = A_M / np.sqrt(w2)
    m_rad = n_rad * (1.0 - E2) / w2
    p = u * (n_rad + h)[:, None]
    p[:, 2] -= E2 * n_rad * u[:, 2]
    return p, n_rad, m_rad


def _legs(lat, lon):
    """Unit start vectors a (L,3), tangents t (L,3), leg angles Θ (L,) of a waypoint route."""
    u = _unit(lat, lon)
    keep = np.concatenate(([True], np.linalg.norm(np.diff(u, axis=0), axis=1) > 1e-12))
    u = u[keep]
    if u.shape[0] < 2:
        raise ValueError("a route needs at least two distinct waypoints")
    a, b = u[:-1], u[1:]
    cos_t = np.einsum("ij,ij->i", a, b)
    perp = b - cos_t[:, None] * a
    sin_t = np.linalg.norm(perp, axis=1)
    if np.any(sin_t < 1e-12):
        raise ValueError("antipodal consecutive waypoints: great circle undefined")
    return a, perp / sin_t[:, None], np.arctan2(sin_t, cos_t)


def _along(a, t, s):
    """Point u and tangent du/ds at arc s along legs (a, t), arrays (..., 3)."""
    cs, sn = np.cos(s)[..., None], np.sin(s)[..., None]
    return a * cs + t * sn, t * cs - a * sn


def fly_route(waypoints_lat_rad, waypoints_lon_rad, speed_mps: float, cruise_alt_m: float, t0_s: float = 0.0,
              dt_s: float = 0.5, climb_rate_mps: float = 20.0, terminal: str = "dive",
              terminal_dive_deg: float = 30.0, aim_alt_m: float = 0.0) -> Trajectory:
    """Trajectory of an air-breathing threat along a waypoint route (see module notes).

    Parameters
    ----------
    waypoints_lat_rad, waypoints_lon_rad : array (m,), m >= 2
        Geodetic route; the first is the launch point (at zero height), the
        last the aim point.
    speed_mps : float
        Constant ground speed (m/s).
    cruise_alt_m : float
        Cruise height above the ellipsoid: ~30-100 m for cruise missiles,
        ~500-2,000 m for drones, ~6-10 km for aircraft.
    t0_s : float
        Launch time (s).
    dt_s : float
        Sample spacing (s); the exact end point is appended.
    climb_rate_mps : float
        Vertical speed of the initial climb (m/s), > 0.
    terminal : {'dive', 'level'}
        'dive': descend at ``terminal_dive_deg`` to reach the aim at
        ``aim_alt_m``; 'level': hold cruise height to the aim point.
    terminal_dive_deg : float
        Dive angle below the horizontal (deg), in (0, 90).
    aim_alt_m : float
        Height of the aim point for 'dive'.

    Returns
    -------
    Trajectory
        Samples at ``t0_s + k dt_s`` and at the end ``t0_s + D / speed_mps``.
    """
    if terminal not in ("dive", "level"):
        raise ValueError("terminal must be 'dive' or 'level'")
    if speed_mps <= 0 or climb_rate_mps <= 0 or dt_s <= 0:
        raise ValueError("speed_mps, climb_rate_mps and dt_s must be positive")
    lat = np.asarray(waypoints_lat_rad, dtype=float).reshape(-1)
    lon = np.asarray(waypoints_lon_rad, dtype=float).reshape(-1)
    a, t, theta = _legs(lat, lon)
    n_legs = theta.size
    sigma_start = np.concatenate(([0.0], np.cumsum(theta)))

    # Table of surface distance d(σ): chords of at most _TABLE_STEP_RAD per leg.
    n_nodes = np.maximum(np.ceil(theta / _TABLE_STEP_RAD).astype(int), 1)
    leg_of = np.repeat(np.arange(n_legs), n_nodes)
    first = np.repeat(np.cumsum(n_nodes) - n_nodes, n_nodes)
    frac = (np.arange(leg_of.size) - first) / n_nodes[leg_of]
    s_tab = np.append(frac * theta[leg_of], theta[-1])
    leg_tab = np.append(leg_of, n_legs - 1)
    u_tab, _ = _along(a[leg_tab], t[leg_tab], s_tab)
    p_tab = _geodetic_point(u_tab, np.zeros(s_tab.size))[0]
    d_tab = np.concatenate(([0.0], np.cumsum(np.linalg.norm(np.diff(p_tab, axis=0), axis=1))))
    sig_tab = sigma_start[leg_tab] + s_tab
    length_m = d_tab[-1]

    # Sample times and ground distance flown.
    duration_s = length_m / speed_mps
    t_rel = np.arange(0.0, duration_s, dt_s)
    if t_rel.size > 1 and duration_s - t_rel[-1] < 1e-6 * dt_s:
        t_rel = t_rel[:-1]
    t_rel = np.append(t_rel, duration_s)
    d = np.minimum(speed_mps * t_rel, length_m)

    # Horizontal position on the route.
    sigma = np.interp(d, d_tab, sig_tab)
    leg = np.clip(np.searchsorted(sigma_start, sigma, side="right") - 1, 0, n_legs - 1)
    u, du = _along(a[leg], t[leg], sigma - sigma_start[leg])

    # Vertical profile h(d) and its slope dh/dd; on ties the later phase wins (right-continuous).
    cands = [np.full_like(d, float(cruise_alt_m)), climb_rate_mps / speed_mps * d]
    slopes = [0.0, climb_rate_mps / speed_mps]
    if terminal == "dive":
        tan_dive = np.tan(np.deg2rad(terminal_dive_deg))
        cands.insert(0, aim_alt_m + tan_dive * (length_m - d))
        slopes.insert(0, -tan_dive)
    heights = np.stack(cands)
    which = np.argmin(heights, axis=0)
    h = heights[which, np.arange(d.size)]
    dh_dd = np.asarray(slopes)[which]

    pos, n_rad, m_rad = _geodetic_point(u, h)

    # Velocity: ∂P/∂σ dσ/dt + up * v dh/dd, with the local east/north/up of u.
    cphi = np.maximum(np.hypot(u[:, 0], u[:, 1]), 1e-15)
    east = np.stack((-u[:, 1], u[:, 0], np.zeros(d.size)), axis=-1) / cphi[:, None]
    north = np.stack((-u[:, 2] * u[:, 0], -u[:, 2] * u[:, 1], cphi * cphi), axis=-1) / cphi[:, None]
    ce = np.einsum("ij,ij->i", du, east)
    cn = np.einsum("ij,ij->i", du, north)
    dsig_dt = speed_mps / np.hypot(m_rad * cn, n_rad * ce)
    dp_dsig = ((m_rad + h) * cn)[:, None] * north + ((n_rad + h) * ce)[:, None] * east
    vel = dp_dsig * dsig_dt[:, None] + u * (speed_mps * dh_dd)[:, None]
    return Trajectory(t0_s + t_rel, pos, vel)


def fly_routes(routes: Sequence[tuple], speed_mps, cruise_alt_m, t0_s=0.0, **kwargs) -> list[Trajectory]:
    """:func:`fly_route` for many threats.

    ``routes`` is a sequence of (lat_rad array, lon_rad array).  Every other
    argument (including the keywords of :func:`fly_route`) is either one
    value for all routes or a sequence with one value per route.
    """
    n = len(routes)

    def pick(value, i):
        if isinstance(value, (list, tuple, np.ndarray)) and np.ndim(value) == 1 and len(value) == n:
            return value[i]
        return value

    params = {"speed_mps": speed_mps, "cruise_alt_m": cruise_alt_m, "t0_s": t0_s, **kwargs}
    return [fly_route(routes[i][0], routes[i][1], **{k: pick(v, i) for k, v in params.items()}) for i in range(n)]
