"""The sensor-to-shooter network, the C2 architectures and the operators, end to end.

Each test states an outcome an analyst relies on: a perfect network changes
nothing, latency delays launches by exactly the latency, a separate battery
fires only at what its own radars saw, a battery cut off from the C2 fights
alone only under the fallback architecture, a dead link is a missing radar,
and an operator who answers at once is no operator at all.
"""

from pathlib import Path

import numpy as np
import pytest
import yaml

from tdome.scenario import scenario_from_dict
from tdome.scenario.loader import default_scenario_path
from tdome.sim.build import build_network
from tdome.sim.engine import run
from tdome.sim.report import summarize

SMALL = Path(__file__).parent / "data" / "small.yaml"
TABLES = ("events", "track_rows", "truth_rows", "gospa_rows", "flyouts")


def small(mutate=None, seed=None, path=SMALL):
    data = yaml.safe_load(path.read_text())
    if mutate is not None:
        mutate(data)
    return scenario_from_dict(data, source=str(path), seed=seed)


def network(**link):
    """A network section joining every radar and battery to the C2 node by a link with these parameters."""

    def mutate(d):
        d["network"] = {"default_link": dict(link)}

    return mutate


def both(*mutations):
    def mutate(d):
        for m in mutations:
            m(d)

    return mutate


def c2(**settings):
    def mutate(d):
        d.setdefault("c2", {}).update(settings)

    return mutate


def authority(mode, **operators):
    def mutate(d):
        d.setdefault("c2", {}).setdefault("doctrine", {})["authority"] = dict.fromkeys(
            ("upper", "mid", "lower", "short"), mode)
        if operators:
            d["operators"] = operators

    return mutate


def _same(x, y) -> bool:
    """Equal, NaN equal to NaN, through tuples, lists and dicts."""
    if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
        return len(x) == len(y) and all(map(_same, x, y))
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_same(x[k], y[k]) for k in x)
    if isinstance(x, float) and isinstance(y, float) and np.isnan(x) and np.isnan(y):
        return True
    return bool(x == y)


def same_battle(a, b):
    for name in TABLES:
        assert _same(getattr(a, name), getattr(b, name)), f"{name} differ"
    np.testing.assert_array_equal(a.kill_s, b.kill_s)


def fired_at(rec):
    """(battery, truth row) of every launch attributed to a threat."""
    return [(e["battery"], e["threat_id"]) for e in rec.events if e["kind"] == "launch" and e["threat_id"] >= 0]


def own_sensors(sc, rec):
    spec = build_network(sc, rec.sites)
    return {fc.battery: set(fc.radars) | set(fc.cued_by) for fc in spec.fire_control}


@pytest.fixture(scope="module")
def base():
    return run(small())


# --------------------------------------------------------------------------- a perfect network changes nothing


def first_waves(d):
    """The default raid's first 700 s and the four waves that start in them, to keep the suite's time."""
    d["duration_s"] = 700.0
    d["raid"]["waves"] = [w for w in d["raid"]["waves"] if w["start_s"] < 700.0]


@pytest.fixture(scope="module")
def default_runs():
    """The default scenario as shipped, and with a network of zero latency and no loss on every node."""
    plain = run(small(first_waves, path=default_scenario_path()))
    wired = run(small(both(first_waves, network(latency_ms=0.0, loss=0.0)), path=default_scenario_path()))
    return plain, wired


def test_a_zero_latency_lossless_network_gives_todays_results_exactly(default_runs):
    plain, wired = default_runs
    assert plain.perfect_network and not wired.perfect_network
    same_battle(plain, wired)
    assert wired.messages["order"]["sent"] == wired.messages["order"]["delivered"] > 0
    # The perfect network hands the batteries' reports straight to the C2, the other queues them: same counts.
    assert plain.messages["status"] == wired.messages["status"] and plain.messages["status"]["sent"] > 0
    assert all(ln["lost"] == ln["down"] == 0 for ln in wired.links)
    s, w = summarize(plain), summarize(wired)
    for key in ("leakers", "interceptors", "layers", "threats", "defended_value", "sensor_to_shooter_s"):
        assert s[key] == w[key]


