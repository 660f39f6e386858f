"""The world's compiled and cached paths give exactly what the forms they replace gave.

- the ballistic integrator (one compiled call to the ground, then one batch of
  crossings) against the step-by-step numpy loop it replaces;
- the trajectories built from it, sample for sample;
- the regular-grid resampling of a TrajectorySet against one
  :meth:`Trajectory.sample` per trajectory;
- the live rows' states before a radar scan (:meth:`TrajectorySet.live_state_at`)
  against the rows of :meth:`TrajectorySet.state_at` they stand for;
- battery status reports, aim uplinks and intercept resolution against the
  keyword-built reports and the scan-everything loops they replace.
"""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tdome.dynamics import rk4_step
from tdome.geo import A_M, B_M, enu_rotation, geodetic_to_ecef
from tdome.messages import AimUpdate, BatteryStatus, FireOrder, InterceptorSpec
from tdome.world import ballistic
from tdome.world.effectors import Effectors, FireUnit
from tdome.world.trajectory import Trajectory, TrajectorySet

# ---------------------------------------------------------------------------- ballistic integration


def _below_ground_numpy(r):
    return (r[:, 0] ** 2 + r[:, 1] ** 2) / (A_M * A_M) + r[:, 2] ** 2 / (B_M * B_M) < 1.0


def _integrate_numpy(r0, v0, step_s, max_time_s, rotating, j2, keep_history):
    """The numpy loop ballistic._integrate replaces: all objects step together, crossings as they land."""
    r = np.array(r0, dtype=float).reshape(-1, 3)
    v = np.array(v0, dtype=float).reshape(-1, 3)
    n = r.shape[0]
    n_pre = np.zeros(n, dtype=int)
    tau = np.zeros(n)
    r_imp = r.copy()
    v_imp = v.copy()
    hit_any = np.zeros(n, dtype=bool)
    active = np.arange(n)
    hist_r, hist_v = [r.copy()], [v.copy()]
    n_steps = int(np.ceil(max_time_s / step_s))
    for k in range(1, n_steps + 1):
        if active.size == 0:
            break
        ra, va = r[active], v[active]
        rn, vn = rk4_step(ra, va, step_s, rotating=rotating, j2=j2)
        hit = _below_ground_numpy(rn)
        if hit.any():
            ids = active[hit]
            tau[ids], r_imp[ids], v_imp[ids] = ballistic._crossing(ra[hit], va[hit], rn[hit], vn[hit], step_s)
            n_pre[ids] = k
            hit_any[ids] = True
        r[active] = rn
        v[active] = vn
        if keep_history:
            hist_r.append(r.copy())
            hist_v.append(v.copy())
        active = active[~hit]
    if active.size:
        n_pre[active] = n_steps
        tau[active] = 0.0
        r_imp[active] = r[active]
        v_imp[active] = v[active]
    history = (np.stack(hist_r, axis=1), np.stack(hist_v, axis=1)) if keep_history else (None, None)
    return n_pre, tau, r_imp, v_imp, hit_any, history


def _fly_many_numpy(r0, v0, t0_s, step_s, max_time_s, rotating, j2):
    """fly_ballistic_many's trajectory assembly as it was, on the numpy loop."""
    n = r0.shape[0]
    t0 = np.broadcast_to(np.asarray(t0_s, dtype=float), (n,))
    n_pre, tau, r_imp, v_imp, hit, (hr, hv) = _integrate_numpy(r0, v0, step_s, max_time_s, rotating, j2, True)
    out = []
    for i in range(n):
        m = n_pre[i]
        t_imp = (m - 1 + tau[i]) * step_s
        keep = m if t_imp > (m - 1) * step_s + 1e-9 else m - 1
        if not hit[i]:
            keep = m
        t = t0[i] + step_s * np.arange(keep)
        pos, vel = hr[i, :keep], hv[i, :keep]
        if hit[i]:
            t = np.append(t, t0[i] + t_imp)
            pos = np.vstack((pos, r_imp[i]))
            vel = np.vstack((vel, v_imp[i]))
        else:
            t = np.append(t, t0[i] + m * step_s)
            pos = np.vstack((pos, hr[i, m]))
            vel = np.vstack((vel, hv[i, m]))
        out.append(Trajectory(t, pos, vel))
    return out


_launch = st.tuples(st.floats(-1.3, 1.3), st.floats(-3.1, 3.1), st.floats(0.0, 20e3), st.floats(50.0, 3500.0),
                    st.floats(-0.3, 1.4), st.floats(0.0, 6.3))


