"""The C2 core on live inputs: ASTERIX reports and battery messages in, system tracks and orders out.

:class:`LiveC2` is the whole service without its sockets (:mod:`tdome.live.net`
adds them).  It takes inputs one at a time, in the order they arrived:

- a datagram (:meth:`LiveC2.datagram`): CAT048 target reports and CAT034
  service messages from the radars, CAT021 ADS-B reports;
- a control message (:meth:`LiveC2.control`): a battery's status or launch
  report, as JSON (:mod:`tdome.live.protocol`).

Its clock is the defended system's own: the latest time stamped on what it
has received (each report's time of day, turned into continuous seconds
across midnight by :class:`~tdome.live.asterix.UnwrapTime`; a battery's
status time).  The battle manager decides once per ``c2.cycle_s`` of that
clock, and the full picture goes out every ``live.cat062.period_s``.  So the
same inputs in the same order give the same tracks and orders, whatever the
wall clock did: a recording of the inputs re-runs exactly
(``tdome serve --replay``).

Plots reach the tracker a radar scan at a time: the reports of one radar
between two of its CAT034 messages (north marker or sector crossing) are one
scan over the sector swept, at their mean time.  A radar that sends no
CAT034 messages has its reports grouped by time stamp.  CAT048 carries no
elevation: it is solved from the measured height (I048/110, else the Mode C
flight level) on the WGS-84 ellipsoid; a plot with neither is placed in the
middle of the height band aircraft and missiles fly in, with an elevation
accuracy that spans it.  A plot with tdome's measurement extension (I048/SP,
:mod:`tdome.live.asterix`) brings the elevation the radar measured.

ADS-B: a confirmed track within ``live.adsb_gate_m`` of a recent ADS-B
report is that aircraft: marked with its address and call sign, and never
engaged (the reason is sent with every order refused that way).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from tdome import geo
from tdome.c2.config import AUTHORITIES
from tdome.c2.core import BattleManager, CycleOutput
from tdome.c2.threat import evaluate_threats
from tdome.live import asterix
from tdome.live import picture as live_picture
from tdome.live.protocol import battery_status_of, order_message
from tdome.messages import LAYERS, THREAT_CLASSES, BatteryStatus, Detections, SensorSite
from tdome.runfolder import write_run_folder
from tdome.runfolder.layout import FILES_LIVE, PLOT_TYPES, THREAT_COLUMNS, TRACK_TYPES
from tdome.runfolder.write import RowSpool, write_plots
from tdome.scenario.schema import DefendedSide
from tdome.sim.build import build_assets, build_batteries, c2_config, sensor_sites
from tdome.sim.command import ID_BLOCK
from tdome.sim.scene import scene

# A plot with no height: placed at the middle of the band aircraft and missiles fly in, with a spread that covers it.
NO_HEIGHT_M, NO_HEIGHT_SIGMA_M = 6_000.0, 4_000.0
RECORD_EVERY_S = 2.0  # the tracks table's step, as in a simulated run
DAY_S = 86_400.0
# A time stamp this far ahead of the clock is believed only once JUMP_CONFIRMATIONS reports agree with it: one
# wrong report (a corrupt record, a radar with a bad clock) must not move the whole picture forward.
JUMP_S, JUMP_CONFIRMATIONS = 60.0, 3
MAX_CATCH_UP_CYCLES = 10  # after a confirmed jump, only the last few cycles of the gap are run
SPOOL_ROWS = 50_000  # plots and track rows held in memory at most: the rest are on disk (RowSpool)


@dataclass
class _Scan:
    """The reports of one radar since its last CAT034 message."""

    t: list[float] = field(default_factory=list)
    range_m: list[float] = field(default_factory=list)
    az_rad: list[float] = field(default_factory=list)
    height_m: list[float] = field(default_factory=list)
    el_rad: list[float] = field(default_factory=list)  # NaN: solved from the height
    rdot_mps: list[float] = field(default_factory=list)
    last_az_rad: float = math.nan  # the azimuth of the radar's last sector message (north: 0)

    def __len__(self) -> int:
        return len(self.t)


@dataclass
class Outputs:
    """Where the service's outputs go: callables the socket layer (or a test) provides."""

    cat062: Any = None  # (list[bytes]) -> None
    message: Any = None  # (dict) -> None: JSON-ready engagement messages
    picture: Any = None  # (dict) -> None: the operator's picture after each cycle (tdome.live.picture)


