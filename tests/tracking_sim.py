"""A tiny independent simulation for the tracker's tests: targets on straight lines (or free flight)
in ECEF near Taiwan, radars measuring range, azimuth, elevation (and range rate) with Gaussian errors,
detection probability Pd and uniform false plots. Independent of tdome.world and tdome.sensors."""

from __future__ import annotations

import numpy as np

from tdome import geo
from tdome.c2.tracking import (
    Tracker,
    TrackerConfig,
)
from tdome.messages import Detections, SensorSite

LAT0, LON0 = np.radians(24.0), np.radians(121.0)




def make_site(index, lat_deg, lon_deg, alt_m=100.0, sigma_r=50.0, sigma_ang=1e-3, revisit=4.0, sigma_rdot=None,
              max_range_m=500e3) -> SensorSite:
    return SensorSite(index=index, name=f"radar{index}", lat_rad=np.radians(lat_deg), lon_rad=np.radians(lon_deg),
                      alt_m=alt_m, max_range_m=max_range_m, min_range_m=500.0, min_el_rad=np.radians(-2.0),
                      max_el_rad=np.radians(90.0), az_center_rad=0.0, az_half_width_rad=np.pi, revisit_s=revisit,
                      sigma_range_m=sigma_r, sigma_az_rad=sigma_ang, sigma_el_rad=sigma_ang,
                      sigma_rdot_mps=sigma_rdot)


def enu_velocity_to_ecef(lat, lon, v_enu):
    """Velocity (n, 3) from the local ENU frame at (lat, lon) to ECEF."""
    M = geo.enu_rotation(lat, lon)
    return np.einsum("...ji,...j->...i", M, v_enu)


def measure(site: SensorSite, t, pos, vel, rng, pd=1.0, n_clutter=0, clutter_box=None):
    """One scan of ``site`` over targets ``pos``/``vel`` (ECEF); returns detections and their source rows (-1 false)."""
    pos = np.atleast_2d(pos)
    vel = np.atleast_2d(vel)
    idx = np.flatnonzero(site.covers(pos) & (rng.random(len(pos)) < pd))
    d = site.to_enu(pos[idx])
    r, az, el = geo.enu_to_razel(d)
    n = idx.size
    r = r + rng.normal(0, site.sigma_range_m, n)
    az = np.mod(az + rng.normal(0, site.sigma_az_rad, n), 2 * np.pi)
    el = el + rng.normal(0, site.sigma_el_rad, n)
    rdot = None
    if site.sigma_rdot_mps is not None:
        w = vel[idx] @ site.enu_rot.T
        rdot = np.einsum("ij,ij->i", d, w) / np.linalg.norm(d, axis=1) + rng.normal(0, site.sigma_rdot_mps, n)
    if n_clutter:
        lo, hi = clutter_box  # ECEF box corners of false plots
        fc = rng.uniform(lo, hi, (n_clutter, 3))
        fr, faz, fel = geo.enu_to_razel(site.to_enu(fc))
        r, az, el = np.r_[r, fr], np.r_[az, faz], np.r_[el, fel]
        if rdot is not None:
            rdot = np.r_[rdot, rng.normal(0, 100.0, n_clutter)]
        idx = np.r_[idx, -np.ones(n_clutter, dtype=int)]
    order = rng.permutation(idx.size)
    sig = [site.sigma_range_m, site.sigma_az_rad, site.sigma_el_rad]
    if rdot is not None:
        sig.append(site.sigma_rdot_mps)
    det = Detections(time_s=float(t), sensor=site.index, range_m=r[order], az_rad=az[order], el_rad=el[order],
                     sigma=np.tile(sig, (idx.size, 1)), rdot_mps=None if rdot is None else rdot[order])
    return det, idx[order]


def schedule(sites, t_end, phases=None):
    """Scan instants of all radars merged in time order: list of (t, site)."""
    out = []
    for k, s in enumerate(sites):
        ph = 0.0 if phases is None else phases[k]
        out += [(t, s) for t in np.arange(ph + s.revisit_s, t_end + 1e-9, s.revisit_s)]
    return sorted(out, key=lambda e: e[0])


