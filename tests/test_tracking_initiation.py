"""Track initiation (tdome.c2.tracking.initiation)."""

from __future__ import annotations

import numpy as np

from tdome.c2.tracking import (
    two_point_init,
)


def test_two_point_init_either_order():
    rng = np.random.default_rng(1)
    p1, p2 = rng.normal(size=(1, 3)) * 1e3, rng.normal(size=(1, 3)) * 1e3
    C1, C2 = np.eye(3)[None] * 100.0, np.eye(3)[None] * 400.0
    x, P, t = two_point_init(p1, C1, [2.0], p2, C2, [7.0], 10.0)
    y, Q, u = two_point_init(p2, C2, [7.0], p1, C1, [2.0], 10.0)
    assert np.allclose(x, y) and np.allclose(P, Q) and t[0] == u[0] == 7.0
    assert np.allclose(x[0, 3:], (p2 - p1)[0] / 5.0)
    assert np.allclose(P[0, 3:, 3:], np.eye(3) * (500.0 / 25.0 + 10.0 * 5.0 / 3.0))
