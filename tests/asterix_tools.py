"""Test helpers for the live service's ASTERIX: pcap files written and read, tshark run, a real recording fetched.

- :func:`need_tool`: skip a test when an outside program is missing, but fail under CI, where
  ``.ci/install-tools`` should have installed it;
- :func:`write_pcap` / :func:`read_pcap`: classic pcap files (Ethernet, IPv4, UDP), small enough to check by eye;
- :func:`tshark_records`: Wireshark's decode of a pcap, record by record (an independent ASTERIX decoder);
- :func:`recording`: a session fixture with a real radar recording (CAT048 and CAT034 from several radars),
  fetched from the ``asterix-decoder`` source package on PyPI into pytest's temporary directory, never into
  the repository.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
import tarfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

TSHARK = "/usr/bin/tshark"
INSTALL_TOOLS = ".ci/install-tools installs it"


def need_tool(path: str, why: str) -> str:
    """``path`` if the program is there; otherwise skip the test, or fail it when CI is "true".

    ``why`` tells the reader how to get it, e.g. ".ci/install-tools installs it".
    """
    if os.path.exists(path):
        return path
    msg = f"{Path(path).name} missing: {why}"
    if os.environ.get("CI") == "true":
        pytest.fail(msg)
    pytest.skip(msg)


def _unavailable(msg: str):
    """Skip the test for something the network could not give; under CI, fail it."""
    if os.environ.get("CI") == "true":
        pytest.fail(msg)
    pytest.skip(msg)


# --------------------------------------------------------------------------------------------------- pcap

_PCAP_HEADER = struct.Struct("<IHHiIII")  # magic, version 2.4, zone, sigfigs, snaplen, linktype
_PACKET_HEADER = struct.Struct("<IIII")  # seconds, microseconds, captured length, original length
_LINKTYPE_ETHERNET = 1
LOCALHOST = bytes((127, 0, 0, 1))


def _ip_checksum(header: bytes) -> int:
    """The IPv4 header checksum (RFC 791): one's complement of the one's-complement sum of 16-bit words."""
    s = sum(struct.unpack(f">{len(header) // 2}H", header))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def write_pcap(path: Path, datagrams: Iterable[bytes], *, dst_port: int = 8600, src_port: int = 40000,
               t0_s: float = 0.0, dt_s: float = 0.001) -> Path:
    """Datagrams as UDP packets from and to 127.0.0.1 (Ethernet, IPv4 with its checksum, UDP without one)."""
    out = [_PCAP_HEADER.pack(0xA1B2C3D4, 2, 4, 0, 0, 65535, _LINKTYPE_ETHERNET)]
    for i, payload in enumerate(datagrams):
        udp = struct.pack(">HHHH", src_port, dst_port, 8 + len(payload), 0) + payload
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0x4000, 64, 17, 0, LOCALHOST, LOCALHOST)
        ip = ip[:10] + struct.pack(">H", _ip_checksum(ip)) + ip[12:]
        frame = bytes(12) + b"\x08\x00" + ip + udp  # zero MAC addresses, EtherType IPv4
        t_us = round((t0_s + i * dt_s) * 1e6)
        out.append(_PACKET_HEADER.pack(t_us // 1_000_000, t_us % 1_000_000, len(frame), len(frame)) + frame)
    path = Path(path)
    path.write_bytes(b"".join(out))
    return path


def read_pcap(path: Path) -> list[tuple[float, int, bytes]]:
    """(time s, UDP destination port, UDP payload) of every IPv4 UDP packet of a classic Ethernet pcap.

    The payload is cut at the UDP length: short frames carry Ethernet padding after it.  Either byte order,
    microsecond or nanosecond stamps; 802.1Q VLAN tags are skipped; IP fragments and other packets are left out.
    """
    data = Path(path).read_bytes()
    magic = data[:4]
    orders = {b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\xa1\xb2\xc3\xd4": (">", 1e-6),
              b"\x4d\x3c\xb2\xa1": ("<", 1e-9), b"\xa1\xb2\x3c\x4d": (">", 1e-9)}
    if magic not in orders:
        raise ValueError(f"{path}: not a classic pcap file")
    order, tick = orders[magic]
    linktype = struct.unpack_from(order + "I", data, 20)[0]
    if linktype != _LINKTYPE_ETHERNET:
        raise ValueError(f"{path}: link type {linktype}, not Ethernet")
    out = []
    off = 24
    while off + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack_from(order + "IIII", data, off)
        frame = data[off + 16 : off + 16 + caplen]
        off += 16 + caplen
        eth = 14
        ethertype = struct.unpack_from(">H", frame, 12)[0] if len(frame) >= 14 else 0
        while ethertype == 0x8100 and len(frame) >= eth + 4:  # VLAN tag
            ethertype = struct.unpack_from(">H", frame, eth + 2)[0]
            eth += 4
        if ethertype != 0x0800 or len(frame) < eth + 20:
            continue
        ihl = (frame[eth] & 0x0F) * 4
        total, flags_frag = struct.unpack_from(">H2xH", frame, eth + 2)
        if frame[eth + 9] != 17 or flags_frag & 0x3FFF:  # not UDP, or a fragment (MF set or an offset)
            continue
        udp = frame[eth + ihl : eth + total]
        if len(udp) < 8:
            continue
        dst_port, length = struct.unpack_from(">2xHH", udp)
        out.append((sec + frac * tick, dst_port, udp[8:length]))
    return out


# --------------------------------------------------------------------------------------------------- tshark


def _flat(node, out: dict) -> dict:
    """A record's JSON tree as {field name: value}, leaves only (a repeated field keeps its list)."""
    for key, value in node.items():
        if isinstance(value, dict):
            _flat(value, out)
        else:
            out[key] = value
    return out


