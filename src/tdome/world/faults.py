"""Equipment faults: when a radar or a launcher is down (truth: the simulator's side only).

An item is down at the start with probability ``down_at_start``; then it
alternates up and down periods drawn from exponential distributions of means
``mtbf_h`` (time between failures) and ``mttr_h`` (time to repair), over the
run.  Each item draws from its own random stream, so adding a fault to one
changes no other draw of the run.
"""

from __future__ import annotations

import numpy as np

HOUR_S = 3600.0


def down_windows(rng: np.random.Generator, down_at_start: float, mtbf_h: float | None, mttr_h: float,
                 duration_s: float) -> np.ndarray:
    """The intervals [start, end) in s, (k, 2), when the item is down during [0, duration_s]."""
    out = []
    t = 0.0
    down = bool(rng.random() < down_at_start)
    while t < duration_s:
        if down:
            end = t + rng.exponential(mttr_h * HOUR_S)
            out.append((t, end))
            t = end
        elif mtbf_h is None:
            break
        else:
            t += rng.exponential(mtbf_h * HOUR_S)
        down = not down
    return np.array(out, dtype=float).reshape(-1, 2)


def is_down(windows: np.ndarray, t_s: float) -> bool:
    """Whether ``t_s`` falls in one of the ``windows`` (k, 2)."""
    return bool(np.any((windows[:, 0] <= t_s) & (t_s < windows[:, 1])))


def down_seconds(windows: np.ndarray, t_end_s: float) -> float:
    """Time down before ``t_end_s``."""
    if not len(windows):
        return 0.0
    return float(np.sum(np.clip(np.minimum(windows[:, 1], t_end_s) - windows[:, 0], 0.0, None)))
