"""The estimator: what a track's state is, how it moves, and how it takes a plot.

Interface (:class:`Estimator`; every call is batched over the track table's rows)::

    est.predict(table, t)                        -> Prediction   every track predicted (or retrodicted) to t
    est.gate(table, pred, plots)                 -> GatedPairs   plots inside each track's gate, with GNN costs
    est.update(table, pred, association, plots)  -> (Estimate, Estimate)
                                                    new states of the mixture (JPDA) and single-plot tracks
    est.picture(table, rows, t)                  -> (x, P)       6-D states of ``rows`` predicted to t
    est.columns                                  per-track columns it keeps in the table besides x, P
    est.confirmed(table, rows)                   tracks ``rows`` were just confirmed
    est.became_ballistic(table, rows)            tracks ``rows`` were just flagged ballistic

Two implementations, chosen once by ``config.motion``
(:data:`tdome.c2.tracking.tracker.ESTIMATORS`), so that no other stage asks
which one runs:

- :class:`~tdome.c2.tracking.estimator_single.SingleModelEstimator`
  (``motion="cv"``): constant velocity, free flight once ballistic
  (:mod:`.motion`), measurement update by EKF (Joseph form) or UKF
  (:mod:`.ukf`), and the PDA mixture for JPDA tracks (:mod:`.jpda`).
- :class:`~tdome.c2.tracking.estimator_imm.IMMEstimator` (``motion="imm"``):
  the same model for tentative tracks; confirmed tracks run an IMM
  (:mod:`.imm`) over the 9-D models of :mod:`.models`.

The table's ``x, P`` always hold each track's 6-D state (the IMM's
moment-matched combination), so gating, classification, duplicate checks
and the picture read one kind of state.

Out-of-sequence scans
---------------------
Scans mostly arrive in time order; one that is older than a track's state is
used through retrodiction (Bar-Shalom, "Update with out-of-sequence
measurements in tracking: exact solution", IEEE T-AES 38(3), 2002, in the
spirit of its one-lag approximations): the track is predicted *backwards* to
the scan time, ``x_d = F(Δ) x_k``, ``P_d = F(Δ) P_k F(Δ)ᵀ + Q(Δ)`` with
``Δ < 0``, gated there as usual, and the current state is updated with the
old plot as an equivalent measurement of ``x_k`` (:meth:`Estimator.retrodicted`)::

    H_eff = H(x_d) F(Δ),     R_eff = R + H(x_d) Q(Δ) H(x_d)ᵀ

This ignores the correlation between the retrodiction noise and the error
of ``x_k`` (the cross terms of Bar-Shalom's exact algorithm), which needs
per-track history; it is exact without process noise and a good
approximation for lags of a revisit or two.  The track keeps its time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar, Generic, TypeVar

import numpy as np

from tdome.c2.tracking.association import Association
from tdome.c2.tracking.config import TrackerConfig
from tdome.c2.tracking.gating import GatedPairs, gate_threshold
from tdome.c2.tracking.motion import ballistic_q_rows, cv_process_noise, cv_transition
from tdome.c2.tracking.plots import ScanPlots
from tdome.c2.tracking.track_table import TrackTable


@dataclass
class Prediction:
    """Every track of the table predicted (retrodicted where ``dt < 0``) to the scan time ``t``."""

    t: float
    dt: np.ndarray  # (n,) scan time minus the time of each track's state
    q: np.ndarray  # (n,) CV acceleration spectral density of each track (m²/s³)
    x: np.ndarray  # (n, 6) predicted states
    P: np.ndarray  # (n, 6, 6) predicted covariances


# What an estimator's predict returns and its gate and update take back (an estimator may carry more in it).
PredictionT = TypeVar("PredictionT", bound=Prediction)


@dataclass
class Estimate:
    """New states of tracks updated with this scan's plots."""

    track: np.ndarray  # (r,) track rows
    x: np.ndarray  # (r, 6)
    P: np.ndarray  # (r, 6, 6)
    time_s: np.ndarray  # (r,) time of the new state (the scan's, or the track's own for an out-of-sequence plot)
    detected: np.ndarray  # (r,) bool: the scan counts as a detection of the track
    plot: np.ndarray | None = None  # (r,) the plot each took (single-plot updates)
    vel_init: np.ndarray | None = None  # (r,) velocity known after the update (single-plot updates)
    columns: dict[str, np.ndarray] = field(default_factory=dict)  # the estimator's own columns of these rows

    def __len__(self) -> int:
        return int(self.track.shape[0])

    def select(self, keep: np.ndarray) -> Estimate:
        return Estimate(self.track[keep], self.x[keep], self.P[keep], self.time_s[keep], self.detected[keep],
                        None if self.plot is None else self.plot[keep],
                        None if self.vel_init is None else self.vel_init[keep],
                        {k: v[keep] for k, v in self.columns.items()})

    @classmethod
    def empty(cls) -> Estimate:
        e = _EMPTY
        return cls(e["track"], e["x"], e["P"], e["time_s"], e["detected"], plot=e["track"])


