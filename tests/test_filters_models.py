"""Tests of the 9-D motion models, the batched IMM and the UKF.

Modules under test: :mod:`tdome.c2.tracking.models`, :mod:`~tdome.c2.tracking.imm`,
:mod:`~tdome.c2.tracking.ukf`, :mod:`~tdome.c2.tracking.measurements`,
:mod:`~tdome.c2.tracking.gaussian`.

Truth is made here, independently of the filters: straight lines, circles
and polynomial arcs written analytically, free flight with
:mod:`tdome.dynamics` (the gravity model the ballistic filter assumes), and a
boosting missile with an RK4 of free flight plus thrust written below.  One
radar near 24°N 121°E measures range, azimuth, elevation (and range rate)
with Gaussian errors.

Statistical checks run many Monte Carlo tracks at once (the filters are
batched over tracks, so the runs are simply rows) with fixed seeds, against
bands computed from the chi-square distribution:

- NEES averaged over M runs at one time: ``M ε̄ ~ χ²(d M)`` for a consistent
  filter (Bar-Shalom, Li & Kirubarajan 2001, §5.4.2).  Checked at every
  time with a Bonferroni-corrected band (family-wise 95 %, valid however
  the times are correlated), and its time average against the single-time
  95 % band (conservative: averaging correlated values can only narrow the
  spread).
- NIS averaged over M runs and K times: innovations of a consistent filter
  are white, so ``M K ε̄_ν ~ χ²(k M K)`` exactly (BLK §5.4.2).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad_vec
from scipy.linalg import expm
from scipy.optimize import least_squares
from scipy.stats import binom, chi2

from tdome import dynamics, geo
from tdome.c2.tracking import imm
from tdome.c2.tracking.ekf import measurement_update
from tdome.c2.tracking.gaussian import kalman_update, spd_inv_logdet
from tdome.c2.tracking.measurements import CartesianPosition, PolarRadar, measurement_model, wrapped_residual
from tdome.c2.tracking.models import (
    Ballistic,
    ConstantAcceleration,
    ConstantVelocity,
    CoordinatedTurn,
    expand_state,
    turn_matrices,
)
from tdome.c2.tracking.motion import cv_process_noise, cv_transition
from tdome.c2.tracking.plots import plot_to_ecef
from tdome.c2.tracking.ukf import ukf_update, unscented_transform

G0 = 9.80665
LAT0, LON0 = np.radians(24.0), np.radians(121.0)
SITE = geo.geodetic_to_ecef(LAT0, LON0, 50.0)
ROT = geo.enu_rotation(LAT0, LON0)
RADAR = PolarRadar(SITE, ROT)
RADAR_RDOT = PolarRadar(SITE, ROT, with_rdot=True)


# --------------------------------------------------------------------------- helpers


def enu_state(p_enu, v_enu, a_enu=None):
    """9-D ECEF states from position, velocity, acceleration in the radar's ENU frame."""
    p_enu = np.atleast_2d(p_enu)
    a_enu = np.zeros_like(p_enu) if a_enu is None else np.atleast_2d(a_enu)
    return np.concatenate([SITE + p_enu @ ROT, np.atleast_2d(v_enu) @ ROT, a_enu @ ROT], axis=-1)


def radar_plots(radar, x_true, sigma, rng):
    """Noisy plots (n, k) of true states (n, ≥6); azimuth in [0, 2π)."""
    z = radar.h(x_true) + rng.normal(size=(x_true.shape[0], len(sigma))) * sigma
    z[:, 1] = np.mod(z[:, 1], 2.0 * np.pi)
    return z


def sample(x, P, rng, n):
    """``n`` draws of N(x, P)."""
    return x + rng.normal(size=(n, x.shape[-1])) @ np.linalg.cholesky(P).T


def nees(err, P):
    Pinv, _ = spd_inv_logdet(P)
    return np.einsum("ni,nij,nj->n", err, Pinv, err)


def plot_error_radius(x_true, sigma, gate_p=0.9999):
    """Radius (n,) of a single plot's ``gate_p`` error ellipsoid along its longest axis (m)."""
    r, az, el = geo.enu_to_razel((x_true[:, :3] - SITE) @ ROT.T)
    _, C = plot_to_ecef(r, az, el, np.broadcast_to(sigma[:3], (r.shape[0], 3)), SITE, ROT)
    return np.sqrt(chi2.ppf(gate_p, 3) * np.linalg.eigvalsh(C)[:, -1])


def union_gate_d2(xm, Pm, mu, z, R, radar):
    """Smallest model-matched NIS of each plot (the track keeps a plot inside any model's gate)."""
    return imm.score(xm, Pm, mu, z, R, radar)[1].min(axis=1)


def combined_d2(xm, Pm, mu, z, R, radar):
    """NIS of each plot against the moment-matched (combined) prediction."""
    zp, S = imm.predicted_measurement(xm, Pm, mu, R, radar)
    return nees(wrapped_residual(z, zp, radar.angle_components), S)


# --------------------------------------------------------------------------- kinematic transitions

_vec3 = st.lists(st.floats(-1e3, 1e3), min_size=3, max_size=3).map(np.array)


@settings(max_examples=50, deadline=None)
@given(v=_vec3, a=st.lists(st.floats(-100, 100), min_size=3, max_size=3).map(np.array),
       dt=st.floats(-30.0, 30.0))
def test_ca_and_cv_transitions_reproduce_polynomial_motion(v, a, dt):
    p = np.array([-2.9e6, 4.9e6, 2.6e6])
    x = np.r_[p, v, a][None]
    P = np.eye(9)[None]
    xp, Pp = ConstantAcceleration(q=3.0).predict(x, P, [dt])
    assert np.allclose(xp[0, :3], p + v * dt + 0.5 * a * dt * dt, rtol=0, atol=1e-6)
    assert np.allclose(xp[0, 3:6], v + a * dt, rtol=0, atol=1e-9)
    assert np.allclose(xp[0, 6:], a, rtol=0, atol=0)
    cv = ConstantVelocity(q=3.0, accel_sigma_mps2=2.0, accel_tau_s=4.0)
    xc, Pc = cv.predict(x, P, [dt])
    assert np.allclose(xc[0, :3], p + v * dt, rtol=0, atol=1e-6)
    assert np.allclose(xc[0, 3:6], v, rtol=0, atol=0)
    assert np.allclose(xc[0, 6:], a * np.exp(-abs(dt) / 4.0), rtol=1e-12, atol=0)
    # The acceleration components relax to N(0, σ_a²) and never drive the motion.
    assert np.isclose(Pc[0, 6, 6], np.exp(-2 * abs(dt) / 4.0) + 4.0 * (1 - np.exp(-2 * abs(dt) / 4.0)))
    assert np.all(Pc[0, :6, 6:] == 0)
    for Pk in (Pp, Pc):
        assert np.allclose(Pk, np.swapaxes(Pk, 1, 2)) and np.linalg.eigvalsh(Pk[0]).min() > 0


