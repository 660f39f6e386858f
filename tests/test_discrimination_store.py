"""The discriminator's plot store against the per-track lists it replaced: the same plots fitted, in the same order,
so the same fits, votes and verdicts, bit for bit, whatever order the plots arrive in."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tdome import geo
from tdome.c2.tracking import TrackerConfig
from tdome.c2.tracking import discrimination as D
from tdome.dynamics import free_flight_acceleration
from tdome.world.ballistic import fly_ballistic


class ListDiscriminator(D.Discriminator):
    """The store as it was: a list of (t, pos, cov) per track, in the order the plots came (the reference)."""

    def __init__(self, config):
        super().__init__(config)
        self._plots: dict[int, list] = {}

    def observe(self, t_s, track_ids, pos, cov):
        t = float(t_s)
        low = geo.height_m(pos) <= self.max_alt_m
        for k in np.flatnonzero(low).tolist():
            tid = int(track_ids[k])
            if tid not in self.light:
                self._plots.setdefault(tid, []).append((t, pos[k], cov[k]))
        if t - self._pruned_s > self.window_s:
            self._pruned_s = t
            self._plots = {i: p for i, p in self._plots.items() if p and p[-1][0] >= t - self.window_s}

    def assess(self, t_s, track_ids, x):
        horizon = float(t_s) - self.window_s
        fit, counts, ts, ps, cs = [], [], [], [], []
        for k, tid in enumerate(track_ids.tolist()):
            plots = self._plots.get(tid)
            if plots is None or tid in self.light:
                continue
            while plots and plots[0][0] < horizon:
                plots.pop(0)
            if len(plots) < self.min_plots:
                continue
            fit.append(k)
            counts.append(len(plots))
            ts += [p[0] for p in plots]
            ps += [p[1] for p in plots]
            cs += [p[2] for p in plots]
        if not fit:
            return []
        n = np.array(counts, dtype=np.int64)
        starts = np.concatenate(([0], np.cumsum(n)[:-1]))
        t = np.array(ts)
        order = np.lexsort((t, np.repeat(np.arange(len(fit)), n)))
        xs = np.ascontiguousarray(np.asarray(x, dtype=float)[fit])
        acc = free_flight_acceleration(xs[:, :3], xs[:, 3:6])
        gamma, sigma, chi, dof = D._fit_inverse_beta(t[order], np.array(ps)[order], np.array(cs)[order], starts, n,
                                                     xs, acc, float(t_s), D._SIMPSON_INTERVALS)
        self.fits += len(fit)
        out = []
        for k, g, s, c, d in zip(fit, gamma.tolist(), sigma.tolist(), chi.tolist(), dof.tolist()):
            if not np.isfinite(s):
                continue
            i = int(track_ids[k])
            self.estimate[i] = (g, s)
            if c <= D._chi2_999(int(d)) and g - self.sigmas * s > 1.0 / self.beta_light:
                self.votes[i] = self.votes.get(i, 0) + 1
                if self.votes[i] >= self.votes_needed:
                    self.light[i] = float(t_s)
                    self._plots.pop(i, None)
                    out.append(i)
            else:
                self.votes[i] = 0
        return out


def _reentries(betas):
    """Re-entering objects a few kilometres apart, each of ballistic coefficient β (None: vacuum)."""
    out = []
    for j, beta in enumerate(betas):
        r0 = geo.geodetic_to_ecef(np.radians(24.0 + 0.02 * j), np.radians(120.0), 98e3)
        up = r0 / np.linalg.norm(r0)
        east = np.array([-np.sin(np.radians(120.0)), np.cos(np.radians(120.0)), 0.0])
        v0 = 2_000.0 * (np.cos(np.radians(35.0)) * east - np.sin(np.radians(35.0)) * up)
        out.append(fly_ballistic(r0, v0, inv_beta=0.0 if beta is None else 1.0 / beta))
    return out


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), revisit=st.sampled_from([0.5, 1.0, 2.0]),
       late=st.floats(0.0, 0.6), lost=st.floats(0.0, 0.3))
def test_the_store_fits_what_the_lists_fitted(seed, revisit, late, lost):
    """Plots of a light decoy, a heavy warhead and a vacuum object from two radars, some arriving late (out of
    order) and some lost, tracks that stop being seen, an id with no plots: both stores, driven alike, fit the same
    plots and reach the same verdicts, estimates and counts after every scan."""
    rng = np.random.default_rng(seed)
    objects = _reentries([250.0, 20_000.0, None])
    new, ref = D.Discriminator(TrackerConfig()), ListDiscriminator(TrackerConfig())
    t_end = min(float(tr.impact_s) for tr in objects) - 2.0
    delayed: list[tuple] = []  # plots held back: (arrival, id, pos, cov, plot time)
    t = float(max(tr.launch_s for tr in objects))
    while t < t_end:
        t += revisit * rng.uniform(0.5, 1.0)
        for j, tr in enumerate(objects):
            if j == 2 and t > t_end - 20.0:  # the vacuum object's track ends early: its plots age out
                continue
            if rng.random() < lost:
                continue
            sigma = rng.choice([20.0, 60.0])
            pos = tr.sample(t)[0] + rng.normal(0.0, sigma, 3)
            cov = np.eye(3) * sigma**2
            if rng.random() < late:
                delayed.append((t + rng.uniform(0.5, 3.0), j + 1, pos, cov, t))
            else:
                for d in (new, ref):
                    d.observe(t, np.array([j + 1]), pos[None], cov[None])
        # Late plots arrive with their own (earlier) times.
        due = [d for d in delayed if d[0] <= t]
        delayed = [d for d in delayed if d[0] > t]
        for _, tid, pos, cov, t_plot in due:
            for d in (new, ref):
                d.observe(t_plot, np.array([tid]), pos[None], cov[None])
        ids = np.array([1, 2, 3, 7], dtype=np.int64)  # 7: a track with no plots
        x = np.array([np.concatenate(tr.sample(t)) for tr in objects] + [np.zeros(6)])
        assert new.assess(t, ids, x) == ref.assess(t, ids, x)
        assert new.light == ref.light and new.votes == ref.votes and new.fits == ref.fits
        assert new.estimate == ref.estimate  # bit for bit
    assert 1 in new.light and 2 not in new.light and 3 not in new.light


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_tracks=st.integers(0, 12), n_plots=st.integers(0, 15))
def test_a_radar_scans_plots_are_taken_as_select_convert_and_observe_took_them(seed, n_tracks, n_plots):
    """observe_radar against the three calls it fuses (select_plots, plot_to_ecef, observe): the same plots kept in
    the same order, bit for bit, and the same rows to assess; tracks ballistic or not, climbing or re-entering,
    plots above and below the ceiling, of light tracks and of tracks no longer in the table."""
    from tdome.c2.tracking.plots import plot_to_ecef

    rng = np.random.default_rng(seed)
    cfg = TrackerConfig(discrimination_beta_kg_m2=1_000.0)
    site_ecef = geo.geodetic_to_ecef(np.radians(24.0), np.radians(121.0), 50.0)
    enu_rot = geo.enu_rotation(np.radians(24.0), np.radians(121.0))
    ids = np.sort(rng.choice(100, n_tracks, replace=False)).astype(np.int64)
    ballistic = rng.random(n_tracks) < 0.5
    pos0 = site_ecef + rng.normal(0.0, 50e3, (n_tracks, 3))
    up = pos0 / np.linalg.norm(pos0, axis=1)[:, None]
    x = np.hstack([pos0, -up * rng.uniform(-800.0, 1_500.0, (n_tracks, 1)) + rng.normal(0.0, 300.0, (n_tracks, 3))])
    r = rng.uniform(5e3, 300e3, n_plots)
    az, el = rng.uniform(0.0, 2 * np.pi, n_plots), rng.uniform(0.0, 1.2, n_plots)  # some well above 100 km
    sigma = np.abs(rng.normal([50.0, 0.002, 0.002, 5.0], 0.5, (n_plots, 4)))
    plot_track = rng.choice(np.concatenate([ids, [100, 101]]), n_plots).astype(np.int64)
    plot_index = rng.permutation(n_plots).astype(np.int64)
    new, ref = D.Discriminator(cfg), D.Discriminator(cfg)
    light = {int(i): 0.0 for i in ids[rng.random(n_tracks) < 0.2]}
    new.light, ref.light = dict(light), dict(light)
    t = 5.0
    rows = new.observe_radar(t, ids, ballistic, x, plot_track, plot_index, r, az, el, sigma, site_ecef, enu_rot)
    ok, row_of = D.select_plots(ids, plot_track, ballistic, x, cfg.discrimination_min_descent_mps)
    if ok.any():
        pl = plot_index[ok]
        pos, cov = plot_to_ecef(r[pl], az[pl], el[pl], sigma[pl], site_ecef, enu_rot)
        ref.observe(t, plot_track[ok], pos, cov)
    assert np.array_equal(rows, np.unique(row_of[ok]))
    assert new._n == ref._n
    for a, b in [(new._t, ref._t), (new._tid, ref._tid), (new._pos, ref._pos), (new._cov, ref._cov)]:
        assert np.array_equal(a[: new._n], b[: ref._n])
    assert new._pruned_s == ref._pruned_s
