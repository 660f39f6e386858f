"""The Gaussian update shared by every estimator (tdome.c2.tracking.gaussian, .ekf)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tdome.c2.tracking import (
    ekf_update,
)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.sampled_from([3, 4]))
def test_joseph_update_equals_standard_form(seed, k):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(5, 6, 6))
    P = A @ A.transpose(0, 2, 1) + 0.1 * np.eye(6)
    H = rng.normal(size=(5, k, 6))
    B = rng.normal(size=(5, k, k))
    R = B @ B.transpose(0, 2, 1) + 0.1 * np.eye(k)
    x = rng.normal(size=(5, 6))
    nu = rng.normal(size=(5, k))
    xu, Pu = ekf_update(x, P, nu, H, R)
    S = H @ P @ H.transpose(0, 2, 1) + R
    K = P @ H.transpose(0, 2, 1) @ np.linalg.inv(S)
    assert np.allclose(xu, x + np.einsum("nij,nj->ni", K, nu))
    assert np.allclose(Pu, P - K @ S @ K.transpose(0, 2, 1), atol=1e-8)
    assert np.allclose(Pu, Pu.transpose(0, 2, 1))
    assert np.all(np.linalg.eigvalsh(Pu) > -1e-9)