def _one_axis_noise_by_quadrature(w, dt, q):
    """``q ∫₀^|Δ| f f ᵀ`` with f = F₁(±s) [0, 0, 1]ᵀ of the turn model (CA for ω = 0), written stably."""
    sgn = np.sign(dt)

    def f(s):
        s = sgn * s
        if w == 0.0:
            g = np.array([s * s / 2, s, 1.0])
        else:
            g = np.array([2 * np.sin(w * s / 2) ** 2 / w**2, np.sin(w * s) / w, np.cos(w * s)])
        return q * np.outer(g, g)

    Qf = quad_vec(f, 0.0, abs(dt), epsabs=0.0, epsrel=1e-12)[0]
    return Qf


@pytest.mark.parametrize("w", [0.0, 1e-7, 1e-3, 0.05, 0.2354, 1.0])
@pytest.mark.parametrize("dt", [0.3, 1.0, 4.0, 12.0, -5.0])
def test_turn_and_ca_process_noise_match_quadrature(w, dt):
    """Q₁ = q ∫ F₁(s) G Gᵀ F₁(s)ᵀ ds; for Δ < 0 the backward-prediction noise F(-|Δ|)Q(|Δ|)F(-|Δ|)ᵀ."""
    q = 7.0
    F1, Q1 = turn_matrices(np.array([dt]), np.array([w]), q)
    ref = _one_axis_noise_by_quadrature(w, dt, q)
    if dt < 0:  # ∫₀^|Δ| F(-s) G Gᵀ F(-s)ᵀ ds = F(-|Δ|) Q(|Δ|) F(-|Δ|)ᵀ
        Qp = turn_matrices(np.array([-dt]), np.array([w]), q)[1][0]
        assert np.allclose(F1[0] @ Qp @ F1[0].T, ref, rtol=1e-10, atol=1e-12 * np.abs(ref).max())
    assert np.allclose(Q1[0], ref, rtol=1e-9, atol=1e-12 * np.abs(ref).max())
    if w == 0.0:  # the constant-acceleration model is the ω → 0 limit
        Fca, Qca = ConstantAcceleration(q=q).matrices([dt])
        assert np.allclose(Qca[0, ::3, ::3], ref, rtol=1e-12, atol=1e-14 * np.abs(ref).max())
        assert np.allclose(Fca[0, ::3, ::3], F1[0], rtol=0, atol=1e-15)
    # Transition: F(Δ) F(-Δ) = I, and the noise composes: Q(a + b) = F(b) Q(a) F(b)ᵀ + Q(b).
    Fm = turn_matrices(np.array([-dt]), np.array([w]), q)[0][0]
    assert np.allclose(F1[0] @ Fm, np.eye(3), atol=1e-9)
    _Fa, Qa = turn_matrices(np.array([dt / 3]), np.array([w]), q)
    Fb, Qb = turn_matrices(np.array([2 * dt / 3]), np.array([w]), q)
    assert np.allclose(Fb[0] @ Qa[0] @ Fb[0].T + Qb[0], Q1[0], rtol=1e-9, atol=1e-12 * np.abs(ref).max())


@settings(max_examples=60, deadline=None)
@given(axis=st.lists(st.floats(-1, 1), min_size=6, max_size=6), radius=st.floats(50.0, 20e3),
       speed=st.floats(20.0, 800.0), phase=st.floats(0, 2 * np.pi),
       dts=st.lists(st.floats(-40.0, 40.0), min_size=1, max_size=4))
def test_coordinated_turn_propagates_exactly_on_the_circle(axis, radius, speed, phase, dts):
    """A target turning at constant rate in any plane is predicted exactly, over any step, in any number of steps."""
    e1, e2 = np.array(axis[:3]), np.array(axis[3:])
    if np.linalg.norm(e1) < 0.1 or np.linalg.norm(np.cross(e1, e2)) < 0.1:
        return
    e1 /= np.linalg.norm(e1)
    e2 -= (e2 @ e1) * e1
    e2 /= np.linalg.norm(e2)
    w = speed / radius
    if w > 1.0:  # beyond the model's turn-rate clip
        return
    centre = SITE + np.array([1e4, -2e4, 8e3])

    def state(t):
        ang = phase + w * t
        rel = radius * (np.cos(ang) * e1 + np.sin(ang) * e2)
        vel = radius * w * (-np.sin(ang) * e1 + np.cos(ang) * e2)
        return np.r_[centre + rel, vel, -w * w * rel]

    ct = CoordinatedTurn(q=1.0)
    x, P, t = state(0.0)[None], np.eye(9)[None], 0.0
    for dt in dts:
        x, P = ct.predict(x, P, [dt])
        t += dt
        truth = state(t)
        assert np.allclose(x[0, :3], truth[:3], rtol=0, atol=1e-6 + 1e-9 * radius)
        assert np.allclose(x[0, 3:6], truth[3:6], rtol=0, atol=1e-8 * speed + 1e-9)
        assert np.allclose(x[0, 6:], truth[6:], rtol=0, atol=1e-8 * speed * w + 1e-12)
    assert np.linalg.eigvalsh(P[0]).min() > 0


def test_zero_step_leaves_kinematic_states_unchanged_and_negative_step_inverts():
    rng = np.random.default_rng(0)
    v = rng.normal(0, 300, (5, 3))
    a = rng.normal(0, 30, (5, 3))
    a -= np.einsum("ni,ni->n", a, v)[:, None] * v / np.einsum("ni,ni->n", v, v)[:, None]  # a ⟂ v: a turn
    x = enu_state(rng.normal(0, 3e4, (5, 3)), v, a)
    A = rng.normal(size=(5, 9, 9))
    P = A @ np.swapaxes(A, 1, 2) + np.eye(9)
    for model in (ConstantVelocity(), ConstantAcceleration(), CoordinatedTurn()):
        x0, P0 = model.predict(x, P, np.zeros(5))
        assert np.allclose(x0, x, rtol=0, atol=1e-9) and np.allclose(P0, P, rtol=1e-12, atol=1e-12)
    for model in (ConstantAcceleration(), CoordinatedTurn()):
        dt = rng.uniform(1, 20, 5)
        xf, _ = model.predict(x, P, dt)
        xb, _ = model.predict(xf, P, -dt)
        assert np.allclose(xb, x, rtol=0, atol=1e-6)


