"""The run folder: the one package that knows its files, their columns and their formats, both ways.

The simulator writes a run through :func:`write_run_folder`; the map, the
replay, the CZML export and anyone else read it back with
:func:`load_run_folder`.  Nothing here knows the simulator or any picture of
the run: the folder is the only contract between them, so either side can
change as long as the folder stays the same.

- :mod:`~tdome.runfolder.layout`: file names, table columns, the scene's format number;
- :mod:`~tdome.runfolder.scene`: what ``scene.json`` holds, and the radar footprint it records;
- :mod:`~tdome.runfolder.write` and :mod:`~tdome.runfolder.read`: the two directions.
"""

import importlib
from typing import TYPE_CHECKING

from tdome.runfolder.layout import (
    ENGAGEMENT_TYPES,
    EVENT_COLUMNS,
    FILES,
    INTERCEPTOR_TYPES,
    LINK_TYPES,
    OPTIONAL_TABLES,
    SCENE_FORMAT,
    TABLES,
    THREAT_COLUMNS,
    TRACK_COLUMNS,
    TRUTH_COLUMNS,
)
from tdome.runfolder.scene import coverage_outline

if TYPE_CHECKING:
    from tdome.runfolder.read import RunFolder, RunFolderError, by_object, load_run_folder
    from tdome.runfolder.write import write_run_folder

# The two directions are imported when first asked for: both import pyarrow.parquet (a tenth of a second), which a
# study's worker, summarising runs it never writes, does without.
_LAZY = {"RunFolder": "read", "RunFolderError": "read", "by_object": "read", "load_run_folder": "read",
         "write_run_folder": "write"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"tdome.runfolder.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ENGAGEMENT_TYPES", "EVENT_COLUMNS", "FILES", "INTERCEPTOR_TYPES", "LINK_TYPES", "OPTIONAL_TABLES", "SCENE_FORMAT",
    "TABLES", "THREAT_COLUMNS", "TRACK_COLUMNS", "TRUTH_COLUMNS", "RunFolder", "RunFolderError", "by_object",
    "coverage_outline", "load_run_folder", "write_run_folder",
]