class LiveC2:
    """The C2 core fed by live inputs (see the module docstring)."""

    def __init__(self, side: DefendedSide, outputs: Outputs | None = None, spool_dir: Path | None = None):
        """``spool_dir``: where the session's plots and track rows wait on disk for :meth:`write` (the session
        folder, for a service; the system's temporary directory if None)."""
        self.side = side
        self.live = side.live
        self.out = outputs or Outputs()
        self.sites: list[SensorSite] = sensor_sites(side)
        self.assets = build_assets(side)
        self.units = build_batteries(side)
        self.config = c2_config(side)
        self.bm = BattleManager(self.sites, self.assets, self.config)
        self.restarts = 0
        self.radar_of = {r.sac_sic(i): i for i, r in enumerate(side.radars)}
        self.battery_index = {u.name: u.index for u in self.units}
        self._jump: tuple[float, int] | None = None  # a time ahead of the clock, and how many reports agree
        self.now = -math.inf
        self.cycle_s = float(side.c2.cycle_s)
        self.next_cycle = math.nan
        self.next_picture = math.nan
        self.next_record = math.nan
        self.scans = [_Scan() for _ in self.sites]
        self.status: dict[int, BatteryStatus] = {}
        self.counts: Counter = Counter()  # inputs, plots, errors by kind, unknown sources
        self.unknown_sources: Counter = Counter()
        self.events: list[dict] = []
        # the session's record, across restarts
        self.track_rows = RowSpool(TRACK_TYPES, group_rows=SPOOL_ROWS, tmp_dir=spool_dir)
        self.plot_rows = RowSpool(PLOT_TYPES, group_rows=SPOOL_ROWS, tmp_dir=spool_dir)
        # ADS-B: address -> (time, ECEF position, ECEF ground velocity, call sign) of its latest report
        self.adsb: dict[int, tuple[float, np.ndarray, np.ndarray, str]] = {}
        self.identified: dict[int, tuple[int, str]] = {}  # track id -> (address, call sign)
        self.last: CycleOutput | None = None
        self.last_cycle_s = math.nan  # its time
        lat0, lon0 = self.reference = system_reference(side, self.sites)
        self.reference_rot = geo.enu_rotation(lat0, lon0)
        self.reference_ecef = geo.geodetic_to_ecef(lat0, lon0, 0.0)
        self.updated: set[int] = set()  # tracks updated since the last CAT062 update
        # What the operator's picture shows beyond the battle manager's state (tdome.live.picture)
        self.radar_seen = [math.nan] * len(self.sites)  # time of each radar's latest report or service message
        self.silent_until: dict[str, float] = {}  # radar name -> end of the emission control ordered
        self.launched: set[int] = set()  # engagements a battery has reported launched
        self.endangering: dict[int, tuple[float, int]] = {}  # track -> (predicted arrival, asset): leak reports
        self.operator_log: list[dict] = []  # every operator action and every request left to expire
        self._published = 0  # events already in a picture
        self._requested: dict[int, str] = {}  # engagement -> layer of each request sent and not yet decided

    # ---- inputs

    def datagram(self, data: bytes) -> None:
        """One UDP datagram of ASTERIX, as received."""
        self.counts["datagrams"] += 1
        decoded = asterix.decode(data)
        for kind, _detail in decoded.errors:
            self.counts["error:" + kind] += 1
        for r in decoded.reports:
            if isinstance(r, asterix.TargetReport):
                self._target_report(r)
            elif isinstance(r, asterix.ServiceMessage):
                self._service_message(r)
            elif isinstance(r, asterix.AdsbReport):
                self._adsb(r)

    def control(self, msg: dict) -> None:
        """One message on the engagement channel (:mod:`tdome.live.protocol`)."""
        self.counts["control"] += 1
        kind = msg.get("type")
        try:
            if kind == "status":  # one battery's, or several batteries' reported together
                reports = msg.get("batteries", [msg])
                latest = -math.inf
                for m in reports:
                    unit = self.units[self._battery(m["battery"])]
                    st = battery_status_of(m, unit)
                    old = self.status.get(unit.index)
                    if old is None or (old.time_s or -math.inf) <= (st.time_s or -math.inf):
                        self.status[unit.index] = st
                    latest = max(latest, float(st.time_s))  # type: ignore[arg-type]
                t = self._time_of_status(latest)
                if t is not None:
                    self._advance(t)
            elif kind == "launch":
                launch_s, intercept_s = float(msg["launch_s"]), float(msg["intercept_s"])
                if not (math.isfinite(launch_s) and math.isfinite(intercept_s)):
                    raise ValueError("launch and intercept times must be finite")
                self.bm.launch_report(int(msg["engagement_id"]), launch_s, intercept_s)
                self.launched.add(int(msg["engagement_id"]))
                self._event(launch_s, "launch", track=int(msg.get("track_id", -1)),
                            battery=self._battery(msg["battery"]), rounds=int(msg.get("rounds", 0)),
                            detail=f"engagement {int(msg['engagement_id'])}: launched")
            else:
                self.counts["error:control_kind"] += 1
        except (KeyError, TypeError, ValueError, IndexError):
            self.counts["error:control_message"] += 1

    def _battery(self, key) -> int:
        """A battery's index from its name (or its index)."""
        if isinstance(key, str):
            return self.battery_index[key]
        if isinstance(key, int) and not isinstance(key, bool) and 0 <= key < len(self.units):
            return key
        raise ValueError(f"no battery {key!r}")

    def _radar(self, sac: int, sic: int, what: str) -> int | None:
        """The radar a report's SAC/SIC names; None (counted, per source) for a source not configured."""
        k = self.radar_of.get((sac, sic))
        if k is None:
            self.counts[what + "_unknown_source"] += 1
            self.unknown_sources[f"{sac}/{sic}"] += 1
        return k

    def _target_report(self, r: asterix.TargetReport) -> None:
        k = self._radar(r.sac, r.sic, "plots")
        if k is None:
            return
        if not math.isfinite(r.tod_s):
            self.counts["error:no_time"] += 1
            return
        t = self._time(r.tod_s)
        if t is None:
            return
        self.radar_seen[k] = t if not t < self.radar_seen[k] else self.radar_seen[k]
        scan = self.scans[k]
        if scan.t and abs(t - scan.t[0]) > self.sites[k].revisit_s / 2:  # no sector messages: by time stamp
            self._flush(k, None)
        self.counts["plots"] += 1
        height = r.height_m if math.isfinite(r.height_m) else r.flight_level_m
        scan.t.append(t)
        scan.range_m.append(r.range_m)
        scan.az_rad.append(r.az_rad)
        scan.height_m.append(height)
        scan.el_rad.append(r.el_rad)
        scan.rdot_mps.append(r.rdot_mps)

    def _service_message(self, m: asterix.ServiceMessage) -> None:
        k = self._radar(m.sac, m.sic, "service")
        if k is None:
            return
        self.counts["service_messages"] += 1
        if not math.isfinite(m.tod_s):
            return
        t = self._time(m.tod_s)
        if t is None:
            return
        self.radar_seen[k] = t if not t < self.radar_seen[k] else self.radar_seen[k]
        if m.kind in (1, 2):  # north marker, sector crossing: the scan so far is complete
            az = 0.0 if m.kind == 1 else (m.sector_az_rad if math.isfinite(m.sector_az_rad) else math.nan)
            self._flush(k, az, t)
        self._advance(t)

    def _adsb(self, a: asterix.AdsbReport) -> None:
        self.counts["adsb"] += 1
        if not (math.isfinite(a.tod_s) and math.isfinite(a.lat_deg) and math.isfinite(a.lon_deg)) or a.address < 0:
            self.counts["error:adsb_incomplete"] += 1
            return
        t = self._time(a.tod_s)
        if t is None:
            return
        lat, lon = math.radians(a.lat_deg), math.radians(a.lon_deg)
        alt = a.alt_m if math.isfinite(a.alt_m) else 0.0
        xyz = np.asarray(geo.geodetic_to_ecef(lat, lon, alt), dtype=float)
        ve = a.vel_east_mps if math.isfinite(a.vel_east_mps) else 0.0
        vn = a.vel_north_mps if math.isfinite(a.vel_north_mps) else 0.0
        vel = np.array([ve, vn, 0.0]) @ geo.enu_rotation(lat, lon)
        self.adsb[a.address] = (t, xyz, vel, a.callsign)

    def _time(self, tod_s: float) -> float | None:
        """A report's time of day on the service's time line: the day that puts it nearest the clock, so
        reports either side of midnight fall on the right day.

        The first time stamp starts the clock.  A time far from the clock (:data:`JUMP_S`) is believed only
        once :data:`JUMP_CONFIRMATIONS` reports in a row agree with it; until then the report is refused and
        counted.  A confirmed time far behind the clock means the clock was wrong (a corrupt first report):
        the picture starts again.
        """
        if not 0.0 <= tod_s < DAY_S:
            self.counts["error:time_of_day"] += 1
            return None
        if not math.isfinite(self.now):  # the first time stamp starts the clock
            return float(tod_s)
        t = asterix.on_time_line(tod_s, self.now)
        if abs(t - self.now) <= JUMP_S:
            self._jump = None
            return t
        seen, n = self._jump if self._jump is not None else (math.nan, 0)
        n = n + 1 if abs(t - seen) <= JUMP_S else 1
        self._jump = (t, n)
        if n < JUMP_CONFIRMATIONS:
            self.counts["time_unconfirmed"] += 1
            return None
        self._jump = None
        self.counts["clock_jumps"] += 1
        if t < self.now:
            self._restart(t)
        return t

    def _time_of_status(self, t: float) -> float | None:
        """A battery status time, already on the service's time line: checked against the clock as a report's
        time is (:meth:`_time`)."""
        if not math.isfinite(t):
            return None
        return self._time(t % DAY_S)

    def _restart(self, t: float) -> None:
        """The clock was wrong (confirmed reports far behind it): a new picture and battle manager from ``t``."""
        self._event(t, "clock_reset", detail=f"reports agree on {t:.1f} s, {self.now - t:.0f} s behind the clock: "
                                             "the picture starts again")
        self.restarts += 1  # numbered apart, so the session's record never gives two tracks one number
        authority = self.bm.authority  # an operator's setting outlives the picture
        self.bm = BattleManager(self.sites, self.assets, self.config, first_id=1 + self.restarts * ID_BLOCK)
        self.bm.authority = authority
        self.endangering = {}
        self.now = -math.inf
        self.next_cycle = self.next_picture = self.next_record = math.nan
        self.scans = [_Scan() for _ in self.sites]
        self.identified = {}
        self.updated = set()

    # ---- scans

    def _flush(self, k: int, sector_end_az: float | None, t_marker: float | None = None) -> None:
        """Radar ``k``'s reports since its last sector message, as one scan to the tracker."""
        scan = self.scans[k]
        start_az = scan.last_az_rad
        if sector_end_az is not None:
            scan.last_az_rad = sector_end_az
        if not scan.t and t_marker is None:
            return
        site = self.sites[k]
        sector = None
        if sector_end_az is not None and math.isfinite(sector_end_az) and math.isfinite(start_az):
            width = (sector_end_az - start_az) % (2 * math.pi)
            if width > 0.0:
                sector = (float(geo.wrap_angle(start_az + width / 2)), width / 2)
        t = np.asarray(scan.t, dtype=float)
        time_s = float(t.mean()) if t.size else float(t_marker)  # type: ignore[arg-type]
        if not t.size and sector is None:
            scan.__init__(last_az_rad=scan.last_az_rad)  # type: ignore[misc]
            return  # an empty scan of an unknown sector says nothing
        rng = np.asarray(scan.range_m, dtype=float)
        az = np.asarray(scan.az_rad, dtype=float)
        height = np.asarray(scan.height_m, dtype=float)
        measured = np.asarray(scan.el_rad, dtype=float)
        rdot = np.asarray(scan.rdot_mps, dtype=float)
        scan.__init__(last_az_rad=scan.last_az_rad)  # type: ignore[misc]
        el, sigma_el = measured.copy(), np.full(rng.size, float(site.sigma_el_rad))
        solve = ~np.isfinite(measured)  # the radar's own elevation (I048/SP) wins over one solved from a height
        if solve.any():
            el[solve], sigma_el[solve] = elevation_from_height(site, rng[solve], az[solve], height[solve])
        sigma = np.column_stack([np.full(rng.size, site.sigma_range_m), np.full(rng.size, site.sigma_az_rad),
                                 sigma_el])
        with_rdot = site.sigma_rdot_mps is not None and rng.size > 0 and bool(np.isfinite(rdot).all())
        if with_rdot:
            sigma = np.column_stack([sigma, np.full(rng.size, float(site.sigma_rdot_mps))])  # type: ignore[arg-type]
        det = Detections(time_s, k, rng, az, el, sigma, rdot if with_rdot else None, sector_rad=sector)
        self.counts["scans"] += 1
        if rng.size:
            pos = site.ecef + geo.razel_to_enu(rng, az, el) @ site.enu_rot
            lat, lon, alt = geo.ecef_to_geodetic(pos)
            self.plot_rows.extend_columns(t, np.full(rng.size, k, dtype=np.int64), rng, np.degrees(az),
                                          np.degrees(el), np.degrees(lat), np.degrees(lon), alt, height)
        if time_s < self.now - 600.0:  # older than any track could use
            self.counts["scans_too_old"] += 1
            return
        self._advance(time_s, strict=True)  # the cycles before it decide without it, as they would have
        self.bm.ingest(det)
        assoc = self.bm.tracker.last_association
        self.updated.update(assoc.track_id.tolist())
        if self.live.cat062.on_update and self.updated:
            self._send_tracks(self.now, only=self.updated)

    # ---- the clock

    def _advance(self, t: float, strict: bool = False) -> None:
        """Time has reached ``t``: run every cycle, picture and record due up to it (``strict``: before it; a
        scan at ``t`` comes first)."""
        if not math.isfinite(self.next_cycle):  # the first time stamp starts the clock
            self.next_cycle = math.ceil(t / self.cycle_s) * self.cycle_s
            period = self.live.cat062.period_s
            self.next_picture = math.ceil(t / period) * period if period > 0 else math.inf
            self.next_record = math.ceil(t / RECORD_EVERY_S) * RECORD_EVERY_S
        self.now = max(self.now, t)
        if self.next_cycle + MAX_CATCH_UP_CYCLES * self.cycle_s < t:  # a confirmed jump: skip the gap
            self.next_cycle = math.floor(t / self.cycle_s) * self.cycle_s - (MAX_CATCH_UP_CYCLES - 1) * self.cycle_s
            period = self.live.cat062.period_s
            if period > 0:
                self.next_picture = max(self.next_picture, math.floor(t / period) * period)
            self.next_record = max(self.next_record, math.floor(t / RECORD_EVERY_S) * RECORD_EVERY_S)
        due = (lambda at: at < t) if strict else (lambda at: at <= t)
        while due(self.next_cycle):
            self._cycle(self.next_cycle)
            self.next_cycle += self.cycle_s
        while due(self.next_picture):
            self._send_tracks(self.next_picture)
            self.next_picture += self.live.cat062.period_s
        while due(self.next_record):
            self._record(self.next_record)
            self.next_record += RECORD_EVERY_S

    def _cycle(self, now: float) -> None:
        self.counts["cycles"] += 1
        statuses = [self.status[k] for k in sorted(self.status)]
        self._identify(now)
        out = self.bm.decide(now, statuses)
        self.last, self.last_cycle_s = out, now
        for eid, tid, verdict in out.assessments:
            self._event(now, "assessed_" + verdict, track=tid, detail=f"engagement {eid}")
        for eid, tid, reason in out.withdrawn:
            self._event(now, "order_" + reason, track=tid, detail=f"engagement {eid}")
            layer = self._requested.pop(eid, None)
            if reason == "expired":  # a request no operator decided before its window closed
                self.operator_log.append(dict(time_s=now, wall_utc=None, user=None, role=None, action="expired",
                                              engagement_id=eid, layer=layer, authority=None, result="expired"))
        self._leaks(now, out)
        for tid in out.discriminated:
            self._event(now, "discriminated", track=tid, detail=f"track {tid} found light (a decoy)")
        for o in out.orders:
            self._order(now, "order", o)
        for o in out.requests:
            self._order(now, "recommendation", o)
            self._requested[o.engagement_id] = self.units[o.battery].layer
        for u in out.aim_updates:
            e = self.bm.engagements.get(u.engagement_id)
            if e is not None:
                self._send(dict(type="aim", time_s=now, engagement_id=u.engagement_id, battery=e.battery,
                                aim_ecef=list(u.aim_ecef)))
        for name, until in out.silence:
            self._send(dict(type="emcon", time_s=now, radar=name, until_s=until))
            self.silent_until[name] = max(until, self.silent_until.get(name, -math.inf))
        if statuses:  # the batteries as the C2 knows them: what it planned this cycle with
            self._send(dict(type="batteries", time_s=now, batteries=[
                dict(battery=st.name, layer=st.layer, ready=st.ready_rounds, stock=st.stock_rounds,
                     reported_s=st.time_s) for st in statuses]))
        self._send(dict(type="cycle", time_s=now, tracks=len(out.picture), orders=len(out.orders),
                        recommendations=len(out.requests)))
        if self.out.picture is not None:
            self.out.picture(self.picture(now))

    def picture(self, now: float) -> dict:
        """The operator's picture at ``now`` (:func:`tdome.live.picture.picture`) with the events since the last."""
        events = self.events[self._published:]
        self._published = len(self.events)
        return live_picture.picture(self, now, events)

    def _leaks(self, now: float, out: CycleOutput) -> None:
        """Leak reports: a track that endangered an asset and is past its predicted arrival without being assessed
        killed (the kill assessment given its time, after the intercept) has reached the asset, as far as the C2
        can tell."""
        killed = {tid for _eid, tid, verdict in out.assessments if verdict == "killed"}
        th = out.threats
        for i, tid in enumerate(th.track_id.tolist()):
            a, ttg = int(th.asset[i]), float(th.time_to_go_s[i])
            if a >= 0 and math.isfinite(ttg):
                self.endangering[tid] = (now + ttg, a)
            elif tid in self.endangering and now < self.endangering[tid][0]:
                del self.endangering[tid]  # it no longer threatens anything
        grace = float(self.config.doctrine.kill_assessment_s) + self.cycle_s
        for tid, (arrival, a) in list(self.endangering.items()):
            if tid in killed or tid in self.bm.light:
                del self.endangering[tid]
            elif now > arrival + grace:
                del self.endangering[tid]
                if not any(e.track_id == tid and e.assessed == "killed" for e in self.bm.engagements.values()):
                    self._event(now, "leak", track=tid, detail=f"track {tid} reached {self.assets[a].name} "
                                                             f"(predicted at {arrival:.1f} s) without a kill")

    # ---- the operator

    def operator(self, msg: dict) -> dict:
        """An operator's decision (a recorded input, so a replay repeats it): ``approve`` or ``reject`` a request,
        or set a layer's ``authority``.  ``msg`` names the user and role the API authenticated; only an operator
        decides.  Applied at the service's clock; the result says what came of it."""
        kind, user, role = msg.get("type"), str(msg.get("user", "")), str(msg.get("role", ""))
        wall_utc = msg.get("wall_utc") if isinstance(msg.get("wall_utc"), str) else None
        now = self.now if math.isfinite(self.now) else 0.0
        text = lambda v: v if isinstance(v, str) else None  # noqa: E731 - what the log keeps of a field: a string
        entry = dict(time_s=now, wall_utc=wall_utc, user=user, role=role, action=text(kind),
                     engagement_id=None, layer=None, authority=None, result="")
        if role != "operator":
            entry["result"] = "refused: not an operator"
        elif kind in ("approve", "reject"):
            try:
                eid = int(msg["engagement_id"])
            except (KeyError, TypeError, ValueError):
                eid = -1
            entry["engagement_id"] = eid
            entry["layer"] = self._requested.get(eid)
            entry["result"] = self._decide(now, kind, eid, user)
        elif kind == "authority":
            layer, mode = msg.get("layer"), msg.get("authority")
            entry.update(layer=text(layer), authority=text(mode))
            if layer not in LAYERS or mode not in AUTHORITIES:
                entry["result"] = "refused: no such layer or authority"
            else:
                entry["result"] = self._set_authority(now, str(layer), str(mode), user, wall_utc)
        else:
            entry["result"] = "refused: unknown action"
        self.counts["operator_actions"] += 1
        self.operator_log.append(entry)
        return dict(entry, authority_now=live_picture.authority(self))

    def _decide(self, now: float, kind: str, eid: int, user: str) -> str:
        e = self.bm.engagements.get(eid)
        if e is None or not e.awaiting:
            return "unknown"  # never a request, or already decided, expired or withdrawn
        layer = self.units[e.battery].layer
        self._requested.pop(eid, None)
        if kind == "reject":
            self.bm.reject(eid)
            self._event(now, "operator_reject", track=e.track_id, battery=e.battery, layer=layer,
                        detail=f"engagement {eid} rejected by {user}", user=user)
            return "rejected"
        order = self.bm.approve(eid, now)
        if order is None:
            self._event(now, "order_expired", track=e.track_id, battery=e.battery, layer=layer,
                        detail=f"engagement {eid}: approved by {user} after its shot window closed", user=user)
            return "expired"
        self._event(now, "operator_approve", track=e.track_id, battery=e.battery, layer=layer,
                    detail=f"engagement {eid} approved by {user}", user=user)
        self._order(now, "order", order)
        return "approved"

    def _set_authority(self, now: float, layer: str, mode: str, user: str, wall_utc: str | None) -> str:
        """A layer's authority from now on.  Requests of the layer still waiting follow it: under ``auto`` they go
        out (weapons free is the operator's decision for them too), under ``hold`` they are withdrawn."""
        old = self.bm.authority.get(layer, "auto")
        self.bm.set_authority(layer, mode)
        self._event(now, "operator_authority", layer=layer, detail=f"{layer} layer: {old} -> {mode} by {user}",
                    user=user)
        if mode != "confirm":
            action = "approve" if mode == "auto" else "reject"
            for e in self.bm.waiting():
                if self.units[e.battery].layer == layer:
                    result = self._decide(now, action, e.engagement_id, user)
                    self.operator_log.append(dict(time_s=now, wall_utc=wall_utc, user=user, role="operator",
                                                  action=action, engagement_id=e.engagement_id, layer=layer,
                                                  authority=mode, result=result))
        return "set"

    def _identify(self, now: float) -> None:
        """Tracks that are ADS-B aircraft: marked, and withheld from the battle manager's threat list."""
        if not self.adsb:
            return
        max_age = float(self.live.adsb_max_age_s)
        fresh = {a: v for a, v in self.adsb.items() if now - v[0] <= max_age}
        self.adsb = fresh
        if not fresh:
            return
        pic = self.bm.tracker.picture(now)
        if not len(pic):
            return
        addresses = list(fresh)
        # Each aircraft where its last report puts it now (ground velocity: up to adsb_max_age_s of dead reckoning).
        pts = np.array([fresh[a][1] + fresh[a][2] * (now - fresh[a][0]) for a in addresses])
        d = np.linalg.norm(pic.x[:, None, :3] - pts[None, :, :], axis=2)  # (tracks, aircraft)
        j = np.argmin(d, axis=1)
        near = d[np.arange(len(pic)), j] <= float(self.live.adsb_gate_m)
        for tid, jj, ok in zip(pic.track_id.tolist(), j.tolist(), near.tolist()):
            if ok and tid not in self.identified:
                a = addresses[jj]
                self.identified[tid] = (a, fresh[a][3])
                self.bm.light.add(tid)  # never engaged: the battle manager skips it as it does a decoy
                self._event(now, "identified", track=tid,
                            detail=f"track {tid} is ADS-B {a:06X} {fresh[a][3]}".rstrip() + ": never engaged")

    def _order(self, now: float, kind: str, o) -> None:
        unit = self.units[o.battery]
        self._event(now, kind, track=o.track_id, battery=o.battery, layer=unit.layer, rounds=o.rounds,
                    detail=f"engagement {o.engagement_id}: {o.rounds} x {unit.spec.name} from {unit.name}, "
                           f"intercept at {o.intercept_time_s:.1f} s")
        self._send(order_message(kind, now, o, unit.name))

    # ---- outputs

    def _send(self, msg: dict) -> None:
        if self.out.message is not None:
            self.out.message(msg)

    def _send_tracks(self, t: float, only: set[int] | None = None) -> None:
        """System tracks at ``t`` to the CAT062 destinations: all of them, or those just updated."""
        if only is not None:
            self.updated = set()
        if self.out.cat062 is None or not math.isfinite(t):
            return
        pic = self.bm.tracker.picture(t)
        if only is not None:
            keep = np.isin(pic.track_id, np.fromiter(only, dtype=np.int64, count=len(only)))
        else:
            keep = np.ones(len(pic), dtype=bool)
        if not keep.any():
            return
        self.counts["cat062_tracks"] += int(keep.sum())
        self.out.cat062(self.cat062_of(pic, keep, t))

    def cat062_of(self, pic, keep: np.ndarray, t: float) -> list[bytes]:
        """The CAT062 datagrams of the picture's tracks ``keep`` at ``t``."""
        x = pic.x[keep]
        lat, lon, alt = geo.ecef_to_geodetic(x[:, :3])
        enu_v = x[:, 3:] @ self.reference_rot.T
        xy = (x[:, :3] - self.reference_ecef) @ self.reference_rot.T
        up = np.einsum("ij,ij->i", x[:, 3:], _up(lat, lon))
        # Position and velocity in the system's Cartesian frame (east, north at the reference point), as
        # I062/100 and I062/185 define them; rate of climb along each track's own vertical.
        coasting = t - pic.last_update_s[keep] > 1.5 * max(s.revisit_s for s in self.sites)
        ballistic = pic.ballistic[keep]
        speed = np.linalg.norm(x[:, 3:], axis=1)
        # Along-track acceleration: gravity for a ballistic track, none for a constant-velocity one.
        along = np.where(ballistic, -9.81 * up / np.maximum(speed, 1.0), 0.0)
        long_code = np.where(along > 0.5, 1, np.where(along < -0.5, 2, 0))
        vert = np.where(up > 1.5, 1, np.where(up < -1.5, 2, 0))
        tod = t % DAY_S
        return asterix.encode_cat062(
            self.live.cat062.sac, self.live.cat062.sic, np.full(len(x), tod), pic.track_id[keep] % 65536,
            np.degrees(lat), np.degrees(lon), xy[:, 0], xy[:, 1], enu_v[:, 0], enu_v[:, 1], alt, up,
            confirmed=np.ones(len(x), dtype=bool), coasting=coasting, mode_of_movement_trans=np.zeros(len(x), int),
            mode_of_movement_long=long_code, mode_of_movement_vert=vert)

    # ---- the record

    def _event(self, t: float, kind: str, *, track: int = -1, battery: int = -1, layer: str = "", rounds: int = 0,
               detail: str = "", user: str | None = None) -> None:
        e = dict(time_s=float(t), kind=kind, threat_id=-1, track_id=int(track), battery=int(battery), layer=layer,
                 interceptor_id=-1, rounds=int(rounds), lat_deg=math.nan, lon_deg=math.nan, alt_m=math.nan,
                 detail=detail)
        if user is not None:  # the operator's picture names who acted; the events table says it in the detail
            e["user"] = user
        self.events.append(e)

    def _record(self, t: float) -> None:
        if self.last is not None and self.last_cycle_s == t:  # the cycle just run at t: its picture and threats
            pic, threats = self.last.picture, self.last.threats
            if not len(pic):
                return
        else:
            pic = self.bm.tracker.picture(t)
            if not len(pic):
                return
            threats = evaluate_threats(pic, self.assets, self.config.threat)
        lat, lon, alt = geo.ecef_to_geodetic(pic.x[:, :3])
        speed = np.linalg.norm(pic.x[:, 3:], axis=1)
        row_of = {tid: i for i, tid in enumerate(threats.track_id.tolist())}
        rows = []
        for i, tid in enumerate(pic.track_id.tolist()):
            j = row_of.get(tid)
            cls = THREAT_CLASSES[int(threats.cls[j])] if j is not None else ""
            asset = int(threats.asset[j]) if j is not None else -1  # the asset's index, as a simulated run's
            if tid in self.identified:
                cls = "aircraft"
            ilat = ilon = ttg = math.nan
            if j is not None and np.isfinite(threats.impact_ecef[j]).all():
                ttg = float(threats.time_to_go_s[j])
                la, lo, _ = geo.ecef_to_geodetic(threats.impact_ecef[j])
                ilat, ilon = float(np.degrees(la)), float(np.degrees(lo))
            rows.append((float(t), int(tid), float(np.degrees(lat[i])), float(np.degrees(lon[i])), float(alt[i]),
                         float(speed[i]), cls, asset, -1, math.nan, math.nan, math.nan, math.nan, ilat, ilon, ttg))
        self.track_rows.extend(rows)

    def engaged_layers(self) -> dict[int, str]:
        """Track -> the layer of the first open order on it (not awaiting an operator, not yet assessed)."""
        out: dict[int, str] = {}
        for e in self.bm.engagements.values():
            if not e.awaiting and not e.assessed and e.track_id not in out:
                out[e.track_id] = self.units[e.battery].layer
        return out

    def summary(self) -> dict:
        return dict(
            service="tdome serve", name=self.side.name, time_s=self.now if math.isfinite(self.now) else None,
            inputs={k: int(v) for k, v in sorted(self.counts.items())},
            unknown_sources=dict(self.unknown_sources),
            engagements=len(self.bm.engagements),
            identified={str(t): f"{a:06X} {c}".rstrip() for t, (a, c) in sorted(self.identified.items())},
            tracker=dict(self.bm.tracker.stats),
        )

    def write(self, out: Path, extra: dict | None = None) -> dict[str, Path]:
        """The session as a run folder: events, tracks and plots (no truth: the service never has it).  The
        radars' scans still open are closed first, so every plot received is in the folder.  Once only: the
        tracks and plots spooled on disk are moved into the folder."""
        for k in range(len(self.sites)):
            self._flush(k, None)
        summary = {**self.summary(), **(extra or {})}
        threats: dict[str, list] = {c: [] for c in THREAT_COLUMNS}
        events = [{k: v for k, v in e.items() if k != "user"} for e in self.events]
        paths = write_run_folder(Path(out), summary=summary, scene=self.scene(), events=events,
                                 tracks=self.track_rows, truth=[], threats=threats, interceptors=[])
        paths["plots"] = write_plots(Path(out), self.plot_rows)
        paths["operator"] = Path(out) / FILES_LIVE["operator"]
        paths["operator"].write_text("".join(json.dumps(e, allow_nan=False) + "\n" for e in self.operator_log))
        return paths

    def scene(self) -> dict:
        """The run folder's scene.json of the session: the map region, the assets, radars and batteries."""
        rec = SimpleNamespace(scenario=SimpleNamespace(name=self.side.name, seed=0, region=None), assets=self.assets,
                              sites=self.sites, batteries=self.units, impact_hits={},
                              raid=SimpleNamespace(trajectories=SimpleNamespace(impact_s=np.zeros(0))),
                              end_s=self.now if math.isfinite(self.now) else 0.0)
        lats = [math.degrees(s.lat_rad) for s in self.sites] + [math.degrees(a.lat_rad) for a in self.assets]
        lons = [math.degrees(s.lon_rad) for s in self.sites] + [math.degrees(a.lon_rad) for a in self.assets]
        extent = (min(lons) - 1.0, max(lons) + 1.0, min(lats) - 1.0, max(lats) + 1.0)
        return scene(rec, extent, RECORD_EVERY_S)


