"""Association: which gated plot each track takes, by global nearest neighbour or JPDA.

Interface: an associator is called on one scan's gated pairs and returns an
:class:`Association`, the same shape whatever the algorithm::

    associator(pairs, n_tracks, plots, weighs) -> Association
        pairs    GatedPairs of the scan (:mod:`.gating`), each with its GNN cost
        plots    the scan's ScanPlots (:mod:`.plots`): count, dimension, clutter density
        weighs   (n,) bool: tracks allowed to weigh every plot in their gates (confirmed,
                 with a velocity); GNN ignores it
    Association.single    pairs, at most one per track and one per plot: the track takes the plot
    Association.mixture   pairs of tracks that weigh all their plots, with probabilities beta, beta0

- :class:`GNN`: global nearest neighbour (:func:`gnn_assign`), every track in ``single``.
- :class:`JPDA`: the ``weighs`` tracks get joint-probabilistic marginals
  (:func:`tdome.c2.tracking.jpda.jpda_marginals`) in ``mixture``; the other
  tracks take what those leave (a plot whose probability of being theirs is
  ½ or more is claimed) by GNN, in ``single``.

Global nearest neighbour (:func:`gnn_assign`) is a 2-D assignment on the
gated pairs with cost ``d² + ln|S|`` (twice the negative log likelihood of
the plot up to a constant, Blackman & Popoli §6.5), so a tight, confirmed
track is preferred over a loose, fresh one for the same plot.  Ungated
pairs are infeasible.  Isolated track–plot pairs (the common case with
well-separated targets) are assigned directly; the rest go to
:func:`scipy.optimize.linear_sum_assignment` on a dense block whose
infeasible cells carry a cost large enough that the solver first maximises
the number of gated assignments, then minimises their cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numba import njit
from scipy.optimize import linear_sum_assignment

from tdome.c2.tracking.config import TrackerConfig
from tdome.c2.tracking.gating import _EMPTY_I, GatedPairs
from tdome.c2.tracking.gaussian import gaussian_loglik
from tdome.c2.tracking.jpda import jpda_marginals
from tdome.c2.tracking.plots import ScanPlots


def gnn_assign(track, plot, cost, n_tracks: int, n_plots: int):
    """Global nearest neighbour: a maximum-cardinality, then minimum-cost, one-to-one matching.

    ``track``, ``plot``, ``cost`` (k,) list the feasible (gated) pairs, each
    pair at most once; every other pair is infeasible.  Returns the indices
    ``(k_sel,)`` of the selected pairs into those arrays.
    """
    track = np.ascontiguousarray(track, dtype=np.intp)
    plot = np.ascontiguousarray(plot, dtype=np.intp)
    cost = np.asarray(cost, dtype=float)
    if track.size == 0:
        return _EMPTY_I
    isolated, rest = _isolated_pairs(track, plot, int(n_tracks), int(n_plots))
    if not rest.size:
        return isolated
    chosen = [isolated]
    if rest.size:
        rows, r_inv = np.unique(track[rest], return_inverse=True)
        cols, c_inv = np.unique(plot[rest], return_inverse=True)
        c = cost[rest]
        # Any infeasible cell costs more than every feasible assignment put together.
        big = (np.abs(c).max() + 1.0) * (min(rows.size, cols.size) + 1) * 2.0
        C = np.full((rows.size, cols.size), big)
        pair_at = np.full((rows.size, cols.size), -1, dtype=np.intp)
        C[r_inv, c_inv] = c
        pair_at[r_inv, c_inv] = rest
        ri, ci = linear_sum_assignment(C)
        sel = pair_at[ri, ci]
        chosen.append(sel[sel >= 0])
    return np.sort(np.concatenate(chosen))


@njit(cache=True)
def _isolated_pairs(track, plot, n_tracks, n_plots):  # pragma: no cover - compiled
    """``(isolated, rest)``: indices of the pairs whose track and plot are in no other pair, and of the others."""
    deg_t = np.zeros(n_tracks, dtype=np.intp)
    deg_p = np.zeros(n_plots, dtype=np.intp)
    for p in range(track.shape[0]):
        deg_t[track[p]] += 1
        deg_p[plot[p]] += 1
    iso = np.empty(track.shape[0], dtype=np.intp)
    rest = np.empty(track.shape[0], dtype=np.intp)
    ni = nr = 0
    for p in range(track.shape[0]):
        if deg_t[track[p]] == 1 and deg_p[plot[p]] == 1:
            iso[ni] = p
            ni += 1
        else:
            rest[nr] = p
            nr += 1
    return iso[:ni].copy(), rest[:nr].copy()


@dataclass
class Association:
    """One scan's association, from any associator.

    ``single``: pairs in which the track takes the plot (one plot per track,
    one track per plot); ``mixture``: pairs of tracks that weigh every plot
    in their gates, with ``beta`` (len(mixture),) the probability that the
    track took the plot and ``beta0`` (n,) that it missed; ``claim`` (m,) the
    probability that each plot came from one of the mixture's tracks.
    """

    single: GatedPairs
    mixture: GatedPairs
    beta: np.ndarray
    beta0: np.ndarray
    claim: np.ndarray

    @property
    def claimed(self) -> np.ndarray:
        """(m,) bool: plots more likely than not from a mixture track; no other track may take them."""
        return self.claim >= 0.5

    def mixture_report(self) -> tuple[np.ndarray, np.ndarray]:
        """``(plots, track rows)``: each claimed plot against its most probable mixture track."""
        if not len(self.mixture):
            return _EMPTY_I, _EMPTY_I
        jp = self.mixture
        order = np.lexsort((-self.beta, jp.plot))
        pl, tr = jp.plot[order], jp.track[order]
        lead = np.r_[True, pl[1:] != pl[:-1]] & (self.claim[pl] >= 0.5)
        return pl[lead], tr[lead]


def _none(pairs: GatedPairs) -> GatedPairs:
    """No pairs, of the shapes of ``pairs``."""
    k, d = pairs.H.shape[1:]
    return GatedPairs(_EMPTY_I, _EMPTY_I, np.empty((0, k)), np.empty((0, k, d)), np.empty((0, k, k)), _NO_F,
                      _NO_F, _NO_F)


_NO_F = np.empty(0)


class Associator(Protocol):
    """Any association algorithm: gated pairs in, :class:`Association` out (module docstring)."""

    def __call__(self, pairs: GatedPairs, n_tracks: int, plots: ScanPlots, weighs: np.ndarray) -> Association: ...


class GNN:
    """Global nearest neighbour for every track (:func:`gnn_assign` on the pairs' costs)."""

    def __call__(self, pairs: GatedPairs, n_tracks: int, plots: ScanPlots, weighs: np.ndarray) -> Association:
        m = len(plots)
        sel = gnn_assign(pairs.track, pairs.plot, pairs.cost, n_tracks, m)
        single = pairs if sel.size == len(pairs) else pairs.select(sel)  # every pair taken: the pairs as they are
        return Association(single, _none(pairs), _NO_F, np.ones(n_tracks), np.zeros(m))


class JPDA:
    """JPDA marginals for the tracks that weigh their plots; GNN for the others on the plots left.

    The marginals assume detection probability ``pd``, gate probability
    ``gate_probability`` and Poisson clutter of each plot's density
    (:func:`tdome.c2.tracking.jpda.jpda_marginals`, enumeration bounded by
    ``max_hypotheses`` events per cluster).
    """

    def __init__(self, pd: float, gate_probability: float, max_hypotheses: int):
        self.pd = pd
        self.gate_probability = gate_probability
        self.max_hypotheses = max_hypotheses

    def __call__(self, pairs: GatedPairs, n_tracks: int, plots: ScanPlots, weighs: np.ndarray) -> Association:
        m = len(plots)
        claim: np.ndarray  # (m,) float: np.bincount with weights, which numpy's stubs type as int
        mixture, beta, beta0, claim = _none(pairs), np.empty(0), np.ones(n_tracks), np.zeros(m)
        if len(pairs):
            firm = weighs[pairs.track]
            mixture, pairs = pairs.select(firm), pairs.select(~firm)
            if len(mixture):
                ll = gaussian_loglik(mixture.d2, mixture.log_det_S, plots.k)
                res = jpda_marginals(mixture.track, mixture.plot, ll, n_tracks, m, self.pd, self.gate_probability,
                                     plots.clutter, self.max_hypotheses)
                beta, beta0 = res.beta, res.beta0
                claim = np.bincount(mixture.plot, res.beta, minlength=m)
                pairs = pairs.select(~(claim >= 0.5)[pairs.plot])
        single = pairs.select(gnn_assign(pairs.track, pairs.plot, pairs.cost, n_tracks, m))
        return Association(single, mixture, beta, beta0, claim)


def make_associator(config: TrackerConfig) -> Associator:
    """The associator that ``config.association`` names."""
    if config.association == "jpda":
        return JPDA(config.pd, config.gate_probability, config.jpda_max_hypotheses)
    return GNN()
