"""ASTERIX in and out: radar plots, radar service messages and ADS-B reports read, system tracks written.

The live service talks to the surveillance network in EUROCONTROL's ASTERIX.  It reads

- CAT048 (monoradar target reports, edition 1.31): the radars' plots, as :class:`TargetReport`;
- CAT034 (monoradar service messages, edition 1.29): north markers, sector crossings, as :class:`ServiceMessage`;
- CAT021 (ADS-B target reports, edition 2.6): cooperative aircraft's own positions, as :class:`AdsbReport`;

and writes CAT062 (SDPS system tracks, edition 1.19), the air picture, plus CAT048, CAT034 and CAT021 for the
simulator's feed (a simulated radar network on the wire).  These editions are the ones Wireshark 4.0's ASTERIX
dissector decodes by default, so a capture of the service's traffic reads the same in Wireshark as here.

Reading uses libasterix (generated from the specifications, strict parsing: a record must match its edition
bit for bit, or its whole data block is refused).  :func:`decode` never raises: whatever bytes arrive, it
returns the reports it could read and a list of what was wrong (:class:`Decoded`).  libasterix is pure Python:
a real radar's plot of 15 items takes about 0.2 ms (0.16 ms parsing, 0.05 ms reading its values), which at a
thousand tracks is a quarter of a core and tens of milliseconds for one datagram of plots.  So CAT048, the
bulk of the traffic, is read by this module's own reader (about 8 us a plot) wherever a block is plain (every
record's FSPEC and items well formed); any other block goes to libasterix, which says what is wrong.  Tests
hold the two to the same output, to the last bit, on a real recording and 100,000 mutated datagrams.

Writing uses this module's own encoders, vectorised with numpy (libasterix takes a quarter to half a
millisecond to build one CAT062 record; these take about a microsecond in batches of a thousand, a few
microseconds in batches of a hundred): each item's bytes for all records at once, the FSPEC from
the items present in each record, then the records packed into data blocks of at most ``max_bytes`` (1400 by
default, below an Ethernet MTU), one data block per datagram.  Values are rounded to the nearest LSB
(:data:`LSB`) and clipped to the field's range (angles wrap instead).

Conventions, from the specifications, that a reader of the code might not expect:

- I048/120 CAL, the calculated Doppler speed: the edition leaves the sign to the radar's ICD and recommends
  positive for targets moving away from the radar; tdome follows the recommendation (positive = opening).
- I048/090 flight level: the edition says "unsigned" (and libasterix follows it), yet Mode C reports down to
  -1000 ft (-10 FL), which 14 unsigned bits cannot carry; I021/145 and I062/136 say two's complement.  Read
  here as two's complement: every level up to 2047 FL (far above ICAO's 1267 FL) reads the same either way,
  and the negative ones read right.
- I048/040 RHO has 16 bits of 1/256 NM: ranges end at 256 NM (474 km).  Farther plots saturate at the
  maximum, as the edition recommends (its Extended Range Report in the Reserved Expansion Field is not sent).
- I048/020 TYP: 1 single PSR, 3 SSR + PSR, 7 Mode S roll-call + PSR (not 5, which is Mode S without PSR).
  A record of TYP 0 ("no detection": a radar tracker's track cancellation, or its extrapolation) is valid
  but not a plot; :func:`decode` counts it in :attr:`Decoded.skipped` and returns no report for it.
- I062/080: CST (coasting) is in the fourth octet (third extension), so every track status written here is
  four octets long.  SRC = 2 (3-D radar, tdome's radars measure elevation) when I062/130 is sent, else 0.
- I062/130 (16 bits of 6.25 ft, ±62 km), I048/110 (14 bits of 25 ft, ±62 km) and I062/220 (16 bits of
  6.25 ft/min, ±1040 m/s) were drawn for aircraft: a ballistic missile's apogee and re-entry speed saturate
  them.  I062/105, /100 (±4194 km) and /185 (±8192 m/s) do not.
- I048/SP, the special-purpose field, carries tdome's measurement extension, for the plots a missile-defence
  radar makes that CAT048's items cannot: ``LEN = 10``, the tag ``0x74`` ("t"), the measured elevation
  (32-bit two's complement of π/2³¹ rad) and the range rate (32 bits of 1 mm/s, positive opening;
  ``0x80000000`` absent).  The simulator's radars write it with every plot (a missile's height and closing
  speed exceed I048/110 and I048/120 CAL, and the elevation is what the radar measured); the service reads an
  elevation from it when present, else solves it from the height.  Any other SP content is ignored.
- Times of day are UTC seconds since midnight, 1/128 s.  :func:`on_time_line` puts them back on a continuous
  time line across midnight.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asterix.generated as gen
import numpy as np
from asterix.base import Bits, ParsingMode

__all__ = [
    "LSB",
    "AdsbReport",
    "Decoded",
    "ServiceMessage",
    "SystemTrack",
    "TargetReport",
    "decode",
    "decode_cat062",
    "encode_cat021",
    "encode_cat034",
    "encode_cat048",
    "encode_cat062",
    "on_time_line",
    "time_of_day_s",
]

NM_M = 1852.0  # international nautical mile
FT_M = 0.3048  # international foot
FL_M = 100.0 * FT_M  # one flight level
DAY_S = 86400.0
TWO_PI = 2.0 * math.pi

# The least significant bit of every field read or written, in the units of the report fields (m, rad, s,
# m/s; latitude and longitude in degrees): a value read back is within half of it of the value written.
LSB: dict[str, float] = {
    "I048/140": 1 / 128,  # s, time of day (also I034/030, I021/071, /073, /077 and I062/070)
    "I048/040 RHO": NM_M / 256,  # m
    "I048/040 THETA": TWO_PI / 2**16,  # rad
    "I048/090": FL_M / 4,  # m (1/4 FL)
    "I048/110": 25 * FT_M,  # m
    "I048/120 CAL": 1.0,  # m/s
    "I034/030": 1 / 128,  # s
    "I034/020": TWO_PI / 2**8,  # rad (sector number)
    "I034/041": 1 / 128,  # s (antenna rotation period)
    "I021/071": 1 / 128,  # s
    "I021/073": 1 / 128,  # s
    "I021/077": 1 / 128,  # s
    "I021/130": 180 / 2**23,  # deg
    "I021/131": 180 / 2**30,  # deg
    "I021/140": 6.25 * FT_M,  # m
    "I021/145": FL_M / 4,  # m
    "I021/160 GS": NM_M / 2**14,  # m/s
    "I021/160 TA": TWO_PI / 2**16,  # rad
    "I062/070": 1 / 128,  # s
    "I062/105": 180 / 2**25,  # deg
    "I062/100": 0.5,  # m
    "I062/185": 0.25,  # m/s
    "I062/130": 6.25 * FT_M,  # m
    "I062/220": 6.25 * FT_M / 60,  # m/s
}

# tdome's I048/SP measurement extension (module docstring): tag, elevation, range rate.
SP_TAG = 0x74
SP_EL_LSB_RAD = math.pi / 2**31
SP_NO_RDOT = -(2**31)
_SP_EXTENSION = struct.Struct(">Bii")

_TOD_LSB = 1 / 128
_TOD_COUNTS = round(DAY_S * 128)  # one day in time-of-day counts


# --------------------------------------------------------------------------------------------------- reports


@dataclass(slots=True)
class TargetReport:
    """One radar plot (a CAT048 record): where one radar saw something, in its own polar frame.

    ``range_m`` is slant range, ``az_rad`` azimuth clockwise from north in [0, 2π).  Absent items read NaN
    (quantities) or -1 (codes).  ``mode3a`` is the 12-bit code whose four octal digits are the squawk
    (0o7700 for 7700).  ``rdot_mps`` is positive for a target moving away from the radar.
    """

    sac: int
    sic: int
    tod_s: float
    range_m: float
    az_rad: float
    height_m: float
    flight_level_m: float
    rdot_mps: float
    mode3a: int
    address: int
    track_number: int
    el_rad: float = math.nan  # the measured elevation, from tdome's I048/SP extension (module docstring)


@dataclass(slots=True)
class ServiceMessage:
    """One radar service message (a CAT034 record): the antenna's north or sector crossings, mostly.

    ``kind`` is I034/000: 1 north marker, 2 sector crossing, 3 geographical filtering, 4 jamming strobe
    (5-7 solar storm, SSR and Mode S jamming strobes in this edition).
    """

    sac: int
    sic: int
    kind: int
    tod_s: float
    sector_az_rad: float
    rotation_period_s: float


@dataclass(slots=True)
class AdsbReport:
    """One ADS-B report (a CAT021 record): an aircraft's own WGS-84 position and ground velocity.

    ``tod_s`` is the best time present (reception of position, else applicability of position, else the
    report's transmission), ``alt_m`` the geometric height, else the flight level in metres; absent
    quantities read NaN, an absent callsign "".
    """

    sac: int
    sic: int
    tod_s: float
    address: int
    lat_deg: float
    lon_deg: float
    alt_m: float
    vel_east_mps: float
    vel_north_mps: float
    callsign: str


@dataclass
class Decoded:
    """What one datagram held: the reports read, and one (kind, detail) per thing that was wrong.

    Error kinds: ``truncated`` (a datagram shorter than a block header, or a block's length field larger
    than the bytes left), ``bad_length`` (a length field below 3, a block with no record, or records that do
    not fill their block exactly), ``unknown_category`` (a category other than 21, 34, 48),
    ``parse_error`` (libasterix refuses the records), ``impossible_value`` (a record that parses but that no
    sensor sends: no I048/010 or /040, no I034/010 or /000, no I021/010 or /080, a time of day outside
    [0, 86400), a latitude beyond ±90° or a longitude beyond ±180°) and ``decoder_exception`` (libasterix
    raised).  A refused block's records are all dropped (strict parsing finds no record boundary after an
    error); a record with an impossible value is dropped alone.  ``skipped`` counts valid CAT048 records that
    are not plots (TYP 0, no detection).
    """

    reports: list[TargetReport | ServiceMessage | AdsbReport]
    errors: list[tuple[str, str]]
    skipped: int = 0


@dataclass(slots=True)
class SystemTrack:
    """One system track (a CAT062 record) as :func:`decode_cat062` reads it: the simulator's view of the picture.

    Quantities absent from the record read NaN: position and altitude above WGS-84, x east and y north of the
    system reference point, velocity in the same frame, climb along the track's vertical.
    """

    sac: int
    sic: int
    tod_s: float
    track_number: int
    lat_deg: float
    lon_deg: float
    x_m: float
    y_m: float
    vx_mps: float
    vy_mps: float
    alt_m: float
    climb_mps: float
    confirmed: bool
    coasting: bool


# --------------------------------------------------------------------------------------------------- decoding

_CAT048 = gen.Cat_048_1_31
_CAT034 = gen.Cat_034_1_29
_CAT021 = gen.Cat_021_2_6
_STRICT = ParsingMode.StrictParsing
_NAN = math.nan


class _Impossible(Exception):
    """A record that parses but holds a value no sensor sends: dropped and reported, not read."""


def _tod(item: Any, name: str) -> float:
    """A time-of-day item in seconds, NaN when absent; outside [0, 86400) it is impossible."""
    if item is None:
        return _NAN
    tod = float(item.variation.content.as_quantity("s"))
    if not 0.0 <= tod < DAY_S:
        raise _Impossible(f"{name} time of day {tod} s")
    return tod


def _flight_level_m(raw: int) -> float:
    """I048/090's 14-bit flight level, read as two's complement (module docstring), in metres."""
    return (raw - (raw >> 13 << 14)) * 0.25 * FL_M


def _sp_extension(ext: bytes, rdot: float) -> tuple[float, float]:
    """(elevation, range rate) from the content of an I048/SP field (after its length octet): tdome's extension
    gives the elevation and, when present, a range rate that replaces ``rdot``; anything else gives NaN and
    ``rdot``."""
    if len(ext) != _SP_EXTENSION.size or ext[0] != SP_TAG:
        return _NAN, rdot
    _, el_counts, rdot_mm = _SP_EXTENSION.unpack(ext)
    return el_counts * SP_EL_LSB_RAD, rdot if rdot_mm == SP_NO_RDOT else rdot_mm * 1e-3

def _plot(rec: gen.Cat_048_1_31.cv_record) -> TargetReport | None:
    """A CAT048 record as a plot; None for a record of no detection."""
    i010 = rec.get_item("010")
    if i010 is None:
        raise _Impossible("CAT048 record without I048/010 (data source)")
    i020 = rec.get_item("020")
    if i020 is not None and i020.variation.get_item("TYP").as_uint() == 0:
        return None
    i040 = rec.get_item("040")
    if i040 is None:
        raise _Impossible("CAT048 plot without I048/040 (position)")
    pos = i040.variation
    tod = _tod(rec.get_item("140"), "I048/140")
    height = flight_level = rdot = _NAN
    mode3a = address = track_number = -1
    if (i110 := rec.get_item("110")) is not None:
        height = i110.variation.get_item("3DH").variation.content.as_quantity("ft") * FT_M
    if (i090 := rec.get_item("090")) is not None and i090.variation.get_item("V").as_uint() == 0:
        raw = i090.variation.get_item("FL").as_uint()
        flight_level = _flight_level_m(raw)
    if (
        (i120 := rec.get_item("120")) is not None
        and (cal := i120.variation.get_item("CAL")) is not None
        and cal.variation.get_item("D").as_uint() == 0
    ):
        rdot = cal.variation.get_item("CAL").variation.content.as_quantity("m/s")
    if (i070 := rec.get_item("070")) is not None:
        mode3a = i070.variation.get_item("MODE3A").as_uint()
    if (i220 := rec.get_item("220")) is not None:
        address = i220.as_uint()
    if (i161 := rec.get_item("161")) is not None:
        track_number = i161.variation.get_item("TRN").as_uint()
    el = _NAN
    if (sp := rec.get_item("SP")) is not None:
        el, rdot = _sp_extension(sp.variation.get_bytes(), rdot)
    return TargetReport(
        sac=i010.variation.get_item("SAC").as_uint(),
        sic=i010.variation.get_item("SIC").as_uint(),
        tod_s=tod,
        range_m=pos.get_item("RHO").variation.content.as_quantity("NM") * NM_M,
        az_rad=math.radians(pos.get_item("THETA").variation.content.as_quantity("°")),
        height_m=height,
        flight_level_m=flight_level,
        rdot_mps=rdot,
        mode3a=mode3a,
        address=address,
        track_number=track_number,
        el_rad=el,
    )


def _service(rec: gen.Cat_034_1_29.cv_record) -> ServiceMessage:
    """A CAT034 record as a service message."""
    i010 = rec.get_item("010")
    i000 = rec.get_item("000")
    if i010 is None or i000 is None:
        raise _Impossible("CAT034 record without I034/010 (data source) or I034/000 (message type)")
    sector = period = _NAN
    if (i020 := rec.get_item("020")) is not None:
        sector = math.radians(i020.variation.content.as_quantity("°"))
    if (i041 := rec.get_item("041")) is not None:
        period = i041.variation.content.as_quantity("s")
    return ServiceMessage(
        sac=i010.variation.get_item("SAC").as_uint(),
        sic=i010.variation.get_item("SIC").as_uint(),
        kind=i000.as_uint(),
        tod_s=_tod(rec.get_item("030"), "I034/030"),
        sector_az_rad=sector,
        rotation_period_s=period,
    )


def _adsb(rec: gen.Cat_021_2_6.cv_record) -> AdsbReport:
    """A CAT021 record as an ADS-B report."""
    i010 = rec.get_item("010")
    i080 = rec.get_item("080")
    if i010 is None or i080 is None:
        raise _Impossible("CAT021 record without I021/010 (data source) or I021/080 (target address)")
    tod = _NAN
    for name in ("073", "071", "077"):
        if (item := rec.get_item(name)) is not None:
            tod = _tod(item, f"I021/{name}")
            break
    lat = lon = alt = ve = vn = _NAN
    if (i131 := rec.get_item("131")) is not None:
        lat = i131.variation.get_item("LAT").variation.content.as_quantity("°")
        lon = i131.variation.get_item("LON").variation.content.as_quantity("°")
    elif (i130 := rec.get_item("130")) is not None:
        lat = i130.variation.get_item("LAT").variation.content.as_quantity("°")
        lon = i130.variation.get_item("LON").variation.content.as_quantity("°")
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0) and not math.isnan(lat):
        raise _Impossible(f"CAT021 position lat {lat}°, lon {lon}°")
    if (i140 := rec.get_item("140")) is not None:
        alt = i140.variation.content.as_quantity("ft") * FT_M
    elif (i145 := rec.get_item("145")) is not None:
        alt = i145.variation.content.as_quantity("FL") * FL_M
    if (i160 := rec.get_item("160")) is not None:
        gs = i160.variation.get_item("GS").variation.content.as_quantity("NM/s") * NM_M
        ta = math.radians(i160.variation.get_item("TA").variation.content.as_quantity("°"))
        ve, vn = gs * math.sin(ta), gs * math.cos(ta)
    callsign = ""
    if (i170 := rec.get_item("170")) is not None:
        callsign = i170.variation.content.as_string().rstrip()
    return AdsbReport(
        sac=i010.variation.get_item("SAC").as_uint(),
        sic=i010.variation.get_item("SIC").as_uint(),
        tod_s=tod,
        address=i080.as_uint(),
        lat_deg=lat,
        lon_deg=lon,
        alt_m=alt,
        vel_east_mps=ve,
        vel_north_mps=vn,
        callsign=callsign,
    )


# category -> (libasterix record class of the edition read, conversion of one record)
_READERS: dict[int, tuple[Any, Callable[[Any], TargetReport | ServiceMessage | AdsbReport | None]]] = {
    48: (_CAT048.cv_record, _plot),
    34: (_CAT034.cv_record, _service),
    21: (_CAT021.cv_record, _adsb),
}


def _read_block(cat: int, records: bytes, out: Decoded) -> None:
    """Parse one data block's records (all or none) and convert them into ``out``."""
    record_cls, convert = _READERS[cat]
    bits = Bits.from_bytes(records)
    parsed: list[Any] = []
    while len(bits):
        result = record_cls.parse(_STRICT, bits)
        if isinstance(result, ValueError):
            # libasterix says "insufficient data" when a record runs past the end of its block.
            kind = "bad_length" if str(result).startswith("insufficient data") else "parse_error"
            out.errors.append((kind, f"CAT{cat:03d} record {len(parsed) + 1}: {result}"))
            return
        rec, bits = result
        parsed.append(rec)
    for rec in parsed:
        try:
            report = convert(rec)
        except _Impossible as exc:
            out.errors.append(("impossible_value", str(exc)))
            continue
        if report is None:
            out.skipped += 1
        else:
            out.reports.append(report)


