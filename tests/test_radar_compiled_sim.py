"""The radar scan's compiled stages against the numpy forms they replace, to the last bit.

A scan is three compiled passes between the rotations into the radar's frame
(numpy matrix products) and the random draws (numpy's generator, the same
draws in the same order): the coverage test and the covered targets' offsets
(:func:`_covered`), their range, angles, Pd and detection (:func:`_detect`),
and the plots assembled from the draws (:func:`_plots`).  Each ``_numpy_*``
function below is the vectorized form of the same equations; the whole scan
is held to its numpy form in tests/test_compiled_geometry.py.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tdome import geo
from tdome.messages import SensorSite
from tdome.sensors.radar import RadarModel, _covered, _detect, _plots

LAT, LON = np.radians(24.5), np.radians(120.8)


def _site(alt_m, az_deg, half_deg, min_el_deg, max_el_deg, max_range_m, sigma_rdot):
    return SensorSite(index=0, name="r", lat_rad=LAT, lon_rad=LON, alt_m=alt_m, max_range_m=max_range_m,
                      min_range_m=500.0, min_el_rad=np.radians(min_el_deg), max_el_rad=np.radians(max_el_deg),
                      az_center_rad=np.radians(az_deg), az_half_width_rad=np.radians(half_deg), revisit_s=2.0,
                      sigma_range_m=50.0, sigma_az_rad=1e-3, sigma_el_rad=2e-3, sigma_rdot_mps=sigma_rdot)


SITES = [_site(30.0, 0.0, 180.0, -2.0, 80.0, 300e3, 5.0), _site(2600.0, 300.0, 60.0, 0.0, 60.0, 450e3, None),
         _site(-10.0, 10.0, 170.0, -5.0, 90.0, 200e3, 1.0), _site(120.0, 345.0, 30.0, 1.0, 30.0, 150e3, None)]


def _targets(rng, n):
    lat = LAT + np.radians(rng.uniform(-4.0, 4.0, n))
    lon = LON + np.radians(rng.uniform(-4.0, 4.0, n))
    alt = np.where(rng.random(n) < 0.5, rng.uniform(-100.0, 3000.0, n), rng.uniform(0.0, 4e5, n))
    return geo.geodetic_to_ecef(lat, lon, alt)


def _same(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got, want)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 80), k=st.integers(0, len(SITES) - 1))
def test_covered_is_flatnonzero_of_covers_and_the_offsets(seed, n, k):
    site, rng = SITES[k], np.random.default_rng(seed)
    xyz = _targets(rng, n)
    idx, d = _covered(xyz, site.to_enu(xyz), site.ecef, *site.coverage_limits)
    want = np.flatnonzero(site.covers(xyz))
    _same(idx, want.astype(np.int64))
    _same(d, xyz[want] - site.ecef)


def _numpy_detect(radar, d_enu, rcs, rows, u, vel, jnr):
    r, az, el = geo.enu_to_razel(d_enu)
    clear = u < radar.detection_probability(r, rcs[rows])
    hit = u < radar.detection_probability(r, rcs[rows], jnr if jnr.size else None)
    return np.stack([r, az, el]), hit, vel[rows[hit]], int(np.sum(clear & ~hit)) if jnr.size else 0


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 60), snr_db=st.floats(-10.0, 40.0),
       ref_km=st.floats(10.0, 300.0), jammed=st.booleans())
def test_detect_is_the_razel_swerling_draw(seed, n, snr_db, ref_km, jammed):
    """With and without jamming (each target's J/N), and the plots lost to it counted from the same draws."""
    site, rng = SITES[0], np.random.default_rng(seed)
    radar = RadarModel(site, 10 ** (snr_db / 10), ref_km * 1e3, 1e-6, 0.0, rng)
    m = n + int(rng.integers(0, 10))
    rows = np.sort(rng.choice(m, n, replace=False)).astype(np.int64)
    d_enu = rng.normal(0.0, 1e5, (n, 3))
    d_enu[0] = [0.3, -0.2, 0.1]  # inside a metre: the range floor of the radar equation
    rcs, u, vel = rng.uniform(0.001, 10.0, m), rng.random(n), rng.normal(0.0, 500.0, (m, 3))
    jnr = 10 ** rng.uniform(-2.0, 4.0, n) if jammed else np.empty(0)
    got = _detect(d_enu, rcs, rows, u, vel, float(radar.snr_ref), float(radar.ref_range_m), float(radar.pfa), jnr)
    want = _numpy_detect(radar, d_enu, rcs, rows, u, vel, jnr)
    for g, w in zip(got[:3], want[:3], strict=True):
        _same(g, w)
    assert got[3] == want[3]


def _numpy_plots(rows, d_enu, geom, hit, v_enu, z, u_fa, fa_rdot, with_rdot, az_center, order, sig, box):
    """The plot assembly as the numpy expressions of the scan wrote it."""
    r, az, el = geom[0][hit], geom[1][hit], geom[2][hit]
    n, n_fa = int(hit.sum()), u_fa.size // 3
    r_m = r + (0.0 + sig[0] * z[:n])
    az_m = np.mod(az + (0.0 + sig[1] * z[n:2 * n]), 2.0 * np.pi)
    el_m = el + (0.0 + sig[2] * z[2 * n:3 * n])
    fa_r = box[0] + (box[1] - box[0]) * u_fa[:n_fa]
    fa_az = np.mod(az_center + (box[2] + (box[3] - box[2]) * u_fa[n_fa:2 * n_fa]), 2 * np.pi)
    fa_el = box[4] + (box[5] - box[4]) * u_fa[2 * n_fa:]
    cols = [np.concatenate([r_m, fa_r]), np.concatenate([az_m, fa_az]), np.concatenate([el_m, fa_el])]
    if with_rdot:
        rdot = np.einsum("ij,ij->i", d_enu[hit], v_enu) / np.maximum(r, 1.0)
        cols.append(np.concatenate([rdot + (0.0 + sig[3] * z[3 * n:]), fa_rdot]))
    src = np.concatenate([rows[hit], -np.ones(n_fa, dtype=np.int64)])
    return np.stack(cols)[:, order], src[order], np.tile(sig, (order.size, 1))


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_cov=st.integers(0, 30), n_fa=st.integers(0, 6), with_rdot=st.booleans())
def test_plots_are_the_numpy_assembly(seed, n_cov, n_fa, with_rdot):
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(100, n_cov, replace=False)).astype(np.int64)
    d_enu = rng.normal(0.0, 1e5, (n_cov, 3))
    geom = np.stack(geo.enu_to_razel(d_enu)) if n_cov else np.empty((3, 0))
    hit = rng.random(n_cov) < 0.6
    n = int(hit.sum())
    v_enu = rng.normal(0.0, 300.0, (n, 3)) if with_rdot else np.empty((0, 3))
    z = rng.standard_normal((4 if with_rdot else 3) * n)
    u_fa = rng.random(3 * n_fa)
    fa_rdot = rng.normal(0.0, 30.0, n_fa) if with_rdot else np.empty(0)
    order = rng.permutation(n + n_fa)
    sig = np.array([50.0, 1e-3, 2e-3, 5.0][:4 if with_rdot else 3])
    box = np.array([1000.0, 3e5, -np.pi / 3, np.pi / 3, 0.0, np.radians(10.0)])
    az_center = float(rng.uniform(0.0, 2 * np.pi))
    args = (rows, d_enu, geom, hit, v_enu, z, u_fa, fa_rdot, with_rdot, az_center, order, sig, box)
    for g, w in zip(_plots(*args), _numpy_plots(*args), strict=True):
        _same(g, w)


