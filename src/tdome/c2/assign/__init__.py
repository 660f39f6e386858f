"""Weapon-target assignment solvers behind one interface (see :mod:`.base`)."""

from tdome.c2.assign import greedy  # noqa: F401  (registers the solver)
from tdome.c2.assign.base import SOLVERS, Assignment, AssignmentProblem, engagement_gain

__all__ = ["SOLVERS", "Assignment", "AssignmentProblem", "engagement_gain"]
