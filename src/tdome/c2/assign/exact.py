"""Exact target-based weapon-target assignment on HiGHS, with a proven bound.

Formulation (log transform with outer approximation; Manne 1958, and the
cutting-plane scheme of Kelley 1960 as used for WTA by Ahuja et al. 2007 and
Lu & Chen 2021):

    minimise   Σ_t z_t + Σ_bt cost[b]·salvo[t]·x_bt
    subject to y_t = log survival[t] + Σ_b x_bt · log f[b, t]     (log survival)
               z_t ≥ value[t]·e^{ŷ}·(1 + y_t − ŷ)   for each cut point ŷ of t
               Σ_t salvo[t]·x_bt ≤ capacity[b]                    (magazine, launchers)
               Σ_{t not high value} salvo[t]·x_bt ≤ capacity[b] − reserved[b]
               Σ_b x_bt ≤ max_engagements[t]
               x_bt ∈ {0, 1, …}, x_bt = 0 where pk[b, t] = 0

``value·e^y`` is convex, so every tangent lies below it: the programme's
optimum (and, under a time limit, HiGHS's dual bound) is a lower bound on the
true optimal loss.  Each solution is evaluated exactly; where its tangent
model is short of the true value, tangents are added at its point and the
programme is solved again, from the best assignment found so far, until the
gap between the best assignment and the bound is within tolerance or time is
up.  The initial cuts sit on a geometric grid of survival probabilities and
at the local-search solution, which also seeds the incumbent.

The asset-based objective is not convex in this form (it is a sum of
products), so this solver accepts target-based problems only.
"""

from __future__ import annotations

import time

import numpy as np

from tdome.c2.assign.base import Assignment, AssignmentProblem, evaluate_engagements, finish, register
from tdome.c2.assign.local import solve_local_search
from tdome.c2.config import SOLVER_DEADLINE_S

GAP_TOLERANCE = 1e-4  # relative; the same as HiGHS's default MIP gap
_GRID_S = np.array([1.0, 0.7, 0.5, 0.35, 0.25, 0.18, 0.12, 0.08, 0.05, 0.03, 0.02, 0.012, 0.007, 0.004, 0.002,
                    0.001, 3e-4, 1e-4])