def test_a_permutation_of_no_plot_or_one_draws_nothing():
    """The scan skips rng.permutation(0 or 1): it would return arange and leave the generator as it was."""
    for m in (0, 1):
        rng = np.random.default_rng(7)
        state = rng.bit_generator.state
        _same(rng.permutation(m), np.arange(m))
        assert rng.bit_generator.state == state


@settings(max_examples=200, deadline=None)
@given(t_from=st.floats(-50.0, 5000.0), width=st.floats(0.0, 25.0), revisit=st.sampled_from([1.0, 4.0, 10.0, 0.3]),
       phase=st.floats(0.0, 10.0))
def test_scan_instants_are_the_numpy_scan_times(t_from, width, revisit, phase):
    site = SensorSite(index=0, name="r", lat_rad=LAT, lon_rad=LON, alt_m=0.0, max_range_m=1e5, min_range_m=0.0,
                      min_el_rad=0.0, max_el_rad=1.0, az_center_rad=0.0, az_half_width_rad=np.pi, revisit_s=revisit,
                      sigma_range_m=1.0, sigma_az_rad=1e-3, sigma_el_rad=1e-3)
    radar = RadarModel(site, 1.0, 1e5, 1e-6, 0.0, np.random.default_rng(0), phase)
    t_to = t_from + width
    k0 = np.floor((t_from - phase) / revisit) + 1  # the numpy form scan_times had
    k1 = np.floor((t_to - phase) / revisit)
    want = np.empty(0) if k1 < k0 else phase + revisit * np.arange(k0, k1 + 1)
    got = radar.scan_instants(t_from, t_to)
    assert all(type(x) is float for x in got)
    _same(np.array(got, dtype=float), want)
    _same(radar.scan_times(t_from, t_to), want)
