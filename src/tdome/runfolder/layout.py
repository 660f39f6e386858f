"""What a run folder holds: its files, the columns of each table, the scene's format number.

Written once here so that the writer and every reader agree by construction;
the README's description of the run folder and its one-liners rely on these
names, so a change here is a change of the format.
"""

from __future__ import annotations

import pyarrow as pa

# Every file of a run folder, keyed as the writer's and the readers' dicts are, in the order `tdome run` lists them.
FILES = dict(summary="summary.json", events="events.parquet", tracks="tracks.parquet", truth="truth.parquet",
             threats="threats.parquet", map="map.png", scene="scene.json", interceptors="interceptors.parquet")
TABLES = ("events", "tracks", "truth", "threats", "interceptors")

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
