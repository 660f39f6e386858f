"""Greedy followed by local search, within a time budget.

The marginal-return greedy (:mod:`.greedy`) commits engagements one at a
time and never revisits them; its mistakes are of a few kinds, and each has a
move that undoes it:

- *retarget*: an engagement's battery fires at another threat instead;
- *rebattery*: another battery takes an engagement's threat;
- *swap*: two engagements exchange threats (the move that matters when
  every weapon is busy, as in the classic W = T instances);
- *drop* an engagement whose cost no longer pays, or *add* one that now does.

Every move is scored exactly for all candidates at once (arrays of
engagements × threats, × batteries and × engagements), and the best
improving move is applied until none improves or the budget runs out: a
best-improvement descent over the 2-exchange neighbourhood that Ahuja et al.
(Operations Research 55(6), 2007) embed in their very-large-scale search.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.optimize import linear_sum_assignment

from tdome.c2.assign.base import Assignment, AssignmentProblem, LossState, evaluate_engagements, finish, register
from tdome.c2.assign.greedy import Budget, greedy_engagements

LAP_CANDIDATES = 12  # slots per engagement offered to the reassignment
KICKS = 20  # perturbations tried after the first descent

# A move of the descent: ("drop", e) or ("add" | "retarget" | "rebattery" | "swap", i, j).
Move = tuple[str, int] | tuple[str, int, int]


@register("local_search")
def solve_local_search(problem: AssignmentProblem, time_limit_s: float | None = None, kicks: int = KICKS,
                       seed: int = 0) -> Assignment:
    """Greedy, a descent, then up to ``kicks`` perturb-and-descend rounds (iterated local search).

    With no time limit the result depends only on the problem and ``seed``,
    so runs are reproducible on any machine; with one, the search stops at
    the first move after it.
    """
    t0 = time.perf_counter()
    deadline = t0 + (np.inf if time_limit_s is None else time_limit_s)
    p = problem
    B, T = p.shape
    if B == 0 or T == 0:
        return Assignment()
    f = p.survival_factor()
    state, budget = LossState(p), Budget(p)
    battery: list[int] = []
    threat: list[int] = []
    greedy_engagements(p, state, budget, f, battery, threat)
    eb, et = np.array(battery, dtype=int), np.array(threat, dtype=int)
    eb, et = improve(p, f, state, budget, eb, et, deadline)
    best = (evaluate_engagements(p, eb, et, f)[0], eb, et)
    rng = np.random.default_rng(seed)
    # With one threat a kick can only send an engagement back where it was.
    for _ in range(kicks if T > 1 else 0):
        if time.perf_counter() >= deadline or best[1].size == 0:
            break
        eb, et, budget = _perturb(p, f, rng, best[1], best[2])
        eb, et = improve(p, f, _state(p, f, eb, et), budget, eb, et, deadline)
        loss = evaluate_engagements(p, eb, et, f)[0]
        if loss < best[0] - 1e-12 * max(1.0, abs(best[0])):
            best = (loss, eb, et)
    t1 = time.perf_counter()
    return finish(p, best[1], best[2], solve_s=t1 - t0, timed_out=bool(t1 >= deadline))


def _perturb(p: AssignmentProblem, f: np.ndarray, rng: np.random.Generator, eb: np.ndarray, et: np.ndarray):
    """Send a few random engagements to random threats their battery may engage instead.

    Returns the new engagements and the :class:`Budget` they leave.
    """
    E = eb.size
    _, budget = _rebuild(p, f, eb, et)
    et = et.copy()
    for e in rng.choice(E, size=min(E, max(2, E // 8)), replace=False).tolist():
        b, t = int(eb[e]), int(et[e])
        budget.commit(b, t, -1)
        ok = np.flatnonzero(budget.feasible(rows=b))
        u = int(rng.choice(ok)) if ok.size else t
        budget.commit(b, u)
        et[e] = u
    return eb, et, budget


def improve(p: AssignmentProblem, f: np.ndarray, state: LossState, budget: Budget, eb: np.ndarray, et: np.ndarray,
            deadline: float) -> tuple[np.ndarray, np.ndarray]:
    """Best-improvement descent from the engagements ``eb``→``et``; returns the improved list."""
    B, T = p.shape
    s = p.salvo
    low = ~p.high_value
    cost = p.cost[:, None] * s[None, :]
    # Moves must gain more than rounding: a relative tolerance on the loss at the start.
    tol = 1e-12 * max(p.loss(state.S) + float(np.sum(cost[eb, et])), np.finfo(float).tiny)
    moved = _reassign(p, f, state, budget, eb, et, tol)  # the big step first; 2-exchanges then polish
    if moved is not None:
        eb, et, state, budget = moved
    fresh = True  # no move since the last reassignment, which would find nothing new
    while time.perf_counter() < deadline:
        S = state.S
        best: tuple[float, Move | None] = (-tol, None)
        E = eb.size
        if E:
            fe = f[eb, et]
            s_without = S[et] / fe  # survival of each engaged threat without that engagement
            w = state.weight(et)
            # drop
            d = w * (s_without - S[et]) - cost[eb, et]
            k = int(np.argmin(d))
            if d[k] < best[0]:
                best = (d[k], ("drop", k))
            # retarget: engagement e's battery fires at threat u instead
            cap_back = budget.cap[eb][:, None] + s[et][:, None]
            free_back = budget.free[eb][:, None] + (s[et] * low[et])[:, None]
            ok = (p.pk[eb] > 0) & (cap_back >= s[None, :]) & (budget.left[None, :] > 0)
            ok &= ~low[None, :] | (free_back >= s[None, :])
            ok &= et[:, None] != np.arange(T)[None, :]
            if ok.any():
                d = state.pair_delta(et[:, None], s_without[:, None], np.arange(T)[None, :], S[None, :] * f[eb])
                d = np.where(ok, d + cost[eb] - cost[eb, et][:, None], np.inf)
                k = int(np.argmin(d))
                if d.flat[k] < best[0]:
                    best = (d.flat[k], ("retarget",) + divmod(k, T))
            # rebattery: battery c takes engagement e's threat
            ok = (p.pk[:, et].T > 0) & (budget.cap[None, :] >= s[et][:, None])
            ok &= ~low[et][:, None] | (budget.free[None, :] >= s[et][:, None])
            ok &= eb[:, None] != np.arange(B)[None, :]
            if ok.any():
                d = state.weight(et)[:, None] * s_without[:, None] * f[:, et].T - (w * S[et])[:, None]
                d = np.where(ok, d + cost[:, et].T - cost[eb, et][:, None], np.inf)
                k = int(np.argmin(d))
                if d.flat[k] < best[0]:
                    best = (d.flat[k], ("rebattery",) + divmod(k, B))
            # swap: engagements e1 and e2 exchange threats
            if E > 1:
                F = f[eb][:, et]  # F[i, j] = f[b_i, t_j]
                s_e, low_s = s[et], s[et] * low[et]
                ok = (p.pk[eb][:, et] > 0) & (eb[:, None] != eb[None, :]) & (et[:, None] != et[None, :])
                ok &= ok.T
                ok &= budget.cap[eb][:, None] >= s_e[None, :] - s_e[:, None]
                ok &= budget.free[eb][:, None] >= low_s[None, :] - low_s[:, None]
                i, j = np.nonzero(np.triu(ok & ok.T, 1))
                if i.size:
                    t1, t2 = et[i], et[j]
                    n1 = S[t1] * F[j, i] / F[i, i]
                    n2 = S[t2] * F[i, j] / F[j, j]
                    C = cost[eb][:, et]
                    d = state.pair_delta(t1, n1, t2, n2) + C[i, j] + C[j, i] - C[i, i] - C[j, j]
                    k = int(np.argmin(d))
                    if d[k] < best[0]:
                        best = (d[k], ("swap", int(i[k]), int(j[k])))
        # add
        g = state.weight() * S * (1.0 - f) - cost
        g = np.where(budget.feasible(), g, -np.inf)
        k = int(np.argmax(g))
        if -g.flat[k] < best[0]:
            best = (-g.flat[k], ("add",) + divmod(k, T))
        move = best[1]
        if move is None:
            moved = None if fresh else _reassign(p, f, state, budget, eb, et, tol)
            if moved is None:
                break
            eb, et, state, budget = moved
            fresh = True
            continue
        eb, et = _apply(move, p, f, state, budget, eb, et)
        fresh = False
    return eb, et


def _state(p: AssignmentProblem, f: np.ndarray, eb: np.ndarray, et: np.ndarray) -> LossState:
    state = LossState(p)
    for b, t in zip(eb.tolist(), et.tolist()):
        state.set(t, state.S[t] * f[b, t])
    return state


def _rebuild(p: AssignmentProblem, f: np.ndarray, eb: np.ndarray, et: np.ndarray):
    budget = Budget(p)
    for b, t in zip(eb.tolist(), et.tolist()):
        budget.commit(b, t)
    return _state(p, f, eb, et), budget


def _reassign(p, f, state, budget, eb, et, tol):
    """Reassign every engagement at once by a linear assignment over threat slots; None unless it improves.

    Each engaged threat offers the slots its engagements now hold, and every
    threat that may take one more engagement offers one new slot.  Putting
    engagement ``e`` into slot ``(t, e')`` changes the loss by
    ``w_t · S_t / f_e' · (f[b_e, t] − 1)`` relative to leaving that slot empty
    (and into a new slot by ``w_t · S_t · (f[b_e, t] − 1)``): exact when each
    threat's slots change one at a time, as when weapons and threats pair one
    to one, where this finds the best pairing in one step that 2-exchanges
    cannot reach.  Elsewhere it is a proposal, kept only if the exact loss falls.
    Engagements keep their battery; a slot takes only engagements of its salvo size.
    """
    E = eb.size
    if E < 2:
        return None
    S, w = state.S, state.weight()
    open_t = np.flatnonzero(budget.left > 0)
    slot_t = np.concatenate([et, open_t])
    slot_base = np.concatenate([S[et] / f[eb, et], S[open_t]])
    fe = f[eb][:, slot_t]
    gain = (w[slot_t] * slot_base)[None, :] * (fe - 1.0)
    ok = (p.pk[eb][:, slot_t] > 0) & (p.salvo[et][:, None] == p.salvo[slot_t][None, :])
    if not p.high_value.all():
        ok &= p.high_value[slot_t][None, :] | ~p.high_value[et][:, None] | (budget.free[eb] >= p.salvo[et])[:, None]
    ok[np.arange(E), np.arange(E)] = True  # staying put is always allowed
    # Each engagement's few best slots, each slot's few best engagements, and
    # every engagement's own slot make the graph of proposals (kept as narrow as
    # the sparse matcher had it: a wider one would change results).
    gain[~ok] = np.inf
    n_slots = gain.shape[1]
    kr, kc = min(LAP_CANDIDATES, n_slots), min(LAP_CANDIDATES, E)
    pick = np.zeros(gain.shape, dtype=bool)
    pick[np.arange(E)[:, None], np.argpartition(gain, kr - 1, axis=1)[:, :kr]] = True
    pick[np.argpartition(gain, kc - 1, axis=0)[:kc, :], np.arange(n_slots)[None, :]] = True
    pick[np.arange(E), np.arange(E)] = True
    rows, cols = match_slots(np.where(pick, gain, np.inf))  # gain is already inf where not ok
    new_t = et.copy()
    new_t[rows] = slot_t[cols]
    if np.array_equal(new_t, et):
        return None
    old_loss = p.loss(S)
    state2, budget2 = _rebuild(p, f, eb, new_t)
    if (budget2.cap < 0).any() or (budget2.free < 0).any() or (budget2.left < 0).any():
        return None
    if not p.loss(state2.S) < old_loss - tol:
        return None
    return eb, new_t, state2, budget2


def match_slots(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-cost matching of every row (engagement) to its own column (slot); ``inf`` forbids a pair.

    A dense shortest-augmenting-path solve (scipy's Jonker–Volgenant variant,
    Crouse 2016), which always terminates, ties included.  scipy's sparse
    ``min_weight_full_bipartite_matching`` can loop forever on a graph with
    two identical rows, which is what one battery holding two engagements
    gives.  Returns (rows, columns) of the matched pairs, rows ascending.
    """
    return linear_sum_assignment(cost)


def _apply(move, p, f, state, budget, eb, et):
    kind = move[0]

    def remove(e):
        b, t = eb[e], et[e]
        state.set(t, state.S[t] / f[b, t])
        budget.commit(b, t, -1)

    def add(b, t):
        state.set(t, state.S[t] * f[b, t])
        budget.commit(b, t)

    if kind == "drop":
        e = move[1]
        remove(e)
        return np.delete(eb, e), np.delete(et, e)
    if kind == "add":
        b, t = move[1], move[2]
        add(b, t)
        return np.append(eb, b), np.append(et, t)
    if kind == "retarget":
        e, u = move[1], move[2]
        remove(e)
        add(eb[e], u)
        et = et.copy()
        et[e] = u
        return eb, et
    if kind == "rebattery":
        e, c = move[1], move[2]
        remove(e)
        add(c, et[e])
        eb = eb.copy()
        eb[e] = c
        return eb, et
    e1, e2 = move[1], move[2]
    b1, t1, b2, t2 = eb[e1], et[e1], eb[e2], et[e2]
    remove(e1)
    remove(e2)
    add(b1, t2)
    add(b2, t1)
    et = et.copy()
    et[e1], et[e2] = t2, t1
    return eb, et
