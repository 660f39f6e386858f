"""Cursor on Target out (tdome.live.cot) against an independent reader, takproto (a test extra).

- Our TAK Protocol (mesh) bytes, parsed by takproto's protobuf classes (generated from TAK's .proto files, no code
  shared with our encoder), give back every field we put in; they re-serialize to the same bytes.
- Our XML, read by takproto's XML-to-protobuf converter, gives the same message as our protobuf, field by field:
  the two forms agree through a reader that is not ours.
- A property test does both for random tracks: positions to the poles and the antimeridian, any altitude, speed
  and course, call signs and asset names with XML's special characters, controls and non-ASCII.
- The type table (module docstring) entry by entry, every type in the CoT grammar and in CoT's type tree.
- A real UDP round trip on loopback: :class:`CotSender` to a bound socket, read back by takproto.
"""

from __future__ import annotations

import math
import os
import re
import socket
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tdome.live.cot import (
    MESH_HEADER,
    UNKNOWN,
    CotSender,
    cot_datagrams,
    cot_event,
    cot_type,
    encode,
    time_line_origin,
    track_events,
)

try:
    import takproto
    from takproto.proto import TakMessage
except ImportError:
    if os.environ.get("CI"):
        pytest.fail("takproto (the test extra) is missing: CI must check the CoT output against it", pytrace=False)
    pytest.skip("takproto not installed (pip install -e '.[test]')", allow_module_level=True)

DAY = datetime(2026, 5, 9, tzinfo=UTC)
NOW = DAY + timedelta(seconds=45124.1)
DAY_MS = 1778284800000  # DAY in ms since the epoch, written out
TIME_S = 45123.25
NAME = "taipei north"
STRINGS = ("type", "uid", "how", "opex", "access", "qos")
DOUBLES = ("lat", "lon", "hae", "ce", "le")
TIMES = ("sendTime", "startTime", "staleTime")


def picture(**cols):
    """A picture message of one track (the columns given replace the defaults; lists make several tracks)."""
    track = dict(id=17, lat=25.033, lon=121.5654, alt=8000.5, speed=2100.25, course=271.5, climb=-1200.0,
                 cls="ballistic", identity="hostile", decoy=False, coasting=False, ilat=25.04, ilon=121.51,
                 ttg=45.2, asset="Taipei", engaged="upper", callsign=None)
    track.update(cols)
    n = max((len(v) for v in track.values() if isinstance(v, list)), default=1)
    return {"type": "picture", "time_s": TIME_S,
            "tracks": {k: v if isinstance(v, list) else [v] * n for k, v in track.items()}}


def datagrams(pic, fmt, **kw):
    kw = dict(name=NAME, day_start_utc=DAY, now_utc=NOW, fmt=fmt) | kw
    return cot_datagrams(pic, **kw)


def parse(d: bytes):
    msg = takproto.parse_proto(bytearray(d))
    assert msg is not None and msg.HasField("cotEvent"), d[:80]
    return msg


def detail_elements(xml_detail: str):
    """What an xmlDetail holds, as (tag, attributes, text) of each element (escaping may differ, meaning not)."""
    return [(e.tag, e.attrib, e.text) for e in ET.fromstring(f"<detail>{xml_detail}</detail>")]


def assert_same_message(a, b, time_tol_ms=0):
    """Two TakMessages the same field by field (times within ``time_tol_ms``)."""
    ea, eb = a.cotEvent, b.cotEvent
    for f in STRINGS + DOUBLES:
        assert getattr(ea, f) == getattr(eb, f), f
    for f in TIMES:
        assert abs(getattr(ea, f) - getattr(eb, f)) <= time_tol_ms, f
    da, db = ea.detail, eb.detail
    assert (da.contact.callsign, da.contact.endpoint) == (db.contact.callsign, db.contact.endpoint)
    assert da.HasField("track") == db.HasField("track")
    assert (da.track.speed, da.track.course) == (db.track.speed, db.track.course)
    assert detail_elements(da.xmlDetail) == detail_elements(db.xmlDetail)
    for f in ("group", "precisionLocation", "status", "takv"):
        assert not da.HasField(f) and not db.HasField(f), f


