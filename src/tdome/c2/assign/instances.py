"""Random static WTA instances of the kind the literature benchmarks on.

``standard``: W weapons and T targets, each weapon a battery of one round,
kill probabilities uniform in [0.6, 0.9] and target values uniform in
[25, 100] (Ahuja et al., Operations Research 55(6), 2007, and the papers
that reuse their generator).  ``hard``: kill probabilities uniform in (0, 1),
which makes the best assignment far less regular.  ``surplus``: as hard, but
each weapon holds 1 to 3 rounds (uniform), the multi-round weapons of the
literature's larger instances; meant for more weapons than targets.  No
cost, no reserve, no cap on weapons per target: the pure target-based
problem.
"""

from __future__ import annotations

import numpy as np

from tdome.c2.assign.base import AssignmentProblem

FAMILIES = ("standard", "hard", "surplus")


def random_wta(rng: np.random.Generator, weapons: int, targets: int, family: str = "standard") -> AssignmentProblem:
    if family == "standard":
        pk = rng.uniform(0.6, 0.9, (weapons, targets))
    elif family in ("hard", "surplus"):
        pk = rng.uniform(np.nextafter(0.0, 1.0), 1.0, (weapons, targets))
    else:
        raise ValueError(f"family {family!r}: must be one of {', '.join(FAMILIES)}")
    value = rng.uniform(25.0, 100.0, targets)
    rounds = rng.integers(1, 4, weapons) if family == "surplus" else np.ones(weapons, dtype=int)
    return AssignmentProblem(
        value=value,
        pk=pk,
        salvo=np.ones(targets, dtype=int),
        cost=np.zeros(weapons),
        capacity=rounds,
        reserved=np.zeros(weapons, dtype=int),
        high_value=np.ones(targets, dtype=bool),
        max_engagements=np.full(targets, int(rounds.sum()), dtype=int),
    )
