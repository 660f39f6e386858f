"""Plausibility (tdome.c2.tracking.plausibility): the kinematic envelope of the catalog, the test under
uncertainty, and the tracker that confirms no ghost.

- the free-flight arcs the envelope is made of against an independent integration of the two-body problem;
- every state of every object the built-in scenarios fly (missiles, rockets, the manoeuvring RV, decoys,
  drones, cruise missiles, aircraft) is inside the envelope: the test never calls a real object a ghost;
- the shapes of a ghost (3 km/s level at 5 km; an airliner's altitude at a missile's speed) are outside, the
  same speeds on a re-entry dive inside, and the covariance decides when it is too loose to tell;
- hours of dense clutter through the tracker, then a few aircraft: no confirmed track ever leaves the
  envelope, the aircraft are held, and the clutter's would-be ghosts are counted as dropped.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from tdome import geo
from tdome.c2.tracking import Tracker, TrackerConfig
from tdome.c2.tracking.plausibility import Envelope, ThreatKinematics, arc_samples
from tdome.dynamics import MU_M3_S2
from tdome.geo import MEAN_RADIUS_M
from tdome.scenario.catalog import builtin_catalog
from tdome.scenario.loader import builtin_scenario_path, load_scenario
from tdome.sim.build import build_assets, build_raid, threat_kinematics
from tracking_sim import enu_velocity_to_ecef, make_site, measure

CATALOG = threat_kinematics(builtin_catalog().threats)
CONFIG = TrackerConfig(threat_kinematics=CATALOG)
ENVELOPE = Envelope.of(CATALOG, CONFIG)


def state(alt_m, speed_mps, gamma_deg, lat_deg=24.0, lon_deg=121.0):
    """An ECEF state (6,) at ``alt_m`` flying east at ``speed_mps``, ``gamma_deg`` above the horizontal."""
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    g = np.radians(gamma_deg)
    pos = geo.geodetic_to_ecef(lat, lon, alt_m)
    vel = enu_velocity_to_ecef(lat, lon, np.array([speed_mps * np.cos(g), 0.0, speed_mps * np.sin(g)]))
    return np.r_[np.ravel(pos), np.ravel(vel)]


# --------------------------------------------------------------------------- the arcs


@pytest.mark.parametrize("range_km, gamma_deg", [(80.0, None), (300.0, None), (600.0, None), (300.0, 25.0)])
def test_arcs_are_the_two_body_problem(range_km, gamma_deg):
    """The closed-form arc (launch speed from the range equation, speed and flight path by vis-viva and angular
    momentum) against a numerical integration of the planar two-body problem from the same launch state: it
    comes down at the range asked for, through the same apogee, at the same speeds."""
    t = ThreatKinematics("ballistic", 2000.0, range_km * 1e3, gamma_rad=None if gamma_deg is None
                         else np.radians(gamma_deg))
    alt, v, sin_g = arc_samples(t, n_ranges=40, n_points=300)
    # the last range of the grid is the full range: its samples are the last 300
    alt, v, sin_g = alt[-300:], v[-300:], sin_g[-300:]
    v0, g0 = v[0], np.arcsin(sin_g[0])

    def f(_, y):
        r = np.hypot(y[0], y[1])
        return [y[2], y[3], -MU_M3_S2 * y[0] / r**3, -MU_M3_S2 * y[1] / r**3]

    def landed(_, y):
        return np.hypot(y[0], y[1]) - MEAN_RADIUS_M

    landed.terminal, landed.direction = True, -1
    y0 = [0.0, MEAN_RADIUS_M, v0 * np.cos(g0), v0 * np.sin(g0)]
    sol = solve_ivp(f, (0.0, 3000.0), y0, events=landed, rtol=1e-10, atol=1e-6, max_step=1.0)
    end = sol.y_events[0][0]
    ground_range = MEAN_RADIUS_M * np.arctan2(end[0], end[1])
    assert ground_range == pytest.approx(range_km * 1e3, rel=1e-4)
    r = np.hypot(sol.y[0], sol.y[1])
    assert r.max() - MEAN_RADIUS_M == pytest.approx(alt.max(), rel=1e-4)
    # vis-viva along the integration: the speed at each altitude of the samples
    speed = np.hypot(sol.y[2], sol.y[3])
    up = r[: np.argmax(r) + 1] - MEAN_RADIUS_M
    assert np.allclose(np.interp(alt, up, speed[: np.argmax(r) + 1]), v, rtol=1e-4)
    assert np.all(np.diff(v) <= 1e-9) and np.all(np.diff(sin_g) <= 1e-12)  # slower and flatter up to the apogee


# --------------------------------------------------------------------------- real objects are inside


@pytest.mark.parametrize("scenario", ["default", "contested"])
def test_every_object_the_scenarios_fly_is_inside(scenario):
    """Every grid state of every threat of a built-in scenario (and of the decoys it releases) is inside the
    envelope of the catalog: truth never looks like a ghost."""
    sc = load_scenario(builtin_scenario_path(scenario))
    raid = build_raid(sc, build_assets(sc))
    classes = set()
    for k, tr in enumerate(raid.trajectories.trajectories):
        x = np.c_[tr.pos_ecef, tr.vel_ecef]
        out = ENVELOPE.outside(x)
        assert not out.any(), (raid.type_name[k], x[out][:3])
        classes.add(raid.cls[k])
    assert {"ballistic", "rocket", "drone", "cruise"} <= classes


def test_the_manoeuvring_re_entry_vehicle_is_inside():
    """The 6 g weave of a manoeuvring RV bends its flight path below its start altitude; still inside."""
    from pathlib import Path

    sc = load_scenario(Path(__file__).parent.parent / "examples" / "manoeuvring_rv.yaml")
    raid = build_raid(sc, build_assets(sc))
    for tr in raid.trajectories.trajectories:
        assert not ENVELOPE.outside(np.c_[tr.pos_ecef, tr.vel_ecef]).any()


# --------------------------------------------------------------------------- ghosts are outside


@pytest.mark.parametrize("alt_m, speed, gamma, inside", [
    (5e3, 3000.0, 0.0, False),      # a 3 km/s object level at 5 km: nothing flies like that
    (10e3, 3600.0, -5.0, False),    # a ghost at an airliner's altitude, faster than any catalog missile
    (5e3, 2000.0, -10.0, False),    # a missile's speed, far too flat that low
    (5e3, 2000.0, -45.0, True),     # the same speed on a re-entry dive
    (30e3, 1500.0, 40.0, True),     # a climbing missile
    (145e3, 1650.0, 0.0, True),     # at the apogee of a 600 km shot (146 km, 1,678 m/s)
    (11e3, 250.0, 0.0, True),       # an airliner
    (8e3, 700.0, -60.0, True),      # an anti-radiation missile diving on its radar
    (3e3, 600.0, 70.0, True),       # climbing steeply at 600 m/s low down: a short rocket shot
    (3e3, 1500.0, 10.0, False),     # climbing flat at 1.5 km/s low down: neither an aircraft nor a missile
    (40e3, 250.0, 0.0, False),      # an aircraft's speed far above any aircraft
])
def test_ghost_shapes(alt_m, speed, gamma, inside):
    x = state(alt_m, speed, gamma)
    assert ENVELOPE.outside(x[None])[0] == (not inside)
    # With a tight covariance the test under uncertainty says the same; with a loose one, it cannot tell.
    tight = np.diag([50.0**2] * 3 + [5.0**2] * 3)
    assert ENVELOPE.implausible(x[None], tight[None], 3.0)[0] == (not inside)
    loose = np.diag([500.0**2] * 3 + [2000.0**2] * 3)
    assert not ENVELOPE.implausible(x[None], loose[None], 3.0)[0]


def test_implausible_is_monotone_in_sigmas_and_covariance():
    """More standard deviations, or a looser covariance, never turn a plausible state implausible."""
    rng = np.random.default_rng(3)
    n = 400
    alts = rng.uniform(0.0, 150e3, n)
    x = np.array([state(a, s, g) for a, s, g in zip(alts, rng.uniform(0.0, 4000.0, n), rng.uniform(-90, 90, n))])
    A = rng.normal(size=(n, 6, 6))
    P = A @ A.transpose(0, 2, 1) * rng.uniform(1.0, 1e5, n)[:, None, None]
    k1 = ENVELOPE.implausible(x, P, 1.0)
    k3 = ENVELOPE.implausible(x, P, 3.0)
    k3_loose = ENVELOPE.implausible(x, 4.0 * P, 3.0)
    assert np.all(k3 <= k1) and np.all(k3_loose <= k3)
    assert np.all(ENVELOPE.implausible(x, np.zeros((n, 6, 6)), 3.0) == ENVELOPE.outside(x))


def test_civil_aircraft_bounds_come_from_the_config():
    """Aircraft outside the threat catalog (civil, friendly) set the air-breathing limits with the catalog's
    fastest air-breathing type: the larger, with the margin."""
    env = Envelope.of((), TrackerConfig(threat_kinematics=(), air_max_speed_mps=300.0))
    assert env.air_speed_mps == pytest.approx(300.0 * 1.15)
    assert (env.ballistic_speed_mps == 0).all()  # no missile in the catalog: nothing fast anywhere
    assert ENVELOPE.air_speed_mps == pytest.approx(700.0 * 1.15)  # the catalog's anti-radiation missile


# --------------------------------------------------------------------------- the tracker


def _clutter_run(plausibility: bool, hours: float = 3.0, rng_seed: int = 11):
    """A terminal radar (4 s, Pd 0.9) over dense clutter: 40 false plots a scan uniform in range (5-120 km),
    azimuth and height (0-20 km), for ``hours``; in the last 20 minutes four aircraft fly through.

    Every picture is audited: the confirmed tracks outside the envelope (point estimate) are counted.
    Returns ``(tracker, implausible track ids, aircraft covered fraction)``.
    """
    rng = np.random.default_rng(rng_seed)
    site = make_site(0, 25.08, 121.23, revisit=4.0, sigma_r=50.0, sigma_ang=1e-3, max_range_m=120e3)
    cfg = TrackerConfig(threat_kinematics=CATALOG, plausibility_sigmas=3.0 if plausibility else None)
    tr = Tracker(cfg, [site])
    lat, lon = site.lat_rad, site.lon_rad
    t_air = hours * 3600.0 - 1200.0
    heading = np.radians([10.0, 100.0, 200.0, 300.0])
    starts = np.c_[-90e3 * np.sin(heading), -90e3 * np.cos(heading), [3e3, 6e3, 9e3, 11e3]]
    vel_enu = np.c_[230.0 * np.sin(heading), 230.0 * np.cos(heading), np.zeros(4)]
    p0 = geo.enu_to_ecef(starts, lat, lon, site.alt_m)
    v = enu_velocity_to_ecef(lat, lon, vel_enu)
    ghosts: set[int] = set()
    held = []
    for t in np.arange(0.0, hours * 3600.0, 4.0):
        if t >= t_air:
            pos, vel = p0 + (t - t_air) * v, v
        else:
            pos, vel = np.zeros((0, 3)), np.zeros((0, 3))
        det, _ = measure(site, t, pos, vel, rng, pd=0.9)
        m = 40
        r = rng.uniform(5e3, 120e3, m)
        az = rng.uniform(0.0, 2 * np.pi, m)
        el = np.arcsin(np.clip(rng.uniform(0.0, 20e3, m) / r, 0.0, 1.0))
        det = type(det)(time_s=t, sensor=0, range_m=np.r_[det.range_m, r], az_rad=np.r_[det.az_rad, az],
                        el_rad=np.r_[det.el_rad, el], sigma=np.r_[det.sigma, np.tile(det.sigma[:1] if len(det)
                                                                                      else [[50.0, 1e-3, 1e-3]],
                                                                                      (m, 1))])
        tr.process(det)
        pic = tr.picture(t)
        if len(pic):
            ghosts.update(pic.track_id[ENVELOPE.outside(pic.x)].tolist())
        if t >= t_air + 60.0 and len(pos):
            inside = site.covers(pos)
            d = np.linalg.norm(pic.x[:, None, :3] - pos[None], axis=2) if len(pic) else np.full((0, len(pos)), np.inf)
            held.extend((d.min(axis=0) < 1000.0)[inside].tolist() if len(pic) else [False] * int(inside.sum()))
    return tr, ghosts, float(np.mean(held))


def test_hours_of_dense_clutter_confirm_no_implausible_track():
    """Three hours of 40 clutter plots a scan at a 4 s revisit (108,000 false plots), then four aircraft: no
    confirmed track is ever outside the envelope, the aircraft are held, and the tracker counts the ghosts it
    dropped before they could confirm."""
    tr, ghosts, held = _clutter_run(plausibility=True)
    assert not ghosts, sorted(ghosts)
    assert held > 0.9
    st = tr.stats
    assert st["implausible_tentative"] > 0
    assert st["confirmed"] >= 4


def test_without_the_envelope_the_same_clutter_confirms_ghosts():
    """The test above has teeth: an hour of the same clutter through a tracker without the plausibility test
    puts confirmed tracks outside the envelope in the picture."""
    _, ghosts, held = _clutter_run(plausibility=False, hours=1.0)
    assert len(ghosts) >= 3
    assert held > 0.9
