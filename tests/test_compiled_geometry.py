"""The compiled geodesy, coverage, radar-scan and truth look-up loops give bit-for-bit the numbers of the numpy forms.

Each ``_numpy_*`` function below is the vectorized numpy expression of the
same equations, kept here as the reference the compiled loops must match to
the last bit; the radar reference also makes the same random draws, so the
same seed must give the same plots.
"""

import numpy as np
import pymap3d
import pytest

from tdome import geo
from tdome.messages import Detections, SensorSite
from tdome.sensors.radar import _CLUTTER_MAX_EL_RAD, RadarModel
from tdome.world.trajectory import Trajectory, TrajectorySet

LAT, LON = np.radians(24.5), np.radians(120.8)
A, B, E2, EP2 = geo.A_M, geo.B_M, geo.E2, geo.EP2


def _numpy_ecef_to_geodetic(xyz):
    xyz = np.asarray(xyz, dtype=float)
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    p2 = x * x + y * y
    p = np.sqrt(p2)
    z2 = z * z
    f = 54.0 * B * B * z2
    g = p2 + (1.0 - E2) * z2 - E2 * (A * A - B * B)
    c = E2 * E2 * f * p2 / (g * g * g)
    s = np.cbrt(1.0 + c + np.sqrt(c * c + 2.0 * c))
    k = s + 1.0 + 1.0 / s
    pp = f / (3.0 * k * k * g * g)
    q = np.sqrt(1.0 + 2.0 * E2 * E2 * pp)
    r0 = -pp * E2 * p / (1.0 + q) + np.sqrt(
        np.maximum(0.5 * A * A * (1.0 + 1.0 / q) - pp * (1.0 - E2) * z2 / (q * (1.0 + q)) - 0.5 * pp * p2, 0.0)
    )
    u = np.sqrt((p - E2 * r0) ** 2 + z2)
    v = np.sqrt((p - E2 * r0) ** 2 + (1.0 - E2) * z2)
    z0 = B * B * z / (A * v)
    alt = u * (1.0 - B * B / (A * v))
    return np.arctan((z + EP2 * z0) / p), np.arctan2(y, x), alt


def _numpy_covers(site, xyz):
    enu = site.to_enu(xyz)
    rng, az, el = geo.enu_to_razel(enu)
    ok = (rng <= site.max_range_m) & (rng >= site.min_range_m)
    ok &= (el >= site.min_el_rad) & (el <= site.max_el_rad)
    if site.az_half_width_rad < np.pi:
        ok &= np.abs(geo.wrap_angle(az - site.az_center_rad)) <= site.az_half_width_rad
    _, _, h = _numpy_ecef_to_geodetic(xyz)
    ground = np.hypot(enu[..., 0], enu[..., 1])
    ok &= geo.line_of_sight(site.alt_m, h, ground)
    return ok


def _numpy_scan(radar, t_s, pos_ecef, vel_ecef, rcs_m2):
    s, rng = radar.site, radar.rng
    idx = np.flatnonzero(_numpy_covers(s, pos_ecef)) if len(pos_ecef) else np.empty(0, dtype=int)
    d_enu = s.to_enu(pos_ecef[idx])
    r, az, el = geo.enu_to_razel(d_enu)
    pd = radar.detection_probability(r, rcs_m2[idx])
    hit = rng.random(idx.size) < pd
    idx, d_enu, r, az, el = idx[hit], d_enu[hit], r[hit], az[hit], el[hit]
    n = idx.size
    r_m = r + rng.normal(0.0, s.sigma_range_m, n)
    az_m = np.mod(az + rng.normal(0.0, s.sigma_az_rad, n), 2.0 * np.pi)
    el_m = el + rng.normal(0.0, s.sigma_el_rad, n)
    rdot_m = None
    if s.sigma_rdot_mps is not None:
        v_enu = vel_ecef[idx] @ s.enu_rot.T
        rdot = np.einsum("ij,ij->i", d_enu, v_enu) / np.maximum(r, 1.0)
        rdot_m = rdot + rng.normal(0.0, s.sigma_rdot_mps, n)
    n_fa = rng.poisson(radar.false_alarms_per_scan)
    if n_fa:
        fa_r = rng.uniform(max(s.min_range_m, 1000.0), s.max_range_m, n_fa)
        fa_az = np.mod(s.az_center_rad + rng.uniform(-s.az_half_width_rad, s.az_half_width_rad, n_fa), 2 * np.pi)
        fa_el = rng.uniform(max(s.min_el_rad, 0.0), max(min(s.max_el_rad, _CLUTTER_MAX_EL_RAD), 1e-3), n_fa)
        r_m, az_m, el_m = np.concatenate([r_m, fa_r]), np.concatenate([az_m, fa_az]), np.concatenate([el_m, fa_el])
        if rdot_m is not None:
            rdot_m = np.concatenate([rdot_m, rng.normal(0.0, 30.0, n_fa)])
        idx = np.concatenate([idx, -np.ones(n_fa, dtype=int)])
    order = rng.permutation(idx.size)
    sig = [s.sigma_range_m, s.sigma_az_rad, s.sigma_el_rad] + ([] if rdot_m is None else [s.sigma_rdot_mps])
    det = Detections(float(t_s), s.index, r_m[order], az_m[order], el_m[order], np.tile(np.array(sig), (idx.size, 1)),
                     None if rdot_m is None else rdot_m[order])
    return det, idx[order]


