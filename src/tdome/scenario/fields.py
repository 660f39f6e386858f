"""The field types every scenario model is made of: strict numbers with bounds and a stated validity,
latitudes and longitudes, names, the vocabulary of classes and layers, and the base model.

A number field refuses a quoted ``"4"`` and a boolean, an integer field refuses ``4.0``; an integer is
still a valid float.  Every field carries a description with its unit (:func:`_doc`).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypedDict, Unpack

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from tdome.messages import BALLISTIC_CLASS_NAMES, LAYERS, THREAT_CLASSES

ThreatClassName = Literal["ballistic", "rocket", "cruise", "drone", "aircraft"]  # messages.THREAT_CLASSES
Layer = Literal["upper", "mid", "lower", "short"]  # messages.LAYERS
RadarRole = Literal["early_warning", "fire_control", "surveillance"]
AIR_BREATHING_CLASSES = tuple(c for c in THREAT_CLASSES if c not in BALLISTIC_CLASS_NAMES)

assert THREAT_CLASSES == ("ballistic", "rocket", "cruise", "drone", "aircraft")
assert LAYERS == ("upper", "mid", "lower", "short")


@dataclass(frozen=True)
class Valid:
    """Annotation marker: what a numeric field accepts, in words (used in error messages and the reference)."""

    text: str


def _num(x: object) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


class _Bounds(TypedDict, total=False):
    """The bounds a number or integer field may take (pydantic's ``Field`` keywords of the same names)."""

    ge: float
    gt: float
    le: float
    lt: float


def _bounds_text(bounds: Mapping[str, object]) -> str:
    ops = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    return " and ".join(f"{ops[k]} {_num(v)}" for k, v in bounds.items())


def _number_in(v: Any) -> Any:
    # YAML turns `yes`/`no`/`on`/`off` into booleans; a number field must not take them as 1/0.
    if isinstance(v, bool):
        raise PydanticCustomError("number_bool", "must be a number, not true/false")
    # numpy scalars from code that builds scenarios (sweeps, tests) count as the numbers they are.
    if isinstance(v, numbers.Integral) and not isinstance(v, int):
        return int(v)
    if isinstance(v, numbers.Real) and not isinstance(v, (int, float)):
        return float(v)
    return v


def _integer_in(v: Any) -> Any:
    if isinstance(v, bool):
        raise PydanticCustomError("integer_bool", "must be an integer, not true/false")
    if isinstance(v, numbers.Integral) and not isinstance(v, int):
        return int(v)
    return v


# Strict numbers: a quoted "4" or a boolean is refused (no silent coercion), while an integer
# is still a valid float (``duration_s: 600``).  The bounds come before the BeforeValidator so
# that they are checked by the number schema itself and show in the JSON Schema as
# minimum/exclusiveMinimum/... .


def Num(**bounds: Unpack[_Bounds]) -> Any:  # a type factory, capitalised like the types it makes
    """A finite float with optional ``ge``/``gt``/``le``/``lt`` bounds; strings and booleans rejected."""
    text = "a number" + (f" {_bounds_text(bounds)}" if bounds else "")
    return Annotated[float, Strict(), Field(**bounds), BeforeValidator(_number_in), Valid(text)]


def Int(**bounds: Unpack[_Bounds]) -> Any:  # a type factory, capitalised like the types it makes
    """An integer with optional bounds; strings, booleans and floats (even 4.0) rejected."""
    text = "an integer" + (f" {_bounds_text(bounds)}" if bounds else "")
    return Annotated[int, Strict(), Field(**bounds), BeforeValidator(_integer_in), Valid(text)]


def _check_lat(v: float) -> float:
    if not -90.0 <= v <= 90.0:
        raise ValueError("latitude must be in [-90, 90] degrees")
    return v


def _check_lon(v: float) -> float:
    if not -180.0 <= v <= 180.0:
        raise ValueError("longitude must be in [-180, 180] degrees")
    return v


# The range is checked by the after-validators (for their message); the JSON Schema states it too.
Lat = Annotated[float, Strict(), BeforeValidator(_number_in), AfterValidator(_check_lat),
                Valid("a latitude in [-90, 90] degrees"),
                WithJsonSchema({"type": "number", "minimum": -90, "maximum": 90})]
Lon = Annotated[float, Strict(), BeforeValidator(_number_in), AfterValidator(_check_lon),
                Valid("a longitude in [-180, 180] degrees"),
                WithJsonSchema({"type": "number", "minimum": -180, "maximum": 180})]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Source = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Probability = Num(ge=0.0, le=1.0)
# A polygon vertex [lat, lon]; dumped as a list so the YAML stays plain.
LatLonPair = Annotated[tuple[Lat, Lon], PlainSerializer(list, return_type=list)]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


class _Frozen(_Model):
    model_config = ConfigDict(frozen=True)


def _gt_field(other: str, v: float, info: ValidationInfo) -> float:
    """Validator body: ``v`` must exceed the (already validated) field ``other``."""
    lo = info.data.get(other)
    if lo is not None and not v > lo:
        raise ValueError(f"must be > {other} ({_num(lo)})")
    return v


def above(other: str) -> AfterValidator:
    """Annotation for the upper end of a range: the value must exceed the field ``other`` (declared before it)."""
    return AfterValidator(lambda v, info: _gt_field(other, v, info))


def _doc(text: str, default: Any = ..., **kw: Any) -> Any:
    """``Field`` with a description (and a default, if given): every field says what it is and its unit."""
    if "default_factory" in kw:
        return Field(description=text, **kw)
    return Field(default, description=text, **kw)


