"""The IMM estimator (``motion="imm"``): confirmed tracks run an interacting multiple model filter.

Implements :class:`~tdome.c2.tracking.estimator.Estimator`.  Tentative
tracks are confirmed, or not, by the single CV model (as in
:class:`~tdome.c2.tracking.estimator_single.SingleModelEstimator`, EKF), so
that the IMM's wider manoeuvre gates do not confirm clutter.  At
confirmation a track starts an IMM (:mod:`tdome.c2.tracking.imm`) from its
CV state, with an acceleration prior of σ = ``_ACCEL_PRIOR_MPS2``:

- air-breathing tracks: constant velocity, coordinated turn and the Singer
  manoeuvre model (:meth:`IMM.air_breathing`);
- ballistic tracks: constant acceleration and free flight
  (:meth:`IMM.ballistic_missile`); a track flagged ballistic restarts in
  this set from its combined state.

Each track keeps ``_IMM_MODELS`` model slots in the table (``xm`` (n, 3, 9),
``Pm`` (n, 3, 9, 9), ``mu`` (n, 3)); a set with fewer models leaves the
last slots at probability 0.  The table's ``x, P`` hold the moment-matched
6-D combination.  ``plot_dt`` holds a running mean of each track's interval
between plots, which says when a track is fresh.  Gating
(:meth:`IMMEstimator.gate`) takes a plot inside the model-probability-weighted
gate, or, while the track is fresh, inside any model's gate (:mod:`.imm`,
Gating).  A track that takes one plot updates every model by iterated EKF
(or UKF, ``filter="ukf"``); with JPDA a confirmed track weighs every plot in
its gate by the IMM-PDA update (:func:`~tdome.c2.tracking.imm.update_pda`).
"""

from __future__ import annotations

import numpy as np

from tdome.c2.tracking.association import Association
from tdome.c2.tracking.ekf import ekf_update
from tdome.c2.tracking.estimator import Estimate, Estimator, Prediction
from tdome.c2.tracking.gating import GatedPairs, candidate_pairs, gate
from tdome.c2.tracking.gaussian import LOG_2PI, spd_inv_logdet
from tdome.c2.tracking.imm import IMM, combine, in_gate, update_pda
from tdome.c2.tracking.measurements import wrapped_residual
from tdome.c2.tracking.models import expand_state
from tdome.c2.tracking.motion import predict
from tdome.c2.tracking.plots import ScanPlots
from tdome.c2.tracking.track_table import TrackTable

_ACCEL_PRIOR_MPS2 = 10.0  # σ of the unknown acceleration of a track started from plots (≈ 1 g)
# A track is fresh, and may take a plot on any one model's gate, until this many of its usual intervals between
# plots have passed since its last plot (one revisit, with some jitter: not after a missed plot).
_FRESH = 1.5

# IMM columns: model-conditioned states, covariances and model probabilities.
_IMM_MODELS = 3
_IMM_COLUMNS = {
    "xm": ((_IMM_MODELS, 9), float),
    "Pm": ((_IMM_MODELS, 9, 9), float),
    "mu": ((_IMM_MODELS,), float),
    "plot_dt": ((), float),
}


class IMMPrediction(Prediction):
    """A :class:`Prediction` with the IMM's mixed and model-predicted ``(xm, Pm, mu)`` of every track."""

    def __init__(self, t, dt, q, x, P, xm, Pm, mu):
        super().__init__(t, dt, q, x, P)
        self.xm, self.Pm, self.mu = xm, Pm, mu


