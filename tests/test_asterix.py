"""The live service's ASTERIX codec (tdome.live.asterix) against independent decoders.

- Every encoder's output is read back by libasterix with the same edition (generated from the specifications,
  no code shared with the encoders), field by field, within half an LSB (rounding to nearest); CAT048, CAT034
  and CAT021 are also read back by :func:`decode`.
- CAT062, the air picture tdome sends, is read by Wireshark's dissector (tshark).
- A real recording (seven radars' CAT048 plots and CAT034 service messages) is read by :func:`decode` and by
  tshark, record by record.
- :func:`decode` is fuzzed with random and mutated datagrams: it never raises and always says what was wrong.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from datetime import UTC, datetime

import asterix.generated as gen
import numpy as np
import pytest
from asterix.base import Bits, ParsingMode, RawDatablock
from hypothesis import given, settings
from hypothesis import strategies as st

from asterix_tools import need_tool, read_pcap, recording, tshark_records, write_pcap  # noqa: F401 - a fixture
from tdome.live import asterix as asterix_module
from tdome.live.asterix import (
    FL_M,
    FT_M,
    LSB,
    NM_M,
    AdsbReport,
    Decoded,
    ServiceMessage,
    TargetReport,
    decode,
    decode_cat062,
    encode_cat021,
    encode_cat034,
    encode_cat048,
    encode_cat062,
    on_time_line,
    time_of_day_s,
)

ERROR_KINDS = {"truncated", "bad_length", "unknown_category", "parse_error", "impossible_value", "decoder_exception"}
NAN = math.nan
TOD = LSB["I048/140"]
# The editions, as tshark names them; its fields for an edition chosen by name carry the edition too
# (asterix.062_V1_19_105_LAT), so the tests read exactly the edition they asked for.
TSHARK_PREFS = ["asterix.i062_version:Version 1.19", "asterix.i048_version:Version 1.31",
                "asterix.i034_version:Version 1.29", "asterix.i021_version:Version 2.6"]


def rounded(got: float, want: float, lsb: float) -> bool:
    """``got`` is ``want`` rounded to the nearest LSB (float noise allowed)."""
    return abs(got - want) <= 0.5 * lsb + 1e-9 * max(1.0, abs(want))


def rounded_angle(got: float, want: float, lsb: float) -> bool:
    """The same for angles (radians), modulo a turn."""
    d = (got - want + math.pi) % (2 * math.pi) - math.pi
    return abs(d) <= 0.5 * lsb + 1e-12


def lib_records(datagrams: list[bytes], spec, max_bytes: int = 1400) -> list:
    """libasterix's records of datagrams that must each be one data block of ``spec``'s category."""
    out = []
    for dg in datagrams:
        assert len(dg) <= max_bytes
        blocks = RawDatablock.parse(Bits.from_bytes(dg))
        assert not isinstance(blocks, ValueError), blocks
        assert len(blocks) == 1 and blocks[0].get_category() == spec.cv_category
        records = spec.cv_uap.parse(blocks[0].get_raw_records())
        assert not isinstance(records, ValueError), records
        out += records
    return out


def q(item, name: str, unit: str) -> float:
    """A group item's subitem as a quantity."""
    return item.variation.get_item(name).variation.content.as_quantity(unit)


def decoded(datagrams: list[bytes], kind: type) -> list:
    """:func:`decode`'s reports of ``kind`` over datagrams that must hold no error."""
    out = []
    for dg in datagrams:
        d = decode(dg)
        assert d.errors == [] and d.skipped == 0
        assert all(isinstance(r, kind) for r in d.reports)
        out += d.reports
    return out


# --------------------------------------------------------------------------------------------------- CAT048

MAX_RHO_M = 65535 / 256 * NM_M
MAX_3DH_M = 8191 * 25 * FT_M


def maybe(strategy):
    """A value or NaN (absent)."""
    return st.one_of(st.just(NAN), strategy)


plot = st.tuples(
    st.floats(0.0, MAX_RHO_M),  # range
    st.floats(0.0, 2 * math.pi, exclude_max=True),  # azimuth
    maybe(st.floats(-MAX_3DH_M, MAX_3DH_M)),  # 3-D height
    maybe(st.floats(-511.0, 511.0)),  # Doppler speed
    st.integers(-1, 0o7777),  # Mode 3/A code, -1 absent
    st.integers(-1, 0xFFFFFF),  # address, -1 absent
)


@settings(max_examples=80)
@given(st.integers(0, 255), st.integers(0, 255), st.floats(0.0, 86399.99), st.lists(plot, min_size=1, max_size=50),
       st.sampled_from([80, 300, 1400]))
