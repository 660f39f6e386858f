"""Names on the map never print over each other: greedy placement by priority, and the map PNG that uses it."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tdome import geo
from tdome.runfolder import load_run_folder
from tdome.viz.labels import GAP, RING_STEP, RINGS, candidate_boxes, marker_box, overlaps, place_labels
from tdome.viz.mapplot import draw_map, metres_per_degree_lon, scale_bar

BOUNDS = (0.0, 0.0, 800.0, 600.0)
PAD = 1.0


def disjoint(boxes, pad=0.0) -> bool:
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    hit = overlaps(boxes, boxes, pad)
    np.fill_diagonal(hit, False)
    return not hit.any()


@st.composite
def clustered_labels(draw):
    """A few tight clusters of markers (a city with its batteries and radars), each with a name."""
    centres = draw(st.lists(st.tuples(st.floats(60, 740), st.floats(60, 540)), min_size=1, max_size=4))
    anchors = []
    for cx, cy in centres:
        n = draw(st.integers(1, 9))
        offs = draw(st.lists(st.tuples(st.floats(-15, 15), st.floats(-15, 15)), min_size=n, max_size=n))
        anchors += [(cx + dx, cy + dy) for dx, dy in offs]
    n = len(anchors)
    sizes = draw(st.lists(st.tuples(st.floats(20, 160), st.floats(8, 14)), min_size=n, max_size=n))
    radii = draw(st.lists(st.floats(2, 10), min_size=n, max_size=n))
    priority = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    return np.array(anchors), np.array(sizes), np.array(radii), np.array(priority, dtype=float)


@settings(max_examples=150)
@given(clustered_labels())
def test_clustered_labels_never_overlap_each_other_markers_or_the_edge(case):
    anchors, sizes, radii, priority = case
    obstacles = np.array([marker_box(a, r) for a, r in zip(anchors, radii)])
    boxes, ring = place_labels(anchors, sizes, radii, priority, obstacles=obstacles, bounds=BOUNDS, pad=PAD)
    placed = ring >= 0
    assert np.isnan(boxes[~placed]).all() and np.isfinite(boxes[placed]).all()
    assert disjoint(boxes[placed], PAD)
    assert not overlaps(boxes[placed], obstacles, PAD).any()
    assert (boxes[placed, :2] >= 0).all() and (boxes[placed, 2] <= 800).all() and (boxes[placed, 3] <= 600).all()
    # A placed label keeps its size.
    assert np.allclose(boxes[placed, 2:] - boxes[placed, :2], sizes[placed])
    # Greedy by priority: a label is dropped only when every candidate meets a marker, the edge or a label
    # placed before it (higher priority, or equal priority earlier in the input).
    order = np.argsort(-priority, kind="stable")
    for pos, i in enumerate(order):
        if placed[i]:
            continue
        before = [j for j in order[:pos] if placed[j]]
        taken = np.vstack([obstacles, boxes[before]]) if before else obstacles
        for k in range(RINGS):
            cand = candidate_boxes(anchors[i], sizes[i], radii[i], GAP + RING_STEP * k)
            inside = (cand[:, 0] >= 0) & (cand[:, 1] >= 0) & (cand[:, 2] <= 800) & (cand[:, 3] <= 600)
            assert not (inside & ~overlaps(cand, taken, PAD).any(axis=1)).any()


def test_a_lone_label_sits_upper_right_next_to_its_marker_and_a_crowd_gives_way_by_priority():
    boxes, ring = place_labels([(100, 100)], [(50, 10)], [5], bounds=BOUNDS)
    assert ring[0] == 0 and np.allclose(boxes[0], [107, 107, 157, 117])
    # Ten names on one spot in a box that holds few: the most important are kept, in order.
    anchors = np.full((10, 2), 50.0)
    priority = np.arange(10.0)
    boxes, ring = place_labels(anchors, np.full((10, 2), (40.0, 12.0)), np.full(10, 4.0), priority,
                               bounds=(0, 0, 110, 110), rings=2)
    kept = np.flatnonzero(ring >= 0)
    assert 0 < len(kept) < 10 and 9 in kept
    assert set(kept) == set(range(10 - len(kept), 10))
    assert disjoint(boxes[kept])


def test_a_name_is_not_put_beside_another_marker_when_it_has_room_beside_its_own():
    # B's marker is just above A's preferred (upper right) spot: free, but it would read as B's name.
    anchors = [(100, 100), (150, 120)]
    boxes, _ring = place_labels(anchors, [(50, 10), (1, 1)], [5, 1], priority=[1, 0],
                               obstacles=[marker_box(a, r) for a, r in zip(anchors, (5, 1))], bounds=BOUNDS)
    assert np.allclose(boxes[0], [107, 83, 157, 93])  # lower right instead


def test_the_scale_bar_is_true_at_its_latitude():
    # One degree of longitude on the ellipsoid, from the ECEF chord of a small step (chord = arc to 1e-9).
    for lat in (0.0, 23.7, 45.0, 60.0):
        a = geo.geodetic_to_ecef(np.radians(lat), 0.0, 0.0)
        b = geo.geodetic_to_ecef(np.radians(lat), np.radians(1e-3), 0.0)
        assert metres_per_degree_lon(lat) == pytest.approx(np.linalg.norm(b - a) * 1e3, rel=1e-6)
    km, width = scale_bar(3.7, 23.7)
    assert km in (1, 2, 5, 10, 20, 50, 100, 200, 500) and width <= 0.2 * 3.7
    assert width * metres_per_degree_lon(23.7) == pytest.approx(km * 1000)
    # The same length spans twice the degrees at 60° as at the equator.
    assert scale_bar(10, 60)[1] / scale_bar(10, 0)[1] == pytest.approx(
        metres_per_degree_lon(0) / metres_per_degree_lon(60) * scale_bar(10, 60)[0] / scale_bar(10, 0)[0])


def _label_extents(fig, ax):
    renderer = fig.canvas.get_renderer()
    texts = [t for t in ax.texts if (t.get_gid() or "").startswith("label:")]
    return texts, np.array([t.get_window_extent(renderer).extents for t in texts])


def test_the_map_names_assets_radars_and_batteries_without_overlap(small_run):
    import matplotlib.pyplot as plt

    rec, folder = small_run
    fig, ax = draw_map(load_run_folder(folder))
    fig.canvas.draw()
    texts, ext = _label_extents(fig, ax)
    shown = {t.get_text() for t in texts}
    assert {a.name for a in rec.assets} <= shown  # every asset here has room for its name
    assert shown & {s.name for s in rec.sites} and shown & {b.name for b in rec.batteries}
    assert disjoint(ext)
    legend = ax.get_legend().get_window_extent(fig.canvas.get_renderer()).extents
    assert not overlaps(ext, legend).any()
    axes_box = ax.get_window_extent().extents
    assert (ext[:, :2] >= axes_box[:2] - 0.5).all() and (ext[:, 2:] <= axes_box[2:] + 0.5).all()
    plt.close(fig)


def test_a_hit_asset_shows_through_its_leaker_star(small_run):
    """The hit ring is drawn over the leaker star and is wider than it."""
    import matplotlib.pyplot as plt

    rec, folder = small_run
    a = rec.assets[0]
    lat, lon = float(np.degrees(a.lat_rad)), float(np.degrees(a.lon_rad))
    run = load_run_folder(folder)
    leak = dict({k: v[0] for k, v in run.events.items()}, kind="leak", lat_deg=lat, lon_deg=lon)
    scene = dict(run.scene, assets=[dict(x, hits=[dict(time_s=leak["time_s"], threat_id=0)] if j == 0 else [])
                                    for j, x in enumerate(run.scene["assets"])])
    hit = dataclasses.replace(run, scene=scene, events={k: np.append(v, [leak[k]]) for k, v in run.events.items()})
    fig, ax = draw_map(hit)
    rings = [c for c in ax.collections if c.get_gid() == "hit-ring"]
    stars = [c for c in ax.collections if c.get_gid() == "leak"]
    assert len(rings) == 1 and len(stars) == 1
    assert np.allclose(rings[0].get_offsets(), [[lon, lat]])
    assert rings[0].get_zorder() > stars[0].get_zorder()
    assert rings[0].get_sizes()[0] > stars[0].get_sizes()[0]
    assert len(rings[0].get_facecolors()) == 0 or rings[0].get_facecolors()[0][3] == 0  # hollow
    plt.close(fig)


def test_pairs_helper_agrees_with_a_direct_check():
    boxes = np.array([[0, 0, 10, 10], [10.5, 0, 20, 10], [5, 5, 15, 15]])
    direct = [[i != j and boxes[i][0] < boxes[j][2] and boxes[j][0] < boxes[i][2] and boxes[i][1] < boxes[j][3]
               and boxes[j][1] < boxes[i][3] for j in range(3)] for i in range(3)]
    got = overlaps(boxes, boxes)
    np.fill_diagonal(got, False)
    assert got.tolist() == direct
    assert overlaps(boxes[:1], boxes[1:2], pad=1.0).all()  # 0.5 apart: too close with a 1 px margin