# --------------------------------------------------------------------------- ballistic model


def test_ballistic_model_follows_free_flight_and_linearises_the_gravity_gradient():
    lat, lon = np.radians(23.0), np.radians(123.0)
    p = geo.geodetic_to_ecef(lat, lon, 120e3)
    v = np.array([1800.0, -600.0, 300.0]) @ geo.enu_rotation(lat, lon)
    x = np.r_[p, v, np.zeros(3)][None]
    P = np.diag(np.r_[np.full(3, 100.0**2), np.full(3, 10.0**2), np.full(3, 1.0)])[None]
    model = Ballistic(q=0.0, accel_sigma_mps2=0.3)
    for dt in (0.0, 1.0, 10.0, 60.0, -20.0):
        xp, Pp = model.predict(x, P, [dt])
        r_ref, v_ref = dynamics.propagate(p[None], v[None], dt, step_s=0.25)
        assert np.allclose(xp[0, :3], r_ref[0], rtol=0, atol=1e-3)
        assert np.allclose(xp[0, 3:6], v_ref[0], rtol=0, atol=1e-6)
        # The acceleration is the free-flight acceleration of the predicted state.
        assert np.allclose(xp[0, 6:], dynamics.free_flight_acceleration(xp[:, :3], xp[:, 3:6])[0], rtol=1e-12)
        assert np.allclose(Pp, np.swapaxes(Pp, 1, 2)) and np.linalg.eigvalsh(Pp[0]).min() > 0
    # Φ against the analytic linearisation about the mid-step state: point-mass gravity gradient
    # -μ/r³ (I - 3 r̂r̂ᵀ), centrifugal Ω² diag(1, 1, 0), Coriolis -2[Ω×].  They differ by J2 (~1e-3 of the
    # gradient) and the change of the gradient along 10 s of flight.
    dt = 10.0
    xm, _ = model.predict(x, P, [dt / 2])
    r = xm[0, :3]
    rn = np.linalg.norm(r)
    w = dynamics.OMEGA_EARTH_RAD_S
    G = -dynamics.MU_M3_S2 / rn**3 * (np.eye(3) - 3 * np.outer(r, r) / rn**2) + w * w * np.diag([1.0, 1.0, 0.0])
    C = np.array([[0, 2 * w, 0], [-2 * w, 0, 0], [0, 0, 0]])
    A = np.block([[np.zeros((3, 3)), np.eye(3)], [G, C]])
    Phi_ref = expm(A * dt)
    _, Phi = model.transition(x, [dt])
    kinematic = cv_transition([dt])[0]
    dyn = Phi[0] - kinematic
    assert np.abs(dyn).max() > 1e-4  # the dynamic part is there ...
    assert np.abs(Phi[0] - Phi_ref).max() < 1e-2 * np.abs(Phi_ref - kinematic).max()  # ... and it is right


# --------------------------------------------------------------------------- measurement models


def test_measurement_wrappers_extend_the_6d_models():
    rng = np.random.default_rng(2)
    x = enu_state(rng.normal(0, 5e4, (7, 3)) + [0, 0, 6e4], rng.normal(0, 500, (7, 3)), rng.normal(0, 20, (7, 3)))
    for radar in (RADAR, RADAR_RDOT):
        z, H = radar(x)
        z6, H6 = measurement_model(x[:, :6], SITE, ROT, radar.with_rdot)
        assert np.array_equal(z, z6) and np.array_equal(H[:, :, :6], H6) and np.all(H[:, :, 6:] == 0)
        assert np.array_equal(radar.h(x), z6)
    z, H = CartesianPosition()(x)
    assert np.array_equal(z, x[:, :3]) and np.array_equal(H[0], np.eye(3, 9))


# --------------------------------------------------------------------------- consistency: CV target


def _cv_monte_carlo(runs, scans, dt, q, sigma, seed):
    """True CV tracks (runs, scans, 6) with white-noise acceleration q, and their polar plots."""
    rng = np.random.default_rng(seed)
    F = cv_transition([dt])[0]
    Lq = np.linalg.cholesky(cv_process_noise([dt], q)[0])
    x = enu_state([40e3, 30e3, 6e3], [-200.0, 120.0, 0.0])[0, :6]
    truth = np.empty((runs, scans, 6))
    truth[:, 0] = x
    for k in range(1, scans):
        truth[:, k] = truth[:, k - 1] @ F.T + rng.normal(size=(runs, 6)) @ Lq.T
    plots = np.stack([radar_plots(RADAR, truth[:, k], sigma, rng) for k in range(scans)], axis=1)
    return truth, plots, rng


def _bands(runs, scans, dof):
    """(per-time Bonferroni band, single-time 95 % band) for the run-averaged NEES of ``dof`` dimensions."""
    a = 0.05 / scans
    per_time = np.array([chi2.ppf(a / 2, dof * runs), chi2.ppf(1 - a / 2, dof * runs)]) / runs
    single = np.array([chi2.ppf(0.025, dof * runs), chi2.ppf(0.975, dof * runs)]) / runs
    return per_time, single