def test_cat048_round_trip(sac, sic, tod, plots, max_bytes):
    rng, az, h, rdot, code, addr = (np.array(c) for c in zip(*plots))
    dgs = encode_cat048(sac, sic, tod, rng, az, height_m=h, rdot_mps=rdot, mode3a=code, address=addr,
                        max_bytes=max_bytes)
    recs = lib_records(dgs, gen.Cat_048_1_31, max_bytes)
    assert len(recs) == len(plots)
    for i, rec in enumerate(recs):
        i010 = rec.get_item("010")
        assert (i010.variation.get_item("SAC").as_uint(), i010.variation.get_item("SIC").as_uint()) == (sac, sic)
        assert rounded(rec.get_item("140").variation.content.as_quantity("s"), tod, TOD)
        typ = rec.get_item("020").variation.get_item("TYP").as_uint()
        assert typ == (7 if addr[i] >= 0 else 3 if code[i] >= 0 else 1)  # Mode S + PSR, SSR + PSR, PSR
        i040 = rec.get_item("040")
        assert rounded(q(i040, "RHO", "NM") * NM_M, rng[i], LSB["I048/040 RHO"])
        assert rounded_angle(math.radians(q(i040, "THETA", "°")), az[i], LSB["I048/040 THETA"])
        i070, i110, i120, i220 = (rec.get_item(k) for k in ("070", "110", "120", "220"))
        assert (i070 is not None) == (code[i] >= 0) and (i220 is not None) == (addr[i] >= 0)
        assert (i110 is not None) == np.isfinite(h[i]) and (i120 is not None) == np.isfinite(rdot[i])
        if i070 is not None:
            assert i070.variation.get_item("MODE3A").as_uint() == code[i]
            assert i070.variation.get_item("V").as_uint() == 0
        if i110 is not None:
            assert rounded(q(i110, "3DH", "ft") * FT_M, h[i], LSB["I048/110"])
        if i120 is not None:
            cal = i120.variation.get_item("CAL")
            assert cal is not None and i120.variation.get_item("RDS") is None
            assert cal.variation.get_item("D").as_uint() == 0
            assert rounded(q(cal, "CAL", "m/s"), rdot[i], LSB["I048/120 CAL"])
        if i220 is not None:
            assert i220.as_uint() == addr[i]
    reports = decoded(dgs, TargetReport)
    assert len(reports) == len(plots)
    for i, r in enumerate(reports):
        assert (r.sac, r.sic, r.mode3a, r.address, r.track_number) == (sac, sic, code[i], addr[i], -1)
        assert rounded(r.tod_s, tod, TOD) and rounded(r.range_m, rng[i], LSB["I048/040 RHO"])
        assert 0.0 <= r.az_rad < 2 * math.pi and rounded_angle(r.az_rad, az[i], LSB["I048/040 THETA"])
        assert math.isnan(r.flight_level_m)
        for got, want, lsb in ((r.height_m, h[i], LSB["I048/110"]), (r.rdot_mps, rdot[i], 1.0)):
            assert math.isnan(got) if math.isnan(want) else rounded(got, want, lsb)


def test_cat048_fields_saturate_and_wrap():
    """Out-of-range values clip to the field's limits; azimuths wrap."""
    (dg,) = encode_cat048(1, 2, 86399.999, [1e6, 0.0], [-0.5 * LSB["I048/040 THETA"] * 0.9, 7 * math.pi],
                          height_m=[1e6, -1e6], rdot_mps=[5000.0, -5000.0])
    a, b = decode(dg).reports
    assert a.tod_s == 0.0  # 86399.999 s rounds to the next midnight
    assert a.range_m == MAX_RHO_M and b.range_m == 0.0
    assert a.az_rad == 0.0 and rounded_angle(b.az_rad, math.pi, LSB["I048/040 THETA"])
    assert (a.height_m, b.height_m) == (MAX_3DH_M, -8192 * 25 * FT_M)
    # Beyond CAL's ±511 m/s a range rate is not clipped: it travels in tdome's I048/SP extension, to 1 mm/s.
    assert (a.rdot_mps, b.rdot_mps) == (5000.0, -5000.0)


def test_cat048_flight_level_is_twos_complement():
    """I048/090 read as 14-bit two's complement (module docstring), and NaN when the code is not validated."""
    rec = gen.Cat_048_1_31.cv_record

    def fl(raw: int, v: int = 0) -> float:
        r = rec.create({"010": (("SAC", 1), ("SIC", 2)), "040": 0, "090": (("V", v), ("G", 0), ("FL", raw))})
        (report,) = decode(gen.Cat_048_1_31.create([r]).unparse().to_bytes()).reports
        return report.flight_level_m

    assert fl(1320) == 330 * FL_M
    assert fl(16384 - 40) == -10 * FL_M  # -1000 ft, the lowest Mode C altitude
    assert math.isnan(fl(1320, v=1))


# --------------------------------------------------------------------------------------------------- CAT034


@settings(max_examples=60)
@given(st.integers(0, 255), st.integers(0, 255), st.integers(1, 7), st.floats(0.0, 86399.99),
       maybe(st.floats(0.0, 2 * math.pi, exclude_max=True)), maybe(st.floats(0.0, 511.99)))
def test_cat034_round_trip(sac, sic, kind, tod, sector, period):
    dg = encode_cat034(sac, sic, kind, tod, sector_az_rad=None if math.isnan(sector) else sector,
                       rotation_period_s=None if math.isnan(period) else period)
    (rec,) = lib_records([dg], gen.Cat_034_1_29)
    assert rec.get_item("010").as_uint() == sac << 8 | sic and rec.get_item("000").as_uint() == kind
    assert rounded(rec.get_item("030").variation.content.as_quantity("s"), tod, TOD)
    i020, i041 = rec.get_item("020"), rec.get_item("041")
    assert (i020 is None) == math.isnan(sector) and (i041 is None) == math.isnan(period)
    if i020 is not None:
        assert rounded_angle(math.radians(i020.variation.content.as_quantity("°")), sector, LSB["I034/020"])
    if i041 is not None:
        assert rounded(i041.variation.content.as_quantity("s"), period, LSB["I034/041"])
    (m,) = decoded([dg], ServiceMessage)
    assert (m.sac, m.sic, m.kind) == (sac, sic, kind) and rounded(m.tod_s, tod, TOD)
    assert math.isnan(m.sector_az_rad) if math.isnan(sector) else rounded_angle(m.sector_az_rad, sector,
                                                                                 LSB["I034/020"])
    assert math.isnan(m.rotation_period_s) if math.isnan(period) else rounded(m.rotation_period_s, period,
                                                                                LSB["I034/041"])


# --------------------------------------------------------------------------------------------------- CAT021

