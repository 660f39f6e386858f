"""Data that crosses the boundary between the simulator (or a live feed) and the C2 core.

These are the only types both sides share.  They carry measurements, sensor
and effector configuration and orders, never truth: a live radar feed fills
the same :class:`Detections` the simulated radars do.  Data is a structure of
arrays (one scan = a few numpy arrays), configuration is small frozen objects.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from tdome import geo


class ThreatClass(enum.IntEnum):
    """The one threat-class vocabulary of the world, the C2 and the reports.

    The scenario's catalog gives each true threat its class; the C2 estimates
    a track's class from kinematics.  Arrays hold the integer codes; files and
    reports use the lower-case names (:data:`THREAT_CLASSES`).
    """

    BALLISTIC = 0
    ROCKET = 1
    CRUISE = 2
    DRONE = 3
    AIRCRAFT = 4

    @property
    def label(self) -> str:
        """The name in scenario files, catalogs and reports: 'ballistic', 'rocket', …"""
        return self.name.lower()


THREAT_CLASSES = tuple(c.label for c in ThreatClass)
# Free flight after burnout: predicted by gravity alone.
BALLISTIC_CLASS_NAMES = (ThreatClass.BALLISTIC.label, ThreatClass.ROCKET.label)
LAYERS = ("upper", "mid", "lower", "short")


@dataclass(frozen=True)
class SensorSite:
    """What the C2 knows about a radar: where it is, what it covers, how well it measures."""

    index: int
    name: str
    lat_rad: float
    lon_rad: float
    alt_m: float
    max_range_m: float
    min_range_m: float
    min_el_rad: float
    max_el_rad: float
    az_center_rad: float
    az_half_width_rad: float  # π for a full 360° radar
    revisit_s: float
    sigma_range_m: float
    sigma_az_rad: float
    sigma_el_rad: float
    sigma_rdot_mps: float | None = None  # None: the radar reports no range rate
    # Range within which the radar reliably detects a small target (reference
    # RCS, Pd 0.5): a scan that misses a track beyond it says little.  None: max range.
    small_target_range_m: float | None = None
    ecef: np.ndarray = field(init=False, repr=False, compare=False)
    enu_rot: np.ndarray = field(init=False, repr=False, compare=False)
    # The coverage volume as tdome.geo.in_coverage takes it: radar height, min and max range, min and max
    # elevation, sector centre and half width.
    coverage_limits: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ecef", geo.geodetic_to_ecef(self.lat_rad, self.lon_rad, self.alt_m))
        object.__setattr__(self, "enu_rot", geo.enu_rotation(self.lat_rad, self.lon_rad))
        object.__setattr__(self, "coverage_limits", tuple(float(v) for v in (
            self.alt_m, self.min_range_m, self.max_range_m, self.min_el_rad, self.max_el_rad, self.az_center_rad,
            self.az_half_width_rad)))

    def to_enu(self, xyz: np.ndarray) -> np.ndarray:
        """ECEF points (…, 3) to this site's ENU frame."""
        return (np.asarray(xyz) - self.ecef) @ self.enu_rot.T

    def covers(self, xyz: np.ndarray) -> np.ndarray:
        """True where ECEF points lie inside the radar's nominal coverage volume.

        Geometry only (range, sector, elevation limits, 4/3-Earth horizon: the
        compiled :func:`tdome.geo.coverage`); detection probability is the
        sensor model's business.  ``xyz`` is ``(..., 3)``; the result has its
        leading shape (a numpy bool for a single point).
        """
        xyz = np.ascontiguousarray(xyz, dtype=float)
        enu = self.to_enu(xyz)
        if xyz.ndim == 2:  # the common case: (n, 3) in, (n,) out
            return geo.coverage(xyz, enu, *self.coverage_limits)
        ok = geo.coverage(xyz.reshape(-1, 3), enu.reshape(-1, 3), *self.coverage_limits)
        return ok.reshape(xyz.shape[:-1]) if xyz.ndim > 1 else ok[0]


@dataclass
class Detections:
    """One scan of one sensor: plots as arrays of length n (n may be 0).

    Measurements are in the sensor's local frame: slant range, azimuth from
    north clockwise, elevation, and optionally range rate (positive opening).
    ``sigma`` gives each plot's 1-σ errors (n, 3) or (n, 4) with range rate.
    A jammed radar adds strobes: the bearings (azimuth, elevation) of the
    noise jammers it hears, with no range.  A rotating radar read live
    reports a revolution sector by sector: ``sector_rad`` (centre azimuth,
    half width) is the part of its coverage the scan swept, so a track
    elsewhere is not counted as missed; None: the whole coverage.
    """

    time_s: float
    sensor: int
    range_m: np.ndarray
    az_rad: np.ndarray
    el_rad: np.ndarray
    sigma: np.ndarray
    rdot_mps: np.ndarray | None = None
    strobe_az_rad: np.ndarray | None = None
    strobe_el_rad: np.ndarray | None = None
    sector_rad: tuple[float, float] | None = None

    def __len__(self) -> int:
        return int(self.range_m.shape[0])

    @property
    def z(self) -> np.ndarray:
        """Measurement vectors (n, 3) or (n, 4)."""
        cols = [self.range_m, self.az_rad, self.el_rad]
        if self.rdot_mps is not None:
            cols.append(self.rdot_mps)
        return np.stack(cols, axis=-1)


