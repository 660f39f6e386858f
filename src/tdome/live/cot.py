"""Cursor on Target out: the air picture for TAK clients (ATAK, WinTAK, iTAK).

Every track of the service's picture becomes one CoT event, sent as one UDP datagram, the way TAK mesh
situational awareness works ("each UDP datagram contains one (and only one) CoT message", ATAK-CIV
``commoncommo/core/impl/protobuf/protocol.txt``).  Two encodings of the same event:

- ``"xml"`` (the default): CoT 2.0 XML ("TAK Protocol version 0"), which every TAK client must decode;
- ``"protobuf"``: TAK Protocol version 1, mesh form: the header ``0xbf 0x01 0xbf`` then one serialized
  ``atakmap.commoncommo.protobuf.v1.TakMessage`` holding a ``CotEvent``.  It is written here by a small protobuf
  encoder of its own (varints, length-delimited fields, little-endian doubles), so the service needs neither
  protobuf nor takproto; the tests read it back with takproto.  Smaller; for a mesh whose clients all speak
  version 1.

The event (XML form; the protobuf form carries the same values in the same fields):

```xml
<event version="2.0" uid="tdome.<name>.track.<id>" type="a-h-A-W-M" how="m-f"
       time="<now>" start="<track time>" stale="<track time + stale_s>">
  <point lat="25.033" lon="121.5654" hae="8000.0" ce="9999999.0" le="9999999.0"/>
  <detail>
    <contact callsign="T17"/>
    <track course="271.5" speed="2100.0"/>
    <remarks>tdome track 17: ballistic, hostile; threatens Taipei; impact in 45 s at ...</remarks>
  </detail>
</event>
```

Type (``type``), from the CoT type tree (MITRE's ``CoTtypes.xml``: the MIL-STD-2525 hierarchy in upper case,
CoT's own extensions in lower case): ``a`` (atom), the affiliation, the battle dimension ``A`` (air), the
function.  The affiliation is the picture's identity: hostile ``h``, suspect ``s``, unknown ``u``, civil ``n``
(neutral); an identity not in that list is ``u``.  The function is the picture's class:

| class ``cls``      | type (hostile shown)  | CoTtypes.xml                                    |
|--------------------|-----------------------|-------------------------------------------------|
| ballistic, cruise  | ``a-h-A-W-M``         | Air/Weapon/Missile In Flight                    |
| rocket             | ``a-h-A-W``           | Air/Weapon                                      |
| drone              | ``a-h-A-M-F-Q``       | Air/Mil/Fixed/Drone,RPV,UAV                     |
| aircraft           | ``a-h-A-M-F``         | Air/Mil/Fixed (fixed wing)                      |
| ``""`` or another  | ``a-h-A``             | Air Track                                       |
| civil: drone       | ``a-n-A-C-F-q``       | Air/Civ/fixed/rpv, drone, uav                   |
| civil: any other   | ``a-n-A-C-F``         | Air/Civ/fixed (fixed wing)                      |
| decoy (any class)  | ``a-s-A-W-D``         | Air/Weapon/Decoy                                |

(suspect and unknown tracks take their own letter: ``a-s-A-W-M``, ``a-u-A-M-F-Q``, ...; "civil" rows are
for identity civil, the decoy row for the picture's decoy flag, whatever the identity.)

- Ballistic and cruise missiles are ``A-W-M``, missile in flight.  Its children in the tree say where the
  missile was launched from and at what (``A-W-M-S-S`` surface-to-surface, ``A-W-M-A`` air-launched,
  ``A-W-M-U`` subsurface-to-surface, ``A-W-M-L`` land attack...): the tracker classifies from kinematics and never
  sees the launcher, so the deepest node that is true of everything in the class is ``A-W-M``.
- A rocket (unguided artillery rocket) is ``A-W``, weapon: the air weapon branch has only two children,
  missile (``A-W-M``) and decoy (``A-W-D``), and a rocket is neither, so the honest code is their parent.
- Aircraft is ``A-M-F``, military fixed wing: tdome's ``aircraft`` class is combat aircraft (docs/design.md); a
  drone is the one-way attack drone, ``A-M-F-Q``.
- Civil (identified by ADS-B) is neutral ``n`` and civil fixed wing ``A-C-F`` (a civil drone ``A-C-F-q``):
  ADS-B says the aircraft is a cooperative civil one, whatever the kinematic class said.
- A decoy (the picture's ``decoy``: found light by discrimination, never engaged) is ``a-s-A-W-D``, with
  "decoy" in its remarks.  It is still sent: a TAK user who sees an object in the sky, or a warhead the
  discrimination got wrong, needs the track on the map; dropping it would hide it.  Suspect (``s``), not hostile:
  the C2 judged it no threat and will not engage it, and a hostile symbol would invite other shooters to; not
  unknown either, which would throw the discrimination away.  ``A-W-D`` is the tree's own air decoy node.

How (``how``): ``m-f``, machine, fused.  CoTtypes.xml's "how" table reads ``m-f`` fused, ``m-a`` tracker,
``m-r`` radio (its children are transports: ``m-r-e`` EPLRS, ``m-r-t-j`` TADIL-J...), ``m-s`` simulated, ``m-g``
GPS.  A tdome track is the output of a tracker fusing several radars' plots and ADS-B reports, and ``m-f`` is
what gateways into TAK commonly send for such tracks (AIS, Link 16); ``m-a`` is little used, and ``m-r`` would
claim the position came over a radio link, not that a radar measured it.  The CoT schema calls ``how`` a hint
"about the types of errors that may be expected in the data", for systems that fuse multiple inputs.  ``how``
is an argument, for a caller that knows better; a simulated feed says so with ``opex="s"`` (the event's
exercise/simulation marker).

Point: ``lat``/``lon`` WGS 84 degrees (7 decimals, about a centimetre, as ATAK's ``CotPoint`` keeps), ``hae``
metres above the ellipsoid, ``ce`` and ``le`` the circular and linear (vertical) errors in metres, one sigma.
Unknown is ``9999999.0`` (:data:`UNKNOWN`, ATAK's ``CotPoint.UNKNOWN``; TAK's ``cotevent.proto`` asks for at
least 999999): the picture carries no covariance, so ``ce``/``le`` are arguments, unknown by default, and an
altitude that is not a finite number is sent as unknown too.

Times: ``time`` is when the event was made (``now_utc``); ``start`` the track's time, the service's track time
``time_s`` (seconds since the UTC midnight that begins the service's time line, :func:`time_line_origin`);
``stale`` = ``start + stale_s``.  A track the service stops sending simply goes stale on the clients; no delete
event is sent.  XML times are ``YYYY-MM-DDTHH:MM:SS.mmmZ``; protobuf times milliseconds since the epoch; both are
made from the same integer milliseconds, so they agree to the millisecond.

Detail: ``<contact callsign>`` (the ADS-B call sign when there is one, else ``T<id>``), ``<track course speed>``
(degrees clockwise from true north, metres per second; left out when either is not a finite number) and
``<remarks>`` (track number, class, identity, the threatened asset, time to go and predicted impact point, the
engaging layer, coasting, decoy, climb rate).  In the protobuf form contact and track go in their typed messages
and ``<remarks>`` (whole, as ``detail.proto`` requires) in ``xmlDetail``.  Text is cleaned of what XML 1.0
cannot carry (control characters become spaces; lone surrogates, U+FFFE and U+FFFF become U+FFFD); call signs
are trimmed and cut to 64 characters.

Size: an event over ``max_bytes`` (1400 by default, below an Ethernet MTU) is sent without its remarks; if still
too big (an absurd service name) it is not sent, and logged.  A track without a finite latitude and longitude
is not sent either.  :func:`cot_datagrams` never raises on a malformed picture: it sends what it can.

:class:`CotSender` sends the datagrams to a list of UDP endpoints (TAK's mesh SA group is
:data:`TAK_SA_MULTICAST`, 239.2.3.1:6969), multicast with TTL 1 out of the given interface (loopback by
default), as the CAT062 output does.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import socket
import struct
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

log = logging.getLogger("tdome.live")

UNKNOWN = 9999999.0  # CoT's "unknown" for hae, ce and le (ATAK's CotPoint.UNKNOWN)
HOW_FUSED = "m-f"  # machine, fused (CoTtypes.xml)
MESH_HEADER = b"\xbf\x01\xbf"  # TAK Protocol mesh header: magic 0xbf, version 1 (a varint), magic 0xbf
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
TAK_SA_MULTICAST = ("239.2.3.1", 6969)  # TAK's mesh situational-awareness group
MAX_BYTES = 1400
CALLSIGN_MAX = 64  # characters

Format = Literal["xml", "protobuf"]

AFFILIATION = {"hostile": "h", "suspect": "s", "unknown": "u", "civil": "n"}
FUNCTION = {"ballistic": "A-W-M", "cruise": "A-W-M", "rocket": "A-W", "drone": "A-M-F-Q", "aircraft": "A-M-F"}
CIVIL_FUNCTION = {"drone": "A-C-F-q"}  # any other civil track: A-C-F
DECOY_TYPE = "a-s-A-W-D"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NOT_XML_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # XML 1.0 refuses most C0 controls; C1 are discouraged
_NOT_XML_CHAR = re.compile("[\ud800-\udfff\ufffe\uffff]")  # lone surrogates (not UTF-8 either), non-characters
_NOT_UID = re.compile(r"[^A-Za-z0-9_.-]+")


def cot_type(cls: str | None, identity: str | None, decoy: bool = False) -> str:
    """The CoT type of a track: its picture class, identity and decoy flag (module docstring's table)."""
    if decoy:
        return DECOY_TYPE
    if identity == "civil":
        return "a-n-" + CIVIL_FUNCTION.get(cls or "", "A-C-F")
    return f"a-{AFFILIATION.get(identity or '', 'u')}-" + FUNCTION.get(cls or "", "A")


def time_line_origin(time_s: float, now_utc: datetime) -> datetime:
    """The UTC midnight that begins the service's time line, from a track time ``time_s`` seen at ``now_utc``.

    The line counts seconds from a UTC midnight and runs on past 86400 s across midnight, so its origin is the
    midnight nearest ``now_utc - time_s`` (right while the picture is less than 12 h late or early).
    """
    x = _utc(now_utc) - timedelta(seconds=float(time_s)) + timedelta(hours=12)
    return x.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class CotEvent:
    """One CoT event as it is sent: cleaned and rounded (build it with :func:`cot_event`)."""

    uid: str
    type: str
    how: str
    time_ms: int  # milliseconds since 1970-01-01T00:00:00Z
    start_ms: int
    stale_ms: int
    lat: float
    lon: float
    hae: float
    ce: float
    le: float
    callsign: str | None = None
    course: float | None = None  # degrees clockwise from true north, [0, 360)
    speed: float | None = None  # m/s
    remarks: str | None = None
    opex: str | None = None  # "o" operations, "e" exercise, "s" simulation (optionally "-<name>")


def cot_event(*, uid: str, type: str, time: datetime, start: datetime, stale: datetime, lat: float, lon: float,
              hae: float | None = None, ce: float = UNKNOWN, le: float = UNKNOWN, how: str = HOW_FUSED,
              callsign: str | None = None, course: float | None = None, speed: float | None = None,
              remarks: str | None = None, opex: str | None = None) -> CotEvent:
    """A :class:`CotEvent` from values as they come: times as datetimes (naive ones are read as UTC), ``None``
    or a non-finite number for what is unknown.  Raises ValueError for a position that is not one."""
    lat, lon = float(lat), float(lon)
    if not (math.isfinite(lat) and math.isfinite(lon) and -90.0 <= lat <= 90.0):
        raise ValueError(f"not a position: lat {lat}, lon {lon}")
    if not -180.0 <= lon <= 180.0:
        lon = (lon + 180.0) % 360.0 - 180.0
    c, v = _finite(course, 1e6), _finite(speed, 1e6)
    if c is None or v is None:  # <track> needs both (TAK's Track message: both required)
        c = v = None
    cs = _text(callsign).strip()[:CALLSIGN_MAX].strip() if callsign is not None else ""
    rm = _text(remarks).strip() if remarks is not None else ""
    return CotEvent(
        uid=_text(uid), type=_text(type), how=_text(how),
        time_ms=_ms(time), start_ms=_ms(start), stale_ms=_ms(stale),
        lat=round(lat, 7), lon=round(lon, 7),
        hae=_metres(hae), ce=_metres(ce), le=_metres(le),
        callsign=cs or None,
        course=round(c, 2) % 360.0 if c is not None else None,
        speed=round(v, 2) if v is not None else None,
        remarks=rm or None,
        opex=(_text(opex).strip() or None) if opex is not None else None,
    )


# ------------------------------------------------------------------------------------------------ encoding


def event_xml(ev: CotEvent) -> bytes:
    """The event as CoT 2.0 XML, UTF-8, with its XML declaration."""
    attrs = {"version": "2.0", "uid": ev.uid, "type": ev.type, "how": ev.how,
             "time": _iso(ev.time_ms), "start": _iso(ev.start_ms), "stale": _iso(ev.stale_ms)}
    if ev.opex:
        attrs["opex"] = ev.opex
    event = ET.Element("event", attrs)
    ET.SubElement(event, "point", {"lat": _num(ev.lat), "lon": _num(ev.lon), "hae": _num(ev.hae),
                                   "ce": _num(ev.ce), "le": _num(ev.le)})
    detail = ET.SubElement(event, "detail")
    if ev.callsign:
        ET.SubElement(detail, "contact", {"callsign": ev.callsign})
    if ev.course is not None and ev.speed is not None:
        ET.SubElement(detail, "track", {"course": _num(ev.course), "speed": _num(ev.speed)})
    if ev.remarks:
        detail.append(_remarks(ev.remarks))
    return XML_DECLARATION + ET.tostring(event, encoding="unicode").encode("utf-8")


def event_proto(ev: CotEvent) -> bytes:
    """The event as a TAK Protocol version 1 mesh message: ``0xbf 0x01 0xbf`` and a ``TakMessage``.

    Field numbers (``atakmap.commoncommo.protobuf.v1``): TakMessage.cotEvent 2; CotEvent type 1, opex 4, uid 5,
    sendTime 6, startTime 7, staleTime 8 (uint64 ms), how 9, lat 10, lon 11, hae 12, ce 13, le 14 (double),
    detail 15; Detail xmlDetail 1, contact 2, track 7; Contact callsign 2; Track speed 1, course 2 (double).
    """
    detail = b""
    if ev.remarks:
        detail += _pb_bytes(1, ET.tostring(_remarks(ev.remarks), encoding="unicode").encode("utf-8"))
    if ev.callsign:
        detail += _pb_bytes(2, _pb_bytes(2, ev.callsign.encode("utf-8")))
    if ev.course is not None and ev.speed is not None:
        detail += _pb_bytes(7, _pb_double(1, ev.speed) + _pb_double(2, ev.course))
    body = b"".join([
        _pb_bytes(1, ev.type.encode("utf-8")),
        _pb_bytes(4, ev.opex.encode("utf-8")) if ev.opex else b"",
        _pb_bytes(5, ev.uid.encode("utf-8")),
        _pb_varint(6, ev.time_ms), _pb_varint(7, ev.start_ms), _pb_varint(8, ev.stale_ms),
        _pb_bytes(9, ev.how.encode("utf-8")),
        _pb_double(10, ev.lat), _pb_double(11, ev.lon), _pb_double(12, ev.hae),
        _pb_double(13, ev.ce), _pb_double(14, ev.le),
        _pb_bytes(15, detail) if detail else b"",
    ])
    return MESH_HEADER + _pb_bytes(2, body)


def encode(ev: CotEvent, fmt: Format = "xml") -> bytes:
    """The event in ``fmt``: ``"xml"`` or ``"protobuf"`` (mesh)."""
    if fmt == "xml":
        return event_xml(ev)
    if fmt == "protobuf":
        return event_proto(ev)
    raise ValueError(f"CoT format {fmt!r}: expected 'xml' or 'protobuf'")


# ---------------------------------------------------------------------------------------------- the picture


def track_uid(name: str, track_id: Any) -> str:
    """The stable uid of a track of the service ``name``: ``tdome.<name>.track.<id>`` (name cut to [A-Za-z0-9_.-])."""
    return f"tdome.{_NOT_UID.sub('_', str(name)).strip('_') or 'service'}.track.{track_id}"


def track_remarks(track_id: Any, cls: str | None, identity: str | None, *, decoy: bool = False,
                  coasting: bool = False, asset: str | None = None, ttg: float | None = None,
                  ilat: float | None = None, ilon: float | None = None, engaged: str | None = None,
                  climb: float | None = None) -> str:
    """The remarks of a track's event: what the C2 knows of it, in a line."""
    parts = [f"tdome track {track_id}: {cls or 'unclassified'}, {identity or 'unknown'}"]
    if asset:
        parts.append(f"threatens {asset}")
    t, la, lo = _finite(ttg, 1e9), _finite(ilat, 90.0), _finite(ilon, 360.0)
    impact = "impact" + (f" in {t:.0f} s" if t is not None else "")
    if la is not None and lo is not None:
        impact += f" at {la:.4f}, {lo:.4f}"
    if impact != "impact":
        parts.append(impact)
    if engaged:
        parts.append(f"engaged by the {engaged} layer")
    if coasting:
        parts.append("coasting")
    if decoy:
        parts.append("decoy (found light, not engaged)")
    c = _finite(climb, 1e6)
    if c is not None:
        parts.append(f"climb {c:.0f} m/s")
    return "; ".join(parts)


def track_events(picture: Mapping[str, Any], *, name: str, day_start_utc: datetime, now_utc: datetime,
                 stale_s: float = 10.0, ce: float = UNKNOWN, le: float = UNKNOWN, how: str = HOW_FUSED,
                 opex: str | None = None) -> list[CotEvent]:
    """One :class:`CotEvent` per track of a picture message (its ``time_s`` and columnar ``tracks``).

    ``start`` = ``day_start_utc + time_s``, ``stale`` = ``start + stale_s``, ``time`` = ``now_utc``.  A track that
    cannot be read (no finite position, a value of the wrong kind) is left out and logged; so is a picture
    without a finite ``time_s``.
    """
    try:
        time_s = float(picture["time_s"])
        if not math.isfinite(time_s):
            raise ValueError(time_s)
        start = _utc(day_start_utc) + timedelta(seconds=time_s)
        stale = start + timedelta(seconds=float(stale_s))
        tracks = picture.get("tracks") or {}
        ids = tracks.get("id")  # lists (the JSON message) or numpy arrays
        n = 0 if ids is None else len(ids)
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as e:
        log.warning("CoT: picture without a usable time or tracks (%s); nothing sent", e)
        return []

    def col(key: str, i: int) -> Any:
        c = tracks.get(key)
        return c[i] if c is not None and i < len(c) else None

    out: list[CotEvent] = []
    skipped = 0
    for i in range(n):
        try:
            tid = int(col("id", i))
            cls, identity, decoy = col("cls", i), col("identity", i), bool(col("decoy", i))
            cls = cls if isinstance(cls, str) else None
            identity = identity if isinstance(identity, str) else None
            callsign = col("callsign", i)
            asset, engaged = col("asset", i), col("engaged", i)
            out.append(cot_event(
                uid=track_uid(name, tid), type=cot_type(cls, identity, decoy), how=how,
                time=now_utc, start=start, stale=stale,
                lat=col("lat", i), lon=col("lon", i), hae=_finite(col("alt", i), 1e9), ce=ce, le=le,
                callsign=(_text(callsign).strip() if isinstance(callsign, str) else "") or f"T{tid}",
                course=_finite(col("course", i), 1e6), speed=_finite(col("speed", i), 1e6),
                remarks=track_remarks(
                    tid, cls, identity, decoy=decoy, coasting=bool(col("coasting", i)),
                    asset=str(asset) if asset is not None else None, ttg=_finite(col("ttg", i), 1e9),
                    ilat=_finite(col("ilat", i), 90.0), ilon=_finite(col("ilon", i), 360.0),
                    engaged=str(engaged) if engaged is not None else None, climb=_finite(col("climb", i), 1e6)),
                opex=opex))
        except (TypeError, ValueError, OverflowError):
            skipped += 1
    if skipped:
        log.warning("CoT: %d of %d tracks not sent (no position, or a value that is not one)", skipped, n)
    return out


def cot_datagrams(picture: Mapping[str, Any], *, name: str, day_start_utc: datetime, now_utc: datetime,
                  stale_s: float = 10.0, fmt: Format = "xml", max_bytes: int = MAX_BYTES, ce: float = UNKNOWN,
                  le: float = UNKNOWN, how: str = HOW_FUSED, opex: str | None = None) -> list[bytes]:
    """Every track of a picture as one CoT datagram (``fmt`` ``"xml"`` or ``"protobuf"``), each at most
    ``max_bytes`` (an event too big loses its remarks; one still too big is not sent).  Never raises on a
    malformed picture (:func:`track_events`)."""
    if fmt not in ("xml", "protobuf"):
        raise ValueError(f"CoT format {fmt!r}: expected 'xml' or 'protobuf'")
    out = []
    for ev in track_events(picture, name=name, day_start_utc=day_start_utc, now_utc=now_utc, stale_s=stale_s,
                           ce=ce, le=le, how=how, opex=opex):
        d = encode(ev, fmt)
        if len(d) > max_bytes and ev.remarks:
            d = encode(dataclasses.replace(ev, remarks=None), fmt)
        if len(d) > max_bytes:
            log.warning("CoT: event %s is %d bytes, over %d: not sent", ev.uid[:80], len(d), max_bytes)
            continue
        out.append(d)
    return out


# ------------------------------------------------------------------------------------------------- sending


class CotSender:
    """A UDP socket that sends CoT datagrams to every endpoint ``(host, port)``.

    Multicast leaves with TTL 1 by the interface ``interface`` (an IPv4 address, loopback by default), never the
    route's.  :meth:`send` never raises and never blocks: a datagram the system refuses (full buffer, no route,
    unknown host) is counted in :attr:`failed`, with the last error in :attr:`last_error`.
    """

    def __init__(self, endpoints: Iterable[tuple[str, int]], interface: str = "127.0.0.1"):
        self.endpoints = [(str(h), int(p)) for h, p in endpoints]
        for h, p in self.endpoints:
            if not 0 < p < 65536:
                raise ValueError(f"CoT endpoint {h}:{p}: the port must be 1..65535")
        self.sent = 0
        self.failed = 0
        self.last_error: str | None = None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface))
            self.sock.setblocking(False)
        except OSError:
            self.sock.close()
            raise

    def send(self, datagrams: Iterable[bytes]) -> int:
        """Send each datagram to each endpoint; returns how many went (also added to :attr:`sent`)."""
        n = 0
        for d in datagrams:
            for dst in self.endpoints:
                try:
                    self.sock.sendto(d, dst)
                    n += 1
                except OSError as e:
                    self.failed += 1
                    self.last_error = f"{dst[0]}:{dst[1]}: {e}"
        self.sent += n
        return n

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> CotSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------------------------------------------- helpers


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _ms(t: datetime) -> int:
    """Milliseconds since the epoch, to the nearest."""
    us = (_utc(t) - _EPOCH) // timedelta(microseconds=1)
    if us < 0:
        raise ValueError(f"time before 1970: {t}")
    return (us + 500) // 1000


