"""Threat evaluation: impact prediction with the shared gravity model, asset endangerment, shot windows."""

from types import SimpleNamespace

import numpy as np

from tdome import geo
from tdome.c2.engage import plan_windows
from tdome.c2.threat import ThreatConfig, evaluate_threats
from tdome.messages import BatteryStatus, DefendedAsset, InterceptorSpec, ThreatClass
from tdome.world.airbreathing import fly_route
from tdome.world.ballistic import fly_ballistic_many, solve_launch

rad = np.radians
TAIPEI = DefendedAsset("Taipei", "city", 100.0, rad(25.04), rad(121.56), 8000.0)
KAOHSIUNG = DefendedAsset("Kaohsiung", "city", 80.0, rad(22.63), rad(120.30), 8000.0)


def picture(x, ballistic, t=0.0):
    n = len(x)
    return SimpleNamespace(time_s=t, track_id=np.arange(1, n + 1), x=np.asarray(x),
                           P=np.tile(np.eye(6) * 1.0, (n, 1, 1)), ballistic=np.asarray(ballistic),
                           n_hits=np.full(n, 10), kin_class=None)


def missiles(aims):
    lat = np.full(len(aims), rad(25.0))
    lon = np.full(len(aims), rad(118.6))
    alat = rad(np.array([a[0] for a in aims]))
    alon = rad(np.array([a[1] for a in aims]))
    v0 = solve_launch(lat, lon, alat, alon)
    return fly_ballistic_many(geo.geodetic_to_ecef(lat, lon, 0.0), v0, np.zeros(len(aims)))


def test_ballistic_impact_prediction_matches_truth():
    trajs = missiles([(25.04, 121.56), (24.0, 119.8), (22.63, 120.30)])
    states = [np.concatenate([tr.pos_ecef[200], tr.vel_ecef[200]]) for tr in trajs]  # 100 s after launch
    tp = evaluate_threats(picture(states, [True] * 3), [TAIPEI, KAOHSIUNG], ThreatConfig())
    for i, tr in enumerate(trajs):
        assert np.linalg.norm(tp.impact_ecef[i] - tr.impact_ecef) < 30.0
        assert abs(tp.time_to_go_s[i] - (tr.impact_s - tr.t_s[200])) < 0.5
    assert tp.asset.tolist() == [0, -1, 1]  # Taipei, the sea, Kaohsiung
    assert tp.value.tolist() == [100.0, 0.0, 80.0]
    assert tp.cls[0] == ThreatClass.BALLISTIC
    # Hermite interpolation between prediction nodes reproduces the truth path.
    p = tp.positions_at(np.array([37.0, 81.5]), np.array([0]))[0]
    truth = trajs[0].sample(trajs[0].t_s[200] + np.array([37.0, 81.5]))[0]
    assert np.max(np.linalg.norm(p - truth, axis=1)) < 5.0


def test_air_breathing_path_finds_the_asset_ahead():
    toward = fly_route(rad(np.array([25.3, 25.04])), rad(np.array([120.4, 121.56])), 50.0, 1000.0, 0.0)
    away = fly_route(rad(np.array([25.3, 25.6])), rad(np.array([120.4, 120.0])), 50.0, 1000.0, 0.0)
    x = [np.concatenate([tr.pos_ecef[100], tr.vel_ecef[100]]) for tr in (toward, away)]
    tp = evaluate_threats(picture(x, [False, False]), [TAIPEI, KAOHSIUNG], ThreatConfig(horizon_s=3600))
    assert tp.asset.tolist() == [0, -1]
    assert tp.cls.tolist() == [ThreatClass.DRONE, ThreatClass.DRONE]
    # Time to go is the path length to the asset's footprint over the speed, to one node spacing.
    lat, lon, _ = geo.ecef_to_geodetic(x[0][:3])
    d = geo.great_circle_distance_m(lat, lon, TAIPEI.lat_rad, TAIPEI.lon_rad) - 8000
    assert abs(tp.time_to_go_s[0] - d / 50.0) <= 10.0 + 1e-6


