"""Load and validate scenario files, with error messages written for people.

Bad input never ends in a traceback: every problem (missing or unreadable
file, broken YAML, wrong types, out-of-range values, unknown names, ...)
becomes one :class:`ScenarioError` whose text names the file, the field path
(YAML keys and list indices, e.g. ``batteries[2].magazine``), the line, the
offending value and what is allowed, one line per problem.
"""

from __future__ import annotations

import difflib
import math
import types
import typing
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Tag, ValidationError
from pydantic_core import ErrorDetails

from tdome.scenario.catalog import Catalog, builtin_catalog
from tdome.scenario.errors import ErrorItem, ScenarioError, format_path, format_value
from tdome.scenario.fields import Valid
from tdome.scenario.schema import DEFER_CHECKS, DefendedSide, Problem, Scenario
from tdome.scenario.yamlio import line_for, parse_yaml

DEFAULT_FILE = "default.yaml"
STARTER_FILE = "starter.yaml"


# --------------------------------------------------------------------------- public API


# The scenarios that ship with tdome, by the name a command or a study file may give instead of a path.
BUILTIN_SCENARIOS = {"default": DEFAULT_FILE, "contested": "contested.yaml"}


def default_scenario_path() -> Path:
    """Filesystem path of the built-in default scenario."""
    return Path(str(resources.files("tdome.scenario").joinpath("data", DEFAULT_FILE)))


def builtin_scenario_path(name: str) -> Path | None:
    """Filesystem path of the built-in scenario ``name`` (see :data:`BUILTIN_SCENARIOS`), or None."""
    file = BUILTIN_SCENARIOS.get(name)
    return None if file is None else Path(str(resources.files("tdome.scenario").joinpath("data", file)))


def starter_scenario_path() -> Path:
    """Filesystem path of the commented starter scenario (see :func:`starter_text`)."""
    return Path(str(resources.files("tdome.scenario").joinpath("data", STARTER_FILE)))


def starter_text() -> str:
    """A small, complete, commented scenario YAML for a new user to copy and edit.

    A few assets, radars and batteries of three layers, a raid of two waves, a seed and a
    duration; each section says what it is and which section of the reference
    (docs/scenario-reference.md) describes it.  It validates as it is and a run of it ends
    with intercepts.
    """
    return resources.files("tdome.scenario").joinpath("data", STARTER_FILE).read_text(encoding="utf-8")


def load_scenario(path: str | Path | None = None, seed: int | None = None) -> Scenario:
    """Load and validate a scenario file (None: the built-in default); ``seed`` overrides the file's seed."""
    text, source = _scenario_text(path)
    return load_scenario_text(text, source=source, seed=seed)


def read_scenario_data(path: str | Path | None = None) -> tuple[Any, str]:
    """The parsed YAML of a scenario file (None: the built-in default) and its source name, unvalidated.

    For tools that change a scenario before validating it (parameter sweeps).
    """
    text, source = _scenario_text(path)
    return parse_yaml(text, source)[0], source


def _scenario_text(path: str | Path | None) -> tuple[str, str]:
    """The text of a scenario file (None: the built-in default) and its source name."""
    if path is None:
        res = resources.files("tdome.scenario").joinpath("data", DEFAULT_FILE)
        return res.read_text(encoding="utf-8"), str(res)
    builtin = builtin_scenario_path(str(path))
    if builtin is not None and not Path(path).exists():  # a built-in's name, and no file of that name here
        return builtin.read_text(encoding="utf-8"), str(builtin)
    return _read_text(path), str(path)


def validate_file(path: str | Path) -> Scenario:
    """Check a scenario file; returns the scenario or raises :class:`ScenarioError`."""
    return load_scenario(path)


def load_scenario_text(text: str, source: str = "<string>", seed: int | None = None) -> Scenario:
    """Validate scenario YAML given as text; ``source`` names it in error messages."""
    data, lines = parse_yaml(text, source)
    return scenario_from_dict(data, source=source, seed=seed, _lines=lines)


