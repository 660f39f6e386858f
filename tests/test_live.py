"""tdome live: the C2 core fed ASTERIX, without sockets (tests/test_live_service.py runs it on loopback).

What a C2 engineer checks first: a flight seen by the radars becomes one
track where the flight is; the CAT062 it writes says what the picture says;
reports either side of midnight make one track; reports from an unknown
radar are counted and ignored; an ADS-B aircraft is never engaged, and the
reason is recorded; the elevation solved from a plot's height is the one
the radar measured.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tdome import geo
from tdome.live import asterix, sky
from tdome.live import picture as live_picture
from tdome.live.service import LiveC2, Outputs, elevation_from_height
from tdome.live.sky import Flight
from tdome.messages import Detections, SensorSite
from tdome.scenario import load_defended_side, starter_scenario_path

TOD0 = 43_000.0


@pytest.fixture(scope="module")
def side():
    return load_defended_side(starter_scenario_path())


def _codes(side):
    return [r.sac_sic(i) for i, r in enumerate(side.radars)]


def _feed(c2: LiveC2, side, flights, t0, t1, tod0=TOD0, seed=1, adsb=None):
    """Every scan of the sky from t0 to t1 into ``c2``, and the batteries' status every second; ``adsb``
    (addresses per flight) also sends each flight's ADS-B report once a second."""
    rng = np.random.default_rng(seed)
    events = sky.inputs(c2.sites, _codes(side), flights, side.batteries, t0, t1, tod0, rng)
    if adsb is not None:
        for t in np.arange(t0, t1, 1.0):
            pos = np.array([f.at(t) for f in flights])
            lat, lon, alt = geo.ecef_to_geodetic(pos)
            vel = np.array([f.vel for f in flights])
            enu = np.einsum("nij,nj->ni", np.stack([geo.enu_rotation(a, b) for a, b in zip(lat, lon)]), vel)
            events += [(float(t), sky.OTHER, d) for d in asterix.encode_cat021(
                9, 9, np.full(len(flights), (tod0 + t) % asterix.DAY_S), np.array(adsb), np.degrees(lat),
                np.degrees(lon), alt, enu[:, 0], enu[:, 1], ["CAL123"] * len(flights))]
    sky.play(c2, events)


def test_a_flight_becomes_one_track_where_it_is(side):
    sent: list[bytes] = []
    c2 = LiveC2(side, Outputs(cat062=sent.extend))
    f = Flight.over(24.9, 121.2, 9_000.0, 45.0, 230.0)
    _feed(c2, side, [f], 0.0, 120.0)
    pic = c2.bm.tracker.picture(c2.now)
    assert pic.track_id.tolist() == [1]
    err = np.linalg.norm(pic.x[0, :3] - f.at(c2.now - TOD0))
    assert err < 100.0, err
    assert np.linalg.norm(pic.x[0, 3:] - f.vel) < 20.0
    assert c2.counts["plots"] > 200 and not any(k.startswith("error:") for k in c2.counts)
    assert sent, "no CAT062 written"


def test_cat062_says_what_the_picture_says(side):
    """The periodic CAT062 picture, decoded independently (libasterix), against the tracker's picture at its
    time: position and velocity within one least significant bit (the Cartesian items in the system frame)."""
    import asterix.generated as gen  # libasterix
    from asterix.base import Bits, ParsingMode, RawDatablock

    c2 = LiveC2(side, Outputs())
    f = Flight.over(24.9, 121.2, 9_000.0, 45.0, 230.0, climb_mps=5.0)
    _feed(c2, side, [f], 0.0, 60.0)
    t = math.floor(c2.now)
    pic = c2.bm.tracker.picture(t)
    datagrams = c2.cat062_of(pic, np.ones(len(pic), dtype=bool), t)
    blocks = RawDatablock.parse(Bits.from_bytes(b"".join(datagrams)))
    assert not isinstance(blocks, ValueError) and len(blocks) == 1
    parsed = gen.Cat_062_1_19.cv_record.parse(ParsingMode.StrictParsing, blocks[0].get_raw_records())
    assert not isinstance(parsed, ValueError)
    r, rest = parsed
    assert not len(rest)  # one record, filling its block

    def q(item, sub, unit):
        return r.get_item(item).variation.get_item(sub).variation.content.as_quantity(unit)

    lat, lon, _ = geo.ecef_to_geodetic(pic.x[:, :3])
    assert abs(q("105", "LAT", "°") - np.degrees(lat[0])) <= 180 / 2**25
    assert abs(q("105", "LON", "°") - np.degrees(lon[0])) <= 180 / 2**25
    xy = (pic.x[0, :3] - c2.reference_ecef) @ c2.reference_rot.T
    assert abs(q("100", "X", "m") - xy[0]) <= 0.5 and abs(q("100", "Y", "m") - xy[1]) <= 0.5
    v = pic.x[0, 3:] @ c2.reference_rot.T
    assert abs(q("185", "VX", "m/s") - v[0]) <= 0.25 and abs(q("185", "VY", "m/s") - v[1]) <= 0.25
    assert r.get_item("040").as_uint() == int(pic.track_id[0])
    tod = r.get_item("070").variation.content.as_quantity("s")
    assert abs(tod - t % asterix.DAY_S) <= 1 / 128


