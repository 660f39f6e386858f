"""A campaign: the same defence against a raid a day, for days, with the magazines carried over and resupplied.

One battle says what a full magazine does; a campaign says how long the
magazines last.  Each day the scenario's raid flies again (with the day's
own seed) against the batteries as the day before left them; after the
battle each interceptor type's production of the day (``resupply``, rounds
a day, fractions carried over) is delivered to the batteries that hold that
type, up to what their magazines hold, in proportion to their size; what
does not fit waits in the depot for the next day.  The C2 starts each day
afresh: it knows its batteries' stocks from their status, not the day
before.

A campaign file::

    name: two weeks
    scenario: default      # or a path relative to this file
    days: 14
    seed: 1
    resupply: {mid_tk3: 4, lower_tamir: 20}   # rounds a day by interceptor type; a type left out gets none

The result: per day the threats, leakers and leak rate, the defended value
surviving, the rounds fired and left per layer; and per layer the first day
that ends with its magazines empty (or, if none does within the campaign,
when the last days' net use would empty them, marked as projected).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tdome.messages import LAYERS
from tdome.scenario import ErrorItem, ScenarioError, read_scenario_data, scenario_from_dict
from tdome.studies.spec import read_spec_yaml, run_seed, scenario_field

MAX_DAYS = 365


class CampaignError(ScenarioError):
    """A campaign that cannot start: bad campaign file or base scenario."""

    def _text(self) -> str:
        return super()._text().replace("scenario file", "campaign", 1)


@dataclass
class Campaign:
    name: str
    scenario: str | None  # a path, or None for the built-in default
    days: int
    seed: int
    resupply: dict[str, float] = field(default_factory=dict)  # interceptor type -> rounds a day
    source: str = "<campaign>"


def load_campaign(path: str | Path) -> Campaign:
    """Read and check a campaign file (its scenario and its interceptor types too); CampaignError if bad."""
    p = Path(path)
    data = read_spec_yaml(p, "campaign file", CampaignError)
    if not isinstance(data, dict):
        raise CampaignError(str(p), "a campaign file is a mapping with name, scenario, days, seed and resupply")
    errs = [ErrorItem(str(k), "unknown key; allowed: name, scenario, days, seed, resupply")
            for k in data if k not in ("name", "scenario", "days", "seed", "resupply")]
    scenario = scenario_field(data, p, errs)
    c = Campaign(name=str(data.get("name", p.stem)), scenario=scenario, days=data.get("days", 0),
                 seed=data.get("seed", 0), resupply=data.get("resupply") or {}, source=str(p))
    check(c, errs)
    return c


def check(c: Campaign, errs: list[ErrorItem] | None = None) -> None:
    """Every problem of the campaign at once, its scenario's and interceptor types' included."""
    errs = list(errs or [])
    if isinstance(c.days, bool) or not isinstance(c.days, int) or not 1 <= c.days <= MAX_DAYS:
        errs.append(ErrorItem("days", f"= {c.days!r}: must be an integer from 1 to {MAX_DAYS}"))
    if isinstance(c.seed, bool) or not isinstance(c.seed, int) or c.seed < 0:
        errs.append(ErrorItem("seed", f"= {c.seed!r}: must be an integer >= 0"))
    sc = None
    try:
        sc = base_scenario(c)
    except ScenarioError as e:
        errs.append(ErrorItem("scenario", str(e)))
    if not isinstance(c.resupply, dict):
        errs.append(ErrorItem("resupply", f"= {c.resupply!r}: must map interceptor types to rounds a day"))
    elif sc is not None:
        used = sorted({b.interceptor for b in sc.batteries})
        for k, v in c.resupply.items():
            if k not in used:
                errs.append(ErrorItem(f"resupply.{k}", f"no battery of the scenario holds interceptor type {k!r}; "
                                                       f"its batteries hold: {', '.join(used) or 'none'}"))
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                errs.append(ErrorItem(f"resupply.{k}", f"= {v!r}: must be a number of rounds a day >= 0"))
    if errs:
        raise CampaignError(c.source, errs)


def base_scenario(c: Campaign):
    data, src = read_scenario_data(c.scenario)
    return scenario_from_dict(data, source=src)


@dataclass
class Day:
    day: int  # from 1
    threats: int
    leakers: int
    leak_rate: float
    value_surviving_fraction: float
    fired: dict[str, int]  # per layer
    left: dict[str, int]  # per layer, in the batteries at the end of the day's battle (before resupply)
    delivered: dict[str, int]  # per layer, put into the batteries after the battle


def run_campaign(c: Campaign, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Fly the campaign day by day; the days and, per layer, when its magazines run dry."""
    from tdome.sim.engine import run
    from tdome.sim.report import summarize

    sc0 = base_scenario(c)
    capacity = np.array([b.magazine for b in sc0.batteries], dtype=int)
    stock = capacity.copy()
    kinds = [b.interceptor for b in sc0.batteries]
    layer = [b.layer for b in sc0.batteries]
    credit = dict.fromkeys(c.resupply, 0.0)  # rounds produced and not yet delivered (fractions, and the depot)
    days: list[Day] = []
    for d in range(c.days):
        sc = sc0.model_copy(update={"seed": run_seed(c.seed, d)})
        rec = run(sc, magazines=stock.tolist())
        s = summarize(rec)
        left = np.array([fu.stock for fu in rec.batteries], dtype=int)
        fired = stock - left
        stock = left.copy()
        for kind, per_day in c.resupply.items():
            credit[kind] += float(per_day)
            holders = [i for i, k in enumerate(kinds) if k == kind]
            n = _deliver(stock, capacity, holders, int(credit[kind]))
            credit[kind] -= n
        days.append(Day(
            day=d + 1, threats=int(s["threats"]["total"]), leakers=int(s["leakers"]["total"]),
            leak_rate=float(s["leakers"]["rate"]), value_surviving_fraction=float(s["defended_value"]["fraction"]),
            fired=_by_layer(fired, layer), left=_by_layer(left, layer), delivered=_by_layer(stock - left, layer)))
        if progress:
            progress(d + 1, c.days)
    return dict(name=c.name, days=[vars(x) for x in days], dry=_dry(days, layer), resupply=c.resupply)


