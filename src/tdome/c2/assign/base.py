"""The weapon-target assignment interface.

Every solver takes one :class:`AssignmentProblem` (batteries × threats, as
arrays) and returns an :class:`Assignment`.  Solvers are chosen by name from
the scenario (``c2.assignment.solver``) through :data:`SOLVERS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass
class AssignmentProblem:
    """One cycle's static assignment: which battery fires how many rounds at which threat.

    Engaging threat ``t`` from battery ``b`` fires ``salvo[t]`` rounds, each
    killing independently with ``pk[b, t]`` (0 = not feasible now).  The
    expected value saved by that engagement is ``value[t] · q[t] · (1 − (1 −
    pk)^salvo)`` plus, under shoot-look-shoot, the chance that a later layer
    kills a survivor (``followup_pk[b, t]``), minus ``cost_weight ·
    cost[b] · salvo[t]``.
    """

    value: np.ndarray  # (T,) value at risk
    pk: np.ndarray  # (B, T) single-shot kill probability, 0 where infeasible
    salvo: np.ndarray  # (T,) rounds per engagement
    cost: np.ndarray  # (B,) cost of one round, in value points (cost weight applied)
    capacity: np.ndarray  # (B,) rounds that may be fired now
    reserved: np.ndarray  # (B,) of the capacity, rounds held back for high-value threats
    high_value: np.ndarray  # (T,) bool: may use reserved rounds
    survival: np.ndarray | None = None  # (T,) probability the threat survives shots already in flight
    followup_pk: np.ndarray | None = None  # (B, T) kill probability of a later look-shot if this one fails
    max_engagements: np.ndarray | None = None  # (T,) engagements allowed this cycle

    def __post_init__(self) -> None:
        T = self.value.shape[0]
        if self.survival is None:
            self.survival = np.ones(T)
        if self.followup_pk is None:
            self.followup_pk = np.zeros_like(self.pk)
        if self.max_engagements is None:
            self.max_engagements = np.ones(T, dtype=int)


@dataclass
class Assignment:
    battery: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    threat: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    rounds: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    objective: float = 0.0  # expected net value saved


def engagement_gain(problem: AssignmentProblem, q: np.ndarray, rows=slice(None), cols=slice(None)) -> np.ndarray:
    """Net expected gain of one engagement given current survival ``q`` (T,), for a block of the (B, T) matrix."""
    salvo = problem.salvo[cols]
    miss = (1.0 - problem.pk[rows, cols]) ** salvo
    saved = 1.0 - miss + miss * problem.followup_pk[rows, cols]
    return problem.value[cols] * q[cols] * saved - problem.cost[rows, None] * salvo


Solver = Callable[[AssignmentProblem], Assignment]
SOLVERS: dict[str, Solver] = {}


def register(name: str):
    def deco(fn: Solver) -> Solver:
        SOLVERS[name] = fn
        return fn

    return deco
