"""Sensor registration: each radar's systematic errors estimated online, and its plots corrected.

Interface::

    reg = Registration(sites, RegistrationConfig(...), q_mps2)
    reg.correct(scan)                  -> the scan with the estimated offsets taken out (a copy)
    reg.observe(scan, assoc, ...)      learn from a scan's plots (as the radar stamped them) that went to confirmed
                                       tracks: pairs with other radars' latest plots of the same objects
    reg.reference(t, ident, pos, vel)  an absolute position report of an identified object (ADS-B, GNSS)
    reg.bias(sensor), reg.sigma(sensor)   the estimate [Δr m, Δaz rad, Δel rad, Δt s] and its 1-σ

    registered(tracker, sites, config, tracker_config)   the tracker (registration off), or the tracker behind
                                       a :class:`RegisteredPicture` that corrects each radar scan, then learns from it

The model
---------
Radar k measures an object at ECEF ``x`` at true time ``t`` as

    r = |d| + Δr_k + ε_r,   az = az(d) + Δa_k + ε_a,   el = el(d) + Δe_k + ε_e,   d = M_k (x − s_k)

and stamps the scan ``τ = t + Δt_k`` (its clock runs ``Δt_k`` ahead).  The
registration state is ``b = [Δr_k, Δa_k, Δe_k, Δt_k]`` for every radar,
stacked, with one joint covariance ``P``: a Kalman filter on offsets that
are nearly constant (a slow random walk, ``*_drift`` per √hour, so that what
was learnt long ago, under a worse picture, fades).  Under an estimate ``b̂``
a plot is placed at

    p_k(b̂) = s_k + M_kᵀ enu(r − Δr̂_k, az − Δâ_k, el − Δê_k)   at   t_k(b̂) = τ − Δt̂_k.

Measurement: two radars' plots of one object.  A plot of radar i that went
to a confirmed track, and a plot of radar j's latest scan at most
``max_pair_gap_s`` earlier, give the discrepancy (the track's velocity v
carries plot j to plot i's time)

    g(b) = p_i(b) − p_j(b) − v (t_i(b) − t_j(b)),   zero at the true offsets up to noise

    ∂g/∂(Δr_i, Δa_i, Δe_i) = −G_i,  ∂g/∂Δt_i = v,  ∂g/∂(Δr_j, Δa_j, Δe_j) = G_j,  ∂g/∂Δt_j = −v
    R = C_i + C_j + Δt² P_vv + q |Δt|³/3 I

with ``G = Mᵀ J`` the plot's conversion Jacobian (:func:`~tdome.c2.tracking.plots.razel_jacobian`),
``C = G diag(σ²) Gᵀ`` its converted covariance and ``q`` the tracker's
process noise over the gap Δt = t_i − t_j.

Which plots pair is registration's own decision, not the tracker's: two
plots pair when each is the only plot of the other radar's scan inside the
other's gate (``gate_probability`` of ``S = H P Hᵀ + R``, which holds the
offsets' uncertainty).  Pairing by the tracker's association instead would
keep only the pairs the tracker's gates let through, the ones that agree,
and bias the estimate towards zero; and biased radars often hold one track
each on one object (duplicates), which share no plot.  Each plot is used in
one pair at most, so the pairs' errors are independent.  A scan's pairs are
one EKF update (``K = P Hᵀ S⁻¹``, Joseph form), relinearised at each scan.
This is the pairwise least-squares registration of the literature (Dana
1990; Helmick & Rice 1993) run recursively: what the radars disagree on,
attributed to the offsets that explain it across many geometries.

An absolute position report (:meth:`Registration.reference`: ADS-B, a GNSS
position) within ``reference_gate_m`` of a plot, pairing as above, gives
``g(b) = p_i(b) − (p_A + v_A (t_i(b) − t_A))`` with the Jacobian of radar i
alone and ``R = C_i + σ_ref² I + …``: the offsets of radar i themselves.

Observability
-------------
Radar pairs see only what the radars disagree on.  A clock offset shared by
every radar shifts the whole picture in time and no pair sees it.  Offsets
in range and azimuth, even shared ones, move an object differently as seen
from different sites (a range offset along each radar's own line of sight, an
azimuth offset about each radar's own axis), so pairs observe them, well
where the sites' views of the objects differ, weakly where they nearly agree
(objects far beyond both radars, on the line through both).  The prior (the
configuration's ``*_sigma``: how far a radar as installed may be off)
anchors what the pairs leave open, and, the state being joint, its
covariance says what is known: the common clock offset keeps its prior
uncertainty (σ/√n for n radars), the rest converges as the geometry allows.
A reference radar is one with a tight prior (``prior_sigma``); references
(ADS-B) pin the absolute offsets, clock included.

Correction only moves plots; their stated σ is not inflated by the estimate's
uncertainty, since the part of that uncertainty that does not shrink (the
common clock) moves every radar's plots alike and costs neither association
nor continuity.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence

import numpy as np

from tdome.c2.config import RegistrationConfig
from tdome.c2.tracking.config import TrackerConfig
from tdome.c2.tracking.gaussian import chi2_quantile, symmetrize
from tdome.c2.tracking.picture import AirPicture, PictureSource, PlotAssociation
from tdome.c2.tracking.plots import plot_to_ecef, razel_jacobian
from tdome.c2.tracking.track_table import CONFIRMED
from tdome.c2.tracking.tracker import Tracker
from tdome.messages import Detections, PositionPlots, SensorSite

PARAMETERS = ("range_m", "az_rad", "el_rad", "clock_s")  # one radar's block of the state, in order
K = len(PARAMETERS)


@dataclasses.dataclass
class _Scan:
    """A radar's latest scan, what registration keeps of it: the plots that went to confirmed tracks, as stamped
    and measured (raw), their σ, and which a pair has used."""

    time_s: float
    z: np.ndarray  # (m, 3) range, azimuth, elevation as reported
    sigma: np.ndarray  # (m, 3)
    used: np.ndarray  # (m,) bool


@dataclasses.dataclass
class _Report:
    """The latest absolute report of a reference object (ADS-B, GNSS)."""

    time_s: float
    pos: np.ndarray  # (3,) ECEF
    vel: np.ndarray  # (3,) ECEF
    sigma_m: float
    used: bool = False


@dataclasses.dataclass
class _Pairs:
    """The measurement rows of a scan, built pair by pair."""

    g: list[np.ndarray] = dataclasses.field(default_factory=list)  # (3,) discrepancies at b̂
    H: list[np.ndarray] = dataclasses.field(default_factory=list)  # (3, K n) Jacobians
    R: list[np.ndarray] = dataclasses.field(default_factory=list)  # (3, 3) noise
    reference: list[bool] = dataclasses.field(default_factory=list)

    def __len__(self) -> int:
        return len(self.g)


@dataclasses.dataclass
class _Placed:
    """Plots under the estimate: ECEF positions, converted covariances, G = Mᵀ J, their time, state column."""

    pos: np.ndarray  # (m, 3)
    cov: np.ndarray  # (m, 3, 3)
    G: np.ndarray  # (m, 3, 3)
    time_s: float
    col: int


class Registration:
    """Every radar's range, azimuth, elevation and clock offsets, estimated jointly (module docstring)."""

    def __init__(self, sites: Sequence[SensorSite], config: RegistrationConfig, q_mps2: float,
                 prior_sigma: np.ndarray | None = None):
        """``q_mps2``: the tracker's process noise (spectral density, m²/s³) for the motion between two plots.

        ``prior_sigma`` (len(sites), 4): each radar's own prior σ in SI
        units, in :data:`PARAMETERS` order (a reference radar: a tight one);
        None: the configuration's for every radar.
        """
        self.config = config
        self.sites = list(sites)
        self.slot = {s.index: k for k, s in enumerate(self.sites)}  # sensor index -> its block of the state
        n = len(self.sites)
        if prior_sigma is None:
            c = config
            prior_sigma = np.tile([c.range_sigma_m, c.az_sigma_rad, c.el_sigma_rad, c.clock_sigma_s], (n, 1))
        prior = np.asarray(prior_sigma, dtype=float).reshape(n, K)
        self.b = np.zeros(K * n)
        self.P = np.diag(prior.reshape(-1) ** 2)
        self.q = float(q_mps2)
        drift = np.array([config.range_drift_m, config.az_drift_rad, config.el_drift_rad, config.clock_drift_s])
        self.drift = np.tile(drift**2 / 3600.0, n)  # random-walk variance per second of each offset
        self.time_s = -np.inf  # the latest scan time learnt from
        self.gamma = chi2_quantile(config.gate_probability, 3)
        self._scans: dict[int, _Scan] = {}  # sensor -> its latest scan's plots of confirmed tracks
        self._reports: dict[Hashable, _Report] = {}
        self.counts = dict(registration_pairs=0, registration_reference_pairs=0, registration_ambiguous=0)

    # ------------------------------------------------------------------ the estimate

    def bias(self, sensor: int) -> np.ndarray:
        """The estimated offsets of radar ``sensor`` (4,): range m, azimuth rad, elevation rad, clock s."""
        k = self.slot[sensor]
        return self.b[K * k:K * k + K].copy()

    def covariance(self, sensor: int) -> np.ndarray:
        """The covariance (4, 4) of :meth:`bias`."""
        k = self.slot[sensor]
        return self.P[K * k:K * k + K, K * k:K * k + K].copy()

    def sigma(self, sensor: int) -> np.ndarray:
        """The 1-σ of :meth:`bias` (4,)."""
        return np.sqrt(np.diag(self.covariance(sensor)))

    # ------------------------------------------------------------------ correction

    def correct(self, scan: Detections) -> Detections:
        """The scan as the radar would have reported it without the estimated offsets (a new Detections).

        A scan of a radar the registration does not know is returned as it is.
        """
        k = self.slot.get(scan.sensor)
        if k is None:
            return scan
        dr, da, de, dt = self.b[K * k:K * k + K].tolist()
        sa, se = scan.strobe_az_rad, scan.strobe_el_rad
        return dataclasses.replace(
            scan, time_s=float(scan.time_s) - dt, range_m=np.asarray(scan.range_m, dtype=float) - dr,
            az_rad=np.mod(np.asarray(scan.az_rad, dtype=float) - da, 2.0 * np.pi),
            el_rad=np.asarray(scan.el_rad, dtype=float) - de,
            strobe_az_rad=None if sa is None else np.mod(np.asarray(sa, dtype=float) - da, 2.0 * np.pi),
            strobe_el_rad=None if se is None else np.asarray(se, dtype=float) - de)

    # ------------------------------------------------------------------ learning

    def reference(self, time_s: float, ident: Hashable, pos_ecef, vel_ecef, sigma_m: float | None = None) -> None:
        """An absolute report of the object ``ident``: ECEF position and velocity at ``time_s`` (the C2's clock).

        ``sigma_m``: its position error per axis (m); None: the configuration's ``reference_sigma_m``.
        """
        self._reports[ident] = _Report(float(time_s), np.asarray(pos_ecef, dtype=float).reshape(3),
                                       np.asarray(vel_ecef, dtype=float).reshape(3),
                                       float(self.config.reference_sigma_m if sigma_m is None else sigma_m))

    def observe(self, scan: Detections, assoc: PlotAssociation, track_id: np.ndarray, status: np.ndarray,
                x: np.ndarray, P: np.ndarray) -> int:
        """Learn from one radar scan: ``scan`` as the radar stamped it, ``assoc`` the track each plot went to,
        and the tracker's tracks after the scan (ids sorted, status, state, covariance).  Returns the pairs used.

        Only plots that went to confirmed tracks take part (clutter stays out).
        Each is paired with the plot of another radar's latest scan that it
        alone falls near, and that alone falls near it, inside a gate sized
        by the registration's own uncertainty (not the tracker's: a pair the
        tracker's gate let through would be a pair chosen for agreeing), the
        nearest in time of the radars that give one; or with a reference
        report, likewise.  The track's velocity carries the partner to the
        plot's time.
        """
        i = scan.sensor
        if i not in self.slot:
            return 0
        t = float(scan.time_s)
        if t > self.time_s:  # the offsets wander between scans (random walk)
            if np.isfinite(self.time_s):
                self.P[np.diag_indices_from(self.P)] += self.drift * (t - self.time_s)
            self.time_s = t
        if self._reports:  # a report too old to pair with any plot from now on is forgotten
            self._reports = {k: r for k, r in self._reports.items()
                             if self.time_s - r.time_s <= self.config.max_pair_gap_s}
        ids = np.asarray(track_id)
        plot = np.asarray(assoc.plot, dtype=np.int64)
        rows = np.zeros(plot.size, dtype=np.int64)
        if ids.size and plot.size:  # the plots that went to tracks still held and confirmed
            rows = np.minimum(np.searchsorted(ids, assoc.track_id), ids.size - 1)
            on = (ids[rows] == assoc.track_id) & (np.asarray(status)[rows] == CONFIRMED)
            plot, rows = plot[on], rows[on]
        else:
            plot, rows = plot[:0], rows[:0]
        sig = np.zeros((0, 3))
        if plot.size:
            sig = np.asarray(scan.sigma, dtype=float).reshape(len(scan), -1)[plot, :3]
        z = np.stack([np.asarray(scan.range_m, dtype=float)[plot], np.asarray(scan.az_rad, dtype=float)[plot],
                      np.asarray(scan.el_rad, dtype=float)[plot]], axis=1)
        mine = _Scan(float(scan.time_s), z, sig, np.zeros(plot.size, dtype=bool))
        pairs = _Pairs()
        if plot.size:
            self._pair_scan(pairs, i, mine, np.asarray(x)[rows, 3:6], np.asarray(P)[rows, 3:6, 3:6])
        self._scans[i] = mine
        return self._update(pairs)

    def _place(self, sensor: int, s: _Scan) -> _Placed:
        k = self.slot[sensor]
        col = K * k
        site = self.sites[k]
        dr, da, de, dt = self.b[col:col + K].tolist()
        r, az, el = s.z[:, 0] - dr, s.z[:, 1] - da, s.z[:, 2] - de
        pos, cov = plot_to_ecef(r, az, el, s.sigma, site.ecef, site.enu_rot)
        G = site.enu_rot.T @ razel_jacobian(r, az, el)
        return _Placed(pos, cov, G, s.time_s - dt, col)

    def _jacobian(self, a: _Placed, p: int, v: np.ndarray, b: _Placed | None = None, q: int = 0) -> np.ndarray:
        """∂g/∂b (3, 4n) of plot ``p`` of ``a`` less plot ``q`` of ``b`` carried by ``v`` (module docstring);
        without ``b``, less a reference report moving at ``v``."""
        H = np.zeros((3, self.b.size))
        H[:, a.col:a.col + 3] = -a.G[p]
        H[:, a.col + 3] = v
        if b is not None:
            H[:, b.col:b.col + 3] = b.G[q]
            H[:, b.col + 3] = -v
        return H

    def _innovation(self, a: _Placed, p: np.ndarray, v: np.ndarray, b: _Placed, q: np.ndarray) -> np.ndarray:
        """H P Hᵀ (k, 3, 3) of the pairs (plot ``p[k]`` of ``a``, plot ``q[k]`` of ``b``, velocity ``v[k]``): the
        offsets' uncertainty in their discrepancies (:meth:`_jacobian`, its two blocks only)."""
        A = np.concatenate([-a.G[p], v[:, :, None]], axis=2)  # (k, 3, 4): ∂g/∂ of a's radar
        B = np.concatenate([b.G[q], -v[:, :, None]], axis=2)  # ... of b's radar
        ia, ib = slice(a.col, a.col + K), slice(b.col, b.col + K)
        P = self.P
        cross = np.einsum("kab,bc,kdc->kad", A, P[ia, ib], B)
        return (np.einsum("kab,bc,kdc->kad", A, P[ia, ia], A) + np.einsum("kab,bc,kdc->kad", B, P[ib, ib], B)
                + cross + cross.transpose(0, 2, 1))

    def _spread(self, a: _Placed, v: np.ndarray) -> np.ndarray:
        """Each plot's position uncertainty under the estimate's uncertainty, as a trace (m²): its own, the
        offsets' carried through G and, over its clock, along ``v``."""
        c = a.col
        Pb = self.P[c:c + 3, c:c + 3]
        return (np.einsum("mij,jk,mik->m", a.G, Pb, a.G) + np.trace(a.cov, axis1=1, axis2=2)
                + np.einsum("mi,mi->m", v, v) * self.P[c + 3, c + 3])

    def _pair_scan(self, pairs: _Pairs, i: int, mine: _Scan, v: np.ndarray, Pvv: np.ndarray) -> None:
        c = self.config
        a = self._place(i, mine)
        m = mine.z.shape[0]
        spread_a = self._spread(a, v)
        found: dict[int, tuple] = {}  # plot of this scan -> (|gap|, g, H, R, partner scan, partner row)
        for j, other in self._scans.items():
            if j == i or j not in self.slot:
                continue
            b = self._place(j, other)
            gap = a.time_s - b.time_s
            if abs(gap) > c.max_pair_gap_s or not other.z.shape[0]:
                continue
            free = ~other.used
            # the partner carried to this scan's time by each of this scan's tracks' velocity
            moved = b.pos[None, :, :] + v[:, None, :] * gap  # (m, n, 3)
            g = a.pos[:, None, :] - moved
            d2 = np.einsum("mnk,mnk->mn", g, g)
            # A cheap bound first: λ_max(S) ≤ tr(S) ≤ 2 (spread_a + spread_b).
            spread_b = (np.einsum("nij,jk,nik->n", b.G, self.P[b.col:b.col + 3, b.col:b.col + 3], b.G)
                        + np.trace(b.cov, axis1=1, axis2=2))[None, :] + np.einsum(
                "mi,mi->m", v, v)[:, None] * self.P[b.col + 3, b.col + 3]
            near = d2 <= self.gamma * 2.0 * (spread_a[:, None] + spread_b)
            inside = np.zeros_like(near)
            rows_m, rows_n = np.nonzero(near)
            built = {}
            if rows_m.size:  # the gate, S = H P Hᵀ + R, for every pair the bound lets through at once
                R = (a.cov[rows_m] + b.cov[rows_n] + gap * gap * Pvv[rows_m]
                     + (self.q * abs(gap) ** 3 / 3.0) * np.eye(3))
                S = self._innovation(a, rows_m, v[rows_m], b, rows_n) + R
                gk = g[rows_m, rows_n]
                ok = np.einsum("ka,ka->k", gk, np.linalg.solve(S, gk[..., None])[..., 0]) <= self.gamma
                inside[rows_m[ok], rows_n[ok]] = True
                for k in np.flatnonzero(ok).tolist():
                    built[rows_m[k], rows_n[k]] = (gk[k], R[k])
            # unambiguous: the only one in each other's gate (a used partner still counts against ambiguity)
            one = (inside.sum(axis=1) == 1)[:, None] & (inside.sum(axis=0) == 1)[None, :] & inside
            self.counts["registration_ambiguous"] += int((inside.any(axis=1) & ~one.any(axis=1)).sum())
            one &= free[None, :]
            for p, q in zip(*np.nonzero(one)):
                p, q = int(p), int(q)
                if p not in found or abs(gap) < found[p][0]:
                    gp, Rp = built[p, q]
                    found[p] = (abs(gap), gp, self._jacobian(a, p, v[p], b, q), Rp, other, q)
        if self._reports:
            self._pair_reports(found, a, v, Pvv)
        for p in range(m):
            hit = found.get(p)
            if hit is None or len(pairs) >= c.max_pairs_per_scan:
                continue
            _, g, H, R, other, q = hit
            if other is None:  # a reference report
                if q.used:
                    continue
                q.used = True
            else:
                if other.used[q]:
                    continue
                other.used[q] = True
            mine.used[p] = True
            pairs.g.append(g)
            pairs.H.append(H)
            pairs.R.append(R)
            pairs.reference.append(other is None)

    def _pair_reports(self, found: dict[int, tuple], a: _Placed, v: np.ndarray, Pvv: np.ndarray) -> None:
        """Reference reports as partners: a plot near exactly one fresh report, alone near it, pairs with it (a
        reference pair takes the place of a radar pair: it is worth more)."""
        c = self.config
        reps = [r for r in self._reports.values() if abs(a.time_s - r.time_s) <= c.max_pair_gap_s]
        if not reps:
            return
        inside = np.zeros((a.pos.shape[0], len(reps)), dtype=bool)
        built = {}
        for q, rep in enumerate(reps):
            gap = a.time_s - rep.time_s
            g_all = a.pos - (rep.pos + rep.vel * gap)
            for p in np.flatnonzero(np.linalg.norm(g_all, axis=1) <= c.reference_gate_m).tolist():
                H = self._jacobian(a, p, rep.vel)
                # the report's velocity error over the gap taken as the track's (an ADS-B velocity is no worse)
                R = (a.cov[p] + rep.sigma_m**2 * np.eye(3) + gap * gap * Pvv[p]
                     + (self.q * abs(gap) ** 3 / 3.0) * np.eye(3))
                S = H @ self.P @ H.T + R
                if float(g_all[p] @ np.linalg.solve(S, g_all[p])) <= self.gamma:
                    inside[p, q] = True
                    built[p, q] = (g_all[p], H, R)
        one = (inside.sum(axis=1) == 1)[:, None] & (inside.sum(axis=0) == 1)[None, :] & inside
        for p, q in zip(*np.nonzero(one)):
            p, q = int(p), int(q)
            if not reps[q].used:
                found[p] = (0.0, *built[p, q], None, reps[q])

    def _update(self, pairs: _Pairs) -> int:
        """One EKF update on the pairs; returns how many."""
        if not len(pairs):
            return 0
        g, H, R = np.array(pairs.g), np.array(pairs.H), np.array(pairs.R)
        n_ok = len(pairs)
        ref = int(np.sum(pairs.reference))
        self.counts["registration_reference_pairs"] += ref
        self.counts["registration_pairs"] += n_ok - ref
        m = 3 * n_ok
        Hs = H.reshape(m, -1)
        Rs = np.zeros((m, m))
        for q, Rq in enumerate(R):
            Rs[3 * q:3 * q + 3, 3 * q:3 * q + 3] = Rq
        PHt = self.P @ Hs.T
        Ss = Hs @ PHt + Rs
        Kg = np.linalg.solve(Ss, PHt.T).T  # P Hᵀ S⁻¹ (S symmetric)
        self.b = self.b - Kg @ g.reshape(m)
        A = np.eye(self.b.size) - Kg @ Hs
        self.P = symmetrize(A @ self.P @ A.T + Kg @ Rs @ Kg.T)
        return n_ok


