"""A study's folder: its description, one Parquet file per run, and the outcome measures each row holds.

Results are written as they arrive, one Parquet file per run, into
``<study>/results/`` (a Parquet dataset: ``pandas.read_parquet(folder)``).  A
file is written under a temporary name and renamed, so an interrupted study
never leaves half a row; ``study.json`` keeps the study and its schema, so a
study can be resumed (the same study only) and its results read back typed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa

from tdome.messages import LAYERS
from tdome.studies import params as P
from tdome.studies.spec import Study, StudyError

RESULTS_DIR = "results"
SPEC_FILE = "study.json"

# Outcome measures, one float column each (NaN where undefined in a run, null for a
# failed run): name -> (label, where it sits in a run's summary, :func:`tdome.sim.report.summarize`).
_MEASURES: dict[str, tuple[str, tuple[str, ...]]] = {
    "leakers": ("leakers (threats aimed at assets that hit the ground)", ("leakers", "total")),
    "leak_rate": ("leak rate (leakers / threats aimed at assets)", ("leakers", "rate")),
    "defended_value_surviving": ("defended value surviving", ("defended_value", "surviving")),
    "defended_value_fraction": ("defended value surviving (fraction)", ("defended_value", "fraction")),
    **{f"shots_{layer}": (f"interceptors spent, {layer} layer", ("layers", layer, "shots")) for layer in LAYERS},
    "shots_total": ("interceptors spent, all layers", ("interceptors", "shots")),
    "shots_at_decoys": ("interceptors spent on threats aimed at nothing", ("interceptors", "shots_at_decoys")),
    **{f"cost_{layer}_usd": (f"interceptor cost (USD), {layer} layer", ("layers", layer, "cost_usd"))
       for layer in LAYERS},
    "cost_usd": ("interceptor cost (USD)", ("interceptors", "cost_usd")),
    "cost_exchange": ("cost exchange (interceptor cost / raid cost)", ("cost_exchange", "per_raid_cost")),
    "cost_per_leaker_prevented_usd": ("interceptor cost per leaker prevented (USD)",
                                      ("cost_exchange", "per_leaker_prevented_usd")),
    "threats_killed": ("threats killed", ("threats", "killed")),
    "s2s_median_s": ("sensor-to-shooter time, median (s)", ("sensor_to_shooter_s", "median")),
    "s2s_p95_s": ("sensor-to-shooter time, 95th percentile (s)", ("sensor_to_shooter_s", "p95")),
    "s2s_chain_median_s": ("sensor-to-shooter chain per engagement, first plot of its track to launch, median (s)",
                           ("sensor_to_shooter_legs", "all", "first_plot_to_launch", "median")),
    "order_to_launch_median_s": ("order released to launch (network and battery reaction), median (s)",
                                 ("sensor_to_shooter_legs", "all", "order_to_launch", "median")),
    "messages_lost": ("network messages that never arrived (lost, link or node down, no route)",
                      ("network", "messages_lost")),
    "gospa_mean_m": ("tracking GOSPA, mean (m)", ("tracking", "gospa_mean_m")),
    "siap_completeness": ("tracking SIAP completeness (fraction of live threats held by a track)",
                          ("tracking", "siap_completeness")),
    "gospa_detectable_mean_m": ("tracking GOSPA over the threats some radar could see, mean (m)",
                                ("tracking", "gospa_detectable_mean_m")),
    "siap_detectable_completeness": ("tracking SIAP completeness over the threats some radar could see",
                                     ("tracking", "siap_detectable_completeness")),
    "implausible_tracks": ("tracks in the picture that moved as no catalog object or aircraft can (0 is the goal)",
                           ("tracking", "implausible_tracks")),
    "false_ballistic_tracks": ("tracks classed ballistic or rocket that held no such threat (0 is the goal)",
                               ("tracking", "false_ballistic_tracks")),
    "siap_spuriousness": ("tracking SIAP spuriousness (fraction of tracks on no threat)",
                          ("tracking", "siap_spuriousness")),
    "siap_position_rms_m": ("tracking position error of associated tracks, RMS (m)",
                            ("tracking", "siap_position_rms_m")),
    "siap_track_changes_per_truth": ("tracking track-number changes per threat",
                                     ("tracking", "siap_track_changes_per_truth")),
    "siap_velocity_rms_mps": ("tracking velocity error of associated tracks, RMS (m/s)",
                              ("tracking", "siap_velocity_rms_mps")),
    "siap_longest_segment_fraction": (
        "tracking continuity: share of the threats' flight time held by their longest track",
        ("tracking", "siap_longest_segment_fraction")),
    "nees_position_mean": ("tracking position NEES, mean (3 if consistent)", ("tracking", "nees_position", "mean")),
    # A contested sky: why threats got through, and what jamming, silence and strikes cost the defence.
    "leakers_untracked": ("leakers never held by a track", ("leakers", "by_cause", "untracked")),
    "leakers_not_engaged": ("leakers tracked and not engaged", ("leakers", "by_cause", "tracked_not_engaged")),
    "leakers_engaged_missed": ("leakers engaged and missed", ("leakers", "by_cause", "engaged_and_missed")),
    "plots_lost_to_jamming": ("plots lost to jamming (the same draws would have made them)",
                              ("jamming", "plots_lost")),
    "plots_lost_to_silence": ("plots the radars' silent scans would have made", ("emcon", "plots_lost_total")),
    "radars_lost": ("radars destroyed", ("defence_lost", "radars_lost")),
    "batteries_lost": ("batteries destroyed", ("defence_lost", "batteries_lost")),
    "decoys_found_light": ("released decoys the C2 found light by their deceleration",
                           ("discrimination", "decoys_found_light")),
    "threats_found_light": ("warheads the C2 wrongly found light", ("discrimination", "threats_found_light")),
    "shots_at_decoys_before": ("rounds at released decoys decided before the C2 found them light",
                               ("discrimination", "shots_at_decoys_before")),
    "shots_at_decoys_after": ("rounds at released decoys decided after the C2 found them light",
                              ("discrimination", "shots_at_decoys_after")),
    "wall_time_s": ("wall time of the run (s)", ("wall_time_s",)),
}
MEASURES: dict[str, str] = {name: label for name, (label, _) in _MEASURES.items()}
KEY_COLUMNS = [("study", pa.string()), ("point", pa.int64()), ("replication", pa.int64()), ("seed", pa.int64()),
               ("fidelity", pa.string()), ("status", pa.string()), ("error", pa.string())]


def outcome_row(summary: dict) -> dict[str, float]:
    """The outcome measures of one run's summary; NaN where undefined, 0 for a layer the scenario lacks."""
    row = {}
    for name, (_, path) in _MEASURES.items():
        v: Any = summary
        for key in path:
            v = v.get(key) if isinstance(v, dict) else None
        if v is None and path[0] == "layers":
            v = 0.0
        row[name] = float("nan") if v is None else float(v)
    return row