def test_cv_target_nees_and_nis_are_consistent_for_ekf_and_ukf():
    runs, scans, dt, q = 200, 40, 2.0, 4.0
    sigma = np.array([20.0, 1e-3, 1e-3])
    R = np.diag(sigma**2)
    truth, plots, rng = _cv_monte_carlo(runs, scans, dt, q, sigma, seed=11)
    model = ConstantVelocity(q=q)
    P0 = np.diag(np.r_[np.full(3, 80.0**2), np.full(3, 15.0**2), np.full(3, 1.0)])
    x0 = sample(expand_state(truth[:, 0], np.zeros((runs, 6, 6)))[0], P0, rng, runs)  # truth + N(0, P0)
    per_time, single = _bands(runs, scans - 1, 6)
    nis_band = np.array([chi2.ppf(0.025, 3 * runs * (scans - 1)), chi2.ppf(0.975, 3 * runs * (scans - 1))]) / (
        runs * (scans - 1))
    for name in ("EKF", "UKF"):
        x, P = x0.copy(), np.repeat(P0[None], runs, 0)
        eps, nis = [], []
        for k in range(1, scans):
            x, P = model.predict(x, P, np.full(runs, dt))
            if name == "EKF":
                x, P, d2, _ = measurement_update(x, P, plots[:, k], R, RADAR)
            else:
                x, P, S, nu = ukf_update(x, P, plots[:, k], R, RADAR.h, angles=(1,))
                d2 = nees(nu, S)
            eps.append(nees(x[:, :6] - truth[:, k], P[:, :6, :6]).mean())
            nis.append(d2.mean())
        eps, nis = np.array(eps), np.array(nis)
        print(f"{name}: run-averaged NEES over time {eps.min():.2f}..{eps.max():.2f} (band {per_time.round(2)}), "
              f"time average {eps.mean():.3f} (band {single.round(2)}); "
              f"NIS {nis.mean():.3f} (band {nis_band.round(3)})")
        assert np.all((eps > per_time[0]) & (eps < per_time[1])), name
        assert single[0] < eps.mean() < single[1], name
        assert nis_band[0] < nis.mean() < nis_band[1], name


def test_ukf_agrees_with_ekf_to_first_order_when_the_measurement_is_near_linear():
    rng = np.random.default_rng(4)
    n = 50
    az, ground = rng.uniform(0, 2 * np.pi, n), rng.uniform(100e3, 250e3, n)
    x = enu_state(np.c_[ground * np.sin(az), ground * np.cos(az), rng.uniform(5e3, 20e3, n)],
                  rng.normal(0, 300, (n, 3)))
    sig_p = 30.0
    P = np.diag(np.r_[np.full(3, sig_p**2), np.full(3, 10.0**2), np.full(3, 1.0)])
    P = np.repeat(P[None], n, 0)
    for radar, sigma in ((RADAR, [20.0, 1e-3, 1e-3]), (RADAR_RDOT, [20.0, 1e-3, 1e-3, 1.0])):
        sigma = np.array(sigma)
        R = np.diag(sigma**2)
        z = radar_plots(radar, sample(x, P[0], rng, n), sigma, rng)
        zp, H = radar(x)
        xe, Pe, _, _ = kalman_update(x, P, wrapped_residual(z, zp, (1,)), H, np.broadcast_to(R, (n,) + R.shape))
        xu, Pu, S, _ = ukf_update(x, P, z, R, radar.h, angles=(1,))
        # At 100-250 km and low elevation, with σ_p = 30 m, the two agree to a small fraction of σ.
        sd = np.sqrt(np.diagonal(Pe, axis1=1, axis2=2))
        assert np.all(np.abs(xu - xe) < 1e-3 * sd)
        assert np.allclose(Pu, Pe, rtol=0, atol=1e-5 * sd[:, :, None] * sd[:, None, :])
        Se = H @ P @ np.swapaxes(H, 1, 2) + R
        ss = np.sqrt(np.diagonal(Se, axis1=1, axis2=2))
        assert np.all(np.abs(S - Se) < 1e-5 * ss[:, :, None] * ss[:, None, :])
        # What separates them is second order: the UT's mean of h is h(x) + tr(∇²h P)/2 + O(P²), so
        # multiplying P by 100 multiplies the difference by 100 (a first-order difference would grow 10×).
        gaps = []
        for scale in (1.0, 100.0):
            z_ut = unscented_transform(x, scale * P, radar.h, angles=(1,))[0]
            gaps.append(np.abs(wrapped_residual(z_ut, zp, (1,))).max(axis=1))
        assert np.all(np.abs(gaps[1] / gaps[0] - 100.0) < 1.0)


def test_ukf_handles_azimuth_wrap_at_north():
    """A target dead north of the radar (azimuth ≈ 0 ≡ 2π) updates as well as one just east of it."""
    x = enu_state([[0.0, 5e4, 3e3], [500.0, 5e4, 3e3]], [[0.0, -200.0, 0.0]] * 2)
    P = np.repeat(np.diag(np.r_[np.full(3, 300.0**2), np.full(3, 30.0**2), np.full(3, 1.0)])[None], 2, 0)
    z = RADAR.h(x)
    z[0, 1] = 2 * np.pi - 1e-4  # just west of north: the residual is -1e-4 rad, not 2π
    z[1, 1] += -1e-4
    xu, _Pu, S, nu = ukf_update(x, P, z, np.diag([20.0, 1e-3, 1e-3]) ** 2, RADAR.h, angles=(1,))
    assert np.all(np.abs(nu[:, 1] + 1e-4) < 1e-6)
    _zp, H = RADAR(x)
    Se = H @ P @ np.swapaxes(H, 1, 2) + np.diag([20.0, 1e-3, 1e-3]) ** 2
    ss = np.sqrt(np.diagonal(Se, axis1=1, axis2=2))
    assert np.all(np.abs(S - Se) < 1e-3 * ss[:, :, None] * ss[:, None, :])  # no 2π in the azimuth spread
    shift = np.linalg.norm(xu[:, :3] - x[:, :3], axis=1)
    assert np.all(shift < 10.0)  # 1e-4 rad at 50 km is 5 m


