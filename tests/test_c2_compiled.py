"""The C2's compiled kernels give bit for bit what the numpy expressions they stand for give.

Threat evaluation (the whole stage, and its parts: great-circle projection,
footprint distances, the asset a path reaches first), the Hermite
interpolation of the predictions, shot windows and the local search's scan
of moves run as compiled loops; each test here holds one to the numpy form
it replaced, on random inputs (near the default scenario's geography), with
exact equality (NaN == NaN).  The local search's reuse of a descent it has
already run is held to the search that ran every one.
"""

import time
from types import SimpleNamespace

import numpy as np
import pytest

from tdome import dynamics, geo
from tdome.c2.assign import local
from tdome.c2.assign.base import Assignment, LossState, evaluate_engagements, finish
from tdome.c2.assign.greedy import Budget, greedy_engagements
from tdome.c2.assign.local import _NO_ASSET_TERMS, MOVES, _best_move
from tdome.c2.config import ThreatConfig
from tdome.c2.engage import plan_windows
from tdome.c2.threat import (
    ThreatPicture,
    _air_nodes,
    _first_asset_reached,
    ballistic_like,
    classify,
    evaluate_threats,
    footprint_distances,
    footprints,
)
from tdome.messages import BatteryStatus, DefendedAsset, InterceptorSpec
from test_assign import random_problem

rad = np.radians
ASSETS = [
    DefendedAsset("Taipei", "city", 100.0, rad(25.04), rad(121.545), 7000.0),
    DefendedAsset("Office", "government", 60.0, rad(25.04), rad(121.512), 300.0),
    DefendedAsset("Park", "industry", 90.0, rad(24.776), rad(121.012),
                  polygon_latlon_rad=tuple((rad(a), rad(b)) for a, b in
                                           [(24.790, 120.990), (24.792, 121.030), (24.765, 121.035),
                                            (24.760, 120.995)])),
    DefendedAsset("Base", "air_base", 40.0, rad(24.818), rad(120.939), 1500.0),
    DefendedAsset("Taichung", "city", 70.0, rad(24.15), rad(120.67), 7000.0),
    DefendedAsset("Kaohsiung", "city", 70.0, rad(22.627), rad(120.301), 5000.0),
]


def _air_nodes_numpy(pos, vel, node_t):
    """The great-circle projection as numpy expressions (the form the compiled kernel replaced)."""
    lat, lon, alt = geo.ecef_to_geodetic(pos)
    rot = geo.enu_rotation(lat, lon)
    v_enu = np.einsum("nij,nj->ni", rot, vel)
    gs = np.hypot(v_enu[:, 0], v_enu[:, 1])
    hdg = np.arctan2(v_enu[:, 0], v_enu[:, 1])
    dist = gs[:, None] * node_t[None, :]
    lat2, lon2 = geo.destination(lat[:, None], lon[:, None], hdg[:, None], dist)
    alt2 = np.broadcast_to(np.maximum(alt, 0.0)[:, None], lat2.shape)
    node_pos = geo.geodetic_to_ecef(lat2, lon2, alt2)
    brg = geo.initial_bearing_rad(lat2, lon2, *geo.destination(lat[:, None], lon[:, None], hdg[:, None], dist + 1.0))
    ve = gs[:, None] * np.sin(brg)
    vn = gs[:, None] * np.cos(brg)
    rot2 = geo.enu_rotation(lat2, lon2)
    node_vel = np.einsum("nkji,nkj->nki", rot2, np.stack([ve, vn, np.zeros_like(ve)], axis=-1))
    return node_pos, node_vel, lat2, lon2


def _first_asset_numpy(alat, alon, node_t, margin, reach, assets):
    """The asset each path reaches first and the time to reach it, as numpy expressions over every node."""
    m = alat.shape[0]
    vals = np.array([a.value for a in assets])
    first = np.full((m, len(assets)), np.inf)
    dist = []
    for j, a in enumerate(assets):
        d = a.distance_m(alat, alon)
        dist.append(d)
        near = d <= margin[:, None]
        any_near = near.any(axis=1)
        first[any_near, j] = node_t[np.argmax(near[any_near], axis=1)]
    j = np.argmin(first - 1e-6 * vals[None, :], axis=1)
    ok = np.isfinite(first[np.arange(m), j])
    dj = np.stack(dist, axis=1)[np.arange(m), j]
    hit = dj <= reach[:, None]
    arrive = np.where(hit.any(axis=1), node_t[np.argmax(hit, axis=1)], node_t[np.argmin(dj, axis=1)])
    return np.where(ok, j, -1), np.where(ok, arrive, np.inf)


