"""End to end: outcomes a user would check, on a compact notional raid."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from tdome.pipeline import write_run
from tdome.scenario import scenario_from_dict
from tdome.sim.engine import run
from tdome.sim.report import summarize

SMALL = Path(__file__).parent / "data" / "small.yaml"


def small(mutate=None, seed=None):
    data = yaml.safe_load(SMALL.read_text())
    if mutate is not None:
        mutate(data)
    return scenario_from_dict(data, source=str(SMALL), seed=seed)


@pytest.fixture(scope="module")
def defended():
    rec = run(small())
    return rec, summarize(rec)


@pytest.fixture(scope="module")
def undefended():
    def strip(d):
        d["batteries"] = []

    rec = run(small(strip))
    return rec, summarize(rec)


def test_without_batteries_every_aimed_threat_hits_its_asset(undefended):
    rec, s = undefended
    raid = rec.raid
    aimed = np.flatnonzero(raid.intended_asset >= 0)
    assert s["interceptors"]["shots"] == 0
    assert s["leakers"]["total"] == len(aimed) > 0
    for i in aimed:
        assert raid.intended_asset[i] in rec.impact_hits[int(i)], f"threat {i} missed its asset"
    assert s["defended_value"]["surviving"] == 0.0


def test_the_default_defense_cuts_the_leak_rate(defended, undefended):
    _, s = defended
    _, s0 = undefended
    assert s0["leakers"]["rate"] == 1.0
    assert s["leakers"]["rate"] <= 0.25
    assert s["threats"]["killed"] >= 0.6 * s["threats"]["aimed_at_assets"]
    # Every layer that had a reason to fire did: drones and rockets meet the lower layer.
    assert s["layers"]["lower"]["kills"] > 0 and s["layers"]["mid"]["shots"] > 0


def test_threats_aimed_at_the_sea_draw_no_interceptors(defended):
    _rec, s = defended
    assert s["threats"]["decoys"] == 5
    assert s["interceptors"]["shots_at_decoys"] == 0


def test_sea_only_raid_draws_no_interceptor_at_all():
    def only_decoys(d):
        for w in d["raid"]["waves"]:
            w["groups"] = [g for g in w["groups"] if "decoy" in g.get("label", "")]

    s = summarize(run(small(only_decoys)))
    assert s["threats"]["total"] == 5 and s["threats"]["aimed_at_assets"] == 0
    assert s["interceptors"]["shots"] == 0


def test_same_seed_same_result_and_another_seed_differs(defended):
    rec, s = defended
    rec2 = run(small())
    s2 = summarize(rec2)
    # Everything but the wall-clock timings must agree.
    strip = lambda d: {k: v for k, v in d.items() if k not in ("wall_time_s", "c2_cycle_ms")}  # noqa: E731
    t1, t2 = dict(strip(s)), dict(strip(s2))
    for t in (t1, t2):
        t["tracking"] = {k: v for k, v in t["tracking"].items() if not k.startswith("scan_ms")}
        t["assignment"] = {k: v for k, v in t["assignment"].items() if not k.startswith("solve_ms")}
    assert t1 == t2
    assert rec.events == rec2.events
    rec3 = run(small(seed=8))
    assert rec3.events != rec.events


@pytest.mark.parametrize("assignment", [{"solver": "exact", "time_limit_s": 5.0},
                                        {"solver": "local_search", "objective": "asset"},
                                        {"solver": "greedy"}], ids=["exact", "asset", "greedy"])
def test_every_solver_and_objective_defends(assignment, undefended):
    def choose(d):
        d.setdefault("c2", {})["assignment"] = assignment

    rec = run(small(choose))
    s = summarize(rec)
    a = s["assignment"]
    assert a["solver"] == assignment["solver"] and a["problems"] > 0
    assert s["leakers"]["rate"] <= 0.25
    assert s["interceptors"]["shots_at_decoys"] == 0
    if assignment["solver"] == "exact":
        assert a["proven_optimal"] == a["problems"]  # small problems: every cycle's plan is proven optimal
    # No battery fired more rounds than it had.
    for layer in s["layers"].values():
        assert 0 <= layer["rounds_left"] <= layer["rounds_initial"]


def test_a_solve_past_its_time_limit_is_an_event_and_counted_in_the_summary(monkeypatch):
    import time

    from tdome.c2.assign import SOLVERS

    real, calls = SOLVERS["local_search"], []

    def first_one_slow(problem, time_limit_s=None):
        calls.append(1)
        if len(calls) == 1:
            time.sleep(0.3)
        return real(problem, time_limit_s=time_limit_s)

    def limit(d):
        d.setdefault("c2", {})["assignment"] = {"solver": "local_search", "time_limit_s": 0.02}

    monkeypatch.setitem(SOLVERS, "local_search", first_one_slow)
    rec = run(small(limit))
    over = [e for e in rec.events if e["kind"] == "solver_overrun"]
    assert len(over) == 1 and "local_search took" in over[0]["detail"]
    assert summarize(rec)["assignment"]["overruns"] == 1


def test_reserve_is_never_spent_on_threats_below_the_reserve_value():
    def hold_half(d):
        d.setdefault("c2", {}).setdefault("doctrine", {}).update(
            reserve_fraction={"upper": 0.5, "mid": 0.5, "lower": 0.5, "short": 0.5}, reserve_min_value=1e9)

    rec = run(small(hold_half))
    assert any(b.stock < b.magazine for b in rec.batteries), "nothing fired: the test would prove nothing"
    for b in rec.batteries:
        assert b.stock >= int(np.ceil(0.5 * b.magazine)), f"{b.name} dipped into its reserve"


def test_more_interceptors_never_make_the_mean_outcome_worse():
    def scarce(d):
        for b in d["batteries"]:
            b["magazine"] = max(1, b["magazine"] // 6)
            b["rounds_per_launcher"] = min(b["rounds_per_launcher"], b["magazine"])
            # The magazine counts the rounds loaded on the launchers too.
            b["launchers"] = max(1, min(b["launchers"], b["magazine"] // b["rounds_per_launcher"]))

    seeds = [1, 2, 3]
    few = [summarize(run(small(scarce, seed=k)))["leakers"]["total"] for k in seeds]
    full = [summarize(run(small(seed=k)))["leakers"]["total"] for k in seeds]
    assert np.mean(full) <= np.mean(few)
    assert np.mean(full) < np.mean(few) or np.mean(few) == 0


def test_run_folder_holds_what_the_readme_promises(defended, tmp_path):
    import pyarrow.parquet as pq

    rec, s = defended
    paths = write_run(rec, s, tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["threats"]["total"] == 24
    for key in ("layers", "leakers", "defended_value", "cost_exchange", "sensor_to_shooter_s", "tracking"):
        assert key in summary
    events = pq.read_table(paths["events"]).to_pydict()
    assert {"threat_launch", "launch", "kill", "leak"} <= set(events["kind"]) | {"leak"}
    assert sum(k == "kill" for k in events["kind"]) == summary["threats"]["killed"]
    tracks = pq.read_table(paths["tracks"])
    truth = pq.read_table(paths["truth"])
    assert tracks.num_rows > 0 and truth.num_rows > 0
    png = (tmp_path / "map.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000


def test_summary_carries_siap_and_nees_consistent_with_the_run_tables(small_run):
    import io

    import pyarrow.parquet as pq
    from rich.console import Console
    from scipy.stats import chi2

    from tdome import geo
    from tdome.analysis.metrics import siap
    from tdome.viz.terminal import print_summary

    rec, folder = small_run
    summary = json.loads((folder / "summary.json").read_text())
    tr = summary["tracking"]
    # Completeness: a track holds a threat only after one of its plots, so the share of live truth-time
    # after each threat's first detection bounds it from above.  The tracker confirms within a few scans
    # and holds a threat while radars see it, so at least half of that time is tracked.
    truth = pq.read_table(folder / "truth.parquet").to_pydict()
    t_truth, id_truth = np.array(truth["time_s"]), np.array(truth["threat_id"])
    detected = rec.first_detect_s[id_truth] <= t_truth
    assert 0.5 * detected.mean() <= tr["siap_completeness"] <= detected.mean()
    # Most track-time belongs to real threats; tracks of one threat rarely overlap.
    assert 0.0 <= tr["siap_spuriousness"] < 0.5
    assert 1.0 <= tr["siap_ambiguity"] < 1.5
    assert 0 < tr["siap_position_mean_m"] <= tr["siap_position_rms_m"] < np.inf
    assert 0 < tr["siap_velocity_mean_mps"] <= tr["siap_velocity_rms_mps"] < np.inf
    assert 0 < tr["siap_truths_tracked"] <= summary["threats"]["total"]
    assert tr["siap_track_changes_per_truth"] == tr["siap_track_changes"] / tr["siap_truths_tracked"]
    assert 0.0 < tr["siap_longest_segment_fraction"] <= 1.0
    for key, dof in (("nees_position", 3), ("nees_state", 6)):
        n = tr[key]
        assert n["dof"] == dof and n["n"] > 0 and np.isfinite(n["mean"])
        assert n["band"][0] < dof < n["band"][1]
        assert n["consistent"] == (n["band"][0] <= n["mean"] <= n["band"][1])
        # The bulk of the errors is described by the covariance (the mean is left to the few diverged tracks).
        assert 0.5 * chi2.median(dof) <= n["median"] <= 2.0 * chi2.median(dof)

    # The tracks table carries the same association and errors: the summary is recomputed from the files.
    tracks = pq.read_table(folder / "tracks.parquet").to_pydict()
    t_trk = np.array(tracks["time_s"])
    pos_err = np.array(tracks["pos_err_m"], dtype=float)
    s = siap(t_truth, id_truth, t_trk, np.array(tracks["track_id"]), np.array(tracks["truth_id"]),
             pos_err=pos_err, vel_err=np.array(tracks["vel_err_mps"], dtype=float))
    assert np.isclose(s.completeness, tr["siap_completeness"]) and np.isclose(s.position_rms, tr["siap_position_rms_m"])
    assert s.track_changes == tr["siap_track_changes"]
    assert np.isclose(np.nanmean(np.array(tracks["nees_pos"], dtype=float)), tr["nees_position"]["mean"])
    # Position errors agree with the distance between the track and truth positions written in the tables.
    ecef = lambda d, i: geo.geodetic_to_ecef(np.radians(np.asarray(d["lat_deg"])[i]),  # noqa: E731
                                             np.radians(np.asarray(d["lon_deg"])[i]), np.asarray(d["alt_m"])[i])
    where = {(t, j): i for i, (t, j) in enumerate(zip(t_truth.tolist(), id_truth.tolist()))}
    rows = np.flatnonzero(np.isfinite(pos_err))
    assert rows.size > 0 and np.isnan(pos_err[np.array(tracks["truth_id"]) < 0]).all()
    match = np.array([where[(t_trk[i], tracks["truth_id"][i])] for i in rows])
    assert np.allclose(np.linalg.norm(ecef(tracks, rows) - ecef(truth, match), axis=1), pos_err[rows], atol=1.0)

    out = io.StringIO()
    print_summary(summary, Console(file=out, width=400))
    lines = out.getvalue().splitlines()
    line = next(x for x in lines if x.startswith("air picture (SIAP)"))
    assert f"completeness {tr['siap_completeness']:.2f}" in line
    line = next(x for x in lines if x.startswith("track accuracy (SIAP"))
    assert f"position RMS {tr['siap_position_rms_m']:,.0f} m" in line
    line = next(x for x in lines if x.startswith("filter consistency, position NEES (3 dof)"))
    lo, hi = tr["nees_position"]["band"]
    assert f"mean {tr['nees_position']['mean']:.2f} against its band {lo:.2f}-{hi:.2f}" in line
    assert any(x.startswith("filter consistency, state NEES (6 dof)") for x in lines)


def test_gospa_and_siap_over_the_threats_a_radar_could_see(small_run):
    """Beside the figures over every live threat, the summary gives them over the detectable ones (inside some
    radar's coverage, above its horizon): recomputed here from the run's tables and the radars' geometry."""
    import pyarrow.parquet as pq

    from tdome import geo
    from tdome.analysis.metrics import siap

    rec, folder = small_run
    tr = json.loads((folder / "summary.json").read_text())["tracking"]
    truth = pq.read_table(folder / "truth.parquet").to_pydict()
    t, j = np.array(truth["time_s"]), np.array(truth["threat_id"])
    pos = geo.geodetic_to_ecef(np.radians(truth["lat_deg"]), np.radians(truth["lon_deg"]), np.array(truth["alt_m"]))
    seen = np.zeros(t.size, dtype=bool)
    for site in rec.sites:
        seen |= site.covers(np.asarray(pos, dtype=float))
    # Launches below the radars' horizon: part of the threat-time no radar could see.
    assert 0.0 < seen.mean() < 1.0 and tr["detectable_fraction"] == pytest.approx(seen.mean(), abs=0.01)
    tracks = pq.read_table(folder / "tracks.parquet").to_pydict()
    kt, kid, ktruth = np.array(tracks["time_s"]), np.array(tracks["track_id"]), np.array(tracks["truth_id"])
    hidden = set(zip(t[~seen].tolist(), j[~seen].tolist()))
    kept = np.array([(a, b) not in hidden for a, b in zip(kt.tolist(), ktruth.tolist())], dtype=bool)
    s = siap(t[seen], j[seen], kt[kept], kid[kept], ktruth[kept])
    assert tr["siap_detectable_completeness"] == pytest.approx(s.completeness, abs=0.01)
    # The time before a threat is detectable no longer counts against the picture.
    assert tr["siap_detectable_completeness"] > tr["siap_completeness"]
    assert tr["missed_detectable_mean"] < tr["missed_mean"]
    assert tr["gospa_detectable_mean_m"] < tr["gospa_mean_m"]


@pytest.mark.parametrize("tracker", [{"association": "jpda", "initiation": "score"}, {"motion": "imm"},
                                     {"filter": "ukf"}], ids=["jpda-score", "imm", "ukf"])
def test_every_tracking_algorithm_defends(tracker, defended):
    """Each tracker setting holds the picture the defense needs: no leak beyond the bound, no decoy shots,
    completeness and spuriousness close to the default tracker's on the same raid."""

    def choose(d):
        d.setdefault("c2", {}).setdefault("tracker", {}).update(tracker)

    s = summarize(run(small(choose)))
    _, s0 = defended
    assert s["leakers"]["rate"] <= 0.25
    assert s["interceptors"]["shots_at_decoys"] == 0
    t, t0 = s["tracking"], s0["tracking"]
    assert t["siap_completeness"] >= 0.8 * t0["siap_completeness"]
    assert t["siap_spuriousness"] <= max(0.25, 1.5 * t0["siap_spuriousness"])
    assert t["siap_ambiguity"] < 1.2


def test_the_run_ends_when_the_battle_is_over_whatever_duration_s_says(defended):
    rec, s = defended

    def forever(d):
        d["duration_s"] = 6 * 86_400.0

    long = run(small(forever))
    # The battle ends of itself: every threat down or killed, no interceptor flying.
    assert long.end_s < 900.0
    end = long.end_s
    assert np.all((long.raid.trajectories.impact_s <= end) | (long.kill_s <= end))
    assert all(f["intercept_s"] <= end for f in long.flyouts)
    # ... and it is the same battle as with the scenario's own duration, event for event.
    key = lambda e: (e["time_s"], e["kind"], e["threat_id"], e["interceptor_id"])  # noqa: E731
    assert sorted(map(key, long.events)) == sorted(map(key, rec.events))
    assert summarize(long)["ended_s"] == end == s["ended_s"]


def test_absurd_sizes_are_refused_with_the_reason():
    from tdome.scenario import ScenarioError

    def week(d):
        d["duration_s"] = 1e9

    with pytest.raises(ScenarioError, match="duration_s"):
        small(week)

    def horde(d):
        d["raid"]["waves"][0]["groups"][0]["count"] = 100_001

    with pytest.raises(ScenarioError, match="at most 100,000"):
        small(horde)


def test_large_but_legal_sizes_are_warned_about_with_the_reason():
    assert small().scale_warnings() == []

    def big(d):
        d["duration_s"] = 2 * 86_400.0
        d["raid"]["waves"][0]["groups"][0]["count"] = 6_000

    w = small(big).scale_warnings()
    assert len(w) == 2
    assert "6,0" in w[0] and "minutes" in w[0]
    assert "days" in w[1] and "battle is over" in w[1]


def test_leakers_are_told_apart_by_cause(defended, undefended):
    """Never tracked, tracked and not engaged, engaged and missed: they add up to the leakers, and with no
    battery nothing is engaged."""
    for _, s in (defended, undefended):
        by = s["leakers"]["by_cause"]
        assert sum(by.values()) == s["leakers"]["total"]
    assert undefended[1]["leakers"]["by_cause"]["engaged_and_missed"] == 0
    assert undefended[1]["leakers"]["by_cause"]["tracked_not_engaged"] > 0
    rec, s = defended
    engaged = {e["threat_id"] for e in rec.events if e["kind"] == "launch"}
    aimed = rec.raid.intended_asset >= 0
    leaked = {e["threat_id"] for e in rec.events if e["kind"] == "leak" and aimed[e["threat_id"]]}
    assert s["leakers"]["by_cause"]["engaged_and_missed"] == len(leaked & engaged)
