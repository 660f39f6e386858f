"""Gating and association (tdome.c2.tracking.gating, .association)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from tdome.c2.tracking import (
    gnn_assign,
)
from tdome.c2.tracking.association import gnn_confirmed_first


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 6), m=st.integers(1, 6), density=st.floats(0.1, 1.0))
def test_gnn_is_max_cardinality_then_min_cost(seed, n, m, density):
    rng = np.random.default_rng(seed)
    feas = rng.random((n, m)) < density
    cost = rng.uniform(-5, 20, (n, m))
    ti, pj = np.nonzero(feas)
    sel = gnn_assign(ti, pj, cost[ti, pj], n, m)
    mt, mp = ti[sel], pj[sel]
    assert len(set(mt)) == len(mt) and len(set(mp)) == len(mp)
    # Brute-force reference: Hungarian with a dominating infeasible cost.
    big = 1e6
    C = np.where(feas, cost, big)
    r, c = linear_sum_assignment(C)
    ok = feas[r, c]
    assert len(mt) == ok.sum()
    assert np.isclose(cost[mt, mp].sum(), C[r[ok], c[ok]].sum())


def _brute_force_gnn(ti, pj, cost):
    """Every matching of the pairs: the largest size, then the least cost (size, cost)."""
    best = (0, 0.0)
    for mask in range(1, 1 << ti.size):
        chosen = [p for p in range(ti.size) if mask >> p & 1]
        if len({ti[p] for p in chosen}) < len(chosen) or len({pj[p] for p in chosen}) < len(chosen):
            continue
        c = float(sum(cost[p] for p in chosen))
        if len(chosen) > best[0] or (len(chosen) == best[0] and c < best[1]):
            best = (len(chosen), c)
    return best


@settings(max_examples=120, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 4), m=st.integers(1, 4), density=st.floats(0.2, 1.0))
def test_gnn_equals_brute_force(seed, n, m, density):
    """Against every matching of the gated pairs: as many pairs as any, and the least cost among those."""
    rng = np.random.default_rng(seed)
    ti, pj = np.nonzero(rng.random((n, m)) < density)
    cost = rng.uniform(-8, 12, ti.size)
    sel = gnn_assign(ti, pj, cost, n, m)
    assert np.all(np.diff(sel) > 0)
    size, best = _brute_force_gnn(ti, pj, cost)
    assert sel.size == size
    assert np.isclose(cost[sel].sum(), best, rtol=0, atol=1e-9)


@settings(max_examples=120, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 4), m=st.integers(1, 4), density=st.floats(0.2, 1.0))
def test_confirmed_tracks_choose_first(seed, n, m, density):
    """Against brute force: the firm (confirmed) tracks' pairs alone give a largest, then cheapest matching, and
    the other tracks' pairs, on the plots those leave, a largest, then cheapest matching of their own."""
    rng = np.random.default_rng(seed)
    ti, pj = np.nonzero(rng.random((n, m)) < density)
    cost = rng.uniform(-8, 12, ti.size)
    firm_track = rng.random(n) < 0.5
    firm = firm_track[ti]
    sel = gnn_confirmed_first(ti, pj, cost, firm, n, m)
    assert np.all(np.diff(sel) > 0)
    mt, mp = ti[sel], pj[sel]
    assert len(set(mt.tolist())) == len(mt) and len(set(mp.tolist())) == len(mp)
    a = np.flatnonzero(firm)
    chosen_a = sel[firm[sel]]
    size, best = _brute_force_gnn(ti[a], pj[a], cost[a])
    assert chosen_a.size == size and np.isclose(cost[chosen_a].sum(), best, rtol=0, atol=1e-9)
    taken = set(pj[chosen_a].tolist())
    b = np.array([p for p in range(ti.size) if not firm[p] and pj[p] not in taken], dtype=int)
    chosen_b = sel[~firm[sel]]
    size, best = _brute_force_gnn(ti[b], pj[b], cost[b]) if b.size else (0, 0.0)
    assert chosen_b.size == size and np.isclose(cost[chosen_b].sum(), best, rtol=0, atol=1e-9)


def test_a_new_track_on_a_missed_plot_does_not_take_the_target_from_its_track():
    """The case found against Stone Soup: a confirmed track that missed a scan is further from the target's
    plot (d² 12, ln|S| 28.7: cost 40.7) than the one-plot track started on the missed plot (d² 0.3, ln|S| 32.1:
    cost 32.4); one joint assignment would give the plot to the new track, the confirmed track keeps it."""
    ti, pj = np.array([0, 1]), np.array([0, 0])
    cost = np.array([12.0 + 28.7, 0.3 + 32.1])
    assert gnn_assign(ti, pj, cost, 2, 1).tolist() == [1]
    assert gnn_confirmed_first(ti, pj, cost, np.array([True, False]), 2, 1).tolist() == [0]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(5, 60), m=st.integers(5, 60))
def test_gnn_picks_the_pairs_scipy_picks_on_clustered_scans(seed, n, m):
    """Tracks and plots in clusters (many contested pairs): the same pairs as a dense Hungarian solve."""
    rng = np.random.default_rng(seed)
    tp, pp = rng.uniform(0, 10, (n, 2)), rng.uniform(0, 10, (m, 2))
    d2 = ((tp[:, None] - pp[None]) ** 2).sum(-1)
    ti, pj = np.nonzero(d2 < 4.0)
    cost = d2[ti, pj] + rng.normal(0, 1, ti.size)
    sel = gnn_assign(ti, pj, cost, n, m)
    C = np.full((n, m), 1e4)  # dominates any difference of feasible totals (< 60 pairs × 16)
    C[ti, pj] = cost
    r, c = linear_sum_assignment(C)
    ok = C[r, c] < 1e4
    assert sorted(zip(ti[sel].tolist(), pj[sel].tolist())) == sorted(zip(r[ok].tolist(), c[ok].tolist()))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from([5, 40, 301, 700]), st.integers(1, 300))
def test_candidate_pairs_equal_brute_force(seed, n, m):
    """Both search paths (one ball query per track; dual tree for many tracks) find exactly the pairs in range."""
    from tdome.c2.tracking import candidate_pairs

    rng = np.random.default_rng(seed)
    tp = rng.uniform(0, 50e3, (n, 3))
    pp = rng.uniform(0, 50e3, (m, 3))
    radius = np.exp(rng.uniform(np.log(200.0), np.log(8e3), n))
    ti, pj = candidate_pairs(tp, radius, pp)
    d = np.linalg.norm(tp[:, None] - pp[None], axis=-1)
    bt, bp = np.nonzero(d <= radius[:, None])
    assert sorted(zip(ti.tolist(), pj.tolist())) == sorted(zip(bt.tolist(), bp.tolist()))
    assert np.all(np.diff(ti) >= 0)
