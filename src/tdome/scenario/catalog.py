"""The built-in catalog of notional threat, radar and interceptor types.

The figures live in ``scenario/data/catalog.yaml``; every entry carries a
``source`` naming the public reporting it is drawn from (or "notional"), and
``scenario/data/README.md`` explains the choices.  A scenario's own
``catalog`` section extends these entries, or overrides them field by field by name
(:func:`tdome.scenario.schema.merge_catalog_overrides`).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from tdome.scenario.schema import Catalog, InterceptorType, RadarType, ThreatType

CATALOG_FILE = "catalog.yaml"


def builtin_catalog_path() -> Path:
    """Filesystem path of the built-in catalog YAML."""
    return Path(str(resources.files("tdome.scenario").joinpath("data", CATALOG_FILE)))


@lru_cache(maxsize=1)
def builtin_catalog() -> Catalog:
    """The built-in catalog, parsed and validated once (entries are immutable)."""
    from tdome.scenario.loader import load_catalog_text

    res = resources.files("tdome.scenario").joinpath("data", CATALOG_FILE)
    return load_catalog_text(res.read_text(encoding="utf-8"), source=str(res))


def threat_type(name: str) -> ThreatType:
    """A built-in threat type by name (KeyError if unknown)."""
    return builtin_catalog().threats[name]


def radar_type(name: str) -> RadarType:
    """A built-in radar type by name (KeyError if unknown)."""
    return builtin_catalog().radars[name]


def interceptor_type(name: str) -> InterceptorType:
    """A built-in interceptor type by name (KeyError if unknown)."""
    return builtin_catalog().interceptors[name]
