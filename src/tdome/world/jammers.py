"""Where the raid's noise jammers are, instant by instant (truth: the simulator's side only).

Two kinds radiate (:mod:`tdome.sensors.jamming` for what a radar makes of them; the
simulator hands them over as its :class:`~tdome.sensors.jamming.JammerState`):

- stand-off jammers, aircraft out of reach that hold a point or fly their
  route back and forth over great-circle legs at a constant altitude and
  speed, between their start and end times (:class:`JammerPath`);
- escort (self-screening) jammers, one carried by each threat of a group
  that names one, radiating from the threat's position while it flies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tdome import geo


@dataclass(frozen=True)
class JammerPath:
    """A stand-off jammer's track: waypoints (rad), altitude, speed, and its time on station."""

    lat_rad: np.ndarray
    lon_rad: np.ndarray
    alt_m: float
    speed_mps: float
    start_s: float
    end_s: float

    def __post_init__(self) -> None:
        legs = geo.great_circle_distance_m(self.lat_rad[:-1], self.lon_rad[:-1], self.lat_rad[1:], self.lon_rad[1:])
        object.__setattr__(self, "_legs", np.asarray(legs, dtype=float).reshape(-1))

    def active(self, t_s: float) -> bool:
        return self.start_s <= t_s <= self.end_s

    def position_ecef(self, t_s: float) -> np.ndarray:
        """ECEF position (3,) at ``t_s``: the distance flown since the start, folded back and forth over the route."""
        legs: np.ndarray = self._legs  # type: ignore[attr-defined]
        total = float(legs.sum())
        lat, lon = float(self.lat_rad[0]), float(self.lon_rad[0])
        if total > 0.0:
            s = np.mod(self.speed_mps * max(t_s - self.start_s, 0.0), 2.0 * total)
            s = 2.0 * total - s if s > total else s
            k = int(np.searchsorted(np.cumsum(legs), s, side="right"))
            k = min(k, legs.size - 1)
            along = s - float(legs[:k].sum())
            a, b = (self.lat_rad[k], self.lon_rad[k]), (self.lat_rad[k + 1], self.lon_rad[k + 1])
            brg = geo.initial_bearing_rad(a[0], a[1], b[0], b[1])
            lat, lon = (float(v) for v in geo.destination(a[0], a[1], brg, along))
        return geo.geodetic_to_ecef(lat, lon, self.alt_m)


@dataclass(frozen=True)
class Emitter:
    """One jammer type's figures, in SI units."""

    erp_w: float
    bandwidth_hz: float
    band_low_hz: float
    band_high_hz: float

    @property
    def figures(self) -> tuple[float, float, float, float]:
        return (self.erp_w, self.bandwidth_hz, self.band_low_hz, self.band_high_hz)

    @classmethod
    def of(cls, jt) -> Emitter:
        return cls(erp_w=float(jt.erp_w), bandwidth_hz=jt.bandwidth_mhz * 1e6, band_low_hz=jt.min_freq_ghz * 1e9,
                   band_high_hz=jt.max_freq_ghz * 1e9)


@dataclass(frozen=True)
class Jamming:
    """The run's jammers: stand-off ones with their paths, and the threat rows that carry one."""

    standoff: tuple[tuple[str, JammerPath, Emitter], ...]  # (name, path, emitter)
    escort_rows: np.ndarray  # truth rows that carry a jammer
    escort: tuple[Emitter, ...]  # their emitters, one per row

    def __post_init__(self) -> None:
        # Each emitter's figures as a row (ERP, bandwidth, band low, band high), made once.
        object.__setattr__(self, "_standoff_figures", [em.figures for _, _, em in self.standoff])
        object.__setattr__(self, "_escort_figures",
                           np.array([em.figures for em in self.escort], dtype=float).reshape(-1, 4))

    def __len__(self) -> int:
        return len(self.standoff) + int(self.escort_rows.size)

    def at(self, t_s: float, live_rows: np.ndarray, live_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The jammers radiating at ``t_s``: their ECEF positions (m, 3) and figures (m, 4: ERP W, bandwidth Hz,
        band low and high Hz); ``live_rows``/``live_pos``: the threats flying then and their ECEF positions."""
        on = [k for k, (_, path, _) in enumerate(self.standoff) if path.active(t_s)]
        pos = [self.standoff[k][1].position_ecef(t_s) for k in on]
        figures = [self._standoff_figures[k] for k in on]  # type: ignore[attr-defined]
        if self.escort_rows.size and live_rows.size:
            where = np.minimum(np.searchsorted(live_rows, self.escort_rows), live_rows.size - 1)
            flying = np.flatnonzero(live_rows[where] == self.escort_rows)
            pos.extend(live_pos[where[flying]])
            figures.extend(self._escort_figures[flying])  # type: ignore[attr-defined]
        return np.array(pos, dtype=float).reshape(-1, 3), np.array(figures, dtype=float).reshape(-1, 4)
