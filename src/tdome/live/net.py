"""``tdome serve``: :class:`~tdome.live.service.LiveC2` on sockets, in real time.

Two threads.  The receiver waits on every socket at once (the ASTERIX UDP
port and the engagement channel's TCP port and clients) and puts each input
in one bounded queue in the order it arrived; it drains the UDP socket before
it reads TCP, so a radar report sent before a battery's status is queued
before it.  The worker takes inputs from the queue, records each (the
session's recording, which ``tdome serve --replay`` re-runs) and hands it to
the C2 core, whose outputs go out at once: CAT062 datagrams to their
destinations, engagement messages to every connected client and to the
session's ``messages.jsonl``.

With users (``tdome serve --tokens``) a third thread serves the operator's
console and its API (:mod:`tdome.live.api`, :class:`Console`).  An operator's
decision comes to the worker through a queue of its own, which the worker
empties before it takes the next radar input, and is recorded like any other
input, so a replay makes the same decisions.  With a ``live.cot`` section the
picture also goes out as Cursor on Target (:class:`CotFeed`).

Overload: when the queue is full the oldest input is dropped, counted and
reported (once, then at most every 10 s), so the service stays responsive
and its memory bounded.  Malformed input is counted by kind and reported the
same way; nothing a sender does ends the service.  Everything binds to
127.0.0.1 unless the configuration or ``--bind`` says otherwise.
"""

from __future__ import annotations

import json
import logging
import math
import selectors
import socket
import struct
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tdome.live.protocol import MAX_LINE, dumps
from tdome.live.service import LiveC2, Outputs
from tdome.runfolder.layout import FILES_LIVE
from tdome.scenario.schema import DefendedSide

log = logging.getLogger("tdome.live")

DATAGRAM, CONTROL, OPERATOR = b"U", b"C", b"O"  # a radar's datagram, a battery's message, an operator's decision
RECORDING_MAGIC = b"TDREC1\n"
_RECORD = struct.Struct("<cdI")  # kind, arrival (s since the session began), payload length
RCVBUF_BYTES = 8 << 20


class RateLimitedLog:
    """Says each kind of trouble the first time, then at most once every ``every_s`` with the count since."""

    def __init__(self, every_s: float = 10.0):
        self.every_s = every_s
        self.last: dict[str, float] = {}
        self.since: Counter = Counter()

    def __call__(self, kind: str, text: str) -> None:
        now = time.monotonic()
        self.since[kind] += 1
        if now - self.last.get(kind, -float("inf")) >= self.every_s:
            n = self.since.pop(kind)
            log.warning("%s%s", text, f" ({n} since the last report)" if n > 1 else "")
            self.last[kind] = now


class Recorder:
    """The session's inputs as they arrived: a length-prefixed record per input."""

    def __init__(self, path: Path):
        self.f = open(path, "wb")  # noqa: SIM115 - closed by close()
        self.f.write(RECORDING_MAGIC)

    def write(self, kind: bytes, arrival_s: float, payload: bytes) -> None:
        self.f.write(_RECORD.pack(kind, arrival_s, len(payload)))
        self.f.write(payload)

    def close(self) -> None:
        self.f.close()


def free_loopback_ports(n: int, *, tries: int = 1000) -> list[int]:
    """``n`` distinct ports free on 127.0.0.1 for both UDP and TCP right now, for a service started on them
    (tests, benchmarks, scripts that run several services side by side).  Another process may take one before
    it is used: callers that must not fail retry."""
    out: list[int] = []
    for _ in range(tries):
        if len(out) == n:
            return out
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.bind(("127.0.0.1", port))
        except OSError:
            continue
        if port not in out:
            out.append(port)
    raise OSError(f"found {len(out)} of {n} free loopback ports in {tries} tries")


def read_recording(path: Path) -> Iterator[tuple[bytes, float, bytes]]:
    """(kind, arrival_s, payload) of every input of a recording, in order."""
    data = Path(path).read_bytes()
    if not data.startswith(RECORDING_MAGIC):
        raise ValueError(f"{path}: not a tdome serve recording")
    i = len(RECORDING_MAGIC)
    while i + _RECORD.size <= len(data):
        kind, arrival, n = _RECORD.unpack_from(data, i)
        i += _RECORD.size
        yield kind, arrival, data[i:i + n]
        i += n