# The arrays of an empty Estimate: zero-sized, so sharing them between estimates is safe.
_EMPTY = dict(track=np.empty(0, dtype=np.intp), x=np.empty((0, 6)), P=np.empty((0, 6, 6)), time_s=np.empty(0),
              detected=np.empty(0, dtype=bool))


class Estimator(ABC, Generic[PredictionT]):
    """Prediction, gating and update of the tracks' states (module docstring)."""

    columns: ClassVar[dict] = {}  # name -> (trailing shape, dtype) of per-track columns besides x, P

    def __init__(self, config: TrackerConfig):
        self.config = config
        self.gamma = {k: gate_threshold(config.gate_probability, k) for k in (3, 4)}  # χ² gates, 3-D and 4-D plots

    def q(self, ballistic: np.ndarray, x: np.ndarray) -> np.ndarray:
        """CV acceleration spectral density (m²/s³) of tracks by their ballistic flag, and for ballistic tracks
        by the drag a light object could feel where they are (:func:`~tdome.c2.tracking.motion.ballistic_q`)."""
        c = self.config
        if c.drag_beta_min_kg_m2 is None:
            return np.where(ballistic, c.q_ballistic, c.q_air)
        return ballistic_q_rows(np.ascontiguousarray(x, dtype=float), np.ascontiguousarray(ballistic, dtype=bool),
                                float(c.q_air), float(c.q_ballistic), 1.0 / float(c.drag_beta_min_kg_m2),
                                float(c.q_time_s))

    @abstractmethod
    def predict(self, table: TrackTable, t: float) -> PredictionT:
        """Every track predicted (or retrodicted) to ``t``."""

    @abstractmethod
    def gate(self, table: TrackTable, pred: PredictionT, plots: ScanPlots) -> GatedPairs:
        """The plots inside each track's gate, with the pairs' GNN costs."""

    @abstractmethod
    def update(self, table: TrackTable, pred: PredictionT, association: Association,
               plots: ScanPlots) -> tuple[Estimate, Estimate]:
        """``(mixture, single)``: new states of the tracks that weigh their plots and of those that take one."""

    @abstractmethod
    def picture(self, table: TrackTable, rows: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
        """6-D states ``(x, P)`` of tracks ``rows`` (bool mask) predicted to ``t``."""

    def confirmed(self, table: TrackTable, rows: np.ndarray) -> None:  # a hook, nothing by default
        """Tracks ``rows`` were just confirmed."""

    def became_ballistic(self, table: TrackTable, rows: np.ndarray) -> None:  # a hook
        """Tracks ``rows`` were just flagged ballistic (or took a ballistic track's state)."""

    def retrodicted(self, table: TrackTable, pred: Prediction, ti: np.ndarray, H: np.ndarray, R: np.ndarray):
        """States, measurement matrices and covariances for updating tracks ``ti`` at this scan.

        Forward pairs use the predicted state.  A track whose state is later
        than the scan keeps its state and takes the plot as the equivalent
        measurement ``H_eff = H F(Δ)``, ``R_eff = R + H Q(Δ) Hᵀ`` (module
        docstring).  Returns ``(x, P, H, R, back)``, ``back`` the out-of-sequence pairs.
        """
        cols = table.cols
        dt, q = pred.dt, pred.q
        d = dt[ti]
        back = d < 0
        xs = np.where(back[:, None], cols["x"][ti], pred.x[ti])
        Ps = np.where(back[:, None, None], cols["P"][ti], pred.P[ti])
        H, R = H.copy(), R.copy()
        if back.any():
            Hb = H[back]
            H[back] = Hb @ cv_transition(d[back])
            R[back] = R[back] + Hb @ cv_process_noise(d[back], q[ti][back]) @ np.swapaxes(Hb, -1, -2)
        return xs, Ps, H, R, back

