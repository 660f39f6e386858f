"""The ``live`` section: where the live service (``tdome serve``) listens and writes, and who it is on the wire.

The service reads the defended side of a scenario file (assets, radars,
batteries, ``c2``) and this section; the simulator ignores it, except that
``tdome feed`` sends its radars' reports to the service at the same ports.
Radars are told apart by the ASTERIX SAC/SIC in their reports (``sac`` and
``sic`` of each radar), not by the port they arrive on.  Every address is
loopback by default: listening elsewhere is an explicit setting (or ``tdome
serve --bind``).
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import AfterValidator

from tdome.scenario.fields import Int, LatLonPair, Num, _doc, _Model

LOOPBACK = "127.0.0.1"


def _ip(v: str) -> str:
    try:
        ipaddress.IPv4Address(v)
    except ValueError:
        raise ValueError(f"'{v}' is not an IPv4 address (dotted quad, e.g. {LOOPBACK})") from None
    return v


def _multicast(v: str | None) -> str | None:
    if v is not None and not ipaddress.IPv4Address(_ip(v)).is_multicast:
        raise ValueError(f"'{v}' is not a multicast group (224.0.0.0 to 239.255.255.255)")
    return v


Host = Annotated[str, AfterValidator(_ip)]
Port = Int(ge=1, le=65535)
SacSic = Int(ge=0, le=255)


class Endpoint(_Model):
    """An IPv4 address and a port."""

    host: Host = _doc("IPv4 address.", LOOPBACK)
    port: Port = _doc("UDP or TCP port.")


class Cat062Output(_Model):
    """System tracks out: ASTERIX CAT062 over UDP."""

    to: list[Endpoint] = _doc("Where the CAT062 datagrams go (unicast or multicast addresses).",
                              default_factory=lambda: [Endpoint(port=8602)])
    period_s: Num(ge=0.0, le=60.0) = _doc(
        "Period of the full picture, s of track time; 0: no periodic picture, only updates.", 1.0)
    on_update: bool = _doc("Also send each track the moment a radar scan updates it (lowest latency).", True)
    sac: SacSic = _doc("SAC of the tracker in I062/010.", 0)
    sic: SacSic = _doc("SIC of the tracker in I062/010.", 100)
    reference: LatLonPair | None = _doc(
        "System reference point [lat, lon], degrees, of the Cartesian position I062/100; null: the mean of the "
        "radar sites.", None)


class ConsoleSettings(_Model):
    """The operator console and its API: HTTP and WebSocket on one port, behind tokens (``tdome serve --tokens``)."""

    http: Endpoint = _doc("TCP address and port of the console page and the HTTP/WebSocket API.",
                          default_factory=lambda: Endpoint(port=8603))
    session_s: Num(gt=0.0, le=86_400.0) = _doc(
        "Lifetime of a console session (what a login gives), s: after it the page asks for the token again.", 3_600.0)
    login_attempts_per_min: Int(ge=1, le=1_000) = _doc(
        "Failed logins allowed per client address per minute; beyond them the login answers 429.", 5)
    decisions_per_min: Int(ge=1, le=10_000) = _doc(
        "Decisions (approve, reject, set authority) allowed per user per minute; beyond them 429.", 60)
    history_s: Num(gt=0.0, le=7_200.0) = _doc("How far back the API keeps each track's history, s of track time.",
                                             600.0)


class CotOutput(_Model):
    """The air picture as Cursor on Target events over UDP, for TAK clients (ATAK, WinTAK, iTAK)."""

    to: list[Endpoint] = _doc("Where the CoT datagrams go (unicast, or TAK's SA multicast group 239.2.3.1:6969 "
                              "once the service listens on that network).",
                              default_factory=lambda: [Endpoint(port=6969)])
    format: Literal["xml", "protobuf"] = _doc(
        "CoT XML events, or TAK Protocol Version 1 mesh datagrams (protobuf).", "xml")
    period_s: Num(gt=0.0, le=60.0) = _doc("Every track goes out once per this period of track time, s.", 1.0)
    stale_s: Num(gt=0.0, le=3_600.0) = _doc("A TAK client drops a track not refreshed within this time, s.", 10.0)


class LiveSettings(_Model):
    """The live service's network: radar and ADS-B input, system tracks and engagement messages out."""

    listen: Endpoint = _doc("UDP address and port for ASTERIX input: CAT048, CAT034 and CAT021 from every radar and "
                            "ADS-B ground station.", default_factory=lambda: Endpoint(port=8600))
    multicast_group: Annotated[str | None, AfterValidator(_multicast)] = _doc(
        "Join this multicast group on the listen port (the usual way radar data is distributed); null: unicast.",
        None)
    control: Endpoint = _doc(
        "TCP address and port of the engagement channel: JSON lines, battery status and launch reports in, "
        "recommendations, orders and status out, to every client connected.",
        default_factory=lambda: Endpoint(port=8601))
    cat062: Cat062Output = _doc("System tracks out.", default_factory=Cat062Output)
    queue_datagrams: Int(ge=100, le=10_000_000) = _doc(
        "Input queue bound, datagrams: under overload the oldest are dropped and counted.", 100_000)
    adsb_gate_m: Num(gt=0.0) = _doc(
        "A track within this distance of an ADS-B report of the same time is that aircraft (identified, never "
        "engaged), m.", 2_000.0)
    adsb_max_age_s: Num(gt=0.0) = _doc("An ADS-B report older than this no longer identifies a track, s.", 10.0)
    console: ConsoleSettings = _doc("The operator console and its HTTP/WebSocket API.",
                                    default_factory=ConsoleSettings)
    cot: CotOutput | None = _doc("Cursor on Target output for TAK clients; null: none.", None)