def _numpy_state_at(ts, t_s, idx=None):
    idx = np.arange(len(ts)) if idx is None else np.asarray(idx, dtype=int).reshape(-1)
    t = np.broadcast_to(np.asarray(t_s, dtype=float), idx.shape)
    launch, impact = ts.launch_s[idx], ts.impact_s[idx]
    alive = (t >= launch) & (t <= impact)
    k = np.clip(np.floor((t - ts.t0_s) / ts.dt_s).astype(np.int64), 0, ts.t_s.size - 2)
    tl, tr = ts.t_s[k], ts.t_s[k + 1]
    use_launch, use_impact = tl < launch, tr > impact
    tl, tr = np.where(use_launch, launch, tl), np.where(use_impact, impact, tr)
    pl = np.where(use_launch[:, None], ts.launch_ecef[idx], ts.pos[idx, k])
    vl = np.where(use_launch[:, None], ts.launch_vel[idx], ts.vel[idx, k])
    pr = np.where(use_impact[:, None], ts.impact_ecef[idx], ts.pos[idx, k + 1])
    vr = np.where(use_impact[:, None], ts.impact_vel[idx], ts.vel[idx, k + 1])
    span = tr - tl
    w = np.where(span > 0, (t - tl) / np.where(span > 0, span, 1.0), 0.0)[:, None]
    pos, vel = pl + w * (pr - pl), vl + w * (vr - vl)
    pos[~alive] = np.nan
    vel[~alive] = np.nan
    return pos, vel, alive


def _points(rng, n, max_alt_m=2e6):
    lat, lon = rng.uniform(-np.pi / 2, np.pi / 2, n), rng.uniform(-np.pi, np.pi, n)
    return geo.geodetic_to_ecef(lat, lon, rng.uniform(-5000.0, max_alt_m, n))


def _same(got, want):
    assert type(got) is type(want)
    assert np.shape(got) == np.shape(want) and np.asarray(got).dtype == np.asarray(want).dtype
    assert np.array_equal(got, want, equal_nan=np.asarray(want).dtype.kind == "f")


def test_numpy_runs_on_the_c_librarys_elementary_functions():
    """The exact comparisons below hold only if numpy is off its AVX-512 paths (tests/conftest.py)."""
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:  # numpy 1.26
        from numpy.core import _multiarray_umath as umath  # type: ignore[no-redef]
    on = [t for t in umath.__cpu_dispatch__ if t.startswith(("AVX512", "X86_V4")) and umath.__cpu_features__.get(t)]
    assert not on, f"numpy dispatches {on}: NPY_DISABLE_CPU_FEATURES was not set before numpy was imported"


def test_ecef_to_geodetic_matches_the_numpy_form_exactly_for_every_shape():
    rng = np.random.default_rng(1)
    xyz = np.concatenate([_points(rng, 5000), geo.geodetic_to_ecef(0.3, 1.0, rng.uniform(-6e6, 4e7, 500))])
    xyz[:5] = [[0.0, 0.0, B], [0.0, 0.0, -B], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [np.nan, 1.0, 2.0]]
    with np.errstate(all="ignore"):
        for arg in (xyz, xyz[7], xyz[10:20].reshape(2, 5, 3), np.hstack([xyz, xyz]), xyz[:0], xyz[:2].tolist()):
            got, want = geo.ecef_to_geodetic(arg), _numpy_ecef_to_geodetic(arg)
            for g, w in zip(got, want):
                _same(g, w)
    # A single point gives numpy scalars, as the numpy form does.
    assert all(isinstance(v, np.float64) for v in geo.ecef_to_geodetic(xyz[7]))


