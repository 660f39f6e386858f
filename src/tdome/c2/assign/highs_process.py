"""The exact solver's programme, solved in a process of its own so that it can be stopped at its deadline.

HiGHS keeps its time limit between the steps of its branch and bound, but
not inside every one: a round of cut separation at the root node can run far
past it (asked for 2 s, it took 3.2 to 3.7 s on instances of 300 × 600 and
400 × 400).  A C2 cycle cannot wait for that, and a thread cannot be
stopped, so the programme runs in this child process.  It tells the parent
each better assignment and each better bound as soon as it has them; the
parent listens until its deadline, kills the child if it is still busy, and
keeps the best it heard (:mod:`tdome.c2.assign.exact`, which also gives the
formulation).

The child imports numpy and highspy only, so a fresh one is ready a fraction
of a second after a kill.  It serves one request at a time and exits when its
parent closes the request pipe::

    python -P highs_process.py REQUEST_FD REPLY_FD

A request is one :class:`dict` (the programme, see :func:`solve`); the
replies are tuples: ``("incumbent", k, n)`` (``n`` engagements of each pair ``k``),
``("bound", b)`` (a proven lower bound on the optimal loss, in the
programme's units), then ``("done", timed_out, iterations)`` or
``("error", text)``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np

# The largest change a lower bound must make before it is sent (relative): streams only real progress.
_BOUND_STEP = 1e-6


def solve(prog: dict, send: Callable[[tuple], None]) -> None:
    """Solve the programme ``prog`` by outer approximation, reporting through ``send``.

    ``prog`` holds, for the K pairs (battery, threat) that may fire and the T
    threats: ``pt`` (K,) each pair's threat, ``ub`` (K,) its most
    engagements, ``logf`` (K,) the log of the threat's survival of one
    engagement, ``xcost`` (K,) its cost; ``logq``, ``ymin`` and ``V`` (T,)
    each threat's log survival before any engagement, the least it can
    reach, and its value; ``rows``: the linear constraints on the columns
    x (0 to K−1) and y (K to K+T−1, each threat's log survival) as
    ``(lower, upper, column indices, coefficients)``, a bound None where
    there is none; ``x0`` (K,) the seed's
    engagements; ``grid`` the log survivals of the first tangents; ``gap``
    the relative gap to prove; ``deadline`` a :func:`time.monotonic` time to
    stop by.
    """
    import highspy

    pt, ub, logf, xcost = prog["pt"], prog["ub"], prog["logf"], prog["xcost"]
    logq, ymin, V = prog["logq"], prog["ymin"], prog["V"]
    K, T = pt.size, logq.size
    deadline, gap_tolerance = float(prog["deadline"]), float(prog["gap"])

    def y_of(x: np.ndarray) -> np.ndarray:
        return logq + np.bincount(pt, weights=x * logf, minlength=T)

    def loss_of(x: np.ndarray) -> float:
        return float(np.dot(V, np.exp(y_of(x))) + np.dot(xcost, x))

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", gap_tolerance / 4)
    h.setOptionValue("threads", 1)
    h.setOptionValue("presolve", "off")  # presolve of the cut rows costs 5-10x the solve itself
    inf = highspy.kHighsInf
    # Columns: x (K), y (T), z (T).
    h.addVars(K, np.zeros(K), ub.astype(float))
    h.changeColsCost(K, np.arange(K, dtype=np.int32), xcost)
    h.changeColsIntegrality(K, np.arange(K, dtype=np.int32), np.full(K, highspy.HighsVarType.kInteger))
    h.addVars(T, ymin, logq)
    h.addVars(T, np.zeros(T), np.full(T, inf))
    yc, zc = K + np.arange(T), K + T + np.arange(T)
    h.changeColsCost(T, zc.astype(np.int32), np.ones(T))
    rows = _RowBuilder()
    for lo, hi, idx, val in prog["rows"]:
        rows.add(-inf if lo is None else lo, inf if hi is None else hi, idx, val)
    rows.flush(h)

    points: list[set] = [set() for _ in range(T)]  # cut points of each threat, to never add one twice

    def cuts(ts: np.ndarray, yhat: np.ndarray) -> int:
        """Tangents of V·e^y at ``yhat`` for threats ``ts``: z_t ≥ V_t·e^ŷ·(1 + y_t − ŷ)."""
        added = 0
        slope = V[ts] * np.exp(yhat)
        for t, a, y0 in zip(ts.tolist(), slope.tolist(), yhat.tolist()):
            key = round(y0, 12)
            if key in points[t]:
                continue
            points[t].add(key)
            rows.add(a * (1.0 - y0), inf, np.array([zc[t], yc[t]]), np.array([1.0, -a]))
            added += 1
        rows.flush(h)
        return added

    grid = np.asarray(prog["grid"])
    gt, gy = np.nonzero(grid[None, :] + logq[:, None] >= ymin[:, None])
    cuts(gt, grid[gy] + logq[gt])
    best_x = np.asarray(prog["x0"], dtype=float)
    best_loss = loss_of(best_x)
    cuts(np.arange(T), y_of(best_x))

    lower = -np.inf
    sent_bound = -np.inf

    def offer(x: np.ndarray) -> None:
        nonlocal best_x, best_loss
        loss = loss_of(x)
        if loss < best_loss:
            best_x, best_loss = x, loss
            k = np.flatnonzero(x)
            send(("incumbent", k, x[k].astype(np.int64)))

    def raise_bound(b: float) -> None:
        nonlocal lower, sent_bound
        if np.isfinite(b) and b > lower:
            lower = b
            if b > sent_bound + _BOUND_STEP * max(1.0, abs(b)):
                sent_bound = b
                send(("bound", float(b)))

    def on_solution(e) -> None:  # HiGHS found a better point of the cut model: tell the parent at once
        offer(np.round(np.asarray(e.data_out.mip_solution)[:K]))

    def on_interrupt(e) -> None:  # HiGHS's regular check: pass on its bound, stop at the deadline
        raise_bound(float(e.data_out.mip_dual_bound))
        if time.monotonic() >= deadline:
            e.interrupt()

    h.cbMipImprovingSolution += on_solution
    h.cbMipInterrupt += on_interrupt

    S = highspy.HighsModelStatus
    bounded = {S.kOptimal, S.kTimeLimit, S.kIterationLimit, S.kSolutionLimit, S.kInterrupt}
    iterations = 0
    timed_out = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        iterations += 1
        h.setOptionValue("time_limit", float(remaining))
        y = y_of(best_x)
        start = np.concatenate([best_x, y, V * np.exp(y)])
        h.setSolution(start.size, np.arange(start.size, dtype=np.int32), start)
        h.run()
        info = h.getInfo()
        status = h.getModelStatus()
        timed_out |= status in (S.kTimeLimit, S.kInterrupt)
        if status not in bounded:  # an error or a numerical failure: keep what is proven so far
            break
        raise_bound(float(info.mip_dual_bound))
        if info.primal_solution_status < 2:  # no feasible point found in time
            break
        sol = np.asarray(h.getSolution().col_value)
        x = np.round(sol[:K])
        offer(x)
        if best_loss - lower <= gap_tolerance * best_loss:
            break
        # Where the tangents under-estimate this solution's loss, cut at its point and solve again.
        y = y_of(x)
        z = sol[K + T:]
        short = np.flatnonzero(z < V * np.exp(y) * (1 - 1e-9))
        if cuts(short, y[short]) == 0:  # nothing new to learn: the bound stands as proven
            break
    if lower > sent_bound:
        send(("bound", float(lower)))
    send(("done", bool(timed_out), iterations))


class _RowBuilder:
    """Collects rows and adds them to HiGHS in one call."""

    def __init__(self) -> None:
        self.lo: list[float] = []
        self.hi: list[float] = []
        self.idx: list[np.ndarray] = []
        self.val: list[np.ndarray] = []

    def add(self, lo, hi, idx, val) -> None:
        self.lo.append(lo)
        self.hi.append(hi)
        self.idx.append(np.asarray(idx, dtype=np.int32))
        self.val.append(np.asarray(val, dtype=float))

    def flush(self, h) -> None:
        if not self.lo:
            return
        starts = np.cumsum([0] + [i.size for i in self.idx[:-1]]).astype(np.int32)
        idx = np.concatenate(self.idx)
        h.addRows(len(self.lo), np.array(self.lo), np.array(self.hi), idx.size, starts, idx, np.concatenate(self.val))
        self.lo, self.hi, self.idx, self.val = [], [], [], []


def serve(request_fd: int, reply_fd: int) -> None:
    """Answer requests until the parent closes its end."""
    from multiprocessing.connection import Connection

    requests, replies = Connection(request_fd, writable=False), Connection(reply_fd, readable=False)
    while True:
        try:
            prog = requests.recv()
        except EOFError:
            return
        try:
            solve(prog, replies.send)
        except (BrokenPipeError, EOFError):
            return
        except Exception as err:  # noqa: BLE001 - reported to the parent, which keeps its seed
            replies.send(("error", f"{type(err).__name__}: {err}"))


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
