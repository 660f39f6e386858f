"""The study report's plots: leaker counts as bars on whole numbers from 0, layers in the map's colours."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_hex
from matplotlib.patches import Rectangle

from tdome.messages import LAYERS
from tdome.studies.report import layer_bars, leaker_bars
from tdome.viz.palette import LAYER_COLOURS


def bars(ax) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def test_leaker_distribution_is_bars_on_integer_ticks_from_zero():
    fig, ax = plt.subplots()
    series = [("fire_all", np.array([0, 0, 1, 3, 3, 3])), ("shoot_look_shoot", np.array([2.0, 2.0, np.nan, 5.0]))]
    table = leaker_bars(ax, series)
    fig.canvas.draw()
    rects = bars(ax)
    assert len(rects) == 2 * 6  # counts 0..5, one bar per series
    # Bars are centred on whole leaker counts (side by side per series) and no wider than one count.
    centres = np.array([r.get_x() + r.get_width() / 2 for r in rects])
    assert np.allclose(np.round(centres.reshape(2, 6).mean(axis=0)), np.arange(6))
    assert all(r.get_width() <= 0.5 for r in rects)
    heights = np.array([r.get_height() for r in rects]).reshape(2, 6)
    assert np.allclose(heights[0], [2 / 6, 1 / 6, 0, 3 / 6, 0, 0])
    assert np.allclose(heights[1], [0, 0, 2 / 3, 0, 0, 1 / 3])  # the missing value is left out
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)
    assert ax.get_xlim()[0] <= -0.5 and ax.get_ylim()[0] == 0
    assert not ax.get_lines()  # no step line
    by_label = {}
    for r in table:
        by_label.setdefault(r["label"], []).append(r)
    assert [sum(r["runs"] for r in rows) for rows in by_label.values()] == [6, 3]
    assert all(isinstance(r["leakers"], int) for r in table)
    plt.close(fig)


@pytest.mark.parametrize("leakers", [np.arange(0, 57, 3), np.zeros(4), np.array([1.0, 1.0])])
def test_integer_ticks_for_many_leakers_and_for_none(leakers):
    fig, ax = plt.subplots()
    leaker_bars(ax, [("all runs", leakers)])
    fig.canvas.draw()
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks) and ax.get_ylim()[0] == 0
    assert ax.get_xlim()[0] <= -0.5  # the axis shows 0 leakers
    plt.close(fig)


def test_layer_expenditure_uses_the_layer_colours_of_the_map_and_the_replay():
    fig, ax = plt.subplots()
    labels = ["a", "b", "c"]
    layer_bars(ax, labels, {k: [1.0, 2.0, 3.0] for k in LAYERS}, {k: [0.1, 0.1, 0.1] for k in LAYERS})
    rects = bars(ax)
    assert len(rects) == len(LAYERS) * len(labels)
    colours = [to_hex(r.get_facecolor()) for r in rects]
    assert colours == [LAYER_COLOURS[k] for k in LAYERS for _ in labels]
    assert ax.get_ylim()[0] == 0
    plt.close(fig)
