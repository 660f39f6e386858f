"""What an analyst reads of the sensor-to-shooter chain and the network: legs, orders, links, tables.

The leg statistics are checked against medians worked out by hand on a few
made-up engagements; the rest on a whole run of the compact test scenario,
through its summary, its terminal lines and its run folder.
"""

import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from tdome.runfolder import ENGAGEMENT_TYPES, LINK_TYPES, load_run_folder
from tdome.sim.report import S2S_LEGS, chain_times, engagement_rows, leg_durations, leg_statistics

NAN = float("nan")
CHAIN = [name for name, *_ in S2S_LEGS][:5]  # the legs that follow each other


def _eng(eid, layer=None, first=0.0, confirmed=4.0, decided=10.0, released=None, delivered=None, launch=None,
         rounds=1):
    """A ``RunRecord.legs`` item; a step left None never happened (its key is missing, as the engine leaves it)."""
    leg = dict(engagement_id=eid, node="C2", track=eid, first_plot_s=first, confirmed_s=confirmed, decided_s=decided)
    if released is not None:
        leg["released_s"] = released
    if delivered is not None:
        leg.update(delivered_s=delivered, launch_s=launch, battery=0, layer=layer, rounds=rounds)
    return leg


LEGS = [
    # Two lower-layer engagements, auto and a perfect network: released and delivered when decided.
    _eng(1, "lower", 0.0, 4.0, 10.0, 10.0, 10.0, 13.0),
    _eng(2, "lower", 2.0, 8.0, 12.0, 12.0, 12.0, 15.0),
    # An upper-layer one an operator held 6 s and the network 2 s.
    _eng(3, "upper", 1.0, 21.0, 33.0, 39.0, 41.0, 49.0),
    # Refused by the operator: decided, never released (no layer known).
    _eng(4, None, 5.0, 9.0, 20.0),
    # Released, lost on the network.
    _eng(5, None, 6.0, 7.0, 8.0, 8.0),
    # Delivered to a battery with no round ready: it never launched.
    _eng(6, "lower", 3.0, 5.0, 9.0, 9.0, 9.5, 12.5, rounds=0),
]


def test_chain_times_leave_nan_for_steps_that_never_happened():
    t = chain_times(LEGS[3])
    assert t["decided_s"] == 20.0 and all(math.isnan(t[k]) for k in ("released_s", "delivered_s", "launch_s"))
    # A delivered order that fired nothing did not launch.
    assert math.isnan(chain_times(LEGS[5])["launch_s"]) and chain_times(LEGS[5])["delivered_s"] == 9.5
    d = leg_durations(LEGS[2])
    assert [d[k] for k in CHAIN] == [20.0, 12.0, 6.0, 2.0, 8.0]
    assert d["order_to_launch"] == 10.0 and d["first_plot_to_launch"] == 48.0


def test_leg_statistics_match_hand_computed_medians():
    s = leg_statistics(LEGS, ["upper", "mid", "lower"])
    assert list(s) == ["all", "upper", "mid", "lower"]
    a = s["all"]
    # first plot -> confirmed: 4, 6, 20, 4, 1, 2 -> sorted 1 2 4 4 6 20 -> median 4
    assert a["first_plot_to_confirmed"] == dict(median=4.0, p95=pytest.approx(np.percentile([4, 6, 20, 4, 1, 2], 95)),
                                                n=6)
    # confirmed -> decision: 6, 4, 12, 11, 1, 4 -> median 5
    assert a["confirmed_to_decision"]["median"] == 5.0 and a["confirmed_to_decision"]["n"] == 6
    # decision -> release (only those released): 0, 0, 6, 0, 0 -> median 0
    assert a["decision_to_release"]["median"] == 0.0 and a["decision_to_release"]["n"] == 5
    # release -> delivered: 0, 0, 2, 0.5 -> median 0.25
    assert a["release_to_delivered"]["median"] == 0.25 and a["release_to_delivered"]["n"] == 4
    # delivered -> launch: 3, 3, 8 (the unfired one does not count) -> median 3
    assert a["delivered_to_launch"] == dict(median=3.0, p95=pytest.approx(np.percentile([3, 3, 8], 95)), n=3)
    assert a["order_to_launch"]["median"] == 3.0 and a["order_to_launch"]["n"] == 3
    # first plot -> launch: 13, 13, 48 -> median 13
    assert a["first_plot_to_launch"]["median"] == 13.0 and a["first_plot_to_launch"]["n"] == 3
    # Per layer: only the engagements whose order reached a battery of it.
    lo = s["lower"]
    assert lo["first_plot_to_confirmed"]["n"] == 3 and lo["first_plot_to_confirmed"]["median"] == 4.0  # 4, 6, 2
    assert lo["first_plot_to_launch"] == dict(median=13.0, p95=13.0, n=2)
    assert s["upper"]["decision_to_release"] == dict(median=6.0, p95=6.0, n=1)
    # A layer with no engagement: counts of 0, no statistics (never NaN, which JSON cannot hold).
    assert all(v == dict(median=None, p95=None, n=0) for v in s["mid"].values())
    assert leg_statistics([])["all"]["first_plot_to_launch"] == dict(median=None, p95=None, n=0)
    # Without layers given: those the legs name, in the layers' order.
    assert list(leg_statistics(LEGS)) == ["all", "upper", "lower"]