def test_reports_either_side_of_midnight_make_one_track(side):
    c2 = LiveC2(side, Outputs())
    f = Flight.over(24.9, 121.2, 9_000.0, 45.0, 230.0)
    _feed(c2, side, [f], 0.0, 120.0, tod0=asterix.DAY_S - 60.0)
    assert c2.now > asterix.DAY_S  # the clock ran on past midnight
    pic = c2.bm.tracker.picture(c2.now)
    assert pic.track_id.tolist() == [1]
    assert np.linalg.norm(pic.x[0, :3] - f.at(c2.now - (asterix.DAY_S - 60.0))) < 100.0
    assert c2.counts["clock_jumps"] == 0 and c2.bm.tracker.stats["deleted"] == 0


def test_reports_from_an_unknown_radar_are_counted_and_ignored(side):
    c2 = LiveC2(side, Outputs())
    for d in asterix.encode_cat048(200, 200, TOD0, np.array([50e3, 60e3]), np.array([1.0, 2.0])):
        c2.datagram(d)
    c2.datagram(asterix.encode_cat034(200, 200, 1, TOD0))
    assert c2.counts["plots_unknown_source"] == 2 and c2.counts["plots"] == 0
    assert c2.unknown_sources == {"200/200": 3}


def test_a_far_future_time_stamp_is_refused_until_confirmed(side):
    """One corrupt time does not move the clock; three that agree do (a radar whose clock was set)."""
    c2 = LiveC2(side, Outputs())
    c2.datagram(asterix.encode_cat034(0, 1, 1, TOD0))
    c2.datagram(asterix.encode_cat034(0, 1, 1, TOD0 + 3_600.0))
    assert c2.now == TOD0 and c2.counts["time_unconfirmed"] == 1
    for _ in range(3):
        c2.datagram(asterix.encode_cat034(0, 1, 1, TOD0 + 3_600.0))
    assert c2.now == TOD0 + 3_600.0 and c2.counts["clock_jumps"] == 1


def _inbound(side):
    """A fast, low flight straight at Taipei: a threat the battle manager engages unless it is identified."""
    taipei = next(a for a in side.assets if a.name == "Taipei")
    start = (25.040 - 0.6, 121.545 - 0.6)
    lat0, lon0 = np.radians(start)
    bearing = geo.initial_bearing_rad(lat0, lon0, np.radians(taipei.lat), np.radians(taipei.lon))
    return Flight.over(*start, 3_000.0, float(np.degrees(bearing)), 250.0)


