"""Maximum-marginal-return greedy weapon-target assignment.

Repeatedly commit the engagement with the largest net expected gain, then
update the engaged threat's survival probability and the battery's rounds,
until no engagement gains anything (den Broeder, Ellison & Emerling, "On
optimum target assignments", Operations Research 7(3), 1959; Ahuja et al.,
"Exact and heuristic algorithms for the weapon-target assignment problem",
Operations Research 55(6), 2007, §4 for the marginal-return rule).

Each commit changes one battery row and the engaged threat's column (under
the asset objective, the columns of every threat aimed at the same asset) of
the gain matrix, so only those are recomputed.
"""

from __future__ import annotations

import time

import numpy as np

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
                       battery: list[int], threat: list[int]) -> None:
    """Append the marginal-return greedy's engagements to ``battery``/``threat``, updating state and budget."""
    _B, T = p.shape
    cost = p.cost[:, None] * p.salvo[None, :]
    kill = 1.0 - f

    gain = np.where(budget.feasible(), state.weight() * state.S * kill - cost, -np.inf)
    while gain.size:
        k = int(np.argmax(gain))
        b, t = divmod(k, T)
        if not gain[b, t] > 0.0:
            break
        battery.append(b)
        threat.append(t)
        state.set(t, state.S[t] * f[b, t])
        budget.commit(b, t)
        # Only the engaged threat's column (its asset's columns under the asset
        # objective) and the firing battery's row change.
        g = state.group_of(t)
        gain[:, g] = np.where(budget.feasible(cols=g), state.weight(g) * state.S[g] * kill[:, g] - cost[:, g], -np.inf)
        gain[b] = np.where(budget.feasible(rows=b), state.weight() * state.S * kill[b] - cost[b], -np.inf)


@register("greedy")
def solve_greedy(problem: AssignmentProblem, time_limit_s: float | None = None) -> Assignment:
    t0 = time.perf_counter()
    B, T = problem.shape
    if B == 0 or T == 0:
        return Assignment()
    battery: list[int] = []
    threat: list[int] = []
    greedy_engagements(problem, LossState(problem), Budget(problem), problem.survival_factor(), battery, threat)
    return finish(problem, battery, threat, solve_s=time.perf_counter() - t0)
