"""The engagement channel's messages: JSON objects, one per line, over TCP.

In, from the batteries (or ``tdome feed``'s):

- ``{"type": "status", "battery": NAME, "time_s": T, "ready": N, "stock": N, "orders_received": [ID, ...]}``:
  rounds ready to fire now and left in all, and the engagement ids of every order it has received;
- ``{"type": "launch", "battery": NAME, "engagement_id": ID, "track_id": ID, "rounds": N, "launch_s": T,
  "intercept_s": T}``: an order carried out.

Out, to every client:

- ``{"type": "order" | "recommendation", "time_s", "engagement_id", "battery", "track_id", "rounds",
  "launch_time_s", "intercept_time_s", "aim_ecef"}``: an order to a battery (its layer's authority is
  ``auto``), or one that waits for an operator (``confirm``);
- ``{"type": "aim", "time_s", "engagement_id", "battery", "aim_ecef"}``: a mid-course update;
- ``{"type": "emcon", "time_s", "radar", "until_s"}``: keep a radar silent;
- ``{"type": "batteries", "time_s", "batteries": [{"battery", "layer", "ready", "stock", "reported_s"}]}``: the
  batteries' status as the battle manager planned the cycle with it;
- ``{"type": "cycle", "time_s", "tracks", "orders", "recommendations"}``: a decision cycle is done.

Times are the service's track time (s; see :mod:`tdome.live.service`), positions ECEF metres.  A battery
is named by its name in the configuration (its index there is accepted too).
"""

from __future__ import annotations

import json
import math

from tdome.messages import BatteryStatus, FireOrder

MAX_LINE = 65_536  # bytes: a longer line is refused, not buffered


def battery_status_of(msg: dict, unit) -> BatteryStatus:
    """The :class:`BatteryStatus` a status message reports for ``unit`` (a :class:`~tdome.world.effectors.FireUnit`)."""
    ready, stock, t = int(msg["ready"]), int(msg["stock"]), float(msg["time_s"])
    if ready < 0 or stock < 0 or not math.isfinite(t):
        raise ValueError("negative rounds, or a time that is not a number")
    return BatteryStatus(unit.index, unit.name, unit.layer, unit.lat_rad, unit.lon_rad, unit.alt_m, unit.spec,
                         ready, stock, unit.magazine,
                         time_s=t,
                         orders_received=frozenset(int(e) for e in msg.get("orders_received", ())))


def status_message(st: BatteryStatus) -> dict:
    return dict(type="status", battery=st.name, time_s=st.time_s, ready=st.ready_rounds, stock=st.stock_rounds,
                orders_received=sorted(st.orders_received))


def order_message(kind: str, now: float, o: FireOrder, battery_name: str) -> dict:
    return dict(type=kind, time_s=now, engagement_id=o.engagement_id, battery=battery_name, track_id=o.track_id,
                rounds=o.rounds, launch_time_s=o.launch_time_s, intercept_time_s=o.intercept_time_s,
                aim_ecef=list(o.aim_ecef))


def order_of(msg: dict, battery_index: dict[str, int]) -> FireOrder:
    return FireOrder(int(msg["engagement_id"]), battery_index[msg["battery"]], int(msg["track_id"]),
                     int(msg["rounds"]), float(msg["launch_time_s"]), float(msg["intercept_time_s"]),
                     tuple(float(v) for v in msg["aim_ecef"]))  # type: ignore[arg-type]


def dumps(msg: dict) -> bytes:
    return (json.dumps(msg, separators=(",", ":")) + "\n").encode()
