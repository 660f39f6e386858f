"""Label placement without overlap: greedy, by priority, over candidate positions around each anchor.

Assets, radars and batteries crowd the same few cities, so their names,
written at one fixed offset, print over each other. Each label is instead
tried, most important first, at candidate boxes around its anchor: the eight
compass positions just outside its marker (the preferred order follows the
cartographic convention, upper right first), then the same positions on rings
further out, where a leader line ties the label to its marker. The first
candidate that stays inside the bounds and meets no placed label and no
obstacle (markers, the legend, the scale bar) wins, taking first those nearer
their own marker than any other (a name beside another marker reads as that
marker's); a label with no free candidate is dropped, so a less important name
gives way to a more important one. All boxes are in display units (pixels),
where text has its real size; ``web/replay.js`` runs the same algorithm on the
canvas.
"""

from __future__ import annotations

import numpy as np

# Directions (x right, y up), in order of preference: upper right, lower right, upper left, lower left,
# right, left, above, below.
DIRECTIONS = np.array([(1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1)], dtype=float)
GAP = 2.0  # pixels between a marker and its label
RING_STEP = 9.0  # pixels between rings of candidates
RINGS = 7


def candidate_boxes(anchor, size, clearance: float, distance: float) -> np.ndarray:
    """Boxes (x0, y0, x1, y1) of a ``size`` = (w, h) label in each direction, ``distance`` beyond the marker.

    A box's near edge sits ``clearance + distance`` from the anchor along each
    non-zero component of the direction, and it is centred on the anchor
    along a zero component, so no candidate covers its own marker.
    """
    (ax, ay), (w, h) = anchor, size
    d = clearance + distance
    ux, uy = DIRECTIONS[:, 0], DIRECTIONS[:, 1]
    x0 = np.where(ux > 0, ax + d, np.where(ux < 0, ax - d - w, ax - w / 2))
    y0 = np.where(uy > 0, ay + d, np.where(uy < 0, ay - d - h, ay - h / 2))
    return np.column_stack([x0, y0, x0 + w, y0 + h])


def overlaps(a: np.ndarray, b: np.ndarray, pad: float = 0.0) -> np.ndarray:
    """(len(a), len(b)) matrix: box a[i] meets box b[j], with ``pad`` of clear space required between them."""
    a = np.asarray(a, dtype=float).reshape(-1, 4)[:, None, :]
    b = np.asarray(b, dtype=float).reshape(-1, 4)[None, :, :]
    return ((a[..., 0] < b[..., 2] + pad) & (b[..., 0] < a[..., 2] + pad)
            & (a[..., 1] < b[..., 3] + pad) & (b[..., 1] < a[..., 3] + pad))


def box_distance(boxes: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(len(boxes), len(points)) distances from each box to each point (0 inside)."""
    b = np.asarray(boxes, dtype=float).reshape(-1, 4)[:, None, :]
    p = np.asarray(points, dtype=float).reshape(-1, 2)[None, :, :]
    dx = np.maximum(np.maximum(b[..., 0] - p[..., 0], p[..., 0] - b[..., 2]), 0.0)
    dy = np.maximum(np.maximum(b[..., 1] - p[..., 1], p[..., 1] - b[..., 3]), 0.0)
    return np.hypot(dx, dy)


def _candidates(anchor, size, clearance, gap, ring_step, rings) -> np.ndarray:
    """Every candidate box of one label, ring by ring: (rings * 8, 4)."""
    return np.vstack([candidate_boxes(anchor, size, clearance, gap + k * ring_step) for k in range(rings)])


def _free(cand: np.ndarray, taken: np.ndarray, bounds, pad: float) -> np.ndarray:
    """Candidates that meet no taken box (``pad`` apart) and stay inside ``bounds`` (None: anywhere)."""
    ok = ~overlaps(cand, taken, pad).any(axis=1)
    if bounds is not None:
        ok &= ((cand[:, 0] >= bounds[0]) & (cand[:, 1] >= bounds[1])
               & (cand[:, 2] <= bounds[2]) & (cand[:, 3] <= bounds[3]))
    return np.asarray(ok)


def place_labels(anchors, sizes, clearances, priority=None, obstacles=None, bounds=None, gap: float = GAP,
                 ring_step: float = RING_STEP, rings: int = RINGS, pad: float = 1.0,
                 margin: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """Place labels greedily, highest ``priority`` first; returns (boxes, ring) in input order.

    ``anchors`` (n, 2) and ``sizes`` (n, 2) in pixels; ``clearances`` (n,)
    the radius of each anchor's marker; ``obstacles`` (m, 4) boxes no label
    may cover; ``bounds`` (x0, y0, x1, y1) the box every label must stay in.
    ``boxes`` is (n, 4), NaN for a dropped label; ``ring`` is the ring a
    label was placed on (0: next to its marker; above 0: draw a leader line),
    -1 when dropped.  Ties in priority keep input order.  A candidate more
    than ``margin`` nearer another anchor than its own is taken only when no
    other is free.
    """
    anchors = np.asarray(anchors, dtype=float).reshape(-1, 2)
    sizes = np.asarray(sizes, dtype=float).reshape(-1, 2)
    n = len(anchors)
    clearances = np.broadcast_to(np.asarray(clearances, dtype=float), (n,))
    priority = np.zeros(n) if priority is None else np.asarray(priority, dtype=float)
    taken = np.asarray(obstacles if obstacles is not None else np.empty((0, 4)), dtype=float).reshape(-1, 4)
    boxes = np.full((n, 4), np.nan)
    ring = np.full(n, -1)
    for i in np.argsort(-priority, kind="stable"):
        cand = _candidates(anchors[i], sizes[i], clearances[i], gap, ring_step, rings)
        ok = _free(cand, taken, bounds, pad)
        if not ok.any():
            continue
        dist = box_distance(cand, anchors)
        clear = ok & (dist.min(axis=1) + margin >= dist[:, i])
        c = np.argmax(clear) if clear.any() else np.argmax(ok)
        boxes[i] = cand[c]
        ring[i] = c // len(DIRECTIONS)
        taken = np.vstack([taken, boxes[i]])
    return boxes, ring


def leader_end(anchor, box) -> tuple[float, float]:
    """The point of ``box`` nearest ``anchor``: where a leader line from the marker meets its label."""
    return float(np.clip(anchor[0], box[0], box[2])), float(np.clip(anchor[1], box[1], box[3]))


def marker_box(anchor, radius: float) -> np.ndarray:
    """The square box around a marker of ``radius``, as an obstacle for labels."""
    x, y = anchor
    return np.array([x - radius, y - radius, x + radius, y + radius])
