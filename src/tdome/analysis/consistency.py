"""Filter consistency: the normalised estimation error squared (NEES).

For an estimate x̂ with covariance P of a true state x, the error e = x̂ − x
and

    ε = eᵀ P⁻¹ e.

If the filter is consistent (e zero-mean Gaussian with covariance P), ε is
chi-square with d = dim(e) degrees of freedom, E[ε] = d.  The average of N
independent samples, ε̄ = (1/N) Σ ε_i, satisfies N·ε̄ ~ χ²(N·d), so the
two-sided acceptance region of probability 1 − α for ε̄ is

    [ χ²_{α/2}(N·d) / N ,  χ²_{1−α/2}(N·d) / N ]

(Bar-Shalom, Li & Kirubarajan, *Estimation with Applications to Tracking and
Navigation*, Wiley 2001, §5.4.2; their example N = 50, d = 2 gives
[1.5, 2.6]).  Above the band the filter is optimistic (P too small), below it
pessimistic.  With N = 1 the same formula gives the interval a single sample
falls in with probability 1 − α; the fraction of samples inside it, and the
median against the χ²(d) median, are robust to the few wild samples of a
diverged or misattributed track that dominate the mean.

The band assumes independent samples.  Samples of one track at successive
instants are correlated, which widens the true spread of ε̄, so over a
single run the band is a yardstick rather than a strict test: a mean far
outside it still means the covariance does not describe the error.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from tdome.c2.tracking.gaussian import chi2_quantile


def nees(e: np.ndarray, P: np.ndarray) -> np.ndarray:
    """ε_i = e_iᵀ P_i⁻¹ e_i for errors ``e`` (n, d) and covariances ``P`` (n, d, d).

    A row whose covariance cannot be inverted gets NaN.
    """
    e = np.asarray(e, dtype=float)
    P = np.asarray(P, dtype=float)
    if e.ndim != 2 or P.shape != e.shape + e.shape[-1:]:
        raise ValueError(f"nees: e must be (n, d) and P (n, d, d); got {e.shape} and {P.shape}")
    if e.shape[0] == 0:
        return np.zeros(0)
    try:
        w = np.linalg.solve(P, e[..., None])[..., 0]
    except np.linalg.LinAlgError:
        w = np.full_like(e, np.nan)
        for i in range(e.shape[0]):  # rare: find the singular rows one by one
            with contextlib.suppress(np.linalg.LinAlgError):  # a singular row keeps its NaN
                w[i] = np.linalg.solve(P[i], e[i])
    return np.einsum("ni,ni->n", e, w)


def nees_band(n: int, dof: int, level: float = 0.95) -> tuple[float, float]:
    """Two-sided ``level`` acceptance region of the mean of ``n`` independent NEES samples of ``dof``."""
    if n < 1 or dof < 1:
        raise ValueError(f"nees_band: need n >= 1 and dof >= 1, got n={n}, dof={dof}")
    a = (1.0 - level) / 2.0
    k = n * dof
    return chi2_quantile(a, k) / n, chi2_quantile(1.0 - a, k) / n


@dataclass(frozen=True)
class NeesSummary:
    mean: float  # NaN when there is no sample
    lower: float  # band on the mean (NaN when n = 0)
    upper: float
    dof: int
    n: int  # finite samples used
    level: float
    consistent: bool  # lower <= mean <= upper
    # Robust to a few wild samples (a diverged track), which dominate the mean:
    median: float  # χ²(dof) median when consistent (2.37 for 3 dof, 5.35 for 6)
    in_sample_band: float  # fraction of samples within the two-sided level interval of χ²(dof): ≈ level

    def as_dict(self) -> dict:
        none = lambda v: None if not np.isfinite(v) else float(v)  # noqa: E731
        return dict(mean=none(self.mean), band=[none(self.lower), none(self.upper)], dof=self.dof, n=self.n,
                    level=self.level, consistent=self.consistent, median=none(self.median),
                    consistent_median=chi2_quantile(0.5, self.dof), in_sample_band=none(self.in_sample_band),
                    verdict=verdict(self))


def nees_summary(values, dof: int, level: float = 0.95) -> NeesSummary:
    """Mean of the finite NEES ``values`` and its chi-square band (module docstring)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return NeesSummary(np.nan, np.nan, np.nan, int(dof), 0, level, False, np.nan, np.nan)
    lo, hi = nees_band(v.size, dof, level)
    s_lo, s_hi = nees_band(1, dof, level)
    m = float(v.mean())
    return NeesSummary(m, lo, hi, int(dof), int(v.size), level, bool(lo <= m <= hi), float(np.median(v)),
                       float(np.mean((v >= s_lo) & (v <= s_hi))))


def verdict(s: NeesSummary) -> str:
    """The NEES summary in words: whether the covariance describes the error, and which way it is off.

    The mean alone is misread when a few wild samples (a diverged or
    misattributed track) dominate it, so the share of samples inside the
    single-sample band decides between "a few tracks" and "the filter".
    """
    if s.n == 0:
        return "no samples"
    if s.consistent:
        return "consistent: the errors are the size the covariance says"
    if s.mean < s.lower:
        return "pessimistic: the errors are smaller than the covariance says"
    if s.in_sample_band >= s.level - 0.10:
        return (f"{s.in_sample_band:.0%} of samples consistent, but a few tracks' errors far exceed their "
                f"covariance and carry the mean (diverged or misattributed tracks)")
    if s.median < chi2_quantile(0.5, s.dof):
        return ("mixed: most errors are smaller than the covariance says and a few far larger "
                "(diverged or misattributed tracks)")
    return "overconfident: the errors are larger than the covariance says"
