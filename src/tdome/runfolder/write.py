"""Write a run folder from plain data: the summary, the scene and the rows of each table.

The caller (the simulator) says what happened; this module alone decides
how it is stored: file names, column order and types, JSON layout, events in
time order.  It writes every file but the map, which is drawn afterwards from
what the folder holds (:mod:`tdome.viz.mapplot`).  A live session's tables
grow for hours: it gives them as :class:`RowSpool` objects, already on disk.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import weakref
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
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


def write_run_folder(out: Path, *, summary: dict, scene: dict, events: list[dict], tracks: list[tuple] | RowSpool,
                     truth: list[tuple], threats: dict, interceptors: list[dict], engagements: Sequence[dict] = (),
                     links: Sequence[dict] = ()) -> dict[str, Path]:
    """Write ``out``'s files (all but ``map.png``) and return their paths, keyed as :data:`FILES`.

    ``events``: dicts with :data:`EVENT_COLUMNS` (any order; stored in time
    order); ``tracks`` and ``truth``: tuples in :data:`TRACK_COLUMNS` and
    :data:`TRUTH_COLUMNS` order (``tracks`` also as a :class:`RowSpool` of
    :data:`TRACK_TYPES`, which this finishes); ``threats``: columns named
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
    if isinstance(tracks, RowSpool):
        tracks.finish(paths["tracks"])
    else:
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


def write_plots(out: Path, rows: Sequence[tuple] | RowSpool) -> Path:
    """A live session's ``plots.parquet``: one tuple per plot, in :data:`PLOT_TYPES` order (or a
    :class:`RowSpool` of them, which this finishes)."""
    path = Path(out) / FILES_LIVE["plots"]
    if isinstance(rows, RowSpool):
        return rows.finish(path)
    cols: list = list(zip(*rows, strict=True)) if rows else [[] for _ in PLOT_TYPES]
    pq.write_table(pa.table({n: pa.array(list(c), type=t) for (n, t), c in zip(PLOT_TYPES.items(), cols, strict=True)}),
                   path)
    return path


SEAL_ROWS = 4096  # a spool's tuples are made columns in lots of this many


class RowSpool:
    """The rows of one table, written to Parquet a row group at a time as they come.

    A live session runs for hours: kept in memory to the end, its plots and tracks would grow it by some 40 MB a
    minute at 1,000 tracks.  A spool holds fewer than ``group_rows`` rows between calls: each time it has that
    many it hands them, as a row group, to the thread that writes a temporary file (:class:`_Sink`), made (in
    ``tmp_dir``, else the system's temporary directory) at the first group.  :meth:`finish`
    moves the file there; it holds the table that writing all the rows at once, typed as ``types``, would give.
    A spool never finished (:meth:`discard`, or dropped) leaves no file behind.
    """

    def __init__(self, types: dict[str, pa.DataType], *, group_rows: int = 50_000, tmp_dir: Path | None = None):
        if group_rows < 1:
            raise ValueError(f"group_rows {group_rows}: a row group holds at least one row")
        self.schema = pa.schema(list(types.items()))
        self.group_rows = group_rows
        self.tmp_dir = tmp_dir
        self.buffered = 0  # rows held in memory: the tuples and the batches
        self._rows: list[tuple] = []
        self._batches: list[pa.RecordBatch] = []
        self._count = 0
        self._sink: _Sink | None = None
        self._done = False

    def __len__(self) -> int:
        return self._count

    def append(self, row: tuple) -> None:
        """One row: a tuple in the schema's column order."""
        self._check_open()
        self._rows.append(row)
        self._added(1)

    def extend(self, rows: Iterable[tuple]) -> None:
        """Rows as tuples, in the schema's column order."""
        self._check_open()
        n = len(self._rows)
        self._rows.extend(rows)
        self._added(len(self._rows) - n)

    def extend_columns(self, *columns) -> None:
        """Rows given as columns (numpy arrays or sequences of equal length, in the schema's order): no tuple is
        made.  Numpy arrays are kept as they are until their group is written, so they must not change."""
        self._check_open()
        self._seal()
        batch = pa.RecordBatch.from_arrays([pa.array(c, type=f.type) for c, f in zip(columns, self.schema,
                                                                                   strict=True)], schema=self.schema)
        self._batches.append(batch)
        self._added(batch.num_rows)

    def finish(self, path: Path) -> Path:
        """Write what is held, close the file and move it to ``path`` (a table with no rows if none came)."""
        self._check_open()
        self._write()
        sink = self._open()
        sink.close()
        shutil.move(sink.path, path)
        sink.remove()
        self._sink, self._done = None, True
        return Path(path)

    def discard(self) -> None:
        """Drop the rows and the temporary file: the spool is not to be finished."""
        if self._sink is not None:
            self._sink.remove()
        self._sink, self._done = None, True
        self._rows, self._batches, self.buffered = [], [], 0

    def _check_open(self) -> None:
        if self._done:
            raise ValueError("the spool was finished or discarded: it takes no more rows")

    def _added(self, n: int) -> None:
        self._count += n
        self.buffered += n
        if len(self._rows) >= SEAL_ROWS:  # tuples become columns a few at a time, not all at a group's end
            self._seal()
        if self.buffered >= self.group_rows:
            self._write()

    def _seal(self) -> None:
        """The tuples held so far as one batch, so that rows given as columns come after them."""
        if self._rows:
            cols = zip(*self._rows, strict=True)
            self._batches.append(pa.RecordBatch.from_arrays(
                [pa.array(c, type=f.type) for c, f in zip(cols, self.schema, strict=True)], schema=self.schema))
            self._rows = []

    def _write(self) -> None:
        """The rows held, as one row group of the temporary file (written by the sink's thread)."""
        self._seal()
        if self._batches:
            self._open().write(pa.Table.from_batches(self._batches, schema=self.schema), self.group_rows)
        self._batches, self.buffered = [], 0

    def _open(self) -> _Sink:
        """The temporary file, opened on first use."""
        if self._sink is None:
            self._sink = _Sink(self.schema, self.tmp_dir)
            weakref.finalize(self, self._sink.remove)
        return self._sink


class _Sink:
    """A spool's temporary file and the thread that writes it.

    Row groups are written by a thread of their own (pyarrow encodes and writes without the interpreter's lock),
    so the spool's caller does not wait on the disk: the live service's C2 would otherwise stall for a tenth of
    a second at each group.  One write at a time, so at most two groups are held.  The file is made in a
    directory of its own, so that it has the permissions of any other the session writes (a temporary file's
    are the owner's only)."""

    def __init__(self, schema: pa.Schema, tmp_dir: Path | None):
        self.path = Path(tempfile.mkdtemp(prefix="tdome-spool-", dir=tmp_dir)) / "rows.parquet"
        self.writer = pq.ParquetWriter(self.path, schema)
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tdome-spool")
        self.pending: Future | None = None
        self.closed = False

    def write(self, table: pa.Table, group_rows: int) -> None:
        self.wait()
        self.pending = self.pool.submit(self.writer.write_table, table, row_group_size=group_rows)

    def wait(self) -> None:
        """The write under way, done (its error, if any, raised here)."""
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Every write done, the file complete."""
        if not self.closed:
            self.closed = True
            try:
                self.wait()
            finally:
                self.pool.shutdown()
                self.writer.close()

    def remove(self) -> None:
        """Closed (whatever the last write did) and removed with its folder."""
        with contextlib.suppress(Exception):
            self.close()
        shutil.rmtree(self.path.parent, ignore_errors=True)


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
