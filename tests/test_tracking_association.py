"""Gating and association (tdome.c2.tracking.gating, .association)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from tdome.c2.tracking import (
    gnn_assign,
)


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
