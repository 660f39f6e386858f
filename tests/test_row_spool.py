"""RowSpool: a live session's plots and tracks on disk a row group at a time, so its memory stays flat for hours.

What must hold: a spool that wrote many row groups gives the very table the in-memory (list) path writes, the
simulator's tracks included; an empty spool still gives the table's columns and types; no temporary file
outlives the spool; and the live service holds no more than a spool's bound of rows, however many came.
"""

from __future__ import annotations

import gc
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tdome.live import asterix, service, sky
from tdome.live.service import LiveC2, Outputs
from tdome.live.sky import Flight
from tdome.runfolder.layout import FILES, FILES_LIVE, PLOT_TYPES, THREAT_COLUMNS, TRACK_TYPES
from tdome.runfolder.write import RowSpool, write_plots, write_run_folder
from tdome.scenario import load_defended_side, starter_scenario_path

TOD0 = 43_000.0


def _bits(table: pa.Table) -> pa.Table:
    """``table`` with its float columns as their bit patterns: NaN equals NaN, and -0.0 differs from 0.0."""
    cols = [pa.array(c.to_numpy().view(np.int64)) if pa.types.is_float64(c.type) else c for c in table.columns]
    return pa.table(cols, names=table.column_names)


def _same(a: pa.Table, b: pa.Table) -> bool:
    return a.schema.equals(b.schema) and _bits(a).equals(_bits(b))


def _plot_rows(n: int, seed: int = 0) -> list[tuple]:
    """Plots as the service makes them: Python floats and ints, a NaN height where the report had none."""
    rng = np.random.default_rng(seed)
    height = rng.uniform(0.0, 12e3, n)
    height[rng.random(n) < 0.2] = np.nan
    cols = [np.sort(rng.uniform(0.0, 100.0, n)).tolist(), rng.integers(0, 6, n).tolist()]
    cols += [rng.normal(0.0, 1e3, n).tolist() for _ in range(6)] + [height.tolist()]
    return list(zip(*cols, strict=True))


def test_a_spool_of_many_row_groups_writes_the_table_the_list_path_writes(tmp_path):
    rows = _plot_rows(300)
    (tmp_path / "list").mkdir()
    (tmp_path / "spool").mkdir()
    want = pq.read_table(write_plots(tmp_path / "list", rows))
    spool = RowSpool(PLOT_TYPES, group_rows=7, tmp_dir=tmp_path)
    spool.append(rows[0])
    spool.extend(rows[1:100])
    assert spool.buffered < 7
    cols = list(zip(*rows[100:250], strict=True))
    spool.extend_columns(*(np.array(c) for c in cols))  # as columns, after the tuples before them
    assert spool.buffered < 7
    for row in rows[250:]:
        spool.append(row)
        assert spool.buffered < 7
    assert len(spool) == len(rows)
    path = write_plots(tmp_path / "spool", spool)
    assert pq.ParquetFile(path).metadata.num_row_groups > 300 // 7 - 1
    assert _same(pq.read_table(path), want)
    assert pq.read_table(path).schema.equals(pa.schema(list(PLOT_TYPES.items())))


def test_spooled_simulator_tracks_are_the_tracks_table_the_simulator_writes(small_run, tmp_path):
    """TRACK_TYPES are the types Parquet infers from the simulator's rows: a spool of them, written a few rows
    at a time, is the run folder's tracks table to the bit."""
    rec, folder = small_run
    spool = RowSpool(TRACK_TYPES, group_rows=7, tmp_dir=tmp_path)
    spool.extend(rec.track_rows)
    assert len(rec.track_rows) > 100 and spool.buffered < 7
    got = pq.read_table(spool.finish(tmp_path / "tracks.parquet"))
    assert _same(got, pq.read_table(folder / FILES["tracks"]))