# CAT048 fast reader.  A radar network sends a thousand plots a second and more; libasterix reads one in about
# 0.2 ms, which at 1,000 tracks from 6 radars is a quarter of a core and, worse, tens of milliseconds for one
# datagram of a hundred plots, all of it ahead of the scan's update.  Plain blocks are read here instead, item
# by item from edition 1.31's UAP, in about a tenth of the time.  "Plain" is a block whose every record has a
# well-formed FSPEC and items that end within it; anything else (or anything this reader does not know) goes
# to libasterix, so errors are reported by one parser in one wording.  A test holds the two to the same output
# on real, generated and mutated data.

_FIXED, _EXT, _REP, _REP_FX, _EXPLICIT, _COMPOUND = range(6)
# FRN -> (kind, size): fixed length in octets; extended (at most ``size`` octets); repetitive (one count octet,
# then ``size`` octets each); repetitive with FX (one octet each); explicit (a length octet counting itself);
# compound (one primary octet; ``size`` names its subfields' lengths in _COMPOUND_048).
_UAP_048 = (
    (_FIXED, 2), (_FIXED, 3), (_EXT, 3), (_FIXED, 4), (_FIXED, 2), (_FIXED, 2), (_COMPOUND, 130),  # 010 .. 130
    (_FIXED, 3), (_FIXED, 6), (_REP, 8), (_FIXED, 2), (_FIXED, 4), (_FIXED, 4), (_EXT, 2),  # 220 .. 170
    (_FIXED, 4), (_REP_FX, 1), (_FIXED, 2), (_FIXED, 4), (_FIXED, 2), (_COMPOUND, 120), (_FIXED, 2),  # 210 .. 230
    (_FIXED, 7), (_FIXED, 1), (_FIXED, 2), (_FIXED, 1), (_FIXED, 2), (_EXPLICIT, 0), (_EXPLICIT, 0),  # 260 .. RE
)
_F010, _F140, _F020, _F040, _F070, _F090, _F220, _F161, _F110, _F120, _FSP = 0, 1, 2, 3, 4, 5, 7, 10, 18, 19, 26
_FSPEC_MAX_048 = 4


