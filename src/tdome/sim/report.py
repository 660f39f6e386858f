"""What a run produced: the summary figures, the run folder and the terminal table.

Definitions (DESIGN.md glossary):
- leaker: a threat aimed at a defended asset that reaches the ground without
  being intercepted (threats aimed at empty ground or sea are counted apart);
- hit: an impact within the threat's lethal radius of an asset's footprint;
- defended value surviving: the sum of the values of assets not hit;
- sensor-to-shooter time: first detection of a threat to first launch at it;
- cost exchange: interceptor cost spent per unit of raid cost, and per leaker
  prevented (against the undefended outcome, where every aimed threat hits);
- tracking: GOSPA (:mod:`tdome.analysis.metrics`), the SIAP measures
  (:mod:`tdome.analysis.siap`) and NEES (:mod:`tdome.analysis.consistency`)
  at every record instant, a track being associated with the threat whose
  plots it took most.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tdome.analysis.metrics import nees_summary, siap
from tdome.messages import LAYERS
from tdome.sim.engine import GOSPA_C_M, TRACK_COLUMNS, RunRecord


def _pct(x, q):
    return float(np.percentile(x, q)) if len(x) else None


def summarize(rec: RunRecord) -> dict:
    raid, assets, bats = rec.raid, rec.assets, rec.batteries
    n = len(raid)
    aimed = raid.intended_asset >= 0
    ev = rec.events
    leaks = [e for e in ev if e["kind"] == "leak"]
    leaker_rows = {e["threat_id"] for e in leaks if aimed[e["threat_id"]]}
    hits_by_asset = {a.name: 0 for a in assets}
    for row, hits in rec.impact_hits.items():
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
    decoy_rows = set(np.flatnonzero(~aimed).tolist())
    shots_at_decoys = sum(e["rounds"] for e in launches if e["threat_id"] in decoy_rows)
    prevented = int(aimed.sum()) - len(leaker_rows)

    both = np.isfinite(rec.first_detect_s) & np.isfinite(rec.first_launch_s)
    s2s = (rec.first_launch_s - rec.first_detect_s)[both]
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
        threats=dict(total=n, aimed_at_assets=int(aimed.sum()), decoys=int((~aimed).sum()),
                     killed=int(np.isfinite(rec.kill_s).sum()), by_class=by_class),
        leakers=dict(total=len(leaker_rows), rate=len(leaker_rows) / max(int(aimed.sum()), 1),
                     by_asset=leakers_by_asset),
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
            gospa_localisation_rms_m=float(np.sqrt(g[busy, 2].sum() / max(g[busy, 7].sum(), 1))) if busy.any() else None,
            missed_mean=float((g[busy, 3] / half_c2).mean()) if busy.any() else None,
            false_mean=float((g[busy, 4] / half_c2).mean()) if busy.any() else None,
            **_siap_nees_summary(rec),
            scan_ms_p50=_pct(rec.scan_ms, 50), scan_ms_p99=_pct(rec.scan_ms, 99),
            tracker=rec.tracker_stats,
        ),
        c2_cycle_ms=dict(p50=_pct(rec.cycle_ms, 50), p99=_pct(rec.cycle_ms, 99)),
        assignment=_assignment_summary(rec),
        wall_time_s=rec.wall_s,
    )


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
    return dict(
        siap_completeness=s["completeness"], siap_ambiguity=s["ambiguity"], siap_spuriousness=s["spuriousness"],
        siap_position_rms_m=s["position_rms"], siap_position_mean_m=s["position_mean"],
        siap_velocity_rms_mps=s["velocity_rms"], siap_velocity_mean_mps=s["velocity_mean"],
        siap_track_changes=s["track_changes"], siap_truths_tracked=s["truths_tracked"],
        siap_track_changes_per_truth=s["track_changes_per_truth"],
        siap_longest_segment_fraction=s["longest_segment_fraction"],
        nees_position=nees_summary(k[:, 5], 3).as_dict(),
        nees_state=nees_summary(k[:, 6], 6).as_dict(),
    )


def _assignment_summary(rec: RunRecord) -> dict:
    a = rec.scenario.c2.assignment
    rows = np.array(rec.assign_rows, dtype=float).reshape(-1, 7)
    gaps = rows[:, 4][np.isfinite(rows[:, 4])]
    return dict(
        solver=a.solver, objective=a.objective, problems=int(len(rows)),
        batteries_max=int(rows[:, 1].max()) if len(rows) else 0, threats_max=int(rows[:, 2].max()) if len(rows) else 0,
        solve_ms_p50=_pct(rows[:, 3], 50), solve_ms_p99=_pct(rows[:, 3], 99),
        gap_mean=float(gaps.mean()) if gaps.size else None, gap_max=float(gaps.max()) if gaps.size else None,
        proven_optimal=int(rows[:, 5].sum()) if gaps.size else None,
        timed_out=int(rows[:, 6].sum()),
    )


def _assignment_line(a: dict, fmt) -> str:
    line = (f"assignment ({a['solver']}, {a['objective']} objective): {a['problems']} problems up to "
            f"{a['batteries_max']} batteries x {a['threats_max']} threats, solve p50 {fmt(a['solve_ms_p50'], '{:.1f}')} ms, "
            f"p99 {fmt(a['solve_ms_p99'], '{:.1f}')} ms")
    if a["gap_mean"] is not None:
        line += f"; gap mean {a['gap_mean']:.2e}, max {a['gap_max']:.2e}, {a['proven_optimal']} proven optimal"
    if a["timed_out"]:
        line += f"; {a['timed_out']} cut by the time limit (results then depend on machine speed)"
    return line


def _tracking_quality_lines(tr: dict, fmt) -> list[str]:
    """SIAP and NEES in the terms of the docs, each with what it means and which way is good."""
    from tdome.analysis.consistency import NeesSummary, verdict

    def nees_line(key, label):
        v = tr[key]
        if not v["n"]:
            return f"{label}: no samples"
        s = NeesSummary(v["mean"], *v["band"], v["dof"], v["n"], v["level"], v["consistent"], v["median"],
                        v["in_sample_band"])
        return (f"{label} ({v['dof']} dof): median {fmt(v['median'], '{:.2f}')} "
                f"({chi2_median(v['dof']):.2f} if consistent), {fmt(v['in_sample_band'], '{:.0%}')} of samples in "
                f"the 95% single-sample band; mean {fmt(v['mean'], '{:.2f}')} against its band "
                f"{v['band'][0]:.2f}-{v['band'][1]:.2f}: {verdict(s)}")

    return [f"air picture (SIAP): completeness {fmt(tr['siap_completeness'], '{:.2f}')} (share of threat-time "
            f"held by a track, 1 is best; time before first detection counts), "
            f"ambiguity {fmt(tr['siap_ambiguity'], '{:.2f}')} (tracks per tracked threat, 1 is best), "
            f"spuriousness {fmt(tr['siap_spuriousness'], '{:.2f}')} (share of tracks on no threat, 0 is best), "
            f"{fmt(tr['siap_track_changes_per_truth'], '{:.2f}')} track-number changes per threat",
            f"track accuracy (SIAP, every track against the threat it took most plots from, swapped and "
            f"diverged tracks included): position RMS {fmt(tr['siap_position_rms_m'], '{:,.0f}')} m, "
            f"velocity RMS {fmt(tr['siap_velocity_rms_mps'], '{:,.0f}')} m/s",
            nees_line("nees_position", "filter consistency, position NEES"),
            nees_line("nees_state", "filter consistency, state NEES")]


def chi2_median(dof: int) -> float:
    from scipy.stats import chi2

    return float(chi2.median(dof))


def write_run(rec: RunRecord, summary: dict, out: Path) -> dict[str, Path]:
    """Write summary.json, scene.json, the Parquet tables and map.png into ``out``."""
    from tdome.viz.mapplot import map_extent, plot_run

    out.mkdir(parents=True, exist_ok=True)
    paths = dict(summary=out / "summary.json", events=out / "events.parquet", tracks=out / "tracks.parquet",
                 truth=out / "truth.parquet", threats=out / "threats.parquet", map=out / "map.png",
                 scene=out / "scene.json", interceptors=out / "interceptors.parquet")
    paths["summary"].write_text(json.dumps(summary, indent=2, default=_json_default) + "\n")
    cols = ["time_s", "kind", "threat_id", "track_id", "battery", "layer", "interceptor_id", "rounds", "lat_deg",
            "lon_deg", "alt_m", "detail"]
    events = sorted(rec.events, key=lambda e: e["time_s"])
    pq.write_table(pa.table({c: [e[c] for e in events] for c in cols}), paths["events"])
    _rows_to_parquet(rec.track_rows, TRACK_COLUMNS, paths["tracks"])
    _rows_to_parquet(rec.truth_rows, ["time_s", "threat_id", "lat_deg", "lon_deg", "alt_m", "speed_mps"],
                     paths["truth"])
    raid = rec.raid
    pq.write_table(pa.table(dict(
        threat_id=np.arange(len(raid)), type=raid.type_name, cls=raid.cls, wave=raid.wave, label=raid.label,
        launch_s=raid.trajectories.launch_s, impact_s=raid.trajectories.impact_s,
        aim_lat_deg=np.degrees(raid.aim_lat_rad), aim_lon_deg=np.degrees(raid.aim_lon_rad),
        intended_asset=[rec.assets[j].name if j >= 0 else "" for j in raid.intended_asset],
        killed_s=rec.kill_s, first_detect_s=rec.first_detect_s, first_launch_s=rec.first_launch_s,
    )), paths["threats"])
    plot_run(rec, paths["map"])
    _write_replay_records(rec, events, paths, map_extent(rec))
    return paths


# --------------------------------------------------------------------------- replay records


def _write_replay_records(rec: RunRecord, events: list[dict], paths: dict, extent) -> None:
    """scene.json (assets, radars, batteries) and interceptors.parquet (every flyout and its outcome)."""
    from tdome.sim.engine import RECORD_EVERY_S
    from tdome.sim.scene import scene

    paths["scene"].write_text(json.dumps(scene(rec, extent, RECORD_EVERY_S), separators=(",", ":")) + "\n")
    outcome = {e["interceptor_id"]: e["kind"] for e in events if e["kind"] in ("kill", "miss")}
    types = dict(interceptor_id=pa.int64(), engagement_id=pa.int64(), battery=pa.int64(), layer=pa.string(),
                 track_id=pa.int64(), launch_s=pa.float64(), intercept_s=pa.float64(),
                 launch_lat_deg=pa.float64(), launch_lon_deg=pa.float64(), launch_alt_m=pa.float64(),
                 aim_lat_deg=pa.float64(), aim_lon_deg=pa.float64(), aim_alt_m=pa.float64(), outcome=pa.string())
    rows = [dict(f, outcome=outcome.get(f["interceptor_id"], "")) for f in rec.flyouts]
    pq.write_table(pa.table({c: pa.array([r[c] for r in rows], type=t) for c, t in types.items()}),
                   paths["interceptors"])


def _rows_to_parquet(rows, names, path):
    cols = list(zip(*rows)) if rows else [[] for _ in names]
    pq.write_table(pa.table({n: list(c) for n, c in zip(names, cols)}), path)


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    raise TypeError(type(o))


def print_summary(summary: dict, console) -> None:
    from rich.table import Table

    s = summary
    title = f"{s['scenario']} — seed {s['seed']}"
    if s["fidelity"] != "full":
        title += f" — {s['fidelity'].replace('_', ' ')}"
    t = Table(title=title, show_lines=False)
    t.add_column("layer")
    for c in ("batteries", "engaged", "shots", "kills", "rounds left", "cost (USD M)"):
        t.add_column(c, justify="right")
    for layer, v in s["layers"].items():
        t.add_row(layer, str(v["batteries"]), str(v["engaged"]), str(v["shots"]), str(v["kills"]),
                  f"{v['rounds_left']}/{v['rounds_initial']}", f"{v['cost_usd'] / 1e6:.1f}")
    console.print(t)

    a = Table(title="Defended assets")
    a.add_column("asset")
    a.add_column("leakers", justify="right")
    a.add_column("hits", justify="right")
    for name in s["hits_by_asset"]:
        a.add_row(name, str(s["leakers"]["by_asset"][name]), str(s["hits_by_asset"][name]))
    console.print(a)

    th, ce, ss, tr = s["threats"], s["cost_exchange"], s["sensor_to_shooter_s"], s["tracking"]
    fmt = lambda v, f="{:.1f}": "n/a" if v is None else f.format(v)  # noqa: E731
    end = (f"battle over at t = {s['ended_s']:,.0f} s: every threat down or killed, nothing in flight "
           f"(duration_s {s['duration_s']:,.0f} s)" if s["ended_s"] < s["duration_s"] else
           f"run ended at duration_s = {s['duration_s']:,.0f} s with the battle still going")
    lines = [
        f"threats: {th['total']} ({th['aimed_at_assets']} aimed at assets, {th['decoys']} at empty ground or sea), "
        f"killed {th['killed']}",
        f"leakers: {s['leakers']['total']} of {th['aimed_at_assets']} threats aimed at assets reached their aim "
        f"unintercepted (leak rate {s['leakers']['rate']:.1%})",
        f"defended value surviving: {s['defended_value']['surviving']:.0f} of {s['defended_value']['total']:.0f} "
        f"(the values of the assets no threat hit)",
        f"interceptors: {s['interceptors']['shots']} shots, USD {s['interceptors']['cost_usd'] / 1e6:.1f} M "
        f"({s['interceptors']['shots_at_decoys']} at decoys)",
        f"cost exchange: {fmt(ce['per_raid_cost'], '{:.2f}')} interceptor dollars per raid dollar; "
        f"USD {fmt(None if ce['per_leaker_prevented_usd'] is None else ce['per_leaker_prevented_usd'] / 1e6)} M "
        f"per leaker prevented (against no defense, where every aimed threat hits)",
        f"sensor-to-shooter: median {fmt(ss['median'])} s, p95 {fmt(ss['p95'])} s (a threat's first detection "
        f"to the first launch at it)",
        end,
        f"tracking GOSPA (c = {tr['gospa_c_m'] / 1e3:.0f} km, p = 2): mean {fmt(tr['gospa_mean_m'], '{:,.0f}')} m "
        f"per instant, 0 is a perfect picture: localisation RMS {fmt(tr['gospa_localisation_rms_m'], '{:,.0f}')} m "
        f"over tracks matched to a threat, {fmt(tr['missed_mean'], '{:.1f}')} threats missed and "
        f"{fmt(tr['false_mean'], '{:.1f}')} false tracks per instant (each costs c/√2)",
        *_tracking_quality_lines(tr, fmt),
        f"C2 tracking stage: p50 {fmt(tr['scan_ms_p50'], '{:.2f}')} ms, p99 {fmt(tr['scan_ms_p99'], '{:.2f}')} ms "
        f"per radar scan",
        _assignment_line(s["assignment"], fmt),
        f"wall time: {s['wall_time_s']:.1f} s",
    ]
    for line in lines:
        console.print(line, soft_wrap=True)