def test_integrated_engages_threats_only_other_radars_see(default_runs):
    """Engage on remote: in the default raid some battery fires at a threat its own radars never saw."""
    plain, _ = default_runs
    sc = small(first_waves, path=default_scenario_path())
    own = own_sensors(sc, plain)
    remote = [(b, r) for b, r in fired_at(plain) if not plain.detected_by[sorted(own[b]), r].any()]
    assert remote, "every engagement was of a threat the battery's own radars saw"


# --------------------------------------------------------------------------- latency, loss and cut links


def test_a_fixed_link_latency_delays_every_launch_by_exactly_that_latency(base):
    latency_s = 0.75
    late = run(small(network(latency_ms=latency_s * 1e3)))
    reaction = {b.index: b.spec.reaction_s for b in late.batteries}
    launched = [leg for leg in late.legs if "launch_s" in leg]
    assert launched
    for leg in launched:
        # order -> launch: the link's latency, then the battery's reaction time.
        assert leg["launch_s"] - leg["released_s"] == pytest.approx(latency_s + reaction[leg["battery"]], abs=1e-9)
        assert leg["delivered_s"] - leg["released_s"] == pytest.approx(latency_s, abs=1e-9)
    for leg in (g for g in base.legs if "launch_s" in g):
        assert leg["launch_s"] - leg["released_s"] == pytest.approx(reaction[leg["battery"]], abs=1e-9)
    # Every plot reached the C2 that much after it was measured.
    assert np.allclose(late.plot_age_s, latency_s)


def test_jitter_brings_plots_out_of_sequence_and_the_run_counts_them():
    rec = run(small(network(latency_ms=200.0, jitter_ms=400.0, jitter="exponential")))
    ages = np.array(rec.plot_age_s)
    assert ages.min() >= 0.2 and ages.max() > 1.0
    assert rec.tracker_stats["oos_scans"] > 0
    assert sum(ln["late"] for ln in rec.links) > 0
    assert summarize(rec)["leakers"]["total"] >= 0


def test_a_lost_order_is_presumed_lost_and_only_a_lost_one():
    """On lossy links some orders never arrive: the C2 learns it only from the batteries' status (the order is
    not acknowledged), presumes exactly those lost and opens their threats to engagement again."""
    rec = run(small(network(latency_ms=100.0, loss=0.3)))
    lost = {int(e["detail"].split()[1]) for e in rec.events if e["kind"] == "order_unacknowledged"}
    undelivered = {g["engagement_id"] for g in rec.legs if "released_s" in g and "delivered_s" not in g}
    assert lost and lost <= undelivered
    # Each threat whose order was lost was engaged again by a later order.
    tracks = {g["engagement_id"]: g["track"] for g in rec.legs}
    again = [eid for eid in lost if any(g["track"] == tracks[eid] and g["engagement_id"] > eid for g in rec.legs)]
    assert again


def test_total_loss_on_a_radars_link_is_the_same_picture_as_removing_the_radar():
    name = "Changhua coastal"

    def drop_radar(d):
        d["radars"] = [r for r in d["radars"] if r["name"] != name]

    def dead_link(d):
        d["network"]["links"] = [{"between": [name, "C2"], "loss": 1.0}]

    cut = run(small(both(network(), dead_link)))
    gone = run(small(both(network(), drop_radar)))
    assert cut.links and any(ln["src"] == name and ln["lost"] == ln["sent"] > 0 for ln in cut.links)
    same_battle(cut, gone)


def test_a_battery_cut_off_from_the_c2_fights_alone_only_with_fallback():
    """Lower Taichung's link is down all battle: under 'integrated' it never fires; under
    'integrated_with_fallback' it engages threats its own radar sees once the silence timeout has passed."""
    battery = "Lower Taichung"

    def cut(d):
        d["network"]["links"] = [{"between": [battery, "C2"], "outages": [{"start_s": 0.0, "end_s": 1e6}]}]
        for b in d["batteries"]:
            if b["name"] == battery:
                b["radars"] = ["FCR Central"]

    integrated = run(small(both(network(), cut, c2(architecture="integrated"))))
    fallback = run(small(both(network(), cut, c2(architecture="integrated_with_fallback", fallback_after_s=10.0))))
    b = [x.name for x in integrated.batteries].index(battery)
    assert not [e for e in integrated.events if e["kind"] == "launch" and e["battery"] == b]
    alone = [e for e in fallback.events if e["kind"] == "launch" and e["battery"] == b]
    assert alone, "the cut-off battery never fought alone"
    assert all(e["time_s"] > 10.0 for e in alone)
    fcr = [s.name for s in fallback.sites].index("FCR Central")
    assert all(fallback.detected_by[fcr, e["threat_id"]] for e in alone if e["threat_id"] >= 0)
    assert [e["battery"] for e in fallback.events if e["kind"] == "fallback"] == [b]