def _compound_end(kind: int, data: bytes, i: int, n: int) -> int:
    """End of I048/130 or I048/120 at ``i``; -1 where libasterix would refuse it (a second primary octet, a
    subfield the edition does not define) or it runs past ``n``."""
    p = data[i]
    if p & 1:  # both primaries are one octet at most
        return -1
    j = i + 1
    if kind == 130:  # seven one-octet subfields
        return j + bin(p >> 1).count("1")
    if p & 0x3E:  # only CAL (0x80) and RDS (0x40) are defined
        return -1
    if p & 0x80:
        j += 2
    if p & 0x40:
        if j >= n:
            return -1
        j += 1 + 6 * data[j]
    return j


def _item_end(frn: int, data: bytes, i: int, n: int) -> int:
    """End of the CAT048 item of FRN ``frn`` (from 0) that starts at ``i``; -1 where it is not plain."""
    if i >= n:
        return -1
    kind, size = _UAP_048[frn]
    if kind == _FIXED:
        return i + size
    if kind == _EXT:
        for j in range(i, min(i + size, n)):
            if not data[j] & 1:
                return j + 1
        return -1  # past the block, or the last octet's FX set
    if kind == _REP:
        return i + 1 + size * data[i]
    if kind == _REP_FX:
        for j in range(i, n):
            if not data[j] & 1:
                return j + 1
        return -1
    if kind == _EXPLICIT:
        return i + data[i] if data[i] else -1
    return _compound_end(size, data, i, n)