# --------------------------------------------------------------------------- a whole run


@pytest.fixture(scope="module")
def summary(small_run):
    return json.loads((small_run[1] / "summary.json").read_text())


def test_summary_has_the_legs_and_the_network(small_run, summary):
    rec, _ = small_run
    legs, net = summary["sensor_to_shooter_legs"], summary["network"]
    assert list(legs) == ["all", *summary["layers"]]
    assert set(legs["all"]) == {name for name, *_ in S2S_LEGS}
    assert net["architecture"] == "integrated" and net["perfect"] is True
    assert net["links"] == [] and net["messages_lost"] == 0
    assert net["messages"]["plots"]["sent"] == net["messages"]["plots"]["delivered"] > 0
    assert net["plots"]["scans"] == len(rec.plot_age_s) and net["plots"]["age_max_s"] == 0.0
    assert net["plots"]["out_of_sequence_scans"] == 0
    o = net["orders"]
    launches = [e for e in rec.events if e["kind"] == "launch"]
    assert o["decided"] == o["released"] == o["delivered"] == len(rec.legs) == len(launches) > 0
    assert o["launched"] == sum(leg["rounds"] > 0 for leg in rec.legs)
    assert o["refused"] == o["expired"] == o["unacknowledged"] == o["undelivered"] == 0
    assert net["operators"] == dict(decisions=0, delay_median_s=None, delay_p95_s=None, refused=0)
    assert net["fallback"] == dict(batteries=0, names=[], events=0, rejoined=0)
    # Auto authority on a perfect network: no operator leg, no network leg.
    a = legs["all"]
    assert a["decision_to_release"]["median"] == a["release_to_delivered"]["median"] == 0.0
    assert a["first_plot_to_launch"]["n"] == o["launched"]
    # Every layer's count adds up to all (every order reached a battery here).
    assert sum(v["first_plot_to_launch"]["n"] for k, v in legs.items() if k != "all") == a["first_plot_to_launch"]["n"]


def test_legs_add_up_for_every_launched_engagement(small_run):
    rec, _ = small_run
    launched = [leg for leg in rec.legs if leg.get("rounds", 0) > 0]
    assert launched
    for leg in launched:
        d = leg_durations(leg)
        assert all(np.isfinite(d[k]) and d[k] >= 0 for k in d), leg
        assert sum(d[k] for k in CHAIN) == pytest.approx(d["first_plot_to_launch"], abs=1e-9)
        assert d["release_to_delivered"] + d["delivered_to_launch"] == pytest.approx(d["order_to_launch"], abs=1e-9)
        # The chain's first plot is no earlier than the first detection of the threat the engagement fired at.
        row = rec.engagement_threat.get(leg["engagement_id"], -1)
        if row >= 0:
            assert rec.first_detect_s[row] <= leg["first_plot_s"] + 1e-9
            assert rec.first_launch_s[row] <= leg["launch_s"] + 1e-9


