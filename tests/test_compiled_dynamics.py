"""The compiled free-flight loops give bit-for-bit the numbers of the numpy expressions they replace."""

import numpy as np
import pytest

from tdome import dynamics, geo


def _states(rng, n):
    lat, lon = rng.uniform(-1.5, 1.5, n), rng.uniform(-3.0, 3.0, n)
    radius = 6.371e6 + rng.uniform(-2e4, 5e5, n)
    r = np.stack([radius * np.cos(lat) * np.cos(lon), radius * np.cos(lat) * np.sin(lon), radius * np.sin(lat)], 1)
    return r, rng.normal(0.0, 2000.0, (n, 3))


@pytest.mark.parametrize("rotating", [True, False])
@pytest.mark.parametrize("j2", [True, False])
def test_rk4_step_matches_the_numpy_reference_exactly(rotating, j2):
    rng = np.random.default_rng(3)
    for _ in range(40):
        n = int(rng.integers(1, 40))
        r, v = _states(rng, n)
        for dt in (float(rng.uniform(0, 10)), rng.uniform(-20, 20, n), rng.uniform(-5, 5, (n, 1))):
            got = dynamics.rk4_step(r, v, dt, rotating, j2)
            want = dynamics.rk4_step_numpy(r, v, dt, rotating, j2)
            assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_rk4_steps_is_repeated_rk4_step():
    rng = np.random.default_rng(4)
    r, v = _states(rng, 17)
    h = rng.uniform(-10, 10, 17)
    want = (r, v)
    for _ in range(7):
        want = dynamics.rk4_step_numpy(*want, h)
    got = dynamics.rk4_steps(r, v, h, 7)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def _to_ground_numpy(pos, vel, n_nodes, h):
    """The vectorised numpy loop that threat evaluation used before the compiled one."""
    n = pos.shape[0]
    node_pos = np.full((n, n_nodes, 3), np.nan)
    node_vel = np.full((n, n_nodes, 3), np.nan)
    impact = np.full((n, 3), np.nan)
    t_imp = np.full(n, np.inf)
    r, v = pos.copy(), vel.copy()
    node_pos[:, 0], node_vel[:, 0] = r, v
    alt_prev = geo.height_m(r)
    live = alt_prev > 0
    for k in range(1, n_nodes):
        if not live.any():
            break
        idx = np.flatnonzero(live)
        r1, v1 = dynamics.rk4_step_numpy(r[idx], v[idx], h)
        alt1 = geo.height_m(r1)
        down = alt1 <= 0
        if down.any():
            di = idx[down]
            r0d, v0d = r[di], v[di]
            lo, hi = np.zeros(di.size), np.ones(di.size)
            f_lo, f_hi = alt_prev[di], alt1[down]
            for _ in range(6):
                frac = lo + (hi - lo) * f_lo / np.maximum(f_lo - f_hi, 1e-9)
                rc, _ = dynamics.rk4_step_numpy(r0d, v0d, frac * h)
                fc = geo.height_m(rc)
                above = fc > 0
                lo, f_lo = np.where(above, frac, lo), np.where(above, fc, f_lo)
                hi, f_hi = np.where(above, hi, frac), np.where(above, f_hi, fc)
            frac = lo + (hi - lo) * f_lo / np.maximum(f_lo - f_hi, 1e-9)
            rc, _vc = dynamics.rk4_step_numpy(r0d, v0d, frac * h)
            impact[di] = rc
            t_imp[di] = (k - 1 + frac) * h
            node_pos[di, k], node_vel[di, k] = r1[down], v1[down]
            live[di] = False
        up = ~down
        iu = idx[up]
        r[iu], v[iu], alt_prev[iu] = r1[up], v1[up], alt1[up]
        node_pos[iu, k], node_vel[iu, k] = r1[up], v1[up]
    return node_pos, node_vel, impact, t_imp


def test_free_flight_to_ground_matches_the_numpy_loop_exactly():
    rng = np.random.default_rng(5)
    lat, lon = rng.uniform(0.3, 0.5, 60), rng.uniform(2.0, 2.2, 60)
    alt = np.concatenate([rng.uniform(1e3, 2e5, 55), [-10.0, 0.0, 5.0, 3e5, 1e6]])
    r = geo.geodetic_to_ecef(lat, lon, alt)
    v = rng.normal(0.0, 1500.0, (60, 3))  # some climb, some dive, some reach the ground
    got = dynamics.free_flight_to_ground(r, v, 91, 10.0)
    want = _to_ground_numpy(r, v, 91, 10.0)
    for g, w in zip(got, want):
        assert np.array_equal(g, w, equal_nan=True)
    assert np.isfinite(got[3]).sum() > 10 and np.isinf(got[3]).sum() > 0