# --------------------------------------------------------------------------- separate fire control


def test_under_separate_no_battery_fires_at_a_threat_its_own_radars_never_saw():
    sc = small(c2(architecture="separate"))
    rec = run(sc)
    own = own_sensors(sc, rec)
    shots = fired_at(rec)
    assert shots
    for b, r in shots:
        assert rec.detected_by[sorted(own[b]), r].any(), f"battery {b} fired at threat {r} it never saw"


# --------------------------------------------------------------------------- operators


def test_confirm_with_an_instant_operator_is_auto(base):
    confirm = run(small(authority("confirm", delay="fixed", delay_s=0.0)))
    same_battle(base, confirm)
    assert len(confirm.decisions) == len([g for g in base.legs if "released_s" in g]) > 0


def test_hold_fires_nothing(base):
    def early(d):  # the first engagements of this raid come within a few minutes
        d["duration_s"] = 250.0

    assert [e for e in base.events if e["kind"] == "launch" and e["time_s"] < 250.0]
    rec = run(small(both(authority("hold"), early)))
    assert not [e for e in rec.events if e["kind"] == "launch"]


def perfect_picture(d):
    d.setdefault("sim", {})["fidelity"] = "perfect_picture"


def test_a_slow_operator_never_lowers_the_mean_leak():
    """Over three seeds, on the perfect picture (the operator's effect apart from tracking's noise)."""
    seeds = (1, 2, 3)
    fast = [summarize(run(small(perfect_picture, seed=s)))["leakers"]["total"] for s in seeds]
    slow_runs = [run(small(both(perfect_picture, authority("confirm", delay="lognormal", delay_s=20.0,
                                                           delay_sigma=0.5)), seed=s)) for s in seeds]
    slow = [summarize(r)["leakers"]["total"] for r in slow_runs]
    assert np.mean(slow) >= np.mean(fast)
    waited = [d for r in slow_runs for d in r.decisions]
    assert waited and np.median([d[2] for d in waited]) > 10.0
    # A request the operator is too slow for expires with its shot window, and is said to.
    assert any(e["kind"] == "order_expired" for r in slow_runs for e in r.events)


# --------------------------------------------------------------------------- C2 failover


def test_a_standby_c2_takes_command_when_the_primary_is_lost():
    """The primary goes down at 100 s: the standby, which kept its own picture, takes command after the
    failover silence and the batteries keep fighting; without a standby nothing fires after the loss."""

    def two_nodes(d):
        d["network"] = {
            "c2_nodes": [{"name": "Main", "outages": [{"start_s": 100.0, "end_s": 1e6}]}, {"name": "Standby"}],
            "failover_after_s": 5.0,
            "default_link": {"latency_ms": 20.0},
            "links": [{"between": ["Main", "Standby"], "latency_ms": 5.0}],
        }

    def one_node(d):
        d["network"] = {"c2_nodes": [{"name": "Main", "outages": [{"start_s": 100.0, "end_s": 1e6}]}],
                        "default_link": {"latency_ms": 20.0}}

    pair = run(small(two_nodes))
    alone = run(small(one_node))
    takeover = [e for e in pair.events if e["kind"] == "c2_takeover"]
    assert len(takeover) == 1 and 105.0 <= takeover[0]["time_s"] <= 107.0
    later = [leg for leg in pair.legs if leg["decided_s"] > 100.0]
    assert later and {leg["node"] for leg in later} == {"Standby"}
    assert not [leg for leg in pair.legs if leg["node"] == "Standby" and leg["decided_s"] < 100.0]
    assert not [e for e in alone.events if e["kind"] == "launch" and e["time_s"] > 101.0 + 10.0]
    assert summarize(pair)["leakers"]["total"] <= summarize(alone)["leakers"]["total"]
