"""The weapon-target assignment interface.

Every solver takes one :class:`AssignmentProblem` (batteries × threats, as
arrays) and returns an :class:`Assignment`.  Solvers are chosen by name from
the scenario (``c2.assignment.solver``) through :data:`SOLVERS`.

The model
---------
An *engagement* is one battery firing a salvo of ``salvo[t]`` rounds at
threat ``t``.  Threat ``t`` survives it with probability

    f[b, t] = (1 − pk[b, t])^salvo[t] · (1 − followup_pk[b, t])

where ``followup_pk`` is the chance that a later layer still kills a survivor
(shoot-look-shoot; 0 under fire-all).  With ``survival[t]`` the chance it
survives what is already in flight, threat ``t`` survives an assignment with

    S[t] = survival[t] · Π_engagements f[b, t].

Two objectives (both *minimised* as an expected loss, plus the cost of the
rounds fired, ``cost[b]`` value points per round):

- ``target``: the expected value of surviving threats, Σ value[t] · S[t]
  (the static WTA of Manne 1958 and den Broeder et al. 1959);
- ``asset``: the expected value of defended assets lost,
  Σ_a asset_value[a] · (1 − Π_{t aimed at a} (1 − lethality[t] · S[t]))
  (the asset-based WTA of Hosein & Athans 1990).

``Assignment.objective`` is the expected value saved net of cost: the loss
with no engagement minus the loss of the assignment.

Constraints every solver keeps (:func:`violations` checks them):
- a pair may be engaged only where ``pk > 0`` (envelope, time window and the
  layer's eligibility by threat class are folded into ``pk`` by the caller);
- rounds fired by a battery ≤ ``capacity`` (ready launchers and magazine);
- rounds fired at threats that are not ``high_value`` ≤ ``capacity − reserved``
  (the magazine reserve);
- engagements per threat ≤ ``max_engagements`` (the cap on shots per threat).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tdome.c2.config import OBJECTIVES

MAX_LETHALITY = 0.999  # keeps the asset objective's per-threat factors invertible
# Every solver returns within its time limit plus this.  The local search and the greedy look at the clock
# between steps of well under a millisecond at 600 × 300; the exact solver stops its HiGHS process at the
# deadline (:mod:`.exact`): the most measured past the limit was 50 ms (``benchmarks/wta.py``, 2 cores).
DEADLINE_MARGIN_S = 0.1


@dataclass(init=False)
class AssignmentProblem:
    """One cycle's static assignment: which battery fires how many rounds at which threat.

    The arrays a caller may leave out (``survival``, ``followup_pk``,
    ``max_engagements``) are filled with their defaults on construction, so
    they are always arrays afterwards; the asset terms are set under the
    ``asset`` objective only (:meth:`asset_terms`).
    """

    value: np.ndarray  # (T,) value at risk of each threat (target objective)
    pk: np.ndarray  # (B, T) single-shot kill probability, 0 where infeasible
    salvo: np.ndarray  # (T,) rounds per engagement
    cost: np.ndarray  # (B,) cost of one round, in value points (cost weight applied)
    capacity: np.ndarray  # (B,) rounds that may be fired now
    reserved: np.ndarray  # (B,) of the capacity, rounds held back for high-value threats
    high_value: np.ndarray  # (T,) bool: may use reserved rounds
    survival: np.ndarray  # (T,) probability the threat survives shots already in flight (default 1)
    followup_pk: np.ndarray  # (B, T) kill probability of a later look-shot if this one fails (default 0)
    max_engagements: np.ndarray  # (T,) engagements allowed this cycle (default 1)
    objective: str
    asset: np.ndarray | None  # (T,) index into asset_value of the asset each threat endangers, -1 none
    asset_value: np.ndarray | None  # (A,) value of each defended asset
    lethality: np.ndarray | None  # (T,) probability a threat that arrives destroys its asset

    def __init__(self, value: np.ndarray, pk: np.ndarray, salvo: np.ndarray, cost: np.ndarray,
                 capacity: np.ndarray, reserved: np.ndarray, high_value: np.ndarray,
                 survival: np.ndarray | None = None, followup_pk: np.ndarray | None = None,
                 max_engagements: np.ndarray | None = None, objective: str = "target",
                 asset: np.ndarray | None = None, asset_value: np.ndarray | None = None,
                 lethality: np.ndarray | None = None) -> None:
        T = value.shape[0]
        self.value = np.asarray(value, dtype=float)
        self.pk = np.asarray(pk, dtype=float).reshape(-1, T)
        self.salvo = np.asarray(salvo, dtype=int)
        self.cost = np.asarray(cost, dtype=float)
        self.capacity = np.asarray(capacity, dtype=int)
        self.reserved = np.asarray(reserved, dtype=int)
        self.high_value = np.asarray(high_value, dtype=bool)
        self.survival = np.ones(T) if survival is None else np.asarray(survival, dtype=float)
        self.followup_pk = np.zeros_like(self.pk) if followup_pk is None else np.asarray(followup_pk, float)
        self.max_engagements = (np.ones(T, dtype=int) if max_engagements is None
                                else np.asarray(max_engagements, dtype=int))
        self.objective = objective
        self.asset, self.asset_value, self.lethality = asset, asset_value, lethality
        if objective not in OBJECTIVES:
            raise ValueError(f"objective {objective!r}: must be one of {', '.join(OBJECTIVES)}")
        if objective == "asset":
            if asset is None or asset_value is None:
                raise ValueError("the asset objective needs asset and asset_value")
            self.asset = np.asarray(asset, dtype=int)
            self.asset_value = np.asarray(asset_value, dtype=float)
            self.lethality = (np.full(T, MAX_LETHALITY) if lethality is None
                              else np.clip(np.asarray(lethality, dtype=float), 0.0, MAX_LETHALITY))

    @property
    def shape(self) -> tuple[int, int]:
        return self.pk.shape

    def survival_factor(self) -> np.ndarray:
        """(B, T) probability a threat survives one engagement from each battery (1 where infeasible)."""
        miss = 1.0 - np.clip(self.pk, 0.0, 1.0 - 1e-9)
        several = self.salvo != 1  # a power of one is the number itself: the power is taken where it is not
        if several.any():
            miss[:, several] **= self.salvo[None, several]
        f = miss * (1.0 - np.clip(self.followup_pk, 0.0, 1.0 - 1e-9))
        return np.where(self.pk > 0, f, 1.0)

    def free(self) -> np.ndarray:
        """(B,) rounds that threats which are not high-value may use."""
        return np.maximum(self.capacity - self.reserved, 0)

    def loss(self, S: np.ndarray) -> float:
        """Expected loss (without cost) when threats survive with probabilities ``S``."""
        if self.objective == "target":
            return float(np.dot(self.value, S))
        _asset, asset_value, _lethality = self.asset_terms()
        return float(np.dot(asset_value, 1.0 - self.asset_survival(S)))

    def asset_terms(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(asset, asset_value, lethality)``: set on construction under the asset objective only."""
        if self.asset is None or self.asset_value is None or self.lethality is None:
            raise ValueError("the asset terms are set under the asset objective only")
        return self.asset, self.asset_value, self.lethality

    def asset_survival(self, S: np.ndarray) -> np.ndarray:
        """(A,) probability each asset survives (asset objective)."""
        asset, asset_value, lethality = self.asset_terms()
        P = np.ones(len(asset_value))
        m = asset >= 0
        np.multiply.at(P, asset[m], 1.0 - lethality[m] * S[m])
        return P


