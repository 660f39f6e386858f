"""How long `tdome serve` takes to answer: from a radar's datagram to the CAT062 update, and to a decision.

    python benchmarks/live_latency.py                        # 100 then 1,000 tracks: 20 s warm-up, 60 s measured
    python benchmarks/live_latency.py --tracks 100 --measure-s 30
    python benchmarks/live_latency.py --soak-s 600           # then a 10-minute soak at 1,000 tracks
    python benchmarks/live_latency.py --profile-service DIR  # each service under cProfile (DIR/service-N.prof)
    python benchmarks/live_latency.py --tracks 1000 --console  # with the operator's console open in Chromium

Measured from outside, as a user sees it.  Each size starts its own service
(``python -m tdome.cli serve``) on free loopback ports, with the default
scenario's defended side cut to its first 6 radars and ``live.cat062``
sending updates only (``period_s: 0``, ``on_update: true``).  This process
plays N aircraft in straight flight at 3-12 km and 150-250 m/s over the
radars (drawn within 80 km of their mean position where at least 3 of them
see it; one that leaves that circle is replaced by a new one elsewhere).
Every radar rotates at its own revisit, from a random phase: a revolution is
16 sectors, and when a sector has been swept its plots (every aircraft the
site covers, at the time the beam crossed it, with the site's range, azimuth
and elevation noise; the height from the noisy point, the elevation in the
I048/SP extension) go out as CAT048, then a CAT034 sector crossing at the
sector's end azimuth (a north marker at 0).  All radars interleave in time
order, paced by the wall clock; the time of day is a fixed base plus the
time since the start.  Every ``c2.cycle_s`` (1 s) one battery ``status``
message with all batteries goes on the engagement channel.

CAT062 latency: from sending a sector's CAT034 (the datagram that closes the
scan) to the receipt of the last CAT062 datagram of the update that scan
made, stamped by the kernel (SO_TIMESTAMPNS, on the same clock as
``time.time()`` at sending).  An update is matched to its scan by its time
of track, I062/070: the service writes its clock there, which is not the
scan's mean time but the latest time it has been given (an earlier radar's
CAT034 or a status can be later than the scan's plots).  So the sender gives
every clock-moving input (CAT034, status) a distinct time of day, later than
everything sent before it and than the plots it closes; an update whose time
of track is T then belongs to the first CAT034 sent with a time after T.
A scan that updates no confirmed track sends nothing and is not counted; a
CAT062 matched to a scan without plots is counted as a mismatch.

Decision latency: from sending the ``status`` for time T to the receipt of
the ``cycle`` message of time T (and of the ``order``/``recommendation``
messages of that cycle, if any).  The sender makes the status the first
input to reach T: a CAT034 that would be stamped at or after T waits for it
(the status goes out up to 16 ms early instead).

The first ``--warmup-s`` are not counted (numba kernels load, tracks
confirm).  After the last scan the sender waits for one more decision cycle
(so the service has handled everything), reads the kernel's drop count of the
service's UDP socket, and stops the service with SIGTERM; its session
folder's summary.json gives the plots it read and the inputs its queue
dropped.  The service's resident memory is sampled every ``--rss-every-s``.
The goal: p99 <= 50 ms at 1,000 tracks; in the soak, no growth in memory
and no plot lost.

``--console``: the service also serves its operator's console (one viewer
user), and headless Chromium (Debian's, driven by Playwright) keeps the page
open through the phase, as an operator would.  Measured in the page over the
measured seconds: each picture's drawing time (``tdomeConsole.frames``, the
canvas redrawn with every track's symbol), the browser's long tasks (50 ms
or more on its main thread: parsing a picture, drawing, the panels) and the
tracks drawn.  The service's latencies then include building and sending
the picture each cycle.  The load average is printed before and after, and the
last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import heapq
import json
import math
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from tdome import geo
from tdome.live import asterix
from tdome.live.net import free_loopback_ports
from tdome.live.protocol import dumps
from tdome.scenario import load_defended_side
from tdome.sim.build import sensor_sites

GOAL_P99_MS = 50.0
N_RADARS = 6
SECTORS = 16
TOD0 = 36_000.0  # time of day at the start of the sky, s (any: the service reads it from the reports)
LSB = 128  # time-of-day counts per second (I048/140, I034/030, I062/070)
RADIUS_M = 80_000.0  # aircraft fly within this of the radars' mean position
MIN_RADARS = 3  # an aircraft appears where at least this many radars see it
ALT_M, SPEED_MPS = (3_000.0, 12_000.0), (150.0, 250.0)
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux


# --------------------------------------------------------------------------------------------------- the sky


class Sky:
    """N aircraft in straight flight in the ENU frame of a centre point; one that leaves the circle is replaced."""

    def __init__(self, sites, n: int, rng: np.random.Generator):
        self.sites, self.rng = sites, rng
        lat0 = float(np.mean([s.lat_rad for s in sites]))
        lon0 = float(np.mean([s.lon_rad for s in sites]))
        self.rot = geo.enu_rotation(lat0, lon0)
        self.origin = geo.geodetic_to_ecef(lat0, lon0, 0.0)
        self.p0, self.v, self.t0 = np.zeros((n, 3)), np.zeros((n, 3)), np.zeros(n)
        self.spawned = 0
        self.spawn(np.arange(n), 0.0)

    def ecef(self, enu: np.ndarray) -> np.ndarray:
        return enu @ self.rot + self.origin

    def spawn(self, idx: np.ndarray, t: float) -> None:
        """New aircraft ``idx`` at time t, each where at least MIN_RADARS radars see it (bounded draws)."""
        todo = np.asarray(idx)
        for _ in range(100):
            if not todo.size:
                break
            m = todo.size
            r = RADIUS_M * np.sqrt(self.rng.uniform(size=m))
            th = self.rng.uniform(0.0, 2 * np.pi, m)
            p = np.column_stack([r * np.sin(th), r * np.cos(th), self.rng.uniform(*ALT_M, m)])
            seen = np.sum([s.covers(self.ecef(p)) for s in self.sites], axis=0)
            ok = seen >= MIN_RADARS
            take = todo[ok]
            hdg = self.rng.uniform(0.0, 2 * np.pi, take.size)
            spd = self.rng.uniform(*SPEED_MPS, take.size)
            self.p0[take] = p[ok]
            self.v[take] = np.column_stack([spd * np.sin(hdg), spd * np.cos(hdg), np.zeros(take.size)])
            self.t0[take] = t
            self.spawned += take.size
            todo = todo[~ok]

    def enu_at(self, idx: np.ndarray, t) -> np.ndarray:
        dt = np.broadcast_to(np.asarray(t, dtype=float), idx.shape) - self.t0[idx]
        return self.p0[idx] + self.v[idx] * dt[:, None]

    def renew(self, t: float) -> None:
        """Replace the aircraft that have left the circle."""
        idx = np.arange(len(self.t0))
        p = self.enu_at(idx, t)
        gone = idx[np.hypot(p[:, 0], p[:, 1]) > RADIUS_M]
        if gone.size:
            self.spawn(gone, t)


@dataclass
class Radar:
    """A rotating radar: revolution n starts at phase + n·revisit from north; 16 sectors a revolution."""

    site: object
    sac: int
    sic: int
    phase: float
    m: int = 0  # its next sector, counted from the start
    rev: int = -1
    sector_of: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    az_of: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def event_time(self) -> float:
        """When sector m has been swept (its end)."""
        return self.phase + (self.m + 1) * self.site.revisit_s / SECTORS

    def sector_plots(self, sky: Sky, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """Sector m's plots: (time, range, azimuth, elevation, height), by time.  Each aircraft falls in one sector
        a revolution: the one its azimuth at mid-revolution is in; it is seen when the beam crosses that azimuth."""
        R = self.site.revisit_s
        n, j = divmod(self.m, SECTORS)
        start = self.phase + n * R
        idx_all = np.arange(len(sky.t0))
        if n != self.rev:
            self.rev = n
            _, az, _ = geo.enu_to_razel(self.site.to_enu(sky.ecef(sky.enu_at(idx_all, start + R / 2))))
            self.az_of = az
            self.sector_of = np.minimum((az / (2 * np.pi) * SECTORS).astype(int), SECTORS - 1)
        idx = idx_all[self.sector_of == j]
        t = start + self.az_of[idx] / (2 * np.pi) * R
        xyz = sky.ecef(sky.enu_at(idx, t))
        seen = np.atleast_1d(self.site.covers(xyz)) if idx.size else np.zeros(0, dtype=bool)
        t, xyz = t[seen], xyz[seen]
        order = np.argsort(t)
        t, xyz = t[order], xyz[order]
        r, az, el = geo.enu_to_razel(self.site.to_enu(xyz))
        s = self.site
        r = r + rng.normal(0.0, s.sigma_range_m, r.shape)
        az = np.mod(az + rng.normal(0.0, s.sigma_az_rad, az.shape), 2 * np.pi)
        el = el + rng.normal(0.0, s.sigma_el_rad, el.shape)
        _, _, height = geo.ecef_to_geodetic(s.ecef + geo.razel_to_enu(r, az, el) @ s.enu_rot)
        return t, r, az, el, np.atleast_1d(height)


# --------------------------------------------------------------------------------------------------- listeners


def time_of_track(d: bytes) -> int | None:
    """I062/070 of a CAT062 datagram's first record, in 1/128 s; None when the record does not have it where the
    service puts it (I062/010, 015, 070 first; every record of a datagram has the same time)."""
    if len(d) < 5 or d[0] != 62:
        return None
    i = 3
    first = d[i]
    while i < len(d) and d[i] & 1:  # the FSPEC's extension octets
        i += 1
    i += 1
    if not first & 0x80 or first & 0x40 or not first & 0x10:  # FRN 1 (010), no FRN 2 (spare), FRN 4 (070)
        return None
    i += 2 + (1 if first & 0x20 else 0)  # 010, 015
    return int.from_bytes(d[i:i + 3], "big") if i + 3 <= len(d) else None


class Cat062Listener(threading.Thread):
    """Receives the service's CAT062: (kernel receipt time, time of track in 1/128 s) of each datagram."""

    def __init__(self, stop: threading.Event):
        super().__init__(name="cat062", daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = stop
        self.got: list[tuple[float, int | None]] = []
        self.samples: list[bytes] = []  # the first few, to check time_of_track against the decoder
        self.bytes = 0

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                data, anc, _flags, _addr = self.sock.recvmsg(65_535, socket.CMSG_SPACE(16))
            except TimeoutError:
                continue
            except OSError:
                return
            t = None
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(payload) >= 16:
                    sec, nsec = struct.unpack("qq", payload[:16])
                    t = sec + nsec * 1e-9
            if t is None:
                t = time.time()
            self.got.append((t, time_of_track(data)))
            self.bytes += len(data)
            if len(self.samples) < 100:
                self.samples.append(data)

    def close(self) -> None:
        self.sock.close()


class Channel(threading.Thread):
    """The engagement channel's client: reads every line the service sends, (receipt time, message)."""

    def __init__(self, port: int, stop: threading.Event):
        super().__init__(name="channel", daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10.0)
        self.sock.settimeout(0.2)
        self.stop = stop
        self.got: list[tuple[float, dict]] = []
        self.received_orders: dict[str, set[int]] = {}  # battery -> engagement ids, for its status
        self.lock = threading.Lock()

    def run(self) -> None:
        buf = b""
        while not self.stop.is_set():
            try:
                data = self.sock.recv(1 << 16)
            except TimeoutError:
                continue
            except OSError:
                return
            t = time.time()
            if not data:
                return
            *lines, buf = (buf + data).split(b"\n")
            for line in lines:
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                self.got.append((t, msg))
                if msg.get("type") == "order":
                    with self.lock:
                        self.received_orders.setdefault(msg["battery"], set()).add(int(msg["engagement_id"]))

    def send(self, msg: dict) -> None:
        self.sock.sendall(dumps(msg))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


# --------------------------------------------------------------------------------------------------- the service


def service_config(cat062_port: int, console_port: int | None = None):
    """The default scenario's defended side with its first 6 radars, on free loopback ports; its YAML."""
    side = load_defended_side("default")
    radars = side.radars[:N_RADARS]
    codes = [r.sac_sic(i) for i, r in enumerate(radars)]
    if len(set(codes)) != len(codes):
        raise SystemExit(f"the default scenario's first {N_RADARS} radars share a SAC/SIC: {codes}")
    udp, tcp = free_loopback_ports(2)
    live = side.live.model_copy(update=dict(
        listen=side.live.listen.model_copy(update={"host": "127.0.0.1", "port": udp}),
        control=side.live.control.model_copy(update={"host": "127.0.0.1", "port": tcp}),
        multicast_group=None,
        cat062=side.live.cat062.model_copy(update=dict(
            to=[side.live.cat062.to[0].model_copy(update={"host": "127.0.0.1", "port": cat062_port})],
            period_s=0.0, on_update=True)),
        console=side.live.console.model_copy(update=dict(http=side.live.console.http.model_copy(
            update={"host": "127.0.0.1", "port": console_port or side.live.console.http.port})))))
    kept = {r.name for r in radars}
    batteries = [b.model_copy(update=dict(  # fire-control radars and cueing among the radars kept
        radars=[n for n in b.radars if n in kept] or None if b.radars is not None else None,
        cued_by=[n for n in b.cued_by if n in kept])) for b in side.batteries]
    side = side.model_copy(update={"radars": radars, "batteries": batteries, "live": live})
    text = yaml.safe_dump(side.model_dump(mode="json"), sort_keys=False)
    with tempfile.TemporaryDirectory() as tmp:  # what the service will read, checked here first
        (Path(tmp) / "side.yaml").write_text(text)
        side = load_defended_side(Path(tmp) / "side.yaml")
    return side, codes, text


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_s(pid: int) -> float | None:
    """User + system CPU time of a process, s."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def udp_drops(port: int) -> int | None:
    """The kernel's count of datagrams dropped at the loopback UDP socket on ``port`` (its buffer was full)."""
    try:
        lines = Path("/proc/net/udp").read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        f = line.split()
        if len(f) >= 13 and f[1].endswith(f":{port:04X}"):
            return int(f[12])
    return None


class Service:
    """``tdome serve`` as a child process, always ended (``stop``)."""

    def __init__(self, config: Path, out: Path, duration_s: float, profile: Path | None, token: str | None = None):
        pre = ["-m", "cProfile", "-o", str(profile)] if profile else []
        cmd = [sys.executable, *pre, "-m", "tdome.cli", "serve", str(config), "--out", str(out),
               "--duration", f"{duration_s:.0f}"]
        self.log = open(out.parent / "service.log", "w")  # noqa: SIM115 - closed in stop()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "400"}
        if token is not None:  # one viewer for the console (the page's login)
            env["TDOME_TOKENS"] = f"bench:viewer:{token}"
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True, env=env)
        self.lines: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.lines.append(line.rstrip())
            if "ASTERIX in on" in line:
                self.ready.set()

    def wait_ready(self, timeout_s: float = 180.0) -> None:
        end = time.monotonic() + timeout_s
        while not self.ready.wait(0.2):
            if self.proc.poll() is not None or time.monotonic() > end:
                self.stop()
                tail = Path(self.log.name).read_text()[-3000:]
                raise SystemExit(f"tdome serve did not start:\n{tail}")

    def stop(self, timeout_s: float = 300.0) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the service writes its session folder and exits
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30.0)
        self.log.close()
        return self.proc.returncode


