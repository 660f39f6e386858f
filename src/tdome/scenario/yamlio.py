"""Reading YAML strictly: duplicate keys refused, YAML 1.2 floats, recursive aliases refused, and a map from
each key path to its line, so that every message can say where in the file a problem is."""

from __future__ import annotations

import re
from collections.abc import Hashable
from typing import Any

import yaml

from tdome.scenario.errors import ErrorItem, ScenarioError, format_value


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys in a mapping (PyYAML silently keeps the last).

    It also reads floats as YAML 1.2 does: PyYAML follows YAML 1.1, where ``1e6`` and ``2.0e6``
    (no sign in the exponent) are strings, and number fields refuse strings.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    continue
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None,
                        f"duplicate key {format_value(key)} (first at line {seen[key].start_mark.line + 1}); "
                        "each key may appear once", key_node.start_mark)
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


# YAML 1.2 core-schema floats (exponent sign optional, ``1e6`` allowed) plus YAML 1.1's sexagesimal
# floats, which PyYAML has always read; replaces PyYAML's YAML 1.1 float resolver for this loader.
_FLOAT_TAG = "tag:yaml.org,2002:float"
_FLOAT_RE = re.compile(r"""^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
    |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X)
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _FLOAT_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(_FLOAT_TAG, _FLOAT_RE, list("-+0123456789."))


def parse_yaml(text: str, source: str) -> tuple[Any, dict[tuple, int]]:
    """Parse YAML text; returns the data and a map from key paths to 1-based line numbers."""
    loader = None
    try:
        loader = _StrictLoader(text)
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: dict[tuple, int] = {}
        _line_map(node, (), lines, set())
        try:
            return loader.construct_document(node), lines
        # e.g. a date 2024-13-45, `!!int 0x`, or a tag that does not fit its value (`!!bool x`)
        except (ValueError, TypeError, OverflowError, LookupError, AttributeError) as e:
            raise ScenarioError(source, f"not valid YAML: a value cannot be read ({e})") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        what = ", ".join(x for x in (e.context, e.problem) if x) or "syntax error"
        line = mark.line + 1 if mark is not None else None
        col = mark.column + 1 if mark is not None else None
        raise ScenarioError(source, [ErrorItem("", f"not valid YAML: {what}", line, col)]) from None
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        col = e.position - (text.rfind("\n", 0, e.position) + 1) + 1
        raise ScenarioError(source, [ErrorItem("", f"not valid YAML: character #x{e.character:04x} is not "
                                                   "allowed in YAML text", line, col)]) from None
    except yaml.YAMLError as e:
        raise ScenarioError(source, f"not valid YAML: {e}") from None
    except _RecursiveAliasError as e:
        raise ScenarioError(source, [ErrorItem("", "a YAML alias refers to a node that contains it "
                                                   "(recursive data is not allowed)", e.line)]) from None
    except RecursionError:
        raise ScenarioError(source, "not valid YAML: nesting too deep") from None
    finally:
        if loader is not None:
            loader.dispose()


class _RecursiveAliasError(Exception):
    def __init__(self, line: int):
        self.line = line


def _line_map(node: yaml.Node, path: tuple, out: dict[tuple, int], stack: set[int],
              seen: set[int] | None = None) -> None:
    """Record the line of every key path; reject recursive aliases; map each shared node once."""
    seen = set() if seen is None else seen
    if id(node) in stack:
        raise _RecursiveAliasError(node.start_mark.line + 1)
    out.setdefault(path, node.start_mark.line + 1)
    if id(node) in seen:
        return
    seen.add(id(node))
    stack.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode):
                p = path + (k.value,)
                out[p] = k.start_mark.line + 1
                _line_map(v, p, out, stack, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _line_map(v, path + (i,), out, stack, seen)
    stack.discard(id(node))


def line_for(path: tuple, lines: dict[tuple, int]) -> int | None:
    for n in range(len(path), -1, -1):
        ln = lines.get(tuple(path[:n]))
        if ln is not None:
            return ln
    return None
