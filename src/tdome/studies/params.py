"""Scenario parameters named by their path, for sweeps.

A path reads like the field paths of scenario error messages, with list
items picked by index, by name, by a field's value, or all of them::

    duration_s
    c2.doctrine.mode
    batteries[3].magazine
    batteries[Mid Taipei].magazine         # the item whose name is "Mid Taipei"
    batteries[layer=mid].magazine          # every item whose layer is "mid"
    raid.waves[*].groups[*].count          # every item

A value is set as given, or, written ``{scale: k}`` or ``{add: k}``, derived
from the value in the base scenario (integers stay integers: a scaled count
is rounded).  ``raid.waves[*].groups[*].count: [{scale: 1}, {scale: 2}]``
doubles the raid.  Paths are applied to the parsed YAML before validation,
so the scenario schema checks every value as it checks a file.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

_STEP = re.compile(r"\[([^\]]*)\]|([^.\[\]]+)")


class PathError(ValueError):
    """A parameter path that does not name a field of the scenario."""


def parse_path(path: str) -> list[tuple[str, str]]:
    """``"batteries[2].magazine"`` -> ``[("key", "batteries"), ("item", "2"), ("key", "magazine")]``."""
    if not isinstance(path, str) or not path.strip():
        raise PathError("a parameter path is a non-empty string such as 'batteries[0].magazine'")
    steps, pos = [], 0
    for m in _STEP.finditer(path):
        gap = path[pos:m.start()]
        if gap not in ("", "."):
            raise PathError(f"cannot read {gap!r} in path {path!r}")
        steps.append(("item", m.group(1).strip()) if m.group(1) is not None else ("key", m.group(2).strip()))
        pos = m.end()
    if path[pos:] or not steps or steps[0][0] != "key":
        raise PathError(f"cannot read path {path!r}; write it like 'batteries[0].magazine' or 'c2.doctrine.mode'")
    return steps


def _items(node: list, sel: str, where: str) -> list[int]:
    if sel == "*":
        return list(range(len(node)))
    if re.fullmatch(r"-?\d+", sel):
        i = int(sel)
        if not 0 <= i < len(node):
            raise PathError(f"{where}[{sel}]: no item {i}; the list has {len(node)} (0 to {len(node) - 1})")
        return [i]
    if "=" in sel:
        key, _, want = (s.strip() for s in sel.partition("="))
        found = [i for i, it in enumerate(node) if isinstance(it, dict) and str(it.get(key)) == want]
        if not found:
            have = sorted({str(it.get(key)) for it in node if isinstance(it, dict) and key in it})
            raise PathError(f"{where}[{sel}]: no item with {key} = {want!r}; "
                            f"values present: {', '.join(have) or 'none'}")
        return found
    found = [i for i, it in enumerate(node) if isinstance(it, dict) and it.get("name") == sel]
    if not found:
        names = [str(it.get("name")) for it in node if isinstance(it, dict) and "name" in it]
        raise PathError(f"{where}[{sel}]: no item named {sel!r}; names: {', '.join(names) or 'none'}")
    return found


def _derive(old: Any, value: Any, where: str) -> Any:
    if not (isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("scale", "add")):
        return value
    op, k = next(iter(value.items()))
    if isinstance(old, bool) or not isinstance(old, (int, float)) or isinstance(k, bool) \
            or not isinstance(k, (int, float)):
        raise PathError(f"{where}: {{{op}: ...}} needs a number in the scenario and a number to {op} by; "
                        f"the scenario has {old!r}")
    new = old * k if op == "scale" else old + k
    return round(new) if isinstance(old, int) else float(new)


def apply(data: dict, path: str, value: Any) -> None:
    """Set ``path`` to ``value`` in the parsed scenario ``data`` (in place)."""
    steps = parse_path(path)
    nodes: list[tuple[Any, str]] = [(data, "")]
    for depth, (kind, name) in enumerate(steps):
        last = depth == len(steps) - 1
        nxt = []
        for node, where in nodes:
            here = f"{where}.{name}" if kind == "key" and where else (name if kind == "key" else where)
            if kind == "key":
                if not isinstance(node, dict):
                    raise PathError(f"{where or 'the scenario'} is not a mapping, so it has no field {name!r}")
                if last:
                    node[name] = _derive(node.get(name), value, here)
                    continue
                if name not in node or node[name] is None:
                    if steps[depth + 1][0] == "item":
                        raise PathError(f"{here}: the scenario has no list here")
                    node[name] = {}  # a section left to its defaults
                nxt.append((node[name], here))
            else:
                if not isinstance(node, list):
                    raise PathError(f"{where}: is not a list, so [{name}] picks nothing")
                for i in _items(node, name, where):
                    if last:
                        node[i] = _derive(node[i], value, f"{where}[{i}]")
                    else:
                        nxt.append((node[i], f"{where}[{i}]"))
        nodes = nxt


def with_overrides(data: dict, overrides: list[tuple[str, Any]]) -> dict:
    """A deep copy of ``data`` with every ``(path, value)`` applied in order."""
    out = copy.deepcopy(data)
    for path, value in overrides:
        apply(out, path, value)
    return out


def value_label(value: Any) -> Any:
    """How a parameter value reads in tables and plots: a number, text or true/false.

    A derived value reads as its derivation (``x2``, ``+6``); a list or a
    mapping set as written, as its compact JSON.
    """
    if isinstance(value, dict) and len(value) == 1:
        op, k = next(iter(value.items()))
        if op == "scale":
            return f"x{k:g}"
        if op == "add":
            return f"{k:+g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return value
