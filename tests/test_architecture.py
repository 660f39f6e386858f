"""The package's levels, checked on every module's imports: one stage, one place, and arrows that only point down.

Every module under ``src/tdome`` is parsed (an AST walk, not a text search)
and every import in it is collected: top-level, inside functions, classes
and ``if`` blocks alike, relative ones resolved, ``importlib.import_module``
with a literal name too.  An import placed inside a function to dodge a
cycle is the same dependency as one at the top, so it counts the same.

Three rules, each a test below, and tests that feed the checker synthetic
violations so that it is known to catch them:

1. the C2 core (``tdome.c2.*``) imports only ``tdome.messages``,
   ``tdome.geo``, ``tdome.dynamics``, ``tdome.atmosphere`` and itself: it never sees truth
   (docs/design.md, "the one rule");
2. no module imports a level above its own, and packages sharing a level do
   not import each other (:data:`LEVELS`);
3. no import cycle between modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parent.parent / "src"
ROOT = "tdome"

# The levels, lowest first.  A module may import its own package (the entry its name falls under) and any
# package on a lower level; packages on the same level are independent of each other.
LEVELS: list[tuple[str, ...]] = [
    # The package root (its version, for the pictures' credits) and packaged data: no imports of their own.
    ("tdome", "tdome.data"),
    # Shared vocabulary, no stage of the chain: the Earth's shape, then gravity and free flight on it (used by
    # the world and by the C2's ballistic model alike) and the standard air (drag on the world's re-entering
    # objects, the C2's estimate of their ballistic coefficients), then the messages that cross between stages.
    ("tdome.geo",),
    ("tdome.dynamics", "tdome.atmosphere"),
    ("tdome.messages",),
    # The stages, independent of each other: truth (world), plots (sensors) and the battle manager (c2).
    # Truth reaches the C2 only as plots carried by the simulator, never through an import.
    ("tdome.world", "tdome.sensors", "tdome.c2"),
    # The scenario describes the whole experiment in the stages' terms (its C2 sections come from c2.config),
    # so it sits above them; the stages never read a scenario: the simulator builds them from it.
    ("tdome.scenario",),
    # Truth metrics (GOSPA, SIAP, NEES, a mean's confidence interval): below the time loop, which scores every
    # record instant with them; they import nothing of tdome, so any tracker's output is scored the same way.
    ("tdome.analysis",),
    # The run folder's format, writing and reading: it knows no simulator and no picture.
    ("tdome.runfolder",),
    # The time loop writes the run folder, the pictures (map, replay, CZML, terminal summary) read it: neither
    # imports the other, so a picture shows what the folder holds and the simulator draws nothing.
    ("tdome.sim", "tdome.viz"),
    # One run's outputs composed: record -> summary -> run folder -> map.  The live service: the C2 core on
    # sockets (it builds its stages from the scenario as the simulator does), and the simulator as its live source.
    ("tdome.pipeline", "tdome.live"),
    # Monte Carlo studies and sweeps: many runs of the time loop, their results and report.
    ("tdome.studies",),
    # The command line, on top of everything.
    ("tdome.cli",),
]

C2 = "tdome.c2"
C2_MAY_IMPORT = ("tdome.messages", "tdome.geo", "tdome.dynamics", "tdome.atmosphere", C2)


# --------------------------------------------------------------------------- reading the imports


def discover(src: Path = SRC) -> dict[str, Path]:
    """Every module of the package: dotted name -> file (a package is named by its ``__init__.py``)."""
    out = {}
    for f in sorted((src / ROOT).rglob("*.py")):
        parts = f.relative_to(src).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def imports_of(source: str, module: str, is_package: bool, modules: set[str]) -> set[str]:
    """The modules of the package that ``source`` (the text of ``module``) imports, wherever the import sits.

    ``from X import Y`` is an import of ``X.Y`` when that is a module, else of
    ``X``.  A package's ``__init__`` is run before its submodule, but that
    implied import is not counted: it would make every package that
    re-exports its submodules a cycle.
    """
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            subs = {f"{name}.{a.name}" for a in node.names} & modules
            found.update(subs)
            if len(subs) < len(node.names):  # something else than a submodule: the package itself
                found.add(name)
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func) and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.add(arg.value)
    return {_module_of(n, modules) for n in found if n == ROOT or n.startswith(ROOT + ".")}


def _is_dynamic_import(func: ast.expr) -> bool:
    """``importlib.import_module(...)``, ``import_module(...)`` or ``__import__(...)``."""
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name in ("import_module", "__import__")


def _module_of(name: str, modules: set[str]) -> str:
    """``name`` or, for ``import tdome.a.b.f`` style names that end in an attribute, its longest module prefix."""
    while name not in modules and "." in name:
        name = name.rpartition(".")[0]
    return name


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (itself left out)."""
    files = discover(src)
    modules = set(files)
    return {m: imports_of(f.read_text(encoding="utf-8"), m, f.name == "__init__.py", modules) - {m}
            for m, f in files.items()}