def _air_tracks(n, seed):
    """Air-breathing states over the strait and the island: drones, cruise missiles, aircraft."""
    rng = np.random.default_rng(seed)
    lat, lon = rad(rng.uniform(22.3, 25.6, n)), rad(rng.uniform(119.3, 122.0, n))
    alt = np.concatenate([rng.uniform(-50.0, 12e3, n - 2), [0.0, -200.0]])
    pos = geo.geodetic_to_ecef(lat, lon, alt)
    speed, hdg, climb = rng.uniform(30.0, 320.0, n), rng.uniform(0.0, 2 * np.pi, n), rng.normal(0.0, 5.0, n)
    enu = np.stack([speed * np.sin(hdg), speed * np.cos(hdg), climb], axis=-1)
    enu[0, :2] = [0.0, 45.0]  # due north, no east component
    vel = np.einsum("nji,nj->ni", geo.enu_rotation(lat, lon), enu)
    return pos, vel


def test_great_circle_nodes_match_the_numpy_projection_exactly():
    pos, vel = _air_tracks(80, 1)
    node_t = 10.0 * np.arange(91)
    for got, want in zip(_air_nodes(pos, vel, node_t), _air_nodes_numpy(pos, vel, node_t)):
        assert np.array_equal(got, want)


def test_footprint_distances_match_distance_m_exactly():
    rng = np.random.default_rng(2)
    lat = rad(np.concatenate([rng.uniform(22.0, 26.0, 400), rng.uniform(24.755, 24.795, 200)]))
    lon = rad(np.concatenate([rng.uniform(119.0, 122.5, 400), rng.uniform(120.98, 121.04, 200)]))
    d = footprint_distances(lat, lon, footprints(ASSETS))
    want = np.stack([a.distance_m(lat, lon) for a in ASSETS], axis=1)
    assert np.array_equal(d, want)
    assert (d[:, 2] == 0).sum() > 20  # points inside the polygon are 0 away


@pytest.mark.parametrize("corridor_m", [3000.0, 15000.0])
def test_first_asset_reached_matches_every_node_tested(corridor_m):
    pos, vel = _air_tracks(120, 3)
    node_t = 10.0 * np.arange(91)
    _, _, alat, alon = _air_nodes(pos, vel, node_t)
    speed = np.linalg.norm(vel, axis=1)
    margin, reach = corridor_m + 0.5 * speed * 10.0, 0.5 * speed * 10.0
    fp = footprints(ASSETS)
    got = _first_asset_reached(alat, alon, node_t, margin, reach, fp.value, *fp.kernel_args)
    want = _first_asset_numpy(alat, alon, node_t, margin, reach, ASSETS)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    assert (got[0] >= 0).sum() > 10 and (got[0] < 0).sum() > 10


def _windows_numpy(threats, rows, batteries, now_s, step_s=1.0):
    """The shot windows as numpy expressions, battery by battery (the form the compiled kernel replaced)."""
    B, R = len(batteries), len(rows)
    feas, t_int = np.zeros((B, R), dtype=bool), np.full((B, R), np.inf)
    aim, latest = np.full((B, R, 3), np.nan), np.full((B, R), -np.inf)
    tgo = threats.time_to_go_s[rows]
    horizon = max(b.interceptor.reaction_s + b.interceptor.max_range_m / b.interceptor.speed_mps for b in batteries)
    horizon = min(horizon + step_s, threats.node_t[-1])
    rel = np.arange(step_s, max(horizon, step_s) + 1e-9, step_s)
    pos = threats.positions_at(rel, rows)
    alt = geo.height_m(pos)
    valid = np.isfinite(alt) & (rel[None, :] <= tgo[:, None])
    npos = threats.node_pos[rows]
    nalt = geo.height_m(npos)
    nvalid = np.isfinite(nalt) & (threats.node_t[None, :] <= tgo[:, None])
    for i, b in enumerate(batteries):
        spec = b.interceptor
        d = np.linalg.norm(pos - b.ecef, axis=-1)
        ok = valid & (d >= spec.min_range_m) & (d <= spec.max_range_m)
        ok &= (alt >= spec.min_alt_m) & (alt <= spec.max_alt_m)
        ok &= rel[None, :] - spec.reaction_s >= d / spec.speed_mps
        any_ok = ok.any(axis=1)
        k = np.argmax(ok, axis=1)
        feas[i] = any_ok
        t_int[i, any_ok] = now_s + rel[k[any_ok]]
        aim[i, any_ok] = pos[np.flatnonzero(any_ok), k[any_ok]]
        nd = np.linalg.norm(npos - b.ecef, axis=-1)
        nok = nvalid & (nd >= spec.min_range_m) & (nd <= spec.max_range_m)
        nok &= (nalt >= spec.min_alt_m) & (nalt <= spec.max_alt_m)
        launch = np.where(nok, now_s + threats.node_t[None, :] - spec.reaction_s - nd / spec.speed_mps, -np.inf)
        latest[i] = launch.max(axis=1)
    return feas, t_int, aim, latest