def scenario_from_dict(data: Any, source: str = "<data>", seed: int | None = None,
                       _lines: dict[tuple, int] | None = None) -> Scenario:
    """Validate an already-parsed scenario mapping (e.g. built in code or by a test)."""
    lines = _lines or {}
    if data is None:
        raise ScenarioError(source, "the file is empty; a scenario is a YAML mapping with name, seed, "
                                    "duration_s, assets, radars, batteries, raid")
    if not isinstance(data, dict):
        raise ScenarioError(source, [ErrorItem("", f"the top level must be a mapping of scenario fields "
                                                   f"(name, seed, duration_s, assets, radars, batteries, raid, ...); "
                                                   f"got {_kind(data)} {format_value(data, 60)}", lines.get(()))])
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ScenarioError(source, [ErrorItem("seed (override)",
                                                   f"= {format_value(seed)}: must be an integer >= 0")])
        data = {**data, "seed": seed}
    try:
        sc = Scenario.model_validate(data, context={DEFER_CHECKS: True})
    except ValidationError as e:
        raise ScenarioError(source, _scenario_errors(e.errors(), lines, data)) from None
    problems = sc.problems()
    if problems:
        raise ScenarioError(source, [_from_problem(p, lines) for p in problems]) from None
    return sc


def load_defended_side(path: str | Path | None = None) -> DefendedSide:
    """The defended side of a file, for the live service: a scenario file (the built-in's name or None the
    default), whose raid it never reads, or a file with only the defended side's sections (no raid, seed or
    duration).  Bad input raises :class:`ScenarioError`, as a scenario's does."""
    text, source = _scenario_text(path)
    data, lines = parse_yaml(text, source)
    if isinstance(data, dict) and "raid" in data:
        return scenario_from_dict(data, source=source, _lines=lines)
    if not isinstance(data, dict):
        raise ScenarioError(source, "the file is not a YAML mapping; the live service reads name, assets, radars, "
                                    "batteries, c2 and live (or a whole scenario)")
    try:
        side = DefendedSide.model_validate(data, context={DEFER_CHECKS: True})
    except ValidationError as e:
        raise ScenarioError(source, _scenario_errors(e.errors(), lines, data, DefendedSide)) from None
    problems = side.problems()
    if problems:
        raise ScenarioError(source, [_from_problem(p, lines) for p in problems]) from None
    return side


def load_catalog_text(text: str, source: str = "<string>") -> Catalog:
    """Validate a catalog YAML (``threats``, ``radars``, ``interceptors`` mappings)."""
    data, lines = parse_yaml(text, source)
    if not isinstance(data, dict):
        raise ScenarioError(source, "a catalog must be a mapping with threats, radars, interceptors")
    try:
        return Catalog.model_validate(data)
    except ValidationError as e:
        raise ScenarioError(source, [_from_pydantic(err, Catalog, lines) for err in e.errors()]) from None


# --------------------------------------------------------------------------- reading and YAML


def _read_text(path: str | Path) -> str:
    p = Path(path)
    src = str(path)
    try:
        if not p.exists():
            raise ScenarioError(src, "file not found")
        if p.is_dir():
            raise ScenarioError(src, "is a directory, not a scenario file (give a .yaml file)")
        raw = p.read_bytes()
    except OSError as e:
        raise ScenarioError(src, f"cannot read the file: {e.strerror or e}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ScenarioError(src, f"not a UTF-8 text file (undecodable byte at offset {e.start}); "
                                 "a scenario is a YAML text file") from None


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a mapping"
    return type(v).__name__


# --------------------------------------------------------------------------- pydantic errors -> text


def _from_problem(p: Problem, lines: dict[tuple, int]) -> ErrorItem:
    msg = f"= {format_value(p.value)}: {p.message}" if p.has_value else p.message
    return ErrorItem(format_path(p.path), msg, line_for(p.path, lines))


_CATALOG_KINDS = {"threats": "threat type", "radars": "radar type", "interceptors": "interceptor type"}


