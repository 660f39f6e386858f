"""``tdome feed``: the simulator as a live source for ``tdome serve``.

The scenario runs as ``tdome run`` runs it (the same world, radars, network
and batteries, from the same seed), except that its C2 is the service in
another process: a :class:`RemoteC2` takes the simulated C2 node's place.

- Each radar scan goes out as CAT048 target reports (range, azimuth, the
  plot's height, and in tdome's I048/SP extension the measured elevation and
  range rate, which a missile's height and speed would overflow elsewhere)
  and a CAT034 north marker that closes the scan, with the radar's SAC/SIC,
  to the service's ASTERIX port.
- Each cycle the batteries' status goes to the engagement channel, and the
  orders, aim updates and emission-control orders the service sends back are
  carried out in the simulation at that cycle, as the simulated C2's would be.
- The service's CAT062 system tracks are read back: they are the run's
  tracks, scored against truth as a simulated run's are (each track is
  attributed to the live threat nearest it).

Time: the run's t = 0 is ``start_tod_s`` (the UTC time of day, by default
now), so the service's track time is that plus the run's time, across
midnight if it goes on.  ``speed`` paces the run at that many times real
time; with ``lockstep`` (the default) each cycle also waits for the service
to report the cycle decided (at most ``LOCKSTEP_TIMEOUT_S`` of wall time),
so a fast or busy machine gives the same battle as a slow one.
"""

from __future__ import annotations

import contextlib
import json
import math
import queue
import socket
import threading
import time
from collections import Counter
from types import SimpleNamespace

import numpy as np

from tdome import geo
from tdome.c2.core import CycleOutput
from tdome.c2.threat import evaluate_threats
from tdome.c2.tracking import AirPicture
from tdome.c2.tracking.picture import PlotAssociation
from tdome.live import asterix
from tdome.live.protocol import dumps, order_of, status_message
from tdome.live.service import DAY_S, system_reference
from tdome.messages import AimUpdate, BatteryStatus, Detections, FireOrder
from tdome.sim.build import c2_config

LOCKSTEP_TIMEOUT_S = 10.0
GATE_M = 5_000.0  # a track farther than this from every live threat is attributed to none


