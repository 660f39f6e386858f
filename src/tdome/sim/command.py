"""The C2 architecture of a run: which nodes decide, what each hears, which batteries each commands.

- ``integrated``: the C2 nodes (a primary and its standbys) each keep one
  picture from every radar's plots over the network; the node in command
  commands every battery, which may engage a track only other radars see.
- ``separate``: each battery has its own fire control, fed only by its own
  fire-control radars (wired) and the radars that cue it; no battery sees
  another's picture, and none is commanded from outside.
- ``integrated_with_fallback``: integrated, and each battery keeps its own
  fire control ready; after ``fallback_after_s`` without a word from any C2
  node it fights with it alone, until it hears again.

Fire-control nodes fed by the same wired radars hold the same picture, so
they share one tracker (the same plots in the same order give the same
tracks); each still decides for its own battery alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tdome.c2.core import BattleManager, C2Config, CycleOutput
from tdome.c2.tracking import PictureSource, Tracker
from tdome.c2.tracking.registration import registered
from tdome.messages import BatteryStatus, DefendedAsset, SensorSite
from tdome.sim.network import NetworkSpec
from tdome.sim.perfect_picture import PerfectPicture

# Track and engagement numbers of the k-th node start at 1 + k * ID_BLOCK, so they never collide.
ID_BLOCK = 1_000_000


@dataclass
class Picture:
    """A picture source and the plots that feed it."""

    key: str
    source: PictureSource
    perfect: PerfectPicture | None = None  # the same object as source, at perfect-picture fidelity


@dataclass
class Node:
    """A deciding node: a C2 node, or a battery's own fire control."""

    name: str  # its name on the network (a fire control is its battery's node)
    kind: str  # "c2" or "fire_control"
    bm: BattleManager
    picture: Picture
    batteries: tuple[int, ...]  # the batteries it commands
    rank: int = 0  # C2 nodes: order of succession, 0 the primary
    status: dict[int, tuple[float, BatteryStatus]] = field(default_factory=dict)  # battery -> (sent_s, latest)
    heard: dict[str, float] = field(default_factory=dict)  # C2 node -> when last heard from
    # track id -> (the first cycle it was in its picture, NaN: not known; the track's first plot)
    first_seen: dict[int, tuple[float, float]] = field(default_factory=dict)
    last: CycleOutput | None = None  # its last cycle's output


@dataclass(frozen=True)
class Feed:
    """Radar plots to one picture: over the network to ``dst``, or wired."""

    picture: str
    dst: str
    wired: bool


@dataclass
class Command:
    spec: NetworkSpec
    c2: list[Node]  # in order of succession
    fire_control: dict[int, Node]  # battery -> its own fire control (separate, with fallback)
    pictures: dict[str, Picture]
    feeds: dict[int, list[Feed]]  # radar -> where its plots go
    battery_names: list[str]

    @property
    def nodes(self) -> list[Node]:
        return self.c2 + list(self.fire_control.values())

    def node(self, name: str) -> Node:
        return self._by_name[name]

    def __post_init__(self) -> None:
        self._by_name = {n.name: n for n in self.nodes}


def build_command(spec: NetworkSpec, sites: list[SensorSite], assets: list[DefendedAsset], config: C2Config,
                  battery_names: list[str], perfect_truth: Callable[[float], tuple] | None = None,
                  classes: list[str] | None = None) -> Command:
    """The nodes, pictures and feeds of ``spec``'s architecture.

    ``perfect_truth`` and ``classes`` given: every picture is a perfect picture from truth.
    """
    pictures: dict[str, Picture] = {}
    feeds: dict[int, list[Feed]] = {k: [] for k in range(len(sites))}
    ordinal = iter(range(1_000))

    def new_picture(key: str, radar_sites: list[SensorSite]) -> Picture:
        first = 1 + next(ordinal) * ID_BLOCK
        if perfect_truth is not None:
            pp = PerfectPicture(perfect_truth, classes or [])
            pic = Picture(key, pp, pp)
        else:
            pic = Picture(key, registered(Tracker(config.tracker, radar_sites, first), radar_sites,
                                          config.registration, config.tracker))
        pictures[key] = pic
        return pic

    def new_node(name: str, kind: str, pic: Picture, radar_sites: list[SensorSite], batteries: tuple[int, ...],
                 rank: int = 0) -> Node:
        bm = BattleManager(radar_sites, assets, config, first_id=1 + len(nodes) * ID_BLOCK)
        bm.use_picture_source(pic.source)
        node = Node(name, kind, bm, pic, batteries, rank)
        nodes.append(node)
        return node

    nodes: list[Node] = []
    everyone = tuple(range(len(battery_names)))
    c2: list[Node] = []
    if spec.architecture in ("integrated", "integrated_with_fallback"):
        for rank, name in enumerate(spec.c2_nodes):
            pic = new_picture(name, sites)
            c2.append(new_node(name, "c2", pic, sites, everyone, rank))
            for k in range(len(sites)):
                feeds[k].append(Feed(name, name, wired=False))

    fire_control: dict[int, Node] = {}
    if spec.architecture in ("separate", "integrated_with_fallback"):
        linked = {frozenset((ln.a, ln.b)) for ln in spec.links or ()}
        for fc in spec.fire_control:
            bname = battery_names[fc.battery]
            wired = sorted(set(fc.radars) | {k for k in fc.cued_by if frozenset((sites[k].name, bname)) not in linked})
            networked = sorted(set(fc.cued_by) - set(wired))
            key = "wired:" + ",".join(map(str, wired)) + ("|" + bname + ":" + ",".join(map(str, networked))
                                                          if networked else "")
            used = [sites[k] for k in sorted(set(wired) | set(networked))]
            shared = pictures.get(key)
            if shared is None:
                pic = new_picture(key, used)
                for k in wired:
                    feeds[k].append(Feed(key, bname, wired=True))
                for k in networked:
                    feeds[k].append(Feed(key, bname, wired=False))
            else:
                pic = shared
            fire_control[fc.battery] = new_node(bname, "fire_control", pic, used, (fc.battery,))
    return Command(spec, c2, fire_control, pictures, feeds, list(battery_names))
