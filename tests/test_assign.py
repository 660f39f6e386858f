"""Weapon-target assignment: feasibility, objective bookkeeping, optimality where greedy is exact."""

from itertools import product

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tdome.c2.assign import SOLVERS, AssignmentProblem


def random_problem(rng, B, T, single_salvo=False):
    pk = rng.uniform(0.0, 0.95, (B, T)) * (rng.random((B, T)) < 0.8)
    return AssignmentProblem(
        value=rng.uniform(10, 100, T),
        pk=pk,
        salvo=np.ones(T, dtype=int) if single_salvo else rng.integers(1, 3, T),
        cost=rng.uniform(0.0, 5.0, B),
        capacity=rng.integers(0, 4, B),
        reserved=np.zeros(B, dtype=int),
        high_value=np.ones(T, dtype=bool),
    )


def evaluate(p: AssignmentProblem, battery, threat, rounds) -> float:
    """Independent evaluation of an assignment's expected net value saved."""
    q = p.survival.copy()
    spent = 0.0
    for b, t, r in zip(battery, threat, rounds):
        spent += p.cost[b] * r
        q[t] *= (1 - p.pk[b, t]) ** r
    return float(np.sum(p.value * (p.survival - q)) - spent)


def check_feasible(p: AssignmentProblem, a) -> None:
    used = np.zeros(len(p.capacity), dtype=int)
    per_threat = np.zeros(len(p.value), dtype=int)
    for b, t, r in zip(a.battery, a.threat, a.rounds):
        assert p.pk[b, t] > 0, "engaged a pair that is not feasible"
        assert r == p.salvo[t]
        used[b] += r
        per_threat[t] += 1
        if not p.high_value[t]:
            assert used[b] <= p.capacity[b] - p.reserved[b], "low-value threat used the reserve"
    assert np.all(used <= p.capacity)
    assert np.all(per_threat <= p.max_engagements)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 5), st.integers(1, 6))
def test_greedy_is_feasible_and_its_objective_is_exact(seed, B, T):
    rng = np.random.default_rng(seed)
    p = random_problem(rng, B, T)
    p.reserved = rng.integers(0, 3, B).clip(0, p.capacity)
    p.high_value = rng.random(T) < 0.5
    a = SOLVERS["greedy"](p)
    check_feasible(p, a)
    assert np.isclose(a.objective, evaluate(p, a.battery, a.threat, a.rounds))
    assert a.objective >= 0.0


def brute_force_single_battery(p: AssignmentProblem) -> float:
    """Best objective for one battery, one engagement per threat, by enumeration."""
    T = len(p.value)
    best = 0.0
    for pick in product([0, 1], repeat=T):
        sel = [t for t in range(T) if pick[t] and p.pk[0, t] > 0]
        if sum(p.salvo[t] for t in sel) > p.capacity[0]:
            continue
        best = max(best, evaluate(p, [0] * len(sel), sel, [p.salvo[t] for t in sel]))
    return best


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 8))
def test_greedy_is_optimal_for_one_battery_and_unit_salvos(seed, T):
    # With one battery and one round per engagement the marginal-return greedy
    # picks the best gains in order, which is optimal (den Broeder et al. 1959).
    rng = np.random.default_rng(seed)
    p = random_problem(rng, 1, T, single_salvo=True)
    a = SOLVERS["greedy"](p)
    assert np.isclose(a.objective, brute_force_single_battery(p))


def test_followup_chance_favours_the_outer_layer():
    # Same Pk and cost; only the outer battery leaves time for a look-shot.
    p = AssignmentProblem(value=np.array([100.0]), pk=np.array([[0.8], [0.8]]), salvo=np.array([1]),
                          cost=np.array([1.0, 1.0]), capacity=np.array([4, 4]), reserved=np.array([0, 0]),
                          high_value=np.array([True]), followup_pk=np.array([[0.8], [0.0]]))
    a = SOLVERS["greedy"](p)
    assert a.battery.tolist() == [0]


def test_cost_weight_stops_expensive_shots_at_cheap_threats():
    p = AssignmentProblem(value=np.array([5.0]), pk=np.array([[0.9]]), salvo=np.array([1]), cost=np.array([10.0]),
                          capacity=np.array([4]), reserved=np.array([0]), high_value=np.array([True]))
    assert SOLVERS["greedy"](p).battery.size == 0
