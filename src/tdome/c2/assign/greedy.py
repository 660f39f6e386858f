"""Maximum-marginal-return greedy weapon-target assignment.

Repeatedly commit the engagement with the largest net expected gain, then
update the engaged threat's survival probability and the battery's rounds,
until no engagement gains anything (den Broeder, Ellison & Emerling, "On
optimum target assignments", Operations Research 7(3), 1959; Ahuja et al.,
"Exact and heuristic algorithms for the weapon-target assignment problem",
Operations Research 55(6), 2007, §4 for the marginal-return rule).

Each commit changes one battery row and the engaged threat's column (under
the asset objective, the columns of every threat aimed at the same asset) of
the gain matrix, so only those are recomputed.  The commits run in one
compiled kernel (:func:`_commit`), which keeps each threat column's best gain
so that the best of all costs O(T), and returns every few hundred commits so
that a caller with a deadline can look at the clock.
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit

from tdome.c2.assign.base import Assignment, AssignmentProblem, LossState, finish, register


class Budget:
    """Rounds, reserve and engagements still open while engagements are committed or moved.

    The reserve is a static bound: rounds fired at threats that are not
    high-value may not exceed ``capacity − reserved``; high-value threats may
    use any round.
    """

    def __init__(self, p: AssignmentProblem):
        self.p = p
        self.cap = p.capacity.astype(int).copy()  # rounds still open
        self.free = p.free().astype(int)  # of which, open to threats that are not high-value
        self.left = p.max_engagements.astype(int).copy()

    def feasible(self, rows=slice(None), cols=slice(None)) -> np.ndarray:
        p = self.p
        s = p.salvo[cols]
        c, f = self.cap[rows], self.free[rows]
        if np.ndim(c):
            c, f = c[:, None], f[:, None]
        ok = p.pk[rows, cols] > 0
        ok &= c >= s
        ok &= p.high_value[cols] | (f >= s)
        ok &= self.left[cols] > 0
        return ok

    def commit(self, b: int, t: int, sign: int = 1) -> None:
        """Take (sign 1) or give back (sign −1) one engagement's rounds."""
        s = int(self.p.salvo[t]) * sign
        self.cap[b] -= s
        if not self.p.high_value[t]:
            self.free[b] -= s
        self.left[t] -= sign


def greedy_engagements(p: AssignmentProblem, state: LossState, budget: Budget, f: np.ndarray,
                       battery: list[int], threat: list[int], deadline: float = np.inf) -> bool:
    """Append the marginal-return greedy's engagements to ``battery``/``threat``, updating state and budget.

    Returns False if it stopped at ``deadline`` (:func:`time.perf_counter`)
    before its own end; its engagements so far are then committed and kept.
    """
    B, T = p.shape
    if B == 0 or T == 0:
        return True
    target = state.target
    terms = _NO_ASSET_TERMS if target else (state.asset, state.asset_value, state.lethality, state.P)
    # The kernels walk threat columns: the matrices are held threat by threat (transposed), each column
    # contiguous.  Each column's best gain and its first battery: the matrix's argmax, row-major, in O(T).
    kill, cost, pk = (np.ascontiguousarray(m.T) for m in (1.0 - f, p.cost[:, None] * p.salvo[None, :], p.pk))
    gain, col_val, col_row = np.empty((T, B)), np.empty(T), np.zeros(T, dtype=np.int64)
    n_max = max(0, int(min(budget.left.sum(), budget.cap.sum())))  # each engagement takes a round and a slot
    out_b, out_t = np.empty(n_max, dtype=np.int64), np.empty(n_max, dtype=np.int64)
    args = (gain, col_val, col_row, state.S, p.value, kill, f, cost, pk, p.salvo, p.high_value, budget.cap,
            budget.free, budget.left, target, *terms)
    _gains(*args)
    # With a deadline, commit in chunks of well under a millisecond and look at the clock between them.
    chunk = n_max if deadline == np.inf else max(1, 200_000 // (B + T))
    n, done = 0, n_max == 0
    while not done:
        n, done = _commit(*(args + (out_b, out_t, n, chunk)))
        if not done and time.perf_counter() >= deadline:
            break
    battery.extend(out_b[:n].tolist())
    threat.extend(out_t[:n].tolist())
    return done


_NO_ASSET_TERMS = (np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0), np.zeros(0))  # the target objective's


@njit(cache=True, inline="always", error_model="numpy")
def _weight(t, S, value, target, asset, asset_value, lethality, P):
    """:meth:`LossState.weight` of one threat: the loss's derivative in its survival."""
    if target:
        return value[t]
    g = asset[t]
    if g < 0 or asset_value.shape[0] == 0:
        return 0.0
    lam = lethality[t]
    return asset_value[g] * lam * P[g] / (1.0 - lam * S[t])