def _cat048_items(data: bytes) -> list[list[int]] | None:
    """Where each item of each record of a CAT048 block's records starts (-1 absent), by FRN from 0; None when
    any record is not plain."""
    n = len(data)
    i = 0
    records = []
    while i < n:
        start = i
        while data[i] & 1:
            i += 1
            if i >= n:
                return None
        i += 1
        if i - start > _FSPEC_MAX_048:
            return None
        at = [-1] * len(_UAP_048)
        frn = 0
        for k in range(start, i):
            octet = data[k]
            for bit in (0x80, 0x40, 0x20, 0x10, 0x08, 0x04, 0x02):
                if octet & bit:
                    at[frn] = i
                    i = _item_end(frn, data, i, n)
                    if i < 0 or i > n:
                        return None
                frn += 1
        records.append(at)
    return records


def _u(data: bytes, i: int, size: int) -> int:
    return int.from_bytes(data[i : i + size], "big")


def _signed(x: int, bits: int) -> int:
    return x - (1 << bits) if x >> (bits - 1) else x


def _plot_fast(data: bytes, at: list[int]) -> TargetReport | None:
    """One plain CAT048 record as a plot, as :func:`_plot` reads it from libasterix (to the last bit)."""
    if (i := at[_F010]) < 0:
        raise _Impossible("CAT048 record without I048/010 (data source)")
    if at[_F020] >= 0 and data[at[_F020]] >> 5 == 0:
        return None
    if (j := at[_F040]) < 0:
        raise _Impossible("CAT048 plot without I048/040 (position)")
    tod = _NAN
    if (k := at[_F140]) >= 0:
        tod = _u(data, k, 3) * 0.0078125
        if not 0.0 <= tod < DAY_S:
            raise _Impossible(f"I048/140 time of day {tod} s")
    height = flight_level = rdot = el = _NAN
    mode3a = address = track_number = -1
    if (k := at[_F110]) >= 0:
        height = _signed(_u(data, k, 2) & 0x3FFF, 14) * 25.0 * FT_M
    if (k := at[_F090]) >= 0 and not data[k] & 0x80:
        flight_level = _flight_level_m(_u(data, k, 2) & 0x3FFF)
    if (k := at[_F120]) >= 0 and data[k] & 0x80 and not data[k + 1] & 0x80:
        rdot = float(_signed(_u(data, k + 1, 2) & 0x3FF, 10))
    if (k := at[_F070]) >= 0:
        mode3a = _u(data, k, 2) & 0xFFF
    if (k := at[_F220]) >= 0:
        address = _u(data, k, 3)
    if (k := at[_F161]) >= 0:
        track_number = _u(data, k, 2) & 0xFFF
    if (k := at[_FSP]) >= 0:
        el, rdot = _sp_extension(data[k + 1 : k + data[k]], rdot)
    return TargetReport(
        sac=data[i],
        sic=data[i + 1],
        tod_s=tod,
        range_m=_u(data, j, 2) * 0.00390625 * NM_M,
        az_rad=math.radians(_u(data, j + 2, 2) * 0.0054931640625),
        height_m=height,
        flight_level_m=flight_level,
        rdot_mps=rdot,
        mode3a=mode3a,
        address=address,
        track_number=track_number,
        el_rad=el,
    )