def test_ecef_to_geodetic_inverts_geodetic_to_ecef_and_matches_pymap3d():
    rng = np.random.default_rng(2)
    lat, lon = rng.uniform(-np.pi / 2, np.pi / 2, 300), rng.uniform(-np.pi, np.pi, 300)
    alt = np.where(rng.random(300) < 0.5, rng.uniform(-5000.0, 1e5, 300), rng.uniform(0.0, 4e7, 300))
    la, lo, h = geo.ecef_to_geodetic(geo.geodetic_to_ecef(lat, lon, alt))
    assert np.max(np.abs(la - lat)) < 1e-14 and np.max(np.abs(geo.wrap_angle(lo - lon))) < 1e-14
    assert np.max(np.abs(h - alt)) < 1e-6
    # pymap3d (an independent, iterative solution) is itself good to ~1e-8 rad far out: compare near the Earth.
    near = np.flatnonzero(alt < 1e5)
    for k in near:
        ref = pymap3d.ecef2geodetic(*geo.geodetic_to_ecef(lat[k], lon[k], alt[k]), deg=False)
        assert abs(la[k] - ref[0]) < 1e-11 and abs(geo.wrap_angle(lo[k] - ref[1])) < 1e-12 and abs(h[k] - ref[2]) < 1e-5


def test_clears_horizon_is_line_of_sight_exactly():
    rng = np.random.default_rng(3)
    hr = rng.uniform(-50.0, 3000.0, 4000)
    ht = np.concatenate([rng.uniform(-100.0, 2e4, 3990), [np.nan] * 10])
    ground = rng.uniform(0.0, 6e5, 4000)
    want = geo.line_of_sight(hr, ht, ground)
    assert 0 < want.sum() < want.size
    got = np.array([geo.clears_horizon(a, b, c) for a, b, c in zip(hr, ht, ground)])
    assert np.array_equal(got, want)
    assert np.array_equal(np.array([geo.clears_horizon(a, b, c, 1.0) for a, b, c in zip(hr, ht, ground)]),
                          geo.line_of_sight(hr, ht, ground, 1.0))


def test_razel_of_is_enu_to_razel_exactly():
    rng = np.random.default_rng(6)
    enu = rng.normal(0.0, 1e5, (2000, 3))
    enu[:3] = [[0.0, 0.0, 0.0], [0.0, 0.0, -5.0], [-0.0, 1.0, 0.0]]
    want = geo.enu_to_razel(enu)
    got = np.array([geo.razel_of(*row) for row in enu])
    for c in range(3):
        assert np.array_equal(got[:, c], want[c])
    assert np.array_equal(got[:, 3], np.hypot(enu[:, 0], enu[:, 1]))


def _site(i, alt_m, az_center_deg, half_width_deg, min_el_deg, max_el_deg, max_range_m, sigma_rdot):
    return SensorSite(index=i, name=f"s{i}", lat_rad=LAT + 0.01 * i, lon_rad=LON - 0.005 * i, alt_m=alt_m,
                      max_range_m=max_range_m, min_range_m=500.0, min_el_rad=np.radians(min_el_deg),
                      max_el_rad=np.radians(max_el_deg), az_center_rad=np.radians(az_center_deg),
                      az_half_width_rad=np.radians(half_width_deg), revisit_s=2.0, sigma_range_m=50.0,
                      sigma_az_rad=1e-3, sigma_el_rad=2e-3, sigma_rdot_mps=sigma_rdot)


SITES = [_site(0, 30.0, 0.0, 180.0, -2.0, 80.0, 300e3, 5.0), _site(1, 2600.0, 300.0, 60.0, 0.0, 60.0, 450e3, None),
         _site(2, -10.0, 10.0, 170.0, -5.0, 90.0, 200e3, 1.0), _site(3, 120.0, 345.0, 30.0, 1.0, 30.0, 150e3, None)]


def _targets(rng, n):
    lat = LAT + np.radians(rng.uniform(-4.0, 4.0, n))
    lon = LON + np.radians(rng.uniform(-4.0, 4.0, n))
    alt = np.where(rng.random(n) < 0.5, rng.uniform(-100.0, 3000.0, n), rng.uniform(0.0, 4e5, n))
    return geo.geodetic_to_ecef(lat, lon, alt)