def xml_times_ms(d: bytes) -> list[int]:
    """time, start and stale of an XML event, read exactly (our own reading: takproto's goes through a float)."""
    ev = ET.fromstring(d)
    out = []
    for a in ("time", "start", "stale"):
        t = datetime.strptime(ev.get(a), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", ev.get(a))
        out.append((t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1))
    return out


def expected_callsign(raw, tid):
    """The documented rule: control characters to spaces, U+FFFE/U+FFFF to U+FFFD, trimmed, 64 characters;
    T<id> when nothing is left."""
    if not isinstance(raw, str):
        return f"T{tid}"
    s = re.sub("[\ufffe\uffff]", "\ufffd", re.sub("[\x00-\x1f\x7f-\x9f]", " ", raw)).strip()[:64].strip()
    return s or f"T{tid}"


# ---------------------------------------------------------------------------------------------- type table

# The entries of MITRE's CoTtypes.xml (the CoT type tree, "a-.-" prefix: any affiliation) the table uses.
COT_TYPES = {
    "A": "Air Track",
    "A-W": "Air/Weapon",
    "A-W-M": "Air/Weapon/Missile In Flight",
    "A-W-D": "Air/Weapon/Decoy",
    "A-M-F": "Air/Mil/Fixed",
    "A-M-F-Q": "Air/Mil/Fixed/Drone,RPV,UAV",
    "A-C-F": "Air/Civ/fixed",
    "A-C-F-q": "Air/Civ/fixed/rpv, drone, uav",
}
AFFILIATIONS = {"hostile": "h", "suspect": "s", "unknown": "u"}
FUNCTIONS = {"ballistic": "A-W-M", "cruise": "A-W-M", "rocket": "A-W", "drone": "A-M-F-Q", "aircraft": "A-M-F",
             "": "A"}
TABLE = [(cls, ident, False, f"a-{aff}-{fn}") for ident, aff in AFFILIATIONS.items() for cls, fn in FUNCTIONS.items()]
TABLE += [("aircraft", "civil", False, "a-n-A-C-F"), ("", "civil", False, "a-n-A-C-F"),
          ("drone", "civil", False, "a-n-A-C-F-q"), ("ballistic", "hostile", True, "a-s-A-W-D"),
          ("", "unknown", True, "a-s-A-W-D"), ("cruise", "suspect", True, "a-s-A-W-D"),
          ("spaceship", "hostile", False, "a-h-A"), (None, None, False, "a-u-A"), ("drone", "friend", False,
                                                                                   "a-u-A-M-F-Q")]
# CoT "a" types: atom - affiliation - battle dimension (P space, A air, G ground, S surface, U subsurface, F SOF,
# X other) - function, dash-separated, upper case from MIL-STD-2525, lower case CoT's own.
COT_GRAMMAR = re.compile(r"a-([pufnshjkaox])-([PAGSUFX])((?:-[A-Za-z0-9]+)*)")


@pytest.mark.parametrize(("cls", "identity", "decoy", "expected"), TABLE)
def test_type_table(cls, identity, decoy, expected):
    t = cot_type(cls, identity, decoy)
    assert t == expected
    m = COT_GRAMMAR.fullmatch(t)
    assert m, t
    assert m.group(2) == "A"  # every track is an air track
    assert (m.group(2) + m.group(3)) in COT_TYPES  # a node of CoT's type tree


def test_every_picture_track_gets_a_tree_type():
    for cls in ("ballistic", "rocket", "cruise", "drone", "aircraft", ""):
        for identity in ("hostile", "suspect", "unknown", "civil"):
            for decoy in (False, True):
                m = COT_GRAMMAR.fullmatch(cot_type(cls, identity, decoy))
                assert m and m.group(2) + m.group(3) in COT_TYPES


# ------------------------------------------------------------------------------------------- round trips


def test_protobuf_round_trip_through_takproto():
    pic = picture(id=[17, 4], callsign=[None, "EVA123"], cls=["ballistic", "aircraft"],
                  identity=["hostile", "civil"], lat=[25.033, -33.8688], lon=[121.5654, -151.2093])
    ds = datagrams(pic, "protobuf")
    assert len(ds) == 2
    for d, tid, callsign, typ, lat, lon in zip(ds, (17, 4), ("T17", "EVA123"), ("a-h-A-W-M", "a-n-A-C-F"),
                                               (25.033, -33.8688), (121.5654, -151.2093)):
        assert d.startswith(b"\xbf\x01\xbf") and d.startswith(MESH_HEADER)
        assert TakMessage.FromString(d[3:]).SerializeToString() == d[3:]  # canonical: no stray or extra field
        msg = parse(d)
        assert not msg.HasField("takControl")
        ev = msg.cotEvent
        assert ev.uid == f"tdome.taipei_north.track.{tid}"
        assert ev.type == typ
        assert ev.how == "m-f"
        assert ev.opex == ev.access == ev.qos == ""
        assert ev.sendTime == DAY_MS + 45124100
        assert ev.startTime == DAY_MS + 45123250
        assert ev.staleTime == DAY_MS + 45133250  # start + 10 s
        assert (ev.lat, ev.lon, ev.hae, ev.ce, ev.le) == (lat, lon, 8000.5, UNKNOWN, UNKNOWN)
        assert ev.detail.contact.callsign == callsign
        assert ev.detail.contact.endpoint == ""
        assert (ev.detail.track.course, ev.detail.track.speed) == (271.5, 2100.25)
        [(tag, attrib, text)] = detail_elements(ev.detail.xmlDetail)
        assert tag == "remarks" and attrib == {}
        assert text.startswith(f"tdome track {tid}: ")
    [(_, _, text)] = detail_elements(parse(ds[0]).cotEvent.detail.xmlDetail)
    assert text == ("tdome track 17: ballistic, hostile; threatens Taipei; impact in 45 s at 25.0400, 121.5100; "
                    "engaged by the upper layer; climb -1200 m/s")


def test_xml_and_protobuf_agree_through_takproto():
    pic = picture(id=[1, 2, 3], cls=["cruise", "drone", ""], identity=["suspect", "hostile", "unknown"],
                  decoy=[False, True, False], asset=["Hsinchu & <Science Park> \"A\" 'B'", None, None],
                  callsign=[None, None, "Ünïcødé & <co>"], speed=[250.0, 50.0, float("nan")])
    xs, ps = datagrams(pic, "xml"), datagrams(pic, "protobuf")
    assert len(xs) == len(ps) == 3
    for x, p in zip(xs, ps):
        assert x.startswith(b'<?xml version="1.0" encoding="UTF-8"')
        a, b = parse(x), parse(p)
        # takproto reads XML times through a float (int(timestamp * 1000)), which may lose the last millisecond;
        # our own exact reading of the XML must give the protobuf's times to the millisecond.
        assert_same_message(a, b, time_tol_ms=1)
        assert xml_times_ms(x) == [b.cotEvent.sendTime, b.cotEvent.startTime, b.cotEvent.staleTime]
    decoy, no_track = parse(ps[1]).cotEvent, parse(ps[2]).cotEvent
    assert decoy.type == "a-s-A-W-D" and "decoy" in decoy.detail.xmlDetail
    assert not no_track.detail.HasField("track")  # no speed: no <track>, in either form
    assert b"<track" not in xs[2]
    assert parse(xs[0]).cotEvent.detail.xmlDetail.count("Hsinchu") == 1
    assert detail_elements(parse(ps[0]).cotEvent.detail.xmlDetail)[0][2].startswith(
        "tdome track 1: cruise, suspect; threatens Hsinchu & <Science Park> \"A\" 'B'; ")
    assert parse(ps[2]).cotEvent.detail.contact.callsign == "Ünïcødé & <co>"


def test_how_opex_ce_le_and_stale_are_arguments():
    for fmt in ("xml", "protobuf"):
        [d] = datagrams(picture(), fmt, how="m-a", opex="s-drill", ce=35.5, le=60.25, stale_s=4.5)
        ev = parse(d).cotEvent
        assert (ev.how, ev.opex, ev.ce, ev.le) == ("m-a", "s-drill", 35.5, 60.25)
        assert ev.staleTime - ev.startTime == 4500


# --------------------------------------------------------------------------------------------- property


PIECES = st.one_of(st.sampled_from(["&", "<", ">", '"', "'", "]]>", "&amp;", "ü", "台北", "\U0001f680", "\ufffe",
                                    "\x00", "\t", "\n", "\r", "\x85", " ", "\u2028"]),
                   st.characters(blacklist_categories=("Cs",)))


def odd_text(max_pieces):
    """Text of XML's special characters, controls, non-ASCII and any other character but lone surrogates."""
    return st.lists(PIECES, max_size=max_pieces).map("".join)


@st.composite
def tracks(draw):
    return dict(
        id=draw(st.integers(0, 2**31)),
        lat=draw(st.floats(-90.0, 90.0)),
        lon=draw(st.floats(-180.0, 180.0)),
        alt=draw(st.one_of(st.floats(-500.0, 2e6), st.just(float("nan")), st.just(None))),
        speed=draw(st.floats(0.0, 1e4)),
        course=draw(st.floats(0.0, 360.0)),
        climb=draw(st.floats(-5e3, 5e3)),
        cls=draw(st.sampled_from(["ballistic", "rocket", "cruise", "drone", "aircraft", ""])),
        identity=draw(st.sampled_from(["hostile", "suspect", "unknown", "civil"])),
        decoy=draw(st.booleans()),
        coasting=draw(st.booleans()),
        ilat=draw(st.one_of(st.none(), st.floats(-90.0, 90.0))),
        ilon=draw(st.one_of(st.none(), st.floats(-180.0, 180.0))),
        ttg=draw(st.one_of(st.none(), st.floats(0.0, 1e4))),
        asset=draw(st.one_of(st.none(), odd_text(12))),
        engaged=draw(st.one_of(st.none(), st.sampled_from(["upper", "mid", "lower", "short"]))),
        callsign=draw(st.one_of(st.none(), odd_text(40))),
    )


@settings(max_examples=300)
@given(tracks())
def test_property_random_tracks_both_forms(track):
    pic = picture(**track)
    xs, ps = datagrams(pic, "xml"), datagrams(pic, "protobuf")
    assert len(xs) == len(ps) == 1
    x, p = xs[0], ps[0]
    assert len(x) <= 1400 and len(p) <= 1400
    b = parse(p)
    ev = b.cotEvent
    assert ev.uid == f"tdome.taipei_north.track.{track['id']}"
    assert ev.type == cot_type(track["cls"], track["identity"], track["decoy"])
    assert (ev.sendTime, ev.startTime, ev.staleTime) == (DAY_MS + 45124100, DAY_MS + 45123250, DAY_MS + 45133250)
    # Positions to 1e-7 degree (ATAK's precision), heights and errors to the centimetre, speed and course to 0.01.
    assert ev.lat == round(track["lat"], 7) and abs(ev.lat - track["lat"]) <= 5.1e-8
    assert ev.lon == round(track["lon"], 7) and abs(ev.lon - track["lon"]) <= 5.1e-8
    alt = track["alt"]
    assert ev.hae == (UNKNOWN if alt is None or math.isnan(alt) else round(alt, 2))
    assert ev.ce == ev.le == UNKNOWN
    assert ev.detail.track.speed == round(track["speed"], 2)
    assert ev.detail.track.course == round(track["course"], 2) % 360.0
    assert 0.0 <= ev.detail.track.course < 360.0
    assert ev.detail.contact.callsign == expected_callsign(track["callsign"], track["id"])
    [(tag, _, remarks)] = detail_elements(ev.detail.xmlDetail)
    assert tag == "remarks" and remarks.startswith(f"tdome track {track['id']}: ")
    assert ("decoy" in remarks) == track["decoy"]
    # The XML form: the same message through takproto, the same times through our own exact reading.
    a = parse(x)
    assert_same_message(a, b, time_tol_ms=1)
    assert xml_times_ms(x) == [ev.sendTime, ev.startTime, ev.staleTime]
    point = ET.fromstring(x).find("point")
    for f in DOUBLES:
        assert float(point.get(f)) == getattr(ev, f)
        assert "e" not in point.get(f).lower()  # plain decimals, as xs:decimal readers want


# ---------------------------------------------------------------------------------------------- edges


def test_malformed_pictures_send_what_they_can():
    assert datagrams({}, "xml") == []
    assert datagrams({"time_s": None, "tracks": {"id": [1]}}, "xml") == []
    assert datagrams({"time_s": float("nan"), "tracks": {"id": [1]}}, "xml") == []
    assert datagrams({"time_s": 1.0, "tracks": {}}, "xml") == []
    assert datagrams({"time_s": 1.0}, "xml") == []
    pic = picture(id=[1, 2, 3, 4, 5], lat=[None, float("nan"), 91.0, 10.0, 10.0],
                  lon=[1.0, 1.0, 1.0, "x", 181.5], identity=[None] * 5, cls=[3] * 5)
    [d] = datagrams(pic, "protobuf")  # only the fifth is a position (its longitude wraps)
    ev = parse(d).cotEvent
    assert ev.uid.endswith(".track.5") and ev.lon == -178.5 and ev.type == "a-u-A"
    short = picture(id=[1, 2])
    short["tracks"]["lat"] = [10.0]  # a column shorter than the others: the second track has no latitude
    assert len(datagrams(short, "xml")) == 1


def test_numpy_columns():
    pic = picture(id=[1, 2], lat=[1.0, 2.0], alt=[10.0, float("nan")], cls=["drone", ""], decoy=[False, True])
    pic["time_s"] = np.float64(TIME_S)
    pic["tracks"] = {k: np.array(v) for k, v in pic["tracks"].items()}
    msgs = [parse(d).cotEvent for d in datagrams(pic, "protobuf")]
    assert [(m.uid[-1], m.type, m.hae) for m in msgs] == [("1", "a-h-A-M-F-Q", 10.0), ("2", "a-s-A-W-D", UNKNOWN)]
    assert [m.startTime for m in msgs] == [DAY_MS + 45123250] * 2


def test_oversized_events_lose_remarks_then_are_dropped():
    [d] = datagrams(picture(asset="A" * 3000), "xml")
    assert len(d) <= 1400 and b"<remarks" not in d and b"T17" in d
    [p] = datagrams(picture(asset="A" * 3000), "protobuf")
    assert len(p) <= 1400 and parse(p).cotEvent.detail.xmlDetail == ""
    assert datagrams(picture(), "xml", name="n" * 3000) == []
    assert len(datagrams(picture(), "xml", max_bytes=100_000, name="n" * 3000)) == 1
    with pytest.raises(ValueError, match="format"):
        datagrams(picture(), "json")


def test_uid_is_stable_and_tidy():
    events = track_events(picture(id=[7, 8]), name="Taipei North/#1", day_start_utc=DAY, now_utc=NOW)
    assert [e.uid for e in events] == ["tdome.Taipei_North_1.track.7", "tdome.Taipei_North_1.track.8"]
    later = track_events(picture(id=[8], lat=26.0), name="Taipei North/#1", day_start_utc=DAY, now_utc=NOW)
    assert later[0].uid == events[1].uid


def test_time_line_origin_across_midnight():
    today = datetime(2026, 5, 10, tzinfo=UTC)
    assert time_line_origin(5.0, today + timedelta(seconds=5.2)) == today
    assert time_line_origin(86399.5, today + timedelta(seconds=0.7)) == today - timedelta(days=1)
    assert time_line_origin(86410.0, today + timedelta(seconds=10.3)) == today - timedelta(days=1)
    assert time_line_origin(45000.0, (today + timedelta(seconds=45001)).replace(tzinfo=None)) == today


def test_event_validation():
    kw = dict(uid="u", type="a-u-A", time=NOW, start=NOW, stale=NOW)
    with pytest.raises(ValueError):
        cot_event(lat=90.5, lon=0.0, **kw)
    with pytest.raises(ValueError):
        cot_event(lat=0.0, lon=float("inf"), **kw)
    with pytest.raises(ValueError):
        cot_event(lat=0.0, lon=0.0, **(kw | {"time": datetime(1969, 12, 31, tzinfo=UTC)}))
    ev = cot_event(lat=-90.0, lon=180.0, course=359.999, speed=1.0, callsign="\x00\x01", **kw)
    assert (ev.lat, ev.lon, ev.course, ev.callsign) == (-90.0, 180.0, 0.0, None)
    assert ev.hae == UNKNOWN
    p = parse(encode(ev, "protobuf")).cotEvent
    assert not p.detail.HasField("contact") and p.detail.track.course == 0.0
    with pytest.raises(ValueError, match="format"):
        encode(ev, "json")


# ---------------------------------------------------------------------------------------------- sending


def test_udp_round_trip_on_loopback():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(5.0)
        port = rx.getsockname()[1]
        pic = picture(id=[1, 2], callsign=[None, "CAL 5"])
        sent = datagrams(pic, "protobuf") + datagrams(pic, "xml")
        with CotSender([("127.0.0.1", port)]) as tx:
            assert tx.send(sent) == 4
            assert (tx.sent, tx.failed, tx.last_error) == (4, 0, None)
        got = [rx.recv(65536) for _ in range(4)]
    assert sorted(got) == sorted(sent)
    msgs = [parse(d).cotEvent for d in got]
    assert sorted((m.uid, m.detail.contact.callsign) for m in msgs) == sorted(
        [("tdome.taipei_north.track.1", "T1"), ("tdome.taipei_north.track.2", "CAL 5")] * 2)


def test_sender_counts_failures_and_never_raises():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(5.0)
        port = rx.getsockname()[1]
        # Broadcast without SO_BROADCAST: refused by the system at once, no network involved.
        with CotSender([("255.255.255.255", 9), ("127.0.0.1", port)]) as tx:
            assert tx.send(datagrams(picture(), "protobuf")) == 1
            assert (tx.sent, tx.failed) == (1, 1) and tx.last_error.startswith("255.255.255.255:9")
        assert parse(rx.recv(65536)).cotEvent.uid.endswith(".track.17")
    with pytest.raises(ValueError, match="port"):
        CotSender([("127.0.0.1", 0)])
