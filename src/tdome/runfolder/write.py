"""Write a run folder from plain data: the summary, the scene and the rows of each table.

The caller (the simulator) says what happened; this module alone decides
how it is stored: file names, column order and types, JSON layout, events in
time order.  It writes every file but the map, which is drawn afterwards from
what the folder holds (:mod:`tdome.viz.mapplot`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tdome.runfolder.layout import (
    ENGAGEMENT_TYPES,
    EVENT_COLUMNS,
    FILES,
    FILES_LIVE,
    INTERCEPTOR_TYPES,
    LINK_TYPES,
    PLOT_TYPES,
    THREAT_COLUMNS,
    TRACK_COLUMNS,
    TRUTH_COLUMNS,
)


def write_run_folder(out: Path, *, summary: dict, scene: dict, events: list[dict], tracks: list[tuple],
                     truth: list[tuple], threats: dict, interceptors: list[dict], engagements: Sequence[dict] = (),
                     links: Sequence[dict] = ()) -> dict[str, Path]:
    """Write ``out``'s files (all but ``map.png``) and return their paths, keyed as :data:`FILES`.

    ``events``: dicts with :data:`EVENT_COLUMNS` (any order; stored in time
    order); ``tracks`` and ``truth``: tuples in :data:`TRACK_COLUMNS` and
    :data:`TRUTH_COLUMNS` order; ``threats``: columns named
    :data:`THREAT_COLUMNS`, in that order; ``interceptors``,
    ``engagements`` and ``links``: dicts with the keys of
    :data:`INTERCEPTOR_TYPES`, :data:`ENGAGEMENT_TYPES` and
    :data:`LINK_TYPES`.  ``links.parquet`` is written only if there are
    links (a perfect network has none; its path is then left out, and a
    stale one from an earlier run in ``out`` removed).
    """
    if tuple(threats) != THREAT_COLUMNS:
        raise ValueError(f"threats columns {tuple(threats)}; the run folder stores {THREAT_COLUMNS}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {key: out / name for key, name in FILES.items() if key not in ("map", "links")}
    paths["summary"].write_text(json.dumps(summary, indent=2, default=_json_default) + "\n")
    in_time_order = sorted(events, key=lambda e: e["time_s"])
    pq.write_table(pa.table({c: [e[c] for e in in_time_order] for c in EVENT_COLUMNS}), paths["events"])
    _rows_to_parquet(tracks, TRACK_COLUMNS, paths["tracks"])
    _rows_to_parquet(truth, TRUTH_COLUMNS, paths["truth"])
    pq.write_table(pa.table(threats), paths["threats"])
    paths["scene"].write_text(json.dumps(scene, separators=(",", ":")) + "\n")
    _dicts_to_parquet(interceptors, INTERCEPTOR_TYPES, paths["interceptors"])
    _dicts_to_parquet(engagements, ENGAGEMENT_TYPES, paths["engagements"])
    links_path = out / FILES["links"]
    if links:
        _dicts_to_parquet(links, LINK_TYPES, links_path)
        paths["links"] = links_path
    else:
        links_path.unlink(missing_ok=True)
    return paths


def write_plots(out: Path, rows: Sequence[tuple]) -> Path:
    """A live session's ``plots.parquet``: one tuple per plot, in :data:`PLOT_TYPES` order."""
    cols: list = list(zip(*rows, strict=True)) if rows else [[] for _ in PLOT_TYPES]
    path = Path(out) / FILES_LIVE["plots"]
    pq.write_table(pa.table({n: pa.array(list(c), type=t) for (n, t), c in zip(PLOT_TYPES.items(), cols, strict=True)}),
                   path)
    return path


def _dicts_to_parquet(rows: Sequence[dict], types: dict, path: Path) -> None:
    """Rows as dicts, typed column by column, so an empty table still has its columns' types."""
    pq.write_table(pa.table({c: pa.array([r[c] for r in rows], type=t) for c, t in types.items()}), path)


def _rows_to_parquet(rows: list[tuple], names: tuple[str, ...], path: Path) -> None:
    cols: list = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
    pq.write_table(pa.table({n: list(c) for n, c in zip(names, cols, strict=True)}), path)


def _json_default(o):
    """numpy scalars as JSON numbers (the summary is computed with numpy)."""
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    raise TypeError(type(o))
