"""The defence's own fate in a contested sky: radars and batteries destroyed, down with faults, or silent.

Interface::

    d = Defence(sc, sites, batteries, event)   event(t, kind, **fields): the run's event log
    d.scans(k, t)                     radar k can scan at t (not destroyed, not down with a fault)
    d.silent(k, t); d.count_silent(k, plots)    emission control: silent now; a silent scan's lost plots
    d.silence(t, name, until, ordered_s, where)  the C2's silence order, heard by the radar at t
    d.emitting(k, t); d.quiet_since(k, t)       what an anti-radiation seeker homes on, and since when not
    d.destroy_near(i, t, lat, lon, reach)       a threat landed: radars and batteries within reach destroyed
    d.report(t_end)                   the summaries' defence_lost, emcon and the radars' and launchers' faults

The time loop (:mod:`tdome.sim.engine`) asks it at each phase of a cycle;
it holds the state the C2 never sees, and learns of only through missing
plots and battery status.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tdome import geo
from tdome.messages import SensorSite
from tdome.sim.build import radar_faults, radar_silences
from tdome.world.effectors import FireUnit
from tdome.world.faults import down_seconds, is_down


class Defence:
    """When each radar and battery was destroyed (inf: never), each radar's down and silent intervals, and the
    counts the results report."""

    def __init__(self, sc, sites: list[SensorSite], batteries: list[FireUnit], event: Callable[..., None]):
        self.sites, self.batteries, self.event = sites, batteries, event
        self.radar_lost_s = np.full(len(sites), np.inf)
        self.battery_lost_s = np.full(len(batteries), np.inf)
        self.rounds_destroyed = self.rounds_stranded = 0
        self.radar_down = radar_faults(sc)  # (k, 2) intervals per radar, from its own stream
        self.radar_silent = radar_silences(sc)  # the scenario's silent periods, and the C2's orders as they come
        self.radar_index = {s.name: k for k, s in enumerate(sites)}
        self.silent_scans = np.zeros(len(sites), dtype=np.int64)
        self.plots_lost_to_silence = np.zeros(len(sites), dtype=np.int64)

    def scans(self, k: int, t: float) -> bool:
        """Radar k scans at t: not destroyed by then, not down with a fault."""
        return t < self.radar_lost_s[k] and not (len(self.radar_down[k]) and is_down(self.radar_down[k], t))

    def silent(self, k: int, t: float) -> bool:
        """Radar k keeps silent at t under emission control."""
        return bool(len(self.radar_silent[k]) and is_down(self.radar_silent[k], t))

    def count_silent(self, k: int, plots: int) -> None:
        """A silent scan of radar k, and the plots it would have made."""
        self.silent_scans[k] += 1
        self.plots_lost_to_silence[k] += plots

    def silence(self, t: float, name: str, until: float, ordered_s: float, where: str) -> None:
        """Radar ``name`` hears at ``t`` the C2's order, given at ``ordered_s``, to keep silent until ``until``
        (emission control; the order travels the network like any other, and one lost is not obeyed).  A radar
        already silent past ``until`` is left so; one silent until sooner keeps silent longer."""
        k = self.radar_index[name]
        w = self.radar_silent[k]
        if len(w) and is_down(w, t):
            current = int(np.flatnonzero((w[:, 0] <= t) & (t < w[:, 1]))[-1])
            if w[current, 1] >= until:
                return
            w = w.copy()
            w[current, 1] = until
        else:
            w = np.vstack([w, [t, until]])
            self.event(t, "radar_silenced", ecef=self.sites[k].ecef,
                       detail=f"{name}: a threat is assessed inbound (ordered at {ordered_s:.1f} s){where}")
        self.radar_silent[k] = w

    def emitting(self, k: int, t: float) -> bool:
        """Whether radar k radiates at t: not destroyed, not down, not silent."""
        return not (t >= self.radar_lost_s[k] or is_down(self.radar_down[k], t) or is_down(self.radar_silent[k], t))

    def quiet_since(self, k: int, t: float) -> float:
        """When radar k's present quiet stretch began (it does not emit at t): silence, faults and its loss
        joined end to end."""
        start = t
        changed = True
        while changed:
            changed = False
            for w in (self.radar_silent[k], self.radar_down[k]):
                inside = (w[:, 0] < start) & (start <= w[:, 1])
                if inside.any():
                    start, changed = float(w[inside, 0].min()), True
            if self.radar_lost_s[k] < start:
                start, changed = float(self.radar_lost_s[k]), True
        return start

    def destroy_near(self, i: int, t: float, lat, lon, reach: float) -> None:
        """Threat i landed at (lat, lon) at t: radars and batteries within ``reach`` (its lethal radius) are
        destroyed."""
        for k, site in enumerate(self.sites):
            if self.radar_lost_s[k] == np.inf and geo.great_circle_distance_m(
                    site.lat_rad, site.lon_rad, lat, lon) <= reach:
                self.radar_lost_s[k] = t
                self.event(t, "radar_lost", threat=i, ecef=site.ecef, detail=site.name)
        for b in self.batteries:
            if self.battery_lost_s[b.index] == np.inf and geo.great_circle_distance_m(
                    b.lat_rad, b.lon_rad, lat, lon) <= reach:
                self.battery_lost_s[b.index] = t
                on_launchers, stranded = b.destroy(t)
                self.rounds_destroyed += on_launchers
                self.rounds_stranded += stranded
                self.event(t, "battery_lost", threat=i, battery=b.index, layer=b.layer, ecef=b.ecef,
                           detail=f"{b.name}: {on_launchers} rounds on the launchers lost, {stranded} left in the "
                                  "magazine with no launcher")

    def report(self, t_end: float) -> tuple[dict, dict, dict]:
        """``(defence_lost, emcon, faults)`` of the run record, the faults without the launch failures."""
        lost = dict(
            radars={s.name: float(t) for s, t in zip(self.sites, self.radar_lost_s) if np.isfinite(t)},
            batteries={b.name: float(t) for b, t in zip(self.batteries, self.battery_lost_s) if np.isfinite(t)},
            rounds_on_launchers=self.rounds_destroyed, rounds_stranded=self.rounds_stranded)
        emcon = dict(
            silent_scans={s.name: int(n) for s, n in zip(self.sites, self.silent_scans) if n},
            plots_lost_to_silence={s.name: int(n) for s, n in zip(self.sites, self.plots_lost_to_silence) if n})
        faults = dict(
            radar_down_s={s.name: down_seconds(w, t_end) for s, w in zip(self.sites, self.radar_down) if len(w)},
            launcher_down_s={b.name: sum(down_seconds(w, t_end) for w in b.down) for b in self.batteries if b.down})
        return lost, emcon, faults
