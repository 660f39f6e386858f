"""What a run produced: its summary figures, and the simulator's part of its run folder.

Definitions (docs/design.md glossary):
- leaker: a threat aimed at a defended asset that reaches the ground without
  being intercepted (threats aimed at empty ground or sea are counted apart);
- hit: an impact within the threat's lethal radius of an asset's footprint;
- defended value surviving: the sum of the values of assets not hit;
- sensor-to-shooter time: first detection of a threat to first launch at it;
- sensor-to-shooter legs: per engagement, the chain from the first plot of
  the track it fires at to its launch, leg by leg (:data:`S2S_LEGS`): the
  tracker confirming the track, the deciding node's threat evaluation and
  assignment, the operator (authority 'confirm'), the network carrying the
  order, the battery's reaction;
- cost exchange: interceptor cost spent per unit of raid cost, and per leaker
  prevented (against the undefended outcome, where every aimed threat hits);
- tracking: GOSPA (:mod:`tdome.analysis.metrics`), the SIAP measures
  (:mod:`tdome.analysis.siap`) and NEES (:mod:`tdome.analysis.consistency`)
  at every record instant, a track being associated with the threat whose
  plots it took most.

:func:`write_record` turns the record into the run folder's tables and scene
and hands them to :mod:`tdome.runfolder`, which alone knows how they are
stored; the map is drawn afterwards from the folder (:mod:`tdome.pipeline`).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from tdome.analysis.metrics import nees_summary, siap
from tdome.messages import BALLISTIC_CLASS_NAMES, LAYERS
from tdome.runfolder import TRACK_COLUMNS
from tdome.sim.engine import GOSPA_C_M, RECORD_EVERY_S, RunRecord
from tdome.sim.scene import run_region, scene


def _pct(x, q):
    return float(np.percentile(x, q)) if len(x) else None


# The legs of an engagement's sensor-to-shooter chain: (name, from, to, what it is).  The first five follow
# each other, so for an engagement that launched they add up to the last (first plot to launch).
S2S_LEGS = (
    ("first_plot_to_confirmed", "first_plot_s", "confirmed_s", "first plot → confirmed track (tracking)"),
    ("confirmed_to_decision", "confirmed_s", "decided_s",
     "confirmed track → engagement decision (threat evaluation, doctrine, assignment)"),
    ("decision_to_release", "decided_s", "released_s", "decision → order released (operator; 0 under auto)"),
    ("release_to_delivered", "released_s", "delivered_s", "order released → delivered to the battery (network)"),
    ("delivered_to_launch", "delivered_s", "launch_s", "order delivered → launch (battery reaction)"),
    ("order_to_launch", "released_s", "launch_s", "order released → launch"),
    ("first_plot_to_launch", "first_plot_s", "launch_s", "first plot → launch (the whole chain)"),
)
CHAIN_TIMES = ("first_plot_s", "confirmed_s", "decided_s", "released_s", "delivered_s", "launch_s")


def chain_times(leg: dict) -> dict[str, float]:
    """The times of one engagement's chain (a ``RunRecord.legs`` item), NaN for a step that never happened.

    A delivered order that fired no round (the battery had none ready) did
    not launch: its ``launch_s`` is NaN.
    """
    out = {k: float(leg[k]) if leg.get(k) is not None else np.nan for k in CHAIN_TIMES}
    if "launch_s" in leg and not leg.get("rounds", 0):
        out["launch_s"] = np.nan
    return out


def leg_durations(leg: dict) -> dict[str, float]:
    """Seconds each leg of :data:`S2S_LEGS` took for one engagement; NaN where either end never happened."""
    t = chain_times(leg)
    return {name: t[b] - t[a] for name, a, b, _ in S2S_LEGS}


def _stat(x: np.ndarray) -> dict:
    x = x[np.isfinite(x)]
    return dict(median=_pct(x, 50), p95=_pct(x, 95), n=int(x.size))


def leg_statistics(legs: list[dict], layers: list[str] | None = None) -> dict[str, dict[str, dict]]:
    """Median, 95th percentile and count of each leg of :data:`S2S_LEGS`, over all engagements and per layer.

    ``legs``: ``RunRecord.legs`` items.  Returns ``{"all": {leg: {median,
    p95, n}}, layer: {...}}``; each statistic is over the engagements where
    both ends of that leg happened (None when there are none).  ``layers``:
    the layers to report, whether or not they have engagements (default:
    those the legs name, in :data:`~tdome.messages.LAYERS` order).
    """
    d = [leg_durations(leg) for leg in legs]
    layer_of = [leg.get("layer", "") for leg in legs]
    if layers is None:
        layers = [x for x in LAYERS if x in set(layer_of)]
    groups = {"all": np.ones(len(legs), dtype=bool)}
    for layer in layers:
        groups[layer] = np.array([x == layer for x in layer_of], dtype=bool)
    out = {}
    for g, sel in groups.items():
        out[g] = {name: _stat(np.array([row[name] for row in d], dtype=float).reshape(-1)[sel])
                  for name, *_ in S2S_LEGS}
    return out


def summarize(rec: RunRecord) -> dict:
    raid, assets, bats = rec.raid, rec.assets, rec.batteries
    n = len(raid)
    aimed = raid.intended_asset >= 0
    ev = rec.events
    leaks = [e for e in ev if e["kind"] == "leak"]
    leaker_rows = {e["threat_id"] for e in leaks if aimed[e["threat_id"]]}
    hits_by_asset = {a.name: 0 for a in assets}
    for hits in rec.impact_hits.values():
        for j in hits:
            hits_by_asset[assets[j].name] += 1
    leakers_by_asset = {a.name: 0 for a in assets}
    for r in leaker_rows:
        leakers_by_asset[assets[raid.intended_asset[r]].name] += 1
    hit_assets = {name for name, k in hits_by_asset.items() if k}
    value_total = float(sum(a.value for a in assets))
    value_surviving = float(sum(a.value for a in assets if a.name not in hit_assets))

    launches = [e for e in ev if e["kind"] == "launch"]
    layers = {}
    for layer in LAYERS:
        lb = [b for b in bats if b.layer == layer]
        if not lb:
            continue
        ll = [e for e in launches if e["layer"] == layer]
        kills = [e for e in ev if e["kind"] == "kill" and e["layer"] == layer]
        layers[layer] = dict(
            batteries=len(lb),
            engaged=len({e["threat_id"] for e in ll if e["threat_id"] >= 0}),
            shots=sum(e["rounds"] for e in ll),
            kills=len(kills),
            cost_usd=float(sum(e["rounds"] * bats[e["battery"]].spec.cost_usd for e in ll)),
            rounds_left=int(sum(b.stock for b in lb)),
            rounds_initial=int(sum(b.magazine for b in lb)),
        )
    shots_total = sum(v["shots"] for v in layers.values())
    spent = float(sum(v["cost_usd"] for v in layers.values()))
    raid_cost = float(np.sum(raid.cost_usd))
    at_defence = raid.at_defence if raid.at_defence.size else np.zeros(n, dtype=bool)
    decoy_rows = set(np.flatnonzero(~aimed & ~at_defence).tolist())  # aimed at nothing, released decoys included
    shots_at_decoys = sum(e["rounds"] for e in launches if e["threat_id"] in decoy_rows)
    prevented = int(aimed.sum()) - len(leaker_rows)

    both = np.isfinite(rec.first_detect_s) & np.isfinite(rec.first_launch_s)
    s2s = rec.first_launch_s[both] - rec.first_detect_s[both]
    g = np.array(rec.gospa_rows) if rec.gospa_rows else np.zeros((0, 8))
    busy = g[:, 5] + g[:, 6] > 0  # instants with something to score
    half_c2 = GOSPA_C_M**2 / 2
    by_class = {}
    for c in sorted(set(raid.cls)):
        rows = [i for i in range(n) if raid.cls[i] == c]
        by_class[c] = dict(
            threats=len(rows),
            aimed_at_assets=int(sum(aimed[i] for i in rows)),
            killed=int(sum(np.isfinite(rec.kill_s[i]) for i in rows)),
            leakers=int(sum(i in leaker_rows for i in rows)),
        )
    return dict(
        scenario=rec.scenario.name,
        seed=int(rec.scenario.seed),
        fidelity=rec.scenario.sim.fidelity,
        duration_s=float(rec.scenario.duration_s),
        ended_s=float(rec.end_s),
        threats=dict(total=n, aimed_at_assets=int(aimed.sum()), aimed_at_defence=int(at_defence.sum()),
                     decoys=int((~aimed & ~at_defence).sum()), decoys_released=int((raid.decoy_of >= 0).sum()),
                     killed=int(np.isfinite(rec.kill_s).sum()), by_class=by_class),
        leakers=dict(total=len(leaker_rows), rate=len(leaker_rows) / max(int(aimed.sum()), 1),
                     by_asset=leakers_by_asset, by_cause=_leakers_by_cause(rec, leaker_rows)),
        hits_by_asset=hits_by_asset,
        defended_value=dict(total=value_total, surviving=value_surviving,
                            fraction=value_surviving / value_total if value_total else None),
        layers=layers,
        interceptors=dict(shots=shots_total, cost_usd=spent, shots_at_decoys=shots_at_decoys),
        raid_cost_usd=raid_cost,
        cost_exchange=dict(per_raid_cost=spent / raid_cost if raid_cost else None,
                           per_leaker_prevented_usd=spent / prevented if prevented > 0 else None),
        sensor_to_shooter_s=dict(median=_pct(s2s, 50), p95=_pct(s2s, 95), n=int(both.sum())),
        tracking=dict(
            gospa_c_m=GOSPA_C_M, gospa_p=2, gospa_alpha=2,
            gospa_mean_m=float(g[busy, 1].mean()) if busy.any() else None,
            gospa_localisation_rms_m=(float(np.sqrt(g[busy, 2].sum() / max(g[busy, 7].sum(), 1))) if busy.any()
                                      else None),
            missed_mean=float((g[busy, 3] / half_c2).mean()) if busy.any() else None,
            false_mean=float((g[busy, 4] / half_c2).mean()) if busy.any() else None,
            **_gospa_detectable(rec.gospa_detectable_rows, half_c2),
            **_siap_nees_summary(rec),
            **_ghosts(rec),
            scan_ms_p50=_pct(rec.scan_ms, 50), scan_ms_p99=_pct(rec.scan_ms, 99),
            tracker=rec.tracker_stats,
        ),
        c2_cycle_ms=dict(p50=_pct(rec.cycle_ms, 50), p99=_pct(rec.cycle_ms, 99)),
        assignment=_assignment_summary(rec),
        wall_time_s=rec.wall_s,
        sensor_to_shooter_legs=leg_statistics(rec.legs, list(layers)),
        network=_network_summary(rec),
        jamming=rec.jamming,
        defence_lost=dict(rec.defence_lost, radars_lost=len(rec.defence_lost.get("radars", {})),
                          batteries_lost=len(rec.defence_lost.get("batteries", {}))),
        faults=rec.faults,
        emcon=dict(rec.emcon, plots_lost_total=sum(rec.emcon.get("plots_lost_to_silence", {}).values())),
        anti_radiation=rec.anti_radiation,
        discrimination=_discrimination_summary(rec),
    )


def _discrimination_summary(rec: RunRecord) -> dict:
    """Released decoys, what the C2 found light, and the rounds fired at decoys before and after.

    An object is found light when the track following it is (event
    ``discriminated``: the object of the track's latest plot; the first such
    time counts); a round is before or after by when its order was decided.
    A warhead found light is a mistake of the discrimination, counted apart.
    """
    raid = rec.raid
    decoy = raid.decoy_of >= 0 if raid.decoy_of.size else np.zeros(len(raid), dtype=bool)
    found: dict[int, float] = {}
    for e in rec.events:
        if e["kind"] == "discriminated" and e["threat_id"] >= 0:
            found.setdefault(int(e["threat_id"]), float(e["time_s"]))
    before = after = 0
    legs = {leg["engagement_id"]: leg for leg in rec.legs}
    for eid, row in rec.engagement_threat.items():
        leg = legs.get(eid)
        if row < 0 or not decoy[row] or leg is None or "launch_s" not in leg:
            continue
        if leg["decided_s"] >= found.get(row, np.inf):
            after += leg["rounds"]
        else:
            before += leg["rounds"]
    return dict(decoys_released=int(decoy.sum()), decoys_found_light=sum(bool(decoy[r]) for r in found),
                threats_found_light=sum(not decoy[r] for r in found),
                shots_at_decoys_before=before, shots_at_decoys_after=after)


def _leakers_by_cause(rec: RunRecord, leaker_rows: set[int]) -> dict[str, int]:
    """Why each leaker got through: never held by a track, tracked and not engaged, or engaged and missed.

    Tracked: some recorded track was attributed to it (it took most of that track's plots); engaged: an
    interceptor was launched at it (at a track attributed to it).
    """
    tracked = {int(row[8]) for row in rec.track_rows if row[8] >= 0}
    engaged = {r for r in leaker_rows if np.isfinite(rec.first_launch_s[r])}
    return dict(untracked=len(leaker_rows - tracked - engaged),
                tracked_not_engaged=len((leaker_rows & tracked) - engaged),
                engaged_and_missed=len(engaged))


def _none_if_nan(v):
    return None if isinstance(v, float) and not np.isfinite(v) else v


def _network_summary(rec: RunRecord) -> dict:
    """What the network carried and lost, what became of the orders, the operators' decisions, fallbacks."""
    kinds = Counter(e["kind"] for e in rec.events)
    times = [chain_times(leg) for leg in rec.legs]
    happened = lambda key: int(sum(np.isfinite(t[key]) for t in times))  # noqa: E731
    ages = np.asarray(rec.plot_age_s, dtype=float)
    delays = np.array([d[2] for d in rec.decisions], dtype=float)
    messages = {k: dict(sent=int(v["sent"]), delivered=int(v["delivered"]), lost=int(v["sent"] - v["delivered"]))
                for k, v in rec.messages.items()}
    fell_back = sorted({e["battery"] for e in rec.events if e["kind"] == "fallback"})
    released, delivered = happened("released_s"), happened("delivered_s")
    return dict(
        architecture=rec.architecture,
        perfect=bool(rec.perfect_network),
        messages=messages,
        messages_sent=sum(m["sent"] for m in messages.values()),
        messages_lost=sum(m["lost"] for m in messages.values()),
        links=[{k: _none_if_nan(v) for k, v in ln.items()} for ln in rec.links],
        plots=dict(scans=int(ages.size), age_median_s=_pct(ages, 50), age_p95_s=_pct(ages, 95),
                   age_max_s=float(ages.max()) if ages.size else None,
                   out_of_sequence_scans=int(rec.tracker_stats.get("oos_scans", 0)),
                   out_of_sequence_plots=int(rec.tracker_stats.get("oos_plots", 0))),
        # Orders decided, released (by the operator, or at once under auto), delivered to the battery, launched
        # (at least one round fired); undelivered: released but never delivered (lost, or in flight at the end);
        # refused by the operator, expired (the shot window closed first), unacknowledged (presumed lost by the
        # C2: the battery had not reported it received in time).
        orders=dict(decided=len(rec.legs), released=released, delivered=delivered, undelivered=released - delivered,
                    launched=happened("launch_s"), refused=kinds["order_refused"], expired=kinds["order_expired"],
                    unacknowledged=kinds["order_unacknowledged"]),
        operators=dict(decisions=len(rec.decisions), delay_median_s=_pct(delays, 50),
                       delay_p95_s=_pct(delays, 95), refused=int(sum(bool(d[3]) for d in rec.decisions))),
        fallback=dict(batteries=len(fell_back), names=[rec.batteries[b].name for b in fell_back],
                      events=kinds["fallback"], rejoined=kinds["rejoined"]),
    )


def _gospa_detectable(rows: list[tuple], half_c2: float) -> dict:
    """GOSPA over the threats some radar could see at each instant (:func:`tdome.sim.engine._record`)."""
    g = np.array(rows) if rows else np.zeros((0, 8))
    busy = g[:, 5] + g[:, 6] > 0
    return dict(
        gospa_detectable_mean_m=float(g[busy, 1].mean()) if busy.any() else None,
        missed_detectable_mean=float((g[busy, 3] / half_c2).mean()) if busy.any() else None,
        false_detectable_mean=float((g[busy, 4] / half_c2).mean()) if busy.any() else None,
    )


def _ghosts(rec: RunRecord) -> dict:
    """Tracks no object could be: zero is the goal (:mod:`tdome.c2.tracking.plausibility`).

    ``implausible_tracks``: tracks of the recorded pictures whose estimate
    left the kinematic envelope of every catalog type and of aircraft (with
    ``implausible_track_instants``, the record instants they spent outside);
    ``false_ballistic_tracks``: tracks threat evaluation classed ballistic or
    rocket that held no ballistic or rocket threat (a false track, or an
    air-breathing threat's).
    """
    ballistic = set(BALLISTIC_CLASS_NAMES)
    cls = rec.raid.cls
    i_cls, i_id, i_truth = (TRACK_COLUMNS.index(c) for c in ("class", "track_id", "truth_id"))
    false_ballistic = {r[i_id] for r in rec.track_rows
                       if r[i_cls] in ballistic and (r[i_truth] < 0 or cls[r[i_truth]] not in ballistic)}
    return dict(implausible_tracks=len(rec.implausible_tracks),
                implausible_track_instants=int(sum(rec.implausible_tracks.values())),
                false_ballistic_tracks=len(false_ballistic))


def _siap_nees_summary(rec: RunRecord) -> dict:
    """SIAP measures and NEES over the record instants (:mod:`tdome.analysis.siap`, :mod:`~.consistency`).

    A track is associated with the truth whose plots it took most
    (:func:`tdome.sim.engine.truth_of`, as of each record instant); the NEES
    bands assume independent samples, which successive samples of one track
    are not (see :mod:`tdome.analysis.consistency`).
    """
    tr = np.array([r[:2] for r in rec.truth_rows], dtype=float).reshape(-1, 2)
    cols = [TRACK_COLUMNS.index(c) for c in ("time_s", "track_id", "truth_id", "pos_err_m", "vel_err_mps",
                                             "nees_pos", "nees_state")]
    k = np.array([[r[c] for c in cols] for r in rec.track_rows], dtype=float).reshape(-1, len(cols))
    s = siap(tr[:, 0], tr[:, 1].astype(np.int64), k[:, 0], k[:, 1].astype(np.int64), k[:, 2].astype(np.int64),
             pos_err=k[:, 3], vel_err=k[:, 4]).as_dict()
    # Over the detectable threats: the truth rows some radar could see; the track rows held on a threat alive out
    # of every radar's sight are left out (neither holding a detectable threat nor spurious).
    seen = np.array(rec.truth_detectable, dtype=bool) if len(rec.truth_detectable) == len(tr) else np.ones(len(tr),
                                                                                                           bool)
    hidden = set(zip(tr[~seen, 0].tolist(), tr[~seen, 1].astype(np.int64).tolist()))
    kept = np.array([(t, j) not in hidden for t, j in zip(k[:, 0].tolist(), k[:, 2].astype(np.int64).tolist())],
                    dtype=bool)
    sd = siap(tr[seen, 0], tr[seen, 1].astype(np.int64), k[kept, 0], k[kept, 1].astype(np.int64),
              k[kept, 2].astype(np.int64)).as_dict()
    return dict(
        siap_completeness=s["completeness"], siap_ambiguity=s["ambiguity"], siap_spuriousness=s["spuriousness"],
        siap_position_rms_m=s["position_rms"], siap_position_mean_m=s["position_mean"],
        siap_velocity_rms_mps=s["velocity_rms"], siap_velocity_mean_mps=s["velocity_mean"],
        siap_track_changes=s["track_changes"], siap_truths_tracked=s["truths_tracked"],
        siap_track_changes_per_truth=s["track_changes_per_truth"],
        siap_longest_segment_fraction=s["longest_segment_fraction"],
        siap_detectable_completeness=sd["completeness"], siap_detectable_ambiguity=sd["ambiguity"],
        siap_detectable_spuriousness=sd["spuriousness"],
        detectable_fraction=float(seen.mean()) if len(seen) else None,
        nees_position=nees_summary(k[:, 5], 3).as_dict(),
        nees_state=nees_summary(k[:, 6], 6).as_dict(),
    )


def _assignment_summary(rec: RunRecord) -> dict:
    # The section's model is built at run time from AssignmentConfig (tdome.scenario.schema.settings_model),
    # so no static type names its fields.
    a: Any = rec.scenario.c2.assignment
    rows = np.array(rec.assign_rows, dtype=float).reshape(-1, 7)
    gaps = rows[:, 4][np.isfinite(rows[:, 4])]
    return dict(
        solver=a.solver, objective=a.objective, problems=len(rows),
        batteries_max=int(rows[:, 1].max()) if len(rows) else 0, threats_max=int(rows[:, 2].max()) if len(rows) else 0,
        solve_ms_p50=_pct(rows[:, 3], 50), solve_ms_p99=_pct(rows[:, 3], 99),
        gap_mean=float(gaps.mean()) if gaps.size else None, gap_max=float(gaps.max()) if gaps.size else None,
        proven_optimal=int(rows[:, 5].sum()) if gaps.size else None,
        timed_out=int(rows[:, 6].sum()),
        overruns=sum(e["kind"] == "solver_overrun" for e in rec.events),
    )


def write_record(rec: RunRecord, summary: dict, out: Path) -> dict[str, Path]:
    """Write the run folder's summary, scene and tables (all but the map) into ``out``; returns their paths."""
    from tdome.runfolder import write_run_folder  # pyarrow.parquet: not for a study's worker, which only summarises

    raid = rec.raid
    threats = dict(
        threat_id=np.arange(len(raid)), type=raid.type_name, cls=raid.cls, wave=raid.wave, label=raid.label,
        launch_s=raid.trajectories.launch_s, impact_s=raid.trajectories.impact_s,
        aim_lat_deg=np.degrees(raid.aim_lat_rad), aim_lon_deg=np.degrees(raid.aim_lon_rad),
        intended_asset=[rec.assets[j].name if j >= 0 else "" for j in raid.intended_asset],
        killed_s=rec.kill_s, first_detect_s=rec.first_detect_s, first_launch_s=rec.first_launch_s,
    )
    return write_run_folder(out, summary=summary, scene=scene(rec, run_region(rec), RECORD_EVERY_S),
                            events=rec.events, tracks=rec.track_rows, truth=rec.truth_rows, threats=threats,
                            interceptors=_interceptors(rec), engagements=engagement_rows(rec), links=rec.links)


def engagement_rows(rec: RunRecord) -> list[dict]:
    """One row per engagement decided (``engagements.parquet``): its chain's times, NaN where a step never
    happened (:func:`chain_times`), where its order went and what became of it."""
    rows = []
    for leg in rec.legs:
        t = chain_times(leg)
        if np.isfinite(t["launch_s"]):
            fate = "launched"
        elif np.isfinite(t["delivered_s"]):
            fate = "not fired"
        elif np.isfinite(t["released_s"]):
            fate = "not delivered"
        else:
            fate = "not released"
        eid = int(leg["engagement_id"])
        rows.append(dict(engagement_id=eid, node=str(leg.get("node", "")), track_id=int(leg.get("track", -1)),
                         threat_id=int(rec.engagement_threat.get(eid, -1)), battery=int(leg.get("battery", -1)),
                         layer=str(leg.get("layer", "")), rounds=int(leg.get("rounds", 0)), **t, fate=fate))
    return rows


def _interceptors(rec: RunRecord) -> list[dict]:
    """Every flyout with its outcome: "kill" or "miss" from the event log, "" if it never arrived."""
    events = sorted(rec.events, key=lambda e: e["time_s"])  # as stored: a later outcome wins
    outcome = {e["interceptor_id"]: e["kind"] for e in events if e["kind"] in ("kill", "miss")}
    return [dict(f, outcome=outcome.get(f["interceptor_id"], "")) for f in rec.flyouts]