def _read_cat048_fast(records: bytes, out: Decoded) -> bool:
    """Read a plain CAT048 block's records into ``out``; False (and nothing read) when it is not plain."""
    found = _cat048_items(records)
    if found is None:
        return False
    for at in found:
        try:
            report = _plot_fast(records, at)
        except _Impossible as exc:
            out.errors.append(("impossible_value", str(exc)))
            continue
        if report is None:
            out.skipped += 1
        else:
            out.reports.append(report)
    return True


def decode(datagram: bytes, *, fast: bool = True) -> Decoded:
    """Read every data block of one datagram; never raises (see :class:`Decoded` for what is reported).

    ``fast=False`` reads CAT048 with libasterix alone: the reference the fast reader is tested against.

    A datagram may hold several data blocks, of different categories.  Blocks are framed here (category,
    length); a bad frame ends the datagram, since nothing after it can be found, while a refused block only
    loses its own records.
    """
    out = Decoded([], [])
    data = bytes(datagram)
    n = len(data)
    if n < 3:
        out.errors.append(("truncated", f"datagram of {n} bytes, shorter than a data block header"))
        return out
    off = 0
    while off < n:
        if n - off < 3:
            out.errors.append(("truncated", f"{n - off} bytes after the last data block, less than a header"))
            break
        cat, length = data[off], (data[off + 1] << 8) | data[off + 2]
        if length < 3:
            out.errors.append(("bad_length", f"CAT{cat:03d} block at byte {off}: length field {length} < 3"))
            break
        if off + length > n:
            out.errors.append(("truncated", f"CAT{cat:03d} block at byte {off}: {length} bytes, {n - off} left"))
            break
        start, off = off, off + length
        if cat not in _READERS:
            out.errors.append(("unknown_category", f"CAT{cat:03d} block at byte {start}"))
            continue
        if length == 3:
            out.errors.append(("bad_length", f"CAT{cat:03d} block at byte {start} holds no record"))
            continue
        try:
            if not (fast and cat == 48 and _read_cat048_fast(data[start + 3 : off], out)):
                _read_block(cat, data[start + 3 : off], out)
        except Exception as exc:  # noqa: BLE001 - untrusted bytes through a pure-Python parser: any failure is data
            out.errors.append(("decoder_exception", f"CAT{cat:03d} block at byte {start}: {exc!r}"))
    return out


_CAT062 = gen.Cat_062_1_19


def _system_track(rec: gen.Cat_062_1_19.cv_record) -> SystemTrack | None:
    """A CAT062 record as a system track; None without a data source or track number."""
    i010, i040 = rec.get_item("010"), rec.get_item("040")
    if i010 is None or i040 is None:
        return None
    tod = lat = lon = x = y = vx = vy = alt = climb = _NAN
    confirmed, coasting = True, False
    if (i070 := rec.get_item("070")) is not None:
        tod = i070.variation.content.as_quantity("s")
    if (i105 := rec.get_item("105")) is not None:
        lat = i105.variation.get_item("LAT").variation.content.as_quantity("°")
        lon = i105.variation.get_item("LON").variation.content.as_quantity("°")
    if (i100 := rec.get_item("100")) is not None:
        x = i100.variation.get_item("X").variation.content.as_quantity("m")
        y = i100.variation.get_item("Y").variation.content.as_quantity("m")
    if (i185 := rec.get_item("185")) is not None:
        vx = i185.variation.get_item("VX").variation.content.as_quantity("m/s")
        vy = i185.variation.get_item("VY").variation.content.as_quantity("m/s")
    if (i130 := rec.get_item("130")) is not None:
        alt = i130.variation.content.as_quantity("ft") * FT_M
    if (i220 := rec.get_item("220")) is not None:
        climb = i220.variation.content.as_quantity("ft/min") * FT_M / 60.0
    if (i080 := rec.get_item("080")) is not None:
        confirmed = i080.variation.get_item("CNF").as_uint() == 0
        cst = i080.variation.get_item("CST")
        coasting = cst is not None and cst.as_uint() == 1
    return SystemTrack(
        sac=i010.variation.get_item("SAC").as_uint(),
        sic=i010.variation.get_item("SIC").as_uint(),
        tod_s=tod,
        track_number=i040.as_uint(),
        lat_deg=lat,
        lon_deg=lon,
        x_m=x,
        y_m=y,
        vx_mps=vx,
        vy_mps=vy,
        alt_m=alt,
        climb_mps=climb,
        confirmed=confirmed,
        coasting=coasting,
    )


def decode_cat062(datagram: bytes) -> list[SystemTrack]:
    """The system tracks of one datagram's CAT062 blocks (edition 1.19); never raises.

    For the simulator's side of a live session, which reads back the picture the service sends: other
    categories, blocks that do not parse and records without I062/010 or /040 give no track.
    """
    tracks: list[SystemTrack] = []
    data = bytes(datagram)
    off, n = 0, len(data)
    while n - off >= 3:
        cat, length = data[off], (data[off + 1] << 8) | data[off + 2]
        if length < 3 or off + length > n:
            break
        start, off = off, off + length
        if cat != 62:
            continue
        try:
            records = _CAT062.cv_uap.parse(Bits.from_bytes(data[start + 3 : off]))
            if isinstance(records, ValueError):
                continue
            tracks += [t for t in map(_system_track, records) if t is not None]
        except Exception:  # noqa: BLE001 - untrusted bytes through a pure-Python parser: skip the block
            continue
    return tracks


# --------------------------------------------------------------------------------------------------- time


def time_of_day_s(unix_s: float) -> float:
    """ASTERIX time of day (UTC seconds since midnight) of a Unix time; Unix time counts no leap seconds."""
    return float(unix_s) % DAY_S


def on_time_line(tod_s: float, near_s: float) -> float:
    """A time of day in [0, 86400) back on a continuous time line: the candidate tod + 86400·k nearest ``near_s``.

    The line's origin must fall on a UTC midnight (Unix time's does; so does "seconds since the first report's
    midnight", the live service's).  With ``near_s`` the latest time seen, reports a few seconds either side of
    midnight land on the right day, and a late report from before midnight stays before it.
    """
    return tod_s + DAY_S * math.floor((near_s - tod_s) / DAY_S + 0.5)


# --------------------------------------------------------------------------------------------------- encoding


def _floats(x: Any, n: int | None = None, name: str = "value") -> np.ndarray:
    """A 1-D float array (a scalar broadcast to ``n``)."""
    a = np.atleast_1d(np.asarray(x, dtype=np.float64))
    if a.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {a.shape}")
    if n is not None and a.size != n:
        if a.size != 1:
            raise ValueError(f"{name}: {a.size} values for {n} records")
        a = np.broadcast_to(a, (n,))
    return a