class RegisteredPicture(PictureSource):
    """A tracker fed through a :class:`Registration`: each radar scan corrected by the estimate before the tracker
    takes it, and learnt from after.  Anything else is the tracker's."""

    def __init__(self, tracker: Tracker, registration: Registration):
        self.tracker = tracker
        self.registration = registration

    def process(self, scan: Detections | PositionPlots) -> None:
        if not isinstance(scan, Detections):
            self.tracker.process(scan)
            return
        t = self.tracker
        t.process(self.registration.correct(scan))
        self.registration.observe(scan, t.last_association, t.track_id, t.status, t.x, t.P)

    def picture(self, t_s: float) -> AirPicture:
        return self.tracker.picture(t_s)

    @property
    def stats(self) -> dict[str, int]:  # type: ignore[override]
        return {**self.tracker.stats, **self.registration.counts}

    @property
    def last_association(self) -> PlotAssociation:
        return self.tracker.last_association

    def reference(self, time_s: float, ident: Hashable, pos_ecef, vel_ecef, sigma_m: float | None = None) -> None:
        """An absolute position report (ADS-B): :meth:`Registration.reference`."""
        self.registration.reference(time_s, ident, pos_ecef, vel_ecef, sigma_m)

    def __getattr__(self, name: str):
        if name == "tracker":  # not set yet (a copy being made): no tracker to ask
            raise AttributeError(name)
        return getattr(self.tracker, name)


def registered(tracker: Tracker, sites: Sequence[SensorSite], config: RegistrationConfig,
               tracker_config: TrackerConfig) -> Tracker | RegisteredPicture:
    """The picture source the C2 runs: ``tracker`` itself with registration off, else the tracker behind a
    :class:`RegisteredPicture`."""
    if config.mode == "off":
        return tracker
    return RegisteredPicture(tracker, Registration(sites, config, tracker_config.q_air))