def straight_targets(n, rng, spacing_m=20e3, speed=(200.0, 260.0), alt=(3e3, 9e3)):
    """``n`` targets on a grid around 24N 121E, flying roughly west; ECEF p0, v."""
    side = int(np.ceil(np.sqrt(n)))
    ii, jj = np.divmod(np.arange(n), side)
    east = (jj - (side - 1) / 2) * spacing_m
    north = (ii - (side - 1) / 2) * spacing_m
    up = rng.uniform(*alt, n)
    p0 = geo.enu_to_ecef(np.stack([east, north, up], axis=1), LAT0, LON0, 0.0)
    hdg = np.radians(270.0) + rng.uniform(-0.1, 0.1, n)
    spd = rng.uniform(*speed, n)
    lat, lon, _ = geo.ecef_to_geodetic(p0)
    v = enu_velocity_to_ecef(lat, lon, np.stack([spd * np.sin(hdg), spd * np.cos(hdg), np.zeros(n)], axis=1))
    return p0, v


def match_errors(pic, pos):
    """For each truth row the distance to the nearest confirmed track (inf if none)."""
    if len(pic) == 0:
        return np.full(len(pos), np.inf)
    d = np.linalg.norm(pic.x[None, :, :3] - pos[:, None, :], axis=2)
    return d.min(axis=1)


def _fd_jacobian(f, x, h):
    cols = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h[i]
        fp, fm = f(x + e), f(x - e)
        diff = fp - fm
        diff[1] = geo.wrap_angle(diff[1])
        cols.append(diff / (2 * h[i]))
    return np.stack(cols, axis=-1)


def run_scenario(tracker, sites, t_end, truth, rng, pd=1.0, n_clutter=0, clutter_box=None, on_scan=None):
    """Feed the tracker all scans up to t_end; ``truth(t) -> (pos, vel)``."""
    for t, s in schedule(sites, t_end):
        pos, vel = truth(t)
        det, _ = measure(s, t, pos, vel, rng, pd=pd, n_clutter=n_clutter, clutter_box=clutter_box)
        tracker.process(det)
        if on_scan is not None:
            on_scan(t, s)


def match_errors_tracks(pic, pos):
    """For each confirmed track the distance to the nearest truth."""
    if len(pic) == 0:
        return np.empty(0)
    return np.linalg.norm(pic.x[:, None, :3] - pos[None], axis=2).min(axis=1)


def _turning_target(t, speed=250.0, g_load=6.0, t_turn=(30.0, None)):
    """ENU position and velocity of a target flying north, pulling a level ``g_load`` turn to the east
    from ``t_turn[0]`` through 270° (default), then flying straight."""
    w = g_load * 9.80665 / speed
    t0 = t_turn[0]
    t1 = t0 + 1.5 * np.pi / w if t_turn[1] is None else t_turn[1]
    p = np.array([0.0, -40e3, 5000.0])
    if t <= t0:
        return p + [0.0, speed * t, 0.0], np.array([0.0, speed, 0.0])
    p = p + [0.0, speed * t0, 0.0]
    R = speed / w
    s = min(t, t1) - t0
    # turning right (clockwise seen from above), centre to the east
    pos = p + [R - R * np.cos(w * s), R * np.sin(w * s), 0.0]
    vel = np.array([speed * np.sin(w * s), speed * np.cos(w * s), 0.0])
    if t > t1:
        pos = pos + vel * (t - t1)
    return pos, vel


def _fly_turn(motion):
    """Track the turning target of :func:`_turning_target`: (track ids seen, errors in the turn, errors after)."""
    rng = np.random.default_rng(11)
    site = make_site(0, 24.0, 121.0, sigma_r=20.0, sigma_ang=1e-3, revisit=2.0)
    lat0, lon0 = site.lat_rad, site.lon_rad
    M = geo.enu_rotation(lat0, lon0)
    trk = Tracker(TrackerConfig(motion=motion), [site])
    ids, err_turn, err_after = [], [], []
    t_end_turn = 30.0 + 1.5 * np.pi / (6 * 9.80665 / 250.0)
    for k in range(1, 60):
        t = 2.0 * k
        p_enu, v_enu = _turning_target(t)
        p = geo.enu_to_ecef(p_enu[None], lat0, lon0, 0.0)[0]
        det, _ = measure(site, t, p, v_enu @ M, rng)
        trk.process(det)
        pic = trk.picture(t)
        if k > 5:
            ids.append(pic.track_id.tolist())
            e = np.linalg.norm(pic.x[:, :3] - p, axis=1).min(initial=np.inf)
            (err_turn if 30.0 < t <= t_end_turn + 4.0 else err_after).append(float(e))
    return ids, err_turn, err_after


# Two radars shared by several tests.
SITE_A = make_site(0, 23.3, 120.3, sigma_r=50.0, sigma_ang=1e-3, revisit=4.0)
SITE_B = make_site(1, 24.6, 121.7, alt_m=300.0, sigma_r=30.0, sigma_ang=0.5e-3, revisit=5.0)
