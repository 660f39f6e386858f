"""The time loop's compiled pass over a scan's truth against the numpy form it replaces.

After each scan the engine takes the truth row of each plot, the first
detection times and the radar's detected-by row (:func:`_plot_truth`): a
handful of numpy calls on tiny arrays, written out below as the reference the
compiled loop must match exactly.  (The live rows and states before a scan,
:meth:`~tdome.world.trajectory.TrajectorySet.live_state_at`, are held to
``state_at`` in tests/test_world_speed.py.)
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tdome.sim.engine import _plot_truth, truth_of


def _numpy_plot_truth(src, idx, t_s, first_detect, detected):
    truth_rows = np.full(src.size, -1)
    truth_rows[src >= 0] = idx[src[src >= 0]]
    src_rows = truth_rows[truth_rows >= 0]
    new = src_rows[first_detect[src_rows] > t_s]
    first_detect[new] = t_s
    detected[src_rows] = True
    return truth_rows


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 40), plots=st.integers(0, 12))
def test_plot_truth_is_the_numpy_bookkeeping(seed, n, plots):
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(200, size=n, replace=False)).astype(np.int64)  # the live rows the radar was given
    src = np.where(rng.random(plots) < 0.3, -1, rng.integers(0, n, plots)).astype(np.int64)  # -1: false alarm
    t_s = float(rng.uniform(0.0, 100.0))
    first = np.where(rng.random(200) < 0.5, np.inf, rng.uniform(0.0, 200.0, 200))
    detected = np.zeros((3, 200), dtype=bool)
    detected[1] = rng.random(200) < 0.2
    first_want, detected_want = first.copy(), detected.copy()
    want = _numpy_plot_truth(src, idx, t_s, first_want, detected_want[1])
    got = _plot_truth(src, idx, t_s, first, detected[1])  # a row of RunRecord.detected_by, updated in place
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(first, first_want)
    np.testing.assert_array_equal(detected, detected_want)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.integers(-1, 5), max_size=30))
def test_truth_of_is_the_first_most_common(rows):
    counts: dict[int, int] = {}  # as the engine counts a track's plots: rows in the order first counted
    for r in rows:
        counts[r] = counts.get(r, 0) + 1
    want = Counter(rows).most_common(1)[0][0] if rows else -1
    for track_truth in ({7: Counter(rows)} if rows else {}, {7: counts} if rows else {}):
        assert truth_of(track_truth, 7) == want
        assert truth_of(track_truth, 8) == -1
