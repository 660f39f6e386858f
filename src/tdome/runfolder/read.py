"""Read a run folder back: the summary, the scene and the Parquet tables, as plain columns.

The map, the replay and the CZML export all start here, so they show the
same run the same way.  A folder that is missing a file, or was written
before the run folder carried its scene, gives a :class:`RunFolderError` that
names the folder and the file, never a traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tdome.runfolder.layout import ENGAGEMENT_TYPES, FILES, LINK_TYPES, OPTIONAL_TABLES, SCENE_FORMAT, TABLES


class RunFolderError(Exception):
    """A run folder that cannot be read; the message says which folder, which file and what to do."""


@dataclass
class RunFolder:
    path: Path
    summary: dict
    scene: dict
    events: dict[str, np.ndarray]
    tracks: dict[str, np.ndarray]
    truth: dict[str, np.ndarray]
    threats: dict[str, np.ndarray]
    interceptors: dict[str, np.ndarray]
    # Optional tables (layout.OPTIONAL_TABLES): empty columns when the folder lacks them.
    engagements: dict[str, np.ndarray]
    links: dict[str, np.ndarray]


_OPTIONAL_TYPES = dict(engagements=ENGAGEMENT_TYPES, links=LINK_TYPES)


def _columns(path: Path) -> dict[str, np.ndarray]:
    table = pq.read_table(path)
    return {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}


def _optional_columns(path: Path, table: str) -> dict[str, np.ndarray]:
    if path.is_file():
        return _columns(path)
    return {c: pa.array([], type=t).to_numpy(zero_copy_only=False) for c, t in _OPTIONAL_TYPES[table].items()}


def load_run_folder(path: Path) -> RunFolder:
    path = Path(path)
    if not path.is_dir():
        raise RunFolderError(f"{path}: not a run folder (no such directory); make one with `tdome run --out {path}`")
    files = [FILES["summary"], FILES["scene"]] + [FILES[t] for t in TABLES]
    missing = [f for f in files if not (path / f).is_file()]
    if missing:
        raise RunFolderError(f"{path}: run folder lacks {', '.join(missing)}; a folder written by an older tdome "
                             f"has no scene: run the scenario again with `tdome run --out {path}`")
    try:
        summary = json.loads((path / FILES["summary"]).read_text())
        scene = json.loads((path / FILES["scene"]).read_text())
        tables = {t: _columns(path / FILES[t]) for t in TABLES}
        tables.update({t: _optional_columns(path / FILES[t], t) for t in OPTIONAL_TABLES})
    except (OSError, ValueError) as e:  # json and pyarrow errors are ValueErrors
        raise RunFolderError(f"{path}: cannot read the run folder: {e}") from None
    if scene.get("format") != SCENE_FORMAT:
        raise RunFolderError(f"{path / FILES['scene']}: format {scene.get('format')!r}, this tdome reads "
                             f"format {SCENE_FORMAT}; run the scenario again")
    return RunFolder(path, summary, scene, **tables)


def by_object(key: np.ndarray, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of a table of samples ordered by (object, time), and where each object's run starts.

    Returns ``(order, starts)``: ``key[order]`` is grouped by object with each
    group in time order, and ``starts`` indexes the first row of each group in it.
    """
    order = np.lexsort((t_s, key))
    k = key[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]]) if k.size else np.zeros(0, dtype=int)
    return order, starts
