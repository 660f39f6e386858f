"""Track confirmation and deletion: the track score (sequential probability ratio test) and M-of-N.

Interface (the equations; :mod:`tdome.c2.tracking.initiation` runs them on the track table)::

    initial_score(new_target_density, false_alarm_density)              -> L₁
    score_step(score, peak, confirmed, hit, log_lik, pd, λ, config, ...) -> ScoreStep(score, peak, confirm, delete)
    pda_score_increment(track, log_lik, n, pd, λ, P_G, plot)             -> ΔL of tracks weighing all their plots
    m_of_n_step(n_hits, n_opportunities, confirmed, hit, config)         -> (hits, opportunities, confirm, delete)

Track score (Blackman & Popoli, *Design and Analysis of Modern Tracking
Systems*, 1999, §6.2; Wald, *Sequential Analysis*, 1947)
-----------------------------------------------------------------------
The score ``L`` of a track is the log of the odds "true target" (H1) against
"false alarms" (H0).  A track starts from one plot with the prior odds of the
two spatial densities (per scan, measurement-space units)::

    L₁ = ln(β_NT / β_FA)

with ``β_NT`` the density of new-target plots (new targets × their ``P_D``)
and ``β_FA`` the false-alarm density.  At each later opportunity (a scan
whose coverage holds the track) it grows by the log-likelihood ratio of what
was seen in the gate::

    hit  (plot with innovation ν, covariance S):   ΔL = ln(P_D N(ν; 0, S) / λ_FA)
    miss (no plot in the gate):                     ΔL = ln(1 - P_D P_G)

(``P_G`` the gate probability: under H1 the plot lands in the gate with
``P_D P_G`` and has density ``N/P_G`` there, under H0 density ``λ_FA``).

Wald's SPRT with the false-track confirmation probability ``α`` and the
true-track deletion probability ``β`` gives the thresholds::

    confirm at  L ≥ T_C = ln((1 - β) / α),       delete at  L ≤ T_D = ln(β / (1 - α))

A confirmed track leaves the test; it is deleted when its score has dropped
``score_drop`` below its peak (Blackman & Popoli §6.2.3, score-drop deletion),
by default ``ln((1 - α)/β) = -T_D``, the same evidence against it as for a
tentative track.

What the thresholds guarantee.  With the hit increment of the
highest-likelihood plot in the gate and Poisson clutter of density
``λ_FA``, ``exp(L - L₁)`` is a super-martingale under H0
(``V`` the gate volume: with no plot in the gate, probability ``e^{-λV}``,
``e^ΔL = 1 - P_D P_G``; otherwise ``e^ΔL ≤ Σ_j P_D N(ν_j)/λ_FA`` over the
gate's plots, whose mean is ``P_D P_G``; so ``E[e^ΔL | H0] ≤ (1 - P_D P_G)
e^{-λV} + P_D P_G ≤ 1``), so by Ville's inequality a false track is confirmed
with probability at most ``e^{L₁}/e^{T_C} = (β_NT/β_FA) α/(1 - β)``, i.e.
at most ``α`` whenever ``β_NT/β_FA ≤ 1 - β``.  Overshoot of the threshold
makes the real rate lower still.

M-of-N (:func:`m_of_n_step`) is the classical alternative: confirm with
``M`` hits within the first ``N`` opportunities, delete when that has become
impossible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TrackScoreConfig:
    """SPRT parameters of the track score."""

    false_confirm_prob: float = 1e-4  # α: probability that a false track is confirmed
    true_delete_prob: float = 0.01  # β: probability that a true track is deleted before confirmation
    gate_probability: float = 0.9999  # P_G of the association gate
    score_drop: float | None = None  # delete a confirmed track this far below its peak (None: ln((1-α)/β))

    def __post_init__(self):
        a, b = self.false_confirm_prob, self.true_delete_prob
        if not (0.0 < a < 1.0 and 0.0 < b < 1.0 and a + b < 1.0):
            raise ValueError(f"need 0 < α, β and α + β < 1, got α={a}, β={b}")
        if not 0.0 < self.gate_probability <= 1.0:
            raise ValueError(f"gate_probability must be in (0, 1], got {self.gate_probability}")
        if self.score_drop is not None and self.score_drop <= 0.0:
            raise ValueError(f"score_drop must be positive, got {self.score_drop}")

    @property
    def confirm_threshold(self) -> float:
        """``T_C = ln((1 - β) / α)``."""
        return float(np.log((1.0 - self.true_delete_prob) / self.false_confirm_prob))

    @property
    def delete_threshold(self) -> float:
        """``T_D = ln(β / (1 - α))``."""
        return float(np.log(self.true_delete_prob / (1.0 - self.false_confirm_prob)))

    @property
    def drop_threshold(self) -> float:
        """Score drop below the peak that deletes a confirmed track."""
        return -self.delete_threshold if self.score_drop is None else float(self.score_drop)


def initial_score(new_target_density, false_alarm_density) -> np.ndarray:
    """``L₁ = ln(β_NT / β_FA)`` for tracks started on one plot (arrays broadcast)."""
    return np.log(np.asarray(new_target_density, dtype=float)) - np.log(np.asarray(false_alarm_density, dtype=float))


def score_increment(hit, log_lik, pd, false_alarm_density, gate_probability: float) -> np.ndarray:
    """Per-track ``ΔL``: ``ln(P_D N(ν;0,S)/λ_FA)`` where ``hit``, else ``ln(1 - P_D P_G)``.

    ``hit`` (n,) bool; ``log_lik`` (n,) ``ln N(ν; 0, S)`` of the plot the
    track took (ignored where ``hit`` is False); ``pd``, ``false_alarm_density`` scalars or (n,).
    """
    hit = np.asarray(hit, dtype=bool)
    pd = np.broadcast_to(np.asarray(pd, dtype=float), hit.shape)
    lam = np.broadcast_to(np.asarray(false_alarm_density, dtype=float), hit.shape)
    ll = np.where(hit, np.asarray(log_lik, dtype=float), 0.0)
    with np.errstate(divide="ignore"):
        d_hit = np.log(np.where(hit, pd, 1.0)) + ll - np.log(np.where(hit, lam, 1.0))
        d_miss = np.log(1.0 - pd * gate_probability)
    return np.where(hit, d_hit, d_miss)


def pda_score_increment(track, log_lik, n_tracks: int, pd, false_alarm_density, gate_probability: float,
                        plot=None) -> np.ndarray:
    """``ΔL`` of a track that weighs all the plots in its gate instead of taking one (PDA/IPDA form).

    ``ΔL_i = ln(1 - P_D P_G + Σ_j P_D N(ν_ij; 0, S_ij) / λ_j)``: the exact
    likelihood ratio of the gate contents under "target present" against
    "clutter only" (Poisson clutter).  ``track`` (p,) pairs' track rows,
    ``log_lik`` (p,); ``pd`` scalar or (n_tracks,); ``false_alarm_density``
    scalar, or (m,) per plot with ``plot`` (p,) given.
    """
    track = np.asarray(track, dtype=np.intp)
    pd = np.broadcast_to(np.asarray(pd, dtype=float), (n_tracks,))
    lam = np.asarray(false_alarm_density, dtype=float)
    lam_p = lam if lam.ndim == 0 else lam[np.asarray(plot, dtype=np.intp)]
    log_miss = np.log(np.maximum(1.0 - pd * gate_probability, np.finfo(float).tiny))
    v = np.log(pd[track]) + np.asarray(log_lik, dtype=float) - np.log(lam_p)
    M = log_miss.copy()
    np.maximum.at(M, track, v)
    tot = np.exp(log_miss - M) + np.bincount(track, np.exp(v - M[track]), n_tracks)
    return M + np.log(tot)


@dataclass
class ScoreStep:
    """Result of :func:`score_step` (all (n,))."""

    score: np.ndarray
    peak: np.ndarray  # running maximum of the score
    confirm: np.ndarray  # tentative tracks confirmed by this step
    delete: np.ndarray  # tracks to delete


def score_step(score, peak, confirmed, hit, log_lik, pd, false_alarm_density, config: TrackScoreConfig,
               opportunity=None, increment=None) -> ScoreStep:
    """One scan of the score test for a batch of tracks.

    ``score``, ``peak`` (n,) the scores and their running maxima so far;
    ``confirmed`` (n,) bool; ``hit`` (n,) bool and ``log_lik`` (n,) as in
    :func:`score_increment`; ``opportunity`` (n,) bool, default all: tracks
    the scan did not cover keep their score; ``increment`` (n,) optional:
    where it is not NaN it replaces the increment (a track scored by
    :func:`pda_score_increment`, say).  A tentative track is confirmed
    at ``L ≥ T_C`` and deleted at ``L ≤ T_D``; a confirmed one is deleted
    when ``peak - L ≥ drop_threshold``.
    """
    score = np.asarray(score, dtype=float)
    confirmed = np.asarray(confirmed, dtype=bool)
    d = score_increment(hit, log_lik, pd, false_alarm_density, config.gate_probability)
    if increment is not None:  # rows with an increment of their own (e.g. the PDA form), NaN elsewhere
        inc = np.asarray(increment, dtype=float)
        d = np.where(np.isnan(inc), d, inc)
    if opportunity is not None:
        d = np.where(np.asarray(opportunity, dtype=bool), d, 0.0)
    new = score + d
    new_peak = np.maximum(np.asarray(peak, dtype=float), new)
    confirm = ~confirmed & (new >= config.confirm_threshold)
    delete = np.where(confirmed, new_peak - new >= config.drop_threshold, ~confirm & (new <= config.delete_threshold))
    return ScoreStep(new, new_peak, confirm, delete)


@dataclass(frozen=True)
class MOfNConfig:
    """Confirm with ``m`` hits within the first ``n`` opportunities (the first plot counts)."""

    m: int = 3
    n: int = 5

    def __post_init__(self):
        if not 1 <= self.m <= self.n:
            raise ValueError(f"need 1 ≤ m ≤ n, got m={self.m}, n={self.n}")


def m_of_n_step(n_hits, n_opportunities, confirmed, hit, config: MOfNConfig, opportunity=None):
    """One scan of the M-of-N rule: ``(n_hits, n_opportunities, confirm, delete)``, all (n,).

    Counts go up on opportunities (``opportunity`` (n,) bool, default all; a
    hit outside an opportunity is ignored).  A tentative track is confirmed
    when ``n_hits ≥ M`` within ``n_opportunities ≤ N`` and deleted once
    ``n_opportunities - n_hits > N - M`` (M hits can no longer be reached).
    Confirmed tracks are never deleted here (a coasting-time rule does that).
    """
    opp = np.ones(np.shape(hit), dtype=bool) if opportunity is None else np.asarray(opportunity, dtype=bool)
    hits = np.asarray(n_hits) + (np.asarray(hit, dtype=bool) & opp)
    opps = np.asarray(n_opportunities) + opp
    confirmed = np.asarray(confirmed, dtype=bool)
    confirm = ~confirmed & (hits >= config.m) & (opps <= config.n)
    delete = ~confirmed & ~confirm & (opps - hits > config.n - config.m)
    return hits, opps, confirm, delete