def test_an_adsb_aircraft_is_never_engaged_and_the_reason_is_recorded(side):
    messages: list[dict] = []
    plain = LiveC2(side, Outputs(message=messages.append))
    _feed(plain, side, [_inbound(side)], 0.0, 150.0)
    assert any(m["type"] == "order" for m in messages), "the inbound flight was never engaged"
    # The operator's picture (tdome.live.picture) shows the same: hostile without ADS-B, civil with it.
    shown = live_picture.tracks(plain, plain.last_cycle_s)
    assert shown["identity"] == ["hostile"] and shown["callsign"] == [None]

    messages.clear()
    identified = LiveC2(side, Outputs(message=messages.append))
    _feed(identified, side, [_inbound(side)], 0.0, 150.0, adsb=[0xABC123])
    assert not any(m["type"] in ("order", "recommendation") for m in messages)
    reasons = [e["detail"] for e in identified.events if e["kind"] == "identified"]
    assert reasons and "ABC123 CAL123" in reasons[0] and "never engaged" in reasons[0]
    assert identified.summary()["identified"] == {"1": "ABC123 CAL123"}
    shown = live_picture.tracks(identified, identified.last_cycle_s)
    assert shown["identity"] == ["civil"] and shown["callsign"] == ["CAL123"] and shown["cls"] == ["aircraft"]


@settings(max_examples=200, deadline=None)
@given(r=st.floats(1e3, 400e3), az=st.floats(0.0, 2 * np.pi), el=st.floats(-0.02, 1.2), alt=st.floats(0.0, 3e3),
       lat=st.floats(-60.0, 60.0))
def test_elevation_from_height_is_the_elevation_measured(r, az, el, alt, lat):
    """The height of the point the radar measured, turned back into an elevation, is that elevation."""
    site = SensorSite(0, "r", np.radians(lat), 0.3, alt, 500e3, 0.0, -0.1, 1.5, 0.0, np.pi, 5.0, 50.0, 1e-3, 1e-3)
    pos = site.ecef + geo.razel_to_enu(np.array([r]), np.array([az]), np.array([el])) @ site.enu_rot
    _, _, h = geo.ecef_to_geodetic(pos)
    got, sigma = elevation_from_height(site, np.array([r]), np.array([az]), h)
    assert abs(got[0] - el) < 1e-8
    assert sigma[0] == site.sigma_el_rad


def test_a_plot_with_no_height_gets_an_elevation_spread_over_the_band():
    site = SensorSite(0, "r", 0.4, 2.1, 100.0, 500e3, 0.0, -0.1, 1.5, 0.0, np.pi, 5.0, 50.0, 1e-3, 1e-3)
    el, sigma = elevation_from_height(site, np.array([100e3]), np.array([1.0]), np.array([np.nan]))
    assert sigma[0] > 0.03  # 4 km of height at 100 km
    pos = site.ecef + geo.razel_to_enu(np.array([100e3]), np.array([1.0]), el) @ site.enu_rot
    assert abs(geo.ecef_to_geodetic(pos)[2][0] - 6_000.0) < 1.0


def test_a_sector_scan_misses_only_the_tracks_it_swept(side):
    """A rotating radar read sector by sector: an empty sector away from a track is no missed chance to see it;
    the same empty scan over the whole revolution is."""
    c2 = LiveC2(side, Outputs())
    f = Flight.over(24.9, 121.2, 9_000.0, 45.0, 230.0)
    _feed(c2, side, [f], 0.0, 30.0)
    tracker = c2.bm.tracker
    k = next(i for i, s in enumerate(c2.sites) if s.az_half_width_rad >= np.pi and s.covers(tracker.x[0, :3]))
    site = c2.sites[k]
    e, n, _ = site.to_enu(tracker.x[0, :3])
    away = float(np.arctan2(e, n)) + np.pi  # the far side of the revolution
    empty = np.zeros(0)
    t = float(tracker.time_s[0]) + 0.1
    before = int(tracker.n_opportunities[0])
    tracker.process(Detections(t, k, empty, empty, empty, np.zeros((0, 3)), sector_rad=(away, 0.3)))
    assert int(tracker.n_opportunities[0]) == before
    tracker.process(Detections(t + 0.1, k, empty, empty, empty, np.zeros((0, 3))))
    assert int(tracker.n_opportunities[0]) == before + 1


def test_the_warm_up_raid_goes_through_the_whole_core(side):
    """The service's warm-up (tdome serve, before it listens) is only worth its second if it reaches every stage
    the first real inputs will: each of its objects tracked, classified and engaged."""
    from tdome.live.warmup import warm_up

    done = warm_up(side)
    assert done["tracks"] >= 4 and done["engagements"] >= 4, done