MAX_GEO_HEIGHT_M = 32767 * 6.25 * FT_M
ICAO_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
adsb = st.tuples(
    st.integers(0, 0xFFFFFF),
    st.floats(-90.0, 90.0),
    st.floats(-180.0, 180.0, exclude_max=True),
    maybe(st.floats(-MAX_GEO_HEIGHT_M, MAX_GEO_HEIGHT_M)),
    st.one_of(st.just((NAN, NAN)), st.tuples(st.floats(-2500.0, 2500.0), st.floats(-2500.0, 2500.0))),
    st.text(ICAO_CHARS, max_size=8),
)


@settings(max_examples=80)
@given(st.integers(0, 255), st.integers(0, 255), st.floats(0.0, 86399.99), st.lists(adsb, min_size=1, max_size=40),
       st.sampled_from([120, 1400]))
def test_cat021_round_trip(sac, sic, tod, reports, max_bytes):
    addr, lat, lon, alt, vel, callsign = zip(*reports)
    ve, vn = np.array([v[0] for v in vel]), np.array([v[1] for v in vel])
    dgs = encode_cat021(sac, sic, tod, np.array(addr), np.array(lat), np.array(lon), np.array(alt), ve, vn,
                        list(callsign), max_bytes=max_bytes, service_id=7)
    recs = lib_records(dgs, gen.Cat_021_2_6, max_bytes)
    assert len(recs) == len(reports)
    lsb_ll, lsb_gs, lsb_ta = LSB["I021/131"], LSB["I021/160 GS"], LSB["I021/160 TA"]
    for i, rec in enumerate(recs):
        assert rec.get_item("010").as_uint() == sac << 8 | sic and rec.get_item("080").as_uint() == addr[i]
        i040 = rec.get_item("040").variation
        assert (i040.get_item("ATP").as_uint(), i040.get_item("RAB").as_uint()) == (0, 0)
        assert rec.get_item("161").variation.get_item("TRNUM").as_uint() == i % 4096
        assert rec.get_item("015").as_uint() == 7
        for name in ("071", "073"):
            assert rounded(rec.get_item(name).variation.content.as_quantity("s"), tod, TOD)
        i131 = rec.get_item("131")
        assert rec.get_item("130") is None
        assert rounded(q(i131, "LAT", "°"), lat[i], lsb_ll) and rounded(q(i131, "LON", "°"), lon[i], lsb_ll)
        i140, i160, i170 = rec.get_item("140"), rec.get_item("160"), rec.get_item("170")
        assert (i140 is None) == math.isnan(alt[i]) and (i160 is None) == math.isnan(ve[i])
        assert (i170 is None) == (callsign[i].strip() == "")
        if i140 is not None:
            assert rounded(i140.variation.content.as_quantity("ft") * FT_M, alt[i], LSB["I021/140"])
        if i160 is not None:
            assert i160.variation.get_item("RE").as_uint() == 0
            assert rounded(q(i160, "GS", "NM/s") * NM_M, math.hypot(ve[i], vn[i]), lsb_gs)
            assert rounded_angle(math.radians(q(i160, "TA", "°")), math.atan2(ve[i], vn[i]), lsb_ta)
        if i170 is not None:
            assert i170.variation.content.as_string().rstrip() == callsign[i].rstrip()
    ours = decoded(dgs, AdsbReport)
    assert len(ours) == len(reports)
    for i, r in enumerate(ours):
        assert (r.sac, r.sic, r.address, r.callsign) == (sac, sic, addr[i], callsign[i].rstrip())
        assert rounded(r.tod_s, tod, TOD) and rounded(r.lat_deg, lat[i], lsb_ll) and rounded(r.lon_deg, lon[i], lsb_ll)
        assert math.isnan(r.alt_m) if math.isnan(alt[i]) else rounded(r.alt_m, alt[i], LSB["I021/140"])
        if math.isnan(ve[i]):
            assert math.isnan(r.vel_east_mps) and math.isnan(r.vel_north_mps)
        else:  # half an LSB of speed, and of track angle at this speed
            tol = 0.5 * lsb_gs + 0.5 * lsb_ta * math.hypot(ve[i], vn[i]) + 1e-9
            assert abs(r.vel_east_mps - ve[i]) <= tol and abs(r.vel_north_mps - vn[i]) <= tol


def test_cat021_speed_beyond_the_field_sets_range_exceeded():
    (dg,) = encode_cat021(1, 2, 0.0, [1], [0.0], [0.0], [0.0], [0.0], [5000.0], ["X"])
    (rec,) = lib_records([dg], gen.Cat_021_2_6)
    i160 = rec.get_item("160")
    assert i160.variation.get_item("RE").as_uint() == 1 and i160.variation.get_item("GS").as_uint() == 0x7FFF


def test_callsigns_outside_the_icao_alphabet_are_refused():
    for bad in ("TOOLONG99", "AB-1", "ÅB"):
        with pytest.raises(ValueError, match="callsign"):
            encode_cat021(1, 2, 0.0, [1], [0.0], [0.0], [0.0], [0.0], [0.0], [bad])


# --------------------------------------------------------------------------------------------------- CAT062

MAX_XY_M = (2**23 - 1) * 0.5
MAX_V_MPS = (2**15 - 1) * 0.25
MAX_ALT_M = (2**15 - 1) * LSB["I062/130"]
MAX_CLIMB_MPS = (2**15 - 1) * LSB["I062/220"]