def param_types(study: Study) -> list[tuple[str, pa.DataType]]:
    """One column per swept parameter, typed by its values (labels for derived values)."""
    cols = []
    for path, values in study.parameters.items():
        labels = [P.value_label(v) for v in values]
        if all(isinstance(v, bool) for v in labels):
            t = pa.bool_()
        elif all(isinstance(v, int) and not isinstance(v, bool) for v in labels):
            t = pa.int64()
        elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in labels):
            t = pa.float64()
        else:
            t = pa.string()
        cols.append((path, t))
    return cols


def point_labels(study: Study, point: dict[str, Any]) -> dict[str, Any]:
    """A grid point's parameter values as its row holds them: labels, as text in a column of text
    (one that mixes numbers and text, :func:`param_types`)."""
    types = dict(param_types(study))
    labels = {k: P.value_label(v) for k, v in point.items()}
    return {k: str(v) if types[k] == pa.string() else v for k, v in labels.items()}


def schema(study: Study) -> pa.Schema:
    return pa.schema(KEY_COLUMNS + param_types(study) + [(m, pa.float64()) for m in MEASURES])


def _row_file(point: int, replication: int) -> str:
    return f"p{point:05d}-r{replication:06d}.parquet"


def done_pairs(results: Path) -> set[tuple[int, int]]:
    """The (point, replication) pairs already written; a file a crash left unreadable is removed, to run again."""
    import pyarrow.parquet as pq  # here and below, not at the top: a study's workers never read or write rows

    done = set()
    for f in results.glob("p*-r*.parquet"):
        try:
            pq.read_metadata(f)
        except (OSError, pa.ArrowException):
            f.unlink()
            continue
        p, r = f.stem.split("-")
        done.add((int(p[1:]), int(r[1:])))
    return done


