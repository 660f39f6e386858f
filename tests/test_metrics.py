"""GOSPA against exhaustive enumeration and its defining properties."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from tdome.analysis.metrics import Gospa, distances, gospa, gospa_brute


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 5), st.integers(0, 5))
def test_gospa_matches_brute_force(seed, m, n):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 20e3, (m, 3))
    y = rng.uniform(0, 20e3, (n, 3))
    g = gospa(x, y, c=5000.0)
    assert np.isclose(g.total, gospa_brute(x, y, c=5000.0), rtol=1e-9, atol=1e-6)
    assert np.isclose(g.total**2, g.localisation + g.missed + g.false, rtol=1e-9)


def _numpy_gospa(truth, est, c=5000.0, p=2.0):
    """GOSPA as numpy calls: the form :func:`gospa` (with its compiled distances) must match to the last bit."""
    m, n = len(truth), len(est)
    half = c**p / 2.0
    if m == 0 or n == 0:
        return Gospa((half * (m + n)) ** (1 / p), 0.0, half * m, half * n, m, n)
    d = np.linalg.norm(truth[:, None, :] - est[None, :, :], axis=-1)
    r, k = linear_sum_assignment(np.minimum(d, c) ** p)
    good = d[r, k] < c
    loc = float(np.sum(d[r[good], k[good]] ** p))
    n_pairs = int(good.sum())
    return Gospa(float((loc + half * (m - n_pairs) + half * (n - n_pairs)) ** (1 / p)), loc, half * (m - n_pairs),
                 half * (n - n_pairs), m - n_pairs, n - n_pairs)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 40), st.integers(1, 40), st.integers(1, 9),
       st.sampled_from([1.0, 2.0, 3.0]))
def test_gospa_is_the_numpy_form_to_the_last_bit(seed, m, n, dim, p):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 30e3, (m, dim)) * rng.choice([1.0, 1e3], dim)
    y = np.concatenate([x, rng.uniform(0.0, 30e3, (n, dim))])[rng.permutation(m + n)[:n]]
    y = y + rng.normal(0.0, 300.0, y.shape) * (rng.random((n, 1)) < 0.7)  # some exactly on a truth
    if dim < 8:  # numpy sums eight or more squares pairwise; gospa then keeps numpy's norm
        np.testing.assert_array_equal(distances(x, y), np.linalg.norm(x[:, None, :] - y[None, :, :], axis=-1))
    assert gospa(x, y, c=5000.0, p=p) == _numpy_gospa(x, y, c=5000.0, p=p)


def test_gospa_known_values():
    c = 5000.0
    x = np.array([[0.0, 0.0, 0.0]])
    assert gospa(x, x, c).total == 0.0
    # One track 300 m off: pure localisation.
    assert np.isclose(gospa(x, x + [300.0, 0, 0], c).total, 300.0)
    # A truth with no track: c / 2^(1/p).
    assert np.isclose(gospa(x, np.zeros((0, 3)), c).total, c / np.sqrt(2))
    # A track beyond the cut-off counts as one miss and one false track.
    g = gospa(x, x + [9000.0, 0, 0], c)
    assert (g.n_missed, g.n_false) == (1, 1) and np.isclose(g.total, c)


# --------------------------------------------------------------------------- SIAP

import pytest  # noqa: E402
from scipy.stats import binom, chi2  # noqa: E402

from tdome.analysis.metrics import associate_nearest, association_errors, nees, nees_band, nees_summary, siap  # noqa: E402

# Steps t = 0..3 s; truths A = 0 and B = 1 alive throughout, C = 2 alive at t = 0, 1 and never tracked.
HAND_TRUTH = ([0, 0, 0, 1, 1, 1, 2, 2, 3, 3], [0, 1, 2, 0, 1, 2, 0, 1, 0, 1])
# (t, track, truth): at t = 0 tracks 1 and 2 both hold A (ambiguity) and 9 holds nothing (spurious);
# between t = 1 and t = 2 tracks 1 and 3 swap truths (an ID swap).
HAND_TRACKS = [(0, 1, 0), (0, 2, 0), (0, 9, -1), (1, 1, 0), (1, 3, 1), (2, 1, 1), (2, 3, 0), (3, 1, 1), (3, 3, 0)]


def _hand(pos_err=None):
    t, n, u = (np.array(c) for c in zip(*HAND_TRACKS))
    return siap(*HAND_TRUTH, t, n, u, pos_err=pos_err)


def test_siap_hand_computed_case():
    s = _hand()
    # J = 3, 3, 2, 2; JT = 1, 2, 2, 2 (C is never tracked).
    assert list(s.n_truths) == [3, 3, 2, 2] and list(s.n_truths_tracked) == [1, 2, 2, 2]
    assert np.isclose(s.completeness, 7 / 10)
    # NA = 2 at every step; 8 associated tracks over 7 tracked truth-steps.
    assert np.isclose(s.ambiguity, 8 / 7)
    # N = 3, 2, 2, 2: one spurious track row in nine.
    assert np.isclose(s.spuriousness, 1 / 9)
    # The swap: A goes from track 1 to track 3, B from 3 to 1: one track-number change each.
    assert s.track_changes == 2 and s.truths_tracked == 2 and s.track_changes_per_truth == 1.0
    # One same track on A over t = 0-1 and 2-3, on B over 2-3: 3 s tracked, 2 changes.
    assert np.isclose(s.track_change_rate_hz, 2 / 3)
    # Longest segments 1 s (A), 1 s (B), 0 (C) over lifetimes 3 + 3 + 1 s.
    assert np.isclose(s.longest_segment_fraction, 2 / 7)


def test_siap_accuracy_uses_associated_rows_only():
    err = np.array([[3.0, 4.0, 0.0], [0, 0, 1], [99, 99, 99], [6, 8, 0], [0, 0, 2], [0, 0, 0], [0, 0, 0], [0, 0, 0],
                    [0, 0, 0]])  # row 3 is the spurious track: ignored
    s = _hand(pos_err=err)
    d = np.array([5.0, 1, 10, 2, 0, 0, 0, 0])
    assert np.isclose(s.position_mean, d.mean()) and np.isclose(s.position_rms, np.sqrt(np.mean(d**2)))
    assert np.isnan(s.velocity_mean)


def test_siap_track_on_a_dead_truth_is_spurious_and_no_change_across_a_gap():
    # Truth 0 alive t = 0..4; track 5 holds it at 0, 1, loses it at 2, regains it at 3; at t = 4 the truth
    # is still alive but the only track names truth 1, which is not alive: spurious.
    tt, tu = [0, 1, 2, 3, 4], [0] * 5
    s = siap(tt, tu, [0, 1, 3, 4], [5, 5, 5, 6], [0, 0, 0, 1])
    assert s.track_changes == 0 and s.truths_tracked == 1
    assert np.isclose(s.completeness, 3 / 5) and np.isclose(s.spuriousness, 1 / 4) and s.ambiguity == 1.0
    assert np.isclose(s.longest_segment_fraction, 1 / 4)
    # Another track taking over after the gap is a change.
    assert siap(tt, tu, [0, 1, 3], [5, 5, 7], [0, 0, 0]).track_changes == 1


def test_siap_empty_and_bad_input():
    s = siap([], [], [], [], [])
    assert np.isnan(s.completeness) and np.isnan(s.spuriousness) and s.track_changes == 0
    assert s.as_dict()["completeness"] is None
    s = siap([0.0], [4], [], [], [])
    assert s.completeness == 0.0 and np.isnan(s.ambiguity)
    with pytest.raises(ValueError, match="track id appears twice"):
        siap([0.0], [4], [0.0, 0.0], [1, 1], [4, -1])
    with pytest.raises(ValueError, match="truth id appears twice"):
        siap([0.0, 0.0], [4, 4], [], [], [])


def _random_tables(seed):
    """Random truth and track tables: gaps in life, ambiguity, swaps, tracks on dead or unknown truths."""
    rng = np.random.default_rng(seed)
    K, U, V = rng.integers(1, 8), rng.integers(0, 5), rng.integers(0, 6)
    times = np.cumsum(rng.uniform(0.5, 3.0, K))
    alive = rng.random((K, U)) < 0.7
    present = rng.random((K, V)) < 0.6
    choice = rng.integers(-1, U + 1, (K, V))  # U: an id that is never alive
    keep = rng.random((K, V)) < 0.7  # tracks mostly keep their truth from one step to the next
    for k in range(1, K):
        choice[k, keep[k]] = choice[k - 1, keep[k]]
    kt, ut = np.nonzero(alive)
    kr, vr = np.nonzero(present)
    truth_ids = rng.permutation(100)[:U + 1]  # arbitrary, non-contiguous truth ids
    track_ids = rng.permutation(1000)[:V]
    c = choice[kr, vr]
    return (times[kt], truth_ids[ut], times[kr], track_ids[vr], np.where(c >= 0, truth_ids[np.maximum(c, 0)], -1),
            rng.normal(0, 100, (kr.size, 3)))


def _siap_brute(tt, tu, rt, rn, ru, pe):
    """SIAP by per-object loops, the track-number changes by dynamic programming over segmentations."""
    steps = sorted(set(tt) | set(rt))
    alive = {t: {u for ti, u in zip(tt, tu) if ti == t} for t in steps}
    held = {t: {n: (u if u in alive[t] else -1) for ti, n, u in zip(rt, rn, ru) if ti == t} for t in steps}
    J = sum(len(alive[t]) for t in steps)
    N = sum(len(held[t]) for t in steps)
    NA = sum(u >= 0 for t in steps for u in held[t].values())
    JT = sum(len({u for u in held[t].values() if u >= 0}) for t in steps)
    d = [np.linalg.norm(e) for t, n, u, e in zip(rt, rn, ru, pe) if u >= 0 and u in alive[t]]
    changes = n_tracked = 0
    tracked_time = tl_sum = life_sum = 0.0
    for u in set(tu):
        life = [t for t in steps if u in alive[t]]
        life_sum += life[-1] - life[0]
        on = [{n for n, v in held[t].items() if v == u} for t in steps]  # tracks on u at each step
        best = 0.0
        for n in set(rn):
            run_start = None
            for i, t in enumerate(steps):
                if n in on[i]:
                    run_start = t if run_start is None else run_start
                    best = max(best, t - run_start)
                else:
                    run_start = None
        tl_sum += best
        tracked_time += sum(steps[i + 1] - steps[i] for i in range(len(steps) - 1) if on[i] & on[i + 1])
        seq = [s for s in on if s]
        if not seq:
            continue
        n_tracked += 1
        cost = [0] + [np.inf] * len(seq)  # cost[i]: fewest segments covering seq[:i]
        for i in range(1, len(seq) + 1):
            for s in range(i):
                if set.intersection(*seq[s:i]):
                    cost[i] = min(cost[i], cost[s] + 1)
        changes += cost[-1] - 1
    ratio = lambda a, b: a / b if b else np.nan  # noqa: E731
    return dict(completeness=ratio(JT, J), ambiguity=ratio(NA, JT), spuriousness=ratio(N - NA, N),
                position_mean=np.mean(d) if d else np.nan, position_rms=np.sqrt(np.mean(np.square(d))) if d else np.nan,
                track_changes=changes, truths_tracked=n_tracked, track_change_rate_hz=ratio(changes, tracked_time),
                longest_segment_fraction=ratio(tl_sum, life_sum))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_siap_matches_brute_force(seed):
    tables = _random_tables(seed)
    s = siap(*tables[:5], pos_err=tables[5])
    for key, want in _siap_brute(*tables).items():
        got = getattr(s, key)
        assert (np.isnan(got) and np.isnan(want)) or np.isclose(got, want, rtol=1e-12), (key, got, want)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_siap_properties_and_row_order_invariance(seed):
    tt, tu, rt, rn, ru, pe = _random_tables(seed)
    s = siap(tt, tu, rt, rn, ru, pos_err=pe)
    for v in (s.completeness, s.spuriousness, s.longest_segment_fraction):
        assert np.isnan(v) or 0.0 <= v <= 1.0
    assert np.isnan(s.ambiguity) or s.ambiguity >= 1.0
    assert np.isnan(s.ambiguity) == (s.n_truths_tracked.sum() == 0)
    assert s.track_changes >= 0 and s.truths_tracked <= len(set(tu.tolist()))
    rng = np.random.default_rng(seed + 1)
    p, q = rng.permutation(tt.size), rng.permutation(rt.size)
    s2 = siap(tt[p], tu[p], rt[q], rn[q], ru[q], pos_err=pe[q])
    assert s2.as_dict().keys() == s.as_dict().keys()
    for k, v in s.as_dict().items():
        w = s2.as_dict()[k]
        assert (v is None and w is None) or np.isclose(v, w, rtol=1e-12), k


def test_associate_nearest_and_errors():
    truth_t = np.array([0.0, 0.0, 1.0])
    truth_id = np.array([7, 8, 7])
    truth_x = np.array([[0.0, 0, 0], [1000, 0, 0], [50, 0, 0]])
    track_t = np.array([0.0, 0.0, 0.0, 1.0, 2.0])
    track_x = np.array([[10.0, 0, 0], [900, 0, 0], [500, 3000, 0], [60, 0, 0], [0, 0, 0]])
    a = associate_nearest(track_t, track_x, truth_t, truth_id, truth_x, max_distance=200.0)
    # The third track is beyond 200 m of both; nothing is alive at t = 2.
    assert a.tolist() == [7, 8, -1, 7, -1]
    e = association_errors(track_t, a, track_x, truth_t, truth_id, truth_x)
    assert np.allclose(e[[0, 1, 3]], [[10, 0, 0], [-100, 0, 0], [10, 0, 0]]) and np.isnan(e[[2, 4]]).all()
    s = siap(truth_t, truth_id, track_t, np.arange(5), a, pos_err=e)
    assert np.isclose(s.completeness, 1.0) and np.isclose(s.spuriousness, 2 / 5)
    assert np.isclose(s.position_mean, 40.0)


# --------------------------------------------------------------------------- NEES


def _random_cov(rng, n, d):
    A = rng.normal(size=(n, d, d))
    return A @ np.swapaxes(A, 1, 2) + 0.1 * np.eye(d)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 6))
def test_nees_is_the_whitened_squared_norm(seed, d):
    rng = np.random.default_rng(seed)
    P = _random_cov(rng, 20, d) * 10.0 ** rng.uniform(-3, 6)
    z = rng.normal(size=(20, d))
    e = np.einsum("nij,nj->ni", np.linalg.cholesky(P), z)  # e = L z, so eᵀP⁻¹e = zᵀz
    assert np.allclose(nees(e, P), np.sum(z**2, axis=1), rtol=1e-6)
    assert np.allclose(nees(e, P), [x @ np.linalg.inv(p) @ x for x, p in zip(e, P)], rtol=1e-6)


def test_nees_band_textbook_value_and_singular_rows():
    # Bar-Shalom, Li & Kirubarajan (2001) §5.4.2: 50 runs of a 2-state filter, 95 % region [1.5, 2.6].
    lo, hi = nees_band(50, 2)
    assert (round(lo, 1), round(hi, 1)) == (1.5, 2.6)
    P = np.stack([np.eye(2), np.zeros((2, 2))])
    v = nees(np.ones((2, 2)), P)
    assert v[0] == 2.0 and np.isnan(v[1])


@pytest.mark.parametrize("dof", [3, 6])
def test_nees_of_consistent_samples_stays_in_the_band(dof):
    # 400 independent batches of 50 samples e ~ N(0, P): each batch mean falls in its 95 % band with
    # probability 0.95, so the count inside is Binomial(400, 0.95); accept its central 99.9 %.
    rng = np.random.default_rng(dof)
    M, N = 400, 50
    P = _random_cov(rng, M * N, dof)
    e = np.einsum("nij,nj->ni", np.linalg.cholesky(P), rng.normal(size=(M * N, dof)))
    v = nees(e, P).reshape(M, N)
    inside = sum(nees_summary(row, dof).consistent for row in v)
    assert binom.ppf(0.0005, M, 0.95) <= inside <= binom.ppf(0.9995, M, 0.95)
    s = nees_summary(v.ravel(), dof)
    assert s.consistent and s.n == M * N
    assert abs(s.median - chi2.median(dof)) < 0.1 * dof
    assert abs(s.in_sample_band - 0.95) < 0.01
    # A filter reporting half the true covariance is optimistic: NEES doubles, far above the band.
    bad = nees_summary(nees(e, P / 2), dof)
    assert not bad.consistent and bad.mean > bad.upper
    # Nothing to average: undefined, not consistent.
    assert not nees_summary([np.nan], dof).consistent and nees_summary([], dof).n == 0


def test_nees_verdict_names_which_way_the_filter_is_off():
    from tdome.analysis.consistency import nees_summary, verdict

    rng = np.random.default_rng(4)
    e = rng.standard_normal((4000, 3))
    eps = np.sum(e**2, axis=1)  # chi-square, 3 dof: a consistent filter
    assert verdict(nees_summary(eps, 3)).startswith("consistent")
    assert verdict(nees_summary(eps / 4, 3)).startswith("pessimistic")
    assert verdict(nees_summary(eps * 4, 3)).startswith("overconfident")
    wild = eps.copy()
    wild[:40] = 1e5  # 1 % of samples from diverged tracks carry the mean
    assert "a few tracks" in verdict(nees_summary(wild, 3))
    mixed = eps / 4
    mixed[:400] = 1e5
    assert verdict(nees_summary(mixed, 3)).startswith("mixed")
    assert verdict(nees_summary([], 3)) == "no samples"