def tracks(n: int, seed: int) -> dict:
    """n system tracks with every optional item absent somewhere and values up to the fields' limits."""
    rng = np.random.default_rng(seed)
    out = dict(
        lat_deg=rng.uniform(-90, 90, n), lon_deg=rng.uniform(-180, 180, n),
        x_m=rng.uniform(-MAX_XY_M, MAX_XY_M, n), y_m=rng.uniform(-MAX_XY_M, MAX_XY_M, n),
        vx_mps=rng.uniform(-MAX_V_MPS, MAX_V_MPS, n), vy_mps=rng.uniform(-MAX_V_MPS, MAX_V_MPS, n),
        alt_m=rng.uniform(-MAX_ALT_M, MAX_ALT_M, n), climb_mps=rng.uniform(-MAX_CLIMB_MPS, MAX_CLIMB_MPS, n),
        confirmed=rng.random(n) < 0.7, coasting=rng.random(n) < 0.3,
        mode_of_movement_trans=rng.integers(0, 4, n), mode_of_movement_long=rng.integers(0, 4, n),
        mode_of_movement_vert=rng.integers(0, 4, n),
    )
    for pair in (("lat_deg", "lon_deg"), ("x_m", "y_m"), ("vx_mps", "vy_mps"), ("alt_m",), ("climb_mps",)):
        gone = rng.random(n) < 0.15
        for k in pair:
            out[k][gone] = NAN
    return out


def check_cat062_records(recs, tod, tn, t: dict) -> None:
    """libasterix's CAT062 records hold the tracks ``t`` (each item present where its values are finite)."""
    assert len(recs) == len(tn)
    lsb_ll, lsb_v = LSB["I062/105"], LSB["I062/185"]
    for i, rec in enumerate(recs):
        assert rec.get_item("040").as_uint() == tn[i] and rec.get_item("015").as_uint() == 1
        assert rounded(rec.get_item("070").variation.content.as_quantity("s"), tod[i], TOD)
        items = {k: rec.get_item(k) for k in ("105", "100", "185", "130", "220")}
        assert (items["105"] is None) == math.isnan(t["lat_deg"][i])
        assert (items["100"] is None) == math.isnan(t["x_m"][i])
        assert (items["185"] is None) == math.isnan(t["vx_mps"][i])
        assert (items["130"] is None) == math.isnan(t["alt_m"][i])
        assert (items["220"] is None) == math.isnan(t["climb_mps"][i])
        if items["105"] is not None:
            assert rounded(q(items["105"], "LAT", "°"), t["lat_deg"][i], lsb_ll)
            assert rounded(q(items["105"], "LON", "°"), t["lon_deg"][i], lsb_ll)
        if items["100"] is not None:
            assert rounded(q(items["100"], "X", "m"), t["x_m"][i], 0.5)
            assert rounded(q(items["100"], "Y", "m"), t["y_m"][i], 0.5)
        if items["185"] is not None:
            assert rounded(q(items["185"], "VX", "m/s"), t["vx_mps"][i], lsb_v)
            assert rounded(q(items["185"], "VY", "m/s"), t["vy_mps"][i], lsb_v)
        if items["130"] is not None:
            assert rounded(items["130"].variation.content.as_quantity("ft") * FT_M, t["alt_m"][i], LSB["I062/130"])
        if items["220"] is not None:
            climb = items["220"].variation.content.as_quantity("ft/min") * FT_M / 60
            assert rounded(climb, t["climb_mps"][i], LSB["I062/220"])
        status = rec.get_item("080").variation
        got = {k: status.get_item(k).as_uint() for k in ("MON", "MRH", "SRC", "CNF", "CST")}
        assert got == dict(MON=0, MRH=1, SRC=0 if math.isnan(t["alt_m"][i]) else 2, CNF=int(not t["confirmed"][i]),
                           CST=int(t["coasting"][i]))
        mom = rec.get_item("200").variation
        assert [mom.get_item(k).as_uint() for k in ("TRANS", "LONG", "VERT", "ADF")] == [
            t["mode_of_movement_trans"][i], t["mode_of_movement_long"][i], t["mode_of_movement_vert"][i], 0]


@settings(max_examples=30)
@given(st.integers(1, 120), st.integers(0, 2**32 - 1), st.booleans(), st.sampled_from([100, 1400]))
def test_cat062_round_trip(n, seed, per_track_time, max_bytes):
    t = tracks(n, seed)
    rng = np.random.default_rng(seed)
    tod = rng.uniform(0, 86399.99, n) if per_track_time else np.full(n, rng.uniform(0, 86399.99))
    tn = rng.choice(65536, n, replace=False)
    dgs = encode_cat062(9, 10, tod if per_track_time else float(tod[0]), tn, max_bytes=max_bytes, **t)
    recs = lib_records(dgs, gen.Cat_062_1_19, max_bytes)
    assert all(r.get_item("010").as_uint() == 9 << 8 | 10 for r in recs)
    check_cat062_records(recs, tod, tn, t)
    ours = [trk for dg in dgs for trk in decode_cat062(dg)]  # the simulator's reader of the picture
    assert [(trk.sac, trk.sic, trk.track_number) for trk in ours] == [(9, 10, k) for k in tn]
    for i, trk in enumerate(ours):
        assert rounded(trk.tod_s, tod[i], TOD)
        assert (trk.confirmed, trk.coasting) == (t["confirmed"][i], t["coasting"][i])
        for got, key, lsb in ((trk.lat_deg, "lat_deg", LSB["I062/105"]), (trk.lon_deg, "lon_deg", LSB["I062/105"]),
                              (trk.x_m, "x_m", 0.5), (trk.y_m, "y_m", 0.5), (trk.vx_mps, "vx_mps", 0.25),
                              (trk.vy_mps, "vy_mps", 0.25), (trk.alt_m, "alt_m", LSB["I062/130"]),
                              (trk.climb_mps, "climb_mps", LSB["I062/220"])):
            want = t[key][i]
            assert math.isnan(got) if math.isnan(want) else rounded(got, want, lsb)


