"""The one error a scenario (or a study, or the built-in catalog) reading can end in, with every problem in it."""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

from pydantic import BaseModel

MAX_LISTED_ERRORS = 60


@dataclass(frozen=True)
class ErrorItem:
    """One problem: where (field path, line) and what."""

    path: str  # e.g. "batteries[2].magazine"; "" for the file as a whole
    message: str  # e.g. "= -4: must be >= 0" style text, without the path
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = ""
        if self.line:
            where = f"line {self.line}, column {self.column}: " if self.column else f"line {self.line}: "
        if self.path:
            sep = " " if self.message.startswith("= ") else ": "
            return f"{where}{self.path}{sep}{self.message}"
        return f"{where}{self.message}"


class ScenarioError(Exception):
    """A scenario could not be loaded; ``str(e)`` is the complete message for the user."""

    def __init__(self, source: str, errors: list[ErrorItem] | str):
        self.source = str(source)
        self.errors: list[ErrorItem] = [ErrorItem("", errors)] if isinstance(errors, str) else list(errors)
        super().__init__(self._text())

    def _text(self) -> str:
        n = len(self.errors)
        if n == 1:
            return f"scenario file '{self.source}': {self.errors[0]}"
        lines = [f"scenario file '{self.source}': {n} errors"]
        shown = self.errors[:MAX_LISTED_ERRORS]
        lines += [f"  {e}" for e in shown]
        if n > len(shown):
            lines.append(f"  ... and {n - len(shown)} more")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self._text()


_MISSING = object()


class Problem(NamedTuple):
    """A whole-file problem: the field path (YAML keys and list indices), what is wrong, the value."""

    path: tuple[str | int, ...]
    message: str
    value: Any = _MISSING

    @property
    def has_value(self) -> bool:
        return self.value is not _MISSING


def unknown_name(what: str, name: str, known: Any, noun: str = "types") -> str:
    """``unknown <what> '<name>' (did you mean ...?); known <noun>: ...``, the known names sorted."""
    names = sorted(known)
    msg = f"unknown {what} '{name}'"
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        msg += f" (did you mean '{close[0]}'?)"
    return msg + f"; known {noun}: {', '.join(names) if names else '(none)'}"


def format_path(path: tuple[str | int, ...] | list[str | int]) -> str:
    """``('batteries', 2, 'magazine')`` -> ``batteries[2].magazine``."""
    s = ""
    for part in path:
        if isinstance(part, int):
            s += f"[{part}]"
        else:
            s += ("." if s else "") + str(part)
    return s


def format_value(v: Any, limit: int = 80) -> str:
    """A value as it would read in YAML, shortened."""
    if v is None:
        s = "null"
    elif isinstance(v, bool):
        s = "true" if v else "false"
    elif isinstance(v, str):
        s = repr(v)
    elif isinstance(v, float):
        s = repr(v) if math.isfinite(v) else (".nan" if math.isnan(v) else (".inf" if v > 0 else "-.inf"))
    elif isinstance(v, int):
        s = str(v)
    elif isinstance(v, dict):
        s = "{" + ", ".join(f"{k}: {format_value(x, limit)}" for k, x in v.items()) + "}"
    elif isinstance(v, (list, tuple)):
        s = "[" + ", ".join(format_value(x, limit) for x in v) + "]"
    elif isinstance(v, BaseModel):
        s = format_value(v.model_dump(), limit)
    else:
        s = repr(v)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return s