def test_iterated_ekf_reaches_the_map_estimate_and_equals_the_ekf_when_near_linear():
    """Prediction kilometres off in azimuth (a 10 s coast through a turn): the iterated update converges to the
    minimiser of the MAP cost (z - h(x))ᵀR⁻¹(z - h(x)) + (x - x̄)ᵀP⁻¹(x - x̄), found here by brute-force least
    squares; a single EKF step is left hundreds of metres away."""
    rng = np.random.default_rng(8)
    n = 6
    sigma = np.array([20.0, 1e-3, 1e-3, 1.0])
    R = np.diag(sigma**2)
    truth = enu_state(np.c_[rng.uniform(-4e4, 4e4, n), rng.uniform(3e4, 5e4, n), np.full(n, 5e3)],
                      rng.normal(0, 250, (n, 3)))
    P = np.diag(np.r_[np.full(3, 5e3**2), np.full(3, 500.0**2), np.full(3, 50.0**2)])
    P = np.repeat(P[None], n, 0)
    x_prior = sample(truth, P[0], rng, n)
    z = radar_plots(RADAR_RDOT, truth, sigma, rng)
    x1, _, d2_1, ld_1 = measurement_update(x_prior, P, z, R, RADAR_RDOT)
    x5, P5, d2_5, ld_5 = measurement_update(x_prior, P, z, R, RADAR_RDOT, iterations=5)
    assert np.array_equal(d2_1, d2_5) and np.array_equal(ld_1, ld_5)  # scored against the prediction
    Wz = np.linalg.cholesky(np.linalg.inv(R)).T
    for i in range(n):
        Wx = np.linalg.cholesky(np.linalg.inv(P[i])).T

        def residuals(xx, i=i, Wx=Wx):
            dz = wrapped_residual(z[i:i + 1], RADAR_RDOT.h(xx[None]), (1,))[0]
            return np.r_[Wz @ dz, Wx @ (xx - x_prior[i])]

        x_map = least_squares(residuals, x1[i], x_scale=np.sqrt(np.diag(P5[i])), xtol=1e-14, ftol=1e-14,
                              gtol=1e-14).x
        sd = np.sqrt(np.diag(P5[i]))
        assert np.all(np.abs(x5[i] - x_map) < 1e-3 * sd)
    assert np.linalg.norm(x1[:, :3] - x5[:, :3], axis=1).max() > 100.0  # the iterations matter here
    # Near-linear (prior σ 30 m at 100 km): the iterations change nothing that matters.
    Ps = np.repeat(np.diag(np.r_[np.full(3, 30.0**2), np.full(3, 10.0**2), np.full(3, 1.0)])[None], n, 0)
    far = enu_state(np.c_[rng.uniform(-1e5, 1e5, n), np.full(n, 1e5), np.full(n, 5e3)], rng.normal(0, 250, (n, 3)))
    zf = radar_plots(RADAR_RDOT, far, sigma, rng)
    xa, Pa, _, _ = measurement_update(far, Ps, zf, R, RADAR_RDOT)
    xb, _Pb, _, _ = measurement_update(far, Ps, zf, R, RADAR_RDOT, iterations=3)
    sd = np.sqrt(np.diagonal(Pa, axis1=1, axis2=2))
    assert np.all(np.abs(xa - xb) < 1e-3 * sd + 1e-9)


# --------------------------------------------------------------------------- ballistic impact prediction


def test_ballistic_filter_predicts_the_impact_point_within_its_covariance():
    """Vacuum ballistic truth (tdome.dynamics), plots every 2 s for 60 s, prediction to impact ~2 min later."""
    runs, scans, dt = 150, 31, 2.0
    sigma = np.array([20.0, 1e-3, 1e-3])
    R = np.diag(sigma**2)
    rng = np.random.default_rng(21)
    # Near apogee at 110 km, 250 km south-east of the radar, heading north-west at 2 km/s.
    hdg = np.radians(315.0)
    x_true = enu_state([1.8e5, -1.8e5, 1.1e5], [2000 * np.sin(hdg), 2000 * np.cos(hdg), 50.0])[0, :6]
    truth = [x_true]
    for _ in range(scans - 1):
        r, v = dynamics.propagate(truth[-1][None, :3], truth[-1][None, 3:], dt, step_s=0.5)
        truth.append(np.r_[r[0], v[0]])
    truth = np.array(truth)
    model = Ballistic(q=0.0)  # the truth has no process noise
    P0 = np.diag(np.r_[np.full(3, 500.0**2), np.full(3, 50.0**2), np.full(3, 1.0)])
    x0 = np.r_[truth[0], dynamics.free_flight_acceleration(truth[:1, :3], truth[:1, 3:])[0]]
    x, P = sample(x0, P0, rng, runs), np.repeat(P0[None], runs, 0)
    for k in range(1, scans):
        x, P = model.predict(x, P, np.full(runs, dt))
        z = radar_plots(RADAR, np.repeat(truth[k][None], runs, 0), sigma, rng)
        x, P, _, _ = measurement_update(x, P, z, R, RADAR)
    # Impact of the truth and of each track's mean (the same free-flight integrator, to the ground).
    _, _, imp_true, t_true = dynamics.free_flight_to_ground(truth[-1:, :3], truth[-1:, 3:], 400, 1.0)
    _, _, imp, t_imp = dynamics.free_flight_to_ground(x[:, :3], x[:, 3:6], 400, 1.0)
    assert np.all(np.isfinite(t_imp)) and 60 < t_true[0] < 300
    xi, Pi = model.predict(x, P, t_imp)
    assert np.allclose(xi[:, :3], imp, rtol=0, atol=5.0)  # same flight, different sub-steps
    # Impact error in the local horizontal plane: a position error δp at the predicted impact time moves the
    # ground crossing to δp - v (u·δp)/(u·v) (u the local vertical); its east/north components are the
    # impact error, with covariance A P_pp Aᵀ.
    lat, lon, _ = geo.ecef_to_geodetic(imp)
    M = geo.enu_rotation(lat, lon)  # (n, 3, 3)
    u = M[:, 2]
    v = xi[:, 3:6]
    A = np.eye(3) - v[:, :, None] * u[:, None, :] / np.einsum("ni,ni->n", u, v)[:, None, None]
    T2 = M[:, :2] @ A  # (n, 2, 3)
    C = T2 @ Pi[:, :3, :3] @ np.swapaxes(T2, 1, 2)
    err = np.einsum("nij,nj->ni", M[:, :2], imp_true - imp)
    e = nees(err, C)
    band = np.array([chi2.ppf(0.025, 2 * runs), chi2.ppf(0.975, 2 * runs)]) / runs
    sd = np.sqrt(np.linalg.eigvalsh(C))
    print(f"impact after {t_true[0]:.0f} s: miss {np.linalg.norm(err, axis=1).mean():.0f} m (mean), "
          f"1σ axes {sd.mean(0).round(0)} m, NEES {e.mean():.2f}, 95% band {band.round(2)}")
    assert band[0] < e.mean() < band[1]


# --------------------------------------------------------------------------- IMM: manoeuvres


GATE_P = 0.9999