def test_cat062_read_by_tshark(tmp_path):
    """Wireshark's dissector reads every field tdome writes, within half an LSB."""
    n = 500
    t = tracks(n, 62)
    tod = np.full(n, 43210.123)
    tn = np.arange(1000, 1000 + n)
    dgs = encode_cat062(7, 8, 43210.123, tn, **t)
    packets = tshark_records(write_pcap(tmp_path / "cat062.pcap", dgs), [8600], TSHARK_PREFS)
    recs = [fields for packet in packets for cat, fields in packet if cat == 62]
    assert len(packets) == len(dgs) and len(recs) == n

    def f(rec: dict, name: str) -> float:
        return float(rec[f"asterix.062_V1_19_{name}"])

    lsb_ll, lsb_v = LSB["I062/105"], LSB["I062/185"]
    for i, rec in enumerate(recs):
        assert (int(rec["asterix.062_V1_19_010_SAC"], 0), int(rec["asterix.062_V1_19_010_SIC"], 0)) == (7, 8)
        assert int(rec["asterix.062_V1_19_040_VALUE"], 0) == tn[i]
        assert rounded(f(rec, "070_VALUE"), tod[i], TOD)
        has = {name: f"asterix.062_V1_19_{name}" in rec for name in ("105_LAT", "100_X", "185_VX", "130_VALUE",
                                                                      "220_VALUE")}
        assert has == {"105_LAT": not math.isnan(t["lat_deg"][i]), "100_X": not math.isnan(t["x_m"][i]),
                       "185_VX": not math.isnan(t["vx_mps"][i]), "130_VALUE": not math.isnan(t["alt_m"][i]),
                       "220_VALUE": not math.isnan(t["climb_mps"][i])}
        if has["105_LAT"]:
            assert rounded(f(rec, "105_LAT"), t["lat_deg"][i], lsb_ll)
            assert rounded(f(rec, "105_LON"), t["lon_deg"][i], lsb_ll)
        if has["100_X"]:
            assert rounded(f(rec, "100_X"), t["x_m"][i], 0.5) and rounded(f(rec, "100_Y"), t["y_m"][i], 0.5)
        if has["185_VX"]:
            assert rounded(f(rec, "185_VX"), t["vx_mps"][i], lsb_v) and rounded(f(rec, "185_VY"), t["vy_mps"][i], lsb_v)
        if has["130_VALUE"]:
            assert rounded(f(rec, "130_VALUE") * FT_M, t["alt_m"][i], LSB["I062/130"])
        if has["220_VALUE"]:
            assert rounded(f(rec, "220_VALUE") * FT_M / 60, t["climb_mps"][i], LSB["I062/220"])
        status = {k: int(rec[f"asterix.062_V1_19_080_{k}"]) for k in ("MON", "MRH", "SRC", "CNF", "CST")}
        assert status == dict(MON=0, MRH=1, SRC=2 if has["130_VALUE"] else 0, CNF=int(not t["confirmed"][i]),
                              CST=int(t["coasting"][i]))
        mom = [int(rec[f"asterix.062_V1_19_200_{k}"]) for k in ("TRANS", "LONG", "VERT", "ADF")]
        assert mom == [t["mode_of_movement_trans"][i], t["mode_of_movement_long"][i], t["mode_of_movement_vert"][i], 0]


@pytest.mark.parametrize("max_bytes", [1400, 200, 64])
def test_cat062_splitting(max_bytes):
    """500 tracks: datagrams of one data block each, none over max_bytes, packed full, all tracks in order."""
    n = 500
    t = tracks(n, 5)
    dgs = encode_cat062(1, 2, 100.0, np.arange(n), max_bytes=max_bytes, **t)
    assert all(len(dg) <= max_bytes and int.from_bytes(dg[1:3], "big") == len(dg) for dg in dgs)
    recs = lib_records(dgs, gen.Cat_062_1_19, max_bytes)
    assert [r.get_item("040").as_uint() for r in recs] == list(range(n))
    check_cat062_records(recs, np.full(n, 100.0), np.arange(n), t)
    # Packed greedily: the first record of each datagram would not have fitted in the one before.
    for before, after in itertools.pairwise(dgs):
        first = lib_records([after], gen.Cat_062_1_19, max_bytes)[0]
        assert len(before) + len(first.unparse().to_bytes()) > max_bytes


def test_absent_codes_may_be_nan():
    """Optional codes (Mode 3/A, address) may be given as floats with NaN where absent, as well as -1."""
    a = encode_cat048(1, 2, 0.0, [1e3, 2e3], [0.0, 1.0], mode3a=[np.nan, 0o1200], address=[-1.0, 77.0])
    b = encode_cat048(1, 2, 0.0, [1e3, 2e3], [0.0, 1.0], mode3a=[-1, 0o1200], address=[-1, 77])
    assert a == b
    with pytest.raises(ValueError, match="mode3a"):
        encode_cat048(1, 2, 0.0, [1e3], [0.0], mode3a=[1.5])
    with pytest.raises(ValueError, match="address"):
        encode_cat048(1, 2, 0.0, [1e3], [0.0], address=[2**24])


def test_empty_batches_give_no_datagram():
    t = {k: v[:0] for k, v in tracks(1, 0).items()}
    assert encode_cat062(1, 2, 0.0, np.zeros(0, int), **t) == []
    assert encode_cat048(1, 2, 0.0, np.zeros(0), np.zeros(0)) == []
    assert encode_cat021(1, 2, 0.0, np.zeros(0, int), *[np.zeros(0)] * 5, []) == []


# --------------------------------------------------------------------------------------------------- decoding