def _iso(ms: int) -> str:
    return f"{_EPOCH + timedelta(milliseconds=ms):%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def _finite(x: Any, limit: float) -> float | None:
    """``x`` as a float if it is a finite number of magnitude at most ``limit``, else None."""
    if x is None or isinstance(x, str):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and abs(v) <= limit else None


def _metres(x: Any) -> float:
    """A height or an error in metres, to the centimetre; unknown (:data:`UNKNOWN`) when not a number."""
    v = _finite(x, 1e9)
    return UNKNOWN if v is None else round(v, 2)


def _num(x: float) -> str:
    """A float in plain decimal notation (no exponent), the shortest that reads back as the same double."""
    s = format(Decimal(repr(x)), "f")
    return s if "." in s else s + ".0"


def _text(s: Any) -> str:
    """``s`` with what XML 1.0 cannot carry replaced (control characters by spaces, the rest by U+FFFD)."""
    return _NOT_XML_CHAR.sub("\ufffd", _NOT_XML_CONTROL.sub(" ", str(s)))


def _remarks(text: str) -> ET.Element:
    e = ET.Element("remarks")
    e.text = text
    return e


def _varint(n: int) -> bytes:
    if n < 0:
        raise ValueError(f"varint of a negative number: {n}")
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _pb_varint(field: int, n: int) -> bytes:  # wire type 0
    return _varint(field << 3) + _varint(n)


def _pb_double(field: int, x: float) -> bytes:  # wire type 1: 64 bits, little-endian
    return _varint(field << 3 | 1) + struct.pack("<d", x)


def _pb_bytes(field: int, b: bytes) -> bytes:  # wire type 2: length-delimited (strings, messages)
    return _varint(field << 3 | 2) + _varint(len(b)) + b