def chance_exceedances(n_checks: int, p: float = 1 - GATE_P, alpha: float = 1e-3) -> int:
    """Most gate exceedances a consistent filter makes in ``n_checks`` plots, but with probability ``alpha``.

    Each plot of a consistent filter falls outside its ``1 - p`` gate with probability ``p`` (for the
    union of model gates, at most ``p``: the model matched to the motion alone would give ``p``), so the
    count is at most Binomial(n, p).  Twenty tracks of 60-90 scans make 1,200-1,800 checks: "no plot
    ever outside" would fail one time in six for a perfect filter, whereas a track that loses the
    manoeuvre misses its gate on most runs for several scans.
    """
    return int(binom.ppf(1 - alpha, n_checks, p))


def run_imm(f, truth, times, P0, sigma, runs, rng):
    """Track ``runs`` noisy copies of one truth with IMM ``f``; per scan and run: union and combined NIS,
    position error and model probabilities, plus the plot error radius per scan."""
    R = np.diag(sigma**2)
    xm, Pm, mu = f.initial_state(sample(truth[0], P0, rng, runs), np.repeat(P0[None], runs, 0))
    out = {k: [] for k in ("d2u", "d2c", "err", "mu", "bound", "plots")}
    for k in range(1, len(times)):
        z = radar_plots(RADAR, np.repeat(truth[k][None], runs, 0), sigma, rng)
        xm, Pm, mu = f.predict(xm, Pm, mu, np.full(runs, times[k] - times[k - 1]))
        out["d2u"].append(union_gate_d2(xm, Pm, mu, z, R, RADAR))
        out["d2c"].append(combined_d2(xm, Pm, mu, z, R, RADAR))
        xm, Pm, mu, _ = f.update(xm, Pm, mu, z, R, RADAR)
        x, _ = f.combine(xm, Pm, mu)
        out["err"].append(np.linalg.norm(x[:, :3] - truth[k, :3], axis=1))
        out["mu"].append(mu)
        out["bound"].append(plot_error_radius(truth[k:k + 1], sigma, GATE_P)[0])
        out["plots"].append(z)
    return {k: np.array(v) for k, v in out.items()}


def run_single(model, truth, times, plots, P0, sigma, rng):
    """One-model EKF over the same plots: NIS and position error per scan and run."""
    R = np.diag(sigma**2)
    runs = plots.shape[1]
    x, P = sample(truth[0], P0, rng, runs), np.repeat(P0[None], runs, 0)
    d2s, errs = [], []
    for k in range(1, len(times)):
        x, P = model.predict(x, P, np.full(runs, times[k] - times[k - 1]))
        x, P, d2, _ = measurement_update(x, P, plots[k - 1], R, RADAR)
        d2s.append(d2)
        errs.append(np.linalg.norm(x[:, :3] - truth[k, :3], axis=1))
    return np.array(d2s), np.array(errs)


def turn_truth(times, speed=250.0, g=6.0, t_turn=20.0, turn_s=18.0):
    """Level flight east at ``speed``, a right turn of ``g`` for ``turn_s`` from ``t_turn``, then straight (9-D ECEF).

    The turn (6 g at 250 m/s: ω = 0.235 rad/s, 18 s → 243°) is an exact circle; the acceleration
    jumps from 0 to g·G0 at the start and back at the end.
    """
    w = g * G0 / speed
    radius = speed / w
    p0, v0 = np.array([-30e3, 30e3, 5e3]), np.array([speed, 0.0, 0.0])
    p1 = p0 + v0 * t_turn
    centre = p1 + np.array([0.0, -radius, 0.0])
    out = []
    for t in np.atleast_1d(times):
        tau = np.clip(t - t_turn, 0.0, turn_s)
        ang = w * tau
        p = centre + radius * np.array([np.sin(ang), np.cos(ang), 0.0])
        v = speed * np.array([np.cos(ang), -np.sin(ang), 0.0])
        a = -w * w * (p - centre) if 0 < t - t_turn <= turn_s else np.zeros(3)
        p = p + v * (min(t - t_turn, 0.0) + max(t - t_turn - turn_s, 0.0))
        out.append(np.r_[p, v, a])
    out = np.array(out)
    return enu_state(out[:, :3], out[:, 3:6], out[:, 6:])


def test_imm_tracks_a_6g_coordinated_turn_where_a_cv_filter_fails():
    runs, t_turn, turn_s = 20, 20.0, 18.0
    times = np.arange(0.0, 60.0, 1.0)
    truth = turn_truth(times, t_turn=t_turn, turn_s=turn_s)
    sigma = np.array([20.0, 1e-3, 1e-3])  # at 30-45 km: 30-45 m across the beam
    rng = np.random.default_rng(5)
    P0 = np.diag(np.r_[np.full(3, 50.0**2), np.full(3, 10.0**2), np.full(3, 1.0)])
    f = imm.IMM.air_breathing()  # the recommended configuration
    res = run_imm(f, truth, times, P0, sigma, runs, rng)
    gate = chi2.ppf(GATE_P, 3)
    t = times[1:]
    p_man = res["mu"][:, :, 1:].sum(axis=2).mean(axis=1)  # P(CT) + P(CA), averaged over runs
    cv = {q: run_single(ConstantVelocity(q=q), truth, times, res["plots"], P0, sigma, rng) for q in (1.0, 225.0)}
    print(f"\n{GATE_P:.2%} gate {gate:.1f}; worst of {runs} runs per scan:")
    print("   t   IMM d2 (union / combined)  IMM err  bound  P(CT+CA) | CV q=1: d2  err | CV q=225: d2  err")
    for k in range(0, len(t), 3):
        print(f"{t[k]:4.0f}   {res['d2u'][k].max():8.1f} {res['d2c'][k].max():8.1f}        {res['err'][k].max():6.0f} "
              f"{res['bound'][k]:6.0f}   {p_man[k]:5.2f}   | {cv[1.0][0][k].max():9.1f} {cv[1.0][1][k].max():6.0f} | "
              f"{cv[225.0][0][k].max():9.1f} {cv[225.0][1][k].max():6.0f}")
    n_out = {name: int((d2 > gate).sum()) for name, d2 in
             (("IMM union", res["d2u"]), ("IMM combined", res["d2c"]), ("CV q=1", cv[1.0][0]),
              ("CV q=225", cv[225.0][0]))}
    print(f"plots outside the gate (of {res['d2u'].size}): {n_out}; max position error: IMM "
          f"{res['err'].max():.0f} m, CV q=1 {cv[1.0][1].max():.0f} m, CV q=225 {cv[225.0][1].max():.0f} m")
    # The track keeps its plots: inside the 99.99% gate of at least one model at every scan but for chance.
    assert n_out["IMM union"] <= chance_exceedances(res["d2u"].size)
    onset = (t > t_turn) & (t <= t_turn + 5)
    assert np.all(res["d2u"][onset] < gate)
    # Position error bounded by a single plot's 99.99% error radius along its longest axis (cross range,
    # 1 mrad × range): an IMM that follows the manoeuvre is at every scan at least as good as the latest
    # plot alone, whereas a filter that has lost it lags by a t²/2 and its error grows without bound.
    assert np.all(res["err"] < res["bound"][:, None])
    # The manoeuvre models take over during the turn and hand back on the straight legs.
    turn = (t >= t_turn + 3) & (t <= t_turn + turn_s)
    straight = ((t >= 5) & (t <= t_turn)) | (t >= t_turn + turn_s + 5)
    assert np.all(p_man[turn] > 0.5)
    assert p_man[straight].mean() < 0.2 and p_man[turn].mean() > 4 * p_man[straight].mean()