def write_row(results: Path, row: dict, sch: pa.Schema) -> None:
    import pyarrow.parquet as pq

    name = _row_file(row["point"], row["replication"])
    tmp = results / f".{name}.tmp"
    pq.write_table(pa.Table.from_pylist([row], schema=sch), tmp)
    os.replace(tmp, results / name)


def load_results(folder: str | Path) -> pa.Table:
    """All rows of a study folder, sorted by point and replication."""
    path = Path(folder)
    path = path / RESULTS_DIR if (path / RESULTS_DIR).is_dir() else path
    spec = path.parent / SPEC_FILE
    sch = None
    if spec.exists():
        sch = pa.schema([(f["name"], pa.type_for_alias(f["type"])) for f in json.loads(spec.read_text())["schema"]])
    import pyarrow.dataset as ds  # here, not at the top: it brings pandas, which a study's workers never need

    table = ds.dataset(path, format="parquet", schema=sch).to_table()
    return table.sort_by([("point", "ascending"), ("replication", "ascending")])


def prepare_folder(study: Study, out: Path, resume: bool, sch: pa.Schema) -> Path:
    """Check that ``out`` can take this study, then ready it: ``results/`` made, ``study.json`` written."""
    results = out / RESULTS_DIR
    spec = json.loads(json.dumps(dict(study.spec(), schema=[dict(name=f.name, type=str(f.type)) for f in sch])))
    if out.exists() and not out.is_dir():
        raise StudyError(str(out), "is a file, not a study folder; choose another --out")
    if resume:
        _check_resumable(out, spec)
    elif any(results.glob("*.parquet")):
        raise StudyError(str(out), "the study folder already holds results; add --resume to finish that "
                                   "study, or choose another --out")
    try:
        results.mkdir(parents=True, exist_ok=True)
        for tmp in results.glob(".*.tmp"):  # half-written by an interrupted study
            tmp.unlink()
        (out / SPEC_FILE).write_text(json.dumps(spec, indent=2) + "\n")
    except OSError as e:
        raise StudyError(str(out), f"cannot write the study folder: {e.strerror or e}") from None
    return results


def _check_resumable(out: Path, spec: dict) -> None:
    """Resume only the same study; a folder without one is a mistyped path, not a request for a new study."""
    spec_path = out / SPEC_FILE
    if not spec_path.is_file():
        what = "does not exist" if not out.exists() else f"holds no study (no {SPEC_FILE})"
        raise StudyError(str(out), f"--resume: this folder {what}, so there is nothing to resume; check the "
                                   f"path, or run without --resume to start a new study there")
    try:
        old, why = json.loads(spec_path.read_text(encoding="utf-8")), "not a study description"
    except (OSError, ValueError) as e:
        old, why = None, f"cannot be read: {e}"
    if not isinstance(old, dict):
        raise StudyError(str(out), f"--resume: {SPEC_FILE} in this folder is damaged ({why}), so the study "
                                   f"cannot be resumed; choose another --out to start it again")
    # More runs is the same study, extended; anything else is another study.
    changed = sorted(k for k in set(old) | set(spec) if k != "runs" and old.get(k) != spec.get(k))
    if changed:
        raise StudyError(str(out), f"--resume: this folder holds another study (differs in: "
                                   f"{', '.join(changed)}); resume it with the same settings or choose "
                                   f"another --out")
