"""The tracker's compiled stages against the matrix algebra they implement, written plainly in numpy.

Each compiled loop (numba) replaces a chain of batched numpy calls; these
tests hold them to the textbook forms: the inverse and determinant of SPD
matrices, the Joseph-form update with its d² and ln|S|, the CV prediction
``F P Fᵀ + Q``, the chi-square gate over every track-plot pair, the
duplicate search over every pair of confirmed tracks, the altitude and
classification tests along the local vertical; and the passes that run a
whole stage in one call (a scan's plots, the missed opportunities, the
deletion tests, the classification of the updated tracks, the track table's
appends and deletions) to the numpy forms they replaced.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree

from tdome import geo
from tdome.c2.tracking import TrackerConfig, cv_process_noise, cv_transition, gate, predict
from tdome.c2.tracking.classification import KinematicClass, _classify_rows, ballistic_test, kinematic_class
from tdome.c2.tracking.deletion import _deletion_tests, _near_pairs, coast_limits, underground
from tdome.c2.tracking.gaussian import kalman_update, spd_inv_logdet
from tdome.c2.tracking.initiation import _reachable, _two_point_stack
from tdome.c2.tracking.measurements import PolarRadar, measurement_model, wrapped_residual
from tdome.c2.tracking.plots import ScanPlots, plot_to_ecef
from tdome.c2.tracking.track_table import TRACK_COLUMNS, TrackTable
from tdome.c2.tracking.tracker import _count_opportunities
from tdome.messages import Detections, SensorSite


def _spd(rng, n, k, spread=4.0):
    """SPD matrices (n, k, k) with diagonals spread over 10^spread (as radar innovations mix m² and rad²)."""
    scale = np.logspace(0, spread, k)
    A = rng.normal(size=(n, k, k)) * scale[None, :, None]
    return A @ A.transpose(0, 2, 1) + 1e-3 * np.diag(scale**2)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.sampled_from([3, 4, 6, 9]))
def test_spd_inverse_and_log_determinant(seed, k):
    S = _spd(np.random.default_rng(seed), 7, k)
    Sinv, logdet = spd_inv_logdet(S)
    assert np.allclose(Sinv @ S, np.eye(k), atol=1e-8)
    assert np.allclose(Sinv, Sinv.transpose(0, 2, 1))
    assert np.allclose(logdet, np.linalg.slogdet(S)[1], rtol=0, atol=1e-9)


def test_spd_inverse_repairs_a_singular_matrix():
    S = np.stack([np.eye(3), [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])
    Sinv, logdet = spd_inv_logdet(S)  # the second is only semi-definite: its eigenvalues are floored
    assert np.all(np.isfinite(Sinv)) and np.all(np.isfinite(logdet))
    assert np.allclose(Sinv[0], np.eye(3)) and logdet[0] == 0.0
    assert logdet[1] == pytest.approx(np.log(2.0 * 2e-12), rel=1e-6)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.sampled_from([3, 4]), d=st.sampled_from([6, 9]))
def test_kalman_update_is_the_joseph_form(seed, k, d):
    rng = np.random.default_rng(seed)
    n = 6
    P, R = _spd(rng, n, d, 2.0), _spd(rng, n, k, 1.0)
    H, x, nu = rng.normal(size=(n, k, d)), rng.normal(size=(n, d)), rng.normal(size=(n, k))
    xu, Pu, d2, logdet = kalman_update(x, P, nu, H, R)
    S = H @ P @ H.transpose(0, 2, 1) + R
    K = P @ H.transpose(0, 2, 1) @ np.linalg.inv(S)
    IKH = np.eye(d) - K @ H
    scale = np.abs(P).max()
    assert np.allclose(xu, x + np.einsum("nij,nj->ni", K, nu), rtol=1e-9, atol=1e-9 * np.abs(x).max())
    assert np.allclose(Pu, IKH @ P @ IKH.transpose(0, 2, 1) + K @ R @ K.transpose(0, 2, 1), rtol=1e-8,
                       atol=1e-10 * scale)
    assert np.allclose(d2, np.einsum("ni,nij,nj->n", nu, np.linalg.inv(S), nu), rtol=1e-9)
    assert np.allclose(logdet, np.linalg.slogdet(S)[1], rtol=0, atol=1e-9)
    # One shared R (k, k) is the same as R repeated per row.
    same = kalman_update(x, P, nu, H, R[0])
    assert np.allclose(same[1], kalman_update(x, P, nu, H, np.broadcast_to(R[0], (n, k, k)))[1])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_cv_prediction_is_f_p_ft_plus_q(seed):
    rng = np.random.default_rng(seed)
    n = 9
    P = _spd(rng, n, 6, 3.0)
    x = rng.normal(size=(n, 6)) * 1e3
    dt, q = rng.uniform(-8.0, 12.0, n), rng.uniform(0.5, 300.0, n)
    xp, Pp = predict(x, P, dt, q)
    F = cv_transition(dt)
    assert np.array_equal(xp[:, 3:], x[:, 3:])
    assert np.allclose(xp[:, :3], x[:, :3] + dt[:, None] * x[:, 3:], rtol=1e-15, atol=0)
    ref = F @ P @ F.transpose(0, 2, 1) + cv_process_noise(dt, q)
    assert np.allclose(Pp, 0.5 * (ref + ref.transpose(0, 2, 1)), rtol=1e-12, atol=1e-12 * np.abs(ref).max())


def _radar():
    lat, lon = np.radians(23.5), np.radians(120.9)
    return geo.geodetic_to_ecef(lat, lon, 50.0).reshape(3), geo.enu_rotation(lat, lon)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), with_rdot=st.booleans())
def test_gate_keeps_exactly_the_pairs_inside_the_chi_square_gate(seed, with_rdot):
    rng = np.random.default_rng(seed)
    site, M = _radar()
    n, m = 12, 15
    x = np.zeros((n, 6))
    x[:, :3] = site + rng.uniform(-60e3, 60e3, (n, 3)) + np.array([0.0, 0.0, 0.0])
    x[:, 3:] = rng.normal(size=(n, 3)) * 200.0
    P = _spd(rng, n, 6, 1.0) * 50.0
    k = 4 if with_rdot else 3
    # Plots near some tracks, and some anywhere.
    near = rng.integers(0, n, m)
    truth = x[near] + rng.normal(size=(m, 6)) * np.r_[300.0, 300.0, 300.0, 20.0, 20.0, 20.0]
    truth[m // 2:, :3] = site + rng.uniform(-60e3, 60e3, (m - m // 2, 3))
    z = measurement_model(truth, site, M, with_rdot)[0]
    sig = np.r_[60.0, 2e-3, 2e-3, 5.0][:k]
    R = np.broadcast_to(np.diag(sig**2), (m, k, k)).copy()
    pos = truth[:, :3]
    cov = np.broadcast_to(np.eye(3) * 1e4, (m, 3, 3)).copy()
    gamma = 16.0
    gp = gate(x, P, z, R, pos, cov, PolarRadar(site, M, with_rdot), gamma)
    # Brute force: every pair, the textbook d².
    zp, H = measurement_model(x, site, M, with_rdot)
    want = set()
    for i in range(n):
        for j in range(m):
            nu = wrapped_residual(z[j], zp[i], (1,))
            S = H[i] @ P[i] @ H[i].T + R[j]
            if nu @ np.linalg.solve(S, nu) <= gamma:
                want.add((i, j))
    got = set(zip(gp.track.tolist(), gp.plot.tolist(), strict=True))
    assert got == want
    # The one-call radar path and the general path (k-d tree prefilter) give the same pairs and numbers.
    gt = gate(x, P, z, R, pos, cov, PolarRadar(site, M, with_rdot), gamma, tree=cKDTree(pos))
    for a in ("track", "plot", "nu", "H", "S", "d2", "log_det_S", "cost"):
        assert np.array_equal(getattr(gp, a), getattr(gt, a)), a
    for p in range(len(gp)):
        i, j = gp.track[p], gp.plot[p]
        S = H[i] @ P[i] @ H[i].T + R[j]
        assert gp.d2[p] == pytest.approx(gp.nu[p] @ np.linalg.solve(S, gp.nu[p]), rel=1e-9)
        assert gp.log_det_S[p] == pytest.approx(np.linalg.slogdet(S)[1], abs=1e-9)
        assert np.allclose(gp.H[p], H[i])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_duplicate_search_finds_every_near_pair(seed):
    rng = np.random.default_rng(seed)
    n = 30
    x = np.zeros((n, 6))
    x[:, :3] = rng.uniform(0.0, 40e3, (n, 3))
    x[:, 3:] = rng.normal(size=(n, 3)) * 100.0
    P = _spd(rng, n, 6, 1.0) * rng.uniform(1e2, 1e6, n)[:, None, None]
    conf = np.flatnonzero(rng.random(n) < 0.7)
    gamma, cap = 12.59, 20e3
    skip = rng.random(n) < 0.4
    i, j, d2, ok = _near_pairs(x, P, conf, gamma, cap, skip)
    radius = np.minimum(np.sqrt(2.0 * gamma * np.trace(P[:, :3, :3], axis1=1, axis2=2)), cap)
    want = [(a, b) for ia, a in enumerate(conf) for b in conf[ia + 1:]
            if np.linalg.norm(x[a, :3] - x[b, :3]) <= max(radius[a], radius[b]) and not (skip[a] and skip[b])]
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == want
    assert ok.all()
    for p, (a, b) in enumerate(want):
        dx = x[a] - x[b]
        assert d2[p] == pytest.approx(dx @ np.linalg.solve(P[a] + P[b], dx), rel=1e-9)


def _up(x):
    lat, lon, alt = geo.ecef_to_geodetic(x[:, :3])
    up = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1)
    return alt, up


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_altitude_and_classification_tests_along_the_local_vertical(seed):
    rng = np.random.default_rng(seed)
    n = 200
    lat, lon = rng.uniform(-1.4, 1.4, n), rng.uniform(-3.1, 3.1, n)
    x = np.zeros((n, 6))
    x[:, :3] = geo.geodetic_to_ecef(lat, lon, rng.uniform(-3e3, 80e3, n))
    x[:, 3:] = rng.normal(size=(n, 3)) * rng.uniform(10.0, 2500.0, n)[:, None]
    P = _spd(rng, n, 6, 1.0) * rng.uniform(1.0, 1e5, n)[:, None, None]
    c = TrackerConfig()
    alt, up = _up(x)
    quad = lambda u, B: np.einsum("ni,nij,nj->n", u, B, u)  # noqa: E731 - uᵀ B u per row
    assert np.array_equal(underground(x, P, -500.0), alt + 3.0 * np.sqrt(quad(up, P[:, :3, :3])) < -500.0)
    k = c.ballistic_sigmas
    speed = np.linalg.norm(x[:, 3:], axis=1)
    u = x[:, 3:] / speed[:, None]
    v_up = np.einsum("ni,ni->n", x[:, 3:], up)
    want = (alt - k * np.sqrt(quad(up, P[:, :3, :3])) > c.ballistic_min_alt_m) | (
        (speed - k * np.sqrt(quad(u, P[:, 3:, 3:])) > c.ballistic_min_speed_mps)
        & (np.abs(v_up) - k * np.sqrt(quad(up, P[:, 3:, 3:])) > c.ballistic_min_vspeed_mps))
    assert np.array_equal(ballistic_test(x, P, c), want)
    current = rng.integers(0, 3, n).astype(np.int8)
    flagged = rng.random(n) < 0.2
    sd = np.sqrt(quad(u, P[:, 3:, 3:]))
    kc = c.class_sigmas
    ref = np.where(speed + kc * sd < c.slow_speed_mps, int(KinematicClass.SLOW), current)
    ref = np.where(speed - kc * sd > c.slow_speed_mps, int(KinematicClass.FAST), ref)
    ref = np.where(flagged, int(KinematicClass.BALLISTIC), ref)
    assert np.array_equal(kinematic_class(x[:, 3:], P[:, 3:, 3:], current, flagged, c), ref)


def _radar_measurements(scan, site):
    """Measurements (m, k), R = diag(σ²) and σ (m, k) of a radar scan, as numpy expressions."""
    m, k = len(scan), 3 if scan.rdot_mps is None else 4
    z = np.asarray(scan.z, dtype=float).reshape(m, k)
    sig = np.asarray(scan.sigma, dtype=float)
    sig = sig.reshape(m, -1) if m else np.zeros((0, k))
    if sig.shape[1] < k:  # range rate without its σ: the site's
        s_rd = site.sigma_rdot_mps if site.sigma_rdot_mps is not None else 1.0
        sig = np.concatenate([sig, np.full((m, k - sig.shape[1]), s_rd)], axis=1)
    sig = sig[:, :k]
    R = np.zeros((m, k, k))
    R[:, np.arange(k), np.arange(k)] = sig**2
    return z, R, sig


def _clutter_density(z, lam, max_speed):
    """λ r² cos(el) per m·rad² (over 2 max_speed with range rate), floored at the smallest normal float."""
    out = lam * z[:, 0] ** 2 * np.cos(z[:, 2])
    if z.shape[1] == 4:
        out = out / (2.0 * max_speed)
    return np.maximum(out, np.finfo(float).tiny)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), with_rdot=st.booleans(), rdot_sigma=st.booleans(), m=st.integers(0, 9))
def test_a_scans_plots_in_one_pass(seed, with_rdot, rdot_sigma, m):
    """ScanPlots.from_scan gives exactly what the measurement, conversion and clutter formulas give in numpy."""
    rng = np.random.default_rng(seed)
    lat, lon = np.radians(23.5), np.radians(120.9)
    site = SensorSite(index=3, name="r", lat_rad=lat, lon_rad=lon, alt_m=50.0, max_range_m=400e3, min_range_m=0.0,
                      min_el_rad=0.0, max_el_rad=1.5, az_center_rad=0.0, az_half_width_rad=np.pi, revisit_s=2.0,
                      sigma_range_m=30.0, sigma_az_rad=2e-3, sigma_el_rad=2e-3,
                      sigma_rdot_mps=4.0 if with_rdot else None)
    k = 4 if with_rdot else 3
    sig = rng.uniform(1e-3, 50.0, (m, k if rdot_sigma else 3))
    scan = Detections(time_s=5.0, sensor=3, range_m=rng.uniform(1e3, 4e5, m), az_rad=rng.uniform(0, 2 * np.pi, m),
                      el_rad=rng.uniform(-0.01, 1.4, m), sigma=sig,
                      rdot_mps=rng.normal(size=m) * 300.0 if with_rdot else None)
    got = ScanPlots.from_scan(scan, site, 1e-15, 5000.0)
    z, R, sig_k = _radar_measurements(scan, site)
    pos, cov = plot_to_ecef(scan.range_m, scan.az_rad, scan.el_rad, sig_k, site.ecef, site.enu_rot)
    for a, want in (("z", z), ("R", R), ("pos", pos), ("cov", cov), ("clutter", _clutter_density(z, 1e-15, 5000.0))):
        assert np.array_equal(getattr(got, a), want.reshape(getattr(got, a).shape)), a


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), small=st.sampled_from([None, 60e3]), feed=st.booleans())
def test_missed_opportunities_in_one_pass(seed, small, feed):
    """A track is missed when not hit, covered, and seen before or within the small-target range."""
    rng = np.random.default_rng(seed)
    lat, lon = np.radians(23.5), np.radians(120.9)
    site = SensorSite(index=2, name="r", lat_rad=lat, lon_rad=lon, alt_m=50.0, max_range_m=120e3, min_range_m=500.0,
                      min_el_rad=0.0, max_el_rad=1.2, az_center_rad=np.radians(90.0), az_half_width_rad=np.radians(60),
                      revisit_s=2.0, sigma_range_m=30.0, sigma_az_rad=2e-3, sigma_el_rad=2e-3,
                      small_target_range_m=small)
    n = 60
    enu = np.c_[rng.uniform(-150e3, 150e3, (n, 2)), rng.uniform(-2e3, 30e3, n)]
    x = np.zeros((n, 6))
    x[:, :3] = geo.enu_to_ecef(enu, lat, lon, 50.0)
    hit = rng.random(n) < 0.3
    bit = np.uint64(1) << np.uint64(2)
    seen_by = np.where(rng.random(n) < 0.5, bit, np.uint64(1)).astype(np.uint64)
    n_opp, n_miss = rng.integers(0, 9, n).astype(np.int32), rng.integers(0, 9, n).astype(np.int32)
    opp0, miss0 = n_opp.copy(), n_miss.copy()
    if feed:  # a Cartesian feed from no listed sensor: covers everywhere, every track expected
        missed = _count_opportunities(x, np.zeros((3, 3)), hit, seen_by, bit, False, (0.0,) * 7, np.inf,
                                      np.zeros(3), n_opp, n_miss)
        want = ~hit
    else:
        missed = _count_opportunities(x, site.enu_rot, hit, seen_by, bit, True, site.coverage_limits,
                                      np.inf if small is None else small, site.ecef, n_opp, n_miss)
        expected = (seen_by & bit) != 0
        if small is not None:
            expected |= np.linalg.norm(x[:, :3] - site.ecef, axis=1) <= small
        else:
            expected[:] = True
        want = site.covers(x[:, :3]) & ~hit & expected
    assert np.array_equal(missed, want)
    assert np.array_equal(n_opp, opp0 + (hit | want)) and np.array_equal(n_miss, miss0 + want)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_deletion_tests_in_one_pass(seed):
    """Duplicate counts, ripe pairs, coasting and underground tests against their numpy forms."""
    rng = np.random.default_rng(seed)
    n, c = 40, TrackerConfig(merge_checks=2)
    lat, lon = rng.uniform(-1.4, 1.4, n), rng.uniform(-3.1, 3.1, n)
    x = np.zeros((n, 6))
    x[:, :3] = geo.geodetic_to_ecef(lat, lon, rng.uniform(-3e3, 20e3, n))
    P = _spd(rng, n, 6, 1.0) * rng.uniform(1.0, 1e5, n)[:, None, None]
    status = (rng.random(n) < 0.5).astype(np.int8)
    last = rng.uniform(0.0, 40.0, n)
    hit = rng.random(n) < 0.3
    dup0 = rng.integers(0, 3, n).astype(np.int32)
    pairs = np.array(sorted({tuple(sorted(p)) for p in rng.integers(0, n, (25, 2)).tolist() if p[0] != p[1]}))
    i, j = (pairs[:, 0].copy(), pairs[:, 1].copy()) if len(pairs) else (np.empty(0, np.intp),) * 2
    d2 = rng.uniform(0.0, 2.0 * c.merge_d2, len(i))
    dup = dup0.copy()
    n_opp = rng.integers(1, 30, n).astype(np.int32)
    n_hits = rng.integers(1, 30, n).astype(np.int32) % n_opp + 1
    n_miss = rng.integers(0, 12, n).astype(np.int32)
    ri, rj, coasted, below = _deletion_tests(i, j, d2, hit, dup, dup, status, last, n_hits, n_opp, n_miss, x, P, 40.0,
                                             c.merge_d2, c.merge_checks, coast_limits(c), c.min_alt_m)
    close = (d2 < c.merge_d2) & ~(hit[i] & hit[j])
    flag = np.zeros(n, dtype=bool)
    flag[i[close]] = flag[j[close]] = True
    cnt = np.where(flag, dup0 + 1, 0)
    assert np.array_equal(dup, cnt)
    ripe = close & (cnt[i] >= c.merge_checks) & (cnt[j] >= c.merge_checks)
    assert np.array_equal(ri, i[ripe]) and np.array_equal(rj, j[ripe])
    age = 40.0 - last
    # the miss rule: (1 - P̂_D)^misses < α, P̂_D = (hits + 1) / (opportunities + 2)
    gone = (n_miss > 0) & ((1 - (n_hits + 1) / (n_opp + 2)) ** n_miss.astype(float) < c.delete_miss_probability)
    assert np.array_equal(coasted, np.where(status == 0, age > c.tentative_max_coast_s, (age > c.max_coast_s) | gone))
    assert np.array_equal(below, underground(x, P, c.min_alt_m))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_classification_in_one_pass(seed):
    """The updated confirmed tracks are flagged (never unflagged) and classed as the two tests say."""
    rng = np.random.default_rng(seed)
    n, c = 80, TrackerConfig()
    lat, lon = rng.uniform(-1.4, 1.4, n), rng.uniform(-3.1, 3.1, n)
    x = np.zeros((n, 6))
    x[:, :3] = geo.geodetic_to_ecef(lat, lon, rng.uniform(0.0, 60e3, n))
    x[:, 3:] = rng.normal(size=(n, 3)) * rng.uniform(10.0, 2500.0, n)[:, None]
    P = _spd(rng, n, 6, 1.0) * rng.uniform(1.0, 1e4, n)[:, None, None]
    rows = rng.random(n) < 0.6
    bal0 = rng.random(n) < 0.2
    kin0 = rng.integers(0, 3, n).astype(np.int8)
    bal, kin = bal0.copy(), kin0.copy()
    flagged = _classify_rows(x, P, rows, bal, kin, c.ballistic_sigmas, c.ballistic_min_alt_m,
                             c.ballistic_min_speed_mps, c.ballistic_min_vspeed_mps, c.slow_speed_mps, c.class_sigmas)
    new = rows & ~bal0 & ballistic_test(x, P, c)
    assert np.array_equal(flagged, np.flatnonzero(new))
    assert np.array_equal(bal, bal0 | new)
    want = kin0.copy()
    want[rows] = kinematic_class(x[rows, 3:], P[rows, 3:, 3:], kin0[rows], bal[rows], c)
    assert np.array_equal(kin, want)


@settings(max_examples=40, deadline=None)
@given(steps=st.lists(st.tuples(st.booleans(), st.integers(0, 150), st.integers(0, 2**31 - 1)), min_size=1,
                      max_size=12))
def test_track_table_appends_and_deletions(steps):
    """The buffered table holds what concatenation and boolean indexing would, through growth and compaction."""
    table = TrackTable({"extra": ((2, 2), float)}, capacity=8)
    spec = dict(table.spec)
    model = {k: np.zeros((0,) + shp, dtype=dt) for k, (shp, dt) in spec.items()}
    next_id = 1
    for append, count, seed in steps:
        rng = np.random.default_rng(seed)
        n = len(table)
        if append:
            new = dict(track_id=np.arange(next_id, next_id + count), x=rng.normal(size=(count, 6)),
                       extra=rng.normal(size=(count, 2, 2)), time_s=float(seed % 97), n_hits=1,
                       seen_by=np.uint64(1) << np.uint64(seed % 64))
            next_id += count
            table.append(count, **new)
            for k, (shp, dt) in spec.items():
                v = np.broadcast_to(np.asarray(new.get(k, 0), dtype=dt), (count,) + shp)
                model[k] = np.concatenate([model[k], v])
        else:
            keep = rng.random(n) < 0.6
            table.keep(keep)
            model = {k: v[keep] for k, v in model.items()}
        assert len(table) == len(model["track_id"])
        for k in spec:
            assert table.cols[k].dtype == model[k].dtype and np.array_equal(table.cols[k], model[k]), k
    assert set(TRACK_COLUMNS) <= set(table.cols)


def _spd3(rng, n, scale):
    A = rng.normal(size=(n, 3, 3)) * scale
    return A @ A.transpose(0, 2, 1) + np.eye(3) * scale**2 * 0.1


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(0, 8))
def test_two_point_states_in_one_pass(seed, n):
    """The two-point state and covariance (before the prior) as the block formula gives them, either time order."""
    rng = np.random.default_rng(seed)
    p_a, p_b = rng.normal(size=(n, 3)) * 1e4, rng.normal(size=(n, 3)) * 1e4
    C_a, C_b = _spd3(rng, n, 30.0), _spd3(rng, n, 60.0)
    t_a, t_b = rng.uniform(0.0, 10.0, n), rng.uniform(0.0, 10.0, n)
    q = rng.uniform(1.0, 300.0, n)
    x, P = _two_point_stack(p_a, C_a, t_a, p_b, C_b, t_b, q)
    later_b = (t_b >= t_a)[:, None]
    p1, p2 = np.where(later_b, p_a, p_b), np.where(later_b, p_b, p_a)
    C1, C2 = np.where(later_b[:, :, None], C_a, C_b), np.where(later_b[:, :, None], C_b, C_a)
    T = np.abs(t_b - t_a)
    want_x = np.concatenate([p2, (p2 - p1) / T[:, None]], axis=1)
    A = np.empty((n, 6, 6))
    A[:, :3, :3] = C2
    A[:, :3, 3:] = A[:, 3:, :3] = C2 / T[:, None, None]
    A[:, 3:, 3:] = (C1 + C2) / (T * T)[:, None, None] + np.eye(3) * (q * T / 3.0)[:, None, None]
    assert np.array_equal(x, want_x)
    assert np.array_equal(P, 0.5 * (A + A.transpose(0, 2, 1)))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_reach_test_of_one_plot_tracks(seed):
    """A one-plot track may take a plot within max_speed |Δt| + 3 √(tr P_pp + tr C); a track with a velocity any."""
    rng = np.random.default_rng(seed)
    n, m, k = 12, 9, 40
    x = np.zeros((n, 6))
    x[:, :3] = rng.normal(size=(n, 3)) * 5e3
    P = np.zeros((n, 6, 6))
    P[:, :3, :3] = _spd3(rng, n, 100.0)
    vel_init = rng.random(n) < 0.4
    pos, cov = rng.normal(size=(m, 3)) * 5e3, _spd3(rng, m, 50.0)
    dt = rng.uniform(-2.0, 4.0, n)
    track, plot = rng.integers(0, n, k), rng.integers(0, m, k)
    got = _reachable(track, plot, vel_init, x, P, pos, cov, dt, 1500.0)
    dist = np.linalg.norm(pos[plot] - x[track, :3], axis=1)
    slack = 3.0 * np.sqrt(np.trace(P[track, :3, :3], axis1=1, axis2=2) + np.trace(cov[plot], axis1=1, axis2=2))
    assert np.array_equal(got, vel_init[track] | (dist <= 1500.0 * np.abs(dt[track]) + slack))