@dataclass
class Assignment:
    battery: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    threat: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    rounds: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    objective: float = 0.0  # expected value saved, net of cost
    loss: float = 0.0  # expected loss plus cost: what the solvers minimise
    loss_bound: float | None = None  # proven lower bound on the optimal loss (exact solver)
    gap: float | None = None  # (loss − loss_bound) / loss, when a bound is known
    proven: bool = False  # the gap is within the solver's optimality tolerance
    solve_s: float = 0.0
    timed_out: bool = False  # stopped by its time limit before its own end (the result then depends on speed)


def evaluate_engagements(problem: AssignmentProblem, battery, threat,
                         f: np.ndarray | None = None) -> tuple[float, float]:
    """Independent evaluation of a list of engagements: (expected loss + cost, value saved net of cost).

    ``f``: the problem's :meth:`~AssignmentProblem.survival_factor`, if the caller holds it.
    """
    battery, threat = np.asarray(battery, dtype=int), np.asarray(threat, dtype=int)
    f = problem.survival_factor() if f is None else f
    S = problem.survival.copy()
    np.multiply.at(S, threat, f[battery, threat])
    spent = float(np.sum(problem.cost[battery] * problem.salvo[threat]))
    base = problem.loss(problem.survival)
    lost = problem.loss(S)
    return lost + spent, base - lost - spent


def finish(problem: AssignmentProblem, battery, threat, f: np.ndarray | None = None, **extra) -> Assignment:
    """An :class:`Assignment` with its rounds and its objective evaluated from scratch.

    ``f``: the problem's :meth:`~AssignmentProblem.survival_factor`, if the caller holds it.
    """
    battery, threat = np.asarray(battery, dtype=int), np.asarray(threat, dtype=int)
    order = np.lexsort((threat, battery))
    battery, threat = battery[order], threat[order]
    loss, saved = evaluate_engagements(problem, battery, threat, f)
    return Assignment(battery=battery, threat=threat, rounds=problem.salvo[threat].astype(int), objective=saved,
                      loss=loss, **extra)