class IMMEstimator(Estimator[IMMPrediction]):
    """CV for tentative tracks, an IMM for confirmed ones (module docstring)."""

    columns = _IMM_COLUMNS

    def __init__(self, config):
        super().__init__(config)
        self._imm_air = IMM.air_breathing()
        self._imm_bal = IMM.ballistic_missile()

    # ------------------------------------------------------------------ the interface

    def predict(self, table: TrackTable, t: float) -> IMMPrediction:
        cols = table.cols
        c = self.config
        dt = t - cols["time_s"]
        q = self.q(cols["ballistic"], cols["x"])
        # Confirmed tracks run the IMM; tentative ones are confirmed, or not, by the
        # CV model, so that the IMM's wider manoeuvre gates do not confirm clutter.
        firm = np.flatnonzero(cols["status"] == 1)
        rest = np.flatnonzero(cols["status"] != 1)
        xp, Pp = np.empty_like(cols["x"]), np.empty_like(cols["P"])
        xp[rest], Pp[rest] = predict(cols["x"][rest], cols["P"][rest], dt[rest], q[rest], cols["ballistic"][rest],
                                     c.max_substep_s)
        xm, Pm, mu = cols["xm"].copy(), cols["Pm"].copy(), cols["mu"].copy()
        xm[firm], Pm[firm], mu[firm], x9, P9 = self._predict(xm[firm], Pm[firm], mu[firm], cols["ballistic"][firm],
                                                             dt[firm])
        xp[firm], Pp[firm] = x9[:, :6], P9[:, :6, :6]
        return IMMPrediction(t, dt, q, xp, Pp, xm, Pm, mu)

    def gate(self, table: TrackTable, pred: IMMPrediction, plots: ScanPlots) -> GatedPairs:
        """Tentative tracks on their CV gates; confirmed ones on the model-probability-weighted gate.

        A plot is a candidate for a confirmed track when (:mod:`.imm`, Gating)

        - its mixture density reaches that of the most probable model's gate
          edge (:func:`~tdome.c2.tracking.imm.in_gate`): a model of low
          probability and wide spread cannot stretch the gate by itself; or
        - the track is *fresh* (no more than ``_FRESH`` times its usual
          interval between plots, the ``plot_dt`` column, since its last
          plot) and the plot falls inside the gate of any model with
          non-zero probability (``min_j d²_j ≤ γ``): at the onset of a
          manoeuvre, one revisit after a plot, the turn or manoeuvre model's
          gate holds the plot while the constant-velocity model, still the
          most probable, does not.

        The GNN cost of a pair is ``-2 ln Σ_j μ_j N(ν_j; 0, S_j) - k ln 2π``,
        the mixture's version of the ``d² + ln|S|`` of the other tracks; the
        pairs carry the combined state's innovation, ``S`` and ``d²`` (for
        the out-of-sequence path), and ``log_det_S`` is set so that
        ``d² + log_det_S`` is that cost: JPDA's marginals and the score test
        then use the mixture likelihood too.
        """
        cols = table.cols
        gamma = self.gamma[plots.k]
        rest = np.flatnonzero(cols["status"] != 1)
        gp = gate(pred.x[rest], pred.P[rest], plots.z, plots.R, plots.pos, plots.cov, plots.measure, gamma)
        gp.track = rest[gp.track]
        firm = np.flatnonzero(cols["status"] == 1)
        m, k = plots.z.shape
        if firm.size == 0 or m == 0:
            return gp
        z, R, measure = plots.z, plots.R, plots.measure
        xp, Pp = pred.x, pred.P
        xm, Pm, mu = pred.xm, pred.Pm, pred.mu
        tr_model = np.trace(Pm[firm][:, :, :3, :3], axis1=-2, axis2=-1).max(axis=1)
        spread = np.linalg.norm(xm[firm][:, :, :3] - xp[firm][:, None, :3], axis=-1).max(axis=1)
        tr_plot = float(np.max(np.trace(plots.cov, axis1=1, axis2=2)))
        radius = 1.2 * np.sqrt(gamma * (tr_model + tr_plot)) + 100.0 + spread
        ti, pj = candidate_pairs(xp[firm, :3], radius, plots.pos)
        ti = firm[ti]
        ll = np.full(ti.size, -np.inf)
        inside = np.zeros(ti.size, dtype=bool)
        for rows, imm, r in self._sets(cols["ballistic"][ti]):
            t_r = ti[rows]
            ll[rows], d2, logdet_m = imm.score_models(xm[t_r, :r], Pm[t_r, :r], mu[t_r, :r], z[pj[rows]],
                                                      R[pj[rows]], measure, measure.angle_components)
            union = np.where(mu[t_r, :r] > 0, d2, np.inf).min(axis=1) <= gamma
            fresh = pred.dt[t_r] <= _FRESH * cols["plot_dt"][t_r]
            inside[rows] = in_gate(ll[rows], mu[t_r, :r], logdet_m, gamma, k) | (fresh & union)
        ti, pj, ll = ti[inside], pj[inside], ll[inside]
        # Combined-state innovations of the gated pairs.
        trk, inv = np.unique(ti, return_inverse=True)
        z_pred, H_t = measure(xp[trk])
        nu = wrapped_residual(z[pj], z_pred[inv], measure.angle_components)
        H = H_t[inv]
        S = H @ Pp[ti] @ np.swapaxes(H, -1, -2) + R[pj]
        Sinv, _ = spd_inv_logdet(S)
        d2c = np.einsum("pi,pij,pj->p", nu, Sinv, nu)
        cost = -2.0 * ll - k * LOG_2PI
        return gp.concat(GatedPairs(ti, pj, nu, H, S, d2c, cost - d2c, cost))

    def update(self, table: TrackTable, pred: IMMPrediction, association: Association,
               plots: ScanPlots) -> tuple[Estimate, Estimate]:
        """Confirmed tracks update every model; tentative ones the CV state (EKF).

        A confirmed track that takes one plot updates its models by iterated
        EKF, or by UKF with ``filter="ukf"`` (:func:`~tdome.c2.tracking.imm.update`);
        one that weighs every plot in its gate (JPDA) by the IMM-PDA update
        (:func:`~tdome.c2.tracking.imm.update_pda`), counted as detected when
        that is more likely than not (``1 - β₀ ≥ ½``).
        """
        cols = table.cols
        mixture = self._update_mixture(table, pred, association, plots)
        mp = association.single
        if not len(mp):
            return mixture, Estimate.empty()
        ti, pj = mp.track, mp.plot
        d = pred.dt[ti]
        # out of sequence (back): update the current state through retrodiction
        xs, Ps, H, Rm, back = self.retrodicted(table, pred, ti, mp.H, plots.R[pj])
        # Each pair is updated once: confirmed tracks by their models (below), the rest by the EKF.
        by_imm = cols["status"][ti] == 1
        by_ekf = ~by_imm
        xu, Pu = np.empty_like(xs), np.empty_like(Ps)
        if by_ekf.any():
            xu[by_ekf], Pu[by_ekf] = ekf_update(xs[by_ekf], Ps[by_ekf], mp.nu[by_ekf], H[by_ekf], Rm[by_ekf])
        tu = np.where(back, cols["time_s"][ti], pred.t)
        firm = np.flatnonzero(by_imm)
        imm_new = [v[ti].copy() for v in (pred.xm, pred.Pm, pred.mu)]
        new = self._update(table, pred, ti[firm], pj[firm], d[firm], plots)
        for k in range(3):
            imm_new[k][firm] = new[k]
        x9, P9 = self._combine(*new, cols["ballistic"][ti[firm]])
        xu[firm], Pu[firm] = x9[:, :6], P9[:, :6, :6]
        columns = dict(zip(("xm", "Pm", "mu"), imm_new, strict=True))
        columns["plot_dt"] = self._plot_dt(cols["plot_dt"][ti], d, ~back)
        return mixture, Estimate(ti, xu, Pu, tu, np.ones(ti.size, dtype=bool), plot=pj, columns=columns)

    @staticmethod
    def _plot_dt(old, dt, forward):
        """The tracks' usual interval between plots after one more plot ``dt`` after the last (a running mean)."""
        return np.where(forward, np.where(old > 0, 0.5 * (old + dt), dt), old)

    def _update_mixture(self, table: TrackTable, pred: IMMPrediction, association: Association,
                        plots: ScanPlots) -> Estimate:
        """IMM-PDA update of the confirmed tracks that weigh every plot in their gates (JPDA)."""
        jp = association.mixture
        if not len(jp):
            return Estimate.empty()
        cols = table.cols
        rows, loc = np.unique(jp.track, return_inverse=True)
        d = pred.dt[rows]
        xm, Pm, mu = pred.xm[rows], pred.Pm[rows], pred.mu[rows]
        bal = cols["ballistic"][rows]
        beta0 = association.beta0[rows]
        for sel, _, r in self._sets(bal):
            pairs = np.flatnonzero(np.isin(loc, sel))
            local = np.searchsorted(sel, loc[pairs])
            xm[sel, :r], Pm[sel, :r], mu[sel, :r] = update_pda(
                xm[sel, :r], Pm[sel, :r], mu[sel, :r], local, plots.z[jp.plot[pairs]], plots.R[jp.plot[pairs]],
                association.beta[pairs], beta0[sel], plots.measure)
        back = np.flatnonzero(d < 0)
        if back.size:  # retrodicted models (out of sequence): carried back to the track time
            for sel, imm, r in self._sets(bal[back]):
                b = back[sel]
                xm[b, :r], Pm[b, :r], mu[b, :r] = imm.predict(xm[b, :r], Pm[b, :r], mu[b, :r], -d[b])
        x9, P9 = self._combine(xm, Pm, mu, bal)
        detected = 1.0 - beta0 >= 0.5
        columns = dict(xm=xm, Pm=Pm, mu=mu, plot_dt=self._plot_dt(cols["plot_dt"][rows], d, detected & (d >= 0)))
        return Estimate(rows, x9[:, :6], P9[:, :6, :6], np.where(d >= 0, pred.t, cols["time_s"][rows]), detected,
                        columns=columns)

    def picture(self, table: TrackTable, rows: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
        cols = table.cols
        _, _, _, x9, P9 = self._predict(cols["xm"][rows], cols["Pm"][rows], cols["mu"][rows], cols["ballistic"][rows],
                                        t - cols["time_s"][rows])
        return x9[:, :6], P9[:, :6, :6]

    def confirmed(self, table: TrackTable, rows: np.ndarray) -> None:
        """The IMM starts at confirmation, from the CV state."""
        if rows.size:
            cols = table.cols
            self._start(table, rows, *expand_state(cols["x"][rows], cols["P"][rows], _ACCEL_PRIOR_MPS2),
                        cols["ballistic"][rows])

    def became_ballistic(self, table: TrackTable, rows: np.ndarray) -> None:
        """A track found ballistic changes to the ballistic model set, started from its combined state."""
        if rows.size:
            cols = table.cols
            x9, P9 = combine(cols["xm"][rows], cols["Pm"][rows], cols["mu"][rows])
            self._start(table, rows, x9, P9, ballistic=True)

    # ------------------------------------------------------------------ the two model sets

    def _sets(self, ballistic: np.ndarray):
        """``(rows, IMM, r)`` for the air-breathing and the ballistic model sets."""
        out = []
        for rows, imm in ((np.flatnonzero(~ballistic), self._imm_air), (np.flatnonzero(ballistic), self._imm_bal)):
            if rows.size:
                out.append((rows, imm, len(imm.models)))
        return out

    def model_states(self, x9, P9, ballistic):
        """New ``(xm, Pm, mu)`` from 9-D estimates; unused model slots carry probability 0."""
        n = x9.shape[0]
        xm = np.repeat(x9[:, None], _IMM_MODELS, axis=1)
        Pm = np.repeat(P9[:, None], _IMM_MODELS, axis=1)
        mu = np.zeros((n, _IMM_MODELS))
        for rows, imm, r in self._sets(np.asarray(ballistic, dtype=bool)):
            xm[rows, :r], Pm[rows, :r], mu[rows, :r] = imm.initial_state(x9[rows], P9[rows])
        return xm, Pm, mu

    def _start(self, table: TrackTable, rows, x9, P9, ballistic) -> None:
        """(Re)start the IMM of tracks ``rows`` from 9-D estimates, in the model set their ``ballistic`` flags say."""
        cols = table.cols
        xm, Pm, mu = self.model_states(x9, P9, np.broadcast_to(np.asarray(ballistic, dtype=bool), (len(rows),)))
        cols["xm"][rows], cols["Pm"][rows], cols["mu"][rows] = xm, Pm, mu

    def _combine(self, xm, Pm, mu, ballistic):
        n = xm.shape[0]
        x9, P9 = np.zeros((n, 9)), np.zeros((n, 9, 9))
        for rows, _, r in self._sets(ballistic):
            x9[rows], P9[rows] = combine(xm[rows, :r], Pm[rows, :r], mu[rows, :r])
        return x9, P9

    def _predict(self, xm, Pm, mu, ballistic, dt):
        """Mixing and model prediction by ``dt`` (n,): ``(xm, Pm, mu, x, P)`` with the combined 9-D ``x, P``."""
        xm, Pm, mu = xm.copy(), Pm.copy(), mu.copy()
        for rows, imm, r in self._sets(ballistic):
            xm[rows, :r], Pm[rows, :r], mu[rows, :r] = imm.predict(xm[rows, :r], Pm[rows, :r], mu[rows, :r], dt[rows])
        x9, P9 = self._combine(xm, Pm, mu, ballistic)
        return xm, Pm, mu, x9, P9

    def _update(self, table: TrackTable, pred: IMMPrediction, ti, pj, d,
                plots: ScanPlots) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every model of tracks ``ti`` updated with plots ``pj``: ``(xm, Pm, mu)``.

        A plot older than the track (``d < 0``, out of sequence) is used by
        retrodicting each model to the plot time, updating there and
        predicting back to the track's time: the process noise of the lag
        is counted twice, which errs on the safe side for lags of a revisit.
        """
        z, R, measure = plots.z, plots.R, plots.measure
        xm, Pm, mu = pred.xm[ti], pred.Pm[ti], pred.mu[ti]
        bal = table.cols["ballistic"][ti]
        unscented = self.config.filter == "ukf"
        for rows, imm, r in self._sets(bal):
            xm[rows, :r], Pm[rows, :r], mu[rows, :r], _ = imm.update(xm[rows, :r], Pm[rows, :r], mu[rows, :r],
                                                                     z[pj[rows]], R[pj[rows]], measure,
                                                                     measure.angle_components, unscented)
        back = np.flatnonzero(d < 0)
        if back.size:  # the predicted states above are retrodictions: carry them back to the track time
            for rows, imm, r in self._sets(bal[back]):
                b = back[rows]
                xm[b, :r], Pm[b, :r], mu[b, :r] = imm.predict(xm[b, :r], Pm[b, :r], mu[b, :r], -d[b])
        return xm, Pm, mu