def test_engagements_table_round_trips_through_the_run_folder(small_run):
    rec, folder = small_run
    run = load_run_folder(folder)
    eng = run.engagements
    assert list(eng) == list(ENGAGEMENT_TYPES)
    rows = engagement_rows(rec)
    assert len(eng["engagement_id"]) == len(rows) == len(rec.legs)
    for c in ENGAGEMENT_TYPES:
        want = [r[c] for r in rows]
        if ENGAGEMENT_TYPES[c] == pa.float64():
            np.testing.assert_array_equal(np.asarray(eng[c], dtype=float), np.asarray(want, dtype=float))
        else:
            assert eng[c].tolist() == want, c
    assert set(eng["fate"].tolist()) <= {"launched", "not fired", "not delivered", "not released"}
    # The table agrees with the interceptors it launched.
    ic = run.interceptors
    fired = {int(e): n for e, n in zip(*np.unique(ic["engagement_id"], return_counts=True), strict=True)}
    for eid, rounds, fate in zip(eng["engagement_id"].tolist(), eng["rounds"].tolist(), eng["fate"].tolist(),
                                 strict=True):
        assert fired.get(eid, 0) == rounds
        assert (fate == "launched") == (rounds > 0)
    # A perfect network has no links: no links table, an empty one when read.
    assert not (folder / "links.parquet").exists()
    assert list(run.links) == list(LINK_TYPES) and all(len(v) == 0 for v in run.links.values())


def test_an_older_run_folder_without_the_new_tables_still_reads(small_run, tmp_path):
    _, folder = small_run
    for f in folder.iterdir():
        if f.name != "engagements.parquet":
            (tmp_path / f.name).write_bytes(f.read_bytes())
    run = load_run_folder(tmp_path)
    assert list(run.engagements) == list(ENGAGEMENT_TYPES) and len(run.engagements["engagement_id"]) == 0


def test_links_table_and_network_figures_when_there_are_links(small_run, tmp_path):
    from tdome.runfolder import write_run_folder

    links = [dict(src="Leshan EWR", dst="C2", sent=10, delivered=8, lost=1, down=1, late=2, delay_median_s=0.5,
                  delay_p95_s=0.9, delay_max_s=1.0),
             dict(src="C2", dst="Leshan EWR", sent=0, delivered=0, lost=0, down=0, late=0, delay_median_s=NAN,
                  delay_p95_s=NAN, delay_max_s=NAN)]
    threats = {c: [] for c in ("threat_id", "type", "cls", "wave", "label", "launch_s", "impact_s", "aim_lat_deg",
                               "aim_lon_deg", "intended_asset", "killed_s", "first_detect_s", "first_launch_s")}
    paths = write_run_folder(tmp_path, summary={}, scene={}, events=[], tracks=[], truth=[], threats=threats,
                             interceptors=[], engagements=[], links=links)
    import pyarrow.parquet as pq

    t = pq.read_table(paths["links"])
    assert t.column_names == list(LINK_TYPES) and t.num_rows == 2
    assert t.column("sent").to_pylist() == [10, 0] and math.isnan(t.column("delay_max_s").to_pylist()[1])
    # Written again without links (a perfect network), the stale table goes.
    paths = write_run_folder(tmp_path, summary={}, scene={}, events=[], tracks=[], truth=[], threats=threats,
                             interceptors=[])
    assert "links" not in paths and not (tmp_path / "links.parquet").exists()


