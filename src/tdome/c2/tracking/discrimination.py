"""Discrimination: telling a light decoy from the heavy warhead by how the air slows it.

Interface::

    disc = Discriminator(config)                      config: TrackerConfig (discrimination_* fields)
    select_plots(ids, plot_ids, ballistic, x, v)      which plots of a scan went to ballistic or re-entering tracks
    disc.observe(t, track_ids, pos, cov)              keep those plots (ECEF, m; covariances m²)
    disc.observe_radar(t, ids, ballistic, x,          select_plots and observe for a radar scan (the table's ids,
                       plot_track, plot_index,        ballistic flags and states; which plot went to which track;
                       r, az, el, σ, site, rot)       the scan's measurements and site), in one compiled pass;
                                                      returns the table rows whose tracks took plots
    disc.assess(t, track_ids, x)                      fit those tracks (ids increasing); returns the ids newly
                                                      found light
    disc.light                                        track id -> time it was found light (never undone)
    disc.estimate                                     track id -> (1/β̂, σ) of its latest fit, m²/kg

Above the atmosphere a decoy flies the warhead's arc and nothing the radars
measure tells them apart.  On re-entry each object decelerates by drag,
ρ(h) v² / (2β), with β = m / (C_D A) its ballistic coefficient: a light
decoy (tens to hundreds of kg/m²) slows tens of times harder than a dense
warhead (thousands and more).  The C2 knows the air (:mod:`tdome.atmosphere`,
the same standard the world flies in) but not β; it estimates γ = 1/β for
each ballistic track from the plots the track took in the last
``discrimination_window_s`` seconds.

The model of plot k, taken at t_k, relative to the latest plot's time t_r
(τ_k = t_k − t_r ≤ 0), is

    z_k = p + v τ_k + ½ a τ_k² − γ D_k û + e_k,      e_k ~ N(0, C_k)

with p, v the position and velocity at t_r (unknown), a the free-flight
acceleration and û the direction of flight (both from the track's state, as
is the speed V), and the drag's displacement

    D_k = ∫_{t_k}^{t_r} (s − t_k) q(s) ds,    q(s) = ½ ρ(h(s)) V²,

h(s) the track's height moving at its vertical speed (Simpson's rule, 16
intervals).  The model is linear in (p, v, γ): weighted least squares gives
γ̂ and its standard deviation σ_γ from the inverse of the 7 × 7 normal
matrix (Bar-Shalom, Li & Kirubarajan, *Estimation with Applications to
Tracking and Navigation*, §3.4).  Above the air D_k vanishes, σ_γ is huge,
and the fit says nothing: discrimination happens only where the air does it.

A fit votes *light* when γ̂ − k σ_γ > 1/β_light (β below the threshold with
k standard deviations to spare) and its residuals are consistent with the
plots' covariances (χ² below its 99.9 % point: a swapped plot or a
manoeuvre is no evidence); ``discrimination_votes`` consecutive light votes
make the track light for good.  A vacuum or heavy object votes light with a
probability of about Φ(−k) per fit at most, and consecutive fits share most
of their plots, so the votes guard against a stray fit, not against bias.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numba import njit

from tdome.atmosphere import density_kg_m3
from tdome.c2.tracking.gaussian import chi2_quantile
from tdome.c2.tracking.plots import _plots_to_ecef
from tdome.dynamics import _acceleration
from tdome.geo import radial_height

_SIMPSON_INTERVALS = 16


class Discriminator:
    """Plots of ballistic tracks over a sliding window, the fits of their ballistic coefficients, and the
    verdicts (module docstring).

    The plots wait in one store of arrays (time, position, covariance, track id), in the order they came;
    :func:`_gather` takes a fit's plots out of it in one compiled pass.
    """

    def __init__(self, config):
        self.beta_light = float(config.discrimination_beta_kg_m2)
        self.window_s = float(config.discrimination_window_s)
        self.sigmas = float(config.discrimination_sigmas)
        self.votes_needed = int(config.discrimination_votes)
        self.min_plots = int(config.discrimination_min_plots)
        self.max_alt_m = float(config.discrimination_max_alt_m)
        self.min_descent_mps = float(config.discrimination_min_descent_mps)
        cap = 256
        self._t, self._tid = np.empty(cap), np.empty(cap, dtype=np.int64)
        self._pos, self._cov = np.empty((cap, 3)), np.empty((cap, 3, 3))
        self._n = 0  # plots in the store
        self._pruned_s = -np.inf
        self.light: dict[int, float] = {}
        self._light_ids = np.empty(0, dtype=np.int64)  # the keys of light, sorted
        self.votes: dict[int, int] = {}
        self.estimate: dict[int, tuple[float, float]] = {}
        self.fits = 0

    def observe(self, t_s: float, track_ids: np.ndarray, pos: np.ndarray, cov: np.ndarray) -> None:
        """Keep the plots (taken at ``t_s``) of tracks not yet found light, below the ceiling; forget plots out
        of the window."""
        t = float(t_s)
        track_ids = np.ascontiguousarray(track_ids, dtype=np.int64)
        self._reserve(track_ids.size)
        self._n = _store(t, track_ids, np.ascontiguousarray(pos, dtype=float).reshape(-1, 3),
                         np.ascontiguousarray(cov, dtype=float).reshape(-1, 3, 3), self.max_alt_m, self._light(),
                         self._t, self._tid, self._pos, self._cov, self._n)
        self._prune(t)

    def observe_radar(self, t_s: float, ids: np.ndarray, ballistic: np.ndarray, x: np.ndarray,
                      plot_track: np.ndarray, plot_index: np.ndarray, range_m: np.ndarray, az_rad: np.ndarray,
                      el_rad: np.ndarray, sigma: np.ndarray, site_ecef: np.ndarray, enu_rot: np.ndarray) -> np.ndarray:
        """:func:`select_plots` and :meth:`observe` for a radar scan taken at ``t_s``, in one compiled pass
        (:func:`_observe_radar`): of the plots ``plot_index`` that went to tracks ``plot_track``, those of ballistic
        or re-entering tracks of the table (``ids``, ``ballistic``, ``x``), converted to ECEF as
        :func:`~tdome.c2.tracking.plots.plot_to_ecef` does.  Returns the table rows (increasing) of the tracks
        that took them, for :meth:`assess`."""
        self._reserve(plot_track.size)
        rows, taken, self._n = _observe_radar(
            ids, plot_track, plot_index, ballistic, x, self.min_descent_mps, range_m, az_rad, el_rad, sigma,
            site_ecef, enu_rot, float(t_s), self.max_alt_m, self._light(), self._t, self._tid, self._pos, self._cov,
            self._n)
        if taken:
            self._prune(float(t_s))
        return rows

    def _light(self) -> np.ndarray:
        """The ids of the tracks found light, sorted (made again only when one more is found: never undone)."""
        if self._light_ids.size != len(self.light):
            self._light_ids = np.sort(np.fromiter(self.light, dtype=np.int64, count=len(self.light)))
        return self._light_ids

    def _prune(self, t: float) -> None:
        if t - self._pruned_s > self.window_s:  # now and then: tracks whose latest plot is out of the window
            self._pruned_s = t
            n, tid = self._n, self._tid[: self._n]
            if n:
                ids, inverse = np.unique(tid, return_inverse=True)
                latest = np.zeros(ids.size, dtype=np.int64)
                np.maximum.at(latest, inverse, np.arange(n))
                self._keep(~np.isin(tid, ids[self._t[latest] < t - self.window_s]))

    def _reserve(self, m: int) -> None:
        """Room in the store for ``m`` more plots."""
        n = self._n
        if n + m > self._t.size:
            cap = max(2 * self._t.size, n + m)
            self._t, self._tid = np.resize(self._t, cap), np.resize(self._tid, cap)
            self._pos, self._cov = np.resize(self._pos, (cap, 3)), np.resize(self._cov, (cap, 3, 3))

    def _keep(self, mask: np.ndarray) -> None:
        """Keep the stored plots where ``mask`` is True, in order."""
        self._n = _compact_plots(np.ascontiguousarray(mask), self._t, self._tid, self._pos, self._cov)

    def assess(self, t_s: float, track_ids: np.ndarray, x: np.ndarray) -> list[int]:
        """Fit the tracks ``track_ids`` (increasing; their states ``x`` (n, 6) at about ``t_s``) that have enough
        plots in the window; returns the ids that became light."""
        track_ids = np.ascontiguousarray(track_ids, dtype=np.int64)
        fit, gamma, sigma, chi, dof, self._n = _assess(
            self._t, self._tid, self._pos, self._cov, self._n, track_ids, np.ascontiguousarray(x, dtype=float),
            float(t_s), self.window_s, self.min_plots, _SIMPSON_INTERVALS)
        if not fit.size:
            return []
        self.fits += fit.size
        threshold = 1.0 / self.beta_light
        out = []
        for k, g, s, c, d in zip(fit.tolist(), gamma.tolist(), sigma.tolist(), chi.tolist(), dof.tolist()):
            if not np.isfinite(s):
                continue
            i = int(track_ids[k])
            self.estimate[i] = (g, s)
            if c <= _chi2_999(int(d)) and g - self.sigmas * s > threshold:
                self.votes[i] = self.votes.get(i, 0) + 1
                if self.votes[i] >= self.votes_needed:
                    self.light[i] = float(t_s)
                    out.append(i)
            else:
                self.votes[i] = 0
        if out:  # a light track's plots are of no more use
            self._keep(~np.isin(self._tid[: self._n], out))
        return out


@cache
def _chi2_999(dof: int) -> float:
    """The 99.9 % point of the χ² distribution with ``dof`` degrees of freedom."""
    return chi2_quantile(0.999, dof)


@njit(cache=True)
def _observe_radar(ids, plot_track, plot_index, ballistic, x, min_descent_mps, r, az, el, sigma, site, M, t_s, max_alt,
                   light, t, tid, pos, cov, n):  # pragma: no cover - compiled; held to select_plots and observe
    """The plots of a radar scan that :meth:`Discriminator.observe_radar` keeps, appended to the store's first
    ``n`` (room made by the caller).  Returns ``(rows of the tracks that took plots, increasing; how many plots
    were taken; the store's new size)``."""
    ok, rows = select_plots(ids, plot_track, ballistic, x, min_descent_mps)
    m = 0
    for k in range(ok.shape[0]):
        m += ok[k]
    if m == 0:
        return np.empty(0, dtype=np.int64), 0, n
    pl = np.empty(m, dtype=np.int64)
    track = np.empty(m, dtype=np.int64)
    took = np.zeros(ids.shape[0], dtype=np.bool_)
    q = 0
    for k in range(ok.shape[0]):
        if ok[k]:
            pl[q], track[q] = plot_index[k], plot_track[k]
            took[rows[k]] = True
            q += 1
    sig = np.empty((m, 3))
    for q in range(m):
        for c in range(3):
            sig[q, c] = sigma[pl[q], c]
    p, C = _plots_to_ecef(r[pl], az[pl], el[pl], sig, site, M)
    return np.flatnonzero(took), m, _store(t_s, track, p, C, max_alt, light, t, tid, pos, cov, n)


@njit(cache=True)
def _store(t_s, track, p, C, max_alt, light, t, tid, pos, cov, n):  # pragma: no cover - compiled
    """Append to the store's first ``n`` (room made by the caller) the plots ``p``, ``C`` (taken at ``t_s`` by the
    tracks ``track``) below ``max_alt`` (:func:`~tdome.geo.radial_height`, NaN out) of tracks not in ``light``
    (sorted), in order; returns the store's new size."""
    for q in range(track.shape[0]):
        if not radial_height(p[q, 0], p[q, 1], p[q, 2]) <= max_alt:
            continue
        j = np.searchsorted(light, track[q])
        if j < light.shape[0] and light[j] == track[q]:
            continue
        t[n], tid[n], pos[n], cov[n] = t_s, track[q], p[q], C[q]
        n += 1
    return n


@njit(cache=True)
def _assess(t, tid, pos, cov, n, track_ids, x, t_s, window_s, min_plots, n_simpson):  # pragma: no cover - compiled
    """The fits of :meth:`Discriminator.assess` in one call: :func:`_gather` the plots of the tracks ``track_ids``
    (states ``x``), their free-flight accelerations, and :func:`_fit_inverse_beta`.  Returns ``(fitted: indices
    into track_ids, γ̂, σ_γ, χ², degrees of freedom, the store's new size)``."""
    fit, counts, sel, n = _gather(t, tid, pos, cov, n, track_ids, t_s - window_s, min_plots)
    k = fit.shape[0]
    starts = np.zeros(k, dtype=np.int64)
    for j in range(1, k):
        starts[j] = starts[j - 1] + counts[j - 1]
    xs = np.empty((k, 6))
    acc = np.empty((k, 3))
    for j in range(k):
        xs[j] = x[fit[j]]
        acc[j, 0], acc[j, 1], acc[j, 2] = _acceleration(xs[j, 0], xs[j, 1], xs[j, 2], xs[j, 3], xs[j, 4], True, True)
    gamma, sigma, chi, dof = _fit_inverse_beta(t[sel], pos[sel], cov[sel], starts, counts, xs, acc, t_s, n_simpson)
    return fit, gamma, sigma, chi, dof, n


@njit(cache=True)
def _compact_plots(mask, t, tid, pos, cov):  # pragma: no cover - compiled
    """Move the stored plots where ``mask`` is True to the front of the store, in order; returns how many."""
    m = 0
    for k in range(mask.shape[0]):
        if mask[k]:
            if m != k:
                t[m], tid[m], pos[m], cov[m] = t[k], tid[k], pos[k], cov[k]
            m += 1
    return m


@njit(cache=True)
def _gather(t, tid, pos, cov, n, track_ids, horizon, min_plots):  # pragma: no cover - compiled
    """The plots to fit, of the store's first ``n``: for each of ``track_ids`` (increasing), its plots in the
    order they came, less the first ones while they are older than ``horizon`` (dropped from the store); a
    track with ``min_plots`` or more left is fitted, its plots sorted by time (stably: plots of one time keep
    their order).  Returns ``(fitted: indices into track_ids, counts, the plots' store indices track after
    track, the store's new size)``.
    """
    k = track_ids.shape[0]
    owner = np.full(n, -1, dtype=np.int64)  # each stored plot's index in track_ids, -1 if none
    count = np.zeros(k, dtype=np.int64)
    for i in range(n):
        j = np.searchsorted(track_ids, tid[i])
        if j < k and track_ids[j] == tid[i]:
            owner[i] = j
            count[j] += 1
    start = np.zeros(k + 1, dtype=np.int64)
    for j in range(k):
        start[j + 1] = start[j] + count[j]
    idx = np.empty(start[k], dtype=np.int64)
    fill = start[:k].copy()
    for i in range(n):
        if owner[i] >= 0:
            idx[fill[owner[i]]] = i
            fill[owner[i]] += 1
    dead = np.zeros(n, dtype=np.bool_)
    fitted, counts = np.empty(k, dtype=np.int64), np.empty(k, dtype=np.int64)
    sel = np.empty(start[k], dtype=np.int64)
    n_fit, n_sel = 0, 0
    for j in range(k):
        a, b = start[j], start[j + 1]
        while a < b and t[idx[a]] < horizon:  # the oldest, out of the window
            dead[idx[a]] = True
            a += 1
        if b - a < min_plots:
            continue
        for q in range(a, b):  # insertion sort by time: stable, and the plots come nearly in order
            v = idx[q]
            r = n_sel + q - a
            while r > n_sel and t[sel[r - 1]] > t[v]:
                sel[r] = sel[r - 1]
                r -= 1
            sel[r] = v
        fitted[n_fit], counts[n_fit] = j, b - a
        n_fit += 1
        n_sel += b - a
    left = _compact_plots(~dead, t, tid, pos, cov) if dead.any() else n
    # The fitted plots' indices, renumbered for the plots the compaction moved.
    if left != n:
        new = np.cumsum(~dead) - 1
        for q in range(n_sel):
            sel[q] = new[sel[q]]
    return fitted[:n_fit], counts[:n_fit], sel[:n_sel], left


@njit(cache=True)
def select_plots(ids, plot_ids, ballistic, x, min_descent_mps):  # pragma: no cover - compiled
    """Of a scan's plots that went to tracks ``plot_ids``, those whose track is still in the table (``ids``,
    increasing) and is ballistic or descends at ``min_descent_mps`` or more: ``(mask over the plots, the
    track's row for each)``."""
    m = plot_ids.size
    ok = np.zeros(m, dtype=np.bool_)
    rows = np.zeros(m, dtype=np.int64)
    if ids.size == 0:
        return ok, rows
    for k in range(m):
        r = min(np.searchsorted(ids, plot_ids[k]), ids.size - 1)
        rows[k] = r
        if ids[r] != plot_ids[k]:
            continue
        if ballistic[r]:
            ok[k] = True
            continue
        px, py, pz = x[r, 0], x[r, 1], x[r, 2]
        descent = -(px * x[r, 3] + py * x[r, 4] + pz * x[r, 5]) / np.sqrt(px * px + py * py + pz * pz)
        ok[k] = descent >= min_descent_mps
    return ok, rows


@njit(cache=True, inline="always", error_model="numpy")
def _drag_displacement(tau, h_r, hdot, speed, decel_g, gamma_prev, n_simpson):  # pragma: no cover - compiled
    """D = ∫_{t_k}^{t_r} (s − t_k) q(s) ds for the plot at τ = t_k − t_r (Simpson's rule).

    q(s) = ½ ρ(h(s)) V(s)², h(s) = h_r + ḣ (s − t_r), and V(s) the speed at
    t_r plus what it has lost since s: V_r + (t_r − s)(γ_prev q̄ − g_u), q̄
    the drag per unit γ at V_r averaged over s … t_r (trapezoid), g_u the
    free-flight acceleration along the path (γ_prev = 0: constant speed).
    """
    span = -tau
    if span <= 0.0:
        return 0.0
    rho_r = density_kg_m3(h_r)
    step = span / n_simpson
    D = 0.0
    for i in range(n_simpson + 1):
        w = 1.0 if i == 0 or i == n_simpson else (4.0 if i % 2 == 1 else 2.0)
        s_rel = i * step  # s − t_k
        back = span - s_rel  # t_r − s
        rho = density_kg_m3(h_r - hdot * back)
        v = speed + back * (gamma_prev * 0.25 * (rho + rho_r) * speed * speed - decel_g)
        D += w * s_rel * 0.5 * rho * v * v
    return D * step / 3.0


@njit(cache=True, error_model="numpy")
def _fit_inverse_beta(t, pos, cov, starts, counts, x, acc, t_x, n_simpson):  # pragma: no cover - compiled
    """The weighted least-squares fit of the module docstring for each track j, plots
    ``starts[j] : starts[j] + counts[j]`` (sorted by time), its state ``x[j]`` at ``t_x`` and free-flight
    acceleration ``acc[j]``.  Returns (γ̂, σ_γ, χ², degrees of freedom) per track; σ = inf where the normal
    matrix is singular.

    Twice: the first fit takes the speed as constant over the window, the
    second lets it grow back in time by the deceleration the first found
    (:func:`_drag_displacement`), which a light object low in the air needs.
    """
    n = starts.size
    gamma, sigma = np.zeros(n), np.full(n, np.inf)
    chi, dof = np.zeros(n), np.zeros(n)
    for j in range(n):
        a, m = starts[j], counts[j]
        px, py, pz, vx, vy, vz = x[j, 0], x[j, 1], x[j, 2], x[j, 3], x[j, 4], x[j, 5]
        speed = np.sqrt(vx * vx + vy * vy + vz * vz)
        if speed <= 0.0:
            continue
        u = np.array([vx, vy, vz]) / speed
        g_u = acc[j, 0] * u[0] + acc[j, 1] * u[1] + acc[j, 2] * u[2]  # free-flight acceleration along the path
        r = np.sqrt(px * px + py * py + pz * pz)
        hdot = (px * vx + py * vy + pz * vz) / r
        t_r = t[a + m - 1]
        h_r = radial_height(px, py, pz) + hdot * (t_r - t_x)
        center = np.array([px, py, pz]) + np.array([vx, vy, vz]) * (t_r - t_x)
        rows = np.empty((m, 3))
        for k in range(m):
            tau = t[a + k] - t_r
            for c in range(3):
                rows[k, c] = pos[a + k, c] - center[c] - 0.5 * acc[j, c] * tau * tau
        Ds = np.empty(m)
        Ws = [np.linalg.inv(cov[a + k]) for k in range(m)]  # each plot's weight, for both fits
        H = np.zeros((3, 7))
        g_prev = 0.0
        ok = True
        theta = np.zeros(7)
        Ninv = np.eye(7)
        for _ in range(2):
            N = np.zeros((7, 7))
            b = np.zeros(7)
            for k in range(m):
                tau = t[a + k] - t_r
                D = _drag_displacement(tau, h_r, hdot, speed, g_u, g_prev, n_simpson)
                Ds[k] = D
                W = Ws[k]
                H[:, :] = 0.0
                for c in range(3):
                    H[c, c] = 1.0
                    H[c, 3 + c] = tau
                    H[c, 6] = -D * u[c]
                WH = W @ H
                N += H.T @ WH
                b += WH.T @ rows[k]
            # Scaled to a unit diagonal (γ's column is some 10¹⁰ times the others'), then tested for singularity.
            d = np.sqrt(np.diag(N))
            if not np.all(d > 0.0):
                ok = False
                break
            S = np.outer(d, d)
            if not np.linalg.eigvalsh(N / S)[0] > 1e-12:  # singular: too few distinct plot times
                ok = False
                break
            Ninv[:, :] = np.linalg.inv(N / S) / S
            theta[:] = Ninv @ b
            g_prev = max(float(theta[6]), 0.0)
        if not ok or not Ninv[6, 6] > 0.0:
            continue
        gamma[j] = theta[6]
        sigma[j] = np.sqrt(Ninv[6, 6])
        c2 = 0.0
        for k in range(m):
            tau = t[a + k] - t_r
            e = np.empty(3)
            for c in range(3):
                e[c] = rows[k, c] - theta[c] - theta[3 + c] * tau + theta[6] * Ds[k] * u[c]
            c2 += float(e @ np.linalg.solve(cov[a + k], e))
        chi[j] = c2
        dof[j] = 3 * m - 7
    return gamma, sigma, chi, dof
