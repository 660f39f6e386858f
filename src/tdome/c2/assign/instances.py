"""Random static WTA instances of the kind the literature benchmarks on.

``standard``: W weapons and T targets, each weapon a battery of one round,
kill probabilities uniform in [0.6, 0.9] and target values uniform in
[25, 100] (Ahuja et al., Operations Research 55(6), 2007, and the papers
that reuse their generator).  ``hard``: kill probabilities uniform in (0, 1),
which makes the best assignment far less regular.  No cost, no reserve, no
cap on weapons per target: the pure target-based problem.
"""

from __future__ import annotations

import numpy as np

from tdome.c2.assign.base import AssignmentProblem

FAMILIES = ("standard", "hard")


def random_wta(rng: np.random.Generator, weapons: int, targets: int, family: str = "standard") -> AssignmentProblem:
    if family == "standard":
        pk = rng.uniform(0.6, 0.9, (weapons, targets))
    elif family == "hard":
        pk = rng.uniform(np.nextafter(0.0, 1.0), 1.0, (weapons, targets))
    else:
        raise ValueError(f"family {family!r}: must be one of {', '.join(FAMILIES)}")
    return AssignmentProblem(
        value=rng.uniform(25.0, 100.0, targets),
        pk=pk,
        salvo=np.ones(targets, dtype=int),
        cost=np.zeros(weapons),
        capacity=np.ones(weapons, dtype=int),
        reserved=np.zeros(weapons, dtype=int),
        high_value=np.ones(targets, dtype=bool),
        max_engagements=np.full(targets, weapons, dtype=int),
    )