def _as_list(x) -> list:
    return x if isinstance(x, list) else [x]


def tshark_records(pcap: Path, ports: Sequence[int], prefs: Sequence[str]) -> list[list[tuple[int, dict]]]:
    """tshark's decode of every packet: per packet, (category, {field: value}) of each ASTERIX record in order.

    ``ports``: the UDP ports to decode as ASTERIX; ``prefs``: tshark preferences (the editions).  JSON with
    duplicate keys merged into lists, since a packet repeats "asterix.message" once per record.
    """
    cmd = [need_tool(TSHARK, INSTALL_TOOLS), "-n", "-r", str(pcap)]
    for port in sorted(set(ports)):
        cmd += ["-d", f"udp.port=={port},asterix"]
    for pref in prefs:
        cmd += ["-o", pref]
    cmd += ["-T", "json", "--no-duplicate-keys", "-J", "asterix"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    packets = []
    for packet in json.loads(done.stdout):
        layers = packet["_source"]["layers"]
        records = []
        for block in _as_list(layers.get("asterix", [])):
            cat = int(block["asterix.category"])
            records += [(cat, _flat(m, {})) for m in _as_list(block.get("asterix.message", []))]
        packets.append(records)
    return packets


# --------------------------------------------------------------------------------------------------- a recording

RECORDING_PACKAGE = "asterix_decoder==0.7.11"
RECORDING_MEMBER = "asterix_decoder-0.7.11/asterix/sample_data/cat_034_048.pcap"
RECORDING_SHA256 = "7f4e9a37641bfa27022ee95ba52f178e68260c1b7e83d6a0e4720a96b3a2cc3d"


@pytest.fixture(scope="session")
def recording(tmp_path_factory) -> Path:
    """A real recording: 100 UDP datagrams of CAT048 plots and CAT034 service messages from seven radars.

    It ships in the ``asterix-decoder`` 0.7.11 source package on PyPI; pip downloads that package (not
    installed, dependencies left out) into pytest's temporary directory and only the pcap is read out of it.
    Without the network the tests that need it skip, except under CI, where they fail.
    """
    where = tmp_path_factory.mktemp("asterix-recording")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--retries", "1",
           "--timeout", "30", "--disable-pip-version-check", RECORDING_PACKAGE, "-d", str(where)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired:
        _unavailable(f"pip download {RECORDING_PACKAGE} timed out")
    sdists = sorted(where.glob("asterix_decoder-0.7.11.tar.gz"))
    if done.returncode != 0 or not sdists:
        _unavailable(f"pip download {RECORDING_PACKAGE} failed: {done.stderr.strip()[-500:]}")
    with tarfile.open(sdists[0], "r:gz") as tar:
        member = tar.getmember(RECORDING_MEMBER)
        stream = tar.extractfile(member) if member.isfile() else None
        assert stream is not None, f"{RECORDING_MEMBER} is not a file in {sdists[0].name}"
        data = stream.read()
    digest = hashlib.sha256(data).hexdigest()
    assert digest == RECORDING_SHA256, f"{RECORDING_MEMBER}: sha256 {digest}, not the recording the tests know"
    path = where / "cat_034_048.pcap"
    path.write_bytes(data)
    return path