def boost_truth(times, thrust_g=5.0, t_burn=40.0, h=0.1):
    """A missile boosting at ``thrust_g`` along its velocity until ``t_burn``, then in free flight (9-D ECEF).

    RK4 (step ``h``) of ``r'' = a_ff(r, r') + thrust·v̂``, with the thrust cut exactly at burnout.
    """
    p = SITE + np.array([80e3, 0.0, 5e3]) @ ROT
    pitch = np.radians(60.0)
    v = np.array([0.0, 600 * np.cos(pitch), 600 * np.sin(pitch)]) @ ROT

    def acc(p, v, thrust):
        a = dynamics.free_flight_acceleration(p, v)
        return a + thrust_g * G0 * v / np.linalg.norm(v) if thrust else a

    t, out = 0.0, []
    for t_out in times:
        while t < t_out - 1e-9:
            hh = min(h, t_out - t)
            if t < t_burn < t + hh:
                hh = t_burn - t
            on = t < t_burn - 1e-9  # steps end at burnout: every stage of a step has the same thrust
            a1 = acc(p, v, on)
            a2 = acc(p + 0.5 * hh * v, v + 0.5 * hh * a1, on)
            a3 = acc(p + 0.5 * hh * (v + 0.5 * hh * a1), v + 0.5 * hh * a2, on)
            a4 = acc(p + hh * (v + 0.5 * hh * a2), v + hh * a3, on)
            p = p + hh / 6 * (v + 2 * (v + 0.5 * hh * a1) + 2 * (v + 0.5 * hh * a2) + (v + hh * a3))
            v = v + hh / 6 * (a1 + 2 * a2 + 2 * a3 + a4)
            t += hh
        out.append(np.r_[p, v, acc(p, v, t < t_burn - 1e-9)])
    return np.array(out)


def test_imm_follows_a_missile_from_boost_to_coast():
    """5 g boost (50 km up, 2.2 km/s at burnout), then free flight to 140 km; plots every 1 s from 80-200 km."""
    runs, t_burn = 20, 40.0
    times = np.arange(10.0, 100.0 + 1e-9, 1.0)
    truth = boost_truth(times, t_burn=t_burn)
    sigma = np.array([20.0, 1e-3, 1e-3])
    rng = np.random.default_rng(7)
    P0 = np.diag(np.r_[np.full(3, 100.0**2), np.full(3, 20.0**2), np.full(3, 5.0**2)])
    f = imm.IMM.ballistic_missile()  # the recommended configuration
    res = run_imm(f, truth, times, P0, sigma, runs, rng)
    gate = chi2.ppf(GATE_P, 3)
    t = times[1:]
    p_bal = res["mu"][:, :, 1].mean(axis=1)
    print("\n   t   d2 (union / combined)  err  bound  P(ballistic)")
    for k in range(0, len(t), 4):
        print(f"{t[k]:4.0f}   {res['d2u'][k].max():6.1f} {res['d2c'][k].max():6.1f}     {res['err'][k].max():5.0f} "
              f"{res['bound'][k]:5.0f}   {p_bal[k]:5.2f}")
    print(f"plots outside the gate (of {res['d2u'].size}): union {(res['d2u'] > gate).sum()}, "
          f"combined {(res['d2c'] > gate).sum()}")
    assert (res["d2u"] > gate).sum() <= chance_exceedances(res["d2u"].size)  # through burnout and after
    around_burnout = (t > t_burn) & (t <= t_burn + 5)
    assert np.all(res["d2u"][around_burnout] < gate)
    assert np.all(res["err"] < res["bound"][:, None])
    # Free flight is recognised within a few scans of burnout and dominates the coast; thrust is not mistaken
    # for it.  (The first scans after burnout are evidence for no-thrust of 25 m each, against 20-50 m noise.)
    boost = (t >= 20) & (t < t_burn)
    coast = t >= t_burn + 4
    assert np.all(p_bal[coast] > 0.5) and p_bal[coast].mean() > 0.9
    assert p_bal[boost].mean() < 0.2


# --------------------------------------------------------------------------- IMM algebra


def _random_mixture(seed, n, r, d):
    rng = np.random.default_rng(seed)
    xm = rng.normal(0, 100, (n, r, d))
    A = rng.normal(size=(n, r, d, d)) * rng.uniform(0.1, 30, (n, r, 1, 1))
    Pm = A @ np.swapaxes(A, -1, -2) + 1e-3 * np.eye(d)
    mu = rng.dirichlet(np.ones(r), n)
    return xm, Pm, mu, rng


def _raw_moments(xm, Pm, w):
    """Mean and covariance of the mixture Σ w_j N(x_j, P_j) from raw moments E[x], E[x xᵀ]."""
    m1 = np.einsum("nj,njd->nd", w, xm)
    m2 = np.einsum("nj,njde->nde", w, Pm + xm[..., :, None] * xm[..., None, :])
    return m1, m2 - m1[:, :, None] * m1[:, None, :]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), r=st.integers(1, 4), d=st.sampled_from([2, 6, 9]))
