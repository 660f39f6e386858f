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

- :class:`GNN`: global nearest neighbour (:func:`gnn_assign`; with ``gnn_confirmed_first`` the ``weighs``
  (confirmed) tracks first, then the others on the plots left, :func:`gnn_confirmed_first`); every track in
  ``single``.
- :class:`JPDA`: the ``weighs`` tracks get joint-probabilistic marginals
  (:func:`tdome.c2.tracking.jpda.jpda_marginals`) in ``mixture``; the other
  tracks take what those leave (a plot whose probability of being theirs is
  ½ or more is claimed) by GNN, in ``single``.

Global nearest neighbour (:func:`gnn_assign`) is a 2-D assignment on the
gated pairs with cost ``d² + ln|S|`` (twice the negative log likelihood of
the plot up to a constant, Blackman & Popoli §6.5).  Ungated pairs are
infeasible.  All tracks compete in one assignment, so the cost decides
between a confirmed track and a tentative one.  That differs from Stone
Soup, which assigns its confirmed tracks first and the tentative ones on the
plots left (``gnn_confirmed_first``, :func:`gnn_confirmed_first`; the
benchmark ``benchmarks/tracking_vs_stonesoup.py`` sets it and then equals
Stone Soup on every seed).  Each order has its failure: in one assignment a
one-plot track started on the plot a confirmed track missed last scan sits
right on the target's next plot (small ``d²``) while the confirmed track,
after its miss, is further off, and the cost's ``ln|S|`` does not always
make up for it (the new track takes the target, the old one coasts as a
false track); confirmed first, a coasting track whose object is gone takes
the clutter plot in its gate that a fresh track would have won (the IMM's
wide manoeuvre gate on holding patterns: ``tests/test_tracking_imm.py``).
The first costs a few metres of GOSPA at 200 targets in the benchmark, the
second lets dead IMM tracks fly off on clutter, so one assignment is the
default.  Isolated track–plot pairs (the common case with
well-separated targets) are assigned directly; the rest by successive
shortest augmenting paths on the gated pairs alone (:func:`_min_cost_matching`):
among the matchings of the largest size, the one of least total cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numba import njit

from tdome.c2.tracking.config import TrackerConfig
from tdome.c2.tracking.gating import _EMPTY_I, GatedPairs
from tdome.c2.tracking.gaussian import gaussian_loglik
from tdome.c2.tracking.jpda import jpda_marginals
from tdome.c2.tracking.plots import ScanPlots


def gnn_assign(track, plot, cost, n_tracks: int, n_plots: int):
    """Global nearest neighbour: a maximum-cardinality, then minimum-cost, one-to-one matching.

    ``track``, ``plot``, ``cost`` (k,) list the feasible (gated) pairs, each
    pair at most once; every other pair is infeasible.  Returns the indices
    ``(k_sel,)`` of the selected pairs into those arrays, increasing.
    """
    track = np.ascontiguousarray(track, dtype=np.intp)
    plot = np.ascontiguousarray(plot, dtype=np.intp)
    cost = np.ascontiguousarray(cost, dtype=float)
    if track.size == 0:
        return _EMPTY_I
    return _gnn_select(track, plot, cost, int(n_tracks), int(n_plots))


def gnn_confirmed_first(track, plot, cost, firm, n_tracks: int, n_plots: int):
    """:func:`gnn_assign` in two stages: the pairs of the ``firm`` tracks (``firm`` (k,) bool per pair), then
    the other pairs on the plots the first stage left.  Returns the indices of the pairs chosen, increasing."""
    track = np.ascontiguousarray(track, dtype=np.intp)
    if track.size == 0:
        return _EMPTY_I
    return _gnn_firm_first(track, np.ascontiguousarray(plot, dtype=np.intp), np.ascontiguousarray(cost, dtype=float),
                           np.ascontiguousarray(firm, dtype=np.bool_), int(n_tracks), int(n_plots))


@njit(cache=True)
def _gnn_firm_first(track, plot, cost, firm, n_tracks, n_plots):  # pragma: no cover - compiled
    """:func:`gnn_confirmed_first` on contiguous pairs."""
    a = np.flatnonzero(firm)
    if a.shape[0] == 0 or a.shape[0] == track.shape[0]:  # one stage: one assignment, no copies
        return _gnn_select(track, plot, cost, n_tracks, n_plots)
    sel_a = a[_gnn_select(track[a], plot[a], cost[a], n_tracks, n_plots)] if a.shape[0] else a
    used = np.zeros(n_plots, dtype=np.bool_)
    for p in sel_a:
        used[plot[p]] = True
    rest = np.zeros(track.shape[0], dtype=np.bool_)
    for p in range(track.shape[0]):
        rest[p] = not firm[p] and not used[plot[p]]
    b = np.flatnonzero(rest)
    sel_b = b[_gnn_select(track[b], plot[b], cost[b], n_tracks, n_plots)] if b.shape[0] else b
    out = np.concatenate((sel_a, sel_b))
    out.sort()
    return out