def _optional(x: Any, n: int, name: str) -> np.ndarray:
    """An optional per-record quantity: NaN where absent, all NaN when not given."""
    return np.full(n, np.nan) if x is None else _floats(x, n, name)


def _finite(a: np.ndarray, name: str) -> np.ndarray:
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: every record needs a finite value")
    return a


def _ints(x: Any, n: int, lo: int, hi: int, name: str, *, absent_ok: bool = False) -> np.ndarray:
    """A 1-D int64 array of codes in [lo, hi] (or -1, absent, when ``absent_ok``: -1 or NaN given)."""
    if x is None:
        if not absent_ok:
            raise ValueError(f"{name} is required")
        return np.full(n, -1, dtype=np.int64)
    a = np.atleast_1d(np.asarray(x))
    if a.dtype.kind == "f":
        if absent_ok:
            a = np.where(np.isnan(a), -1.0, a)
        if not np.all(np.isfinite(a) & (a == np.round(a))):
            raise ValueError(f"{name}: integers expected")
    elif a.dtype.kind not in "biu":
        raise ValueError(f"{name}: integers expected, got {a.dtype}")
    a = a.astype(np.int64)
    if a.ndim != 1 or a.size not in (1, n):
        raise ValueError(f"{name}: {a.size} values for {n} records")
    a = np.broadcast_to(a, (n,))
    bad = (a < lo) | (a > hi)
    if absent_ok:
        bad &= a != -1
    if np.any(bad):
        raise ValueError(f"{name}: {a[bad][0]} outside [{lo}, {hi}]")
    return a


def _be(v: np.ndarray, nbytes: int) -> np.ndarray:
    """Non-negative integers as big-endian bytes, shape (n, nbytes)."""
    shifts = np.arange(8 * (nbytes - 1), -1, -8, dtype=np.int64)
    return ((v.astype(np.int64)[:, None] >> shifts) & 0xFF).astype(np.uint8)


def _counts(x: np.ndarray, lsb: float, bits: int, *, signed: bool) -> np.ndarray:
    """Quantities as field counts: rounded to the nearest LSB, clipped to the field, two's complement."""
    c = np.rint(np.where(np.isfinite(x), x, 0.0) / lsb)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return np.clip(c, lo, hi).astype(np.int64) & ((1 << bits) - 1)


def _angle_counts(rad: np.ndarray, bits: int) -> np.ndarray:
    """Angles as unsigned counts of 2π/2^bits, wrapped (not clipped) into the field."""
    c = np.rint(np.where(np.isfinite(rad), rad, 0.0) * ((1 << bits) / TWO_PI))
    return np.mod(c, 1 << bits).astype(np.int64)


def _tod_bytes(tod_s: np.ndarray) -> np.ndarray:
    """Times of day as 3-byte counts of 1/128 s, taken modulo one day."""
    return _be(np.mod(np.rint(tod_s / _TOD_LSB), _TOD_COUNTS).astype(np.int64), 3)


def _longitude(lon: np.ndarray) -> np.ndarray:
    """Longitudes in [-180, 180] as they are; others wrapped into [-180, 180)."""
    inside = (lon >= -180.0) & (lon <= 180.0)
    return np.where(inside | np.isnan(lon), lon, np.mod(lon + 180.0, 360.0) - 180.0)


def _const(data: bytes, n: int) -> np.ndarray:
    return np.broadcast_to(np.frombuffer(data, dtype=np.uint8), (n, len(data)))


# An item of a batch of records: (FRN, its bytes in every record (n, size), where present (n,) or None: all).
_Item = tuple[int, np.ndarray, np.ndarray | None]


def _records(items: list[_Item], n: int) -> tuple[np.ndarray, np.ndarray]:
    """The records' bytes, concatenated in order, and each record's length.

    Every record's items sit at the same columns of one (n, width) byte matrix, its FSPEC octets first; a
    mask of the same shape keeps the FSPEC octets a record needs and the items it holds, and the masked
    matrix read row by row is the records one after another.
    """
    items = sorted(items, key=lambda item: item[0])
    n_oct = (items[-1][0] + 6) // 7
    present = np.zeros((n, 7 * n_oct), dtype=bool)
    for frn, _, where in items:
        present[:, frn - 1] = True if where is None else where
    flags = present.reshape(n, n_oct, 7)
    octets = flags @ (1 << np.arange(7, 0, -1))  # FRN 1 of an octet is its bit 8
    last = (n_oct - 1 - np.argmax(octets[:, ::-1] > 0, axis=1))[:, None]  # each record's last FSPEC octet
    used = np.arange(n_oct) <= last
    fspec = (octets | (np.arange(n_oct) < last)).astype(np.uint8)  # FX on all octets but the last
    data = np.hstack([fspec] + [b for _, b, _ in items])
    keep = np.hstack(
        [used] + [np.broadcast_to(True if w is None else w[:, None], b.shape) for _, b, w in items]
    )
    return data[keep], keep.sum(axis=1)


def _blocks(cat: int, data: np.ndarray, lengths: np.ndarray, max_bytes: int) -> list[bytes]:
    """Records packed in order into data blocks (one datagram each) of at most ``max_bytes``."""
    cap = max_bytes - 3
    if lengths.size and int(lengths.max()) > cap:
        raise ValueError(f"a CAT{cat:03d} record of {int(lengths.max())} bytes does not fit in {max_bytes}")
    ends = np.cumsum(lengths)
    out: list[bytes] = []
    i, n = 0, lengths.size
    while i < n:
        start = int(ends[i] - lengths[i])
        j = int(np.searchsorted(ends, start + cap, side="right"))
        body = data[start : int(ends[j - 1])].tobytes()
        out.append(struct.pack(">BH", cat, len(body) + 3) + body)
        i = j
    return out


def _source(sac: int, sic: int, n: int) -> np.ndarray:
    if not (0 <= sac <= 255 and 0 <= sic <= 255):
        raise ValueError(f"SAC/SIC ({sac}, {sic}) outside [0, 255]")
    return _const(bytes((sac, sic)), n)