def test_datagram_of_several_blocks_and_categories():
    """Blocks of different categories in one datagram, an unknown one among them, all read in order."""
    a = encode_cat034(1, 2, 1, 10.0)
    (b,) = encode_cat048(1, 2, 10.5, [1000.0], [1.0])
    (c,) = encode_cat062(1, 2, 11.0, [3], [1.0], [2.0], [0.0], [0.0], [0.0], [0.0], [NAN], [NAN], confirmed=True,
                         coasting=False, mode_of_movement_trans=0, mode_of_movement_long=0, mode_of_movement_vert=0)
    (d,) = encode_cat021(1, 2, 12.0, [5], [1.0], [2.0], [NAN], [NAN], [NAN], [""])
    out = decode(a + b + c + d)
    assert [type(r) for r in out.reports] == [ServiceMessage, TargetReport, AdsbReport]
    assert out.errors == [("unknown_category", f"CAT062 block at byte {len(a) + len(b)}")]


@pytest.mark.parametrize(
    ("datagram", "kind"),
    [
        (b"", "truncated"),
        (b"\x30\x00", "truncated"),
        (b"\x30\x00\x10\x01", "truncated"),  # the length field says 16, 4 bytes came
        (b"\x30\x00\x02\x00", "bad_length"),
        (b"\x30\x00\x03", "bad_length"),  # a block with no record
        (b"\x3e\x00\x04\x00", "unknown_category"),
        (b"\x30\x00\x05\x80\x01", "bad_length"),  # I048/010 announced, one byte of it there
        (b"\x30\x00\x08\x01\x01\x01\x01\x00", "parse_error"),  # an FSPEC of 5 octets, CAT048 has 4
        (b"\x15\x00\x0a" + b"\x01" * 6 + b"\x80", "parse_error"),  # CAT021 FRN 43, a spare
        (b"\x30\x00\x05\x02\x00", "impossible_value"),  # an empty I048/130 alone: no source, no position
        (b"\x30\x00\x04\x40", "bad_length"),  # I048/140 announced, nothing there
        (b"\x30\x00\x06\x90\x01\x02", "bad_length"),
        (b"\x30\x00\x08\x90\x01\x02\x00\x00", "bad_length"),
    ],
)
def test_malformed_datagrams(datagram, kind):
    out = decode(datagram)
    assert out.reports == [] and [k for k, _ in out.errors] == [kind]


def test_impossible_values_drop_the_record_not_the_datagram():
    rec = gen.Cat_048_1_31.cv_record
    good = rec.create({"010": (("SAC", 1), ("SIC", 2)), "140": (100.0, "s"), "040": 0})
    no_source = rec.create({"140": (100.0, "s"), "040": 0})
    no_position = rec.create({"010": (("SAC", 1), ("SIC", 2)), "140": (100.0, "s")})
    late = rec.create({"010": (("SAC", 1), ("SIC", 2)), "140": 86400 * 128 + 5, "040": 0})
    track_end = rec.create({"010": (("SAC", 1), ("SIC", 2)), "020": ((("TYP", 0), 0, 0, 0, 0, None),)})
    out = decode(gen.Cat_048_1_31.create([good, no_source, no_position, late, track_end, good]).unparse().to_bytes())
    assert len(out.reports) == 2 and out.skipped == 1
    assert [k for k, _ in out.errors] == ["impossible_value"] * 3
    far = gen.Cat_021_2_6.cv_record.create({"010": 0, "080": 1, "130": (("LAT", 2**23 - 1), ("LON", 0))})
    out = decode(gen.Cat_021_2_6.create([far]).unparse().to_bytes())
    assert out.reports == [] and [k for k, _ in out.errors] == ["impossible_value"]


# --------------------------------------------------------------------------------------------------- a recording


def test_recording_read_as_tshark_reads_it(recording):  # noqa: F811 - the fixture
    """A real capture: every plot and service message as Wireshark reads it, record by record.

    The capture: 100 datagrams, 128 CAT048 records (126 plots and 2 track-end messages of no detection) and 34
    CAT034 messages (2 north markers, 32 sector crossings) from 7 radars (SAC 25, SIC 11-14, 201, 204, 205),
    each sent twice, by the radar's two RDP chains to two multicast groups.
    """
    packets = read_pcap(recording)
    assert len(packets) == 100
    theirs = tshark_records(recording, [port for _, port, _ in packets], TSHARK_PREFS)
    assert len(theirs) == len(packets)
    plots = services = skipped = 0
    radars: set[tuple[int, int]] = set()
    t_plots = t_services = t_no_detection = 0
    t_radars: set[tuple[int, int]] = set()
    for (_, _, payload), records in zip(packets, theirs):
        ours = decode(payload)
        assert ours.errors == []
        skipped += ours.skipped
        t48 = [r for cat, r in records if cat == 48 and "asterix.048_V1_31_040_RHO" in r]
        t34 = [r for cat, r in records if cat == 34]
        t_no_detection += sum(1 for cat, r in records if cat == 48 and r.get("asterix.048_V1_31_020_TYP") == "0")
        o48 = [r for r in ours.reports if isinstance(r, TargetReport)]
        o34 = [r for r in ours.reports if isinstance(r, ServiceMessage)]
        assert len(o48) == len(t48) and len(o34) == len(t34) and len(o48) + len(o34) == len(ours.reports)
        # Both read the same bits: the values agree to far less than an LSB (tshark prints 15 digits).
        for o, t in zip(o48, t48):
            source = (int(t["asterix.048_V1_31_010_SAC"], 0), int(t["asterix.048_V1_31_010_SIC"], 0))
            assert (o.sac, o.sic) == source
            assert abs(o.range_m - float(t["asterix.048_V1_31_040_RHO"]) * NM_M) < 0.01 * LSB["I048/040 RHO"]
            theta = math.radians(float(t["asterix.048_V1_31_040_THETA"]))
            assert abs(o.az_rad - theta) < 0.01 * LSB["I048/040 THETA"]
            assert abs(o.tod_s - float(t["asterix.048_V1_31_140_VALUE"])) < 0.01 * TOD
            radars.add((o.sac, o.sic))
            t_radars.add(source)
        for o, t in zip(o34, t34):
            source = (int(t["asterix.034_V1_29_010_SAC"], 0), int(t["asterix.034_V1_29_010_SIC"], 0))
            assert (o.sac, o.sic, o.kind) == (*source, int(t["asterix.034_V1_29_000_VALUE"]))
            assert abs(o.tod_s - float(t["asterix.034_V1_29_030_VALUE"])) < 0.01 * TOD
            sector = t.get("asterix.034_V1_29_020_VALUE")
            assert math.isnan(o.sector_az_rad) if sector is None else abs(
                o.sector_az_rad - math.radians(float(sector))) < 1e-9
            radars.add((o.sac, o.sic))
            t_radars.add(source)
        plots, services = plots + len(o48), services + len(o34)
        t_plots, t_services = t_plots + len(t48), t_services + len(t34)
    assert (plots, services, skipped, len(radars)) == (t_plots, t_services, t_no_detection, len(t_radars))
    assert (plots, services, skipped, radars) == (126, 34, 2, {(25, s) for s in (11, 12, 13, 14, 201, 204, 205)})