def test_combination_matches_the_mixture_moments(seed, r, d):
    xm, Pm, mu, _ = _random_mixture(seed, 5, r, d)
    x, P = imm.combine(xm, Pm, mu)
    m, C = _raw_moments(xm, Pm, mu)
    scale = np.abs(C).max()
    assert np.allclose(x, m, rtol=1e-12, atol=1e-9)
    assert np.allclose(P, C, rtol=1e-9, atol=1e-9 * scale)
    assert np.allclose(P, np.swapaxes(P, 1, 2), rtol=0, atol=0)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), r=st.integers(1, 4), dt=st.floats(0.0, 60.0),
       tau=st.lists(st.floats(0.5, 500.0), min_size=4, max_size=4))
def test_mixing_keeps_covariances_spd_and_the_mixture_unchanged(seed, r, dt, tau):
    xm, Pm, mu, _ = _random_mixture(seed, 5, r, 9)
    Pi = imm.transition_matrix(np.full(5, dt), tau[:r])
    x0, P0, c = imm.mix(xm, Pm, mu, Pi)
    assert np.allclose(P0, np.swapaxes(P0, -1, -2), rtol=0, atol=0)
    assert np.all(np.linalg.eigvalsh(P0) > 0)
    assert np.allclose(c.sum(axis=1), 1.0) and np.all(c >= 0)
    # Σ_j c_j N(x0_j, P0_j) has the moments of Σ_i μ_i N(x_i, P_i) (total expectation and variance).
    m_before, C_before = _raw_moments(xm, Pm, mu)
    m_after, C_after = _raw_moments(x0, P0, c)
    assert np.allclose(m_after, m_before, rtol=1e-10, atol=1e-8)
    assert np.allclose(C_after, C_before, rtol=1e-8, atol=1e-8 * np.abs(C_before).max())


@settings(max_examples=50, deadline=None)
@given(tau=st.lists(st.floats(0.5, 1000.0), min_size=2, max_size=4), a=st.floats(0.0, 100.0),
       b=st.floats(0.0, 100.0))
def test_transition_matrix_from_sojourn_times(tau, a, b):
    r = len(tau)
    Pa, Pb, Pab = (imm.transition_matrix([s], tau)[0] for s in (a, b, a + b))
    for Pi in (Pa, Pb, Pab):
        assert np.all(Pi >= 0) and np.allclose(Pi.sum(axis=1), 1.0)
    assert np.allclose(Pa @ Pb, Pab, atol=1e-10)  # a 10 s revisit is ten 1 s revisits
    assert np.allclose(imm.transition_matrix([0.0], tau)[0], np.eye(r))
    # Staying put is at least as likely as never leaving, exp(-Δ/τ), and for Δ ≪ τ about 1 - Δ/τ.
    assert np.all(np.diag(Pab) >= np.exp(-(a + b) / np.array(tau)) - 1e-12)
    small = imm.transition_matrix([1e-3], tau)[0]
    assert np.allclose(np.diag(small), 1 - 1e-3 / np.array(tau), rtol=0, atol=2 * (1e-3 / min(tau)) ** 2 + 1e-14)


def test_imm_with_one_model_is_the_ekf_and_likelihoods_add_up():
    rng = np.random.default_rng(9)
    n = 30
    x = enu_state(rng.uniform(-5e4, 5e4, (n, 3)) + [0, 0, 1e4], rng.normal(0, 300, (n, 3)))
    P = np.repeat(np.diag(np.r_[np.full(3, 200.0**2), np.full(3, 20.0**2), np.full(3, 4.0)])[None], n, 0)
    sigma = np.array([20.0, 1e-3, 1e-3, 1.0])
    R = np.diag(sigma**2)
    z = radar_plots(RADAR_RDOT, sample(x, P[0], rng, n), sigma, rng)
    cv = ConstantVelocity(q=9.0)
    f = imm.IMM([cv], [10.0])
    xm, Pm, mu = imm.initial_state(x, P, [1.0])
    xm, Pm, mu = f.predict(xm, Pm, mu, np.full(n, 3.0))
    xe, Pe = cv.predict(x, P, np.full(n, 3.0))
    assert np.allclose(xm[:, 0], xe) and np.allclose(Pm[:, 0], Pe)
    xu, Pu, mu_u, ll = f.update(xm, Pm, mu, z, R, RADAR_RDOT)
    zp, H = RADAR_RDOT(xe)
    nu = wrapped_residual(z, zp, (1,))
    xk, Pk, d2, _logdet = kalman_update(xe, Pe, nu, H, np.broadcast_to(R, (n, 4, 4)))
    assert np.allclose(xu[:, 0], xk) and np.allclose(Pu[:, 0], Pk) and np.allclose(mu_u, 1.0)
    S = H @ Pe @ np.swapaxes(H, 1, 2) + R
    d2_ref = np.einsum("ni,ni->n", nu, np.linalg.solve(S, nu[:, :, None])[:, :, 0])
    assert np.allclose(d2, d2_ref, rtol=1e-8)
    assert np.allclose(ll, -0.5 * (d2_ref + np.linalg.slogdet(S)[1] + 4 * np.log(2 * np.pi)), rtol=1e-10)
    # Two identical models: the mixture likelihood is unchanged and the probabilities stay put.
    f2 = imm.IMM([cv, ConstantVelocity(q=9.0)], [10.0, 10.0])
    xm2, Pm2, mu2 = imm.initial_state(x, P, [0.3, 0.7])
    xm2, Pm2, mu2 = f2.predict(xm2, Pm2, mu2, np.full(n, 3.0))
    _, _, mu2u, ll2 = f2.update(xm2, Pm2, mu2, z, R, RADAR_RDOT)
    assert np.allclose(ll2, ll) and np.allclose(mu2u, mu2)
    lls, _ = imm.score(xm2, Pm2, mu2, z, R, RADAR_RDOT)
    assert np.allclose(lls, ll2)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 4), st.integers(0, 2**31 - 1))
def test_transition_matrix_equals_the_matrix_exponential(r, seed):
    """Π(Δ) by one eigendecomposition equals exp(Λ|Δ|) per step, for any sojourn times and switch weights."""
    from tdome.c2.tracking.imm import generator, transition_matrix

    rng = np.random.default_rng(seed)
    tau = rng.uniform(0.5, 200.0, r)
    switch = rng.uniform(0.05, 1.0, (r, r)) if rng.uniform() < 0.5 else None
    dt = np.r_[0.0, rng.uniform(-30.0, 300.0, 6)]
    Pi = transition_matrix(dt, tau, switch)
    L = generator(tau, switch)
    ref = np.stack([expm(L * abs(d)) for d in dt])
    np.testing.assert_allclose(Pi, ref, atol=1e-10)