def _scenario_errors(errors: list[ErrorDetails], lines: dict[tuple, int], data: dict,
                     model: type[BaseModel] = Scenario) -> list[ErrorItem]:
    """Pydantic's errors for a scenario as items.

    The missing fields of a new catalog entry make one item (with a hint when its name is close to a
    built-in one), and an error in a field a partial override did not give says it is the built-in value.
    """
    catalog = builtin_catalog()
    raw_catalog = data.get("catalog") if isinstance(data.get("catalog"), dict) else {}
    out: list[ErrorItem] = []
    missing: dict[tuple, list[str]] = {}  # (section, name) -> missing fields, in order
    slot: dict[tuple, int] = {}  # (section, name) -> index in ``out`` of its one item
    for err in errors:
        loc = tuple(err.get("loc", ()))
        section = loc[1] if len(loc) >= 4 and loc[0] == "catalog" else None  # of the catalog entry it is in
        if not (isinstance(section, str) and section in _CATALOG_KINDS):
            section = None
        if section is not None and err.get("type") == "missing":
            key = (section, loc[2])
            if key not in missing:
                missing[key] = []
                slot[key] = len(out)
                out.append(ErrorItem(f"catalog.{loc[1]}.{loc[2]}", "", line_for(loc[:3], lines)))  # filled below
            missing[key].append(".".join(str(p) for p in loc[3:]))
            continue
        item = _from_pydantic(err, model, lines)
        if section is not None and loc[2] in getattr(catalog, section) and not _given(raw_catalog, loc[1:]):
            item = ErrorItem(item.path, f"{item.message} (the built-in value of '{loc[2]}', not set in this "
                                        "file; override it too)", item.line, item.column)
        out.append(item)
    for (section, name), i in slot.items():
        item = out[i]
        known = sorted(getattr(catalog, section))
        kind = _CATALOG_KINDS[section]
        msg = (f"'{name}' is not a built-in {kind}, so it is a new entry and must be complete: "
               f"missing {', '.join(missing[(section, name)])}")
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        if close:
            msg += (f" (did you mean the built-in '{close[0]}'? an entry with a built-in name needs only the "
                    "fields it changes)")
        else:
            msg += f"; built-in {kind}s, which an entry can override field by field: {', '.join(known)}"
        out[i] = ErrorItem(item.path, msg, item.line)
    return out


def _given(raw: Any, path: tuple) -> bool:
    """Whether the raw mapping ``raw`` has a value at ``path`` (keys; ``class_`` also matches ``class``)."""
    for key in path:
        if not isinstance(raw, dict):
            return False
        if key not in raw and not (key == "class" and "class_" in raw):
            return False
        raw = raw[key] if key in raw else raw["class_"]
    return True


_NUMBER_ERRORS = ("int_type", "int_parsing", "int_from_float", "float_type", "float_parsing",
                  "number_bool", "integer_bool")


def _number_message(etype: str, value: Any, valid: str | None) -> str:
    """What a number field needs, and why ``value`` is not it (quoted numbers, booleans, 2.5 for an integer)."""
    integer = etype.startswith("int")
    valid = valid or ("an integer" if integer else "a number")
    if isinstance(value, bool):
        return f"must be {valid}, not true/false"
    if isinstance(value, str):
        text = value.strip().replace("_", "")
        try:
            ok = float(text) == int(text) if integer else math.isfinite(float(text))
        except (ValueError, OverflowError):
            ok = False
        if ok:
            return f"must be {valid}, not a string: write {value.strip()} without quotes"
        return f"must be {valid}, not a string"
    if integer and isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return f"must be a whole number written without a decimal point ({valid}): write {int(value)}"
        return f"must be a whole number ({valid})"
    return f"must be {valid}"


def _from_pydantic(err: ErrorDetails, root: type[BaseModel], lines: dict[tuple, int]) -> ErrorItem:
    loc = tuple(err.get("loc", ()))
    path, tp = _walk(root, loc)
    etype = err.get("type", "")
    ctx = err.get("ctx") or {}
    value = err.get("input")
    has_value = etype != "missing"

    if etype == "extra_forbidden":
        _, parent = _walk(root, loc[:-1])
        allowed = _field_names(parent)
        key = str(loc[-1]) if loc else ""
        msg = "unknown field"
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        if close:
            msg += f" (did you mean '{close[0]}'?)"
        if allowed:
            msg += f"; allowed fields: {', '.join(allowed)}"
    elif etype == "missing" and loc and isinstance(loc[-1], int):
        # A short list where a fixed-length one is expected: the only such type is a [lat, lon] pair.
        path, has_value, msg = path[:-1], True, "must be a pair [lat, lon] (degrees)"
    elif etype == "missing":
        msg = "required field is missing"
    elif etype == "too_long" and (ctx.get("field_type") == "Tuple"):
        msg = "must be a pair [lat, lon] (degrees)"
    elif etype in _NUMBER_ERRORS:
        msg = _number_message(etype, value, _valid_text(tp))
    else:
        msg = _describe(etype, ctx, err.get("msg", ""))

    text = f"= {format_value(value)}: {msg}" if has_value else msg
    return ErrorItem(format_path(path), text, line_for(tuple(path), lines))


