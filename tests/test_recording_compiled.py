"""The engine's compiled track table against the numpy form it replaces, to the last bit.

At every record instant the engine writes the truth table, GOSPA and every
track of the recorded pictures (:func:`tdome.sim.engine._record`).  The
track table's numeric columns are one compiled pass
(:func:`_track_columns`) between geo's geodetic conversion and numpy's
solve for the NEES; the numpy code it replaces is written out below and
must give the same rows, bit for bit.  (GOSPA's compiled distances are held
to numpy in tests/test_metrics.py.)
"""

from __future__ import annotations

import math
import struct
from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tdome import geo
from tdome.analysis.metrics import nees
from tdome.messages import THREAT_CLASSES
from tdome.sim.engine import _record_tracks, _track_columns, truth_of


def _numpy_truth_errors(pic, rows, pos, vel, alive):
    out = np.full((rows.size, 4), np.nan)
    ok = rows >= 0
    ok[ok] = alive[rows[ok]]
    if ok.any():
        r = rows[ok]
        e = pic.x[ok] - np.concatenate([pos[r], vel[r]], axis=1)
        P = pic.P[ok]
        out[ok, 0] = np.linalg.norm(e[:, :3], axis=1)
        out[ok, 1] = np.linalg.norm(e[:, 3:], axis=1)
        out[ok, 2] = nees(e[:, :3], P[:, :3, :3])
        out[ok, 3] = nees(e, P)
    return out


def _numpy_track_rows(t, pic, threats, rows, pos, vel, alive):
    """The engine's track rows as numpy calls (``rows``: each track's truth row, -1 none)."""
    out = []
    tids = pic.track_id.tolist()
    err = _numpy_truth_errors(pic, np.array(rows, dtype=np.int64), pos, vel, alive).tolist()
    lat, lon, alt = geo.ecef_to_geodetic(pic.x[:, :3])
    spd = np.linalg.norm(pic.x[:, 3:], axis=1).tolist()
    lat, lon, alt = np.degrees(lat).tolist(), np.degrees(lon).tolist(), alt.tolist()
    row_of = {tid: i for i, tid in enumerate(threats.track_id.tolist())}
    imp = np.full((len(threats.track_id), 3), np.nan)
    ok = np.all(np.isfinite(threats.impact_ecef), axis=1)
    if ok.any():
        ilat, ilon, _ = geo.ecef_to_geodetic(threats.impact_ecef[ok])
        imp[ok] = np.column_stack([np.degrees(ilat), np.degrees(ilon), threats.time_to_go_s[ok]])
    pred, cls, asset = imp.tolist(), [THREAT_CLASSES[c] for c in threats.cls], threats.asset.tolist()
    for k, tid in enumerate(tids):
        r = row_of.get(tid, -1)
        if r >= 0:
            out.append((t, tid, lat[k], lon[k], alt[k], spd[k], cls[r], int(asset[r]), rows[k], *err[k], *pred[r]))
        else:
            out.append((t, tid, lat[k], lon[k], alt[k], spd[k], "", -1, rows[k], *err[k], *[np.nan] * 3))
    return out


def _bits(rows):
    """Rows with every float as its bit pattern (NaN as one pattern) and every value's type."""
    def one(v):
        if isinstance(v, float):
            return type(v), "nan" if math.isnan(v) else struct.pack("<d", v)
        return type(v), v
    return [tuple(one(v) for v in row) for row in rows]


def _states(rng, n):
    """ECEF states (n, 6) of objects up to 150 km high, some near the poles, with speeds up to 3 km/s."""
    lat = rng.uniform(-np.pi / 2, np.pi / 2, n)
    lat[rng.random(n) < 0.1] = np.pi / 2  # on the axis
    lon = rng.uniform(-np.pi, np.pi, n)
    pos = geo.geodetic_to_ecef(lat, lon, rng.uniform(-100.0, 150e3, n)).reshape(n, 3)
    return np.concatenate([pos, rng.normal(0.0, 1000.0, (n, 3))], axis=1)