def system_reference(side: DefendedSide, sites: list[SensorSite]) -> tuple[float, float]:
    """(lat, lon) in radians of the system reference point of CAT062's Cartesian items: the configuration's,
    or the mean of the radar sites."""
    ref = side.live.cat062.reference
    if ref is None:
        return float(np.mean([s.lat_rad for s in sites])), float(np.mean([s.lon_rad for s in sites]))
    return math.radians(ref[0]), math.radians(ref[1])


def _up(lat, lon) -> np.ndarray:
    """Unit vectors (n, 3) of the local vertical at geodetic (lat, lon)."""
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def elevation_from_height(site: SensorSite, range_m: np.ndarray, az_rad: np.ndarray,
                          height_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Elevation (rad) at which a plot at slant range ``range_m`` and azimuth ``az_rad`` lies at ``height_m``
    above the WGS-84 ellipsoid, and its 1-σ (rad).

    A sphere of the site's radius gives the first guess; three Newton steps on the ellipsoid itself (the
    height of the point along the ray, and its derivative along the elevation) make it exact to well under
    the height's least significant bit.  A NaN height is :data:`NO_HEIGHT_M`, with a σ that spans the band.
    """
    r = np.asarray(range_m, dtype=float)
    az = np.asarray(az_rad, dtype=float)
    h = np.asarray(height_m, dtype=float)
    unknown = ~np.isfinite(h)
    h = np.where(unknown, NO_HEIGHT_M, h)
    R = geo.MEAN_RADIUS_M + site.alt_m
    rs = np.maximum(r, 1.0)
    s = ((geo.MEAN_RADIUS_M + h) ** 2 - R**2 - rs**2) / (2.0 * rs * R)
    el = np.arcsin(np.clip(s, -1.0, 1.0))
    for _ in range(3):
        enu = geo.razel_to_enu(rs, az, el)
        pos = site.ecef + enu @ site.enu_rot
        _, _, alt = geo.ecef_to_geodetic(pos)
        # d(height)/d(el): the ray's rate of climb along the local vertical, r cos of the angle between them.
        lat, lon, _ = geo.ecef_to_geodetic(pos)
        d_enu = geo.razel_to_enu(rs, az, el + 1e-6) - enu
        dh = np.einsum("ij,ij->i", d_enu @ site.enu_rot, _up(lat, lon)) / 1e-6
        el = el - (alt - h) / np.where(np.abs(dh) > 1.0, dh, 1.0)
    sigma = np.full(r.shape, float(site.sigma_el_rad))
    if unknown.any():
        spread = NO_HEIGHT_SIGMA_M / np.maximum(rs * np.cos(el), 1.0)
        sigma = np.where(unknown, np.hypot(sigma, spread), sigma)
    return el, sigma


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