def test_shot_windows_match_the_numpy_search_exactly():
    pos, vel = _air_tracks(40, 4)
    rng = np.random.default_rng(4)
    # Half the tracks ballistic: fast, high, falling.
    pos[:20] = geo.geodetic_to_ecef(rad(rng.uniform(23.5, 25.5, 20)), rad(rng.uniform(119.5, 121.0, 20)),
                                    rng.uniform(20e3, 90e3, 20))
    vel[:20] = pos[:20] / np.linalg.norm(pos[:20], axis=1, keepdims=True) * -800.0 + rng.normal(0, 600.0, (20, 3))
    x = np.concatenate([pos, vel], axis=1)
    picture = SimpleNamespace(time_s=100.0, track_id=np.arange(1, 41), x=x, P=np.tile(np.eye(6), (40, 1, 1)),
                              ballistic=np.arange(40) < 20, n_hits=np.full(40, 10), kin_class=None)
    tp = evaluate_threats(picture, ASSETS, ThreatConfig(corridor_m=60e3))
    specs = [InterceptorSpec("upper", "upper", 2500.0, 20e3, 150e3, 40e3, 150e3, 8.0, {"ballistic": 0.9}, 3e6),
             InterceptorSpec("mid", "mid", 1700.0, 3e3, 70e3, 0.5e3, 35e3, 6.0, {"ballistic": 0.8}, 1e6),
             InterceptorSpec("short", "short", 700.0, 500.0, 8e3, 0.0, 5e3, 3.0, {"drone": 0.8}, 2e5)]
    batteries = [BatteryStatus(i, f"b{i}", s.layer, a.lat_rad, a.lon_rad, 0.0, s, 4, 8, 8)
                 for i, (s, a) in enumerate((s, a) for s in specs for a in ASSETS)]
    rows = np.arange(len(tp))
    w = plan_windows(tp, rows, batteries, 100.0)
    want = _windows_numpy(tp, rows, batteries, 100.0)
    for got, ref in zip((w.feasible_now, w.intercept_s, w.aim_ecef, w.latest_launch_s), want):
        assert got.dtype == ref.dtype and np.array_equal(got, ref, equal_nan=True)
    assert w.feasible_now.sum() > 10 and np.isfinite(w.latest_launch_s).sum() > w.feasible_now.sum()


def test_each_row_at_its_own_time_is_positions_at_one_by_one():
    pos, vel = _air_tracks(10, 5)
    x = np.concatenate([pos, vel], axis=1)
    picture = SimpleNamespace(time_s=0.0, track_id=np.arange(1, 11), x=x, P=np.tile(np.eye(6), (10, 1, 1)),
                              ballistic=np.zeros(10, dtype=bool), n_hits=np.full(10, 10), kin_class=None)
    tp = evaluate_threats(picture, ASSETS, ThreatConfig())
    rows = np.array([3, 0, 7, 7, 2])
    rel = np.array([12.5, 0.0, 899.0, 1000.0, 455.25])
    got = tp.position_each_at(rel, rows)
    want = np.stack([tp.positions_at(rel[i:i + 1], rows[i:i + 1])[0, 0] for i in range(rows.size)])
    assert np.array_equal(got, want, equal_nan=True) and np.isnan(got[3]).all()


