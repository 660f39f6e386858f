"""The scenario's ``network`` and ``operators`` sections: C2 nodes, links and outages, and who decides under 'confirm'.

Every radar, every battery and every C2 node is a node of the network, named
by its name.  A link joins two nodes and carries messages both ways with a
latency (a fixed part plus a jitter draw), a loss probability, an optional
rate cap and outage windows (given, or random from a mean time between
failures and to repair).  With no ``network`` section the network is perfect:
every message arrives the instant it is sent.  Units follow the field names:
``*_ms`` milliseconds, ``*_s`` seconds, ``*_hz`` per second.  The simulator
converts to SI once (:func:`tdome.sim.build.build_network`).

:func:`network_problems` checks what needs the whole file (node names, routes
from every battery to a C2 node); :meth:`tdome.scenario.schema.Scenario.problems`
calls it.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import Field

from tdome.scenario.errors import Problem, format_path
from tdome.scenario.fields import Name, Num, Probability, _doc, _Model, _num, above

JitterKind = Literal["none", "exponential", "uniform"]  # tdome.sim.network.LinkSpec.jitter
DelayKind = Literal["fixed", "exponential", "lognormal", "uniform"]  # tdome.sim.network.OperatorSpec.delay

# The architectures under which the batteries take their orders from a C2 node, so each needs a route to one.
COMMANDED_ARCHITECTURES = ("integrated", "integrated_with_fallback")
DEFAULT_C2_NODE = "C2"


class Outage(_Model):
    """A window during which a link or a C2 node is down: nothing it carries or sends arrives."""

    start_s: Num(ge=0.0) = _doc("Start of the outage, s from the start of the run.")
    end_s: Annotated[Num(ge=0.0), above("start_s")] = _doc("End of the outage, s from the start of the run; "
                                                           "must be > start_s.")


class C2Node(_Model):
    """A command-and-control node: it holds the air picture and gives the fire orders while it is in command."""

    name: Name = _doc("Unique name among the radars, batteries and C2 nodes (links name their ends by it).")
    outages: list[Outage] = _doc("Windows during which the node is down (lost, destroyed, moving).",
                                 default_factory=list)


class _LinkEnds(_Model):
    # A base of Link on its own so that ``between`` comes first in Link's fields (pydantic orders inherited
    # fields by the reversed method resolution order).
    between: Annotated[list[Name], Field(min_length=2, max_length=2)] = _doc(
        "The two nodes the link joins: two different names of radars, batteries or network.c2_nodes.")


class LinkParameters(_Model):
    """How a link carries messages, the same both ways.

    A message's one-way delay is latency_ms plus a jitter draw; it is lost
    with probability loss, and never arrives while the link is down (an
    outage window or a random failure).
    """

    latency_ms: Num(ge=0.0) = _doc("Fixed part of the one-way delay, ms.", 0.0)
    jitter_ms: Num(ge=0.0) = _doc("Mean of the random part of the delay, ms; no effect with jitter 'none'.", 0.0)
    jitter: JitterKind = _doc("Distribution of the random part of the delay: none; exponential (mean jitter_ms); "
                              "uniform (0 to 2 × jitter_ms).", "none")
    loss: Probability = _doc("Probability that a message on the link is lost, 0 to 1.", 0.0)
    max_rate_hz: Num(gt=0.0) | None = _doc(
        "Cap on the messages the link carries each way, per second; messages beyond it wait their turn. null: no "
        "cap.", None)
    outages: list[Outage] = _doc("Windows during which the link is down, s from the start of the run.",
                                 default_factory=list)
    mtbf_s: Num(gt=0.0) | None = _doc(
        "Random failures: mean time between failures, s (exponential); give it with mttr_s. null: none.", None)
    mttr_s: Num(gt=0.0) | None = _doc(
        "Random failures: mean time to repair, s (exponential); give it with mtbf_s. null: none.", None)


class Link(LinkParameters, _LinkEnds):
    """A link between two named nodes; every field but ``between`` has the default of a link, not default_link's."""


class NetworkSettings(_Model):
    """The sensor-to-shooter network: C2 nodes, and links between radars, batteries and C2 nodes.

    Messages (plots, battery status, fire orders, aim updates) go from node
    to node over the links, possibly through other nodes; a node pair with no
    link has no direct path.  default_link adds a link from every radar and
    every battery to each C2 node that links does not already join.
    """

    c2_nodes: Annotated[list[C2Node], Field(min_length=1)] = _doc(
        "The C2 nodes in order of succession: the first is in command at the start, the others are standbys "
        "that take command in turn.", [C2Node(name=DEFAULT_C2_NODE)])
    failover_after_s: Num(gt=0.0) = _doc(
        "A standby takes command after this long without hearing from the node in command, s.", 5.0)
    default_link: LinkParameters | None = _doc(
        "A link with these parameters between every radar and each C2 node, and every battery and each C2 node, "
        "for each such pair that links does not name; null: only the links given.", None)
    links: list[Link] = _doc("Links between named nodes.", default_factory=list)


