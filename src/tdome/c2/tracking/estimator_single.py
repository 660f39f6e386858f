"""The single-model estimator (``motion="cv"``): one 6-D Gaussian per track.

Implements :class:`~tdome.c2.tracking.estimator.Estimator`:

- predict: constant velocity, or the free-flight mean once ballistic, with
  the CV covariance (:func:`tdome.c2.tracking.motion.predict`);
- gate: :func:`tdome.c2.tracking.gating.gate` on the predicted states;
- update, single-plot tracks: EKF in Joseph form
  (:func:`tdome.c2.tracking.ekf.ekf_update`), or the UKF
  (:func:`tdome.c2.tracking.ukf.ukf_update`) with ``filter="ukf"``;
  out-of-sequence plots always by the EKF through retrodiction;
- update, tracks that weigh every plot in their gates (JPDA): the PDA
  mixture (:func:`tdome.c2.tracking.jpda.pda_update`), a detection when
  ``1 - β₀ ≥ ½``;
- picture: the prediction above.
"""

from __future__ import annotations

import numpy as np

from tdome.c2.tracking.association import Association
from tdome.c2.tracking.ekf import ekf_update
from tdome.c2.tracking.estimator import Estimate, Estimator, Prediction
from tdome.c2.tracking.gating import GatedPairs, gate
from tdome.c2.tracking.jpda import pda_update
from tdome.c2.tracking.motion import predict
from tdome.c2.tracking.plots import ScanPlots
from tdome.c2.tracking.track_table import TrackTable
from tdome.c2.tracking.ukf import ukf_update


class SingleModelEstimator(Estimator[Prediction]):
    """CV / free-flight prediction, EKF or UKF update, PDA mixture for JPDA tracks."""

    def predict(self, table: TrackTable, t: float) -> Prediction:
        cols = table.cols
        dt = t - cols["time_s"]
        q = self.q(cols["ballistic"], cols["x"])
        xp, Pp = predict(cols["x"], cols["P"], dt, q, cols["ballistic"], self.config.max_substep_s)
        return Prediction(t, dt, q, xp, Pp)

    def gate(self, table: TrackTable, pred: Prediction, plots: ScanPlots) -> GatedPairs:
        return gate(pred.x, pred.P, plots.z, plots.R, plots.pos, plots.cov, plots.measure, self.gamma[plots.k])

    def update(self, table: TrackTable, pred: Prediction, association: Association,
               plots: ScanPlots) -> tuple[Estimate, Estimate]:
        return self.update_mixture(table, pred, association, plots), self.update_single(table, pred,
                                                                                         association.single, plots)

    def update_single(self, table: TrackTable, pred: Prediction, mp: GatedPairs, plots: ScanPlots) -> Estimate:
        """Each track of the pairs ``mp`` updated with its plot: the UKF for forward pairs if chosen, else the EKF."""
        if not len(mp):
            return Estimate.empty()
        cols = table.cols
        ti, pj = mp.track, mp.plot
        if self.config.filter == "ekf" and not (pred.dt[ti] < 0).any():  # the usual scan: every pair forward
            xu, Pu = ekf_update(pred.x[ti], pred.P[ti], mp.nu, mp.H, plots.R[pj])
            return Estimate(ti, xu, Pu, np.full(ti.size, pred.t), np.ones(ti.size, dtype=bool), plot=pj)
        # out of sequence (back): update the current state through retrodiction
        xs, Ps, H, Rm, back = self.retrodicted(table, pred, ti, mp.H, plots.R[pj])
        by_ukf = ~back if self.config.filter == "ukf" else np.zeros(ti.size, dtype=bool)
        by_ekf = ~by_ukf
        xu, Pu = np.empty_like(xs), np.empty_like(Ps)
        if by_ekf.any():
            xu[by_ekf], Pu[by_ekf] = ekf_update(xs[by_ekf], Ps[by_ekf], mp.nu[by_ekf], H[by_ekf], Rm[by_ekf])
        if by_ukf.any():
            xu[by_ukf], Pu[by_ukf], _, _ = ukf_update(xs[by_ukf], Ps[by_ukf], plots.z[pj[by_ukf]], Rm[by_ukf],
                                                      plots.measure.h, plots.measure.angle_components)
        tu = np.where(back, cols["time_s"][ti], pred.t)
        return Estimate(ti, xu, Pu, tu, np.ones(ti.size, dtype=bool), plot=pj)

    def update_mixture(self, table: TrackTable, pred: Prediction, association: Association,
                       plots: ScanPlots) -> Estimate:
        """PDA update of the tracks that weigh every plot in their gates (JPDA marginals ``beta``, ``beta0``).

        A track counts as detected when that is more likely than not (``1 - β₀ ≥ ½``).
        """
        jp = association.mixture
        if not len(jp):
            return Estimate.empty()
        cols = table.cols
        rows, loc = np.unique(jp.track, return_inverse=True)
        xs, Ps, H, Rm, _ = self.retrodicted(table, pred, jp.track, jp.H, plots.R[jp.plot])
        # One state per track: the pairs of a track share it (retrodicted or predicted alike).
        first = np.zeros(rows.size, dtype=np.intp)
        first[loc[::-1]] = np.arange(loc.size)[::-1]
        beta0 = association.beta0[rows]
        xu, Pu = pda_update(xs[first], Ps[first], loc, jp.nu, H, Rm, association.beta, beta0)
        time_s = np.where(pred.dt[rows] >= 0, pred.t, cols["time_s"][rows])
        return Estimate(rows, xu, Pu, time_s, 1.0 - beta0 >= 0.5)

    def picture(self, table: TrackTable, rows: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
        cols = table.cols
        bal = cols["ballistic"][rows]
        return predict(cols["x"][rows], cols["P"][rows], t - cols["time_s"][rows], self.q(bal, cols["x"][rows]), bal,
                       self.config.max_substep_s)
