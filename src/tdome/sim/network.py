"""The sensor-to-shooter network: nodes, links, and the messages that travel them.

Every radar, every battery and every C2 node is a node of the network.  A
link joins two nodes and carries messages both ways with a latency (a fixed
part plus a jitter draw), a loss probability, an optional rate cap (messages
beyond it wait their turn) and outage windows (given, or drawn from a mean
time between failures and to repair).  A message goes from node to node
along the quickest route of links that are up when it reaches each hop; a
hop that is down, or a loss draw, and it never arrives.

Each link draws its jitter, loss and random outages from its own random
stream (named after its two ends), so adding a link changes nothing else in
the run.  With no ``network`` section every message arrives the instant it
is sent, in the order it was sent: the run is the one a perfect network
gives.

The network is the simulator's: the C2 core never sees it, only the
messages that reach it, when they reach it.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tdome.sim.streams import stream

MESSAGE_KINDS = ("plots", "status", "order", "aim", "heartbeat", "launch_report")


@dataclass(frozen=True)
class LinkSpec:
    """A link between two named nodes, both ways alike (SI units)."""

    a: str
    b: str
    latency_s: float = 0.0  # fixed part of the one-way delay
    jitter_s: float = 0.0  # mean of the random part added to it
    jitter: str = "none"  # its distribution: none, exponential (mean jitter_s), uniform (0 to 2 jitter_s)
    loss: float = 0.0  # probability that a message is lost on this link
    max_rate_hz: float | None = None  # messages per second each way; the excess waits its turn; None: no cap
    outages: tuple[tuple[float, float], ...] = ()  # (start_s, end_s) windows when the link is down
    mtbf_s: float | None = None  # random failures: mean time between failures …
    mttr_s: float | None = None  # … and to repair (both or neither)


@dataclass(frozen=True)
class FireControlSpec:
    """A battery's own fire control: the radars wired to it, and those that may cue it (radar indices)."""

    battery: int
    radars: tuple[int, ...]
    cued_by: tuple[int, ...] = ()


@dataclass(frozen=True)
class OperatorSpec:
    """The operators who decide under 'confirm' authority: how long they take and how often they refuse.

    ``delay``: fixed (``delay_s``), exponential (mean ``delay_s``), lognormal
    (median ``delay_s``, shape ``delay_sigma``) or uniform (0 to ``delay_s``).
    """

    delay: str = "fixed"
    delay_s: float = 0.0
    delay_sigma: float = 0.5
    refusal_probability: float = 0.0

    def draw(self, rng: np.random.Generator) -> tuple[float, bool]:
        """One decision: (seconds it takes, refused)."""
        if self.delay == "fixed":
            d = self.delay_s
        elif self.delay == "exponential":
            d = float(rng.exponential(self.delay_s)) if self.delay_s > 0 else 0.0
        elif self.delay == "lognormal":
            d = float(self.delay_s * np.exp(self.delay_sigma * rng.standard_normal())) if self.delay_s > 0 else 0.0
        else:
            d = float(rng.uniform(0.0, self.delay_s))
        refused = bool(self.refusal_probability > 0 and rng.random() < self.refusal_probability)
        return d, refused


@dataclass(frozen=True)
class NetworkSpec:
    """The network and the C2 architecture of one run, as the simulator builds them.

    ``links`` None: a perfect network (every message arrives the instant it is
    sent).  ``c2_nodes`` in order of command: the first is the primary, the
    others standbys that take over, in turn, after ``failover_after_s``
    without hearing from the one in command.  ``c2_outages`` per C2 node: the
    windows when it is down.  Under ``integrated_with_fallback`` a battery
    that has heard nothing from any C2 node for ``fallback_after_s`` fights
    with its own fire control until it hears again.
    """

    architecture: str = "integrated"
    links: tuple[LinkSpec, ...] | None = None
    c2_nodes: tuple[str, ...] = ("C2",)
    c2_outages: tuple[tuple[tuple[float, float], ...], ...] = ((),)
    failover_after_s: float = 5.0
    fallback_after_s: float = 10.0
    fire_control: tuple[FireControlSpec, ...] = ()
    operators: OperatorSpec = field(default_factory=OperatorSpec)

    @property
    def perfect(self) -> bool:
        return self.links is None


# --------------------------------------------------------------------------- the network at run time


@dataclass
class Message:
    """One message in flight: what it is, between which nodes, and when it was sent.

    ``meta`` is the simulator's own bookkeeping riding along (the truth rows of
    a scan's plots, for the metrics); the receiving node never reads it.
    """

    kind: str
    src: str
    dst: str
    sent_s: float
    payload: Any
    meta: Any = None
    arrive_s: float = 0.0