def _best_move_numpy(p, f, state, budget, eb, et, tol):
    """The descent's scan of every move as numpy expressions (the form :func:`_best_move` replaced)."""
    B, T = p.shape
    s, low = p.salvo, ~p.high_value
    cost = p.cost[:, None] * s[None, :]
    S = state.S
    best = (-tol, None)
    E = eb.size
    if E:
        s_without = S[et] / f[eb, et]
        w = state.weight(et)
        d = w * (s_without - S[et]) - cost[eb, et]
        k = int(np.argmin(d))
        if d[k] < best[0]:
            best = (d[k], ("drop", k))
        cap_back = budget.cap[eb][:, None] + s[et][:, None]
        free_back = budget.free[eb][:, None] + (s[et] * low[et])[:, None]
        ok = (p.pk[eb] > 0) & (cap_back >= s[None, :]) & (budget.left[None, :] > 0)
        ok &= ~low[None, :] | (free_back >= s[None, :])
        ok &= et[:, None] != np.arange(T)[None, :]
        if ok.any():
            d = state.pair_delta(et[:, None], s_without[:, None], np.arange(T)[None, :], S[None, :] * f[eb])
            d = np.where(ok, d + cost[eb] - cost[eb, et][:, None], np.inf)
            k = int(np.argmin(d))
            if d.flat[k] < best[0]:
                best = (d.flat[k], ("retarget",) + divmod(k, T))
        ok = (p.pk[:, et].T > 0) & (budget.cap[None, :] >= s[et][:, None])
        ok &= ~low[et][:, None] | (budget.free[None, :] >= s[et][:, None])
        ok &= eb[:, None] != np.arange(B)[None, :]
        if ok.any():
            d = state.weight(et)[:, None] * s_without[:, None] * f[:, et].T - (w * S[et])[:, None]
            d = np.where(ok, d + cost[:, et].T - cost[eb, et][:, None], np.inf)
            k = int(np.argmin(d))
            if d.flat[k] < best[0]:
                best = (d.flat[k], ("rebattery",) + divmod(k, B))
        if E > 1:
            F = f[eb][:, et]
            s_e, low_s = s[et], s[et] * low[et]
            ok = (p.pk[eb][:, et] > 0) & (eb[:, None] != eb[None, :]) & (et[:, None] != et[None, :])
            ok &= ok.T
            ok &= budget.cap[eb][:, None] >= s_e[None, :] - s_e[:, None]
            ok &= budget.free[eb][:, None] >= low_s[None, :] - low_s[:, None]
            i, j = np.nonzero(np.triu(ok & ok.T, 1))
            if i.size:
                t1, t2 = et[i], et[j]
                n1 = S[t1] * F[j, i] / F[i, i]
                n2 = S[t2] * F[i, j] / F[j, j]
                C = cost[eb][:, et]
                d = state.pair_delta(t1, n1, t2, n2) + C[i, j] + C[j, i] - C[i, i] - C[j, j]
                k = int(np.argmin(d))
                if d[k] < best[0]:
                    best = (d[k], ("swap", int(i[k]), int(j[k])))
    g = state.weight() * S * (1.0 - f) - cost
    g = np.where(budget.feasible(), g, -np.inf)
    k = int(np.argmax(g))
    if -g.flat[k] < best[0]:
        best = (-g.flat[k], ("add",) + divmod(k, T))
    return best[1]


@pytest.mark.parametrize("objective", ["target", "asset"])
@pytest.mark.parametrize("rows_per_look", [None, 1])
def test_compiled_move_scan_picks_the_move_the_numpy_scan_picks(objective, rows_per_look, monkeypatch):
    """In one pass, and a row at a time with a look at the clock between rows (as under a deadline)."""
    deadline = np.inf
    if rows_per_look is not None:
        monkeypatch.setattr(local, "MOVE_SCAN_PAIRS", rows_per_look)
        deadline = time.perf_counter() + 3600.0
    rng = np.random.default_rng(7)
    kinds = set()
    for _ in range(400):
        p = random_problem(rng, int(rng.integers(1, 8)), int(rng.integers(1, 9)), objective)
        f = p.survival_factor()
        state, budget = LossState(p), Budget(p)
        eb, et = [], []
        for _ in range(int(rng.integers(0, 6))):  # a random feasible start, not a greedy one: moves then pay
            ok = np.argwhere(budget.feasible())
            if not len(ok):
                break
            b, t = (int(v) for v in ok[rng.integers(len(ok))])
            budget.commit(b, t)
            state.set(t, state.S[t] * f[b, t])
            eb.append(b)
            et.append(t)
        eb_a, et_a = np.array(eb, dtype=int), np.array(et, dtype=int)
        cost = p.cost[:, None] * p.salvo[None, :]
        tol = 1e-12 * max(p.loss(state.S) + float(np.sum(cost[eb_a, et_a])), np.finfo(float).tiny)
        joint = not state.target and state.asset_value.size > 0
        terms = (state.asset, state.asset_value, state.lethality, state.P) if joint else _NO_ASSET_TERMS
        scanned = _best_move(state.S, state.weight(), f, p.pk, cost, p.salvo, ~p.high_value, p.high_value,
                             budget.cap, budget.free, budget.left, eb_a, et_a, tol, joint, *terms, deadline=deadline)
        assert scanned is not None
        kind, i, j = scanned
        got = None if kind < 0 else (MOVES[kind], i) if MOVES[kind] == "drop" else (MOVES[kind], i, j)
        assert got == _best_move_numpy(p, f, state, budget, eb_a, et_a, tol)
        kinds.add(None if got is None else got[0])
    assert kinds >= {None, "drop", "retarget", "rebattery", "add"}