def _launch_states(launches):
    lat, lon, alt, speed, gamma, az = (np.array(c, dtype=float) for c in zip(*launches))
    r0 = geodetic_to_ecef(lat, lon, alt)
    enu = np.stack((speed * np.cos(gamma) * np.sin(az), speed * np.cos(gamma) * np.cos(az), speed * np.sin(gamma)), 1)
    return r0, np.einsum("nji,nj->ni", enu_rotation(lat, lon), enu)


@settings(max_examples=60, deadline=None)
@given(st.lists(_launch, min_size=1, max_size=7), st.sampled_from([0.5, 0.25, 1.0, 2]),
       st.sampled_from([2000.0, 300.0, 60.0, 7.3, 0.0]), st.booleans(), st.booleans(), st.booleans())
def test_integrate_matches_the_numpy_loop_exactly(launches, step_s, max_time_s, rotating, j2, keep_history):
    """Landed, still flying (short caps, none at all), climbing or diving from launch: the same bits."""
    r0, v0 = _launch_states(launches)
    got = ballistic._integrate(r0, v0, step_s, max_time_s, rotating, j2, keep_history)
    want = _integrate_numpy(r0, v0, step_s, max_time_s, rotating, j2, keep_history)
    for g, w in zip(got[:5], want[:5]):
        assert g.shape == w.shape and np.array_equal(g, w)
    for g, w in zip(got[5], want[5]):
        assert (g is None and w is None) or (g.shape == w.shape and np.array_equal(g, w))


@settings(max_examples=40, deadline=None)
@given(st.lists(_launch, min_size=1, max_size=6), st.lists(st.floats(-50.0, 500.0), min_size=6, max_size=6),
       st.sampled_from([0.5, 1.0]), st.sampled_from([2000.0, 120.0]), st.booleans())
