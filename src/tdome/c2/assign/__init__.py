"""Weapon-target assignment solvers behind one interface (see :mod:`.base`).

- ``greedy``: maximum marginal return;
- ``local_search``: greedy, then a best-improvement local search within a time budget;
- ``exact``: mixed-integer programme on HiGHS with a proven bound and gap.
"""

from tdome.c2.assign import exact, greedy, local  # noqa: F401  (register the solvers)
from tdome.c2.assign.base import SOLVERS, Assignment, AssignmentProblem, evaluate_engagements, violations

__all__ = ["SOLVERS", "Assignment", "AssignmentProblem", "evaluate_engagements", "violations"]