def test_track_kinematics_match_the_numpy_expressions_exactly():
    from tdome.c2.threat import track_kinematics

    pos, vel = _air_tracks(60, 6)
    vel[:20] *= 12.0  # some as fast as missiles
    x = np.concatenate([pos, vel], axis=1)
    alt, speed, climb = track_kinematics(x)
    up = x[:, :3] / np.linalg.norm(x[:, :3], axis=1, keepdims=True)
    assert np.array_equal(alt, geo.height_m(x[:, :3]))
    assert np.array_equal(speed, np.linalg.norm(x[:, 3:], axis=1))
    assert np.array_equal(climb, np.einsum("ij,ij->i", x[:, 3:], up))


def _evaluate_threats_numpy(picture, assets, cfg):
    """Threat evaluation as numpy around the kernels of its parts (the form the stage's kernels replaced)."""
    keep = picture.n_hits >= cfg.min_track_updates
    track_id, x, P = picture.track_id[keep], picture.x[keep], picture.P[keep]
    bal = picture.ballistic[keep] | ballistic_like(x, cfg, P)
    n = track_id.shape[0]
    h = cfg.node_step_s
    n_nodes = max(int(np.ceil(cfg.horizon_s / h)) + 1, 2)
    node_t = h * np.arange(n_nodes)
    node_pos, node_vel = np.full((n, n_nodes, 3), np.nan), np.full((n, n_nodes, 3), np.nan)
    impact, tgo, asset, value = np.full((n, 3), np.nan), np.full(n, np.inf), np.full(n, -1), np.zeros(n)
    kin = None if picture.kin_class is None else picture.kin_class[keep]
    cls, ambiguous = classify(x, bal, cfg, kin) if n else (np.zeros(0, dtype=int), np.zeros(0, dtype=bool))
    fp = footprints(assets)
    ib = np.flatnonzero(bal)
    if ib.size:
        bp, bv, bi, bt = dynamics.free_flight_to_ground(x[ib, :3], x[ib, 3:], n_nodes, h)
        node_pos[ib], node_vel[ib], impact[ib], tgo[ib] = bp, bv, bi, bt
        has_imp = np.isfinite(bt)
        if has_imp.any() and assets:
            rows = ib[has_imp]
            ilat, ilon, _ = geo.ecef_to_geodetic(impact[rows])
            t_go = tgo[rows][:, None, None]
            Pi = P[rows, :3, :3] + t_go * (P[rows, :3, 3:] + P[rows, 3:, :3]) + t_go**2 * P[rows, 3:, 3:]
            sl, cl, so, co = np.sin(ilat), np.cos(ilat), np.sin(ilon), np.cos(ilon)
            rot = np.zeros((sl.shape[0], 2, 3))
            rot[:, 0, 0], rot[:, 0, 1] = -so, co
            rot[:, 1, 0], rot[:, 1, 1], rot[:, 1, 2] = -sl * co, -sl * so, cl
            Ph = rot @ Pi @ np.swapaxes(rot, 1, 2)
            sd = np.sqrt(np.maximum(np.linalg.eigvalsh(Ph)[:, -1], 0.0))
            margin = cfg.corridor_m + np.minimum(cfg.impact_sigmas * sd, cfg.max_impact_margin_m)
            d = footprint_distances(ilat, ilon, fp)
            inside = d <= margin[:, None]
            j = np.argmax(np.where(inside, fp.value[None, :], -1.0), axis=1)
            hit = inside[np.arange(rows.size), j]
            asset[rows[hit]], value[rows[hit]] = j[hit], fp.value[j[hit]]
    ia = np.flatnonzero(~bal)
    if ia.size:
        ap, av, alat, alon = _air_nodes(x[ia, :3], x[ia, 3:], node_t)
        node_pos[ia], node_vel[ia] = ap, av
        if assets:
            speed = np.linalg.norm(x[ia, 3:], axis=1)
            j, arrive = _first_asset_reached(alat, alon, node_t, cfg.corridor_m + 0.5 * speed * h, 0.5 * speed * h,
                                             fp.value, *fp.kernel_args)
            ok = j >= 0
            asset[ia[ok]], value[ia[ok]] = j[ok], fp.value[j[ok]]
            tgo[ia[ok]] = np.maximum(arrive[ok], h)
    return ThreatPicture(float(picture.time_s), track_id, cls, node_t, node_pos, node_vel, impact, tgo, asset, value,
                         ambiguous)


