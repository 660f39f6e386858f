"""The air picture, and the one interface of whatever makes it: :class:`PictureSource`.

Interface::

    source.process(scan)            take one scan of plots (radar Detections or Cartesian PositionPlots)
    source.picture(t_s)             -> AirPicture: the confirmed tracks predicted to t_s
    source.stats                    dict name -> int, counters for the run record
    source.last_association         PlotAssociation: the track each plot of the last scan went to

The battle manager's tracker (:class:`~tdome.c2.tracking.tracker.Tracker`)
implements it, and so does the simulator's perfect picture (``PerfectPicture``,
which reads truth and so lives with the simulator), standing in for the
tracker when a study separates tracking from threat evaluation and
assignment.  Data crosses this boundary as arrays: an :class:`AirPicture`
is a handful of (n, ...) arrays, one row per track.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

from tdome.messages import Detections, PositionPlots


@dataclass
class AirPicture:
    """Confirmed tracks predicted to ``time_s`` (arrays are copies)."""

    time_s: float
    track_id: np.ndarray  # (n,) int
    x: np.ndarray  # (n, 6) ECEF position (m) and velocity (m/s)
    P: np.ndarray  # (n, 6, 6)
    ballistic: np.ndarray  # (n,) bool
    n_hits: np.ndarray  # (n,)
    first_update_s: np.ndarray  # (n,)
    last_update_s: np.ndarray  # (n,)
    kin_class: np.ndarray | None = None  # (n,) int8 KinematicClass codes; None: not classified
    # (n,) track quality: the fraction of its opportunities (scans of radars that
    # cover it and could see it) that gave it a plot; None: not available
    quality: np.ndarray | None = None
    score: np.ndarray | None = None  # (n,) track score (log-likelihood ratio; initiation "score" only)
    # (n,) bool: discriminated as a light object (a decoy) by its deceleration in the air; None: not assessed
    light: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.track_id.shape[0])


class PlotAssociation(NamedTuple):
    """Which track each plot of a scan went to (updated or started); plots absent here were refused.

    Consumers use it for per-track bookkeeping (the simulator: which true
    object's plots each track took).  Unpacks as ``plots, track_ids = ...``.
    """

    plot: np.ndarray  # (k,) rows of the scan's plots
    track_id: np.ndarray  # (k,) int64 ids of the tracks they went to

    @classmethod
    def none(cls) -> PlotAssociation:
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))


@runtime_checkable
class PictureSource(Protocol):
    """Whatever gives the battle manager its air picture (module docstring)."""

    stats: dict[str, int]

    def process(self, scan: Detections | PositionPlots) -> None:
        """Take one scan."""

    def picture(self, t_s: float) -> AirPicture:
        """The confirmed tracks predicted to ``t_s``."""

    @property
    def last_association(self) -> PlotAssociation:
        """The track each plot of the last scan processed went to."""
