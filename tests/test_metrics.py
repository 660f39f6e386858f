"""GOSPA against exhaustive enumeration and its defining properties."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tdome.analysis.metrics import gospa, gospa_brute


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 5), st.integers(0, 5))
def test_gospa_matches_brute_force(seed, m, n):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 20e3, (m, 3))
    y = rng.uniform(0, 20e3, (n, 3))
    g = gospa(x, y, c=5000.0)
    assert np.isclose(g.total, gospa_brute(x, y, c=5000.0), rtol=1e-9, atol=1e-6)
    assert np.isclose(g.total**2, g.localisation + g.missed + g.false, rtol=1e-9)


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