def _deliver(stock: np.ndarray, capacity: np.ndarray, holders: list[int], rounds: int) -> int:
    """Put up to ``rounds`` into the ``holders``' free space, in proportion to their magazines; how many went in."""
    given = 0
    while rounds - given > 0:
        room = np.array([capacity[i] - stock[i] for i in holders])
        if room.sum() <= 0:
            break
        share = capacity[holders] * (room > 0)
        want = min(rounds - given, int(room.sum()))
        # Largest remainders: each holder's share of ``want``, whole rounds, never past its room.
        exact = want * share / share.sum()
        take = np.minimum(np.floor(exact).astype(int), room)
        for k in np.argsort(-(exact - np.floor(exact)), kind="stable")[: want - int(take.sum())]:
            if take[k] < room[k]:
                take[k] += 1
        if take.sum() == 0:
            break
        for k, i in enumerate(holders):
            stock[i] += take[k]
        given += int(take.sum())
    return given


def _by_layer(rounds: np.ndarray, layer: list[str]) -> dict[str, int]:
    return {name: int(sum(r for r, lay in zip(rounds.tolist(), layer) if lay == name)) for name in LAYERS
            if name in layer}


def _dry(days: list[Day], layer: list[str]) -> dict[str, dict[str, Any]]:
    """Per layer: the first day that ends with its magazines empty, or a projection from the last days' net use."""
    out: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(layer):
        empty = [d.day for d in days if d.left[name] == 0]
        if empty:
            out[name] = dict(day=empty[0], projected=False)
            continue
        last = days[len(days) // 2:]
        net = float(np.mean([d.fired[name] - d.delivered[name] for d in last]))
        end = days[-1].left[name] + days[-1].delivered[name]
        out[name] = (dict(day=days[-1].day + math.ceil(end / net), projected=True) if net > 0
                     else dict(day=None, projected=True))
    return out