class RemoteC2:
    """Stands in for a C2 node's battle manager and picture source, and talks to ``tdome serve``."""

    def __init__(self, battle, host: str, speed: float, lockstep: bool, start_tod_s: float):
        sc = battle.sc
        self.battle = battle
        self.sites = battle.sites
        self.codes = [r.sac_sic(i) for i, r in enumerate(sc.radars)]
        self.config = c2_config(sc)
        self.cycle_s = float(sc.c2.cycle_s)
        self.live = sc.live
        self.speed, self.lockstep, self.tod0 = float(speed), bool(lockstep), float(start_tod_s)
        self.engagements: dict[int, SimpleNamespace] = {}
        self.stats: Counter = Counter()
        self.last_association = PlotAssociation.none()
        self.battery_index = {b.name: i for i, b in enumerate(battle.batteries)}
        self.ref_lat, self.ref_lon = system_reference(sc, self.sites)
        self.ref_rot = geo.enu_rotation(self.ref_lat, self.ref_lon)
        self.tracks: dict[int, tuple[float, np.ndarray, np.ndarray]] = {}  # track number -> (t, pos, vel)
        self.tracks_lock = threading.Lock()
        self.inbox: queue.Queue = queue.Queue()
        self.dst = (host, self.live.listen.port)
        self.tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.ctl = socket.create_connection((host, self.live.control.port), timeout=10.0)
        self.ctl.settimeout(None)
        self.rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        mine = self.live.cat062.to[0]
        self.rx.bind((mine.host, mine.port))
        self.rx.settimeout(0.2)
        self.now = 0.0  # the run's time at its latest decision
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._read_control, daemon=True),
                        threading.Thread(target=self._read_tracks, daemon=True)]
        for th in self.threads:
            th.start()
        self.wall0 = time.monotonic()
        self.first_seen: dict[int, float] = {}

    # ---- the sockets

    def _read_control(self) -> None:
        buf = b""
        while not self.stopping.is_set():
            try:
                data = self.ctl.recv(65_536)
            except OSError:
                return
            if not data:
                return
            buf += data
            *lines, buf = buf.split(b"\n")
            for line in lines:
                try:
                    self.inbox.put(json.loads(line))
                except ValueError:
                    self.stats["bad_control_lines"] += 1

    def _read_tracks(self) -> None:
        while not self.stopping.is_set():
            try:
                data = self.rx.recv(65_535)
            except TimeoutError:
                continue
            except OSError:
                return
            for trk in asterix.decode_cat062(data):
                self._track(trk)

    def _track(self, trk) -> None:
        t = self._service_to_run(trk.tod_s)
        lat, lon = math.radians(trk.lat_deg), math.radians(trk.lon_deg)
        alt = trk.alt_m if math.isfinite(trk.alt_m) else 0.0
        pos = geo.geodetic_to_ecef(lat, lon, alt)
        # I062/185 gives the velocity's east and north in the system frame, I062/220 its climb along the
        # track's own vertical: three projections, solved for the ECEF velocity.
        up = np.array([math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)])
        A = np.vstack([self.ref_rot[0], self.ref_rot[1], up])
        climb = trk.climb_mps if math.isfinite(trk.climb_mps) else 0.0
        vel = np.linalg.solve(A, np.array([trk.vx_mps, trk.vy_mps, climb]))
        with self.tracks_lock:
            self.tracks[int(trk.track_number)] = (t, np.asarray(pos, dtype=float), vel)
        self.stats["cat062_tracks_read"] += 1

    def _service_to_run(self, tod_s: float) -> float:
        """A time of day from the service to the run's time line (the day nearest the run's clock)."""
        return asterix.on_time_line(tod_s, self.tod0 + self.now) - self.tod0

    def _send_control(self, msg: dict) -> None:
        self.ctl.sendall(dumps(msg))

    def close(self) -> None:
        """Half-close the engagement channel (so the service reads all that was sent), then let go."""
        with contextlib.suppress(OSError):
            self.ctl.shutdown(socket.SHUT_WR)
        self.threads[0].join(timeout=5.0)  # the reader of the channel ends when the service closes its side
        self.stopping.set()
        for s in (self.ctl, self.rx, self.tx):
            with contextlib.suppress(OSError):
                s.close()

    # ---- the picture source's part

    def process(self, scan: Detections) -> None:
        """A radar scan: its plots as CAT048, then a north marker, to the service."""
        site = self.sites[scan.sensor]
        sac, sic = self.codes[scan.sensor]
        tod = (self.tod0 + scan.time_s) % DAY_S
        datagrams = []
        if len(scan):
            pos = site.ecef + geo.razel_to_enu(scan.range_m, scan.az_rad, scan.el_rad) @ site.enu_rot
            _, _, height = geo.ecef_to_geodetic(pos)
            datagrams += asterix.encode_cat048(sac, sic, tod, scan.range_m, np.mod(scan.az_rad, 2 * np.pi),
                                               height_m=height, rdot_mps=scan.rdot_mps, el_rad=scan.el_rad)
        datagrams.append(asterix.encode_cat034(sac, sic, 1, tod, rotation_period_s=site.revisit_s))
        for d in datagrams:
            self.tx.sendto(d, self.dst)
        self.stats["scans_sent"] += 1
        self.stats["plots_sent"] += len(scan)

    def picture(self, t: float) -> AirPicture:
        """The service's tracks as last read, predicted to ``t`` in a straight line."""
        with self.tracks_lock:
            items = sorted(self.tracks.items())
        # A track the service stopped sending (deleted) is dropped after two of its periods and a revisit.
        stale = 2 * max(self.live.cat062.period_s, 1.0) + max(s.revisit_s for s in self.sites)
        items = [(k, v) for k, v in items if t - v[0] <= stale]
        n = len(items)
        x = np.zeros((n, 6))
        last = np.zeros(n)
        for i, (_, (tk, pos, vel)) in enumerate(items):
            x[i, :3] = pos + vel * (t - tk)
            x[i, 3:] = vel
            last[i] = tk
        ids = np.array([k for k, _ in items], dtype=np.int64)
        first = np.array([self.first_seen.setdefault(int(k), float(t)) for k in ids.tolist()])
        return AirPicture(float(t), ids, x, np.full((n, 6, 6), np.nan), np.zeros(n, dtype=bool),
                          np.ones(n, dtype=np.int64), first, last)

    # ---- the battle manager's part

    def decide(self, now: float, statuses: list[BatteryStatus]) -> CycleOutput:
        self.now = now
        t_service = self.tod0 + now
        self._send_control(dict(type="status", time_s=t_service,
                                batteries=[dict(status_message(st), time_s=t_service) for st in statuses]))
        target = self.wall0 + now / self.speed if self.speed > 0 else 0.0
        orders: list[FireOrder] = []
        aims: list[AimUpdate] = []
        silence: list[tuple[str, float]] = []
        done = not self.lockstep
        # The service decides at multiples of the cycle on its own time line: the last one this status reaches.
        due = math.floor(t_service / self.cycle_s + 1e-9) * self.cycle_s
        deadline = time.monotonic() + LOCKSTEP_TIMEOUT_S
        while True:
            wait = max(target - time.monotonic(), 0.0)
            if done and wait <= 0.0:
                break
            try:
                msg = self.inbox.get(timeout=wait if done else max(min(deadline - time.monotonic(), 1.0), 0.01))
            except queue.Empty:
                if not done and time.monotonic() >= deadline:
                    self.stats["lockstep_timeouts"] += 1
                    done = True
                continue
            kind = msg.get("type")
            if kind == "cycle" and float(msg["time_s"]) >= due - 1e-6:
                done = True
            elif kind == "order":
                o = order_of(msg, self.battery_index)
                o = FireOrder(o.engagement_id, o.battery, o.track_id, o.rounds, o.launch_time_s - self.tod0,
                              o.intercept_time_s - self.tod0, o.aim_ecef)
                self.engagements[o.engagement_id] = SimpleNamespace(battery=o.battery, assessed=True)
                orders.append(o)
            elif kind == "aim":
                if int(msg["engagement_id"]) in self.engagements:
                    aims.append(AimUpdate(int(msg["engagement_id"]), tuple(msg["aim_ecef"])))
            elif kind == "emcon":
                silence.append((str(msg["radar"]), float(msg["until_s"]) - self.tod0))
        pic = self.picture(now)
        self._attribute(now, pic)
        threats = evaluate_threats(pic, self.battle.rec.assets, self.config.threat)
        self.stats["orders"] += len(orders)
        return CycleOutput(orders, aims, pic, threats, [], silence=silence)

    def launch_report(self, engagement_id: int, launch_s: float, intercept_s: float) -> None:
        e = self.engagements.get(engagement_id)
        self._send_control(dict(type="launch", battery=self.battle.batteries[e.battery].name if e else -1,
                                engagement_id=engagement_id, launch_s=self.tod0 + launch_s,
                                intercept_s=self.tod0 + intercept_s))

    def _attribute(self, t: float, pic: AirPicture) -> None:
        """Each track counts once more for the live threat nearest it (within :data:`GATE_M`): the truth the
        run's metrics score it against, as a simulated run's track is scored against the object of its plots."""
        if not len(pic):
            return
        pos, alive = self.battle.truth_pos(t)
        idx = np.flatnonzero(alive)
        if not idx.size:
            return
        d = np.linalg.norm(pic.x[:, None, :3] - pos[idx][None, :, :], axis=2)
        j = np.argmin(d, axis=1)
        for tid, jj, dist in zip(pic.track_id.tolist(), j.tolist(), d[np.arange(len(pic)), j].tolist()):
            if dist <= GATE_M:
                counts = self.battle.track_truth.setdefault(tid, {})
                row = int(idx[jj])
                counts[row] = counts.get(row, 0) + 1
                self.battle.track_latest[tid] = row


def attach_remote(host: str, speed: float, lockstep: bool, start_tod_s: float, holder: list):
    """The ``attach`` for :func:`tdome.sim.engine.run`: the C2 node in command becomes a :class:`RemoteC2`."""

    def attach(battle) -> None:
        c2 = battle.command.c2
        if len(c2) != 1 or battle.command.fire_control:
            raise ValueError("tdome feed drives one C2 node (architecture 'integrated', one C2 node); this scenario's "
                             f"architecture is '{battle.spec.architecture}' with {len(c2)} C2 node(s)")
        remote = RemoteC2(battle, host, speed, lockstep, start_tod_s)
        node = c2[0]
        node.bm = remote
        node.picture.source = remote
        holder.append(remote)

    return attach


def utc_time_of_day_s() -> float:
    """Now, as a whole second of the UTC day (the run's t = 0 on the service's time line)."""
    return float(math.floor(time.time() % DAY_S))