# --------------------------------------------------------------------------------------------------- fuzzing


def assert_same(fast, lib):
    """The fast CAT048 reader's result is libasterix's, to the last bit (NaN reads as NaN)."""
    assert (fast.errors, fast.skipped) == (lib.errors, lib.skipped)
    assert [type(r) for r in fast.reports] == [type(r) for r in lib.reports]
    for a, b in zip(fast.reports, lib.reports, strict=True):
        for x, y in zip(dataclasses.astuple(a), dataclasses.astuple(b), strict=True):
            assert x == y or (x != x and y != y), (a, b)


def check_decoded(datagram: bytes):
    """decode never raises, and either reads something or says what was wrong, in the documented words, the
    same with the fast CAT048 reader as with libasterix alone; decode_cat062 never raises either."""
    out = decode(datagram)
    assert_same(out, decode(datagram, fast=False))
    assert out.reports or out.errors or out.skipped, datagram.hex()
    assert all(0 <= trk.track_number < 65536 for trk in decode_cat062(datagram))
    assert {k for k, _ in out.errors} <= ERROR_KINDS, out.errors
    return out


def valid_datagrams(rng) -> list[bytes]:
    """A corpus of small valid datagrams of every category the encoders write."""
    corpus = []
    for n in (1, 2, 3):
        corpus += encode_cat048(rng.integers(256), rng.integers(256), rng.uniform(0, 86400), rng.uniform(0, 4e5, n),
                                rng.uniform(0, 6.28, n), height_m=rng.uniform(0, 2e4, n), rdot_mps=rng.normal(0, 99, n),
                                mode3a=rng.integers(-1, 4096, n), address=rng.integers(-1, 2**24, n))
        corpus += encode_cat021(1, 2, rng.uniform(0, 86400), rng.integers(0, 2**24, n), rng.uniform(-90, 90, n),
                                rng.uniform(-180, 180, n), rng.uniform(0, 1e4, n), rng.normal(0, 99, n),
                                rng.normal(0, 99, n), ["TDOME1"] * n)
        t = tracks(n, int(rng.integers(1 << 30)))
        corpus += encode_cat062(1, 2, rng.uniform(0, 86400), np.arange(n), **t)
    corpus += [encode_cat034(1, 2, k, rng.uniform(0, 86400), sector_az_rad=1.0, rotation_period_s=4.0) for k in (1, 2)]
    return corpus


def mutate(dg: bytes, rng) -> bytes:
    """One mutation of a valid datagram: bit flips (mostly in the header and FSPEC), a truncation, a new length
    field, a new category, junk appended, or two datagrams joined."""
    b = bytearray(dg)
    kind = rng.integers(7)
    if kind == 0:  # bit flips near the front, where the framing and the FSPEC are
        for _ in range(rng.integers(1, 4)):
            i = int(rng.integers(min(len(b), 8)))
            b[i] ^= 1 << int(rng.integers(8))
    elif kind == 1:  # bit flips anywhere
        for _ in range(rng.integers(1, 9)):
            i = int(rng.integers(len(b)))
            b[i] ^= 1 << int(rng.integers(8))
    elif kind == 2:
        b = b[: rng.integers(len(b))]
    elif kind == 3:
        b[1:3] = int(rng.integers(0, 2 * len(b) + 8)).to_bytes(2, "big")
    elif kind == 4:
        b[0] = int(rng.choice([21, 34, 48, 62, rng.integers(256)]))
    elif kind == 5:
        b += rng.bytes(int(rng.integers(1, 40)))
    else:
        b += b[: rng.integers(len(b) + 1)]
    return bytes(b)


def test_fuzz_decode_never_raises():
    """100,000 datagrams: a quarter random bytes of random lengths (0-300), the rest mutations of valid datagrams
    of every category the encoders write, each read twice (fast CAT048 reader and libasterix alone)."""
    rng = np.random.default_rng(20240601)
    corpus = valid_datagrams(rng)
    kinds: dict[str, int] = dict.fromkeys(ERROR_KINDS, 0)
    read = 0
    for i in range(100_000):
        mutant = mutate(corpus[int(rng.integers(len(corpus)))], rng) if i % 4 else None
        out = check_decoded(mutant or rng.bytes(int(rng.integers(0, 301))))
        read += bool(out.reports)
        for k, _ in out.errors:
            kinds[k] += 1
    # Every way of going wrong was met, bar libasterix raising (it returns its errors), and much was still read.
    assert all(kinds[k] > 100 for k in ERROR_KINDS - {"decoder_exception"}), kinds
    assert read > 5000


def test_fuzz_the_recording(recording):  # noqa: F811 - the fixture
    """Mutations of a real capture's datagrams (several blocks, rich records)."""
    payloads = [p for _, _, p in read_pcap(recording)]
    rng = np.random.default_rng(7)
    for _ in range(10_000):
        check_decoded(mutate(payloads[int(rng.integers(len(payloads)))], rng))



