"""A small synthetic sky: objects in flight seen by a configuration's radars, as the datagrams those radars would
send (CAT048 plots and a CAT034 north marker per scan), with the batteries' status as they would report it.  The
service warms up on it (:mod:`tdome.live.warmup`) and the tests feed it to the service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tdome import geo
from tdome.live import asterix
from tdome.messages import SensorSite


@dataclass
class Flight:
    """Flight at constant acceleration (none: straight flight): ECEF position at t = 0, velocity, acceleration."""

    pos: np.ndarray
    vel: np.ndarray
    acc: np.ndarray | None = None

    def at(self, t: float) -> np.ndarray:
        p = self.pos + self.vel * t
        return p if self.acc is None else p + 0.5 * self.acc * t * t

    @classmethod
    def over(cls, lat_deg: float, lon_deg: float, alt_m: float, heading_deg: float, speed_mps: float,
             climb_mps: float = 0.0) -> Flight:
        lat, lon = np.radians(lat_deg), np.radians(lon_deg)
        rot = geo.enu_rotation(lat, lon)
        h = np.radians(heading_deg)
        v_enu = np.array([speed_mps * np.sin(h), speed_mps * np.cos(h), climb_mps])
        return cls(np.asarray(geo.geodetic_to_ecef(lat, lon, alt_m), dtype=float), v_enu @ rot)


def scans(sites: list[SensorSite], codes: list[tuple[int, int]], flights: list[Flight], t0: float, t1: float,
          tod0: float, rng: np.random.Generator, noise: bool = True,
          with_elevation: Sequence[bool] | None = None) -> list[tuple[float, list[bytes]]]:
    """(time, datagrams) of every radar scan from t0 to t1, in time order: each radar scans at its revisit,
    reporting every flight inside its coverage with its accuracy's noise; ``with_elevation[k]``: radar k's
    plots carry their measured elevation (tdome's I048/SP extension), not only a height."""
    out = []
    for k, (site, (sac, sic)) in enumerate(zip(sites, codes, strict=True)):
        send_el = bool(with_elevation[k]) if with_elevation is not None else False
        for t in np.arange(t0, t1, site.revisit_s):
            xyz = np.array([f.at(t) for f in flights]).reshape(-1, 3)
            seen = np.atleast_1d(site.covers(xyz)) if len(flights) else np.zeros(0, dtype=bool)
            enu = site.to_enu(xyz[seen])
            r, az, el = geo.enu_to_razel(enu)
            if noise:
                r = r + rng.normal(0.0, site.sigma_range_m, r.shape)
                az = az + rng.normal(0.0, site.sigma_az_rad, az.shape)
                el = el + rng.normal(0.0, site.sigma_el_rad, el.shape)
            pos = site.ecef + geo.razel_to_enu(r, az, el) @ site.enu_rot
            _, _, height = geo.ecef_to_geodetic(pos)
            tod = (tod0 + t) % asterix.DAY_S
            datagrams = []
            if r.size:
                datagrams += asterix.encode_cat048(sac, sic, tod, r, np.mod(az, 2 * np.pi), height_m=height,
                                                   el_rad=el if send_el else None)
            datagrams.append(asterix.encode_cat034(sac, sic, 1, tod, rotation_period_s=site.revisit_s))
            out.append((float(t), datagrams))
    out.sort(key=lambda x: x[0])
    return out


# The order of inputs at one time: a scan's datagrams, then other datagrams (a caller's own, ADS-B), then status.
SCAN, OTHER, STATUS = 0, 1, 2


def full_status(batteries, tod_s: float) -> dict:
    """An engagement-channel status message: every battery (scenario ``batteries`` entries) loaded and ready."""
    return dict(type="status", batteries=[
        dict(battery=b.name, time_s=tod_s, ready=b.launchers * b.rounds_per_launcher, stock=b.magazine)
        for b in batteries])


def inputs(sites: list[SensorSite], codes: list[tuple[int, int]], flights: list[Flight], batteries, t0: float,
           t1: float, tod0: float, rng: np.random.Generator, *, status_every_s: float | None = 1.0,
           with_elevation: Sequence[bool] | None = None) -> list[tuple[float, int, bytes | dict]]:
    """(time, order, datagram or message) of every scan's datagrams (:func:`scans`) and, every
    ``status_every_s`` (None: never), the batteries' :func:`full_status`: for :func:`play`."""
    out: list[tuple[float, int, bytes | dict]] = [
        (t, SCAN, d) for t, grams in scans(sites, codes, flights, t0, t1, tod0, rng, with_elevation=with_elevation)
        for d in grams]
    if status_every_s is not None:
        out += [(float(t), STATUS, full_status(batteries, tod0 + t)) for t in np.arange(t0, t1, status_every_s)]
    return out


def play(c2, events: list[tuple[float, int, bytes | dict]]) -> None:
    """``events`` into a :class:`~tdome.live.service.LiveC2` in time order (at one time, by their order): a
    datagram as received over UDP, a message as received on the engagement channel."""
    for _, _, item in sorted(events, key=lambda e: (e[0], e[1])):
        if isinstance(item, bytes):
            c2.datagram(item)
        else:
            c2.control(item)