def test_network_summary_counts_what_the_record_holds(small_run):
    """The network section from a record of a lossy, operator-run battle (made up on the real record)."""
    import copy

    from tdome.sim.report import summarize

    rec = copy.copy(small_run[0])
    rec.perfect_network = False
    rec.architecture = "integrated_with_fallback"
    rec.messages = dict(plots=dict(sent=100, delivered=90), order=dict(sent=5, delivered=4))
    rec.links = [dict(src="a", dst="b", sent=3, delivered=0, lost=3, down=0, late=0, delay_median_s=NAN,
                      delay_p95_s=NAN, delay_max_s=NAN)]
    rec.plot_age_s = [0.0, 1.0, 2.0, 3.0]
    rec.decisions = [(10.0, "mid", 4.0, False), (20.0, "mid", 8.0, True), (30.0, "upper", 6.0, False)]
    rec.legs = LEGS
    rec.events = rec.events + [
        dict(time_s=20.0, kind="order_refused", battery=1), dict(time_s=30.0, kind="order_expired", battery=1),
        dict(time_s=40.0, kind="order_unacknowledged", battery=1), dict(time_s=50.0, kind="fallback", battery=2),
        dict(time_s=60.0, kind="rejoined", battery=2), dict(time_s=70.0, kind="fallback", battery=2)]
    rec.events = [dict(dict(threat_id=-1, track_id=-1, layer="", interceptor_id=-1, rounds=0, lat_deg=NAN,
                            lon_deg=NAN, alt_m=NAN, detail=""), **e) for e in rec.events]
    net = summarize(rec)["network"]
    assert net["messages"]["plots"] == dict(sent=100, delivered=90, lost=10)
    assert net["messages_sent"] == 105 and net["messages_lost"] == 11
    assert net["links"][0]["delay_median_s"] is None  # NaN would not be JSON
    json.dumps(net, allow_nan=False)
    assert net["plots"]["age_median_s"] == 1.5 and net["plots"]["age_max_s"] == 3.0
    assert net["orders"] == dict(decided=6, released=5, delivered=4, undelivered=1, launched=3, refused=1, expired=1,
                                 unacknowledged=1)
    assert net["operators"] == dict(decisions=3, delay_median_s=6.0, delay_p95_s=pytest.approx(7.8), refused=1)
    assert net["fallback"] == dict(batteries=1, names=[rec.batteries[2].name], events=2, rejoined=1)


def test_terminal_shows_the_legs_in_two_lines_and_the_network_only_when_it_matters(small_run, summary):
    from rich.console import Console

    from tdome.viz.terminal import print_summary

    out = io.StringIO()
    print_summary(summary, Console(file=out, width=400))
    lines = out.getvalue().splitlines()
    legs = [x for x in lines if "sensor-to-shooter legs" in x or x.startswith("first plot → launch by layer")]
    assert len(legs) == 2
    total = summary["sensor_to_shooter_legs"]["all"]["first_plot_to_launch"]
    assert f"first plot → launch {total['median']:.1f} (p95 {total['p95']:.1f})" in legs[0]
    assert not any(x.startswith(("network", "orders:", "operators:", "fallback:")) for x in lines)

    s = json.loads(json.dumps(summary))
    s["network"].update(perfect=False, messages_sent=200, messages_lost=7,
                        messages={"plots": dict(sent=200, delivered=193, lost=7)})
    s["network"]["orders"]["expired"] = 2
    out = io.StringIO()
    print_summary(s, Console(file=out, width=400))
    text = out.getvalue()
    assert "7 of 200 messages lost (plots 7/200)" in text and "2 expired waiting" in text
    assert "Sensor-to-shooter legs: median / p95 (s)" in text


def test_study_rows_carry_the_chain_and_the_network(summary):
    from tdome.studies.results import MEASURES, outcome_row

    row = outcome_row(summary)
    names = list(MEASURES)
    # The new measures sit after the sensor-to-shooter ones; the others keep their order.
    assert names.index("s2s_p95_s") < names.index("s2s_chain_median_s") < names.index("gospa_mean_m")
    assert names[-1] == "wall_time_s"
    assert row["s2s_chain_median_s"] == summary["sensor_to_shooter_legs"]["all"]["first_plot_to_launch"]["median"]
    assert row["order_to_launch_median_s"] == summary["sensor_to_shooter_legs"]["all"]["order_to_launch"]["median"]
    assert row["messages_lost"] == 0.0


def test_every_event_kind_of_the_chain_of_command_has_a_label_and_a_colour_in_the_replay():
    from tdome.viz.replay import EVENT_KINDS

    web = Path(__file__).parent.parent / "src" / "tdome" / "viz" / "web"
    js = (web / "replay.js").read_text()
    css = (web / "replay.css").read_text()
    labels = re.search(r"KIND_LABELS = \{(.*?)\};", js, re.S).group(1)
    for kind in ("order_refused", "order_expired", "order_unacknowledged", "fallback", "rejoined"):
        assert kind in EVENT_KINDS
        assert re.search(rf"\b{kind}:", labels), kind
        assert f".k-{kind}" in css, kind
