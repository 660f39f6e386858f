"""What a run folder holds: its files, the columns of each table, the scene's format number.

Written once here so that the writer and every reader agree by construction;
the README's description of the run folder and its one-liners rely on these
names, so a change here is a change of the format.
"""

from __future__ import annotations

import pyarrow as pa

# Every file of a run folder, keyed as the writer's and the readers' dicts are, in the order `tdome run` lists them.
FILES = dict(summary="summary.json", events="events.parquet", tracks="tracks.parquet", truth="truth.parquet",
             threats="threats.parquet", map="map.png", scene="scene.json", interceptors="interceptors.parquet",
             engagements="engagements.parquet", links="links.parquet")
TABLES = ("events", "tracks", "truth", "threats", "interceptors")
# Tables a reader does without: a folder written before they existed lacks them, and links.parquet is written
# only when the run had a network (a perfect network has no links).  Missing, they read as empty columns.
OPTIONAL_TABLES = ("engagements", "links")

SCENE_FORMAT = 1  # scene.json's "format": a reader refuses any other

# events.parquet: one row per event, in time order.
EVENT_COLUMNS = ("time_s", "kind", "threat_id", "track_id", "battery", "layer", "interceptor_id", "rounds", "lat_deg",
                 "lon_deg", "alt_m", "detail")

# tracks.parquet: one row per track per record instant.  Errors and NEES are against the truth the track took
# most plots from (NaN when it is not alive); the predicted impact point and time to go NaN where threat
# evaluation has none.
TRACK_COLUMNS = ("time_s", "track_id", "lat_deg", "lon_deg", "alt_m", "speed_mps", "class", "asset", "truth_id",
                 "pos_err_m", "vel_err_mps", "nees_pos", "nees_state", "impact_lat_deg", "impact_lon_deg",
                 "time_to_go_s")
# Their types: those Parquet gives a simulated run's rows (Python floats, ints and strings), stated for the writers
# that see the rows a group at a time (a live session's, :class:`~tdome.runfolder.write.RowSpool`).
TRACK_TYPES = {"time_s": pa.float64(), "track_id": pa.int64(), "lat_deg": pa.float64(), "lon_deg": pa.float64(),
               "alt_m": pa.float64(), "speed_mps": pa.float64(), "class": pa.string(), "asset": pa.int64(),
               "truth_id": pa.int64(), "pos_err_m": pa.float64(), "vel_err_mps": pa.float64(),
               "nees_pos": pa.float64(), "nees_state": pa.float64(), "impact_lat_deg": pa.float64(),
               "impact_lon_deg": pa.float64(), "time_to_go_s": pa.float64()}

# truth.parquet: one row per live threat per record instant.
TRUTH_COLUMNS = ("time_s", "threat_id", "lat_deg", "lon_deg", "alt_m", "speed_mps")

# threats.parquet: one row per threat of the raid, ``threat_id`` its row.
THREAT_COLUMNS = ("threat_id", "type", "cls", "wave", "label", "launch_s", "impact_s", "aim_lat_deg", "aim_lon_deg",
                  "intended_asset", "killed_s", "first_detect_s", "first_launch_s")

# interceptors.parquet: one row per interceptor launched; typed, so an empty table still has its columns' types.
INTERCEPTOR_TYPES = dict(interceptor_id=pa.int64(), engagement_id=pa.int64(), battery=pa.int64(), layer=pa.string(),
                         track_id=pa.int64(), launch_s=pa.float64(), intercept_s=pa.float64(),
                         launch_lat_deg=pa.float64(), launch_lon_deg=pa.float64(), launch_alt_m=pa.float64(),
                         aim_lat_deg=pa.float64(), aim_lon_deg=pa.float64(), aim_alt_m=pa.float64(),
                         outcome=pa.string())

# engagements.parquet: one row per engagement a deciding node decided, with the times of its sensor-to-shooter
# chain (NaN: that step never happened), where its order went and what became of it.  ``fate``: "launched" (at
# least one round fired), "not fired" (delivered, no round ready), "not delivered" (released, never reached the
# battery: lost on the network, or in flight at the end), "not released" (refused, expired or still awaiting an
# operator at the end).  ``battery`` -1, ``layer`` "" and ``threat_id`` -1 where unknown (the order never reached
# a battery; a threat the engagement's track cannot be attributed to).
ENGAGEMENT_TYPES = dict(engagement_id=pa.int64(), node=pa.string(), track_id=pa.int64(), threat_id=pa.int64(),
                        battery=pa.int64(), layer=pa.string(), rounds=pa.int64(), first_plot_s=pa.float64(),
                        confirmed_s=pa.float64(), decided_s=pa.float64(), released_s=pa.float64(),
                        delivered_s=pa.float64(), launch_s=pa.float64(), fate=pa.string())

# links.parquet: one row per link and direction: messages sent, delivered, lost (the link's loss draw), dropped
# while the link or a node was down, late (arrived after a message sent later the same way), and the delay of
# those delivered (queueing included; NaN when none was).
LINK_TYPES = dict(src=pa.string(), dst=pa.string(), sent=pa.int64(), delivered=pa.int64(), lost=pa.int64(),
                  down=pa.int64(), late=pa.int64(), delay_median_s=pa.float64(), delay_p95_s=pa.float64(),
                  delay_max_s=pa.float64())

# What a live session's folder holds besides the tables above (``tdome serve``): the plots it received, every input
# as it arrived (``tdome serve --replay`` re-runs it) and every message it sent on the engagement channel.
# operator.jsonl: one JSON object per operator action (who, when on the track time and the wall clock, what, the
# result) and per request left to expire; see tdome.live.service.LiveC2.operator.
FILES_LIVE = dict(plots="plots.parquet", received="received.tdrec", messages="messages.jsonl",
                  operator="operator.jsonl")

# plots.parquet: one row per radar plot received, placed as the tracker took it (``height_m`` as reported, NaN
# when the report had none: ``alt_m`` is then the assumed height).
PLOT_TYPES = dict(time_s=pa.float64(), radar=pa.int64(), range_m=pa.float64(), az_deg=pa.float64(),
                  el_deg=pa.float64(), lat_deg=pa.float64(), lon_deg=pa.float64(), alt_m=pa.float64(),
                  height_m=pa.float64())