def cat048_blocks(datagrams: list[bytes]) -> list[bytes]:
    """The records of every CAT048 data block in well-framed datagrams."""
    out = []
    for dg in datagrams:
        off = 0
        while off + 3 <= len(dg):
            length = int.from_bytes(dg[off + 1 : off + 3], "big")
            if dg[off] == 48:
                out.append(dg[off + 3 : off + length])
            off += length
    return out


def test_the_fast_reader_reads_real_and_generated_plots(recording):  # noqa: F811 - the fixture
    """The fuzz tests hold the fast CAT048 reader to libasterix; here it must also be the one that reads: every
    block of the real recording (rich records: 130, 250, 170, 200 ...) and of the encoders, none left to
    libasterix."""
    generated = encode_cat048(3, 4, 100.0, np.linspace(1e3, 4e5, 300), np.linspace(0, 6.2, 300),
                              height_m=np.linspace(-500, 2e4, 300), rdot_mps=np.linspace(-400, 400, 300),
                              mode3a=np.arange(300), address=np.arange(300) - 1, el_rad=np.linspace(-0.1, 1.5, 300))
    blocks = cat048_blocks([p for _, _, p in read_pcap(recording)]) + cat048_blocks(generated)
    assert len(blocks) > 50
    for records in blocks:
        assert asterix_module._read_cat048_fast(records, Decoded([], [])), records.hex()

@settings(max_examples=500)
@given(st.binary(max_size=400))
def test_decode_any_bytes(data):
    check_decoded(data)


@settings(max_examples=500)
@given(st.sampled_from([21, 34, 48]), st.binary(min_size=1, max_size=200))
def test_decode_any_records(cat, records):
    """Well-framed blocks of random records: the records themselves go through libasterix."""
    check_decoded(bytes([cat]) + (len(records) + 3).to_bytes(2, "big") + records)


# --------------------------------------------------------------------------------------------------- the helpers


def test_pcap_written_is_read_back(tmp_path):
    payloads = [b"", b"\x30\x00\x03", bytes(range(256)) * 5]
    path = write_pcap(tmp_path / "x.pcap", payloads, dst_port=8601, t0_s=12.5, dt_s=0.25)
    assert read_pcap(path) == [(12.5 + 0.25 * i, 8601, p) for i, p in enumerate(payloads)]
    frame = path.read_bytes()[24 + 16 :]
    ip = frame[14:34]
    assert sum(int.from_bytes(ip[i : i + 2], "big") for i in range(0, 20, 2)) % 0xFFFF == 0  # checksum holds


def test_need_tool_skips_or_fails_under_ci(monkeypatch):
    assert need_tool("/bin/sh", "it is everywhere") == "/bin/sh"
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"nothing-here missing: \.ci/install-tools installs it"):
        need_tool("/nonexistent/nothing-here", ".ci/install-tools installs it")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="nothing-here missing"):
        need_tool("/nonexistent/nothing-here", ".ci/install-tools installs it")


# --------------------------------------------------------------------------------------------------- time


@settings(max_examples=300)
@given(st.floats(0, 4e9))
def test_time_of_day_is_utc_seconds_since_midnight(unix_s):
    t = datetime.fromtimestamp(unix_s, UTC)
    want = t.hour * 3600 + t.minute * 60 + t.second + t.microsecond * 1e-6
    assert abs(time_of_day_s(unix_s) - want) < 1e-5 or abs(abs(time_of_day_s(unix_s) - want) - 86400) < 1e-5


@settings(max_examples=300)
@given(st.floats(0, 4e9), st.lists(st.floats(-43000.0, 43000.0), max_size=50))
def test_unwrap_time_recovers_the_continuous_time(reference, steps):
    """Reports up to 43,000 s either side of the latest time seen come back on the right day."""
    latest = reference
    for step in steps:
        t = latest + step
        assert abs(on_time_line(time_of_day_s(t), latest) - t) < 1e-5
        latest = max(latest, t)


def test_unwrap_time_across_midnight():
    latest = 2 * 86400 - 10.0  # 23:59:50 on day 1
    assert on_time_line(86395.0, latest) == 2 * 86400 - 5  # 23:59:55
    assert on_time_line(3.0, latest + 5) == 2 * 86400 + 3  # 00:00:03 the next day
    assert on_time_line(86399.0, 2 * 86400 + 3) == 2 * 86400 - 1  # a late report from before midnight stays before
    assert on_time_line(6.0, 2 * 86400 + 3) == 2 * 86400 + 6


@settings(max_examples=200, deadline=None)
@given(el=st.floats(-math.pi / 2, math.pi / 2), rdot=st.floats(-8000.0, 8000.0))
def test_the_sp_extension_carries_the_measured_elevation_and_range_rate(el, rdot):
    """tdome's I048/SP measurement extension: elevation to π/2³¹ rad, range rate to 1 mm/s, each within half
    an LSB; libasterix reads the record (SP is an explicit item: its bytes are the extension as written)."""
    (dg,) = encode_cat048(1, 2, 100.0, [50e3], [1.0], height_m=[70e3], rdot_mps=[rdot], el_rad=[el])
    (r,) = decode(dg).reports
    assert abs(r.el_rad - el) <= math.pi / 2**32 * 1.001
    assert abs(r.rdot_mps - rdot) <= 0.5e-3 * 1.001
    (block,) = RawDatablock.parse(Bits.from_bytes(dg))
    rec, rest = gen.Cat_048_1_31.cv_record.parse(ParsingMode.StrictParsing, block.get_raw_records())
    assert not len(rest) and rec.get_item("SP").variation.get_bytes()[0] == 0x74
