"""The track table: every track's state and bookkeeping, one row per track, as columns of arrays.

Interface::

    table = TrackTable(extra_columns)       the columns of TRACK_COLUMNS, plus an estimator's own
    len(table)                              number of tracks (tentative and confirmed)
    table.cols[name]                        (n, ...) array of a column; stages write rows in place
    table.append(count, **columns)          ``count`` new rows at the end (an array per column, or one value
                                            for every new row; columns left out are zero)
    table.keep(mask)                        drop the rows where ``mask`` is False
    table.reserve(count); table.buffers     room for ``count`` more rows; the buffers of TRACK_COLUMNS, in order,
    table.resize(n)                         for compiled code that appends and deletes rows itself, then says
                                            how many rows there are
    table.clear(names, start, stop)         zero some columns' buffers in rows being written past the end

Rows are sorted by track id (ids only grow, and new tracks are appended),
so a larger row index is a younger track.  The table holds no logic: the
cycle (:mod:`.tracker`) and its stages decide what goes in it.

Each column lives in a buffer with room to grow (doubled when full), and
``cols[name]`` is the view of its first ``len(table)`` rows: appending
writes into the buffers and deleting compacts them in place (one compiled
pass over every column), so neither copies the table.  A view taken before
an ``append``, ``keep`` or ``resize`` is stale after it: read ``cols`` again
(the views are made again on the first read after a change).
"""

from __future__ import annotations

import numpy as np
from numba import literal_unroll, njit

# Per-track columns: name -> (trailing shape, dtype).
TRACK_COLUMNS = {
    "x": ((6,), float),  # ECEF position (m) and velocity (m/s)
    "P": ((6, 6), float),
    "track_id": ((), np.int64),
    "time_s": ((), float),  # time of the state x, P
    "status": ((), np.int8),  # 0 tentative, 1 confirmed
    "n_hits": ((), np.int32),
    "n_opportunities": ((), np.int32),  # scans of radars that cover the track and have seen it (hits + misses)
    "n_misses": ((), np.int32),  # consecutive missed opportunities
    "first_update_s": ((), float),
    "last_update_s": ((), float),
    "ballistic": ((), bool),
    "kin_class": ((), np.int8),  # KinematicClass (:mod:`.classification`)
    "score": ((), float),  # track score (log-likelihood ratio), initiation "score"
    "score_peak": ((), float),  # running maximum of the score
    "vel_init": ((), bool),  # velocity known (False: one-plot track)
    "dup_count": ((), np.int32),  # consecutive duplicate checks failed
    "seen_by": ((), np.uint64),  # bit k set: sensor k has contributed a plot
}

TENTATIVE, CONFIRMED = 0, 1  # values of the status column


class TrackTable:
    """Structure of arrays, one row per track, rows sorted by track id."""

    def __init__(self, extra_columns: dict | None = None, capacity: int = 256):
        self.spec = {**TRACK_COLUMNS, **(extra_columns or {})}
        self._buf = {k: np.zeros((capacity,) + shp, dtype=dt) for k, (shp, dt) in self.spec.items()}
        self._n = 0
        self._cols: dict[str, np.ndarray] = {}
        self._stale = True
        self._buffers = tuple(self._buf[k] for k in TRACK_COLUMNS)

    def __len__(self) -> int:
        return self._n

    @property
    def cols(self) -> dict[str, np.ndarray]:
        """Each column's view of the rows in use (made again after a change of length)."""
        if self._stale:
            n = self._n
            self._cols = {k: b[:n] for k, b in self._buf.items()}
            self._stale = False
        return self._cols

    def reserve(self, count: int) -> None:
        """Room for ``count`` more rows (each buffer doubled, or more, when full)."""
        n, end = self._n, self._n + count
        cap = next(iter(self._buf.values())).shape[0]
        if end > cap:
            cap = max(2 * cap, end)
            for k, b in self._buf.items():
                grown = np.zeros((cap,) + b.shape[1:], dtype=b.dtype)
                grown[:n] = b[:n]
                self._buf[k] = grown
            self._stale = True
            self._buffers = tuple(self._buf[k] for k in TRACK_COLUMNS)

    @property
    def buffers(self) -> tuple[np.ndarray, ...]:
        """The buffers of :data:`TRACK_COLUMNS`, in its order, whole (rows beyond ``len(table)`` are free)."""
        return self._buffers

    def resize(self, n: int) -> None:
        """The table now holds ``n`` rows: compiled code has appended or compacted them in the buffers."""
        if not 0 <= n <= next(iter(self._buf.values())).shape[0]:
            raise ValueError(f"{n} rows do not fit the buffers")
        if n != self._n:  # the views stay right while the length and the buffers do
            self._n = n
            self._stale = True

    def clear(self, names, start: int, stop: int) -> None:
        """Zero the buffers of the columns ``names`` in rows ``start:stop`` (rows being written past the end)."""
        for k in names:
            self._buf[k][start:stop] = 0

    def append(self, count: int, **new) -> None:
        """Append ``count`` rows: each column given as an array of ``count`` rows or one value; others get zeros."""
        self.reserve(count)
        n, end = self._n, self._n + count
        for k, b in self._buf.items():
            b[n:end] = new.get(k, 0)
        self.resize(end)

    def keep(self, mask: np.ndarray) -> None:
        """Drop the rows where ``mask`` (n,) is False; the others keep their order."""
        self.resize(_compact(np.ascontiguousarray(mask, dtype=bool), tuple(self._buf.values())))

    @property
    def confirmed(self) -> np.ndarray:
        """(n,) bool: confirmed tracks."""
        return self.cols["status"] == CONFIRMED


@njit(cache=True)
def _compact(mask, buffers):  # pragma: no cover - compiled
    """Move the rows where ``mask`` is True to the front of every buffer, in order; returns how many."""
    m = 0
    for a in literal_unroll(buffers):
        m = 0
        for r in range(mask.shape[0]):
            if mask[r]:
                if m != r:
                    a[m] = a[r]
                m += 1
    return m