@dataclass
class LinkStats:
    """What one direction of a link carried."""

    sent: int = 0
    delivered: int = 0
    lost: int = 0  # lost to the link's loss probability
    down: int = 0  # dropped because the link (or a node at its end) was down
    reordered: int = 0  # arrived after a message sent later on the same direction
    delay_s: list[float] = field(default_factory=list)  # of each message it delivered (queueing included)
    last_arrive_s: float = -np.inf


class _Link:
    def __init__(self, spec: LinkSpec, seed: int, horizon_s: float):
        self.spec = spec
        self.rng = stream(seed, f"link:{spec.a}|{spec.b}")
        windows = list(spec.outages)
        if spec.mtbf_s is not None and spec.mttr_s is not None:
            t = 0.0
            while True:  # alternating up and down times, drawn once for the whole run
                t += float(self.rng.exponential(spec.mtbf_s))
                if t >= horizon_s:
                    break
                repair = float(self.rng.exponential(spec.mttr_s))
                windows.append((t, t + repair))
                t += repair
        self.windows = sorted(windows)
        self.next_free = {spec.a: -np.inf, spec.b: -np.inf}  # per sending end, under a rate cap
        self.stats = {(spec.a, spec.b): LinkStats(), (spec.b, spec.a): LinkStats()}

    def up(self, t_s: float) -> bool:
        return not any(s <= t_s < e for s, e in self.windows)

    def refuse(self, receiver: str) -> None:
        """A message it carried found the node at the other end down."""
        st = self.stats[(self.other(receiver), receiver)]
        st.delivered -= 1
        st.delay_s.pop()
        st.down += 1

    def other(self, node: str) -> str:
        return self.spec.b if node == self.spec.a else self.spec.a

    def carry(self, src: str, t_s: float) -> float | None:
        """Send from ``src`` at ``t_s``: the arrival time at the other end, or None if it never arrives."""
        sp = self.spec
        st = self.stats[(src, self.other(src))]
        st.sent += 1
        if not self.up(t_s):
            st.down += 1
            return None
        depart = t_s
        if sp.max_rate_hz is not None:
            depart = max(t_s, self.next_free[src])
            self.next_free[src] = depart + 1.0 / sp.max_rate_hz
        if sp.loss > 0.0 and self.rng.random() < sp.loss:
            st.lost += 1
            return None
        delay = sp.latency_s
        if sp.jitter == "exponential" and sp.jitter_s > 0.0:
            delay += float(self.rng.exponential(sp.jitter_s))
        elif sp.jitter == "uniform" and sp.jitter_s > 0.0:
            delay += float(self.rng.uniform(0.0, 2.0 * sp.jitter_s))
        arrive = depart + delay
        st.delivered += 1
        st.delay_s.append(arrive - t_s)
        if arrive < st.last_arrive_s:
            st.reordered += 1
        st.last_arrive_s = max(st.last_arrive_s, arrive)
        return arrive


