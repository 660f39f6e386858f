"""Kinematic classification (tdome.c2.tracking.classification), in the whole tracker."""

from __future__ import annotations

import numpy as np

from tdome import dynamics, geo
from tdome.c2.tracking import (
    Tracker,
    TrackerConfig,
)
from tracking_sim import (
    enu_velocity_to_ecef,
    make_site,
    match_errors,
    measure,
    run_scenario,
)


def test_ballistic_target_is_flagged_and_tracked():
    rng = np.random.default_rng(5)
    site = make_site(0, 24.0, 120.0, sigma_r=50.0, sigma_ang=1e-3, revisit=2.0)
    launch_lat, launch_lon = np.radians(23.0), np.radians(121.0)
    p = geo.geodetic_to_ecef(launch_lat, launch_lon, 0.0)
    v = enu_velocity_to_ecef(launch_lat, launch_lon, np.array([0.0, 1400.0, 1400.0]))
    tr = Tracker(TrackerConfig(), [site])
    t, errs, flagged_at = 0.0, [], None
    for _ in range(80):
        for _ in range(4):
            p, v = dynamics.rk4_step(p[None], v[None], 0.5)
            p, v = p[0], v[0]
        t += 2.0
        det, _ = measure(site, t, p, v, rng)
        tr.process(det)
        pic = tr.picture(t)
        if len(pic):
            assert len(pic) == 1
            if pic.ballistic[0] and flagged_at is None:
                flagged_at = t
            rng_m = np.linalg.norm(site.to_enu(p))
            if t > 60.0:
                errs.append((np.linalg.norm(pic.x[0, :3] - p), rng_m))
    assert flagged_at is not None and flagged_at < 30.0
    from tdome.c2.tracking import KinematicClass

    assert tr.picture(t).kin_class[0] == KinematicClass.BALLISTIC
    errs = np.array(errs)
    assert errs[:, 1].min() > 100e3 and errs[:, 1].max() < 250e3  # ~150 km range
    assert errs[:, 0].max() < 1000.0
    assert np.median(errs[:, 0]) < 300.0
    # prediction ahead uses gravity: 20 s later still close to the truth
    pic = tr.picture(t + 20.0)
    pf, _vf = dynamics.propagate(p[None], v[None], 20.0, step_s=0.5)
    assert np.linalg.norm(pic.x[0, :3] - pf[0]) < 1500.0


def test_coarse_radar_aircraft_is_not_flagged_ballistic():
    """Early-warning accuracy (0.5°, 10 s) gives noisy young velocities; no false ballistic flag."""
    ewr = make_site(0, 23.5, 121.3, alt_m=2600.0, sigma_r=150.0, sigma_ang=np.radians(0.5), revisit=10.0,
                    max_range_m=800e3)
    lat0, lon0 = np.radians(25.5), np.radians(119.0)
    p0 = geo.geodetic_to_ecef(lat0, lon0, 8000.0)[None]
    v = enu_velocity_to_ecef(lat0, lon0, np.array([[250.0, -50.0, 0.0]]))
    for seed in range(5):
        rng = np.random.default_rng(100 + seed)
        tr = Tracker(TrackerConfig(), [ewr])
        flagged = []
        run_scenario(tr, [ewr], 200.0, lambda t: (p0 + t * v, v), rng, pd=0.9,
                     on_scan=lambda t, s, tr=tr, flagged=flagged: flagged.append(tr.picture(t).ballistic.any()))
        pic = tr.picture(200.0)
        assert len(pic) == 1 and not any(flagged)
        assert match_errors(pic, p0 + 200.0 * v)[0] < 8e3  # 0.5° at ~350 km: 3 km per plot


def test_kinematic_class_slow_fast_and_ballistic():
    """Drones (40 m/s) are slow, cruise missiles (240 m/s) fast; a young track is not classed on one noisy update."""
    from tdome.c2.tracking import KinematicClass
    from tdome.messages import PositionPlots

    rng = np.random.default_rng(3)
    lat0, lon0 = np.radians(24.0), np.radians(121.0)
    speed = np.array([40.0] * 5 + [240.0] * 5)
    heading = rng.uniform(0, 2 * np.pi, 10)
    p0 = np.column_stack([rng.uniform(0, 80e3, 10), rng.uniform(0, 80e3, 10), np.full(10, 500.0)])
    v = np.column_stack([speed * np.sin(heading), speed * np.cos(heading), np.zeros(10)])
    trk = Tracker(TrackerConfig(), sensors=[])
    C = np.broadcast_to(np.eye(3) * 100.0**2, (10, 3, 3))
    classes = []
    for k in range(40):
        t = 2.0 * k
        z = p0 + v * t + rng.normal(0, 100.0, (10, 3))
        trk.process(PositionPlots(t, 0, geo.enu_to_ecef(z, lat0, lon0, 0.0), C))
        pic = trk.picture(t)
        if len(pic):
            classes.append(pic.kin_class.copy())
    # The first confirmed picture holds tracks whose speed is still too uncertain to class.
    assert (classes[0] == KinematicClass.UNKNOWN).any()
    pic = trk.picture(78.0)
    est = geo.ecef_to_enu(pic.x[:, :3], lat0, lon0, 0.0)
    truth = p0 + v * 78.0
    row = np.argmin(np.linalg.norm(est[:, None] - truth[None], axis=-1), axis=1)
    assert len(pic) == 10 and sorted(row.tolist()) == list(range(10))
    np.testing.assert_array_equal(pic.kin_class, np.where(speed[row] < 120.0, KinematicClass.SLOW, KinematicClass.FAST))