def violations(problem: AssignmentProblem, a: Assignment) -> list[str]:
    """Every constraint the assignment breaks, in words (empty when it is feasible)."""
    p = problem
    out = []
    B, T = p.shape
    b, t, r = np.asarray(a.battery, int), np.asarray(a.threat, int), np.asarray(a.rounds, int)
    if b.size and (b.min() < 0 or b.max() >= B or t.min() < 0 or t.max() >= T):
        return ["engagement index out of range"]
    for i in np.flatnonzero(p.pk[b, t] <= 0):
        out.append(f"battery {b[i]} cannot engage threat {t[i]} (pk 0: out of envelope, window or class)")
    for i in np.flatnonzero(r != p.salvo[t]):
        out.append(f"engagement {b[i]}->{t[i]} fires {r[i]} rounds, salvo is {p.salvo[t[i]]}")
    used = np.bincount(b, weights=r, minlength=B)
    for i in np.flatnonzero(used > p.capacity):
        out.append(f"battery {i} fires {used[i]:.0f} rounds, capacity {p.capacity[i]}")
    low = ~p.high_value[t]
    used_low = np.bincount(b[low], weights=r[low], minlength=B)
    for i in np.flatnonzero(used_low > p.free()):
        out.append(f"battery {i} fires {used_low[i]:.0f} rounds at low-value threats, "
                   f"{p.free()[i]} outside the reserve")
    per = np.bincount(t, minlength=T)
    for i in np.flatnonzero(per > p.max_engagements):
        out.append(f"threat {i} engaged {per[i]} times, at most {p.max_engagements[i]}")
    return out


Solver = Callable[..., Assignment]
SOLVERS: dict[str, Solver] = {}


def register(name: str):
    def deco(fn: Solver) -> Solver:
        SOLVERS[name] = fn
        return fn

    return deco


class LossState:
    """Survival of each threat under a growing list of engagements, and what a change would do to the loss.

    Shared by the greedy and the local search: ``weight(cols)`` is the
    derivative of the loss in each threat's survival with the others held
    (the loss is affine in each one), so a single threat's change costs
    ``weight · ΔS``; :meth:`pair_delta` is exact for two threats changing at once.
    """

    def __init__(self, problem: AssignmentProblem):
        self.p = problem
        self.S = problem.survival.astype(float).copy()
        self.target = problem.objective == "target"
        if not self.target:
            # The asset terms, held here as arrays: read only when not self.target.
            self.asset, self.asset_value, self.lethality = problem.asset_terms()
            self.P = problem.asset_survival(self.S)

    def weight(self, cols=slice(None)) -> np.ndarray:
        if self.target:
            return self.p.value[cols]
        g, lam, S = self.asset[cols], self.lethality[cols], self.S[cols]
        if self.asset_value.size == 0:
            return np.zeros(np.shape(g))
        gi = np.where(g >= 0, g, 0)
        w = self.asset_value[gi] * lam * self.P[gi] / (1.0 - lam * S)
        return np.where(g >= 0, w, 0.0)

    def set(self, t: int, s_new: float) -> None:
        if not self.target and self.asset[t] >= 0:
            g, lam = self.asset[t], self.lethality[t]
            self.P[g] *= (1.0 - lam * s_new) / (1.0 - lam * self.S[t])
        self.S[t] = s_new

    def group_of(self, t: int) -> np.ndarray:
        """Threats whose weight changes when threat ``t``'s survival does."""
        if self.target or self.asset[t] < 0:
            return np.array([t])
        return np.flatnonzero(self.asset == self.asset[t])

    def pair_delta(self, t1, s1, t2, s2) -> np.ndarray:
        """Loss change when threats ``t1`` and ``t2`` (distinct, arrays) take survivals ``s1`` and ``s2``."""
        S = self.S
        d1, d2 = s1 - S[t1], s2 - S[t2]
        single = self.weight(t1) * d1 + self.weight(t2) * d2
        if self.target or self.asset_value.size == 0:
            return single
        g1, g2 = self.asset[t1], self.asset[t2]
        same = (g1 == g2) & (g1 >= 0)
        l1, l2 = self.lethality[t1], self.lethality[t2]
        old = (1.0 - l1 * S[t1]) * (1.0 - l2 * S[t2])
        new = (1.0 - l1 * s1) * (1.0 - l2 * s2)
        gs = np.where(same, g1, 0)
        joint = self.asset_value[gs] * self.P[gs] * (1.0 - new / old)
        return np.where(same, joint, single)