# --------------------------------------------------------------------------- the rules


def owner(module: str, levels=LEVELS) -> tuple[int, str] | None:
    """(level index, package entry) that ``module`` belongs to; None if no entry covers it.

    The root entry covers the root module only, so a new top-level module must be given a level.
    """
    best = None
    for i, entries in enumerate(levels):
        for e in entries:
            covers = module == e or (e != ROOT and module.startswith(e + "."))
            if covers and (best is None or len(e) > len(best[1])):
                best = (i, e)
    return best


def unplaced(graph: dict[str, set[str]], levels=LEVELS) -> list[str]:
    return sorted(m for m in graph if owner(m, levels) is None)


def level_violations(graph: dict[str, set[str]], levels=LEVELS) -> list[str]:
    """Imports of a higher level, or of another package on the same level."""
    out = []
    for m, targets in sorted(graph.items()):
        mine = owner(m, levels)
        for t in sorted(targets):
            theirs = owner(t, levels)
            if mine is None or theirs is None or theirs[1] == mine[1]:
                continue
            if theirs[0] > mine[0]:
                out.append(f"{m} (level {mine[0]}, {mine[1]}) imports {t} from a higher level "
                           f"({theirs[0]}, {theirs[1]})")
            elif theirs[0] == mine[0]:
                out.append(f"{m} imports {t}: {mine[1]} and {theirs[1]} share level {mine[0]} and must not "
                           f"import each other")
    return out