def test_fly_ballistic_many_matches_the_numpy_assembly_exactly(launches, t0, step_s, max_time_s, rotating):
    r0, v0 = _launch_states(launches)
    t0_s = np.array(t0[:r0.shape[0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # still airborne at a short cap
        got = ballistic.fly_ballistic_many(r0, v0, t0_s, step_s, max_time_s, rotating)
    want = _fly_many_numpy(r0, v0, t0_s, step_s, max_time_s, rotating, True)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        for a, b in ((g.t_s, w.t_s), (g.pos_ecef, w.pos_ecef), (g.vel_ecef, w.vel_ecef)):
            assert a.shape == b.shape and np.array_equal(a, b)


def test_default_raid_sized_batch_matches():
    """A batch the size of solve_launch's (three trajectories per threat, hundreds of steps each)."""
    rng = np.random.default_rng(7)
    n = 90
    launches = list(zip(rng.uniform(0.3, 0.5, n), rng.uniform(2.0, 2.2, n), np.zeros(n), rng.uniform(900, 2600, n),
                        rng.uniform(0.5, 0.9, n), rng.uniform(0, 6.3, n)))
    r0, v0 = _launch_states(launches)
    got = ballistic._integrate(r0, v0, 0.5, 2000.0, True, True, True)
    want = _integrate_numpy(r0, v0, 0.5, 2000.0, True, True, True)
    assert got[4].all()
    for g, w in zip(got[:5] + got[5], want[:5] + want[5]):
        assert np.array_equal(g, w)


# ---------------------------------------------------------------------------- TrajectorySet grid


def _grid_numpy(ts: TrajectorySet):
    """TrajectorySet's grid as it was filled: one Trajectory.sample per trajectory."""
    pos = np.full_like(ts.pos, np.nan)
    vel = np.full_like(ts.vel, np.nan)
    for i, tr in enumerate(ts.trajectories):
        lo = max(int(np.ceil((tr.launch_s - ts.t0_s) / ts.dt_s - 1e-9)), 0)
        hi = min(int(np.floor((tr.impact_s - ts.t0_s) / ts.dt_s + 1e-9)), ts.t_s.size - 1)
        if hi < lo:
            continue
        tq = np.clip(ts.t_s[lo:hi + 1], tr.launch_s, tr.impact_s)
        pos[i, lo:hi + 1], vel[i, lo:hi + 1] = tr.sample(tq)
    return pos, vel


@st.composite
def _trajectory(draw):
    k = draw(st.integers(1, 12))
    t0 = draw(st.floats(-20.0, 60.0))
    gaps = draw(st.lists(st.floats(0.01, 7.0), min_size=k - 1, max_size=k - 1))
    t = t0 + np.concatenate(([0.0], np.cumsum(gaps)))
    if k > 1 and np.any(np.diff(t) <= 0):
        t = t0 + np.arange(k, dtype=float)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    return Trajectory(t, rng.normal(0.0, 5e6, (k, 3)), rng.normal(0.0, 2e3, (k, 3)))


@settings(max_examples=80, deadline=None)
@given(st.lists(_trajectory(), min_size=1, max_size=8), st.sampled_from([0.5, 0.1, 1.0, 3.7]),
       st.one_of(st.none(), st.floats(-10.0, 30.0)), st.one_of(st.none(), st.floats(5.0, 80.0)))
def test_grid_matches_sampling_each_trajectory_exactly(trajs, dt_s, t0_s, t_end_s):
    if t0_s is not None and t_end_s is not None and t_end_s < t0_s:
        t_end_s = t0_s
    ts = TrajectorySet(trajs, dt_s=dt_s, t0_s=t0_s, t_end_s=t_end_s)
    pos, vel = _grid_numpy(ts)
    assert np.array_equal(ts.pos, pos, equal_nan=True) and np.array_equal(ts.vel, vel, equal_nan=True)


def test_empty_trajectory_set():
    ts = TrajectorySet([], dt_s=0.5)
    assert len(ts) == 0 and ts.pos.shape == (0, 2, 3)



@settings(max_examples=80, deadline=None)
@given(st.lists(_trajectory(), min_size=1, max_size=8), st.sampled_from([0.5, 0.1, 1.0, 3.7]),
       st.lists(st.floats(-30.0, 120.0), min_size=1, max_size=6), st.integers(0, 2**32 - 1))
def test_live_state_at_is_the_live_rows_of_state_at(trajs, dt_s, times, seed):
    """The scan's truth: flatnonzero(alive & (kill_s > t)) and those rows of state_at, to the last bit."""
    ts = TrajectorySet(trajs, dt_s=dt_s)
    rng = np.random.default_rng(seed)
    kill_s = np.where(rng.random(len(ts)) < 0.4, rng.uniform(-30.0, 120.0, len(ts)), np.inf)
    for t in times + ts.launch_s.tolist() + ts.impact_s.tolist() + kill_s[np.isfinite(kill_s)].tolist():
        pos, vel, alive = ts.state_at(t)
        want = np.flatnonzero(alive & (kill_s > t))
        idx, p, v = ts.live_state_at(t, kill_s)
        assert idx.dtype == np.int64 and np.array_equal(idx, want)
        assert p.shape == v.shape == (want.size, 3) and p.flags.c_contiguous and v.flags.c_contiguous
        assert np.array_equal(p, pos[want]) and np.array_equal(v, vel[want])  # bit for bit (no NaN: all live)

# ---------------------------------------------------------------------------- effectors

SPEC = InterceptorSpec("x", "lower", 1000.0, 1e3, 40e3, 0.0, 15e3, 3.0, {"drone": 0.7, "srbm": 0.4}, 1e5)


def _unit(index=0, launchers=2, per=4, magazine=12, reload=20.0):
    return FireUnit(index, f"b{index}", "lower", 0.4 + 0.01 * index, 2.1, 10.0 * index, SPEC, launchers, per,
                    magazine, reload, 500.0)


def _status_by_keyword(b: FireUnit, t_s: float) -> BatteryStatus:
    """The report as it was built: every field by name, ready rounds summed from the launchers."""
    b._advance(t_s)
    return BatteryStatus(index=b.index, name=b.name, layer=b.layer, lat_rad=b.lat_rad, lon_rad=b.lon_rad,
                         alt_m=b.alt_m, interceptor=b.spec, ready_rounds=int(b.loaded.sum()), stock_rounds=b.stock,
                         initial_rounds=b.magazine, ecef=b.ecef, time_s=float(t_s),
                         orders_received=frozenset(b.orders_received))


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 4), st.integers(1, 6), st.integers(0, 30),
       st.lists(st.tuples(st.floats(0, 30), st.integers(0, 6), st.booleans()), max_size=25))
def test_status_matches_the_keyword_report(launchers, per, magazine, steps):
    b = _unit(3, launchers, per, magazine, reload=10.0)
    t, eng = 0.0, 0
    for dt, shots, order in steps:
        t += dt
        if order:
            eng += 1
            b.orders_received.add(eng)
        got = b.status(t)
        want = _status_by_keyword(b, t)
        assert got == want and got.ecef is b.ecef and type(got.ready_rounds) is int
        assert b.ready_rounds(t) == int(b.loaded.sum())
        b.fire(t, shots)
        assert b.ready_rounds(t) == int(b.loaded.sum())


class _ScanningEffectors(Effectors):
    """uplink and resolve as they were: a scan over every interceptor in flight."""

    def uplink(self, updates):
        by_eng = {u.engagement_id: u for u in updates}
        for itc in self.flying:
            u = by_eng.get(itc.engagement_id)
            if u is not None:
                itc.aim_ecef = np.array(u.aim_ecef)

    def resolve(self, t_from_s, t_to_s, truth_pos, kill_s, threat_class):
        out = []
        due = sorted((i for i in self.flying if t_from_s < i.intercept_s <= t_to_s), key=lambda i: i.intercept_s)
        for itc in due:
            pos, live = truth_pos(itc.intercept_s)
            bat = self.batteries[itc.battery]
            row, killed, miss = -1, False, np.inf
            if live.any():
                d = np.linalg.norm(pos - itc.aim_ecef, axis=1)
                d[~live] = np.inf
                j = int(np.argmin(d))
                miss = float(d[j])
                if miss <= bat.homing_basket_m:
                    row = j
                    killed = bool(self.rng.random() < bat.spec.pk.get(threat_class[j], 0.0))
                    if killed:
                        kill_s[j] = itc.intercept_s
            itc.resolved = True
            out.append((itc, row, killed, miss))
        self.flying = [i for i in self.flying if not i.resolved]
        self.done.extend(i for i, *_ in out)
        return out


def _interceptor_state(itc):
    return (itc.interceptor_id, itc.engagement_id, itc.battery, itc.track_id, itc.launch_s, itc.intercept_s,
            tuple(itc.launch_ecef), tuple(itc.aim_ecef), itc.resolved)


_step = st.tuples(st.floats(0.1, 4.0),  # time to the next cycle
                  st.lists(st.tuples(st.integers(0, 2), st.integers(1, 3), st.floats(0.0, 12.0),
                                     st.integers(0, 5)), max_size=2),  # orders: battery, rounds, flight time, aim
                  st.lists(st.tuples(st.integers(1, 8), st.integers(0, 5)), max_size=4))  # updates: engagement, aim


@settings(max_examples=120, deadline=None)
@given(st.lists(_step, max_size=30), st.integers(0, 2**32 - 1))
def test_uplink_and_resolve_match_the_scanning_loops(steps, seed):
    """Same launches, aim updates, kills, misses and draws, cycle by cycle, as the scan over all in flight."""
    rng = np.random.default_rng(seed)
    pts = geodetic_to_ecef(rng.uniform(0.39, 0.43, 6), rng.uniform(2.09, 2.13, 6), rng.uniform(0, 5e3, 6))
    aims = pts + rng.normal(0.0, 300.0, (6, 3))
    live = rng.random(6) < 0.8
    cls = ["drone", "srbm", "drone", "cm", "srbm", "drone"]
    new, old = (kind([_unit(i, 2, 3, 40, 5.0) for i in range(3)], np.random.default_rng(seed))
                for kind in (Effectors, _ScanningEffectors))
    kill_new, kill_old = np.full(6, np.inf), np.full(6, np.inf)
    t, eng = 0.0, 0
    for dt, orders, updates in steps:
        t_next = t + dt
        fire = []
        for battery, rounds, flight, aim in orders:
            eng += 1
            fire.append(FireOrder(eng, battery, eng, rounds, t - 1.0 * (eng % 3), t + flight, tuple(aims[aim])))
        got = [_interceptor_state(i) for i in new.execute(t, fire)]
        assert got == [_interceptor_state(i) for i in old.execute(t, fire)]
        ups = [AimUpdate(e, tuple(pts[a] + 1.0)) for e, a in updates]
        new.uplink(ups)
        old.uplink(ups)
        resolved = [[(_interceptor_state(i), row, killed, miss) for i, row, killed, miss in
                     eff.resolve(t, t_next, lambda t_s, k=kill: (pts, live & ~(k < t_s)), kill, cls)]
                    for eff, kill in ((new, kill_new), (old, kill_old))]
        assert resolved[0] == resolved[1] and np.array_equal(kill_new, kill_old)
        assert [_interceptor_state(i) for i in new.flying] == [_interceptor_state(i) for i in old.flying]
        assert [_interceptor_state(i) for i in new.done] == [_interceptor_state(i) for i in old.done]
        t = t_next
