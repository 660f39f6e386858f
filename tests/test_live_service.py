"""tdome serve on loopback: real sockets, real threads, bounded in count and time.

- a session is recorded, and ``--replay`` of the recording gives the same tracks, events and messages;
- 100,000 random and mutated datagrams neither crash the service nor spoil its picture of a clean feed after;
- under overload the oldest inputs are dropped, counted and said, and the queue never grows past its bound;
- the real recording (a published decoder's sample capture of seven radars) is read plot for plot, each
  attributed to its radar and placed where Wireshark's decoder says;
- bad configuration and options exit 2 with a clear message.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from asterix_tools import read_pcap, recording, tshark_records  # noqa: F401 - recording is a fixture
from tdome.live import asterix, sky
from tdome.live.net import Service, free_loopback_ports, read_recording, replay
from tdome.live.protocol import dumps
from tdome.live.sky import Flight
from tdome.runfolder.layout import FILES_LIVE
from tdome.scenario import load_defended_side, starter_scenario_path

TOD0 = 50_000.0


def side_on_free_ports(side=None, **live):
    side = side or load_defended_side(starter_scenario_path())
    udp, tcp, out = free_loopback_ports(3)
    settings = side.live.model_copy(update=dict(
        listen=side.live.listen.model_copy(update={"port": udp}),
        control=side.live.control.model_copy(update={"port": tcp}),
        cat062=side.live.cat062.model_copy(update={"to": [side.live.cat062.to[0].model_copy(update={"port": out})]}),
        **live))
    return side.model_copy(update={"live": settings})


class Running:
    """A :class:`Service` in a thread, stopped (and its folder written) on exit."""

    def __init__(self, side, out: Path, duration_s: float = 120.0):
        self.svc = Service(side, out)
        self.paths: dict = {}
        self.thread = threading.Thread(target=lambda: self.paths.update(self.svc.run(duration_s)), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self.svc

    def __exit__(self, *exc):
        self.svc.stop()
        self.thread.join(timeout=60.0)
        assert not self.thread.is_alive()


def same_table(a, b) -> bool:
    """Equal column for column, NaN equal to NaN (a track's truth errors are NaN in a live session)."""
    if a.schema != b.schema or a.num_rows != b.num_rows:
        return False
    for name in a.column_names:
        x, y = a.column(name).to_numpy(zero_copy_only=False), b.column(name).to_numpy(zero_copy_only=False)
        if not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
            return False
    return True


def wait_for(cond, timeout_s: float = 30.0, state=None) -> None:
    """Wait until ``cond()``; on a timeout the failure says ``state()``."""
    end = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < end, f"timed out: {state() if state else ''}"
        time.sleep(0.01)


def _sky_inputs(side, t1: float, seed: int = 3):
    """The datagrams of two flights over the starter's radars, and the batteries' status each second."""
    svc_sites = __import__("tdome.sim.build", fromlist=["sensor_sites"]).sensor_sites(side)
    codes = [r.sac_sic(i) for i, r in enumerate(side.radars)]
    flights = [Flight.over(24.9, 121.2, 9_000.0, 45.0, 230.0), Flight.over(24.6, 121.6, 4_000.0, 300.0, 180.0)]
    events = sky.inputs(svc_sites, codes, flights, side.batteries, 0.0, t1, TOD0, np.random.default_rng(seed))
    out = [(t, "udp", d) if isinstance(d, bytes) else (t, "tcp", dumps(d))
           for t, _, d in sorted(events, key=lambda e: (e[0], e[1]))]
    return flights, out


def _send(side, inputs, pace_s: float = 0.0) -> None:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket.create_connection(("127.0.0.1", side.live.control.port), timeout=10.0)
    try:
        for _, kind, data in inputs:
            if kind == "udp":
                udp.sendto(data, ("127.0.0.1", side.live.listen.port))
            else:
                tcp.sendall(data)
            if pace_s:
                time.sleep(pace_s)
    finally:
        udp.close()
        # Half-close and read to the end: a client that closes with the service's messages unread resets the
        # connection, and a reset discards what the service had not yet read.
        tcp.shutdown(socket.SHUT_WR)
        while tcp.recv(65_536):
            pass
        tcp.close()


def test_a_session_replays_to_the_same_tracks_and_messages(tmp_path):
    side = side_on_free_ports()
    _, inputs = _sky_inputs(side, 90.0)
    live = tmp_path / "live"
    with Running(side, live) as svc:
        _send(side, inputs, pace_s=2e-4)
        counts = svc.c2.counts
        wait_for(lambda: counts["datagrams"] >= sum(k == "udp" for _, k, _ in inputs), state=lambda: counts)
        wait_for(lambda: counts["control"] >= sum(k == "tcp" for _, k, _ in inputs), state=lambda: counts)
    recorded = list(read_recording(live / FILES_LIVE["received"]))
    assert len(recorded) == len(inputs)
    again = tmp_path / "again"
    replay(side, live / FILES_LIVE["received"], again)
    for name in ("tracks.parquet", "events.parquet", "plots.parquet"):
        assert same_table(pq.read_table(live / name), pq.read_table(again / name)), name
    assert (live / FILES_LIVE["messages"]).read_bytes() == (again / FILES_LIVE["messages"]).read_bytes()
    tracks = pq.read_table(live / "tracks.parquet").to_pydict()
    assert set(tracks["track_id"]) == {1, 2}  # two flights, two tracks, no more
    # The session folder is a run folder: the replay page plays it (tracks, no truth: the service has none).
    from tdome.runfolder import load_run_folder
    from tdome.viz.replay import write_replay

    page = write_replay(load_run_folder(live), tmp_path / "replay.html")
    assert page.stat().st_size > 10_000
    summary = json.loads((live / "summary.json").read_text())
    assert summary["dropped"] == 0 and summary["cat062_datagrams"] > 0


def test_reports_to_a_multicast_group_are_read(tmp_path):
    """Radar data is usually distributed by multicast: the service joins the group on its interface (loopback
    here: the group's traffic never leaves the machine)."""
    group = "239.255.86.1"
    side = side_on_free_ports(multicast_group=group)
    _, inputs = _sky_inputs(side, 20.0)
    udp_inputs = [d for _, k, d in inputs if k == "udp"]
    with Running(side, tmp_path / "mc") as svc:
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        for d in udp_inputs:
            tx.sendto(d, (group, side.live.listen.port))
        tx.close()
        wait_for(lambda: svc.c2.counts["datagrams"] >= len(udp_inputs), state=lambda: svc.c2.counts)
        assert svc.c2.counts["plots"] > 0 and not any(k.startswith("error:") for k in svc.c2.counts)


def _mutations(valid: list[bytes], n: int, rng: np.random.Generator):
    """n datagrams: random bytes, and valid ones with flipped bits, cut short, wrong length fields, another
    category or junk appended."""
    for i in range(n):
        kind = i % 6
        if kind == 0:
            yield rng.bytes(int(rng.integers(0, 300)))
            continue
        d = bytearray(valid[int(rng.integers(len(valid)))])
        if kind == 1:
            for _ in range(int(rng.integers(1, 4))):
                j = int(rng.integers(len(d)))
                d[j] ^= 1 << int(rng.integers(8))
        elif kind == 2:
            d = d[: int(rng.integers(0, len(d)))]
        elif kind == 3 and len(d) >= 3:
            d[1:3] = int(rng.integers(0, 65536)).to_bytes(2, "big")
        elif kind == 4:
            d[0] = int(rng.integers(256))
        else:
            d += rng.bytes(int(rng.integers(1, 40)))
        yield bytes(d)


def test_a_hundred_thousand_bad_datagrams_leave_the_picture_intact(tmp_path):
    side = side_on_free_ports()
    flights, inputs = _sky_inputs(side, 90.0)
    valid = [d for _, k, d in inputs if k == "udp"]
    rng = np.random.default_rng(7)
    with Running(side, tmp_path / "fuzz", duration_s=600.0) as svc:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sent = 0
        for d in _mutations(valid, 100_000, rng):
            udp.sendto(d, ("127.0.0.1", side.live.listen.port))
            sent += 1
            if sent % 2_000 == 0:  # keep within the queue and the socket's buffer
                wait_for(lambda target=sent - 1_000: svc.c2.counts["datagrams"] >= target, timeout_s=120.0)
        udp.close()
        wait_for(lambda: svc.c2.counts["datagrams"] >= sent - 50, timeout_s=120.0)
        bad = sum(v for k, v in svc.c2.counts.items() if k.startswith("error:"))
        assert bad > 50_000
        # Then a clean feed, later than anything the mutations said (a confirmed time moves the clock on):
        # it is tracked as well as if nothing had come before.
        shifted = [(t, k, d) for t, k, d in _sky_inputs(side, 90.0, seed=4)[1]]
        base = svc.c2.now
        _send(side, [(t, k, _later(d, k, base)) for t, k, d in shifted], pace_s=2e-4)
        wait_for(lambda: svc.c2.counts["datagrams"] >= sent + sum(k == "udp" for _, k, _ in shifted) - 5)
        time.sleep(0.5)
        c2 = svc.c2
        pic = c2.bm.tracker.picture(c2.now)
        t_sky = c2.now - (_shift(base) + TOD0)
        errs = [min(np.linalg.norm(p - f.at(t_sky)) for p in pic.x[:, :3]) for f in flights]
    assert max(errs) < 150.0, errs
    assert svc.dropped == 0


def _shift(base: float) -> float:
    """How far the clean feed is moved so that it starts after the clock the mutations left."""
    return max(0.0, np.ceil((base - TOD0) / 1000.0) * 1000.0 + 1000.0) if np.isfinite(base) else 0.0


def _later(data: bytes, kind: str, base: float) -> bytes:
    """The clean input moved later by :func:`_shift` (re-encoded: the time of day is in the records)."""
    shift = _shift(base)
    if kind == "tcp":
        msg = json.loads(data)
        for b in msg["batteries"]:
            b["time_s"] += shift
        return dumps(msg)
    out = []
    for r in asterix.decode(data).reports:
        tod = (r.tod_s + shift) % asterix.DAY_S
        if isinstance(r, asterix.TargetReport):
            out += asterix.encode_cat048(r.sac, r.sic, tod, np.array([r.range_m]), np.array([r.az_rad]),
                                         height_m=np.array([r.height_m]))
        else:
            out.append(asterix.encode_cat034(r.sac, r.sic, r.kind, tod, rotation_period_s=r.rotation_period_s))
    return b"".join(out)


def test_overload_drops_the_oldest_and_says_so(tmp_path, monkeypatch, caplog):
    side = side_on_free_ports(queue_datagrams=100)
    from tdome.live import service

    slow = service.LiveC2.datagram

    def datagram(self, data):  # a C2 core far slower than its input
        time.sleep(0.002)
        slow(self, data)

    monkeypatch.setattr(service.LiveC2, "datagram", datagram)
    _, inputs = _sky_inputs(side, 60.0)
    udp_inputs = [i for i in inputs if i[1] == "udp"]
    with caplog.at_level("WARNING", logger="tdome.live"), Running(side, tmp_path / "busy") as svc:
        peak = 0
        for _ in range(3):
            _send(side, udp_inputs)
            peak = max(peak, len(svc.queue))
        # Every datagram is either handled or dropped and counted.
        wait_for(lambda: svc.c2.counts["datagrams"] + svc.dropped == 3 * len(udp_inputs))
        assert svc.dropped > 0
        assert peak <= 100
    assert any("input queue full" in r.message for r in caplog.records)
    # said once, then at most every 10 s: far fewer warnings than drops
    assert sum("input queue full" in r.message for r in caplog.records) < 5


def _pcap_side(records):
    """A configuration with a radar for each SAC/SIC of the recording (sites notional: the recording's are not
    published; a plot is attributed and placed in its radar's own polar frame either way)."""
    side = load_defended_side(starter_scenario_path())
    codes = sorted({(r.sac, r.sic) for r in records})
    base = side.radars[0]
    radars = [base.model_copy(update=dict(name=f"radar {sac}/{sic}", sac=sac, sic=sic)) for sac, sic in codes]
    return side_on_free_ports(side.model_copy(update={"radars": radars})), codes


def test_the_real_recording_is_read_plot_for_plot(recording, tmp_path):  # noqa: F811 - the fixture
    from asterix_tools import need_tool

    need_tool("/usr/bin/tshark", "Wireshark's decoder is the independent reference")
    packets = read_pcap(recording)
    plots = [r for _, _, d in packets for r in asterix.decode(d).reports if isinstance(r, asterix.TargetReport)]
    side, codes = _pcap_side(plots)
    with Running(side, tmp_path / "real") as svc:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _, _, payload in packets:
            udp.sendto(payload, ("127.0.0.1", side.live.listen.port))
        udp.close()
        wait_for(lambda: svc.c2.counts["datagrams"] >= len(packets))
    got = pq.read_table(tmp_path / "real" / "plots.parquet").to_pydict()
    ports = sorted({p for _, p, _ in packets})
    v = "asterix.048_V1_31_"
    ref = [dict(fields) for block in tshark_records(recording, ports, ["asterix.i048_version:Version 1.31"])
           for cat, fields in block if cat == 48]
    ref = [f for f in ref if v + "040_RHO" in f]
    assert len(got["time_s"]) == len(ref) == len(plots)
    radar_of = {code: i for i, code in enumerate(codes)}
    # Plots are written in the order scans are closed, radar by radar: compare as sorted sets.
    mine = sorted((int(r), round(float(rng) / 1852 * 256), round(float(az) / 360 * 65536) % 65536)
                  for r, rng, az in zip(got["radar"], got["range_m"], got["az_deg"]))
    theirs = sorted((radar_of[(int(f[v + "010_SAC"], 0), int(f[v + "010_SIC"], 0))],
                     round(float(f[v + "040_RHO"]) * 256), round(float(f[v + "040_THETA"]) / 360 * 65536) % 65536)
                    for f in ref)
    assert mine == theirs


@pytest.mark.parametrize("args, message", [
    (["serve", "no-such-file.yaml"], "file not found"),
    (["serve", "--bind", "localhost"], "--bind"),
    (["serve", "--duration", "-1"], "--duration"),
])
def test_bad_options_exit_2_with_a_clear_message(args, message, tmp_path):
    r = subprocess.run([sys.executable, "-m", "tdome.cli", *args, "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr


def test_bad_live_section_is_refused_like_a_scenario(tmp_path):
    text = starter_scenario_path().read_text() + "\nlive:\n  listen: {host: 300.1.1.1, port: 8600}\n"
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    r = subprocess.run([sys.executable, "-m", "tdome.cli", "serve", str(f)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and "live.listen.host" in r.stderr and "IPv4" in r.stderr, r.stderr
