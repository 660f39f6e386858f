"""A perfect air picture built from truth, for the ``perfect_picture`` fidelity.

The simulator hands the battle manager this object in place of its tracker
(:meth:`~tdome.c2.core.BattleManager.use_picture_source`).  Radars still scan
and detect as usual, so the radar horizon and detection ranges still decide
*when* the C2 learns of a threat; from a threat's first plot on, the C2 sees
its true position and velocity, one track per threat, with no false tracks,
no swaps and no lag.  A study run both ways separates the effect of tracking
from the effect of threat evaluation and assignment.

This lives in the simulator because it reads truth; the C2 core only sees a
:class:`~tdome.c2.tracking.PictureSource` and its
:class:`~tdome.c2.tracking.AirPicture`, as from its own tracker.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tdome.c2.tracking import AirPicture, PictureSource, PlotAssociation
from tdome.messages import BALLISTIC_CLASS_NAMES, Detections, PositionPlots

# A small, well-conditioned covariance: position σ 1 m, velocity σ 0.1 m/s.
_P_TRUTH = np.diag([1.0, 1.0, 1.0, 0.01, 0.01, 0.01])


class PerfectPicture(PictureSource):
    """A :class:`~tdome.c2.tracking.PictureSource` in place of the tracker: ``process`` ignores plots,
    ``picture`` reads truth.

    ``truth_state(t) -> (pos, vel, alive)`` is the simulator's truth (alive
    excludes threats killed or impacted); ``observe`` is told which truth row
    each plot of a scan reaching this C2 node came from, and when it arrived:
    a threat is in the picture from its first plot's arrival.  Track ids are
    truth row + 1, and ``last_association`` reports them as a tracker does,
    so the simulator attributes tracks to truth the same way in both fidelities.
    """

    def __init__(self, truth_state: Callable[[float], tuple], classes: list[str]):
        n = len(classes)
        self._truth_state = truth_state
        self._ballistic = np.array([c in BALLISTIC_CLASS_NAMES for c in classes], dtype=bool)
        self._first = np.full(n, np.inf)
        self._hits = np.zeros(n, dtype=np.int64)
        self.stats: dict[str, int] = {}
        self._last_association = PlotAssociation.none()

    def process(self, scan: Detections | PositionPlots) -> None:
        """Plots are not used: the picture comes from truth."""

    def observe(self, truth_rows: np.ndarray, t_s: float) -> None:
        """The truth row of each plot of the scan about to be processed (-1: false alarm), arrived at ``t_s``."""
        truth_rows = np.asarray(truth_rows, dtype=np.int64)
        plots = np.flatnonzero(truth_rows >= 0)
        seen = truth_rows[plots]
        self._first[seen] = np.minimum(self._first[seen], t_s)
        np.add.at(self._hits, truth_rows[plots], 1)
        self._last_association = PlotAssociation(plots, truth_rows[plots] + 1)

    @property
    def last_association(self) -> PlotAssociation:
        """Each plot of the last scan from a threat, against that threat's track (truth row + 1)."""
        return self._last_association

    def picture(self, t_s: float) -> AirPicture:
        pos, vel, alive = self._truth_state(t_s)
        rows = np.flatnonzero(alive & (self._first <= t_s))
        return AirPicture(
            time_s=float(t_s),
            track_id=(rows + 1).astype(np.int64),
            x=np.concatenate([pos[rows], vel[rows]], axis=1),
            P=np.broadcast_to(_P_TRUTH, (rows.size, 6, 6)).copy(),
            ballistic=self._ballistic[rows],
            n_hits=self._hits[rows],
            first_update_s=self._first[rows],
            last_update_s=np.full(rows.size, float(t_s)),
        )
