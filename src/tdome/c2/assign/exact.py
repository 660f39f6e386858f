"""Exact target-based weapon-target assignment on HiGHS, with a proven bound.

Formulation (log transform with outer approximation; Manne 1958, and the
cutting-plane scheme of Kelley 1960 as used for WTA by Ahuja et al. 2007 and
Lu & Chen 2021):

    minimise   Σ_t z_t + Σ_bt cost[b]·salvo[t]·x_bt
    subject to y_t = log survival[t] + Σ_b x_bt · log f[b, t]     (log survival)
               z_t ≥ value[t]·e^{ŷ}·(1 + y_t − ŷ)   for each cut point ŷ of t
               Σ_t salvo[t]·x_bt ≤ capacity[b]                    (magazine, launchers)
               Σ_{t not high value} salvo[t]·x_bt ≤ capacity[b] − reserved[b]
               Σ_b x_bt ≤ max_engagements[t]
               x_bt ∈ {0, 1, …}, x_bt = 0 where pk[b, t] = 0

``value·e^y`` is convex, so every tangent lies below it: the programme's
optimum (and, under a time limit, HiGHS's dual bound) is a lower bound on the
true optimal loss.  Each solution is evaluated exactly; where its tangent
model is short of the true value, tangents are added at its point and the
programme is solved again, from the best assignment found so far, until the
gap between the best assignment and the bound is within tolerance or time is
up.  The initial cuts sit on a geometric grid of survival probabilities and
at the local-search solution, which also seeds the incumbent.

On the clock: the local search runs first, for at most a tenth of the time limit,
and seeds the programme, which runs for the rest in a child process
(:mod:`.highs_process`) that reports each better assignment and bound as it
finds them.  At the deadline the parent kills the child if it is still busy
(HiGHS does not keep its time limit inside every step) and returns the best
assignment it knows, never worse than the seed: every solve returns within
its limit plus :data:`~tdome.c2.assign.base.DEADLINE_MARGIN_S`.

The asset-based objective is not convex in this form (it is a sum of
products), so this solver accepts target-based problems only.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from tdome.c2.assign.base import Assignment, AssignmentProblem, evaluate_engagements, finish, register
from tdome.c2.assign.local import solve_local_search
from tdome.c2.config import SOLVER_DEADLINE_S

GAP_TOLERANCE = 1e-4  # relative; the same as HiGHS's default MIP gap
# Of the time limit, the most the seeding local search may take.  Half was too much: at 400 x 400 the search
# runs on for seconds, and HiGHS, which proves those instances in 18 to 25 s, proved 1 of 10 in the 15 s left.
SEED_SHARE = 0.1
_GRID_S = np.array([1.0, 0.7, 0.5, 0.35, 0.25, 0.18, 0.12, 0.08, 0.05, 0.03, 0.02, 0.012, 0.007, 0.004, 0.002,
                    0.001, 3e-4, 1e-4])


@register("exact")
def solve_exact(problem: AssignmentProblem, time_limit_s: float | None = None,
                gap_tolerance: float = GAP_TOLERANCE) -> Assignment:
    t0 = time.perf_counter()
    limit = SOLVER_DEADLINE_S if time_limit_s is None else time_limit_s
    deadline = time.monotonic() + limit
    p = problem
    if p.objective != "target":
        raise ValueError("the exact solver handles the target-based objective only; use local_search for 'asset'")
    B, T = p.shape
    if B == 0 or T == 0 or not (p.pk > 0).any():
        return _proven_empty(p, t0)

    seed = solve_local_search(p, time_limit_s=SEED_SHARE * limit)
    best_b, best_t, best_loss = seed.battery, seed.threat, seed.loss
    prog = _programme(p, best_b, best_t, best_loss, gap_tolerance)
    if prog is None:  # nothing can fire within the magazines, reserves and caps
        return _proven_empty(p, t0)
    pb, pt, scale = prog.pop("pb"), prog["pt"], prog.pop("scale")
    # The child stops a little before the deadline, so that its last word arrives in time.
    prog["deadline"] = deadline - min(0.05, 0.1 * limit)
    lower = -np.inf
    stopped = False  # cut before its own end: by HiGHS's limit, or killed at the deadline
    for msg in HIGHS.solve(prog, deadline):
        if msg[0] == "incumbent":
            k, n = msg[1], msg[2]
            xb, xt = np.repeat(pb[k], n), np.repeat(pt[k], n)
            loss, _ = evaluate_engagements(p, xb, xt)
            if loss < best_loss:
                best_b, best_t, best_loss = xb, xt, loss
        elif msg[0] == "bound":
            lower = max(lower, msg[1] * scale)
        elif msg[0] == "done":
            stopped = msg[1]
        else:  # "killed", "lost" or "error": what was heard stands
            stopped = True
    lower = min(lower, best_loss)
    gap = (best_loss - lower) / best_loss if np.isfinite(lower) and best_loss > 0 else (0.0 if best_loss <= 0 else None)
    proven = gap is not None and gap <= gap_tolerance
    return finish(p, best_b, best_t, loss_bound=lower if np.isfinite(lower) else None, gap=gap, proven=proven,
                  solve_s=time.perf_counter() - t0, timed_out=(stopped or seed.timed_out) and not proven)


def _proven_empty(p: AssignmentProblem, t0: float) -> Assignment:
    empty = finish(p, [], [], solve_s=time.perf_counter() - t0)
    empty.loss_bound, empty.gap, empty.proven = empty.loss, 0.0, True
    return empty


def _programme(p: AssignmentProblem, seed_b, seed_t, seed_loss: float, gap_tolerance: float) -> dict | None:
    """The programme's data for :func:`.highs_process.solve`, with ``pb`` and ``scale`` for the caller; None if empty.

    It is solved in units of the seed's loss per threat, so that each
    threat's term is of order one and HiGHS's absolute tolerances (about
    1e-6) are small against it, whatever the scale of the values.
    """
    B, T = p.shape
    scale = seed_loss / max(1, int(np.count_nonzero(p.value))) if seed_loss > 0 else 1.0
    f = p.survival_factor()
    logf = np.log(np.maximum(f, 1e-300))
    logq = np.log(np.maximum(p.survival, 1e-300))
    free = p.free()
    low = ~p.high_value
    pb, pt = np.nonzero(p.pk > 0)
    s = p.salvo[pt]
    ub = np.minimum(p.max_engagements[pt], p.capacity[pb] // s)
    ub = np.where(low[pt], np.minimum(ub, free[pb] // s), ub)
    keep = ub > 0
    pb, pt, s, ub = pb[keep], pt[keep], s[keep], ub[keep]
    if pb.size == 0:
        return None
    rows: list[tuple] = []  # (lower or None, upper or None, column indices, coefficients)
    for b, xs in _groups(pb, np.arange(pb.size), B):
        if xs.size:
            rows.append((None, float(p.capacity[b]), xs, s[xs].astype(float)))  # rounds
            lx = xs[low[pt[xs]]]
            if lx.size and np.sum(s[lx] * ub[lx]) > free[b]:
                rows.append((None, float(free[b]), lx, s[lx].astype(float)))  # the reserve
    # Columns: x (one per pair), then y (one per threat: its log survival), then z (the programme's, not here).
    K, lpt = pb.size, logf[pb, pt]
    survival_rows = []
    order = np.argsort(pt, kind="stable")
    for t, xs in _groups(pt[order], order, T):
        if xs.size and np.sum(ub[xs]) > p.max_engagements[t]:
            rows.append((None, float(p.max_engagements[t]), xs, np.ones(xs.size)))  # engagements per threat
        # y_t − Σ_k logf_k·x_k = log q_t
        survival_rows.append((logq[t], logq[t], np.append(K + t, xs), np.append(1.0, -lpt[xs])))
    rows += survival_rows
    x0 = np.zeros(K)
    index = {(b, t): k for k, (b, t) in enumerate(zip(pb.tolist(), pt.tolist()))}
    for b, t in zip(np.asarray(seed_b).tolist(), np.asarray(seed_t).tolist()):
        x0[index[(b, t)]] += 1
    return dict(pb=pb, scale=scale, pt=pt, ub=ub, logf=lpt, xcost=p.cost[pb] * s / scale, logq=logq,
                ymin=logq + np.bincount(pt, weights=ub * lpt, minlength=T), V=p.value / scale, rows=rows,
                x0=x0, grid=np.log(_GRID_S), gap=gap_tolerance)


def _groups(keys: np.ndarray, items: np.ndarray, n: int):
    """(key, items with that key) for key in 0..n−1, ``keys`` sorted."""
    bounds = np.searchsorted(keys, np.arange(n + 1))
    for k in range(n):
        yield k, items[bounds[k]:bounds[k + 1]]


class HighsProcess:
    """The child process that solves programmes (:mod:`.highs_process`), started again after a kill.

    One per process, shared by every caller under a lock.  A fresh child is
    started as soon as one is killed, so it has loaded by the next solve.
    """

    SCRIPT = Path(__file__).with_name("highs_process.py")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._requests: Connection | None = None
        self._replies: Connection | None = None
        self._sender: threading.Thread | None = None

    def start(self) -> None:
        """Start a child if none is running (a caller may start it early, before its first deadline)."""
        if self._proc is not None and self._proc.poll() is None:
            return
        self.stop()
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        # -P: nothing but the installed packages on the path; stdout carries HiGHS's banner, not ours.
        self._proc = subprocess.Popen([sys.executable, "-P", str(self.SCRIPT), str(req_r), str(rep_w)],
                                      pass_fds=(req_r, rep_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        os.close(req_r)
        os.close(rep_w)
        self._requests, self._replies = Connection(req_w, readable=False), Connection(rep_r, writable=False)

    def forget(self) -> None:
        """In a forked copy of this process: the child is the parent's, not ours; close our copies of its pipes."""
        self._lock = threading.Lock()
        self._proc, self._sender = None, None
        for conn in (self._requests, self._replies):
            if conn is not None:
                conn.close()
        self._requests = self._replies = None

    def stop(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            self._proc = None
        if self._sender is not None:  # its write fails at once now that the child is gone
            self._sender.join()
            self._sender = None
        for conn in (self._requests, self._replies):
            if conn is not None:
                conn.close()
        self._requests = self._replies = None

    def solve(self, prog: dict, deadline: float) -> Iterator[tuple]:
        """Send ``prog`` and yield the child's replies until it is done or ``deadline`` (monotonic) passes.

        Ends with ``("done", timed_out, iterations)`` or, when the child had to
        be killed at the deadline, ``("killed",)``; ``("lost",)`` or ``("error",
        text)`` if the child failed.
        """
        with self._lock:
            self.start()
            assert self._requests is not None and self._replies is not None
            # Sent from a thread: a large programme fills the pipe, and a child still starting would
            # hold the caller past its deadline.
            if self._sender is not None:
                self._sender.join()
            self._sender = threading.Thread(target=_send_quietly, args=(self._requests, prog), daemon=True)
            self._sender.start()
            while True:
                wait = deadline - time.monotonic()
                if wait <= 0 or not self._replies.poll(wait):
                    self.stop()
                    self.start()
                    yield ("killed",)
                    return
                try:
                    msg = self._replies.recv()
                except (EOFError, OSError):
                    self.stop()
                    yield ("lost",)
                    return
                yield msg
                if msg[0] in ("done", "error"):
                    return


def _send_quietly(conn: Connection, obj) -> None:
    with contextlib.suppress(OSError):  # the child was killed meanwhile: the caller has moved on
        conn.send(obj)


HIGHS = HighsProcess()
atexit.register(HIGHS.stop)
os.register_at_fork(after_in_child=HIGHS.forget)