@pytest.mark.parametrize("site", SITES, ids=lambda s: s.name)
def test_covers_matches_the_numpy_form_exactly_for_every_shape(site):
    rng = np.random.default_rng(4 + site.index)
    xyz = _targets(rng, 20000)
    want = _numpy_covers(site, xyz)
    assert 0 < want.sum() < want.size
    _same(site.covers(xyz), want)
    for arg in (xyz[:10].reshape(2, 5, 3), xyz[:0], xyz[:1]):
        _same(site.covers(arg), _numpy_covers(site, arg))
    for k in np.flatnonzero(want)[:20].tolist() + list(range(20)):
        _same(site.covers(xyz[k]), _numpy_covers(site, xyz[k]))


@pytest.mark.parametrize("site", SITES, ids=lambda s: s.name)
def test_scan_gives_the_plots_and_draws_of_the_numpy_form(site):
    """Same seed, same targets: the same plots to the last bit and sources, the generator left in the same state."""
    rng = np.random.default_rng(10 + site.index)
    xyz = _targets(rng, 5000)
    fa = [0.0, 3.0, 0.5, 7.0][site.index]

    def radar():
        return RadarModel(site, 10 ** (2.0 + 0.5 * site.index), 100e3, 1e-6, fa, np.random.default_rng(site.index))

    new, ref = radar(), radar()
    n_plots = 0
    for j in range(150):
        m = int(rng.integers(0, 60)) if j % 10 else int(j % 20 == 0)  # now and then no target, or a single one
        sel = rng.integers(0, len(xyz), m)
        pos, vel, rcs = xyz[sel], rng.normal(0.0, 300.0, (m, 3)), rng.uniform(0.001, 5.0, m)
        det, src = new.scan(float(j), pos, vel, rcs)
        want, want_src = _numpy_scan(ref, float(j), pos, vel, rcs)
        _same(src, want_src)
        assert (det.time_s, det.sensor) == (want.time_s, want.sensor)
        for name in ("range_m", "az_rad", "el_rad", "sigma", "rdot_mps"):
            if getattr(want, name) is None:
                assert getattr(det, name) is None
            else:
                _same(getattr(det, name), getattr(want, name))
        n_plots += len(det)
    assert n_plots > 100
    assert np.array_equal(new.rng.random(4), ref.rng.random(4))


def test_state_at_matches_the_numpy_form_exactly():
    rng = np.random.default_rng(5)
    trs = []
    for _ in range(25):
        t0 = rng.uniform(0.0, 50.0)
        t = t0 + np.cumsum(rng.uniform(0.1, 0.9, int(rng.integers(1, 200))))
        trs.append(Trajectory(t, rng.normal(0.0, 1e6, (t.size, 3)), rng.normal(0.0, 1e3, (t.size, 3))))
    trs.append(Trajectory([10.1, 10.3], [[0, 0, 0], [2, 0, 0]], [[10, 0, 0], [10, 0, 0]]))
    ts = TrajectorySet(trs, dt_s=0.5)
    times = np.concatenate([rng.uniform(-5.0, 200.0, 300), ts.launch_s, ts.impact_s, ts.t_s[::7]])
    for t in times:
        for g, w in zip(ts.state_at(t), _numpy_state_at(ts, t)):
            _same(g, w)
    idx = np.array([3, 0, 7, -1, 25])
    for t in times[::5]:
        for g, w in zip(ts.state_at(t, idx), _numpy_state_at(ts, t, idx)):
            _same(g, w)
    per_object = times[: len(ts)]
    for g, w in zip(ts.state_at(per_object, np.arange(len(ts))), _numpy_state_at(ts, per_object, np.arange(len(ts)))):
        _same(g, w)
    for g, w in zip(ts.state_at(20, [2]), _numpy_state_at(ts, 20, [2])):
        _same(g, w)
    for g, w in zip(ts.state_at(20.0, np.zeros(0, dtype=int)), _numpy_state_at(ts, 20.0, np.zeros(0, dtype=int))):
        _same(g, w)
    with pytest.raises(IndexError):
        ts.state_at(20.0, [len(ts)])
    with pytest.raises(ValueError):
        ts.state_at(np.array([1.0, 2.0]), [0, 1, 2])