def encode_cat048(
    sac: int,
    sic: int,
    tod_s: Any,
    range_m: Any,
    az_rad: Any,
    *,
    height_m: Any = None,
    rdot_mps: Any = None,
    mode3a: Any = None,
    address: Any = None,
    el_rad: Any = None,
    max_bytes: int = 1400,
) -> list[bytes]:
    """Radar plots as CAT048 1.31 target reports, in datagrams of at most ``max_bytes``.

    Arrays of one length n (``tod_s`` may be one time for all).  Items: 010, 140, 020 (TYP 1 single PSR;
    3 SSR + PSR with a Mode 3/A code; 7 Mode S roll-call + PSR with an address), 040, and per plot 070 where
    ``mode3a`` >= 0 (the 12-bit code, 0o7700 for squawk 7700), 110 where ``height_m`` is finite, 120 (CAL
    only, positive opening) where ``rdot_mps`` is finite and within CAL's ±511 m/s, 220 where ``address`` >= 0,
    and SP (tdome's measurement extension, module docstring) where ``el_rad`` or ``rdot_mps`` is finite.
    """
    rng = _finite(_floats(range_m, name="range_m"), "range_m")
    n = rng.size
    tod = _finite(_floats(tod_s, n, "tod_s"), "tod_s")
    az = _finite(_floats(az_rad, n, "az_rad"), "az_rad")
    height = _optional(height_m, n, "height_m")
    rdot = _optional(rdot_mps, n, "rdot_mps")
    el = _optional(el_rad, n, "el_rad")
    code = _ints(mode3a, n, 0, 0o7777, "mode3a", absent_ok=True)
    addr = _ints(address, n, 0, 0xFFFFFF, "address", absent_ok=True)
    typ = np.where(addr >= 0, 7, np.where(code >= 0, 3, 1))
    items: list[_Item] = [
        (1, _source(sac, sic, n), None),
        (2, _tod_bytes(tod), None),
        (3, (typ << 5).astype(np.uint8)[:, None], None),
        (4, np.hstack([_be(_counts(rng, LSB["I048/040 RHO"], 16, signed=False), 2),
                       _be(_angle_counts(az, 16), 2)]), None),
        (5, _be(np.maximum(code, 0), 2), code >= 0),  # V = G = L = 0: validated, from the reply
        (8, _be(np.maximum(addr, 0), 3), addr >= 0),
        (19, _be(_counts(height, LSB["I048/110"], 14, signed=True), 2), np.isfinite(height)),
        # Compound: a one-octet FSPEC with only CAL (bit 8), then D = 0 (valid) and 10 bits of m/s.
        (20, np.hstack([_const(b"\x80", n), _be(_counts(rdot, 1.0, 10, signed=True), 2)]),
         np.isfinite(rdot) & (np.abs(rdot) <= 511.0)),
        (27, np.hstack([_const(bytes((1 + _SP_EXTENSION.size, SP_TAG)), n),
                        _be(_counts(el, SP_EL_LSB_RAD, 32, signed=True), 4),
                        _be(np.where(np.isfinite(rdot), _counts(rdot, 1e-3, 32, signed=True), 1 << 31), 4)]),
         np.isfinite(el) | np.isfinite(rdot)),
    ]
    return _blocks(48, *_records(items, n), max_bytes)


def encode_cat034(
    sac: int,
    sic: int,
    kind: int,
    tod_s: float,
    *,
    sector_az_rad: float | None = None,
    rotation_period_s: float | None = None,
) -> bytes:
    """One radar service message as a CAT034 1.29 data block: items 010, 000, 030, and 020, 041 if given.

    ``kind`` is I034/000 (1 north marker, 2 sector crossing, ...); the sector azimuth goes in 8 bits of
    360°/256, the antenna rotation period in 1/128 s.
    """
    if not 0 <= kind <= 255:
        raise ValueError(f"message type {kind} outside [0, 255]")
    items: list[_Item] = [
        (1, _source(sac, sic, 1), None),
        (2, _const(bytes((kind,)), 1), None),
        (3, _tod_bytes(_finite(_floats(tod_s, 1, "tod_s"), "tod_s")), None),
    ]
    if sector_az_rad is not None:
        items.append((4, _be(_angle_counts(_floats(sector_az_rad, 1), 8), 1), None))
    if rotation_period_s is not None:
        items.append((5, _be(_counts(_floats(rotation_period_s, 1), LSB["I034/041"], 16, signed=False), 2), None))
    data, lengths = _records(items, 1)
    return _blocks(34, data, lengths, 1 << 16)[0]


# ICAO 6-bit characters (I021/170): A-Z 1-26, space 32, 0-9 48-57; 255 marks a character with no code.
_ICAO6 = np.full(256, 255, dtype=np.int64)
_ICAO6[ord("A") : ord("Z") + 1] = np.arange(1, 27)
_ICAO6[ord(" ")] = 32
_ICAO6[ord("0") : ord("9") + 1] = np.arange(48, 58)