def _random_picture(n_bal, n_air, seed, kin=True):
    """A picture of ballistic tracks coming down over the island and air-breathing tracks, some aimed at assets."""
    rng = np.random.default_rng(seed)
    pos, vel = _air_tracks(n_bal + n_air, seed)
    lat, lon = rad(rng.uniform(23.5, 25.5, n_bal)), rad(rng.uniform(120.0, 121.8, n_bal))
    pos[:n_bal] = geo.geodetic_to_ecef(lat, lon, rng.uniform(5e3, 90e3, n_bal))
    up = pos[:n_bal] / np.linalg.norm(pos[:n_bal], axis=1, keepdims=True)
    vel[:n_bal] = up * -rng.uniform(50.0, 2000.0, (n_bal, 1)) + rng.normal(0, 400.0, (n_bal, 3))
    vel[n_bal:n_bal + 3] *= 0.3  # slow: drones
    vel[n_bal + 3:n_bal + 6] *= 3.0  # too fast for anything air-breathing
    x = np.concatenate([pos, vel], axis=1)
    n = n_bal + n_air
    A = rng.normal(0.0, 1.0, (n, 6, 6)) * np.array([300.0] * 3 + [30.0] * 3)
    flagged = np.arange(n) < n_bal
    flagged[rng.integers(0, max(n_bal, 1), 3)] = False  # not yet flagged: ballistic only by their kinematics
    return SimpleNamespace(time_s=50.0, track_id=np.arange(1, n + 1), x=x, P=A @ np.swapaxes(A, 1, 2),
                           ballistic=flagged & (np.arange(n) < n_bal), n_hits=rng.integers(1, 8, n),
                           kin_class=rng.integers(0, 4, n).astype(np.int8) if kin else None)


def _same_threats(got, want):
    for f in ("time_s", "track_id", "cls", "node_t", "node_pos", "node_vel", "impact_ecef", "time_to_go_s", "asset",
              "value", "ambiguous"):
        a, b = np.asarray(getattr(got, f)), np.asarray(getattr(want, f))
        assert a.dtype == b.dtype and a.shape == b.shape, f
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), f


@pytest.mark.parametrize("corridor_m", [3000.0, 40e3])
@pytest.mark.parametrize("kin", [True, False])
def test_threat_evaluation_matches_the_numpy_stage_exactly(corridor_m, kin):
    cfg = ThreatConfig(corridor_m=corridor_m)
    endangered = 0
    for seed in range(6):
        pic = _random_picture(30, 50, 10 + seed, kin)
        got = evaluate_threats(pic, ASSETS, cfg)
        _same_threats(got, _evaluate_threats_numpy(pic, ASSETS, cfg))
        endangered += int((got.asset >= 0).sum())
        assert np.isfinite(got.impact_ecef).all(axis=1).sum() > 5
    assert endangered > 20


def test_threat_evaluation_matches_the_numpy_stage_without_assets_or_tracks():
    cfg = ThreatConfig()
    pic = _random_picture(10, 10, 3)
    _same_threats(evaluate_threats(pic, [], cfg), _evaluate_threats_numpy(pic, [], cfg))
    empty = _random_picture(5, 5, 4)
    empty.n_hits[:] = 0  # no track confirmed long enough
    _same_threats(evaluate_threats(empty, ASSETS, cfg), _evaluate_threats_numpy(empty, ASSETS, cfg))
    only_air = _random_picture(0, 12, 5)
    _same_threats(evaluate_threats(only_air, ASSETS, cfg), _evaluate_threats_numpy(only_air, ASSETS, cfg))


def _hermite_numpy(tp, rows, rel_t):
    """Cubic Hermite interpolation of rows at times rel_t (broadcast together), as numpy expressions."""
    h = tp.node_t[1] - tp.node_t[0]
    k = np.clip(np.floor(rel_t / h).astype(int), 0, len(tp.node_t) - 2)
    s = ((rel_t - tp.node_t[k]) / h)[..., None]
    p0, p1 = tp.node_pos[rows, k], tp.node_pos[rows, k + 1]
    v0, v1 = tp.node_vel[rows, k] * h, tp.node_vel[rows, k + 1] * h
    s2, s3 = s * s, s * s * s
    out = (2 * s3 - 3 * s2 + 1) * p0 + (s3 - 2 * s2 + s) * v0 + (-2 * s3 + 3 * s2) * p1 + (s3 - s2) * v1
    out[np.broadcast_to(rel_t > tp.node_t[-1], out.shape[:-1])] = np.nan
    return out