def test_an_empty_spool_gives_an_empty_table_with_its_columns_and_types(tmp_path):
    threats: dict[str, list] = {c: [] for c in THREAT_COLUMNS}
    tracks, plots = RowSpool(TRACK_TYPES, tmp_dir=tmp_path), RowSpool(PLOT_TYPES, tmp_dir=tmp_path)
    out = tmp_path / "run"
    paths = write_run_folder(out, summary={}, scene={}, events=[], tracks=tracks, truth=[], threats=threats,
                             interceptors=[])
    write_plots(out, plots)
    for path, types in ((paths["tracks"], TRACK_TYPES), (out / FILES_LIVE["plots"], PLOT_TYPES)):
        table = pq.read_table(path)
        assert table.num_rows == 0 and table.schema.equals(pa.schema(list(types.items())))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_no_temporary_file_outlives_the_spool(tmp_path):
    rows = _plot_rows(30)
    (tmp_path / "spool").mkdir()
    spools = tmp_path / "spool"

    finished = RowSpool(PLOT_TYPES, group_rows=7, tmp_dir=spools)
    finished.extend(rows)
    assert list(spools.iterdir()), "a full group is on disk"
    finished.finish(tmp_path / "plots.parquet")
    assert not list(spools.iterdir())
    assert pq.read_table(tmp_path / "plots.parquet").num_rows == 30
    with pytest.raises(ValueError, match="finished or discarded"):
        finished.append(rows[0])

    discarded = RowSpool(PLOT_TYPES, group_rows=7, tmp_dir=spools)
    discarded.extend(rows)
    discarded.discard()
    assert not list(spools.iterdir())
    with pytest.raises(ValueError, match="finished or discarded"):
        discarded.finish(tmp_path / "never.parquet")

    dropped = RowSpool(PLOT_TYPES, group_rows=7, tmp_dir=spools)
    dropped.extend(rows)
    assert list(spools.iterdir())
    del dropped
    gc.collect()
    assert not list(spools.iterdir())


@pytest.fixture(scope="module")
def side():
    return load_defended_side(starter_scenario_path())


def _feed(c2: LiveC2, side, flights, t1: float) -> None:
    codes = [r.sac_sic(i) for i, r in enumerate(side.radars)]
    sky.play(c2, sky.inputs(c2.sites, codes, flights, side.batteries, 0.0, t1, TOD0, np.random.default_rng(1),
                            status_every_s=None))


def test_the_live_service_holds_no_more_than_a_spools_bound_of_rows(side, monkeypatch, tmp_path):
    monkeypatch.setattr(service, "SPOOL_ROWS", 20)
    c2 = LiveC2(side, Outputs())
    flights = [Flight.over(24.9 + 0.05 * i, 121.2, 9_000.0, 45.0, 230.0) for i in range(3)]
    _feed(c2, side, flights, 120.0)
    for spool in (c2.plot_rows, c2.track_rows):
        assert len(spool) > 3 * 20 and spool.buffered < 20
    assert len(c2.plot_rows) == c2.counts["plots"]
    n_tracks = len(c2.track_rows)
    paths = c2.write(tmp_path)
    plots, tracks = pq.read_table(paths["plots"]), pq.read_table(paths["tracks"])
    assert plots.num_rows == c2.counts["plots"] and plots.schema.equals(pa.schema(list(PLOT_TYPES.items())))
    assert tracks.num_rows == n_tracks and tracks.schema.equals(pa.schema(list(TRACK_TYPES.items())))
    assert np.all(np.diff(tracks.column("time_s").to_numpy()) >= 0.0)  # in the order recorded


def test_a_scan_whose_plots_all_carry_their_elevation_solves_none(side, monkeypatch, tmp_path):
    """The elevation is solved from the height only for the plots without a measured one (I048/SP)."""
    solved: list[int] = []
    solve = service.elevation_from_height

    def counted(site, r, az, h):
        solved.append(len(r))
        return solve(site, r, az, h)

    monkeypatch.setattr(service, "elevation_from_height", counted)
    c2 = LiveC2(side, Outputs())
    sac, sic = side.radars[0].sac_sic(0)
    r, az, h = np.array([60e3, 80e3, 90e3]), np.array([0.5, 1.0, 1.5]), np.array([5e3, 6e3, 7e3])
    el = np.array([0.05, 0.06, 0.07])
    for tod, el_rad in ((TOD0, el), (TOD0 + 10.0, np.array([0.05, math.nan, 0.07]))):
        for d in asterix.encode_cat048(sac, sic, tod, r, az, height_m=h, el_rad=el_rad):
            c2.datagram(d)
        c2.datagram(asterix.encode_cat034(sac, sic, 1, tod))
    assert solved == [1]
    el_deg = pq.read_table(c2.write(tmp_path)["plots"]).column("el_deg").to_numpy()
    given = np.r_[el, el[[0, 2]]]
    assert np.allclose(el_deg[[0, 1, 2, 3, 5]], np.degrees(given), atol=1e-6)
    assert abs(el_deg[4] - np.degrees(el[1])) > 1e-3  # solved from 6 km at 80 km: not the value never sent
