"""Radar model against the radar equation, the Swerling-1 law and the 4/3-Earth horizon."""

import numpy as np

from tdome import geo
from tdome.messages import SensorSite
from tdome.sensors.radar import RadarModel

LAT, LON = np.radians(24.5), np.radians(120.8)


def make_radar(alt_m=30.0, fa=0.0, seed=0, max_range_m=300e3, snr_db=20.0, ref_km=100.0):
    site = SensorSite(index=0, name="r", lat_rad=LAT, lon_rad=LON, alt_m=alt_m, max_range_m=max_range_m,
                      min_range_m=500.0, min_el_rad=np.radians(-2), max_el_rad=np.radians(80), az_center_rad=0.0,
                      az_half_width_rad=np.pi, revisit_s=2.0, sigma_range_m=50.0, sigma_az_rad=1e-3,
                      sigma_el_rad=1e-3, sigma_rdot_mps=5.0)
    return RadarModel(site, 10 ** (snr_db / 10), ref_km * 1e3, 1e-6, fa, np.random.default_rng(seed))


def target_at(range_m, az_rad, alt_m):
    lat, lon = geo.destination(LAT, LON, az_rad, range_m)
    return geo.geodetic_to_ecef(lat, lon, alt_m)


def test_detection_rate_follows_swerling_1():
    radar = make_radar(max_range_m=400e3)
    pos = np.array([target_at(150e3, 1.0, 10e3)] * 4000)
    det, _src = radar.scan(0.0, pos, np.zeros_like(pos), np.full(4000, 1.0))
    r, _, _ = geo.enu_to_razel(radar.site.to_enu(pos[0]))
    pd = radar.detection_probability(np.array([r]), np.array([1.0]))[0]
    snr = 100.0 * (100e3 / r) ** 4
    assert np.isclose(pd, 1e-6 ** (1 / (1 + snr)))
    # Binomial 4-sigma band.
    assert abs(len(det) / 4000 - pd) < 4 * np.sqrt(pd * (1 - pd) / 4000)


def test_measurement_errors_have_the_stated_spread():
    radar = make_radar()
    pos = np.array([target_at(60e3, 2.0, 5e3)] * 5000)
    vel = np.tile([100.0, -50.0, 20.0], (5000, 1))
    det, _src = radar.scan(0.0, pos, vel, np.full(5000, 10.0))
    r, az, _el = geo.enu_to_razel(radar.site.to_enu(pos[0]))
    assert abs(np.std(det.range_m - r) / 50.0 - 1) < 0.05
    assert abs(np.std(geo.wrap_angle(det.az_rad - az)) / 1e-3 - 1) < 0.05
    assert abs(np.mean(det.range_m - r)) < 5 * 50 / np.sqrt(len(det))
    d = radar.site.to_enu(pos[0])
    v = radar.site.enu_rot @ vel[0]
    assert abs(np.mean(det.rdot_mps) - d @ v / np.linalg.norm(d)) < 0.5


def test_sea_skimmer_is_hidden_below_the_horizon():
    radar = make_radar(alt_m=30.0, snr_db=60.0)  # so strong that only geometry can hide it
    horizon = geo.horizon_range_m(30.0, 50.0)
    near = np.array([target_at(0.9 * horizon, a, 50.0) for a in np.linspace(0, 6, 50)])
    far = np.array([target_at(1.1 * horizon, a, 50.0) for a in np.linspace(0, 6, 50)])
    det_near, _ = radar.scan(0.0, near, np.zeros_like(near), np.full(50, 0.1))
    det_far, _ = radar.scan(0.0, far, np.zeros_like(far), np.full(50, 0.1))
    assert len(det_near) == 50 and len(det_far) == 0
    # The same target high up is seen far beyond the sea-level horizon.
    high = np.array([target_at(2.0 * horizon, 0.3, 8000.0)])
    assert len(radar.scan(0.0, high, np.zeros_like(high), np.array([0.1]))[0]) == 1


def test_false_alarm_count_is_poisson_with_the_stated_mean():
    radar = make_radar(fa=7.0, seed=3)
    counts = [len(radar.scan(float(k), np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0))[0]) for k in range(400)]
    assert abs(np.mean(counts) - 7.0) < 4 * np.sqrt(7.0 / 400)


def test_scan_times_follow_the_revisit_period():
    radar = make_radar()
    radar.phase_s = 0.7
    t = np.concatenate([radar.scan_times(a, a + 1.0) for a in np.arange(0.0, 20.0, 1.0)])
    assert np.allclose(np.diff(t), 2.0) and np.isclose(t[0], 0.7)
