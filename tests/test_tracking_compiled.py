"""The tracker's compiled stages against the matrix algebra they implement, written plainly in numpy.

Each compiled loop (numba) replaces a chain of batched numpy calls; these
tests hold them to the textbook forms: the inverse and determinant of SPD
matrices, the Joseph-form update with its d² and ln|S|, the CV prediction
``F P Fᵀ + Q``, the chi-square gate over every track-plot pair, the
duplicate search over every pair of confirmed tracks, and the altitude and
classification tests along the local vertical.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tdome import geo
from tdome.c2.tracking import TrackerConfig, cv_process_noise, cv_transition, gate, predict
from tdome.c2.tracking.classification import KinematicClass, ballistic_test, kinematic_class
from tdome.c2.tracking.deletion import _near_pairs, underground
from tdome.c2.tracking.gaussian import kalman_update, spd_inv_logdet
from tdome.c2.tracking.measurements import PolarRadar, measurement_model, wrapped_residual


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
    i, j, d2, ok = _near_pairs(x, P, conf, gamma, cap)
    radius = np.minimum(np.sqrt(2.0 * gamma * np.trace(P[:, :3, :3], axis1=1, axis2=2)), cap)
    want = [(a, b) for ia, a in enumerate(conf) for b in conf[ia + 1:]
            if np.linalg.norm(x[a, :3] - x[b, :3]) <= max(radius[a], radius[b])]
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