def c2_violations(graph: dict[str, set[str]]) -> list[str]:
    """Imports by the C2 core of anything but messages, geo, dynamics, atmosphere and the C2 itself."""
    inside = lambda m, pkg: m == pkg or m.startswith(pkg + ".")  # noqa: E731
    return [f"{m} imports {t}: the C2 core imports only {', '.join(C2_MAY_IMPORT)}"
            for m, targets in sorted(graph.items()) if inside(m, C2)
            for t in sorted(targets) if not any(inside(t, ok) for ok in C2_MAY_IMPORT)]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative): every import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[v] = min(low[v], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                scc = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    scc.append(w)
                    if w == v:
                        break
                if len(scc) > 1:
                    out.append(sorted(scc))
    return sorted(out)


# --------------------------------------------------------------------------- the package as it is


@pytest.fixture(scope="module")
def graph():
    g = import_graph()
    assert len(g) > 50 and "tdome.c2.core" in g and "tdome.cli" in g  # the walk found the package
    return g


def test_every_module_has_a_level(graph):
    assert unplaced(graph) == [], "give these modules' package a place in LEVELS"


def test_the_c2_core_imports_only_messages_geo_dynamics_and_itself(graph):
    assert c2_violations(graph) == []


def test_no_module_imports_a_level_above_its_own(graph):
    assert level_violations(graph) == []


def test_no_import_cycles(graph):
    assert cycles(graph) == []


def test_every_level_entry_names_a_package_that_exists(graph):
    entries = [e for level in LEVELS for e in level]
    assert len(entries) == len(set(entries))
    assert [e for e in entries if e not in graph] == []


# --------------------------------------------------------------------------- the checker catches violations


MODULES = {"tdome", "tdome.geo", "tdome.messages", "tdome.c2", "tdome.c2.core", "tdome.c2.tracking",
           "tdome.c2.tracking.imm", "tdome.c2.tracking.models", "tdome.world", "tdome.world.effectors",
           "tdome.sim", "tdome.sim.engine", "tdome.sim.report", "tdome.viz", "tdome.viz.mapplot",
           "tdome.analysis", "tdome.analysis.metrics", "tdome.studies", "tdome.studies.runner", "tdome.runfolder"}


def test_a_function_level_import_counts_as_a_top_level_one():
    source = ("import numpy as np\n\n"
              "def _later():\n"
              "    from tdome.world.effectors import FireUnit\n"
              "    return FireUnit\n\n"
              "class A:\n"
              "    def m(self):\n"
              "        import tdome.sim.engine as engine\n"
              "        return engine\n")
    found = imports_of(source, "tdome.c2.core", False, MODULES)
    assert found == {"tdome.world.effectors", "tdome.sim.engine"}
    errors = c2_violations({"tdome.c2.core": found})
    assert len(errors) == 2 and "tdome.world.effectors" in errors[0] + errors[1]
    assert len(level_violations({"tdome.c2.core": found})) == 2  # the world shares the C2's level; sim is above


def test_relative_and_dynamic_imports_are_resolved():
    source = ("from . import models\n"
              "from ..core import BattleManager\n"
              "from tdome import geo, __version__\n"
              "import importlib\n"
              "def f():\n"
              "    return importlib.import_module('tdome.sim.report')\n")
    found = imports_of(source, "tdome.c2.tracking.imm", False, MODULES)
    assert found == {"tdome.c2.tracking.models", "tdome.c2.core", "tdome", "tdome.geo", "tdome.sim.report"}
    only = "the C2 core imports only tdome.messages, tdome.geo, tdome.dynamics, tdome.atmosphere, tdome.c2"
    assert c2_violations({"tdome.c2.tracking.imm": found}) == [
        f"tdome.c2.tracking.imm imports tdome: {only}", f"tdome.c2.tracking.imm imports tdome.sim.report: {only}"]


@pytest.mark.parametrize("importer, imported, why", [
    ("tdome.sim.report", "tdome.viz.mapplot", "share level"),  # the simulator drawing the map (the old write_run)
    ("tdome.viz.mapplot", "tdome.sim.engine", "share level"),  # a picture reading the simulator's record
    ("tdome.analysis.metrics", "tdome.studies.runner", "higher level"),  # metrics running studies
    ("tdome.runfolder", "tdome.sim.engine", "higher level"),  # the format knowing the simulator
    ("tdome.geo", "tdome.messages", "higher level"),
])
def test_an_import_of_a_higher_or_sibling_level_is_reported(importer, imported, why):
    errors = level_violations({importer: {imported}})
    assert len(errors) == 1 and why in errors[0] and importer in errors[0] and imported in errors[0]
    assert level_violations({imported: {importer}} if why == "higher level" else {}) == []  # downward is fine


def test_imports_within_a_package_are_free_of_levels():
    within = {"tdome.c2.core": {"tdome.c2.tracking.imm"}, "tdome.sim.report": {"tdome.sim.engine"}}
    assert level_violations(within) == []


def test_an_import_cycle_is_reported_even_through_a_function_level_import():
    engine = "from tdome.analysis.metrics import gospa\n"
    metrics = "def later():\n    from tdome.sim import engine\n"  # the old study.py's trick, one step shorter
    g = {"tdome.sim.engine": imports_of(engine, "tdome.sim.engine", False, MODULES),
         "tdome.analysis.metrics": imports_of(metrics, "tdome.analysis.metrics", False, MODULES)}
    assert g["tdome.analysis.metrics"] == {"tdome.sim.engine"}
    assert cycles(g) == [["tdome.analysis.metrics", "tdome.sim.engine"]]
    assert level_violations(g) == ["tdome.analysis.metrics (level 6, tdome.analysis) imports tdome.sim.engine from a "
                                   "higher level (8, tdome.sim)"]


def test_every_cycle_is_found_and_nothing_else():
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"f"}, "f": {"e", "g"}, "g": set()}
    assert cycles(g) == [["a", "b", "c"], ["e", "f"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "d": {"a", "c"}}) == []


def test_a_module_outside_every_level_is_reported():
    assert unplaced({"tdome.newthing": set(), "tdome.geo": set(), "tdome": set()}) == ["tdome.newthing"]
    assert owner("tdome.c2.tracking.imm") == (LEVELS.index(("tdome.world", "tdome.sensors", "tdome.c2")), "tdome.c2")
