"""Precomputed truth trajectories and their resampling onto a common time grid.

Threats in tdome do not react to the defense, so the world computes every
threat's whole path once, at set-up.  A :class:`Trajectory` holds one object
from launch to impact; a :class:`TrajectorySet` packs many of them onto one
regular time grid so that the simulator can ask "where is everybody at time t"
with a single vectorized gather.

Resampling from a trajectory's own samples onto the grid uses the cubic
Hermite interpolant, which matches both position and velocity at each sample:

    p(τ) = h00(τ) p0 + h10(τ) h v0 + h01(τ) p1 + h11(τ) h v1,   τ = (t - t0)/h

    h00 = 2τ³ - 3τ² + 1,  h10 = τ³ - 2τ² + τ,  h01 = -2τ³ + 3τ²,  h11 = τ³ - τ²

Its position error is at most h⁴ max|p''''| / 384 (de Boor, *A Practical
Guide to Splines*, ch. 4), i.e. millimetres for a ballistic arc sampled at
0.5 s.  Queries between grid samples (:meth:`TrajectorySet.state_at`) are
linear, as the simulator steps on or near the grid anyway; the simulator asks
some ten thousand times a run, so the query is a compiled loop (numba) that
reads the grid in place.  Before each radar scan it asks only for the objects
in flight and not yet killed (:meth:`TrajectorySet.live_state_at`: the same
states, from the same compiled interpolation, for those rows alone).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit


def hermite(p0, v0, p1, v1, h_s, tau):
    """Cubic Hermite interpolation of position and velocity on one interval.

    Parameters
    ----------
    p0, v0, p1, v1 : ndarray (..., 3)
        Positions (m) and velocities (m/s) at the two ends of the interval.
    h_s : float or ndarray (...)
        Interval length (s).
    tau : float or ndarray (...)
        Normalised time in [0, 1] (extrapolation works but degrades).

    Returns
    -------
    pos : ndarray (..., 3)
        p(τ), see the module docstring.
    vel : ndarray (..., 3)
        dp/dt = p'(τ) / h.
    """
    tau = np.asarray(tau, dtype=float)[..., None]
    h = np.asarray(h_s, dtype=float)[..., None]
    t2 = tau * tau
    t3 = t2 * tau
    pos = (2 * t3 - 3 * t2 + 1) * p0 + (t3 - 2 * t2 + tau) * h * v0 + (3 * t2 - 2 * t3) * p1 + (t3 - t2) * h * v1
    d01 = 6 * (tau - t2)  # d h01/dτ = -d h00/dτ
    vel = d01 * (p1 - p0) / h + (3 * t2 - 4 * tau + 1) * v0 + (3 * t2 - 2 * tau) * v1
    return pos, vel


@dataclass
class Trajectory:
    """Truth motion of one object from launch (first sample) to impact (last sample).

    Attributes
    ----------
    t_s : ndarray (k,)
        Strictly increasing sample times (s).
    pos_ecef : ndarray (k, 3)
        ECEF positions (m).
    vel_ecef : ndarray (k, 3)
        ECEF velocities (m/s), relative to the rotating Earth.

    The last sample is the impact: for ballistic objects the point where the
    path crosses zero height above the WGS84 ellipsoid, found to well under
    a metre; for air-breathing ones the aim point.
    """

    t_s: np.ndarray
    pos_ecef: np.ndarray
    vel_ecef: np.ndarray

    def __post_init__(self):
        self.t_s = np.asarray(self.t_s, dtype=float).reshape(-1)
        self.pos_ecef = np.asarray(self.pos_ecef, dtype=float).reshape(-1, 3)
        self.vel_ecef = np.asarray(self.vel_ecef, dtype=float).reshape(-1, 3)
        k = self.t_s.size
        if k == 0 or self.pos_ecef.shape[0] != k or self.vel_ecef.shape[0] != k:
            raise ValueError("t_s, pos_ecef and vel_ecef must have the same, non-zero length")
        if k > 1 and np.any(np.diff(self.t_s) <= 0.0):
            raise ValueError("t_s must be strictly increasing")

    @property
    def launch_s(self) -> float:
        return float(self.t_s[0])

    @property
    def impact_s(self) -> float:
        return float(self.t_s[-1])

    @property
    def impact_ecef(self) -> np.ndarray:
        return self.pos_ecef[-1]

    def sample(self, t_s) -> tuple[np.ndarray, np.ndarray]:
        """Hermite-interpolated (pos, vel) at times inside [launch_s, impact_s]."""
        t = np.asarray(t_s, dtype=float)
        ts = self.t_s
        if ts.size == 1:
            shape = t.shape + (3,)
            return np.broadcast_to(self.pos_ecef[0], shape).copy(), np.broadcast_to(self.vel_ecef[0], shape).copy()
        k = np.clip(np.searchsorted(ts, t, side="right") - 1, 0, ts.size - 2)
        h = ts[k + 1] - ts[k]
        tau = (t - ts[k]) / h
        return hermite(self.pos_ecef[k], self.vel_ecef[k], self.pos_ecef[k + 1], self.vel_ecef[k + 1], h, tau)


class TrajectorySet:
    """Many trajectories on one regular time grid, for fast vectorized look-up.

    Parameters
    ----------
    trajectories : sequence of Trajectory
    dt_s : float
        Grid spacing (s).
    t0_s, t_end_s : float, optional
        Grid span; default from the earliest launch to the latest impact.  The
        grid is ``t0_s + dt_s * arange(T)`` with the last sample >= t_end_s.

    Attributes
    ----------
    t_s : ndarray (T,)
        Grid times (s).
    pos, vel : ndarray (n, T, 3)
        ECEF position (m) and velocity (m/s); NaN where the object is not
        between its launch and its impact.
    launch_s, impact_s : ndarray (n,)
        Launch and impact times (s), exact (from each trajectory).
    launch_ecef, impact_ecef : ndarray (n, 3)
        Exact launch and impact points (m).
    """

    def __init__(self, trajectories: Sequence[Trajectory], dt_s: float = 0.5, t0_s: float | None = None,
                 t_end_s: float | None = None):
        self.trajectories = list(trajectories)
        n = len(self.trajectories)
        if dt_s <= 0:
            raise ValueError("dt_s must be positive")
        self.dt_s = float(dt_s)
        self.launch_s = np.array([tr.launch_s for tr in self.trajectories], dtype=float)
        self.impact_s = np.array([tr.impact_s for tr in self.trajectories], dtype=float)
        self.launch_ecef = np.array([tr.pos_ecef[0] for tr in self.trajectories], dtype=float).reshape(n, 3)
        self.launch_vel = np.array([tr.vel_ecef[0] for tr in self.trajectories], dtype=float).reshape(n, 3)
        self.impact_ecef = np.array([tr.pos_ecef[-1] for tr in self.trajectories], dtype=float).reshape(n, 3)
        self.impact_vel = np.array([tr.vel_ecef[-1] for tr in self.trajectories], dtype=float).reshape(n, 3)
        if t0_s is None:
            t0_s = float(self.launch_s.min()) if n else 0.0
        if t_end_s is None:
            t_end_s = float(self.impact_s.max()) if n else t0_s
        n_t = int(np.ceil((t_end_s - t0_s) / self.dt_s - 1e-9)) + 1
        self.t0_s = float(t0_s)
        self._all = np.arange(n, dtype=np.int64)
        self.t_s = self.t0_s + self.dt_s * np.arange(max(n_t, 2))
        self.pos = np.full((n, self.t_s.size, 3), np.nan)
        self.vel = np.full((n, self.t_s.size, 3), np.nan)
        if n:
            # Every trajectory's samples end to end, trajectory i in rows first[i]:first[i+1].
            first = np.concatenate(([0], np.cumsum([tr.t_s.size for tr in self.trajectories])))
            _grid_compiled(np.concatenate([tr.t_s for tr in self.trajectories]),
                           np.concatenate([tr.pos_ecef for tr in self.trajectories]),
                           np.concatenate([tr.vel_ecef for tr in self.trajectories]), first, self.launch_s,
                           self.impact_s, self.t0_s, self.dt_s, self.t_s, self.pos, self.vel)

    def __len__(self) -> int:
        return len(self.trajectories)

    def alive(self, t_s, idx=None) -> np.ndarray:
        """Boolean mask (m,): launch_s <= t <= impact_s."""
        idx = np.arange(len(self)) if idx is None else np.asarray(idx, dtype=int).reshape(-1)
        t = np.broadcast_to(np.asarray(t_s, dtype=float), idx.shape)
        return (t >= self.launch_s[idx]) & (t <= self.impact_s[idx])

    def state_at(self, t_s, idx=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Position and velocity at time ``t_s`` by linear interpolation on the grid.

        Parameters
        ----------
        t_s : float or ndarray (m,)
            Query time (s), one for all or one per selected object.
        idx : int array (m,), optional
            Objects to query; default all.

        Returns
        -------
        pos : ndarray (m, 3), vel : ndarray (m, 3)
            ECEF state; NaN where the object is not alive.
        alive : ndarray (m,) of bool
            ``launch_s <= t_s <= impact_s``.

        Notes
        -----
        Inside the grid cell [t_k, t_k+1] the state is a straight-line blend of
        the two end states.  Where one end falls outside the object's life the
        exact launch or impact state (at its own time) stands in for it, so
        ``state_at(impact_s)`` returns ``impact_ecef`` exactly.  A compiled
        loop (:func:`_state_at_compiled`) reads the grid in place.
        """
        if idx is None:
            idx = self._all
        else:
            idx = np.asarray(idx, dtype=np.int64).reshape(-1)
            if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
                raise IndexError(f"object index out of range for {len(self)} trajectories")
            idx = idx % max(len(self), 1)  # negative indices count from the end, as in numpy
        t = np.asarray(t_s, dtype=float).reshape(-1)
        if t.size != 1 and t.size != idx.size:
            raise ValueError(f"t_s has {t.size} times for {idx.size} objects")
        state, alive = _state_at_compiled(t, idx, self.t0_s, self.dt_s, self.t_s, self.pos, self.vel, self.launch_s,
                                          self.impact_s, self.launch_ecef, self.launch_vel, self.impact_ecef,
                                          self.impact_vel)
        return state[0], state[1], alive

    def live_state_at(self, t_s: float, kill_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The objects in flight at ``t_s`` and not killed by then, and their states: ``(idx, pos, vel)``.

        ``idx`` is ``flatnonzero(alive & (kill_s > t_s))`` and ``pos``,
        ``vel`` (m, 3) the rows ``idx`` of :meth:`state_at`'s states, to the
        last bit, without the states of the other objects (one compiled pass,
        :func:`_live_state_compiled`).  ``kill_s`` (n,) is each object's kill
        time (inf: never).
        """
        return _live_state_compiled(float(t_s), kill_s, self.t0_s, self.dt_s, self.t_s, self.pos, self.vel,
                                    self.launch_s, self.impact_s, self.launch_ecef, self.launch_vel,
                                    self.impact_ecef, self.impact_vel)


@njit(cache=True, error_model="numpy")
def _grid_compiled(t_s, pos, vel, first, launch_s, impact_s, t0_s, dt_s, grid_t, out_pos,
                   out_vel):  # pragma: no cover - compiled; held to Trajectory.sample by tests/test_world_speed.py
    """Resample trajectories onto the grid: ``out[i, g] = Trajectory.sample(clip(grid_t[g], launch, impact))``.

    Trajectory i is ``t_s, pos, vel[first[i]:first[i + 1]]``.  Its grid
    indices inside [launch, impact] are g = ⌈(t_launch − t₀)/Δt − 10⁻⁹⌉ …
    ⌊(t_impact − t₀)/Δt + 10⁻⁹⌋, found arithmetically (no search over the
    grid).  At each, the sample interval k is the last with t_k ≤ t (clipped
    to the first and last interval), h = t_k+1 − t_k, τ = (t − t_k)/h, and
    the state the cubic Hermite of the module docstring:

        p = (2τ³ − 3τ² + 1) p_k + (τ³ − 2τ² + τ) h v_k + (3τ² − 2τ³) p_k+1 + (τ³ − τ²) h v_k+1
        v = 6(τ − τ²)(p_k+1 − p_k)/h + (3τ² − 4τ + 1) v_k + (3τ² − 2τ) v_k+1

    (the operations of :func:`hermite`, in its order).  Writes ``out_pos``
    and ``out_vel`` (n, T, 3) in place; other cells are left as they are.
    """
    last_g = grid_t.size - 1
    for i in range(first.size - 1):
        a, b = first[i], first[i + 1]
        lo = max(int(np.ceil((launch_s[i] - t0_s) / dt_s - 1e-9)), 0)
        hi = min(int(np.floor((impact_s[i] - t0_s) / dt_s + 1e-9)), last_g)
        k = a
        for g in range(lo, hi + 1):
            t = min(max(grid_t[g], launch_s[i]), impact_s[i])
            if b - a == 1:
                for c in range(3):
                    out_pos[i, g, c], out_vel[i, g, c] = pos[a, c], vel[a, c]
                continue
            while k < b - 2 and t_s[k + 1] <= t:  # the grid times only grow: k never goes back
                k += 1
            h = t_s[k + 1] - t_s[k]
            tau = (t - t_s[k]) / h
            t2 = tau * tau
            t3 = t2 * tau
            c00, c10, c01, c11 = 2 * t3 - 3 * t2 + 1, (t3 - 2 * t2 + tau) * h, 3 * t2 - 2 * t3, (t3 - t2) * h
            d01, e0, e1 = 6 * (tau - t2), 3 * t2 - 4 * tau + 1, 3 * t2 - 2 * tau
            for c in range(3):
                p0, v0, p1, v1 = pos[k, c], vel[k, c], pos[k + 1, c], vel[k + 1, c]
                out_pos[i, g, c] = c00 * p0 + c10 * v0 + c01 * p1 + c11 * v1
                out_vel[i, g, c] = d01 * (p1 - p0) / h + e0 * v0 + e1 * v1


@njit(cache=True, inline="always", error_model="numpy")
def _interpolate(i, tj, t0_s, dt_s, grid_t, pos, vel, launch_s, impact_s, launch_ecef, launch_vel, impact_ecef,
                 impact_vel, out_pos, out_vel, j):
    """The state of object i at a time ``tj`` of its life, into row j of ``out_pos`` and ``out_vel``.

    Cell k = clip(⌊(t − t₀)/Δt⌋, 0, T − 2); its ends (t_l, x_l) = (t_k, x_k)
    and (t_r, x_r) = (t_k+1, x_k+1), the launch or impact state standing in
    for an end outside the object's life; x = x_l + w (x_r − x_l) with
    w = (t − t_l)/(t_r − t_l), 0 for an empty span.  Compiled (numba); the
    loops that call it inline it.
    """
    k = min(max(int(np.floor((tj - t0_s) / dt_s)), 0), grid_t.size - 2)
    tl, tr = grid_t[k], grid_t[k + 1]
    use_launch = tl < launch_s[i]
    use_impact = tr > impact_s[i]
    if use_launch:
        tl = launch_s[i]
    if use_impact:
        tr = impact_s[i]
    span = tr - tl
    w = (tj - tl) / span if span > 0 else 0.0
    for c in range(3):
        pl = launch_ecef[i, c] if use_launch else pos[i, k, c]
        vl = launch_vel[i, c] if use_launch else vel[i, k, c]
        pr = impact_ecef[i, c] if use_impact else pos[i, k + 1, c]
        vr = impact_vel[i, c] if use_impact else vel[i, k + 1, c]
        out_pos[j, c] = pl + w * (pr - pl)
        out_vel[j, c] = vl + w * (vr - vl)


@njit(cache=True, error_model="numpy")
def _state_at_compiled(t, idx, t0_s, dt_s, grid_t, pos, vel, launch_s, impact_s, launch_ecef, launch_vel,
                       impact_ecef, impact_vel):  # pragma: no cover - compiled; see TrajectorySet.state_at
    """:meth:`TrajectorySet.state_at` for objects ``idx`` at times ``t`` (one, or one per object).

    The state of each live object is :func:`_interpolate`'s, NaN for the
    others.  Returns the positions and velocities as one (2, m, 3) array,
    and ``alive`` (m,).
    """
    m = idx.size
    state = np.empty((2, m, 3))
    out_pos, out_vel = state[0], state[1]
    alive = np.empty(m, dtype=np.bool_)
    for j in range(m):
        i = idx[j]
        tj = t[0] if t.size == 1 else t[j]
        alive[j] = (tj >= launch_s[i]) and (tj <= impact_s[i])
        if not alive[j]:
            out_pos[j, :] = np.nan
            out_vel[j, :] = np.nan
            continue
        _interpolate(i, tj, t0_s, dt_s, grid_t, pos, vel, launch_s, impact_s, launch_ecef, launch_vel, impact_ecef,
                     impact_vel, out_pos, out_vel, j)
    return state, alive


@njit(cache=True, error_model="numpy")
def _live_state_compiled(t, kill_s, t0_s, dt_s, grid_t, pos, vel, launch_s, impact_s, launch_ecef, launch_vel,
                         impact_ecef, impact_vel):  # pragma: no cover - compiled; see TrajectorySet.live_state_at
    """:meth:`TrajectorySet.live_state_at`: the rows i with t_launch ≤ t ≤ t_impact and ``kill_s[i]`` > t.

    Returns ``(idx, pos, vel)``: those rows in order and their states
    (:func:`_interpolate`, as :func:`_state_at_compiled` gives them).
    """
    n = 0
    for i in range(launch_s.size):
        if t >= launch_s[i] and t <= impact_s[i] and kill_s[i] > t:
            n += 1
    idx = np.empty(n, dtype=np.int64)
    out_pos = np.empty((n, 3))
    out_vel = np.empty((n, 3))
    j = 0
    for i in range(launch_s.size):
        if t >= launch_s[i] and t <= impact_s[i] and kill_s[i] > t:
            idx[j] = i
            _interpolate(i, t, t0_s, dt_s, grid_t, pos, vel, launch_s, impact_s, launch_ecef, launch_vel,
                         impact_ecef, impact_vel, out_pos, out_vel, j)
            j += 1
    return idx, out_pos, out_vel