def test_hermite_interpolation_matches_the_numpy_form_exactly():
    tp = evaluate_threats(_random_picture(20, 20, 8), ASSETS, ThreatConfig())
    rng = np.random.default_rng(8)
    rel = np.concatenate([rng.uniform(-20.0, 950.0, 200), tp.node_t, [-1e-9, 0.0, 900.0, 900.0 + 1e-9, 1e6, np.inf,
                                                                       -np.inf]])
    rows = np.arange(len(tp))
    got = tp.positions_at(rel, rows)
    with np.errstate(invalid="ignore"):
        want = _hermite_numpy(tp, rows[:, None], rel[None, :])
    assert np.array_equal(got, want, equal_nan=True) and np.isnan(got).any() and np.isfinite(got).any()
    each_rows = rng.integers(0, len(tp), rel.size)
    with np.errstate(invalid="ignore"):
        want = _hermite_numpy(tp, each_rows, rel)
    assert np.array_equal(tp.position_each_at(rel, each_rows), want, equal_nan=True)


def _local_search_every_descent(problem, kicks=local.KICKS, seed=0):
    """The local search as it ran before it reused descents: every kick's descent run (no time limit)."""
    p = problem
    B, T = p.shape
    if B == 0 or T == 0:
        return Assignment()
    f = p.survival_factor()
    state, budget = LossState(p), Budget(p)
    battery, threat = [], []
    greedy_engagements(p, state, budget, f, battery, threat)
    if not battery:
        return finish(p, battery, threat)
    eb, et = local.improve(p, f, state, budget, np.array(battery, dtype=int), np.array(threat, dtype=int), np.inf)
    best = (evaluate_engagements(p, eb, et, f)[0], eb, et)
    rng = np.random.default_rng(seed)
    for _ in range(kicks if T > 1 else 0):
        if best[1].size == 0:
            break
        eb, et, budget = local._perturb(p, f, rng, best[1], best[2])
        eb, et = local.improve(p, f, local._state(p, f, eb, et), budget, eb, et, np.inf)
        loss = evaluate_engagements(p, eb, et, f)[0]
        if loss < best[0] - 1e-12 * max(1.0, abs(best[0])):
            best = (loss, eb, et)
    return finish(p, best[1], best[2])


@pytest.mark.parametrize("objective", ["target", "asset"])
def test_local_search_reusing_descents_finds_what_running_every_descent_finds(objective):
    rng = np.random.default_rng(11)
    for _ in range(150):
        p = random_problem(rng, int(rng.integers(1, 7)), int(rng.integers(1, 8)), objective)
        got, want = local.solve_local_search(p), _local_search_every_descent(p)
        assert got.battery.tolist() == want.battery.tolist() and got.threat.tolist() == want.threat.tolist()
        assert got.rounds.tolist() == want.rounds.tolist() and got.loss == want.loss and got.objective == want.objective


def _greedy_numpy(p):
    """The marginal-return greedy as numpy expressions over the whole gain matrix: the compiled one's reference."""
    f = p.survival_factor()
    state, budget = LossState(p), Budget(p)
    _B, T = p.shape
    cost = p.cost[:, None] * p.salvo[None, :]
    kill = 1.0 - f
    battery, threat = [], []
    gain = np.where(budget.feasible(), state.weight() * state.S * kill - cost, -np.inf)
    while gain.size:
        k = int(np.argmax(gain))
        b, t = divmod(k, T)
        if not gain[b, t] > 0.0:
            break
        battery.append(b)
        threat.append(t)
        state.set(t, state.S[t] * f[b, t])
        budget.commit(b, t)
        g = state.group_of(t)
        gain[:, g] = np.where(budget.feasible(cols=g), state.weight(g) * state.S[g] * kill[:, g] - cost[:, g], -np.inf)
        gain[b] = np.where(budget.feasible(rows=b), state.weight() * state.S * kill[b] - cost[b], -np.inf)
    return battery, threat


@pytest.mark.parametrize("objective", ["target", "asset"])
def test_compiled_greedy_commits_what_the_numpy_greedy_commits_in_its_order(objective):
    from tdome.c2.assign.instances import random_wta

    rng = np.random.default_rng(23)
    problems = [random_problem(rng, int(rng.integers(1, 9)), int(rng.integers(1, 10)), objective) for _ in range(400)]
    if objective == "target":
        problems += [random_wta(np.random.default_rng(s), 60, 80, family)
                     for s in range(3) for family in ("standard", "hard")]
    for p in problems:
        state, budget = LossState(p), Budget(p)
        battery, threat = [], []
        assert greedy_engagements(p, state, budget, p.survival_factor(), battery, threat)
        assert (battery, threat) == _greedy_numpy(p)