# --------------------------------------------------------------------------------------------------- a phase


def pct(values, *, ms: bool = True) -> dict:
    """p50, p99, max and count of latencies (s), in ms."""
    a = np.asarray(values, dtype=float) * (1e3 if ms else 1.0)
    if not a.size:
        return dict(p50=None, p99=None, max=None, n=0)
    return dict(p50=round(float(np.percentile(a, 50)), 2), p99=round(float(np.percentile(a, 99)), 2),
                max=round(float(a.max()), 2), n=int(a.size))


class ConsolePage(threading.Thread):
    """The operator's console in headless Chromium (Playwright), open from login to ``done``; what it measured."""

    def __init__(self, url: str, token: str, measuring: threading.Event, done: threading.Event):
        super().__init__(daemon=True)
        self.url, self.token, self.measuring, self.done = url, token, measuring, done
        self.result: dict = {}

    def run(self) -> None:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            self.result = dict(error="playwright is not installed (pip install -e '.[test]')")
            return
        chromium = shutil.which("chromium") or "/usr/bin/chromium"
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium, headless=True, args=[
                    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                page.add_init_script("""window.__long = []; new PerformanceObserver(l => l.getEntries().forEach(
                    e => window.__long.push(e.duration))).observe({type: 'longtask', buffered: true});""")
                page.goto(self.url, wait_until="load")
                page.fill("#token", self.token)
                page.click("#login")
                page.wait_for_function("() => window.tdomeConsole && tdomeConsole.connected", timeout=60_000)
                self.measuring.wait()
                page.evaluate("() => { tdomeConsole.frames.length = 0; window.__long.length = 0; }")
                shown = []
                while not self.done.wait(1.0):
                    shown.append(page.evaluate("tdomeConsole.drawn.tracks"))
                got = page.evaluate("() => ({frames: tdomeConsole.frames.slice(), long: window.__long.slice(),"
                                    " errors: (tdomeConsole.errors || []).slice()})")
                browser.close()
        except Exception as e:  # noqa: BLE001 - the benchmark reports what went wrong instead of dying mid-phase
            self.result = dict(error=f"{type(e).__name__}: {e}")
            return
        self.result = dict(draw_ms=pct(np.asarray(got["frames"]) / 1e3), draws=len(got["frames"]),
                           long_tasks=len(got["long"]), long_task_max_ms=round(max(got["long"], default=0.0), 1),
                           tracks_drawn_median=int(np.median(shown)) if shown else None, errors=got["errors"][:5])


def run_phase(n_tracks: int, warmup_s: float, measure_s: float, *, seed: int, rss_every_s: float,
              profile: Path | None, label: str, console: bool = False) -> dict:
    """One service, N aircraft for warmup_s + measure_s of real time: latencies, rates, memory, losses."""
    rng = np.random.default_rng(seed)
    stop = threading.Event()
    end_s = warmup_s + measure_s
    with tempfile.TemporaryDirectory(prefix="tdome-live-latency-") as tmp:
        tmp = Path(tmp)
        cat062 = Cat062Listener(stop)
        console_port = free_loopback_ports(1)[0] if console else None
        side, codes, text = service_config(cat062.port, console_port)
        config = tmp / "live.yaml"
        config.write_text(text)
        out = tmp / "session"
        token = f"bench-{os.getpid()}-{time.time_ns()}" if console else None
        svc = Service(config, out, end_s + 600.0, profile, token)
        channel = None
        page = None
        measuring, page_done = threading.Event(), threading.Event()
        rss: list[tuple[float, float]] = []
        try:
            svc.wait_ready()
            pid = svc.proc.pid
            if console:
                page = ConsolePage(f"http://127.0.0.1:{console_port}/", token, measuring, page_done)  # type: ignore[arg-type]
                page.start()
            cat062.start()
            channel = Channel(side.live.control.port, stop)
            channel.start()
            sites = sensor_sites(side)
            sky = Sky(sites, n_tracks, rng)
            radars = [Radar(s, sac, sic, float(rng.uniform(0.0, s.revisit_s))) for s, (sac, sic) in zip(sites, codes)]
            cycle_s = float(side.c2.cycle_s)
            dest = ("127.0.0.1", side.live.listen.port)
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)

            def status(k: int) -> float:
                """Send the batteries' status for cycle k (time k·cycle_s); its sending time."""
                with channel.lock:
                    got = {b: sorted(v) for b, v in channel.received_orders.items()}
                msg = dict(type="status", batteries=[
                    dict(battery=b.name, time_s=TOD0 + k * cycle_s, ready=b.launchers * b.rounds_per_launcher,
                         stock=b.magazine, orders_received=got.get(b.name, [])) for b in side.batteries])
                t = time.time()
                channel.send(msg)
                return t

            # markers[i]: (time of day count, sending time, plots, schedule time) of the i-th CAT034 sent
            m_count: list[int] = []
            m_sent: list[float] = []
            m_plots: list[int] = []
            m_sched: list[float] = []
            status_sent: dict[int, float] = {}
            next_status = 1  # the next cycle's status to send
            last_count = -1  # the latest clock-moving time sent, 1/128 s
            plots_sent = datagrams_sent = 0
            plots_measured = 0
            lag: list[float] = []
            heap = [(r.event_time(), k) for k, r in enumerate(radars)]
            heapq.heapify(heap)
            t_wall0 = time.monotonic()
            cpu_at_warm = None
            next_rss = 0.0

            def wait_until(s: float) -> None:
                d = t_wall0 + s - time.monotonic()
                if d > 0:
                    time.sleep(d)
                lag.append(max(0.0, time.monotonic() - (t_wall0 + s)))

            def send_status(k: int) -> None:
                nonlocal next_status, last_count
                status_sent[k] = status(k)
                last_count = max(last_count, round((TOD0 + k * cycle_s) * LSB))
                sky.renew(k * cycle_s)
                next_status = k + 1

            for _ in range(10_000_000):  # bounded: ends at end_s
                e_next, k = heap[0]
                s_next = next_status * cycle_s
                now = time.monotonic() - t_wall0
                if now >= next_rss:  # memory, every rss_every_s of wall time
                    v = rss_mb(pid)
                    if v is not None:
                        rss.append((round(now, 1), round(v, 1)))
                    next_rss = now + rss_every_s
                if cpu_at_warm is None and now >= warmup_s:
                    cpu_at_warm = (time.monotonic(), cpu_s(pid))
                    measuring.set()
                if min(e_next, s_next) > end_s:
                    break
                if s_next <= e_next:
                    wait_until(s_next)
                    send_status(next_status)
                    continue
                heapq.heappop(heap)
                r = radars[k]
                t, rng_m, az, el, height = r.sector_plots(sky, rng)
                grams = []
                if t.size:
                    grams = asterix.encode_cat048(r.sac, r.sic, TOD0 + t, rng_m, az, height_m=height, el_rad=el)
                count = max(math.ceil((TOD0 + e_next) * LSB) + 1, last_count + 1)
                j = r.m % SECTORS
                wait_until(e_next)
                if count >= round((TOD0 + s_next) * LSB):  # the status goes first: it is the first input at its time
                    send_status(next_status)
                    count = max(count, last_count + 1)
                kind, az_end = (1, 0.0) if j == SECTORS - 1 else (2, (j + 1) * 2 * math.pi / SECTORS)
                marker = asterix.encode_cat034(r.sac, r.sic, kind, count / LSB, sector_az_rad=az_end,
                                               rotation_period_s=r.site.revisit_s)
                for g in grams:
                    udp.sendto(g, dest)
                t_send = time.time()
                udp.sendto(marker, dest)
                datagrams_sent += len(grams) + 1
                plots_sent += int(t.size)
                if e_next >= warmup_s:
                    plots_measured += int(t.size)
                last_count = count
                m_count.append(count)
                m_sent.append(t_send)
                m_plots.append(int(t.size))
                m_sched.append(e_next)
                r.m += 1
                heapq.heappush(heap, (r.event_time(), k))
            cpu_end = (time.monotonic(), cpu_s(pid))
            page_done.set()
            if page is not None:
                page.join(120.0)
            # One more cycle after everything: when its message is back, the service has handled every input.
            final = next_status
            while round((TOD0 + final * cycle_s) * LSB) <= last_count:
                final += 1
            final_sent = status(final)
            drained = False
            for _ in range(3000):  # at most 60 s
                if any(m.get("type") == "cycle" and abs(m.get("time_s", -1) - (TOD0 + final * cycle_s)) < 1e-6
                       for _, m in channel.got[-200:]):
                    drained = True
                    break
                time.sleep(0.02)
            drain_s = time.time() - final_sent
            v = rss_mb(pid)
            if v is not None:
                rss.append((round(time.monotonic() - t_wall0, 1), round(v, 1)))
            kernel_drops = udp_drops(side.live.listen.port)
            time.sleep(0.3)
        finally:
            measuring.set()
            page_done.set()
            code = svc.stop()
            stop.set()
            cat062.close()
            if channel is not None:
                channel.close()
        summary_path = out / "summary.json"
        summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
        service_stdout = svc.lines[-3:]

    # CAT062 updates to scans: the first CAT034 sent with a time after the update's time of track.
    counts = np.asarray(m_count, dtype=np.int64)
    sched = np.asarray(m_sched)
    base = round(TOD0 * LSB)
    last_rx: dict[int, float] = {}
    unparsed = unmatched = 0
    for t_rx, c in cat062.got:
        if c is None:
            unparsed += 1
            continue
        c_abs = base + ((c - base) % round(asterix.DAY_S * LSB))  # no midnight in the sky: one day
        i = int(np.searchsorted(counts, c_abs, side="right"))
        if i >= len(counts):
            unmatched += 1
            continue
        last_rx[i] = max(last_rx.get(i, -math.inf), t_rx)
    mismatched = sum(1 for i in last_rx if m_plots[i] == 0)
    lat62 = [last_rx[i] - m_sent[i] for i in sorted(last_rx) if sched[i] >= warmup_s and m_plots[i] > 0]
    scans_with_plots = int(sum(1 for i, p in enumerate(m_plots) if p > 0 and sched[i] >= warmup_s))
    checked = 0
    for d in cat062.samples:  # time_of_track against the decoder
        tracks = asterix.decode_cat062(d)
        if tracks and all(round(tr.tod_s * LSB) == time_of_track(d) for tr in tracks):
            checked += 1
    # Decisions: from the status for time T to the cycle message of T (and its orders and recommendations).
    cycle_rx: dict[int, float] = {}
    order_rx: dict[int, float] = {}
    tracks_in_picture: list[int] = []
    orders = recommendations = 0
    for t_rx, m in channel.got:
        kind = m.get("type")
        if kind not in ("cycle", "order", "recommendation"):
            continue
        k = round((float(m.get("time_s", math.nan)) - TOD0) / cycle_s)
        if kind == "cycle":
            cycle_rx.setdefault(k, t_rx)
            if k * cycle_s >= warmup_s:
                tracks_in_picture.append(int(m.get("tracks", 0)))
        else:
            order_rx.setdefault(k, t_rx)
            if k * cycle_s >= warmup_s:
                orders += kind == "order"
                recommendations += kind == "recommendation"
    measured = [k for k in status_sent if k * cycle_s >= warmup_s and k != final]
    lat_cycle = [cycle_rx[k] - status_sent[k] for k in measured if k in cycle_rx]
    lat_order = [order_rx[k] - status_sent[k] for k in measured if k in order_rx]
    # Memory after the warm-up: first, last, max and the slope.
    after = [(t, v) for t, v in rss if t >= warmup_s] or rss
    slope = None
    if len(after) >= 3 and after[-1][0] > after[0][0]:
        slope = round(float(np.polyfit([t for t, _ in after], [v for _, v in after], 1)[0]) * 60.0, 2)
    inputs = summary.get("inputs", {})
    cpu = None
    if cpu_at_warm and cpu_at_warm[1] is not None and cpu_end[1] is not None and cpu_end[0] > cpu_at_warm[0]:
        cpu = round(100.0 * (cpu_end[1] - cpu_at_warm[1]) / (cpu_end[0] - cpu_at_warm[0]), 1)
    return dict(
        phase=label,
        tracks=n_tracks,
        aircraft_spawned=int(sky.spawned),
        tracks_in_picture_median=int(np.median(tracks_in_picture)) if tracks_in_picture else None,
        warmup_s=warmup_s,
        measured_s=measure_s,
        plots_per_s=round(plots_measured / measure_s, 1) if measure_s > 0 else None,
        scans_per_s=round(sum(1 for s in sched if s >= warmup_s) / measure_s, 1) if measure_s > 0 else None,
        cat062_latency_ms=pct(lat62),
        cat062_scans_with_plots=scans_with_plots,
        cat062_datagrams=len(cat062.got),
        cat062_unmatched=unmatched + unparsed,
        cat062_matched_to_empty_scan=mismatched,
        cat062_time_check=f"{checked}/{len(cat062.samples)}",
        decision_latency_ms=pct(lat_cycle),
        decision_cycles_without_message=len([k for k in measured if k not in cycle_rx]),
        order_latency_ms=pct(lat_order),
        orders=orders,
        recommendations=recommendations,
        plots_sent=plots_sent,
        plots_read=inputs.get("plots"),
        plots_lost=(plots_sent - inputs["plots"]) if "plots" in inputs else None,
        datagrams_sent=datagrams_sent,
        datagrams_read=inputs.get("datagrams"),
        dropped=summary.get("dropped"),
        udp_kernel_drops=kernel_drops,
        service_errors={k: v for k, v in inputs.items() if k.startswith("error:")},
        drained=drained,
        drain_s=round(drain_s, 3),
        sender_lag_ms=pct(lag),
        service_cpu_percent=cpu,
        rss_mb_first=after[0][1] if after else None,
        rss_mb_last=after[-1][1] if after else None,
        rss_mb_max=max(v for _, v in rss) if rss else None,
        rss_mb_per_min=slope,
        rss_samples=rss,
        service_exit=code,
        service_said=service_stdout,
        profile=str(profile) if profile else None,
        console=page.result if page is not None else None,
    )