def _callsigns(callsign: Sequence[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Callsigns as I021/170 bytes (n, 6) and where present (non-blank)."""
    if len(callsign) != n:
        raise ValueError(f"callsign: {len(callsign)} values for {n} records")
    padded = [c.upper().ljust(8) for c in callsign]
    if any(len(c) != 8 or not c.isascii() for c in padded):
        raise ValueError("callsign: at most 8 ASCII characters")
    chars = _ICAO6[np.frombuffer("".join(padded).encode("ascii"), dtype=np.uint8)].reshape(n, 8)
    if np.any(chars == 255):
        raise ValueError("callsign: only A-Z, 0-9 and space have ICAO codes")
    packed = (chars << np.arange(42, -1, -6)).sum(axis=1)  # 8 characters of 6 bits, first the highest
    return _be(packed, 6), np.array([bool(c.strip()) for c in padded], dtype=bool).reshape(n)


def encode_cat021(
    sac: int,
    sic: int,
    tod_s: Any,
    address: Any,
    lat_deg: Any,
    lon_deg: Any,
    alt_m: Any,
    vel_east_mps: Any,
    vel_north_mps: Any,
    callsign: Sequence[str],
    max_bytes: int = 1400,
    *,
    service_id: int = 1,
) -> list[bytes]:
    """ADS-B reports as CAT021 2.6 records, in datagrams of at most ``max_bytes``.

    Items: 010, 040 (24-bit ICAO address, altitude reporting capability unknown), 161 (the report's index,
    modulo 4096), 015, 071 and 073 (both ``tod_s``), 080, and per report 131 (high-resolution position)
    where latitude and longitude are finite, 140 (geometric height) where ``alt_m`` is, 160 (ground speed
    and track angle; RE set where the speed exceeds the field) where both velocities are, 170 where the
    callsign is not blank (A-Z, 0-9, space; at most 8).
    """
    addr = _ints(address, np.atleast_1d(np.asarray(address)).size, 0, 0xFFFFFF, "address")
    n = addr.size
    if not 0 <= service_id <= 255:
        raise ValueError(f"service_id {service_id} outside [0, 255]")
    tod = _finite(_floats(tod_s, n, "tod_s"), "tod_s")
    lat, lon = _floats(lat_deg, n, "lat_deg"), _floats(lon_deg, n, "lon_deg")
    alt = _floats(alt_m, n, "alt_m")
    ve, vn = _floats(vel_east_mps, n, "vel_east_mps"), _floats(vel_north_mps, n, "vel_north_mps")
    cs_bytes, cs_present = _callsigns(callsign, n)
    has_pos = np.isfinite(lat) & np.isfinite(lon)
    gs = np.rint(np.hypot(ve, vn) / LSB["I021/160 GS"])
    gs_counts = np.clip(np.where(np.isfinite(gs), gs, 0.0), 0, 0x7FFF).astype(np.int64)
    range_exceeded = (gs > 0x7FFF).astype(np.int64)
    track = _angle_counts(np.arctan2(ve, vn), 16)
    lsb_pos = LSB["I021/131"]
    items: list[_Item] = [
        (1, _source(sac, sic, n), None),
        (2, _const(b"\x10", n), None),  # ATP 0 (24-bit ICAO address), ARC 2 (unknown), FX 0
        (3, _be(np.arange(n) % 4096, 2), None),
        (4, _const(bytes((service_id,)), n), None),
        (5, _tod_bytes(tod), None),
        (7, np.hstack([_be(_counts(np.clip(lat, -90, 90), lsb_pos, 32, signed=True), 4),
                       _be(_counts(_longitude(lon), lsb_pos, 32, signed=True), 4)]), has_pos),
        (11, _be(addr, 3), None),
        (12, _tod_bytes(tod), None),
        (16, _be(_counts(alt, LSB["I021/140"], 16, signed=True), 2), np.isfinite(alt)),
        (26, np.hstack([_be((range_exceeded << 15) | gs_counts, 2), _be(track, 2)]), np.isfinite(ve) & np.isfinite(vn)),
        (29, cs_bytes, cs_present),
    ]
    return _blocks(21, *_records(items, n), max_bytes)


def encode_cat062(
    sac: int,
    sic: int,
    tod_s: Any,
    track_number: Any,
    lat_deg: Any,
    lon_deg: Any,
    x_m: Any,
    y_m: Any,
    vx_mps: Any,
    vy_mps: Any,
    alt_m: Any,
    climb_mps: Any,
    *,
    confirmed: Any,
    coasting: Any,
    mode_of_movement_trans: Any,
    mode_of_movement_long: Any,
    mode_of_movement_vert: Any,
    service_id: int = 1,
    max_bytes: int = 1400,
) -> list[bytes]:
    """System tracks as CAT062 1.19 records, in datagrams of at most ``max_bytes``.

    n tracks at one time of track (or one each).  Items: 010, 015, 070, 040, 080, 200 always; 105 (WGS-84,
    180°/2^25), 100 (x east, y north of the system reference point the caller chose, 0.5 m), 185 (0.25 m/s),
    130 (geometric altitude, 6.25 ft) and 220 (rate of climb, 6.25 ft/min) where their values are finite.
    I062/080: a multisensor track (MON 0), geometric height more reliable (MRH 1), SRC 2 (3-D radar) with an
    altitude, CNF 1 for a tentative track, CST 1 (fourth octet) for a coasting one.  I062/200: TRANS, LONG,
    VERT as the spec's codes (0 constant / level, 1 right turn / faster / climb, 2 left / slower / descent,
    3 undetermined), ADF 0.
    """
    tn = _ints(track_number, np.atleast_1d(np.asarray(track_number)).size, 0, 0xFFFF, "track_number")
    n = tn.size
    if not 0 <= service_id <= 255:
        raise ValueError(f"service_id {service_id} outside [0, 255]")
    tod = _finite(_floats(tod_s, n, "tod_s"), "tod_s")
    lat, lon = _floats(lat_deg, n, "lat_deg"), _floats(lon_deg, n, "lon_deg")
    x, y = _floats(x_m, n, "x_m"), _floats(y_m, n, "y_m")
    vx, vy = _floats(vx_mps, n, "vx_mps"), _floats(vy_mps, n, "vy_mps")
    alt, climb = _floats(alt_m, n, "alt_m"), _floats(climb_mps, n, "climb_mps")
    tentative = 1 - _ints(confirmed, n, 0, 1, "confirmed")
    coast = _ints(coasting, n, 0, 1, "coasting")
    trans = _ints(mode_of_movement_trans, n, 0, 3, "mode_of_movement_trans")
    long_ = _ints(mode_of_movement_long, n, 0, 3, "mode_of_movement_long")
    vert = _ints(mode_of_movement_vert, n, 0, 3, "mode_of_movement_vert")
    has_alt = np.isfinite(alt)
    src = np.where(has_alt, 2, 0)
    status = np.stack([(1 << 5) | (src << 2) | (tentative << 1) | 1, np.ones(n, np.int64), np.ones(n, np.int64),
                       coast << 7], axis=1).astype(np.uint8)
    lsb_ll = LSB["I062/105"]
    lsb_v = LSB["I062/185"]
    items: list[_Item] = [
        (1, _source(sac, sic, n), None),
        (3, _const(bytes((service_id,)), n), None),
        (4, _tod_bytes(tod), None),
        (5, np.hstack([_be(_counts(np.clip(lat, -90, 90), lsb_ll, 32, signed=True), 4),
                       _be(_counts(_longitude(lon), lsb_ll, 32, signed=True), 4)]),
         np.isfinite(lat) & np.isfinite(lon)),
        (6, np.hstack([_be(_counts(x, 0.5, 24, signed=True), 3), _be(_counts(y, 0.5, 24, signed=True), 3)]),
         np.isfinite(x) & np.isfinite(y)),
        (7, np.hstack([_be(_counts(vx, lsb_v, 16, signed=True), 2), _be(_counts(vy, lsb_v, 16, signed=True), 2)]),
         np.isfinite(vx) & np.isfinite(vy)),
        (12, _be(tn, 2), None),
        (13, status, None),
        (15, ((trans << 6) | (long_ << 4) | (vert << 2)).astype(np.uint8)[:, None], None),
        (18, _be(_counts(alt, LSB["I062/130"], 16, signed=True), 2), has_alt),
        (20, _be(_counts(climb, LSB["I062/220"], 16, signed=True), 2), np.isfinite(climb)),
    ]
    return _blocks(62, *_records(items, n), max_bytes)