def test_a_drone_already_inside_the_corridor_can_still_be_engaged():
    # 2 km from the footprint and closing: the last chance for a short-range layer.
    target = DefendedAsset("Plant", "power_plant", 5.0, rad(24.213), rad(120.481), 500.0)
    route = fly_route(rad(np.array([24.213, 24.213])), rad(np.array([120.40, 120.481])), 40.0, 300.0, 0.0)
    k = int(np.searchsorted(route.t_s, route.impact_s - 60.0))
    x = np.concatenate([route.pos_ecef[k], route.vel_ecef[k]])
    tp = evaluate_threats(picture([x], [False]), [target], ThreatConfig())
    assert tp.asset[0] == 0 and tp.time_to_go_s[0] > 20.0
    spec = InterceptorSpec("short", "short", 700.0, 500.0, 8e3, 0.0, 5e3, 3.0, {"drone": 0.8}, 2e5)
    bat = BatteryStatus(0, "b", "short", target.lat_rad, target.lon_rad, 0.0, spec, 4, 8, 8)
    w = plan_windows(tp, np.array([0]), [bat], now_s=0.0)
    assert w.feasible_now[0, 0] and w.intercept_s[0, 0] < tp.time_to_go_s[0]


def test_windows_respect_envelope_and_flyout():
    trajs = missiles([(25.04, 121.56)])
    tr = trajs[0]
    k = 400  # 200 s after launch, 54 s before impact: within one flyout of the battery
    tp = evaluate_threats(picture([np.concatenate([tr.pos_ecef[k], tr.vel_ecef[k]])], [True]), [TAIPEI], ThreatConfig())
    spec = InterceptorSpec("mid", "mid", 1500.0, 3e3, 70e3, 300.0, 40e3, 5.0, {"ballistic": 0.8}, 4e6)
    bat = BatteryStatus(0, "b", "mid", rad(25.0), rad(121.45), 0.0, spec, 8, 16, 16)
    w = plan_windows(tp, np.array([0]), [bat], now_s=0.0)
    assert w.feasible_now[0, 0]
    t_int = w.intercept_s[0, 0]
    aim = w.aim_ecef[0, 0]
    d = np.linalg.norm(aim - bat.ecef)
    _, _, alt = geo.ecef_to_geodetic(aim)
    assert 3e3 <= d <= 70e3 and 300.0 <= alt <= 40e3
    assert t_int - spec.reaction_s >= d / spec.speed_mps - 1e-6
    # The aim point is where the threat really is at the intercept time.
    truth = tr.sample(tr.t_s[k] + t_int)[0]
    assert np.linalg.norm(truth - aim) < 10.0
    # Earliest: one second sooner is not reachable.
    before = tp.positions_at(np.array([t_int - 1.0]), np.array([0]))[0, 0]
    d0 = np.linalg.norm(before - bat.ecef)
    _, _, a0 = geo.ecef_to_geodetic(before)
    assert (t_int - 1.0 - spec.reaction_s < d0 / spec.speed_mps) or d0 > 70e3 or a0 > 40e3


def test_a_climbing_rocket_not_yet_flagged_is_predicted_with_gravity():
    # Early in flight the tracker may not have flagged a rocket ballistic yet; a straight,
    # level projection of it would cross half of Taiwan. Its climb rate gives it away.
    trajs = missiles([(24.0, 119.9)])  # aimed at the sea
    tr = trajs[0]
    state = np.concatenate([tr.pos_ecef[30], tr.vel_ecef[30]])  # 15 s after launch, climbing
    tp = evaluate_threats(picture([state], [False]), [TAIPEI, KAOHSIUNG], ThreatConfig())
    assert np.linalg.norm(tp.impact_ecef[0] - tr.impact_ecef) < 100.0
    assert tp.asset[0] == -1


def test_a_young_drone_track_with_a_loose_climb_rate_is_not_called_a_rocket():
    """A drone track whose vertical velocity is still loose (a young track from coarse plots: σ 120 m/s) climbs at
    200 m/s in its estimate: beyond the 150 m/s no air-breathing threat reaches, but not by two of its standard
    deviations, so it stays air-breathing (before, it was a rocket, and stayed ballistic in the tracker's eyes);
    the same estimate known to 10 m/s is ballistic-like, as a climbing rocket is."""
    lat, lon = rad(24.3), rad(120.1)
    pos = np.ravel(geo.geodetic_to_ecef(lat, lon, 1000.0))
    vel = np.array([40.0, 0.0, 200.0]) @ geo.enu_rotation(lat, lon)
    x = np.concatenate([pos, vel])
    up = pos / np.linalg.norm(pos)
    for sigma, ballistic in ((120.0, False), (10.0, True)):
        pic = picture([x], [False])
        pic.P = np.eye(6)[None] * 100.0**2
        pic.P[0, 3:, 3:] = np.eye(3) * 5.0**2 + np.outer(up, up) * sigma**2
        tp = evaluate_threats(pic, [TAIPEI, KAOHSIUNG], ThreatConfig())
        is_ballistic = ThreatClass(int(tp.cls[0])).label in ("ballistic", "rocket")
        assert is_ballistic == ballistic, sigma
