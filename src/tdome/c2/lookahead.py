"""Looking ahead: what a round fired now would be worth against the threats still to come.

The static assignment of a cycle decides as if the raid ended now.  A fixed
reserve per layer is one answer to that; this is another, a bid price
(the opportunity cost of revenue management, Talluri & van Ryzin, *The
Theory and Practice of Revenue Management*, 2004, ch. 3; Bertsimas &
Popescu 2003): each battery's next round costs, on top of its price, what it
would save later.

The C2 knows the future only from an intelligence estimate
(``c2.intel``): groups of threats of one class aimed at one defended asset,
a count with its uncertainty, and the time after which they are expected.
A group whose time has come is no longer future: its threats are in the
picture, and the cycle's own problem holds them.  For the groups still to
come, the later battle is a static assignment too: every battery with the
rounds it will have (its magazine, less what is promised), every expected
threat worth its asset's value, engaged by the batteries whose layer can
kill its class and whose interceptor reaches the asset.  Its expected loss
L(R) is taken by the greedy over a few counts drawn at the normal's deciles
10, 30, 50, 70 and 90 (each standing for a fifth of the distribution).  A
round of battery b is then worth

    λ_b = L(R − e_b) − L(R)

(the value the later battle loses if b has one round fewer, net of that
round's own cost), and the cycle's problem charges it per round fired, so a
round an inner layer will need later is held back by its value: when the
magazines exceed the expected demand it costs nothing, and it costs more as
they run down.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tdome.c2.assign.base import AssignmentProblem, LossState
from tdome.c2.assign.greedy import Budget, greedy_engagements
from tdome.messages import THREAT_CLASSES, BatteryStatus, DefendedAsset

# The standard normal at the deciles 10, 30, 50, 70 and 90: five equally likely counts of each group.
COUNT_QUANTILES = (-1.2815515655446004, -0.5244005127080407, 0.0, 0.5244005127080407, 1.2815515655446004)


@dataclass(frozen=True)
class ExpectedThreats:
    """An intelligence estimate of one group of later threats."""

    threat_class: str  # one of THREAT_CLASSES
    asset: str  # the defended asset they are aimed at
    count: float  # expected number
    count_sd: float = 0.0  # its standard deviation
    after_s: float = 0.0  # they arrive after this time (s); from then on the picture shows them


class LookAhead:
    """The round values of a battle manager's batteries, from its intelligence estimate.

    ``salvo``: rounds per engagement by class; ``max_shots``: the most
    rounds at one threat.  The values are kept until the groups still to
    come or the batteries' rounds change.
    """

    def __init__(self, expected: tuple[ExpectedThreats, ...], assets: list[DefendedAsset], salvo: dict[str, int],
                 max_shots: int):
        index = {a.name: i for i, a in enumerate(assets)}
        self.groups = [(g, index[g.asset]) for g in expected]
        self.assets = assets
        self.salvo = salvo
        self.max_shots = max_shots
        self._kept: tuple[tuple, np.ndarray] | None = None

    def round_values(self, now_s: float, batteries: list[BatteryStatus], rounds: np.ndarray, pk_cls: np.ndarray,
                     cost: np.ndarray) -> np.ndarray:
        """(B,) value points one more round fired now by each battery costs the later battle.

        ``rounds`` (B,): the rounds each will have for it (its stock, less
        what is promised); ``pk_cls`` (B, classes): its kill probability
        against each class; ``cost`` (B,): the price of one of its rounds, in
        value points.
        """
        future = [(g, a) for g, a in self.groups if g.after_s > now_s]
        key = (tuple(id(g) for g, _ in future), tuple(rounds.tolist()), tuple(b.index for b in batteries),
               tuple(id(b.interceptor) for b in batteries))
        if self._kept is not None and self._kept[0] == key:
            return self._kept[1]
        B = len(batteries)
        lam = np.zeros(B)
        if future and B:
            reach = self._reach(batteries, [a for _, a in future])  # (B, G)
            for z in COUNT_QUANTILES:
                counts = [max(0, round(g.count + z * g.count_sd)) for g, _ in future]
                p = self._problem(future, counts, reach, rounds, pk_cls, cost)
                if p is None:
                    continue
                f = p.survival_factor()  # the same for every battery's capacity
                base = _greedy_loss(p, f)
                for b in np.flatnonzero((rounds > 0) & (p.pk > 0).any(axis=1)).tolist():
                    p.capacity[b] -= 1
                    lam[b] += max(0.0, _greedy_loss(p, f) - base)
                    p.capacity[b] += 1
            lam /= len(COUNT_QUANTILES)
        self._kept = (key, lam)
        return lam

    def _reach(self, batteries: list[BatteryStatus], asset_rows: list[int]) -> np.ndarray:
        """(B, G) whether each battery's interceptor reaches each group's asset (ground distance)."""
        lat = np.array([b.lat_rad for b in batteries])
        lon = np.array([b.lon_rad for b in batteries])
        max_range = np.array([b.interceptor.max_range_m for b in batteries])
        d = np.stack([self.assets[a].distance_m(lat, lon) for a in asset_rows], axis=1)
        return d <= max_range[:, None]

    def _problem(self, future, counts, reach, rounds, pk_cls, cost) -> AssignmentProblem | None:
        """The later battle as one static problem: every expected threat a column."""
        cls_col = [THREAT_CLASSES.index(g.threat_class) for g, _ in future]
        cols = np.repeat(np.arange(len(future)), counts)
        if cols.size == 0:
            return None
        value = np.array([self.assets[a].value for _, a in future])[cols]
        pk = np.where(reach[:, cols], pk_cls[:, np.array(cls_col)[cols]], 0.0)
        salvo = np.array([self.salvo.get(g.threat_class, 1) for g, _ in future])[cols]
        return AssignmentProblem(value=value, pk=pk, salvo=salvo, cost=cost, capacity=rounds.astype(int).copy(),
                                 reserved=np.zeros(len(rounds), dtype=int), high_value=np.ones(cols.size, dtype=bool),
                                 max_engagements=np.maximum(self.max_shots // salvo, 1))


def _greedy_loss(p: AssignmentProblem, f: np.ndarray) -> float:
    """The expected loss plus cost of the greedy's assignment of ``p`` (``f``: its survival factors)."""
    state, budget = LossState(p), Budget(p)
    battery: list[int] = []
    threat: list[int] = []
    greedy_engagements(p, state, budget, f, battery, threat)
    spent = float(np.sum(p.cost[battery] * p.salvo[threat])) if battery else 0.0
    return p.loss(state.S) + spent
