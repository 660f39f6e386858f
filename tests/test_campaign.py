"""Campaigns: magazines carried from day to day and resupplied; bad campaign files refused with exit code 2."""

from pathlib import Path

import numpy as np
import pytest

from tdome.studies.campaign import Campaign, _deliver, run_campaign
from test_cli import SMALL, tdome


def test_delivery_fills_in_proportion_to_the_magazines_and_keeps_what_does_not_fit():
    capacity = np.array([10, 30, 60, 5])
    stock = np.array([10, 0, 30, 0])  # the first is full
    n = _deliver(stock, capacity, [0, 1, 2], 40)
    # Shares 30:60 of 40 where there is room: 13.3 and 26.7, whole rounds by the largest remainder: 13 and 27.
    assert n == 40 and stock.tolist() == [10, 13, 57, 0]
    assert _deliver(stock, capacity, [0, 1, 2], 100) == 20 and stock.tolist() == [10, 30, 60, 0]  # full: 80 wait
    assert _deliver(stock, capacity, [3], 2) == 2 and stock[3] == 2


def test_each_day_starts_with_what_the_day_before_left_and_what_was_delivered():
    res = run_campaign(Campaign(name="t", scenario=str(SMALL), days=2, seed=3, resupply={"lower_tamir": 7}))
    d1, d2 = res["days"]
    for layer in d1["fired"]:
        assert 0 <= d2["fired"][layer] <= d1["left"][layer] + d1["delivered"][layer]
        assert d2["left"][layer] == d1["left"][layer] + d1["delivered"][layer] - d2["fired"][layer]
    # 7 Tamir rounds a day, into the two Tamir batteries' room (they hold 100 of the layer's 136).
    assert 0 <= d1["delivered"]["lower"] <= 7 and d1["left"]["lower"] + d1["delivered"]["lower"] <= 136
    assert d1["delivered"]["mid"] == 0
    assert d1["threats"] == d2["threats"] and d1["fired"] != d2["fired"]  # the same raid, another day's seed
    for dry in res["dry"].values():
        assert dry["day"] is None or dry["day"] >= 1


@pytest.mark.parametrize("body, expect", [
    ("days: 0\nresupply: {}\n", "days"),
    ("days: 2\nresupply: {sam_x: 3}\n", "sam_x"),
    ("days: 2\nresupply: {mid_tk3: -1}\n", "mid_tk3"),
    ("days: 2\nwhen: today\n", "when"),
])
def test_bad_campaign_files_exit_2_with_the_reason(tmp_path, body, expect):
    f = tmp_path / "bad.yaml"
    f.write_text(f"name: bad\nscenario: {SMALL}\nseed: 1\n" + body)
    r = tdome("campaign", str(f), "--out", str(tmp_path / "out"), "--quiet")
    assert r.returncode == 2 and "Traceback" not in r.stderr + r.stdout
    assert "bad.yaml" in r.stderr and expect in r.stderr


def test_the_campaign_command_writes_its_days(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text(f"name: two days\nscenario: {SMALL}\ndays: 2\nseed: 1\nresupply: {{mid_tk3: 2.5}}\n")
    r = tdome("campaign", str(f), "--out", str(tmp_path / "out"), "--quiet")
    assert r.returncode == 0, r.stderr
    lines = Path(tmp_path / "out" / "days.csv").read_text().splitlines()
    assert lines[0].startswith("day,threats,leakers") and len(lines) == 3
    assert "runs dry" in r.stdout
