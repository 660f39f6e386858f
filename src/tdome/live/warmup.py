"""Ready means ready: the service runs a short synthetic raid through a throwaway C2 core before it listens.

The C2 core's kernels are compiled (numba) at their first call and cached on disk.  On a fresh install that
first call comes with the first real inputs: over a minute of compiling while the radars keep sending, a
backlog the picture then lags behind.  :func:`warm_up` makes those first calls itself, on the configuration's
own radars, assets and batteries: three aircraft and a missile falling through the air on the first asset,
seen by every radar that covers them (:mod:`tdome.live.sky`; half the radars send tdome's measured elevation,
half a height only, as a third party's radar does), with battery status every cycle, for a minute of track
time.  Everything it makes is thrown away; with the kernels cached it takes a second or two.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tdome import geo
from tdome.live import sky
from tdome.live.service import LiveC2, Outputs
from tdome.live.sky import Flight
from tdome.messages import SensorSite
from tdome.scenario.schema import DefendedSide

TOD0_S = 43_200.0  # any time of day: the core's clock is the reports'
DURATION_S = 60.0
G_MPS2 = 9.80665


def raid(lat_rad: float, lon_rad: float, sites: Sequence[SensorSite] = ()) -> list[Flight]:
    """Three aircraft at 3 km and 250 m/s from 60 km out, and a missile from 100 km out and 80 km up at
    1.4 km/s, falling 800 m/s and faster (to the ground in 70 s), all closing on (lat, lon).  The missile comes
    from where ``sites`` plot it most often: the discrimination of its re-entry needs several plots a window."""
    rot, origin = geo.enu_rotation(lat_rad, lon_rad), geo.geodetic_to_ecef(lat_rad, lon_rad, 0.0)

    def inbound(bearing: float, range_m: float, alt_m: float, speed_mps: float, climb_mps: float = 0.0,
                acc_up: float = 0.0) -> Flight:
        out = np.array([math.sin(bearing), math.cos(bearing), 0.0])
        vel = -speed_mps * out + np.array([0.0, 0.0, climb_mps])
        acc = None if acc_up == 0.0 else np.array([0.0, 0.0, acc_up]) @ rot
        return Flight(origin + (range_m * out + np.array([0.0, 0.0, alt_m])) @ rot, vel @ rot, acc)

    aircraft = [inbound(b, 60_000.0, 3_000.0, 250.0) for b in (0.3, 2.4, 4.4)]
    missiles = [inbound(b, 100_000.0, 80_000.0, 1_400.0, -800.0, -G_MPS2) for b in np.linspace(0, 2 * np.pi, 12,
                                                                                              endpoint=False)]
    path = np.array([[m.at(t) for t in np.arange(0.0, DURATION_S, 2.0)] for m in missiles])  # (12, steps, 3)
    rate = sum(np.atleast_1d(s.covers(path.reshape(-1, 3))).reshape(path.shape[:2]).sum(axis=1) / s.revisit_s
               for s in sites) if sites else np.zeros(len(missiles))
    return [*aircraft, missiles[int(np.argmax(rate))]]


def warm_up(side: DefendedSide, duration_s: float = DURATION_S) -> dict:
    """Run the synthetic raid through a throwaway :class:`LiveC2` for ``side``; what it did (wall time, inputs,
    tracks, engagements) for the service to say."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tdome-warm-up-") as tmp:
        c2 = LiveC2(side, Outputs(cat062=lambda grams: None), spool_dir=Path(tmp))
        if not c2.sites or not c2.assets:
            return dict(seconds=0.0, inputs=0, tracks=0, engagements=0)
        flights = raid(c2.assets[0].lat_rad, c2.assets[0].lon_rad, c2.sites)
        codes = [r.sac_sic(i) for i, r in enumerate(side.radars)]
        events = sky.inputs(c2.sites, codes, flights, side.batteries, 0.0, duration_s, TOD0_S,
                            np.random.default_rng(0), status_every_s=float(side.c2.cycle_s),
                            with_elevation=[k % 2 == 0 for k in range(len(codes))])
        sky.play(c2, events)
        tracks = len(c2.bm.tracker.picture(c2.now))
        c2.write(Path(tmp) / "session")
        return dict(seconds=round(time.perf_counter() - start, 2), inputs=len(events), tracks=tracks,
                    engagements=len(c2.bm.engagements))