@register("exact")
def solve_exact(problem: AssignmentProblem, time_limit_s: float | None = None,
                gap_tolerance: float = GAP_TOLERANCE) -> Assignment:
    import highspy

    t0 = time.perf_counter()
    limit = SOLVER_DEADLINE_S if time_limit_s is None else time_limit_s
    p = problem
    if p.objective != "target":
        raise ValueError("the exact solver handles the target-based objective only; use local_search for 'asset'")
    B, T = p.shape
    if B == 0 or T == 0 or not (p.pk > 0).any():
        empty = finish(p, [], [])
        empty.loss_bound, empty.gap, empty.proven = empty.loss, 0.0, True
        return empty

    seed = solve_local_search(p, time_limit_s=min(0.05, limit / 10))
    best_b, best_t, best_loss = seed.battery, seed.threat, seed.loss
    # The programme is solved in units of the seed's loss per threat, so that
    # each threat's term is of order one and HiGHS's absolute tolerances
    # (about 1e-6) are small against it, whatever the scale of the values.
    scale = best_loss / max(1, int(np.count_nonzero(p.value))) if best_loss > 0 else 1.0

    f = p.survival_factor()
    logf = np.log(np.maximum(f, 1e-300))
    logq = np.log(np.maximum(p.survival, 1e-300))
    free = p.free()
    low = ~p.high_value
    pb, pt = np.nonzero(p.pk > 0)
    s = p.salvo[pt]
    ub = np.minimum(p.max_engagements[pt], p.capacity[pb] // s)
    ub = np.where(low[pt], np.minimum(ub, free[pb] // s), ub)
    keep = ub > 0
    pb, pt, s, ub = pb[keep], pt[keep], s[keep], ub[keep]
    K = pb.size
    if K == 0:  # nothing can fire within the magazines, reserves and caps
        empty = finish(p, [], [])
        empty.loss_bound, empty.gap, empty.proven = empty.loss, 0.0, True
        return empty
    ymin = logq + np.bincount(pt, weights=ub * logf[pb, pt], minlength=T)
    V = p.value / scale

    # Columns: x (K), y (T), z (T).
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", gap_tolerance / 4)
    h.setOptionValue("threads", 1)
    h.setOptionValue("presolve", "off")  # presolve of the cut rows costs 5-10x the solve itself
    inf = highspy.kHighsInf
    xcost = p.cost[pb] * s / scale
    h.addVars(K, np.zeros(K), ub.astype(float))
    h.changeColsCost(K, np.arange(K, dtype=np.int32), xcost)
    h.changeColsIntegrality(K, np.arange(K, dtype=np.int32), np.full(K, highspy.HighsVarType.kInteger))
    h.addVars(T, ymin, logq)
    h.addVars(T, np.zeros(T), np.full(T, inf))
    yc, zc = K + np.arange(T), K + T + np.arange(T)
    h.changeColsCost(T, zc.astype(np.int32), np.ones(T))

    rows = _RowBuilder()
    # y_t − Σ_b logf·x = log q_t
    order = np.argsort(pt, kind="stable")
    for t, xs in _groups(pt[order], order, T):
        rows.add(logq[t], logq[t], np.append(yc[t], xs), np.append(1.0, -logf[pb[xs], t]))
    for b, xs in _groups(pb, np.arange(K), B):
        if xs.size:
            rows.add(-inf, float(p.capacity[b]), xs, s[xs].astype(float))
            lx = xs[low[pt[xs]]]
            if lx.size and np.sum(s[lx] * ub[lx]) > free[b]:
                rows.add(-inf, float(free[b]), lx, s[lx].astype(float))
    for t, xs in _groups(pt[order], order, T):
        if xs.size and np.sum(ub[xs]) > p.max_engagements[t]:
            rows.add(-inf, float(p.max_engagements[t]), xs, np.ones(xs.size))
    rows.flush(h)

    points: list[set] = [set() for _ in range(T)]  # cut points of each threat, to never add one twice

    def cuts(ts: np.ndarray, yhat: np.ndarray) -> int:
        added = 0
        slope = V[ts] * np.exp(yhat)
        for t, a, y0 in zip(ts.tolist(), slope.tolist(), yhat.tolist()):
            key = round(y0, 12)
            if key in points[t]:
                continue
            points[t].add(key)
            rows.add(a * (1.0 - y0), inf, np.array([zc[t], yc[t]]), np.array([1.0, -a]))
            added += 1
        rows.flush(h)
        return added

    grid = np.log(_GRID_S)
    gt, gy = np.nonzero(grid[None, :] + logq[:, None] >= ymin[:, None])
    cuts(gt, grid[gy] + logq[gt])

    def y_of(bb, tt):
        return logq + np.bincount(tt, weights=logf[bb, tt], minlength=T)

    cuts(np.arange(T), y_of(best_b, best_t))

    bounded = _bounded_statuses()
    pair_index = {(int(b), int(t)): k for k, (b, t) in enumerate(zip(pb.tolist(), pt.tolist()))}
    lower = -np.inf
    iterations = 0
    timed_out = False  # the seed's own short cap is by design, not a cut
    while True:
        remaining = limit - (time.perf_counter() - t0)
        if remaining <= 0:
            timed_out = True
            break
        iterations += 1
        h.setOptionValue("time_limit", float(remaining))
        start = _solution_vector(best_b, best_t, pair_index, K, y_of(best_b, best_t), V, T)
        h.setSolution(start.size, np.arange(start.size, dtype=np.int32), start)
        h.run()
        info = h.getInfo()
        status = h.getModelStatus()
        timed_out |= status == highspy.HighsModelStatus.kTimeLimit
        if status not in bounded:  # an error or a numerical failure: keep what is proven so far
            break
        if np.isfinite(info.mip_dual_bound):
            lower = max(lower, float(info.mip_dual_bound) * scale)
        if info.primal_solution_status < 2:  # no feasible point found in time
            break
        x = np.round(np.asarray(h.getSolution().col_value)[:K]).astype(int)
        xb, xt = np.repeat(pb, x), np.repeat(pt, x)
        loss, _ = evaluate_engagements(p, xb, xt)
        if loss < best_loss:
            best_b, best_t, best_loss = xb, xt, loss
        if best_loss - lower <= gap_tolerance * best_loss:
            break
        # Where the tangents under-estimate this solution's loss, cut at its point and solve again.
        y = y_of(xb, xt)
        z = np.asarray(h.getSolution().col_value)[K + T:]
        short = np.flatnonzero(z < V * np.exp(y) * (1 - 1e-9))
        if cuts(short, y[short]) == 0:  # nothing new to learn: the bound stands as proven
            break
    lower = min(lower, best_loss)
    gap = (best_loss - lower) / best_loss if np.isfinite(lower) and best_loss > 0 else (0.0 if best_loss <= 0 else None)
    proven = gap is not None and gap <= gap_tolerance
    return finish(p, best_b, best_t, loss_bound=lower if np.isfinite(lower) else None, gap=gap,
                  proven=proven, solve_s=time.perf_counter() - t0, timed_out=timed_out and not proven)


def _bounded_statuses():
    import highspy

    S = highspy.HighsModelStatus
    return {S.kOptimal, S.kTimeLimit, S.kIterationLimit, S.kSolutionLimit, S.kInterrupt}


def _groups(keys: np.ndarray, items: np.ndarray, n: int):
    """(key, items with that key) for key in 0..n−1, ``keys`` sorted."""
    bounds = np.searchsorted(keys, np.arange(n + 1))
    for k in range(n):
        yield k, items[bounds[k]:bounds[k + 1]]


def _solution_vector(bb, tt, pair_index, K, y, V, T) -> np.ndarray:
    x = np.zeros(K)
    for b, t in zip(np.asarray(bb).tolist(), np.asarray(tt).tolist()):
        x[pair_index[(b, t)]] += 1
    return np.concatenate([x, y, V * np.exp(y)])


class _RowBuilder:
    """Collects rows and adds them to HiGHS in one call."""

    def __init__(self):
        self.lo, self.hi, self.idx, self.val = [], [], [], []

    def add(self, lo, hi, idx, val) -> None:
        self.lo.append(lo)
        self.hi.append(hi)
        self.idx.append(np.asarray(idx, dtype=np.int32))
        self.val.append(np.asarray(val, dtype=float))

    def flush(self, h) -> None:
        if not self.lo:
            return
        starts = np.cumsum([0] + [i.size for i in self.idx[:-1]]).astype(np.int32)
        idx = np.concatenate(self.idx)
        h.addRows(len(self.lo), np.array(self.lo), np.array(self.hi), idx.size, starts, idx, np.concatenate(self.val))
        self.lo, self.hi, self.idx, self.val = [], [], [], []