def _slot_graph_numpy(p, f, state, budget, eb, et, slot_t):
    """The reassignment's proposals as numpy expressions; and the argpartition selection it replaced."""
    E = eb.size
    S, w = state.S, state.weight()
    open_t = slot_t[E:]
    base = np.concatenate([S[et] / f[eb, et], S[open_t]])
    gain = (w[slot_t] * base)[None, :] * (f[eb][:, slot_t] - 1.0)
    ok = (p.pk[eb][:, slot_t] > 0) & (p.salvo[et][:, None] == p.salvo[slot_t][None, :])
    ok &= p.high_value[slot_t][None, :] | ~p.high_value[et][:, None] | (budget.free[eb] >= p.salvo[et])[:, None]
    ok[np.arange(E), np.arange(E)] = True
    gain[~ok] = np.inf
    kr, kc = min(local.LAP_CANDIDATES, slot_t.size), min(local.LAP_CANDIDATES, E)
    own = np.eye(E, slot_t.size, dtype=bool)
    row_cut = np.partition(gain, kr - 1, axis=1)[:, kr - 1]
    col_cut = np.partition(gain, kc - 1, axis=0)[kc - 1, :]
    offered = (np.isfinite(gain) & ((gain <= row_cut[:, None]) | (gain <= col_cut[None, :]))) | own
    picked = np.zeros(gain.shape, dtype=bool)
    picked[np.arange(E)[:, None], np.argpartition(gain, kr - 1, axis=1)[:, :kr]] = True
    picked[np.argpartition(gain, kc - 1, axis=0)[:kc, :], np.arange(slot_t.size)[None, :]] = True
    return offered, (picked & np.isfinite(gain)) | own, gain


@pytest.mark.parametrize("objective", ["target", "asset"])
def test_compiled_slot_graph_offers_each_rows_and_columns_least_gains(objective):
    """Every gain at most the row's or the column's k-th least, and the own slots: what argpartition picked, and
    where gains tie at the cut (threats of no weight under the asset objective), every tied one."""
    rng = np.random.default_rng(11)
    tied = 0
    for _ in range(80):
        p = random_problem(rng, int(rng.integers(2, 40)), int(rng.integers(2, 40)), objective)
        f = p.survival_factor()
        state, budget = LossState(p), Budget(p)
        battery, threat = [], []
        greedy_engagements(p, state, budget, f, battery, threat)
        if len(battery) < 2:
            continue
        eb, et = np.array(battery), np.array(threat)
        slot_t = np.concatenate([et, np.flatnonzero(budget.left > 0)])
        indptr, slots, gains = local._slot_graph(f, p.pk, p.salvo, p.high_value, budget.free, state.S, state.weight(),
                                                 eb, et, slot_t, min(local.LAP_CANDIDATES, slot_t.size),
                                                 min(local.LAP_CANDIDATES, eb.size))
        offered, picked, gain = _slot_graph_numpy(p, f, state, budget, eb, et, slot_t)
        got = np.zeros_like(offered)
        got[np.repeat(np.arange(eb.size), np.diff(indptr)), slots] = True
        assert np.array_equal(got, offered) and not (picked & ~got).any()
        assert np.array_equal(gains, gain[got])  # row by row, slots ascending: the order np.nonzero gives
        tied += int((got & ~picked).any())
    assert objective == "target" or tied  # the asset objective's ties were met


def test_move_scan_stops_at_its_deadline():
    p = random_problem(np.random.default_rng(5), 300, 300, "target")
    f = p.survival_factor()
    state, budget = LossState(p), Budget(p)
    battery, threat = [], []
    greedy_engagements(p, state, budget, f, battery, threat)
    eb, et = np.array(battery), np.array(threat)
    cost = p.cost[:, None] * p.salvo[None, :]
    args = (state.S, state.weight(), f, p.pk, cost, p.salvo, ~p.high_value, p.high_value, budget.cap, budget.free,
            budget.left, eb, et, 0.0, False, *_NO_ASSET_TERMS)
    assert _best_move(*args, deadline=time.perf_counter() - 1.0) is None
    assert _best_move(*args, deadline=time.perf_counter() + 3600.0) == _best_move(*args)