@njit(cache=True, error_model="numpy")
def _column(gain, col_val, col_row, t, S, value, kill, cost, pk, s, high_value, cap, free, left, target, asset,
            asset_value, lethality, P):  # pragma: no cover - compiled; checked against the numpy greedy in the tests
    """Compute threat t's column of net gains (−inf where a battery may not engage it) and its best.

    The matrices are transposed: ``gain[t, b]``, ``kill[t, b]`` = 1 − f[b, t], ``cost[t, b]``, ``pk[t, b]``.
    """
    w = _weight(t, S, value, target, asset, asset_value, lethality, P)
    # Battery b may engage threat t if it can (pk > 0) and has the rounds (outside its reserve unless t is of
    # high value), and t may take another engagement.
    st, hv, more = s[t], high_value[t], left[t] > 0
    for b in range(gain.shape[1]):
        if pk[t, b] > 0 and more and cap[b] >= st and (hv or free[b] >= st):
            gain[t, b] = w * S[t] * kill[t, b] - cost[t, b]
        else:
            gain[t, b] = -np.inf
    _column_best(gain, col_val, col_row, t)


@njit(cache=True)
def _column_best(gain, col_val, col_row, t):  # pragma: no cover - compiled
    """Threat t's best gain and its first battery."""
    best, row = -np.inf, 0
    for b in range(gain.shape[1]):
        if gain[t, b] > best:
            best, row = gain[t, b], b
    col_val[t], col_row[t] = best, row


@njit(cache=True, error_model="numpy")
def _gains(gain, col_val, col_row, S, value, kill, f, cost, pk, s, high_value, cap, free, left, target, asset,
           asset_value, lethality, P):  # pragma: no cover - compiled
    for t in range(gain.shape[0]):
        _column(gain, col_val, col_row, t, S, value, kill, cost, pk, s, high_value, cap, free, left, target, asset,
                asset_value, lethality, P)


@njit(cache=True, error_model="numpy")
def _commit(gain, col_val, col_row, S, value, kill, f, cost, pk, s, high_value, cap, free, left, target, asset,
            asset_value, lethality, P, out_b, out_t, n, chunk):  # pragma: no cover - compiled; see _column
    """Commit up to ``chunk`` more engagements, best gain first: ``(engagements so far, finished)``.

    The best is the first largest gain in row-major order (numpy's argmax
    over the matrix): the largest of the columns' bests, the lowest battery
    on ties, then the lowest threat.  The greedy stops when it is not
    positive.  A commit (b, t) lowers threat t's survival (under the asset
    objective, it changes the weights of every threat aimed at t's asset):
    those columns are computed again.  It also takes battery b's rounds,
    which only makes some of its row infeasible: a column is searched again
    only where that was its best.
    """
    T = gain.shape[0]
    for _ in range(chunk):
        t, best = -1, -np.inf
        for u in range(T):
            v = col_val[u]
            if v > best or (v == best and t >= 0 and col_row[u] < col_row[t]):
                t, best = u, v
        if t < 0 or not best > 0.0:
            return n, True
        b = col_row[t]
        out_b[n], out_t[n] = b, t
        n += 1
        s_new = S[t] * f[b, t]
        if not target and asset[t] >= 0:
            g, lam = asset[t], lethality[t]
            P[g] *= (1.0 - lam * s_new) / (1.0 - lam * S[t])
        S[t] = s_new
        cap[b] -= s[t]
        if not high_value[t]:
            free[b] -= s[t]
        left[t] -= 1
        capb, freeb = cap[b], free[b]
        for u in range(T):
            if u == t or (not target and asset[t] >= 0 and asset[u] == asset[t]):
                _column(gain, col_val, col_row, u, S, value, kill, cost, pk, s, high_value, cap, free, left, target,
                        asset, asset_value, lethality, P)
            elif gain[u, b] > -np.inf and not (capb >= s[u] and (high_value[u] or freeb >= s[u])):
                gain[u, b] = -np.inf  # the battery no longer has the rounds
                if col_row[u] == b:
                    _column_best(gain, col_val, col_row, u)
        if n == out_b.shape[0]:
            return n, True
    return n, False


@register("greedy")
def solve_greedy(problem: AssignmentProblem, time_limit_s: float | None = None) -> Assignment:
    """The marginal-return greedy; with a time limit, the engagements committed by then."""
    t0 = time.perf_counter()
    B, T = problem.shape
    if B == 0 or T == 0:
        return Assignment()
    battery: list[int] = []
    threat: list[int] = []
    f = problem.survival_factor()
    deadline = t0 + (np.inf if time_limit_s is None else time_limit_s)
    done = greedy_engagements(problem, LossState(problem), Budget(problem), f, battery, threat, deadline)
    return finish(problem, battery, threat, f, solve_s=time.perf_counter() - t0, timed_out=not done)