def _describe(etype: str, ctx: dict, raw: str) -> str:
    bounds = {
        "greater_than_equal": ("ge", ">="),
        "greater_than": ("gt", ">"),
        "less_than_equal": ("le", "<="),
        "less_than": ("lt", "<"),
    }
    if etype in bounds:
        key, op = bounds[etype]
        return f"must be {op} {format_value(ctx.get(key))}"
    simple = {
        "int_type": "must be an integer",
        "int_parsing": "must be an integer",
        "int_parsing_size": "must be an integer of a sensible size",
        "int_from_float": "must be a whole number",
        "float_type": "must be a number",
        "float_parsing": "must be a number",
        "finite_number": "must be a finite number (not .nan or .inf)",
        "string_type": "must be a string (quote it if YAML read it as something else)",
        "bool_type": "must be true or false",
        "bool_parsing": "must be true or false",
        "list_type": "must be a list",
        "tuple_type": "must be a list [lat, lon]",
        "dict_type": "must be a mapping (key: value)",
        "model_type": "must be a mapping (key: value)",
        "model_attributes_type": "must be a mapping (key: value)",
        "string_too_short": "must not be empty",
    }
    if etype in simple:
        return simple[etype]
    if etype == "literal_error":
        return f"must be one of {ctx.get('expected', '')}"
    if etype == "too_short":
        n = ctx.get("min_length")
        return f"must have at least {n} item{'s' if n != 1 else ''}"
    if etype == "too_long":
        n = ctx.get("max_length")
        return f"must have at most {n} item{'s' if n != 1 else ''}"
    if etype == "value_error":
        return raw.removeprefix("Value error, ")
    if etype == "assertion_error":
        return raw.removeprefix("Assertion failed, ")
    return raw[:1].lower() + raw[1:] if raw else etype


# ---- walking the schema along an error location


def _walk(root: Any, loc: tuple) -> tuple[list, Any]:
    """Display path for ``loc`` (discriminator tags dropped) and the type found at its end."""
    path: list = []
    tp = root
    for part in loc:
        tp, is_tag = _step(tp, part)
        if not is_tag:
            path.append(part)
    return path, tp


def _strip_annotated(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _step(tp: Any, part: Any) -> tuple[Any, bool]:
    if tp is None:
        return None, False
    tp = _strip_annotated(tp)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        arms = typing.get_args(tp)
        for arm in arms:
            if typing.get_origin(arm) is typing.Annotated and any(
                    isinstance(m, Tag) and m.tag == part for m in typing.get_args(arm)[1:]):
                return arm, True
        for arm in arms:
            if arm is type(None):
                continue
            nxt, tag = _step(arm, part)
            if nxt is not None:
                return nxt, tag
        return None, False
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, f in tp.model_fields.items():
            if part == name or part == f.alias:
                # pydantic moves a field's top-level Annotated metadata into FieldInfo; put it back.
                return (typing.Annotated[(f.annotation, *f.metadata)] if f.metadata else f.annotation), False
        return None, False
    if origin is list and isinstance(part, int):
        return typing.get_args(tp)[0], False
    if origin is tuple and isinstance(part, int):
        args = typing.get_args(tp)
        return (args[part] if part < len(args) else None), False
    if origin is dict:
        return typing.get_args(tp)[1], False
    return None, False


def _valid_text(tp: Any) -> str | None:
    """The :class:`~tdome.scenario.schema.Valid` text of a (possibly optional) number type, if it has one."""
    if typing.get_origin(tp) is typing.Annotated:
        for m in typing.get_args(tp)[1:]:
            if isinstance(m, Valid):
                return m.text
        return _valid_text(typing.get_args(tp)[0])
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        for arm in typing.get_args(tp):
            text = _valid_text(arm)
            if text:
                return text
    return None


def _field_names(tp: Any) -> list[str]:
    tp = _strip_annotated(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        for arm in typing.get_args(tp):
            names = _field_names(arm)
            if names:
                return names
        return []
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or name for name, f in tp.model_fields.items()]
    return []