def handle(c2: LiveC2, kind: bytes, payload: bytes) -> dict | None:
    """One recorded input to the C2 core (an operator's decision returns its result)."""
    if kind == DATAGRAM:
        c2.datagram(payload)
    elif kind == OPERATOR:
        return c2.operator(json.loads(payload))
    else:
        try:
            msg = json.loads(payload)
        except ValueError:
            c2.counts["error:control_json"] += 1
            return None
        if isinstance(msg, dict):
            c2.control(msg)
        else:
            c2.counts["error:control_message"] += 1
    return None


MAX_BACKLOG = 4 << 20  # bytes waiting for a client that does not read: beyond it the client is dropped


@dataclass
class _Client:
    """A client of the engagement channel: what it sent that is not yet a whole line, what waits to go to it."""

    sock: socket.socket
    buf: bytes = b""
    out: bytearray = field(default_factory=bytearray)
    dead: bool = False

    def flush(self) -> None:
        """Send what waits, as far as the socket takes it now (never blocks)."""
        try:
            while self.out:
                n = self.sock.send(self.out)
                del self.out[:n]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self.dead = True


class Service:
    """The live service: sockets, queue, threads (module docstring)."""

    def __init__(self, side: DefendedSide, out: Path, bind: str | None = None, users: list | None = None):
        """``users`` (:func:`tdome.live.auth.load_users`): who may use the console and its API; with none, the
        console's port is not opened."""
        self.side = side
        self.live = side.live
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.queue: deque = deque()
        self.max_queue = int(self.live.queue_datagrams)
        self.dropped = 0
        self.cv = threading.Condition()
        self.stopping = threading.Event()
        self.warn = RateLimitedLog()
        self.t0 = time.monotonic()
        host = bind or self.live.listen.host
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF_BYTES)
        group = self.live.multicast_group
        self.udp.bind((group if group else host, self.live.listen.port))
        if group:
            mreq = socket.inet_aton(group) + socket.inet_aton(host)
            self.udp.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        self.udp.setblocking(False)
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((bind or self.live.control.host, self.live.control.port))
        self.tcp.listen(16)
        self.tcp.setblocking(False)
        self.clients: dict[int, _Client] = {}
        self.clients_lock = threading.Lock()
        self.tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        # Multicast tracks leave by the interface the service listens on (loopback by default), never the route's.
        self.tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(host))
        self.dest = [(e.host, e.port) for e in self.live.cat062.to]
        self.recorder = Recorder(self.out / FILES_LIVE["received"])
        self.messages = open(self.out / FILES_LIVE["messages"], "wb")  # noqa: SIM115 - closed in run()
        self.c2 = LiveC2(side, Outputs(cat062=self._send_cat062, message=self._send_message), spool_dir=self.out)
        self.sent_datagrams = 0
        self.actions: deque = deque()  # operators' decisions waiting for the worker: (payload, future)
        self.console = None if not users else Console(self, users, bind or self.live.console.http.host)
        self.cot = None if self.live.cot is None else CotFeed(self.live.cot, side.name, host)
        if self.console is not None or self.cot is not None:
            self.c2.out.picture = self._picture

    @property
    def ports(self) -> tuple[int, int]:
        """(UDP input port, TCP engagement port) as bound (useful when the configuration gave port 0)."""
        return self.udp.getsockname()[1], self.tcp.getsockname()[1]

    @property
    def console_port(self) -> int | None:
        """The console's HTTP port as bound; None without a console."""
        return None if self.console is None else self.console.sock.getsockname()[1]

    def submit(self, action: dict) -> Future:
        """An operator's decision for the worker (any thread): a future of its result."""
        fut: Future = Future()
        with self.cv:
            self.actions.append((json.dumps(action, separators=(",", ":")).encode(), fut))
            self.cv.notify()
        return fut

    def _picture(self, msg: dict) -> None:
        """The operator's picture to the console and to TAK (worker thread).  Neither may ever stop the C2: a
        failure is said (rate-limited) and the picture skipped."""
        outs: list[tuple[str, Callable[[dict], None]]] = []
        outs += [("console", self.console.hub.publish)] if self.console is not None else []
        outs += [("cot", self.cot.picture)] if self.cot is not None else []
        for name, out in outs:
            try:
                out(msg)
            except (ValueError, TypeError, OSError) as e:
                self.warn("picture_" + name, f"the operator's picture could not go to the {name}: {e}")

    # ---- outputs (worker thread)

    def _send_cat062(self, datagrams: list[bytes]) -> None:
        for d in datagrams:
            for dst in self.dest:
                try:
                    self.tx.sendto(d, dst)
                    self.sent_datagrams += 1
                except OSError as e:
                    self.warn("send", f"CAT062 to {dst[0]}:{dst[1]} failed: {e}")

    def _send_message(self, msg: dict) -> None:
        line = dumps(msg)
        self.messages.write(line)
        with self.clients_lock:  # the receiver thread sends what a slow client leaves, and closes the dead
            for c in self.clients.values():
                if c.dead:
                    continue
                c.out += line
                if len(c.out) > MAX_BACKLOG:
                    c.dead = True
                    self.warn("slow_client", "engagement channel: a client that does not read was dropped")
                else:
                    c.flush()

    # ---- input (receiver thread)

    def _enqueue(self, kind: bytes, payload: bytes) -> None:
        with self.cv:
            if len(self.queue) >= self.max_queue:
                self.queue.popleft()
                self.dropped += 1
                self.warn("overload", f"input queue full ({self.max_queue} inputs): dropping the oldest")
            self.queue.append((kind, time.monotonic() - self.t0, payload))
            self.cv.notify()

    def _receive(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.udp, selectors.EVENT_READ, "udp")
        sel.register(self.tcp, selectors.EVENT_READ, "accept")
        while not self.stopping.is_set():
            ready = sel.select(timeout=0.05)
            keys = sorted(ready, key=lambda kv: kv[0].data != "udp")  # radar data first (module docstring)
            with self.clients_lock:
                for fd, c in list(self.clients.items()):
                    if c.out and not c.dead:
                        c.flush()
                    if c.dead:  # what it sent before it went still counts
                        while self._take(c):
                            pass
                        sel.unregister(c.sock)
                        c.sock.close()
                        del self.clients[fd]
            for key, _ in keys:
                if key.data == "udp":
                    self._drain_udp()
                elif key.data == "accept":
                    try:
                        conn, _addr = self.tcp.accept()
                    except OSError:
                        continue
                    conn.setblocking(False)  # a client that stops reading never stalls the service
                    with self.clients_lock:
                        self.clients[conn.fileno()] = _Client(conn)
                    sel.register(conn, selectors.EVENT_READ, "client")
                else:
                    self._read_client(sel, key.fileobj)  # type: ignore[arg-type]
        sel.close()

    def _drain_udp(self) -> None:
        while True:
            try:
                data = self.udp.recv(65_535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self.warn("recv", f"UDP receive failed: {e}")
                return
            self._enqueue(DATAGRAM, data)

    def _read_client(self, sel, sock: socket.socket) -> None:
        c = self.clients.get(sock.fileno())
        if c is not None:
            self._take(c)

    def _take(self, c: _Client) -> bool:
        """Read what a client has sent, queue its whole lines; False when nothing more is there now."""
        try:
            data = c.sock.recv(65_536)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            data = b""
        if not data:  # the client has gone: closed with the dead at the top of the loop
            c.dead = True
            return False
        c.buf += data
        *lines, c.buf = c.buf.split(b"\n")
        if len(c.buf) > MAX_LINE:
            self.warn("control_line", f"engagement channel: a line over {MAX_LINE} bytes dropped")
            c.buf = b""
        for line in lines:
            if line.strip():
                self._enqueue(CONTROL, line)
        return True

    # ---- the worker

    def run(self, duration_s: float | None = None) -> dict[str, Path]:
        """Serve until ``duration_s`` of wall time has passed (None: until :meth:`stop`); returns the run
        folder's files."""
        rx = threading.Thread(target=self._receive, name="tdome-receive", daemon=True)
        rx.start()
        if self.console is not None:
            self.console.start()
        deadline = None if duration_s is None else time.monotonic() + duration_s
        reported: Counter = Counter()
        next_report = 0.0
        try:
            while not self.stopping.is_set():
                with self.cv:  # one at a time: what waits stays in the queue, where overload drops the oldest
                    if not self.queue and not self.actions:
                        self.cv.wait(timeout=0.1)
                    action = self.actions.popleft() if self.actions else None  # an operator never waits on radars
                    item = self.queue.popleft() if self.queue and action is None else None
                if action is not None:
                    payload, fut = action
                    self.recorder.write(OPERATOR, time.monotonic() - self.t0, payload)
                    fut.set_result(handle(self.c2, OPERATOR, payload))
                if item is not None:
                    kind, arrival, payload = item
                    self.recorder.write(kind, arrival, payload)
                    handle(self.c2, kind, payload)
                if time.monotonic() >= next_report:  # malformed input: said once per kind, then rate-limited
                    next_report = time.monotonic() + 0.5
                    for k, v in self.c2.counts.items():
                        if k.startswith("error:") and v > reported[k]:
                            self.warn(k, f"malformed input: {k[6:]} ({v} in all)")
                            reported[k] = v
                if deadline is not None and time.monotonic() >= deadline:
                    break
        finally:
            self.stopping.set()
            rx.join(timeout=2.0)
            if self.console is not None:
                self.console.stop()
            while self.actions:  # decisions that came too late: their callers hear so
                now = self.c2.now if math.isfinite(self.c2.now) else 0.0
                self.actions.popleft()[1].set_result(dict(result="refused: the service stopped", time_s=now,
                                                          authority_now={}))
            if self.cot is not None:
                self.cot.close()
            for s in (self.udp, self.tcp, self.tx):
                s.close()
            with self.clients_lock:
                for c in self.clients.values():
                    c.sock.close()
            self.recorder.close()
            self.messages.close()
        return self.c2.write(self.out, dict(dropped=self.dropped, cat062_datagrams=self.sent_datagrams))

    def stop(self) -> None:
        self.stopping.set()
        with self.cv:
            self.cv.notify()


def replay(side: DefendedSide, recording: Path, out: Path) -> dict[str, Path]:
    """Re-run a session's recording through a new C2 core: the same tracks, events and messages."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / FILES_LIVE["messages"], "wb") as messages:
        c2 = LiveC2(side, Outputs(message=lambda m: messages.write(dumps(m))), spool_dir=out)
        n = 0
        for kind, _arrival, payload in read_recording(recording):
            handle(c2, kind, payload)
            n += 1
    return c2.write(out, dict(replayed=str(recording), inputs_replayed=n))


class Console:
    """The console and its API (:mod:`tdome.live.api`) on their own thread: uvicorn serving a socket bound here."""

    def __init__(self, service: Service, users: list, host: str):
        from tdome.live import picture
        from tdome.live.api import Hub, make_app
        from tdome.live.auth import Auth

        cfg = service.live.console
        self.hub = Hub(picture.hello(service.c2), cfg.history_s)
        self.hub.health = lambda: dict(time_s=service.c2.now if math.isfinite(service.c2.now) else None)
        self.auth = Auth(users, cfg.session_s)
        self.app = make_app(self.hub, self.auth, service.submit,
                            login_attempts_per_min=cfg.login_attempts_per_min, decisions_per_min=cfg.decisions_per_min)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, cfg.http.port))
        self.sock.listen(64)
        self.server: Any = None  # uvicorn's, made by start()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        import uvicorn

        # No access log: the requests' paths are no secret, but nothing of a request needs to be kept either.
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off",
                                ws_max_size=1 << 16, timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs=dict(sockets=[self.sock]),
                                       name="tdome-console", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=5.0)
        self.sock.close()


class CotFeed:
    """The picture as Cursor on Target events (:mod:`tdome.live.cot`), every ``period_s`` of track time."""

    def __init__(self, settings, name: str, host: str):
        from tdome.live.cot import CotSender

        self.settings, self.name = settings, name
        self.sender = CotSender([(e.host, e.port) for e in settings.to], interface=host)
        self.next_s = -math.inf

    def picture(self, msg: dict) -> None:
        from datetime import UTC, datetime

        from tdome.live.cot import cot_datagrams, time_line_origin

        t = float(msg["time_s"])
        if t < self.next_s:
            return
        self.next_s = t + float(self.settings.period_s)
        now = datetime.now(UTC)
        # The track time counts from a UTC midnight (tdome.live.service): the one that puts it nearest now.
        self.sender.send(cot_datagrams(msg, name=self.name, day_start_utc=time_line_origin(t, now), now_utc=now,
                                       stale_s=float(self.settings.stale_s), fmt=self.settings.format))

    def close(self) -> None:
        self.sender.close()