def _picture(rng, n_tracks, n_truth, pos, vel):
    """A picture of tracks near truths (some on no truth) and its threat evaluation in another order, with rows
    missing, impacts not predicted (NaN, inf) and covariances that cannot be inverted."""
    ids = rng.choice(1000, size=n_tracks, replace=False).astype(np.int64)
    on = rng.integers(-1, max(n_truth, 1), n_tracks) if n_truth else np.full(n_tracks, -1)
    x = _states(rng, n_tracks)
    near = on >= 0
    x[near] = np.concatenate([pos[on[near]], vel[on[near]]], axis=1) + rng.normal(0.0, 50.0, (near.sum(), 6))
    A = rng.normal(0.0, 30.0, (n_tracks, 6, 6))
    P = A @ A.transpose(0, 2, 1) + 1e-3 * np.eye(6)
    P[rng.random(n_tracks) < 0.05] = 0.0  # singular: NaN NEES
    pic = SimpleNamespace(track_id=ids, x=x, P=P)
    keep = rng.permutation(n_tracks)[: rng.integers(0, n_tracks + 1)]
    m = keep.size
    impact = _states(rng, m)[:, :3]
    impact[rng.random(m) < 0.3, rng.integers(0, 3)] = np.nan
    impact[rng.random(m) < 0.05, 0] = np.inf
    threats = SimpleNamespace(track_id=ids[keep], cls=rng.integers(0, len(THREAT_CLASSES), m).astype(np.int8),
                              asset=rng.integers(-1, 4, m), impact_ecef=impact,
                              time_to_go_s=np.where(rng.random(m) < 0.1, np.nan, rng.uniform(0.0, 300.0, m)))
    return pic, threats, on


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_tracks=st.integers(1, 30), n_truth=st.integers(0, 30))
def test_track_rows_are_the_numpy_track_rows(seed, n_tracks, n_truth):
    rng = np.random.default_rng(seed)
    s = _states(rng, n_truth)
    pos, vel = s[:, :3].copy(), s[:, 3:].copy()
    alive = rng.random(n_truth) < 0.8
    pic, threats, on = _picture(rng, n_tracks, n_truth, pos, vel)
    # The truth each track took most plots from: the one it is near, or none.
    track_truth = {int(tid): {int(r): 3} for tid, r in zip(pic.track_id, on) if r >= 0}
    rec = SimpleNamespace(track_rows=[])
    _record_tracks(rec, 40.0, pic, threats, [truth_of(track_truth, tid) for tid in pic.track_id.tolist()], pos, vel,
                   alive)
    want = _numpy_track_rows(40.0, pic, threats, on.tolist(), pos, vel, alive)
    assert _bits(rec.track_rows) == _bits(want)


def test_track_columns_flag_the_tracks_on_live_truth():
    pos = np.array([[6.4e6, 0.0, 0.0], [0.0, 6.4e6, 0.0]])
    vel = np.array([[0.0, 100.0, 0.0], [0.0, 0.0, 200.0]])
    x = np.array([[6.4e6 + 3.0, 4.0, 0.0, 0.0, 100.0, 0.0], [0.0, 6.4e6, 0.0, 0.0, 0.0, 200.0],
                  [1.0, 6.4e6, 0.0, 0.0, 0.0, 0.0]])
    no_impact = np.zeros((0, 3))
    cols, e, ok = _track_columns(x, geo.ecef_to_geodetic(x[:, :3]), np.array([0, 1, -1]), pos, vel,
                                 np.array([True, False]), np.array([-1, -1, -1]), no_impact,
                                 geo.ecef_to_geodetic(no_impact), np.zeros(0))
    assert ok.tolist() == [True, False, False]
    assert cols[4, 0] == 5.0 and cols[5, 0] == 0.0
    assert np.isnan(cols[4:, 1:]).all() and np.isnan(e[1:]).all()