class Network:
    """Carries messages between named nodes; :meth:`due` hands back those that have arrived, in arrival order.

    ``spec.links`` None: a perfect network, every message arriving the
    instant it is sent.  ``node_outages`` maps a node to the windows when it is
    down: it neither sends nor receives nor relays.
    """

    def __init__(self, spec: NetworkSpec, seed: int, horizon_s: float,
                 node_outages: dict[str, tuple[tuple[float, float], ...]] | None = None):
        self.perfect = spec.links is None
        self.links = [_Link(s, seed, horizon_s) for s in (spec.links or ())]
        self._adj: dict[str, list[_Link]] = {}
        for ln in self.links:
            self._adj.setdefault(ln.spec.a, []).append(ln)
            self._adj.setdefault(ln.spec.b, []).append(ln)
        self.node_outages = {k: tuple(v) for k, v in (node_outages or {}).items() if v}
        # Instants where some link or node goes down or comes back: routes are cached between them.
        changes = {0.0}
        for ln in self.links:
            for s, e in ln.windows:
                changes.update((s, e))
        for windows in self.node_outages.values():
            for s, e in windows:
                changes.update((s, e))
        self._changes = np.array(sorted(changes))
        self._routes: dict[tuple[str, str, int], list[_Link] | None] = {}
        # Two lanes: "up" to the deciding nodes (plots, status, reports), "down" to the batteries.
        self._queues: dict[str, list[tuple[float, int, Message]]] = {"up": [], "down": []}
        self._seq = itertools.count()
        self.by_kind: dict[str, list[int]] = {k: [0, 0] for k in MESSAGE_KINDS}  # kind -> [sent, delivered]

    def node_up(self, node: str, t_s: float) -> bool:
        return not any(s <= t_s < e for s, e in self.node_outages.get(node, ()))

    def send(self, t_s: float, kind: str, src: str, dst: str, payload: Any, meta: Any = None,
             lane: str = "up") -> None:
        """Send a message at ``t_s``; it arrives later, or never."""
        counts = self.by_kind.get(kind)
        if counts is None:
            counts = self.by_kind[kind] = [0, 0]
        counts[0] += 1
        arrive = t_s if self.perfect else self._carry(src, dst, t_s)
        if arrive is None:
            return
        counts[1] += 1
        msg = Message(kind, src, dst, t_s, payload, meta, arrive)  # only a message that arrives is made
        heapq.heappush(self._queues[lane], (arrive, next(self._seq), msg))

    def count_delivered(self, kind: str, n: int) -> None:
        """On a perfect network, ``n`` messages of ``kind`` that the sender hands over itself, sent and delivered at
        once: counted as :meth:`send` counts them, without a message on the queue."""
        if not self.perfect:
            raise ValueError("only a perfect network delivers at once")
        counts = self.by_kind.setdefault(kind, [0, 0])
        counts[0] += n
        counts[1] += n

    def wire(self, t_s: float, kind: str, src: str, dst: str, payload: Any, meta: Any = None,
             lane: str = "up") -> None:
        """A message over a wire, not the network (a radar to the fire control it is part of): it arrives at once."""
        msg = Message(kind, src, dst, t_s, payload, meta, arrive_s=t_s)
        heapq.heappush(self._queues[lane], (t_s, next(self._seq), msg))

    def due(self, t_s: float, lane: str) -> list[Message]:
        """Every message of ``lane`` that has arrived by ``t_s`` and not been handed out, in order of arrival
        (then of sending)."""
        out = []
        q = self._queues[lane]
        while q and q[0][0] <= t_s:
            out.append(heapq.heappop(q)[2])
        return out

    def _carry(self, src: str, dst: str, t_s: float) -> float | None:
        if not self.node_up(src, t_s):
            return None
        # The quickest route up now; with none, the route the network would take if nothing had failed, so
        # the message is counted lost on the link that is down.
        route = self._route(src, dst, t_s) or self._route(src, dst, None)
        if not route:  # no links join them at all: counted lost in its kind's totals
            return None
        t, node = t_s, src
        for ln in route:
            arrive = ln.carry(node, t)
            if arrive is None:
                return None
            node = ln.other(node)
            if not self.node_up(node, arrive):
                ln.refuse(node)  # the node it reached is down
                return None
            t = arrive
        return t

    def _route(self, src: str, dst: str, t_s: float | None) -> list[_Link] | None:
        """The quickest route (by fixed latency) of links and relay nodes up at ``t_s`` (None: whatever is
        down); None: no route."""
        epoch = -1 if t_s is None else int(np.searchsorted(self._changes, t_s, side="right"))
        key = (src, dst, epoch)
        if key in self._routes:
            return self._routes[key]
        best: dict[str, float] = {src: 0.0}
        via: dict[str, _Link] = {}
        heap = [(0.0, src)]
        done = set()
        while heap:
            d, node = heapq.heappop(heap)
            if node in done:
                continue
            done.add(node)
            if node == dst:
                break
            if node != src and t_s is not None and not self.node_up(node, t_s):
                continue  # a node that is down relays nothing
            for ln in self._adj.get(node, ()):
                if t_s is not None and not ln.up(t_s):
                    continue
                nxt = ln.other(node)
                nd = d + ln.spec.latency_s + ln.spec.jitter_s
                if nd < best.get(nxt, np.inf):
                    best[nxt] = nd
                    via[nxt] = ln
                    heapq.heappush(heap, (nd, nxt))
        route = None
        if dst in done:
            route = []
            node = dst
            while node != src:
                ln = via[node]
                route.append(ln)
                node = ln.other(node)
            route.reverse()
        self._routes[key] = route
        return route

    def link_report(self) -> list[dict]:
        """Per link and direction: messages sent, delivered, lost, dropped while down, reordered, and delay."""
        rows = []
        for ln in self.links:
            for (a, b), st in ln.stats.items():
                d = np.array(st.delay_s)
                q = np.percentile(d, [50, 95, 100]) if d.size else np.full(3, np.nan)
                rows.append(dict(src=a, dst=b, sent=st.sent, delivered=st.delivered, lost=st.lost, down=st.down,
                                 late=st.reordered, delay_median_s=float(q[0]), delay_p95_s=float(q[1]),
                                 delay_max_s=float(q[2])))
        return rows
