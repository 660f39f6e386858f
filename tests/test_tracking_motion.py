"""Motion models of the single-model estimator (tdome.c2.tracking.motion)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tdome import dynamics, geo
from tdome.c2.tracking import (
    cv_process_noise,
    cv_transition,
    predict,
)
from tracking_sim import (
    LAT0,
    LON0,
    enu_velocity_to_ecef,
)


@settings(max_examples=40, deadline=None)
@given(dt=st.floats(0.01, 30.0), q=st.floats(0.01, 500.0))
def test_process_noise_forward_backward(dt, q):
    Q = cv_process_noise([dt], q)[0]
    F = cv_transition([dt])[0]
    Fb = cv_transition([-dt])[0]
    assert np.allclose(F @ Fb, np.eye(6))
    # Covariance of the backward prediction noise is F(-Δ) Q(Δ) F(-Δ)ᵀ.
    assert np.allclose(cv_process_noise([-dt], q)[0], Fb @ Q @ Fb.T, rtol=1e-9, atol=1e-12 * q * dt**3)
    assert np.all(np.linalg.eigvalsh(Q) >= -1e-9 * np.abs(Q).max())
    # Q(a) composes: F(b) Q(a) F(b)ᵀ + Q(b) = Q(a + b).
    Fa = cv_transition([dt / 3])[0]
    Qa = cv_process_noise([dt / 3], q)[0]
    Q2 = cv_process_noise([2 * dt / 3], q)[0]
    F2 = cv_transition([2 * dt / 3])[0]
    assert np.allclose(F2 @ Qa @ F2.T + Q2, Q, rtol=1e-9, atol=1e-12 * q * dt**3)
    assert np.allclose(F2 @ Fa, F)


def test_ballistic_predict_uses_free_flight_and_runs_backwards():
    p = geo.geodetic_to_ecef(LAT0, LON0, 60e3)
    v = enu_velocity_to_ecef(LAT0, LON0, np.array([1500.0, 500.0, 800.0]))
    x = np.r_[p, v][None]
    P = np.eye(6)[None] * 100.0
    xp, Pp = predict(x, P, [7.0], 4.0, ballistic=np.array([True]))
    r, vv = dynamics.propagate(p[None], v[None], 7.0, step_s=0.5)
    assert np.linalg.norm(xp[0, :3] - r[0]) < 0.05 and np.linalg.norm(xp[0, 3:] - vv[0]) < 1e-3
    xb, _ = predict(xp, Pp, [-7.0], 4.0, ballistic=np.array([True]))
    assert np.linalg.norm(xb[0, :3] - p) < 0.05
    xc, _ = predict(x, P, [7.0], 4.0, ballistic=np.array([False]))
    assert np.allclose(xc[0, :3], p + 7.0 * v)
    assert np.linalg.norm(xc[0, :3] - xp[0, :3]) > 100.0  # gravity: ~½ g t² = 240 m
