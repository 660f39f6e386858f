"""The scenario's network, architecture and operator settings: the file format, its checks, and the NetworkSpec
the simulator builds from it."""

from __future__ import annotations

import copy
import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tdome import geo
from tdome.c2.config import AUTHORITIES, ConfigError, DoctrineConfig
from tdome.messages import LAYERS
from tdome.scenario import ScenarioError, load_scenario, load_scenario_text, read_scenario_data, scenario_from_dict
from tdome.scenario.schema import DoctrineSettings
from tdome.sim.build import build_network, build_sensors
from tdome.sim.network import FireControlSpec, LinkSpec, NetworkSpec, OperatorSpec

# The sections of the format's full example, added to the default scenario.
NETWORK = {
    "c2_nodes": [{"name": "Joint C2", "outages": [{"start_s": 600.0, "end_s": 900.0}]}, {"name": "Standby C2"}],
    "failover_after_s": 5.0,
    "default_link": {"latency_ms": 50.0, "jitter_ms": 10.0, "jitter": "exponential", "loss": 0.0,
                     "max_rate_hz": None, "outages": [], "mtbf_s": None, "mttr_s": None},
    "links": [{"between": ["Leshan EWR", "Joint C2"], "latency_ms": 80.0, "loss": 0.05}],
}
C2 = {"architecture": "integrated", "fallback_after_s": 10.0,
      "doctrine": {"authority": {"upper": "auto", "mid": "auto", "lower": "auto", "short": "auto"}}}
OPERATORS = {"delay": "lognormal", "delay_s": 8.0, "delay_sigma": 0.5, "refusal_probability": 0.0}


def default_data() -> dict:
    return copy.deepcopy(read_scenario_data(None)[0])


def full_example() -> dict:
    """The default scenario with every new section of the format given."""
    d = default_data()
    c2 = copy.deepcopy(C2)
    d["c2"] = {**d["c2"], "architecture": c2["architecture"], "fallback_after_s": c2["fallback_after_s"],
               "doctrine": {**d["c2"]["doctrine"], **c2["doctrine"]}}
    d["network"] = copy.deepcopy(NETWORK)
    d["operators"] = dict(OPERATORS)
    d["batteries"][0]["radars"] = ["FCR North", "Gap filler Hsinchu"]
    d["batteries"][0]["cued_by"] = ["Leshan EWR", "Linkou coastal"]
    del d["batteries"][1]["radars"]  # the default: the radar nearest the battery
    return d


def spec_of(d: dict) -> NetworkSpec:
    sc = scenario_from_dict(d)
    sites, _ = build_sensors(sc)
    return build_network(sc, sites)


