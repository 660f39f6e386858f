"""Confidence intervals and distribution summaries for Monte Carlo outcomes.

The interval on a mean is Student's t interval (e.g. Montgomery & Runger,
*Applied Statistics and Probability for Engineers*, §8.2)::

    x̄ ± t(1 − α/2, n − 1) · s / √n,      s² = Σ (x_i − x̄)² / (n − 1)

It assumes independent replications (each run has its own seed) and leans on
the central limit theorem for non-normal outcomes such as leaker counts; with
a few tens of runs it is the standard choice of simulation studies.  Missing
values (NaN: a measure undefined in a run, or a run that failed) are left out
and ``n`` says how many remain.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import stdtrit


@dataclass(frozen=True)
class MeanCI:
    n: int
    mean: float
    ci_low: float
    ci_high: float
    half_width: float
    std: float
    p5: float
    p50: float
    p95: float

    def as_dict(self) -> dict:
        return asdict(self)


def mean_ci(values, level: float = 0.95) -> MeanCI:
    """Mean, ``level`` t-interval and percentiles of the finite ``values``."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    nan = float("nan")
    if n == 0:
        return MeanCI(0, nan, nan, nan, nan, nan, nan, nan, nan)
    mean = float(x.mean())
    p5, p50, p95 = (float(v) for v in np.percentile(x, [5, 50, 95]))
    if n == 1:
        return MeanCI(1, mean, nan, nan, nan, nan, p5, p50, p95)
    std = float(x.std(ddof=1))
    half = float(stdtrit(n - 1, 0.5 + level / 2.0) * std / np.sqrt(n))  # Student's t quantile, as t.ppf
    return MeanCI(n, mean, mean - half, mean + half, half, std, p5, p50, p95)
