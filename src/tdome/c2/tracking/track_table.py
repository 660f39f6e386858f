"""The track table: every track's state and bookkeeping, one row per track, as columns of arrays.

Interface::

    table = TrackTable(extra_columns)       the columns of TRACK_COLUMNS, plus an estimator's own
    len(table)                              number of tracks (tentative and confirmed)
    table.cols[name]                        (n, ...) array of a column; stages write rows in place
    table.append(**columns)                 new rows at the end (columns left out are zero)
    table.keep(mask)                        drop the rows where ``mask`` is False

Rows are sorted by track id (ids only grow, and new tracks are appended),
so a larger row index is a younger track.  The table holds no logic: the
cycle (:mod:`.tracker`) and its stages decide what goes in it.
"""

from __future__ import annotations

import numpy as np

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

    def __init__(self, extra_columns: dict | None = None):
        self.spec = {**TRACK_COLUMNS, **(extra_columns or {})}
        self.cols: dict[str, np.ndarray] = {k: np.empty((0,) + shp, dtype=dt) for k, (shp, dt) in self.spec.items()}

    def __len__(self) -> int:
        return int(self.cols["track_id"].shape[0])

    def append(self, **new: np.ndarray) -> None:
        """Append rows; every column not given gets zeros."""
        nb = len(next(iter(new.values())))
        for k, (shp, dt) in self.spec.items():
            v = new[k] if k in new else np.zeros((nb,) + shp)
            self.cols[k] = np.concatenate([self.cols[k], np.asarray(v, dtype=dt)])

    def keep(self, mask: np.ndarray) -> None:
        for k in self.cols:
            self.cols[k] = self.cols[k][mask]

    @property
    def confirmed(self) -> np.ndarray:
        """(n,) bool: confirmed tracks."""
        return self.cols["status"] == CONFIRMED