@njit(cache=True)
def _gnn_select(track, plot, cost, n_tracks, n_plots):  # pragma: no cover - compiled
    """:func:`gnn_assign` on contiguous pairs: isolated pairs taken, the others matched; indices increasing."""
    isolated, rest = _isolated_pairs(track, plot, n_tracks, n_plots)
    if rest.shape[0] == 0:
        return isolated
    taken = np.zeros(track.shape[0], dtype=np.bool_)
    taken[isolated] = True
    taken[_min_cost_matching(track, plot, cost, rest, n_tracks, n_plots)] = True
    return np.flatnonzero(taken)


@njit(cache=True)
def _min_cost_matching(track, plot, cost, pairs, n_tracks, n_plots):  # pragma: no cover - compiled
    """Of the matchings of the largest size on the pairs ``pairs``, one of least total cost: the pairs chosen.

    Successive shortest paths (min-cost flow, Ahuja, Magnanti & Orlin §9.7):
    starting from the empty matching, each step adds one pair along the
    cheapest augmenting path (unmatched pairs from a free track to a plot
    cost ``cost``, matched pairs back from the plot to its track ``-cost``;
    Bellman–Ford from every free track at once, so negative costs need no
    care), until no free plot can be reached.  The matching after ``s``
    steps is then of least cost among the matchings of ``s`` pairs, and the
    last one is of the largest size.  Ties go to the lower plot index.
    """
    n_e = pairs.shape[0]
    row_of = np.full(n_tracks, -1, dtype=np.intp)
    col_of = np.full(n_plots, -1, dtype=np.intp)
    e_row = np.empty(n_e, dtype=np.intp)
    e_col = np.empty(n_e, dtype=np.intp)
    n_r = n_c = 0
    for e in range(n_e):
        i, j = track[pairs[e]], plot[pairs[e]]
        if row_of[i] < 0:
            row_of[i] = n_r
            n_r += 1
        if col_of[j] < 0:
            col_of[j] = n_c
            n_c += 1
        e_row[e], e_col[e] = row_of[i], col_of[j]
    row_match = np.full(n_r, -1, dtype=np.intp)  # the pair each track row is matched by, or -1
    col_match = np.full(n_c, -1, dtype=np.intp)
    dist_r = np.empty(n_r)
    dist_c = np.empty(n_c)
    via = np.empty(n_c, dtype=np.intp)  # the unmatched pair on the cheapest path into each plot
    for _ in range(min(n_r, n_c)):
        for r in range(n_r):
            dist_r[r] = 0.0 if row_match[r] < 0 else np.inf
        dist_c[:] = np.inf
        for _ in range(n_r + n_c + 1):  # Bellman–Ford: at most one pass per node on a path, and a last to check
            changed = False
            for e in range(n_e):
                c = e_col[e]
                if col_match[c] != e and dist_r[e_row[e]] + cost[pairs[e]] < dist_c[c]:
                    dist_c[c] = dist_r[e_row[e]] + cost[pairs[e]]
                    via[c] = e
                    changed = True
            for c in range(n_c):
                e = col_match[c]
                if e >= 0 and dist_c[c] - cost[pairs[e]] < dist_r[e_row[e]]:
                    dist_r[e_row[e]] = dist_c[c] - cost[pairs[e]]
                    changed = True
            if not changed:
                break
        end = -1
        for c in range(n_c):
            if col_match[c] < 0 and dist_c[c] < np.inf and (end < 0 or dist_c[c] < dist_c[end]):
                end = c
        if end < 0:
            break
        c = end
        while True:  # flip the path: each of its unmatched pairs becomes matched, and the matched ones free
            e = via[c]
            r = e_row[e]
            before = row_match[r]
            row_match[r], col_match[c] = e, e
            if before < 0:
                break
            c = e_col[before]
    chosen = np.empty(n_r, dtype=np.intp)
    k = 0
    for r in range(n_r):
        if row_match[r] >= 0:
            chosen[k] = pairs[row_match[r]]
            k += 1
    return chosen[:k]


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
    """Global nearest neighbour for every track (:func:`gnn_assign` on the pairs' costs), or with
    ``confirmed_first`` the ``weighs`` (confirmed) tracks first (:func:`gnn_confirmed_first`)."""

    def __init__(self, confirmed_first: bool = False):
        self.confirmed_first = confirmed_first

    def __call__(self, pairs: GatedPairs, n_tracks: int, plots: ScanPlots, weighs: np.ndarray) -> Association:
        m = len(plots)
        if self.confirmed_first:
            sel = gnn_confirmed_first(pairs.track, pairs.plot, pairs.cost, weighs[pairs.track], n_tracks, m)
        else:
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
    return GNN(config.gnn_confirmed_first)
