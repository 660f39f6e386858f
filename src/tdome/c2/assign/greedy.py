"""Maximum-marginal-return greedy weapon-target assignment.

Repeatedly commit the engagement with the largest net expected gain, then
update the engaged threat's survival probability and the battery's rounds,
until no engagement gains anything (den Broeder, Ellison & Emerling, "On
optimum target assignments", Operations Research 7(3), 1959; Ahuja et al.,
"Exact and heuristic algorithms for the weapon-target assignment problem",
Operations Research 55(6), 2007, §4 for the marginal-return rule).

Each commit changes one battery row and one threat column of the gain
matrix, so only those are recomputed: O((B + T)) work per commit after an
O(B·T) start.
"""

from __future__ import annotations

import numpy as np

from tdome.c2.assign.base import Assignment, AssignmentProblem, engagement_gain, register


@register("greedy")
def solve_greedy(problem: AssignmentProblem) -> Assignment:
    p = problem
    B, T = p.pk.shape
    if B == 0 or T == 0:
        return Assignment()
    q = p.survival.astype(float).copy()
    cap = p.capacity.astype(int).copy()
    free = np.maximum(cap - p.reserved.astype(int), 0)
    left = p.max_engagements.astype(int).copy()
    salvo = p.salvo.astype(int)

    def feasible(rows=slice(None), cols=slice(None)):
        s = salvo[cols]
        ok = p.pk[rows, cols] > 0
        c = cap[rows]
        f = free[rows]
        if np.ndim(c):
            c, f = c[:, None], f[:, None]
        ok &= c >= s
        ok &= p.high_value[cols] | (f >= s)
        ok &= left[cols] > 0
        return ok

    gain = np.where(feasible(), engagement_gain(p, q), -np.inf)
    chosen_b, chosen_t, chosen_r = [], [], []
    total = 0.0
    while True:
        k = int(np.argmax(gain))
        b, t = divmod(k, T)
        g = gain[b, t]
        if not g > 0.0:
            break
        s = int(salvo[t])
        chosen_b.append(b)
        chosen_t.append(t)
        chosen_r.append(s)
        total += float(g)
        q[t] *= (1.0 - p.pk[b, t]) ** s
        cap[b] -= s
        free[b] = max(cap[b] - int(p.reserved[b]), 0)
        left[t] -= 1
        col, row = slice(t, t + 1), slice(b, b + 1)
        gain[:, col] = np.where(feasible(cols=col), engagement_gain(p, q, cols=col), -np.inf)
        gain[row, :] = np.where(feasible(rows=row), engagement_gain(p, q, rows=row), -np.inf)
    return Assignment(
        battery=np.array(chosen_b, dtype=int),
        threat=np.array(chosen_t, dtype=int),
        rounds=np.array(chosen_r, dtype=int),
        objective=total,
    )