def show(r: dict) -> None:
    c, d, o = r["cat062_latency_ms"], r["decision_latency_ms"], r["order_latency_ms"]
    print(f"  {r['phase']}: {r['tracks']} aircraft, {r['tracks_in_picture_median']} tracks in the picture, "
          f"{r['plots_per_s']} plots/s, {r['scans_per_s']} scans/s", flush=True)
    print(f"    CAT062 update after its scan's CAT034: p50 {c['p50']} ms, p99 {c['p99']} ms, max {c['max']} ms "
          f"over {c['n']} updates ({r['cat062_scans_with_plots']} scans with plots; "
          f"{r['cat062_matched_to_empty_scan']} matched to an empty scan, {r['cat062_unmatched']} unmatched)")
    print(f"    cycle message after its status: p50 {d['p50']} ms, p99 {d['p99']} ms, max {d['max']} ms over "
          f"{d['n']} cycles; {r['orders']} orders, {r['recommendations']} recommendations"
          + (f" (first of a cycle: p50 {o['p50']} ms, p99 {o['p99']} ms)" if o["n"] else ""))
    print(f"    plots sent {r['plots_sent']}, read {r['plots_read']}, lost {r['plots_lost']}; queue drops "
          f"{r['dropped']}, kernel drops {r['udp_kernel_drops']}; service CPU {r['service_cpu_percent']}% of a core; "
          f"RSS {r['rss_mb_first']} -> {r['rss_mb_last']} MB (max {r['rss_mb_max']}, {r['rss_mb_per_min']} MB/min); "
          f"sender lag p99 {r['sender_lag_ms']['p99']} ms", flush=True)
    cp = r.get("console")
    if cp and "error" in cp:
        print(f"    console: {cp['error']}", flush=True)
    elif cp:
        print(f"    console in Chromium: {cp['tracks_drawn_median']} tracks drawn; drawing a picture p50 "
              f"{cp['draw_ms']['p50']} ms, p99 {cp['draw_ms']['p99']} ms, max {cp['draw_ms']['max']} ms over "
              f"{cp['draws']} draws; {cp['long_tasks']} long tasks (max {cp['long_task_max_ms']} ms); "
              f"page errors {len(cp['errors'])}", flush=True)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tracks", default="100,1000", help="aircraft, comma-separated: one service each (default "
                                                         "100,1000)")
    ap.add_argument("--warmup-s", type=float, default=20.0, help="not counted, at the start of each (default 20)")
    ap.add_argument("--measure-s", type=float, default=60.0, help="measured, after the warm-up (default 60)")
    ap.add_argument("--soak-s", type=float, default=0.0, help="then a soak at 1,000 aircraft this long; 0: none")
    ap.add_argument("--soak-tracks", type=int, default=1000, help=argparse.SUPPRESS)
    ap.add_argument("--rss-every-s", type=float, default=10.0, help="service memory sampling period (default 10)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--console", action="store_true", help="open the operator's console in headless Chromium "
                                                           "through each phase and measure its drawing")
    ap.add_argument("--profile-service", type=Path, default=None, metavar="DIR",
                    help="run each service under cProfile, writing DIR/service-N.prof")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.tracks.split(",") if s.strip()]
    if any(n < 1 for n in sizes) or args.measure_s <= 0 or args.warmup_s < 0 or args.soak_s < 0:
        ap.error("tracks must be >= 1, --measure-s > 0, --warmup-s and --soak-s >= 0")
    if args.profile_service:
        args.profile_service.mkdir(parents=True, exist_ok=True)
    sys.setswitchinterval(1e-3)  # the engagement channel's reader wakes soon even while the sender computes
    # This process's collector, in full passes over the growing lists of receipts, paused its threads for up to
    # 0.4 s: the channel's reader stamps the decisions' receipt, so those pauses would count as the service's.
    # It makes no reference cycles worth collecting.
    gc.disable()
    load0 = os.getloadavg()
    print(f"tdome serve latency: {N_RADARS} radars, {SECTORS} sectors a revolution; {os.cpu_count()} cores; "
          f"load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}", flush=True)
    results = []
    phases = [(n, args.warmup_s, args.measure_s, f"{n} tracks") for n in sizes]
    if args.soak_s > 0:
        phases.append((args.soak_tracks, args.warmup_s, args.soak_s, f"soak, {args.soak_tracks} tracks"))
    for i, (n, warm, meas, label) in enumerate(phases):
        prof = args.profile_service / f"service-{i}.prof" if args.profile_service else None
        print(f"{label}: {warm:.0f} s warm-up, {meas:.0f} s measured ...", flush=True)
        r = run_phase(n, warm, meas, seed=args.seed + i, rss_every_s=args.rss_every_s, profile=prof, label=label,
                      console=args.console)
        results.append(r)
        show(r)
    load1 = os.getloadavg()
    big = [r for r in results if r["tracks"] == 1000 and not r["phase"].startswith("soak")]
    p99 = big[0]["cat062_latency_ms"]["p99"] if big else None
    soak = next((r for r in results if r["phase"].startswith("soak")), None)
    result = dict(
        benchmark="live_latency",
        radars=N_RADARS,
        cores=os.cpu_count(),
        goal_p99_ms=GOAL_P99_MS,
        cat062_p99_ms_at_1000=p99,
        goal_met=None if p99 is None else bool(p99 <= GOAL_P99_MS),
        sizes=[{k: v for k, v in r.items() if k != "rss_samples"} for r in results if r is not soak],
        soak=soak,
        load_average_start=round(load0[0], 2),
        load_average_end=round(load1[0], 2),
        python=sys.version.split()[0],
    )
    print(f"load average after: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
