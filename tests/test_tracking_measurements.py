"""Measurement models and plot conversion (tdome.c2.tracking.measurements, .plots)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tdome import geo
from tdome.c2.tracking import (
    measurement_model,
    plot_to_ecef,
    razel_jacobian,
)
from tracking_sim import (
    _fd_jacobian,
    make_site,
)


@settings(max_examples=60, deadline=None)
@given(
    lat=st.floats(-60, 60), lon=st.floats(-180, 180), alt=st.floats(0, 3000),
    rng_m=st.floats(2e3, 600e3), az=st.floats(0, 2 * np.pi), el=st.floats(-0.05, 1.4),
    v=st.lists(st.floats(-3000, 3000), min_size=3, max_size=3),
)
def test_measurement_jacobian_matches_finite_differences(lat, lon, alt, rng_m, az, el, v):
    site = make_site(0, lat, lon, alt_m=alt, sigma_rdot=1.0)
    p = site.ecef + geo.razel_to_enu(rng_m, az, el) @ site.enu_rot
    x = np.r_[p, v]
    for with_rdot in (False, True):
        z, H = measurement_model(x[None], site.ecef, site.enu_rot, with_rdot)
        assert z.shape == (1, 4 if with_rdot else 3)
        assert np.isclose(z[0, 0], rng_m, rtol=1e-9)
        assert abs(geo.wrap_angle(z[0, 1] - az)) < 1e-6 or np.cos(el) < 1e-6
        assert np.isclose(z[0, 2], el, atol=1e-9)
        h = np.r_[np.full(3, 1.0), np.full(3, 1e-2)]
        def model(xx, rd=with_rdot):
            return measurement_model(xx[None], site.ecef, site.enu_rot, rd)[0][0]

        Hfd = _fd_jacobian(model, x, h)
        scale = np.abs(Hfd).max(axis=1, keepdims=True) + 1e-12
        assert np.all(np.abs(H[0] - Hfd) <= 1e-5 * scale + 1e-12)


@settings(max_examples=40, deadline=None)
@given(rng_m=st.floats(1e3, 800e3), az=st.floats(0, 2 * np.pi), el=st.floats(-0.05, 1.5),
       lat=st.floats(-60, 60), lon=st.floats(-180, 180))
def test_plot_conversion_and_covariance(rng_m, az, el, lat, lon):
    site = make_site(0, lat, lon)
    sig = np.array([[40.0, 1e-3, 2e-3]])
    pos, cov = plot_to_ecef(rng_m, az, el, sig, site.ecef, site.enu_rot)
    r2, _az2, el2 = geo.enu_to_razel(site.to_enu(pos[0]))
    assert np.isclose(r2, rng_m, rtol=1e-9) and np.isclose(el2, el, atol=1e-9)
    # Jacobian of razel_to_enu against finite differences.
    meas = np.array([rng_m, az, el])
    J = razel_jacobian(*meas)[0]
    cols = []
    for i, h in enumerate((1.0, 1e-6, 1e-6)):
        e = np.zeros(3)
        e[i] = h
        cols.append((geo.razel_to_enu(*(meas + e)) - geo.razel_to_enu(*(meas - e))) / (2 * h))
    Jfd = np.stack(cols, axis=1)
    assert np.allclose(J, Jfd, rtol=1e-5, atol=1e-6 * rng_m)
    # ECEF covariance is the rotated ENU one, symmetric PSD.
    C_enu = J @ np.diag(sig[0] ** 2) @ J.T
    assert np.allclose(site.enu_rot @ cov[0] @ site.enu_rot.T, C_enu, rtol=1e-9, atol=1e-9)
    assert np.all(np.linalg.eigvalsh(cov[0]) > -1e-9 * np.trace(cov[0]))