def error_of(d: dict, tmp_path: Path, name: str = "net.yaml") -> str:
    """The message of loading ``d`` written as a YAML file: it names the file and a line, and leaks nothing."""
    p = tmp_path / name
    p.write_text(yaml.safe_dump(d, sort_keys=False, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    msg = str(info.value)
    assert name in msg and "line " in msg
    for bad in ("Traceback", 'File "', "pydantic", "input_type="):
        assert bad not in msg
    return msg


# --------------------------------------------------------------------------- the valid format


def test_the_full_example_loads(tmp_path: Path) -> None:
    d = full_example()
    p = tmp_path / "full.yaml"
    p.write_text(yaml.safe_dump(d, sort_keys=False, allow_unicode=True), encoding="utf-8")
    sc = load_scenario(p)
    assert sc.c2.architecture == "integrated" and sc.c2.fallback_after_s == 10.0
    assert sc.network is not None and [n.name for n in sc.network.c2_nodes] == ["Joint C2", "Standby C2"]
    assert sc.network.links[0].between == ["Leshan EWR", "Joint C2"]
    assert sc.operators.delay == "lognormal"
    assert load_scenario_text(sc.to_yaml()) == sc


def test_every_new_field_is_optional() -> None:
    sc = scenario_from_dict(default_data())
    assert sc.network is None
    assert sc.c2.architecture == "integrated" and sc.c2.fallback_after_s == 10.0
    assert sc.c2.doctrine.authority.model_dump() == dict.fromkeys(LAYERS, "auto")
    assert sc.operators.model_dump() == {"delay": "fixed", "delay_s": 0.0, "delay_sigma": 0.5,
                                         "refusal_probability": 0.0}
    d = default_data()
    d["network"] = {"default_link": {}}
    net = scenario_from_dict(d).network
    assert net is not None and [n.name for n in net.c2_nodes] == ["C2"] and net.links == []
    assert net.failover_after_s == 5.0 and net.default_link is not None
    assert net.default_link.model_dump() == {"latency_ms": 0.0, "jitter_ms": 0.0, "jitter": "none", "loss": 0.0,
                                             "max_rate_hz": None, "outages": [], "mtbf_s": None, "mttr_s": None}
    d["network"] = {}  # no link at all: no battery could hear a C2 node
    with pytest.raises(ScenarioError, match="no battery has a route to any C2 node"):
        scenario_from_dict(d)
    d["c2"]["architecture"] = "separate"
    assert scenario_from_dict(d).network.default_link is None  # type: ignore[union-attr]
    d = default_data()
    d["batteries"] = d["batteries"][:1]
    d["network"] = {"links": [{"between": ["Upper North", "C2"]}]}
    link = scenario_from_dict(d, source="x").network.links[0]  # type: ignore[union-attr]
    assert (link.latency_ms, link.jitter_ms, link.jitter, link.loss, link.max_rate_hz, link.outages,
            link.mtbf_s, link.mttr_s) == (0.0, 0.0, "none", 0.0, None, [], None, None)


def test_the_default_scenario_names_a_radar_for_every_battery() -> None:
    sc = scenario_from_dict(default_data())
    radars = {r.name: r.type for r in sc.radars}
    # The early-warning radar cues the upper and mid layers; the short-range battery at Chiayi, which no
    # fire-control radar covers, is cued by the nearest coastal radar.
    cued = {"Short Chiayi Air Base": ["Tainan coastal"]}
    for b in sc.batteries:
        assert b.radars and all(radars[n] in ("fcr_mpq65", "fcr_short") for n in b.radars), b.name
        assert b.cued_by == (["Leshan EWR"] if b.layer in ("upper", "mid") else cued.get(b.name, [])), b.name


# --------------------------------------------------------------------------- the builder


def test_without_a_network_section_the_network_is_perfect() -> None:
    spec = spec_of(default_data())
    ref = NetworkSpec()
    assert spec.links is None and spec.perfect
    assert (spec.architecture, spec.c2_nodes, spec.c2_outages, spec.failover_after_s, spec.fallback_after_s,
            spec.operators) == (ref.architecture, ref.c2_nodes, ref.c2_outages, ref.failover_after_s,
                                ref.fallback_after_s, ref.operators)
    sc = scenario_from_dict(default_data())
    assert len(spec.fire_control) == len(sc.batteries)
    index = {r.name: i for i, r in enumerate(sc.radars)}
    for i, (fc, b) in enumerate(zip(spec.fire_control, sc.batteries)):
        assert fc == FireControlSpec(battery=i, radars=tuple(index[n] for n in b.radars),
                                     cued_by=tuple(index[n] for n in b.cued_by))


def test_the_full_example_builds_in_si_units() -> None:
    d = full_example()
    d["network"]["links"].append({"between": ["Upper North", "Mid Taipei"], "latency_ms": 2.5, "jitter": "uniform",
                                  "jitter_ms": 1.0, "max_rate_hz": 20.0, "mtbf_s": 3600.0, "mttr_s": 60.0,
                                  "outages": [{"start_s": 10.0, "end_s": 20.0}]})
    spec = spec_of(d)
    sc = scenario_from_dict(d)
    assert spec.architecture == "integrated" and spec.fallback_after_s == 10.0 and spec.failover_after_s == 5.0
    assert spec.c2_nodes == ("Joint C2", "Standby C2")
    assert spec.c2_outages == (((600.0, 900.0),), ())
    assert spec.operators == OperatorSpec(delay="lognormal", delay_s=8.0, delay_sigma=0.5, refusal_probability=0.0)
    assert spec.links is not None
    # The named links first, as given (ms -> s) ...
    assert spec.links[0] == LinkSpec(a="Leshan EWR", b="Joint C2", latency_s=0.08, loss=0.05)
    assert spec.links[1] == LinkSpec(a="Upper North", b="Mid Taipei", latency_s=0.0025, jitter_s=0.001,
                                     jitter="uniform", max_rate_hz=20.0, outages=((10.0, 20.0),), mtbf_s=3600.0,
                                     mttr_s=60.0)
    # ... then default_link from every radar and battery to each C2 node, except the pair a named link joins.
    default = LinkSpec(a="", b="", latency_s=0.05, jitter_s=0.01, jitter="exponential")
    expanded = spec.links[2:]
    nodes = [r.name for r in sc.radars] + [b.name for b in sc.batteries]
    pairs = [(n, c) for c in ("Joint C2", "Standby C2") for n in nodes if (n, c) != ("Leshan EWR", "Joint C2")]
    assert [(x.a, x.b) for x in expanded] == pairs
    for x in expanded:
        assert x == LinkSpec(**{**default.__dict__, "a": x.a, "b": x.b})
    assert math.isclose(expanded[0].latency_s, 0.05)


def test_fire_control_names_resolve_to_indices_and_default_to_the_nearest_radar() -> None:
    d = full_example()
    sc = scenario_from_dict(d)
    spec = spec_of(d)
    index = {r.name: i for i, r in enumerate(sc.radars)}
    assert spec.fire_control[0] == FireControlSpec(
        battery=0, radars=(index["FCR North"], index["Gap filler Hsinchu"]),
        cued_by=(index["Leshan EWR"], index["Linkou coastal"]))
    b = sc.batteries[1]
    assert b.radars is None
    dist = [geo.great_circle_distance_m(math.radians(b.lat), math.radians(b.lon), math.radians(r.lat),
                                        math.radians(r.lon)) for r in sc.radars]
    nearest = min(range(len(dist)), key=dist.__getitem__)
    assert sc.radars[nearest].name == "FCR Central"  # Upper Central's own FCR is also its nearest radar
    assert spec.fire_control[1] == FireControlSpec(battery=1, radars=(nearest,), cued_by=(index["Leshan EWR"],))
    assert [fc.battery for fc in spec.fire_control] == list(range(len(sc.batteries)))


def test_a_nearest_radar_that_is_not_a_fire_control_radar_is_still_the_nearest() -> None:
    d = default_data()
    for b in d["batteries"]:
        b.pop("radars", None)
    sc = scenario_from_dict(d)
    spec = spec_of(d)
    index = {r.name: i for i, r in enumerate(sc.radars)}
    by_name = {b.name: fc for b, fc in zip(sc.batteries, spec.fire_control)}
    assert by_name["Lower Taoyuan Airport"].radars == (index["Linkou coastal"],)  # 14 km, FCR North 19 km
    assert by_name["Mid Hualien"].radars == (index["Gap filler Hualien"],)


def test_a_scenario_with_links_only_has_no_default_links() -> None:
    d = default_data()
    d["batteries"] = d["batteries"][:2]
    d["network"] = {"links": [{"between": ["Upper North", "C2"]}, {"between": ["Upper Central", "Upper North"]}]}
    spec = spec_of(d)
    assert spec.links == (LinkSpec(a="Upper North", b="C2"), LinkSpec(a="Upper Central", b="Upper North"))
    assert spec.c2_nodes == ("C2",) and spec.c2_outages == ((),)


# --------------------------------------------------------------------------- the authority setting


def test_authority_is_a_keyed_setting_with_choices() -> None:
    assert DoctrineConfig().authority == dict.fromkeys(LAYERS, "auto")
    assert DoctrineConfig(authority={**dict.fromkeys(LAYERS, "auto"), "mid": "confirm"}).authority["mid"] == "confirm"
    with pytest.raises(ConfigError, match=r"authority 'maybe' for 'upper': must be 'auto' or 'confirm' or 'hold'"):
        DoctrineConfig(authority={**dict.fromkeys(LAYERS, "auto"), "upper": "maybe"})
    schema = DoctrineSettings.model_json_schema()
    entries = schema["$defs"]["AuthoritySettings"]["properties"]
    assert list(entries) == list(LAYERS)
    assert all(e["enum"] == list(AUTHORITIES) and e["default"] == "auto" for e in entries.values())


def test_authority_reaches_the_c2_config() -> None:
    from tdome.sim.build import c2_config

    d = default_data()
    d["c2"]["doctrine"]["authority"] = {"mid": "confirm", "short": "hold"}
    cfg = c2_config(scenario_from_dict(d))
    assert cfg.doctrine.authority == {"upper": "auto", "mid": "confirm", "lower": "auto", "short": "hold"}


# --------------------------------------------------------------------------- bad input


def _set(path: tuple, value):
    def f(d: dict) -> None:
        for k in path[:-1]:
            d = d[k]
        d[path[-1]] = value
    return f


def _no_default_link(d: dict) -> None:
    d["network"]["default_link"] = None


L0 = ("network", "links", 0)

# (case, mutation of the full example, what the message must hold: the field path, the value, what is allowed)
BAD = [
    ("link_to_unknown_node", lambda d: d["network"]["links"].append({"between": ["Leshan EWR", "Joint C3"]}),
     ["network.links[1].between[1]", "'Joint C3'", "unknown node", "did you mean 'Joint C2'",
      "radars: Leshan EWR, Linkou coastal", "batteries: Upper North", "C2 nodes (network.c2_nodes): Joint C2, "
      "Standby C2"]),
    ("negative_latency", _set(L0 + ("latency_ms",), -5.0),
     ["network.links[0].latency_ms", "-5.0", "must be >= 0"]),
    ("negative_default_latency", _set(("network", "default_link", "latency_ms"), -1),
     ["network.default_link.latency_ms", "-1", "must be >= 0"]),
    ("loss_above_one", _set(L0 + ("loss",), 1.5),
     ["network.links[0].loss", "1.5", "must be <= 1"]),
    ("negative_loss", _set(L0 + ("loss",), -0.1),
     ["network.links[0].loss", "-0.1", "must be >= 0"]),
    ("outage_ends_before_it_starts", _set(L0 + ("outages",), [{"start_s": 100.0, "end_s": 50.0}]),
     ["network.links[0].outages[0].end_s", "50.0", "must be > start_s (100)"]),
    ("c2_outage_ends_when_it_starts", _set(("network", "c2_nodes", 0, "outages"), [{"start_s": 60, "end_s": 60}]),
     ["network.c2_nodes[0].outages[0].end_s", "60", "must be > start_s (60)"]),
    ("unknown_architecture", _set(("c2", "architecture"), "mesh"),
     ["c2.architecture", "'mesh'", "'integrated', 'separate' or 'integrated_with_fallback'"]),
    ("no_route_under_integrated", lambda d: (_no_default_link(d), d["network"]["links"].append(
        {"between": ["Upper North", "Leshan EWR"]})),
     ["network.links", "batteries 'Upper Central', 'Mid Taipei'", "have no route to any C2 node",
      "C2 nodes: Joint C2, Standby C2", "c2.architecture 'integrated'", "add a link between each battery and a C2 "
      "node", "or a default_link"]),
    ("one_battery_without_route", lambda d: (
        _no_default_link(d),
        d.__setitem__("batteries", d["batteries"][:2]),
        d["network"]["links"].append({"between": ["Upper North", "Leshan EWR"]})),
     ["network.links", "battery 'Upper Central' has no route to any C2 node", "Joint C2, Standby C2",
      "add a link between it and a C2 node"]),
    ("unknown_radar_in_battery_radars", _set(("batteries", 2, "radars"), ["FCR Nort"]),
     ["batteries[2].radars[0]", "'FCR Nort'", "unknown radar", "did you mean 'FCR North'", "known radars:"]),
    ("unknown_radar_in_cued_by", _set(("batteries", 0, "cued_by"), ["Leshan EWR", "Upper North"]),
     ["batteries[0].cued_by[1]", "'Upper North'", "unknown radar", "known radars:"]),
    ("empty_radars", _set(("batteries", 0, "radars"), []),
     ["batteries[0].radars", "[]", "at least 1 item"]),
    ("unknown_jitter", _set(L0 + ("jitter",), "gaussian"),
     ["network.links[0].jitter", "'gaussian'", "'none', 'exponential' or 'uniform'"]),
    ("unknown_authority", _set(("c2", "doctrine", "authority", "upper"), "maybe"),
     ["c2.doctrine.authority.upper", "'maybe'", "'auto', 'confirm' or 'hold'"]),
    ("unknown_operator_delay", _set(("operators", "delay"), "gamma"),
     ["operators.delay", "'gamma'", "'fixed', 'exponential', 'lognormal' or 'uniform'"]),
    ("refusal_above_one", _set(("operators", "refusal_probability"), 2),
     ["operators.refusal_probability", "= 2", "must be <= 1"]),
    ("link_to_itself", _set(L0 + ("between",), ["Joint C2", "Joint C2"]),
     ["network.links[0].between", "['Joint C2', 'Joint C2']", "two different nodes"]),
    ("three_ends", _set(L0 + ("between",), ["Leshan EWR", "Joint C2", "Standby C2"]),
     ["network.links[0].between", "at most 2 items"]),
    ("second_link_between_a_pair", lambda d: d["network"]["links"].append({"between": ["Joint C2", "Leshan EWR"]}),
     ["network.links[1].between", "a second link between 'Joint C2' and 'Leshan EWR'", "network.links[0]"]),
    ("c2_node_named_like_a_radar", _set(("network", "c2_nodes", 1, "name"), "FCR North"),
     ["network.c2_nodes[1].name", "'FCR North'", "also the name of radars[5]", "unique across radars, batteries"]),
    ("duplicate_c2_node", _set(("network", "c2_nodes", 1, "name"), "Joint C2"),
     ["network.c2_nodes[1].name", "'Joint C2'", "duplicate name", "network.c2_nodes[0]"]),
    ("battery_named_like_a_radar", _set(("batteries", 3, "name"), "Leshan EWR"),
     ["batteries[3].name", "'Leshan EWR'", "also the name of radars[0]"]),
    ("mtbf_without_mttr", _set(L0 + ("mtbf_s",), 3600.0),
     ["network.links[0].mttr_s", "random failures need both mtbf_s and mttr_s", "mtbf_s = 3600 is given"]),
    ("mttr_without_mtbf", _set(("network", "default_link", "mttr_s"), 30.0),
     ["network.default_link.mtbf_s", "mttr_s = 30 is given"]),
    ("zero_rate_cap", _set(L0 + ("max_rate_hz",), 0),
     ["network.links[0].max_rate_hz", "= 0", "must be > 0"]),
    ("zero_failover", _set(("network", "failover_after_s"), 0.0),
     ["network.failover_after_s", "0.0", "must be > 0"]),
    ("no_c2_nodes", _set(("network", "c2_nodes"), []),
     ["network.c2_nodes", "[]", "at least 1 item"]),
    ("unknown_link_field", _set(L0 + ("latency_s",), 0.1),
     ["network.links[0].latency_s", "unknown field", "did you mean 'latency_ms'"]),
    ("string_latency", _set(L0 + ("latency_ms",), "80"),
     ["network.links[0].latency_ms", "'80'", "must be a number >= 0, not a string"]),
]


@pytest.mark.parametrize("case, mutate, expected", BAD, ids=[c[0] for c in BAD])
def test_bad_input_names_the_field_the_value_and_what_is_allowed(tmp_path: Path, case: str, mutate,
                                                                 expected: list[str]) -> None:
    d = full_example()
    mutate(d)
    msg = error_of(d, tmp_path, f"bad_{case}.yaml")
    for part in expected:
        assert part in msg, f"{part!r} not in:\n{msg}"


def test_a_battery_may_reach_a_c2_node_through_other_nodes() -> None:
    d = full_example()
    d["batteries"] = d["batteries"][:2]
    d["network"]["default_link"] = None
    d["network"]["links"] = [{"between": ["Upper North", "Leshan EWR"]}, {"between": ["Leshan EWR", "Standby C2"]},
                             {"between": ["Upper Central", "Upper North"]}]
    scenario_from_dict(d)  # both reach a C2 node: one through a radar, the other through a battery and a radar


def test_routes_ignore_outages_and_matter_only_when_batteries_take_orders_from_c2() -> None:
    d = full_example()
    d["batteries"] = d["batteries"][:1]
    d["network"]["default_link"] = None
    d["network"]["links"] = [{"between": ["Upper North", "Joint C2"], "outages": [{"start_s": 0, "end_s": 1e6}]}]
    scenario_from_dict(d)
    d["network"]["links"] = []
    d["c2"]["architecture"] = "separate"
    scenario_from_dict(d)  # separate fire units need no C2
    d["c2"]["architecture"] = "integrated_with_fallback"
    with pytest.raises(ScenarioError, match="no route to any C2 node"):
        scenario_from_dict(d)


def test_names_may_repeat_across_lists_without_a_network_section() -> None:
    d = default_data()
    d["batteries"][0]["name"] = "C2"  # the implicit C2 node of a perfect network is never named in a file
    scenario_from_dict(d)
    d["batteries"][0]["name"] = "Leshan EWR"
    scenario_from_dict(d)


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    d = full_example()
    d["network"]["links"][0]["latency_ms"] = -1.0
    d["network"]["links"][0]["jitter"] = "gaussian"
    d["c2"]["architecture"] = "mesh"
    msg = error_of(d, tmp_path)
    assert "3 errors" in msg


# --------------------------------------------------------------------------- the command line


def tdome(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tdome.cli", *args], capture_output=True, text=True, timeout=600)


def test_validate_rejects_a_bad_network_with_exit_2(tmp_path: Path) -> None:
    d = full_example()
    d["network"]["links"][0]["loss"] = 1.5
    d["network"]["links"].append({"between": ["Leshan EWR", "Nowhere C2"]})
    f = tmp_path / "bad-network.yaml"
    f.write_text(yaml.safe_dump(d, sort_keys=False, allow_unicode=True), encoding="utf-8")
    r = tdome("validate", str(f))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stdout + r.stderr
    assert "bad-network.yaml" in r.stderr
    assert "network.links[0].loss = 1.5: must be <= 1" in r.stderr
    # A field error stops validation before the whole-file checks: fix it and the unknown node is reported.
    d["network"]["links"][0]["loss"] = 0.5
    f.write_text(yaml.safe_dump(d, sort_keys=False, allow_unicode=True), encoding="utf-8")
    r = tdome("validate", str(f))
    assert r.returncode == 2 and "bad-network.yaml" in r.stderr
    assert "network.links[1].between[1] = 'Nowhere C2': unknown node" in r.stderr


def test_validate_accepts_the_full_example(tmp_path: Path) -> None:
    f = tmp_path / "full.yaml"
    f.write_text(yaml.safe_dump(full_example(), sort_keys=False, allow_unicode=True), encoding="utf-8")
    r = tdome("validate", str(f))
    assert r.returncode == 0, r.stderr