@dataclass
class PositionPlots:
    """One scan of a Cartesian feed: plots already converted to ECEF positions.

    For sources that report positions rather than radar measurements (a
    fusion node, a Link-style track feed, a benchmark): ``pos`` (n, 3) ECEF
    metres and ``cov`` (n, 3, 3) their error covariances (m²).  A feed whose
    ``sensor`` is not one of the tracker's :class:`SensorSite` entries is
    taken to cover everywhere.
    """

    time_s: float
    sensor: int
    pos: np.ndarray
    cov: np.ndarray

    def __len__(self) -> int:
        return int(self.pos.shape[0])


@dataclass(frozen=True)
class InterceptorSpec:
    """Notional interceptor performance, as the battle manager knows it."""

    name: str
    layer: str
    speed_mps: float
    min_range_m: float
    max_range_m: float
    min_alt_m: float
    max_alt_m: float
    reaction_s: float  # order to launch
    pk: dict[str, float]  # single-shot kill probability per threat class
    cost_usd: float
    launch_reliability: float = 1.0  # a round fired flies with this probability (a failed one is spent)


@dataclass
class BatteryStatus:
    """Effector status reported to the C2 each cycle."""

    index: int
    name: str
    layer: str
    lat_rad: float
    lon_rad: float
    alt_m: float
    interceptor: InterceptorSpec
    ready_rounds: int  # loaded on launchers that can fire now
    stock_rounds: int  # everything left, loaded or not
    initial_rounds: int
    ecef: np.ndarray | None = field(default=None, repr=False)  # computed from lat, lon, alt when not given
    time_s: float | None = None  # when the battery reported it; None: now
    # Engagement ids of every fire order the battery has received: the C2's acknowledgement of its orders.
    orders_received: frozenset[int] = field(default_factory=frozenset, repr=False)

    def __post_init__(self) -> None:
        if self.ecef is None:
            self.ecef = geo.geodetic_to_ecef(self.lat_rad, self.lon_rad, self.alt_m)


@dataclass(frozen=True)
class FireOrder:
    """Launch ``rounds`` interceptors from a battery at a track.

    ``engagement_id`` is the C2's handle on the shots: mid-course aim updates
    name it, and the effectors tag the interceptors they launch with it.
    """

    engagement_id: int
    battery: int
    track_id: int
    rounds: int
    launch_time_s: float
    intercept_time_s: float
    aim_ecef: tuple[float, float, float]  # predicted intercept point


@dataclass(frozen=True)
class AimUpdate:
    """Mid-course uplink: a newer predicted intercept point for an engagement's interceptors."""

    engagement_id: int
    aim_ecef: tuple[float, float, float]


@dataclass(frozen=True)
class DefendedAsset:
    """A defended asset as configured: a point with a radius, or a polygon."""

    name: str
    kind: str
    value: float
    lat_rad: float
    lon_rad: float
    radius_m: float = 0.0
    polygon_latlon_rad: tuple[tuple[float, float], ...] = ()

    def distance_m(self, lat_rad, lon_rad) -> np.ndarray:
        """Ground distance (m) from points to the asset's footprint (0 inside)."""
        lat = np.asarray(lat_rad, dtype=float)
        lon = np.asarray(lon_rad, dtype=float)
        if not self.polygon_latlon_rad:
            d = geo.great_circle_distance_m(self.lat_rad, self.lon_rad, lat, lon)
            return np.maximum(d - self.radius_m, 0.0)
        # Polygons are small (a few km): work in a local tangent plane.
        k = geo.MEAN_RADIUS_M
        c = np.cos(self.lat_rad)
        px, py = self.polygon_xy_m()
        x = (lon - self.lon_rad) * c * k
        y = (lat - self.lat_rad) * k
        return _distance_to_polygon(x, y, px, py)

    def polygon_xy_m(self) -> tuple[np.ndarray, np.ndarray]:
        """The polygon's vertices in the asset's local plane: x east, y north (m) from (lat, lon) on the mean sphere.

        x = (λ − λ₀) cos φ₀ R, y = (φ − φ₀) R: the plane :meth:`distance_m` measures polygons in.
        """
        poly = np.asarray(self.polygon_latlon_rad, dtype=float).reshape(-1, 2)
        k = geo.MEAN_RADIUS_M
        c = np.cos(self.lat_rad)
        return (poly[:, 1] - self.lon_rad) * c * k, (poly[:, 0] - self.lat_rad) * k


def _distance_to_polygon(x, y, px, py) -> np.ndarray:
    """Distance from points (x, y) to a simple polygon (px, py); 0 inside (even-odd rule)."""
    x = np.asarray(x, dtype=float)[..., None]
    y = np.asarray(y, dtype=float)[..., None]
    ax, ay = px, py
    bx, by = np.roll(px, -1), np.roll(py, -1)
    ex, ey = bx - ax, by - ay
    seg2 = np.maximum(ex * ex + ey * ey, 1e-12)
    t = np.clip(((x - ax) * ex + (y - ay) * ey) / seg2, 0.0, 1.0)
    dx, dy = x - (ax + t * ex), y - (ay + t * ey)
    d = np.sqrt(np.min(dx * dx + dy * dy, axis=-1))
    crosses = ((ay > y) != (by > y)) & (x < (bx - ax) * (y - ay) / np.where(by != ay, by - ay, 1e-12) + ax)
    inside = np.sum(crosses, axis=-1) % 2 == 1
    return np.where(inside, 0.0, d)
