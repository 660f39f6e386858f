"""One palette for every view, whose threat classes and layers tell apart, also for colour-blind readers.

Colour difference is CIE76 ΔE (Euclidean distance in CIELAB, D65), computed
here from sRGB.  Colour-vision deficiency is simulated with the Machado,
Oliveira & Fernandes (2009) matrices at severity 1 (protanopia,
deuteranopia, tritanopia), applied in linear RGB.  A ΔE of about 2 is just
noticeable; the thresholds below ask for differences seen at a glance on a
thin line (normal vision) and still clear under each deficiency.
"""

import itertools

import numpy as np
import pytest

from tdome.messages import LAYERS, THREAT_CLASSES
from tdome.viz import czml, palette

VISION = {
    "normal": np.eye(3),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}
SRGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])


def linear_rgb(hex_colour: str) -> np.ndarray:
    c = np.array(palette.rgba(hex_colour)[:3]) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def lab(rgb_linear: np.ndarray) -> np.ndarray:
    xyz = SRGB_TO_XYZ @ rgb_linear / (SRGB_TO_XYZ @ np.ones(3))  # relative to the D65 white
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def delta_e(a: str, b: str, vision: str = "normal") -> float:
    m = VISION[vision]
    return float(np.linalg.norm(lab(np.clip(m @ linear_rgb(a), 0, 1)) - lab(np.clip(m @ linear_rgb(b), 0, 1))))


def test_lab_conversion_matches_reference_values():
    assert lab(linear_rgb("#ffffff")) == pytest.approx([100, 0, 0], abs=0.05)
    assert lab(linear_rgb("#ff0000")) == pytest.approx([53.24, 80.09, 67.20], abs=0.1)
    assert delta_e("#000000", "#ffffff") == pytest.approx(100, abs=0.05)


def test_every_threat_class_and_layer_has_a_colour():
    assert set(palette.CLASS_COLOURS) == set(THREAT_CLASSES)
    assert set(palette.LAYER_COLOURS) == set(LAYERS)


@pytest.mark.parametrize("vision, least", [("normal", 35), ("protanopia", 15), ("deuteranopia", 15),
                                           ("tritanopia", 15)])
def test_every_pair_of_threat_classes_differs_at_a_glance(vision, least):
    for (ka, a), (kb, b) in itertools.combinations(palette.CLASS_COLOURS.items(), 2):
        assert delta_e(a, b, vision) > least, (ka, kb, vision)


def test_ballistic_and_rocket_are_no_longer_two_reds():
    assert delta_e(palette.CLASS_COLOURS["ballistic"], palette.CLASS_COLOURS["rocket"]) > 40


@pytest.mark.parametrize("vision, least", [("normal", 30), ("protanopia", 12), ("deuteranopia", 12),
                                           ("tritanopia", 12)])
def test_layers_differ_from_each_other_and_from_every_threat_class(vision, least):
    for (ka, a), (kb, b) in itertools.combinations(palette.LAYER_COLOURS.items(), 2):
        assert delta_e(a, b, vision) > least, (ka, kb, vision)
    for (ka, a), (kb, b) in itertools.product(palette.LAYER_COLOURS.items(), palette.CLASS_COLOURS.items()):
        assert delta_e(a, b, vision) > least + 5, (ka, kb, vision)


@pytest.mark.parametrize("vision", list(VISION))
def test_hit_and_safe_assets_differ_for_every_reader(vision):
    assert delta_e(palette.SAFE, palette.HIT, vision) > 25


def test_every_colour_stands_out_from_land_and_sea():
    for c in [*palette.CLASS_COLOURS.values(), *palette.LAYER_COLOURS.values(), palette.SAFE, palette.HIT]:
        assert min(delta_e(c, palette.LAND), delta_e(c, palette.SEA)) > 40, c


def test_the_replay_and_the_czml_take_their_colours_from_the_palette(small_run):
    from tdome.runfolder import load_run_folder
    from tdome.viz.replay import build_payload

    colours = build_payload(load_run_folder(small_run[1]))["colours"]
    assert colours["classes"] == palette.CLASS_COLOURS and colours["layers"] == palette.LAYER_COLOURS
    assert (colours["safe"], colours["hit"], colours["leak"], colours["kill"]) == \
        (palette.SAFE, palette.HIT, palette.LEAK, palette.KILL)
    assert {k: palette.rgba(c) for k, c in palette.CLASS_COLOURS.items()} == czml.CLASS_RGBA
    assert czml.EVENT_STYLE["leak"][0] == palette.rgba(palette.LEAK)
