"""Greedy followed by local search, within a time budget.

The marginal-return greedy (:mod:`.greedy`) commits engagements one at a
time and never revisits them; its mistakes are of a few kinds, and each has a
move that undoes it:

- *retarget*: an engagement's battery fires at another threat instead;
- *rebattery*: another battery takes an engagement's threat;
- *swap*: two engagements exchange threats (the move that matters when
  every weapon is busy, as in the classic W = T instances);
- *drop* an engagement whose cost no longer pays, or *add* one that now does.

Every move is scored exactly for all candidates at once (engagements ×
threats, × batteries and × engagements, in one compiled scan that looks
at the clock every few rows, :func:`_best_move`), and the best improving
move is applied until none
improves or the budget runs out: a best-improvement descent over the
2-exchange neighbourhood that Ahuja et al. (Operations Research 55(6), 2007)
embed in their very-large-scale search.  The scan performs the floating-point
operations of the numpy expressions it replaced in the same order and breaks
ties the same way, so it picks the same moves (a test holds it to them).
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit

from tdome.c2.assign.base import Assignment, AssignmentProblem, LossState, evaluate_engagements, finish, register
from tdome.c2.assign.greedy import _NO_ASSET_TERMS, Budget, greedy_engagements

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
    if not greedy_engagements(p, state, budget, f, battery, threat, deadline):  # the deadline came first
        return finish(p, battery, threat, f, solve_s=time.perf_counter() - t0, timed_out=True)
    if not battery:
        # No engagement gains anything on its own: nor can a move add one (the add move is the
        # greedy's gain), and there is nothing to move or perturb.  Most cycles end here.
        t1 = time.perf_counter()
        return finish(p, battery, threat, f, solve_s=t1 - t0, timed_out=bool(t1 >= deadline))
    eb, et = np.array(battery, dtype=int), np.array(threat, dtype=int)
    eb, et = improve(p, f, state, budget, eb, et, deadline)
    best = (evaluate_engagements(p, eb, et, f)[0], eb, et)
    rng = np.random.default_rng(seed)
    # A descent depends only on where it starts, and with few threats open to each battery
    # the kicks often land where an earlier one did: each start's descent is run once.
    descents: dict[tuple[bytes, bytes], tuple[float, np.ndarray, np.ndarray]] = {}
    # With one threat a kick can only send an engagement back where it was.
    for _ in range(kicks if T > 1 else 0):
        if time.perf_counter() >= deadline or best[1].size == 0:
            break
        eb, et, budget = _perturb(p, f, rng, best[1], best[2])
        start = (eb.tobytes(), et.tobytes())
        if start not in descents:
            eb, et = improve(p, f, _state(p, f, eb, et), budget, eb, et, deadline)
            descents[start] = (evaluate_engagements(p, eb, et, f)[0], eb, et)
        loss, eb, et = descents[start]
        if loss < best[0] - 1e-12 * max(1.0, abs(best[0])):
            best = (loss, eb, et)
    t1 = time.perf_counter()
    return finish(p, best[1], best[2], f, solve_s=t1 - t0, timed_out=bool(t1 >= deadline))


def _perturb(p: AssignmentProblem, f: np.ndarray, rng: np.random.Generator, eb: np.ndarray, et: np.ndarray):
    """Send a few random engagements to random threats their battery may engage instead.

    Returns the new engagements and the :class:`Budget` they leave.
    """
    E = eb.size
    budget = _budget(p, eb, et)
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
    """Best-improvement descent from the engagements ``eb``→``et``; returns the improved list.

    Each step scores every move at once (:func:`_best_move`, compiled) and applies the best one.
    """
    s = p.salvo
    low = ~p.high_value
    cost = p.cost[:, None] * s[None, :]
    # Moves must gain more than rounding: a relative tolerance on the loss at the start.
    tol = 1e-12 * max(p.loss(state.S) + float(np.sum(cost[eb, et])), np.finfo(float).tiny)
    moved = _reassign(p, f, state, budget, eb, et, tol, deadline)  # the big step first; 2-exchanges then polish
    if moved is not None:
        eb, et, state, budget = moved
    fresh = True  # no move since the last reassignment, which would find nothing new
    while time.perf_counter() < deadline:
        # Under the asset objective two threats aimed at one asset change its survival jointly.
        joint = not state.target and state.asset_value.size > 0
        asset, asset_value, lethality, P = (
            (state.asset, state.asset_value, state.lethality, state.P) if joint else _NO_ASSET_TERMS)
        scanned = _best_move(state.S, state.weight(), f, p.pk, cost, s, low, p.high_value, budget.cap, budget.free,
                             budget.left, eb, et, tol, joint, asset, asset_value, lethality, P, deadline=deadline)
        if scanned is None:  # the deadline came first
            break
        kind, i, j = scanned
        move: Move | None = None if kind < 0 else (MOVES[kind], i) if MOVES[kind] == "drop" else (MOVES[kind], i, j)
        if move is None:
            moved = None if fresh else _reassign(p, f, state, budget, eb, et, tol, deadline)
            if moved is None:
                break
            eb, et, state, budget = moved
            fresh = True
            continue
        eb, et = _apply(move, p, f, state, budget, eb, et)
        fresh = False
    return eb, et


MOVES = ("drop", "retarget", "rebattery", "swap", "add")  # the kinds :func:`_best_move` numbers 0 to 4


@njit(cache=True, inline="always", error_model="numpy")
def _pair_delta(S, W, t1, s1, t2, s2, joint, asset, asset_value, lethality, P):
    """:meth:`LossState.pair_delta` of one pair: threats t1, t2 (distinct) take survivals s1, s2.

    Each alone changes the loss by its weight times its change; two threats
    aimed at one asset (asset objective) change it by
    asset_value · P · (1 − (1 − λ₁s₁)(1 − λ₂s₂) / ((1 − λ₁S₁)(1 − λ₂S₂))).
    """
    if joint:
        g = asset[t1]
        if g >= 0 and asset[t2] == g:
            l1, l2 = lethality[t1], lethality[t2]
            old = (1.0 - l1 * S[t1]) * (1.0 - l2 * S[t2])
            new = (1.0 - l1 * s1) * (1.0 - l2 * s2)
            return asset_value[g] * P[g] * (1.0 - new / old)
    return W[t1] * (s1 - S[t1]) + W[t2] * (s2 - S[t2])


MOVE_SCAN_PAIRS = 20_000  # candidate moves scanned between looks at the clock (about 0.2 ms)


def _best_move(S, W, f, pk, cost, s, low, high_value, cap, free, left, eb, et, tol, joint, asset, asset_value,
               lethality, P, deadline=np.inf):
    """The best improving move of the descent: ``(kind, i, j)``, kind an index into :data:`MOVES` or −1 for none.

    With S each threat's survival, W its weight (:meth:`LossState.weight`), f
    the survival factors, c[b, t] = cost[b]·salvo[t] and engagements e = (b_e,
    t_e), whose threat survives without it with S_t / f[b_e, t_e], the loss
    changes by
        drop e:            W_t (S_t / f_e − S_t) − c_e
        retarget e → u:    Δ(t_e, S_t / f_e; u, S_u f[b_e, u]) + c[b_e, u] − c_e
        rebattery e → c:   W_t S_t / f_e · f[c, t_e] − W_t S_t + c[c, t_e] − c_e
        swap e₁ ↔ e₂:      Δ(t₁, S₁ f[b₂, t₁] / f[b₁, t₁]; t₂, S₂ f[b₁, t₂] / f[b₂, t₂]) + c₁₂ + c₂₁ − c₁₁ − c₂₂
        add (b, t):        −(W_t S_t (1 − f[b, t]) − c[b, t])
    (Δ: :func:`_pair_delta`), over the moves the rounds, reserve, engagement
    caps and kill probabilities allow.  The best is the least change below
    −tol, the first found on ties, in the order above and row-major within a
    kind: the order the numpy scan it replaced took.
    """
    n_bat, n_thr, n_eng = pk.shape[0], pk.shape[1], eb.shape[0]
    k_best, j_best, d_best = np.full(len(MOVES), -1), np.zeros(len(MOVES), dtype=np.int64), np.full(len(MOVES), np.inf)
    rows = max(n_bat, n_eng)
    step = rows if deadline == np.inf else max(1, MOVE_SCAN_PAIRS // max(1, n_thr + n_bat + n_eng))
    for lo in range(0, rows, step):
        if lo and time.perf_counter() >= deadline:
            return None
        _scan_moves(S, W, f, pk, cost, s, low, high_value, cap, free, left, eb, et, joint, asset, asset_value,
                    lethality, P, lo, min(lo + step, rows), k_best, j_best, d_best)
    best, kind, i, j = -tol, -1, 0, 0
    for k in range(len(MOVES)):  # each kind's best, in the kinds' order; a later kind must be strictly better
        if k_best[k] >= 0 and d_best[k] < best:
            best, kind, i, j = d_best[k], k, int(k_best[k]), int(j_best[k])
    return kind, i, j


@njit(cache=True, error_model="numpy")
def _scan_moves(S, W, f, pk, cost, s, low, high_value, cap, free, left, eb, et, joint, asset, asset_value, lethality,
                P, lo, hi, k_best, j_best, d_best):  # pragma: no cover - compiled; checked against the numpy scan
    """Update each kind's best move (``k_best``, ``j_best``, ``d_best`` by kind) with the moves of rows lo to hi.

    Rows are engagements (battery rows for *add*, whose change is stored
    negated, −gain); scanning the rows in order gives the first best of each
    kind in row-major order, as one scan of all would.
    """
    n_bat, n_thr, n_eng = pk.shape[0], pk.shape[1], eb.shape[0]
    e_lo, e_hi, b_lo, b_hi = min(lo, n_eng), min(hi, n_eng), min(lo, n_bat), min(hi, n_bat)
    # drop
    kb, db = k_best[0], d_best[0]
    for e in range(e_lo, e_hi):
        b, t = eb[e], et[e]
        d = W[t] * (S[t] / f[b, t] - S[t]) - cost[b, t]
        if d < db:
            kb, db = e, d
    k_best[0], d_best[0] = kb, db
    # retarget: engagement e's battery fires at threat u instead
    kb, jb, db = k_best[1], j_best[1], d_best[1]
    for e in range(e_lo, e_hi):
        b, t = eb[e], et[e]
        s_without = S[t] / f[b, t]
        cap_back, free_back = cap[b] + s[t], free[b] + s[t] * low[t]
        for u in range(n_thr):
            if not (pk[b, u] > 0 and cap_back >= s[u] and left[u] > 0 and (not low[u] or free_back >= s[u])
                    and t != u):
                continue
            d = _pair_delta(S, W, t, s_without, u, S[u] * f[b, u], joint, asset, asset_value, lethality, P)
            d = d + cost[b, u] - cost[b, t]
            if d < db:
                kb, jb, db = e, u, d
    k_best[1], j_best[1], d_best[1] = kb, jb, db
    # rebattery: battery c takes engagement e's threat
    kb, jb, db = k_best[2], j_best[2], d_best[2]
    for e in range(e_lo, e_hi):
        b, t = eb[e], et[e]
        s_without = S[t] / f[b, t]
        for c in range(n_bat):
            if not (pk[c, t] > 0 and cap[c] >= s[t] and (not low[t] or free[c] >= s[t]) and b != c):
                continue
            d = W[t] * s_without * f[c, t] - W[t] * S[t]
            d = d + cost[c, t] - cost[b, t]
            if d < db:
                kb, jb, db = e, c, d
    k_best[2], j_best[2], d_best[2] = kb, jb, db
    # swap: engagements e1 < e2 exchange threats, when each battery may take the other's threat
    kb, jb, db = k_best[3], j_best[3], d_best[3]
    for e1 in range(e_lo, e_hi):
        b1, t1 = eb[e1], et[e1]
        for e2 in range(e1 + 1, n_eng):
            b2, t2 = eb[e2], et[e2]
            if not (pk[b1, t2] > 0 and pk[b2, t1] > 0 and b1 != b2 and t1 != t2
                    and cap[b1] >= s[t2] - s[t1] and cap[b2] >= s[t1] - s[t2]
                    and free[b1] >= s[t2] * low[t2] - s[t1] * low[t1]
                    and free[b2] >= s[t1] * low[t1] - s[t2] * low[t2]):
                continue
            n1 = S[t1] * f[b2, t1] / f[b1, t1]
            n2 = S[t2] * f[b1, t2] / f[b2, t2]
            d = _pair_delta(S, W, t1, n1, t2, n2, joint, asset, asset_value, lethality, P)
            d = d + cost[b1, t2] + cost[b2, t1] - cost[b1, t1] - cost[b2, t2]
            if d < db:
                kb, jb, db = e1, e2, d
    k_best[3], j_best[3], d_best[3] = kb, jb, db
    # add: battery b engages threat t (its change is −gain)
    kb, jb, db = k_best[4], j_best[4], d_best[4]
    for b in range(b_lo, b_hi):
        for t in range(n_thr):
            if not (pk[b, t] > 0 and cap[b] >= s[t] and (high_value[t] or free[b] >= s[t]) and left[t] > 0):
                continue
            g = W[t] * S[t] * (1.0 - f[b, t]) - cost[b, t]
            if -g < db:
                kb, jb, db = b, t, -g
    k_best[4], j_best[4], d_best[4] = kb, jb, db


def _state(p: AssignmentProblem, f: np.ndarray, eb: np.ndarray, et: np.ndarray) -> LossState:
    state = LossState(p)
    for b, t in zip(eb.tolist(), et.tolist()):
        state.set(t, state.S[t] * f[b, t])
    return state


def _budget(p: AssignmentProblem, eb: np.ndarray, et: np.ndarray) -> Budget:
    budget = Budget(p)
    for b, t in zip(eb.tolist(), et.tolist()):
        budget.commit(b, t)
    return budget


def _rebuild(p: AssignmentProblem, f: np.ndarray, eb: np.ndarray, et: np.ndarray):
    return _state(p, f, eb, et), _budget(p, eb, et)


def _reassign(p, f, state, budget, eb, et, tol, deadline=np.inf):
    """Reassign every engagement at once by a linear assignment over threat slots; None unless it improves.

    (None also if ``deadline`` comes before the matching is found.)

    Each engaged threat offers the slots its engagements now hold, and every
    threat that may take one more engagement offers one new slot.  Putting
    engagement ``e`` into slot ``(t, e')`` changes the loss by
    ``w_t · S_t / f_e' · (f[b_e, t] − 1)`` relative to leaving that slot empty
    (and into a new slot by ``w_t · S_t · (f[b_e, t] − 1)``): exact when each
    threat's slots change one at a time, as when weapons and threats pair one
    to one, where this finds the best pairing in one step that 2-exchanges
    cannot reach.  Elsewhere it is a proposal, kept only if the exact loss falls.
    Engagements keep their battery; a slot takes only engagements of its salvo size.
    The matching sees only each engagement's few best slots, each slot's few
    best engagements and every engagement's own slot (:func:`_slot_graph`).
    """
    E = eb.size
    if E < 2 or time.perf_counter() >= deadline:
        return None
    open_t = np.flatnonzero(budget.left > 0)
    slot_t = np.concatenate([et, open_t])
    indptr, slots, gains = _slot_graph(f, p.pk, p.salvo, p.high_value, budget.free, state.S, state.weight(), eb, et,
                                       slot_t, min(LAP_CANDIDATES, slot_t.size), min(LAP_CANDIDATES, E))
    matched = _match_pairs(indptr, slots, gains, slot_t.size, deadline)
    if matched is None:  # the deadline came first
        return None
    rows, cols = matched
    new_t = et.copy()
    new_t[rows] = slot_t[cols]
    if np.array_equal(new_t, et):
        return None
    old_loss = p.loss(state.S)
    state2, budget2 = _rebuild(p, f, eb, new_t)
    if (budget2.cap < 0).any() or (budget2.free < 0).any() or (budget2.left < 0).any():
        return None
    if not p.loss(state2.S) < old_loss - tol:
        return None
    return eb, new_t, state2, budget2


def match_slots(cost: np.ndarray, deadline: float = np.inf) -> tuple[np.ndarray, np.ndarray] | None:
    """Least-cost matching of every row (engagement) to its own column (slot); ``inf`` forbids a pair.

    Shortest augmenting paths on the allowed pairs alone (:func:`_add_rows`):
    the algorithm of scipy's dense ``linear_sum_assignment`` (Crouse 2016),
    step for step and tie for tie, so it returns the same matching, and it
    looks at the clock every few rows: None if ``deadline``
    (:func:`time.perf_counter`) came first.  Rows must not outnumber
    columns, and a full matching must exist (the reassignment always allows
    each engagement its own slot).  Returns (rows, columns) of the matched
    pairs, rows ascending.
    """
    n_cols = cost.shape[1]
    ok = np.isfinite(cost)
    _rows, cols = np.nonzero(ok)
    indptr = np.concatenate(([0], np.cumsum(np.count_nonzero(ok, axis=1))))
    return _match_pairs(indptr, cols, cost[ok], n_cols, deadline)


def _match_pairs(indptr: np.ndarray, cols: np.ndarray, edge_cost: np.ndarray, n_cols: int,
                 deadline: float = np.inf) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`match_slots` on the allowed pairs given row by row (CSR: ``indptr``, ``cols``, ``edge_cost``)."""
    n_rows = indptr.size - 1
    state = _match_state(n_rows, n_cols)
    chunk = max(n_rows, 1) if deadline == np.inf else 16
    for start in range(0, n_rows, chunk):
        if start and time.perf_counter() >= deadline:
            return None
        if not _add_rows(*((indptr, cols, edge_cost) + state + (start, min(start + chunk, n_rows)))):
            raise ValueError("cost matrix is infeasible")
    return np.arange(n_rows), state[4]


@njit(cache=True, error_model="numpy")
def _slot_graph(f, pk, salvo, high_value, free, S, w, eb, et, slot_t, k_row, k_col):  # pragma: no cover - compiled
    """The reassignment's proposals, row by row (CSR): ``(indptr, slots, gains)``.

    Slot j is engagement j's own for j < E (its threat survives without it
    with S_t / f_j), a new one on ``slot_t[j]`` beyond (survival S_t).
    Engagement e may take slot j if its battery can hit the slot's threat, the
    salvo sizes agree and, for a threat that is not high-value, the battery
    has rounds outside its reserve; the gain is
    ``w_t · base_j · (f[b_e, t] − 1)``.  Offered: every gain at most the row's
    ``k_row``-th least, every gain at most the column's ``k_col``-th least,
    and each engagement's own slot.  Ties at the cut are all offered, so the
    graph depends on the gains alone, not on a selection's internal order.
    """
    E, n_slots = eb.shape[0], slot_t.shape[0]
    wb, slot_salvo, slot_high = np.empty(n_slots), salvo[slot_t], high_value[slot_t]
    for j in range(n_slots):
        t = slot_t[j]
        wb[j] = w[t] * (S[t] / f[eb[j], t] if j < E else S[t])
    gain = np.empty((E, n_slots))
    for e in range(E):
        b, s_e = eb[e], salvo[et[e]]
        reserve_ok = not high_value[et[e]] or free[b] >= s_e  # its rounds may go to a threat not high-value
        for j in range(n_slots):
            t = slot_t[j]
            ok = (pk[b, t] > 0) & (slot_salvo[j] == s_e) & (slot_high[j] | reserve_ok)
            gain[e, j] = wb[j] * (f[b, t] - 1.0) if ok | (e == j) else np.inf
    # The k-th least of each row and each column, by insertion into the k least seen so far.
    row_cut, row_least = np.empty(E), np.empty(k_row)
    col_least, col_seen = np.empty((n_slots, k_col)), np.zeros(n_slots, dtype=np.int64)
    for e in range(E):
        seen = 0
        for j in range(n_slots):
            g = gain[e, j]
            seen = _keep_least(row_least, seen, g)
            col_seen[j] = _keep_least(col_least[j], col_seen[j], g)
        row_cut[e] = row_least[k_row - 1]
    col_cut = col_least[:, k_col - 1]
    indptr = np.zeros(E + 1, dtype=np.int64)
    slots = np.empty(E * n_slots, dtype=np.int64)
    gains = np.empty(E * n_slots)
    n = 0
    for e in range(E):
        for j in range(n_slots):
            g = gain[e, j]
            if e == j or (g < np.inf and (g <= row_cut[e] or g <= col_cut[j])):
                slots[n], gains[n] = j, g
                n += 1
        indptr[e + 1] = n
    return indptr, slots[:n], gains[:n]


@njit(cache=True, inline="always")
def _keep_least(least, n, value):
    """Insert ``value`` into ``least``, the ascending k least of the n values seen so far; the new n."""
    k = least.shape[0]
    if n < k:
        i = n
        n += 1
    elif value < least[k - 1]:
        i = k - 1
    else:
        return n
    while i > 0 and least[i - 1] > value:
        least[i] = least[i - 1]
        i -= 1
    least[i] = value
    return n


def _match_state(n_rows: int, n_cols: int) -> tuple:
    """The arrays :func:`_add_rows` carries from row to row."""
    return (np.zeros(n_rows), np.zeros(n_cols), np.full(n_cols, np.inf), np.full(n_cols, -1, dtype=np.int64),
            np.full(n_rows, -1, dtype=np.int64), np.full(n_cols, -1, dtype=np.int64), np.zeros(n_cols, dtype=np.bool_),
            np.empty(n_cols),
            np.empty(n_cols, dtype=np.int64), np.empty(n_cols, dtype=np.int64), np.empty(n_cols, dtype=np.int64),
            np.empty(n_rows, dtype=np.int64), np.empty(n_cols, dtype=np.int64), np.empty(n_cols, dtype=np.int64),
            np.full(n_cols, -1, dtype=np.int64))


@njit(cache=True)
def _add_rows(indptr, indices, cost, u, v, spc, path, col4row, row4col, in_sc, done, remaining, pos, touched, sr, tied,
              heap, at, start, stop):  # pragma: no cover - compiled; checked against scipy in the tests
    """Add rows ``start`` to ``stop`` to the matching of the rows before them; False if one cannot be matched.

    ``indptr``, ``indices``, ``cost``: the allowed pairs row by row (CSR).
    Each row adds the shortest augmenting path from it (Dijkstra on reduced
    costs ``c − u_i − v_j``, with row and column potentials u and v, the
    columns reached but not yet scanned kept in a binary heap on ``spc``,
    ``heap``, where column j sits at ``at[j]``), then the potentials are
    updated and the path flipped.  Among columns at the least distance the
    search prefers a free one, and otherwise takes them in the order of a
    list of unscanned columns that starts in reverse column order and fills
    each scanned column's place with its last entry: the order in which the
    dense version scans, so the two take the same path at every tie.
    A scanned column's distance moves to ``done`` and its ``spc`` to −inf, so
    that no edge can lower it.  ``spc`` (shortest path costs, inf), ``in_sc``
    and ``at`` (−1) are left as they came; the other work arrays need no
    contents.
    """
    n_cols = v.shape[0]
    for cur in range(start, stop):
        for it in range(n_cols):
            remaining[it] = n_cols - it - 1
            pos[n_cols - it - 1] = it
        n_rem, n_touched, n_sr, n_heap = n_cols, 0, 0, 0
        min_val = 0.0
        i, sink = cur, -1
        while sink == -1:
            sr[n_sr] = i
            n_sr += 1
            u_i = u[i]
            for e in range(indptr[i], indptr[i + 1]):
                j = indices[e]
                r = min_val + cost[e] - u_i - v[j]
                if r < spc[j]:  # never for a scanned column, whose spc is −inf until the row is added
                    if spc[j] == np.inf:
                        touched[n_touched] = j
                        n_touched += 1
                        heap[n_heap] = j
                        at[j] = n_heap
                        n_heap += 1
                    path[j] = i
                    spc[j] = r
                    k = at[j]  # sift up (written out: a call would count references to the arrays)
                    while k > 0 and spc[heap[(k - 1) // 2]] > r:
                        heap[k] = heap[(k - 1) // 2]
                        at[heap[k]] = k
                        k = (k - 1) // 2
                    heap[k] = j
                    at[j] = k
            if n_heap == 0:  # no augmenting path: no full matching
                return False
            # The columns at the least distance sit at the top of the heap: walk them. On a tie, the dense
            # scan's choice: the free column scanned last, else the first scanned.
            lowest = spc[heap[0]]
            first, last_free = -1, -1
            tied[0] = 0
            n_stack = 1
            while n_stack > 0:
                n_stack -= 1
                k = tied[n_stack]
                j = heap[k]
                if first < 0 or pos[j] < pos[first]:
                    first = j
                if row4col[j] == -1 and (last_free < 0 or pos[j] > pos[last_free]):
                    last_free = j
                for child in range(2 * k + 1, min(2 * k + 3, n_heap)):
                    if spc[heap[child]] == lowest:
                        tied[n_stack] = child
                        n_stack += 1
            j = last_free if last_free >= 0 else first
            # Take j out of the heap: the last column takes its place and sifts up or down.
            k = at[j]
            at[j] = -1
            n_heap -= 1
            if k < n_heap:
                last = heap[n_heap]
                key = spc[last]
                while k > 0 and spc[heap[(k - 1) // 2]] > key:
                    heap[k] = heap[(k - 1) // 2]
                    at[heap[k]] = k
                    k = (k - 1) // 2
                while 2 * k + 1 < n_heap:
                    child = 2 * k + 1
                    if child + 1 < n_heap and spc[heap[child + 1]] < spc[heap[child]]:
                        child += 1
                    if spc[heap[child]] >= key:
                        break
                    heap[k] = heap[child]
                    at[heap[k]] = k
                    k = child
                heap[k] = last
                at[last] = k
            min_val = lowest
            if row4col[j] == -1:
                sink = j
            else:
                i = row4col[j]
            in_sc[j] = True
            done[j], spc[j] = lowest, -np.inf
            n_rem -= 1
            moved = remaining[n_rem]
            remaining[pos[j]] = moved
            pos[moved] = pos[j]
        u[cur] += min_val
        for k in range(n_sr):
            i = sr[k]
            if i != cur:
                u[i] += min_val - done[col4row[i]]
        for k in range(n_touched):
            j = touched[k]
            if in_sc[j]:
                v[j] -= min_val - done[j]
        j = sink
        while True:
            i = path[j]
            row4col[j] = i
            col4row[i], j = j, col4row[i]
            if i == cur:
                break
        for k in range(n_heap):
            at[heap[k]] = -1
        for k in range(n_touched):
            j = touched[k]
            in_sc[j] = False
            spc[j] = np.inf
    return True


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