class OperatorSettings(_Model):
    """The operators who decide each order of a layer under 'confirm' authority (c2.doctrine.authority)."""

    delay: DelayKind = _doc("Distribution of an operator's decision time: fixed (delay_s); exponential (mean "
                            "delay_s); lognormal (median delay_s, shape delay_sigma); uniform (0 to delay_s).",
                            "fixed")
    delay_s: Num(ge=0.0) = _doc("Decision time, s: the fixed value, the mean (exponential), the median "
                                "(lognormal) or the maximum (uniform).", 0.0)
    delay_sigma: Num(gt=0.0) = _doc("Shape of the lognormal decision time: the standard deviation of its "
                                    "logarithm (dimensionless).", 0.5)
    refusal_probability: Probability = _doc("Probability that an operator refuses an order, 0 to 1.", 0.0)


# --------------------------------------------------------------------------- whole-file checks


def network_problems(network: NetworkSettings | None, architecture: str, radars: Sequence[str],
                     batteries: Sequence[str]) -> list[Problem]:
    """What is wrong with the ``network`` section given the file's radar and battery names (in file order).

    Names shared between radars, batteries and C2 nodes; links to unknown
    nodes, from a node to itself, or twice between the same pair; random
    failures given half; and, under an architecture where batteries take
    their orders from a C2 node, a battery with no route of links to any.
    """
    if network is None:
        return []
    out: list[Problem] = []
    owner: dict[str, tuple[str | int, ...]] = {}  # node name -> path of the first item with it
    for section, names in (("radars", radars), ("batteries", batteries)):
        for i, name in enumerate(names):
            owner.setdefault(name, (section, i))  # duplicates within a list: Scenario.problems reports them
    for i, b in enumerate(batteries):
        first = owner[b]
        if first[0] == "radars":
            out.append(Problem(("batteries", i, "name"), f"also the name of {format_path(first)}; with a network "
                               "section every radar, battery and C2 node is a node known by its name, so names "
                               "must be unique across radars, batteries and network.c2_nodes", b))
    for i, node in enumerate(network.c2_nodes):
        path: tuple[str | int, ...] = ("network", "c2_nodes", i)
        if node.name in owner:
            first = owner[node.name]
            what = "duplicate name; already used by" if first[0] == "network" else "also the name of"
            out.append(Problem(path + ("name",), f"{what} {format_path(first)}; names must be unique across "
                               "radars, batteries and network.c2_nodes", node.name))
        else:
            owner[node.name] = path
    c2_names = [n.name for n in network.c2_nodes]

    edges: dict[str, set[str]] = {}
    pairs: dict[frozenset[str], int] = {}
    for i, link in enumerate(network.links):
        path = ("network", "links", i)
        known = True
        for k, end in enumerate(link.between):
            if end not in owner:
                known = False
                out.append(Problem(path + ("between", k), _unknown_node(end, radars, batteries, c2_names), end))
        a, b = link.between
        if a == b:
            out.append(Problem(path + ("between",), "a link joins two different nodes; name the other end",
                               list(link.between)))
            continue
        pair = frozenset((a, b))
        if pair in pairs:
            out.append(Problem(path + ("between",), f"a second link between '{a}' and '{b}'; network.links"
                               f"[{pairs[pair]}] already joins them (one link per pair of nodes)",
                               list(link.between)))
            continue
        pairs[pair] = i
        if known:
            edges.setdefault(a, set()).add(b)
            edges.setdefault(b, set()).add(a)

    given: list[tuple[tuple[str | int, ...], LinkParameters]] = [(("network", "links", i), x)
                                                                 for i, x in enumerate(network.links)]
    if network.default_link is not None:
        given.insert(0, (("network", "default_link"), network.default_link))
    for path, params in given:
        if (params.mtbf_s is None) != (params.mttr_s is None):
            have, lack = ("mtbf_s", "mttr_s") if params.mttr_s is None else ("mttr_s", "mtbf_s")
            out.append(Problem(path + (lack,), f"random failures need both mtbf_s and mttr_s: {have} = "
                               f"{_num(getattr(params, have))} is given, so give {lack} (s, > 0) too, or remove "
                               f"{have}", None))

    if architecture in COMMANDED_ARCHITECTURES and network.default_link is None:
        reached = _reachable(c2_names, edges)
        cut = [name for i, name in enumerate(batteries) if name not in reached and owner.get(name) == ("batteries", i)]
        if cut:
            one = len(cut) == 1
            if one:
                which = f"battery '{cut[0]}' has no route"
            elif len(cut) == len(batteries):
                which = "no battery has a route"
            else:
                which = f"batteries {', '.join(repr(b) for b in cut)} have no route"
            out.append(Problem(("network", "links"), f"{which} to any C2 node (C2 nodes: {', '.join(c2_names)}): "
                               f"under c2.architecture '{architecture}' the orders could never reach "
                               f"{'it' if one else 'them'}; add a link between {'it' if one else 'each battery'} "
                               "and a C2 node (directly or through other nodes), or a default_link"))
    return out


def _reachable(start: Sequence[str], edges: dict[str, set[str]]) -> set[str]:
    """Every node joined to one of ``start`` by a chain of links (outages aside)."""
    seen = set(start)
    todo = list(start)
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _unknown_node(name: str, radars: Sequence[str], batteries: Sequence[str], c2_nodes: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, [*radars, *batteries, *c2_nodes], n=1, cutoff=0.6)
    msg = f"unknown node '{name}'"
    if close:
        msg += f" (did you mean '{close[0]}'?)"
    return (msg + "; a link end is the name of a radar, a battery or a C2 node: radars: "
            f"{', '.join(radars) or '(none)'}; batteries: {', '.join(batteries) or '(none)'}; "
            f"C2 nodes (network.c2_nodes): {', '.join(c2_nodes)}")
