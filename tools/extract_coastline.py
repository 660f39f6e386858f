#!/usr/bin/env python3
"""Extract a small Taiwan Strait coastline from Natural Earth 1:10m TopoJSON.

Usage (see src/tdome/data/NOTICE.md)::

    mkdir -p /tmp/coast && cd /tmp/coast && npm install world-atlas
    python tools/extract_coastline.py /tmp/coast/node_modules/world-atlas/countries-10m.json

Reads the ``countries`` object of the world-atlas ``countries-10m.json``
TopoJSON file, decodes it without any third-party TopoJSON library, keeps
the rings of every country that intersects the region bounding box, clips
each ring to that box (Sutherland-Hodgman against the rectangle), drops
degenerate rings, thins vertices if the output would be too large and writes
``src/tdome/data/coastline.json``.

Only the standard library is used so that the tool runs anywhere.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
from pathlib import Path

# Region of interest: lon_min, lat_min, lon_max, lat_max (degrees).
BBOX: tuple[float, float, float, float] = (115.5, 20.5, 125.0, 27.8)

DECIMALS = 4
TARGET_BYTES = 400_000
THIN_M = 150.0  # minimum spacing between kept vertices when thinning
EARTH_KM_PER_DEG = 111.32

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "src" / "tdome" / "data" / "coastline.json"

Point = tuple[float, float]
Ring = list[Point]


# ---------------------------------------------------------------- TopoJSON


def decode_arcs(topo: dict) -> list[list[Point]]:
    """Decode quantized, delta-encoded arcs into absolute lon/lat points."""
    transform = topo.get("transform")
    arcs_out: list[list[Point]] = []
    for arc in topo["arcs"]:
        if transform is None:
            arcs_out.append([(float(p[0]), float(p[1])) for p in arc])
            continue
        sx, sy = transform["scale"]
        tx, ty = transform["translate"]
        x = y = 0
        pts: list[Point] = []
        for p in arc:
            x += p[0]
            y += p[1]
            pts.append((x * sx + tx, y * sy + ty))
        arcs_out.append(pts)
    return arcs_out


def stitch_ring(arc_ids: list[int], arcs: list[list[Point]]) -> Ring:
    """Concatenate the arcs of one ring; a negative index ``~i`` is arc i reversed."""
    ring: Ring = []
    for idx in arc_ids:
        pts = arcs[idx] if idx >= 0 else arcs[~idx][::-1]
        if ring:
            pts = pts[1:]  # first point repeats the last point of the previous arc
        ring.extend(pts)
    return ring


def geometry_rings(geom: dict, arcs: list[list[Point]]) -> list[Ring]:
    """All rings (outer rings and holes) of a Polygon / MultiPolygon geometry."""
    gtype = geom.get("type")
    if gtype == "Polygon":
        polys = [geom["arcs"]]
    elif gtype == "MultiPolygon":
        polys = geom["arcs"]
    else:
        return []
    return [stitch_ring(ring, arcs) for poly in polys for ring in poly]


# ---------------------------------------------------------------- geometry


def ring_bbox(ring: Ring) -> tuple[float, float, float, float]:
    xs = [p[0] for p in ring]
    ys = [p[1] for p in ring]
    return min(xs), min(ys), max(xs), max(ys)


def bbox_intersects(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return not (a[2] < b[0] or a[0] > b[2] or a[3] < b[1] or a[1] > b[3])


def clip_ring(ring: Ring, bbox: tuple[float, float, float, float]) -> Ring:
    """Sutherland-Hodgman clip of a closed ring against an axis-aligned rectangle.

    Returns an open ring (no repeated closing point).
    """
    xmin, ymin, xmax, ymax = bbox
    pts = list(ring)
    if len(pts) > 1 and pts[0] == pts[-1]:
        pts = pts[:-1]

    # Each edge: (inside predicate, intersection of segment with the edge line).
    def x_cut(xc: float):
        def cut(p: Point, q: Point) -> Point:
            t = (xc - p[0]) / (q[0] - p[0])
            return (xc, p[1] + t * (q[1] - p[1]))

        return cut

    def y_cut(yc: float):
        def cut(p: Point, q: Point) -> Point:
            t = (yc - p[1]) / (q[1] - p[1])
            return (p[0] + t * (q[0] - p[0]), yc)

        return cut

    edges = (
        (lambda p: p[0] >= xmin, x_cut(xmin)),
        (lambda p: p[0] <= xmax, x_cut(xmax)),
        (lambda p: p[1] >= ymin, y_cut(ymin)),
        (lambda p: p[1] <= ymax, y_cut(ymax)),
    )
    for inside, cut in edges:
        if not pts:
            break
        out: Ring = []
        prev = pts[-1]
        prev_in = inside(prev)
        for cur in pts:
            cur_in = inside(cur)
            if cur_in:
                if not prev_in:
                    out.append(cut(prev, cur))
                out.append(cur)
            elif prev_in:
                out.append(cut(prev, cur))
            prev, prev_in = cur, cur_in
        pts = out
    return pts


def dedupe(ring: Ring) -> Ring:
    """Drop consecutive duplicates (and a duplicated closing point)."""
    out: Ring = []
    for p in ring:
        if not out or p != out[-1]:
            out.append(p)
    while len(out) > 1 and out[0] == out[-1]:
        out.pop()
    return out


def signed_area_km2(ring: Ring) -> float:
    """Shoelace area on an equirectangular projection scaled at the ring's mean latitude."""
    if len(ring) < 3:
        return 0.0
    lat0 = sum(p[1] for p in ring) / len(ring)
    kx = math.cos(math.radians(lat0)) * EARTH_KM_PER_DEG
    ky = EARTH_KM_PER_DEG
    s = 0.0
    n = len(ring)
    for i in range(n):
        x1, y1 = ring[i]
        x2, y2 = ring[(i + 1) % n]
        s += (x1 * kx) * (y2 * ky) - (x2 * kx) * (y1 * ky)
    return 0.5 * s


def dist_m(p: Point, q: Point) -> float:
    lat = math.radians(0.5 * (p[1] + q[1]))
    dx = (q[0] - p[0]) * math.cos(lat) * EARTH_KM_PER_DEG * 1000.0
    dy = (q[1] - p[1]) * EARTH_KM_PER_DEG * 1000.0
    return math.hypot(dx, dy)


def thin(ring: Ring, min_m: float) -> Ring:
    """Drop vertices closer than ``min_m`` to the previous kept vertex.

    Rings that would collapse below 3 vertices (tiny islands) are kept as-is.
    """
    if len(ring) <= 4:
        return ring
    out = [ring[0]]
    for p in ring[1:]:
        if dist_m(out[-1], p) >= min_m:
            out.append(p)
    return out if len(out) >= 3 else ring


# ---------------------------------------------------------------- main


def extract(topo: dict, bbox: tuple[float, float, float, float], min_m: float = 0.0) -> list[dict]:
    arcs = decode_arcs(topo)
    countries = []
    for geom in topo["objects"]["countries"]["geometries"]:
        name = (geom.get("properties") or {}).get("name") or str(geom.get("id", "?"))
        rings_out = []
        for ring in geometry_rings(geom, arcs):
            if len(ring) < 3 or not bbox_intersects(ring_bbox(ring), bbox):
                continue
            clipped = dedupe(clip_ring(ring, bbox))
            if min_m > 0:
                clipped = dedupe(thin(clipped, min_m))
            rounded = dedupe([(round(x, DECIMALS), round(y, DECIMALS)) for x, y in clipped])
            if len(rounded) < 3 or abs(signed_area_km2(rounded)) < 1e-6:
                continue  # degenerate ring
            rounded.append(rounded[0])  # close the ring
            rings_out.append([[x, y] for x, y in rounded])
        if rings_out:
            countries.append({"name": name, "polygons": rings_out})
    countries.sort(key=lambda c: c["name"])
    return countries


def dump(doc: dict) -> str:
    return json.dumps(doc, separators=(",", ":"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("countries_json", type=Path, help="path to world-atlas countries-10m.json")
    ap.add_argument("-o", "--output", type=Path, default=DEFAULT_OUT)
    ap.add_argument(
        "--source",
        default="Natural Earth 1:10m Admin 0 countries (public domain) via npm world-atlas",
        help="provenance string stored in the output",
    )
    args = ap.parse_args(argv)

    topo = json.loads(args.countries_json.read_text(encoding="utf-8"))
    source = args.source
    pkg = args.countries_json.resolve().parent / "package.json"
    if pkg.is_file() and "@" not in source:
        with contextlib.suppress(KeyError, ValueError):  # no version in it: the source as given
            source += "@" + json.loads(pkg.read_text(encoding="utf-8"))["version"]

    countries = extract(topo, BBOX)
    doc = {"source": source, "bbox": list(BBOX), "countries": countries}
    text = dump(doc)
    if len(text.encode()) > TARGET_BYTES:
        countries = extract(topo, BBOX, min_m=THIN_M)
        doc["countries"] = countries
        doc["thinned_min_spacing_m"] = THIN_M
        text = dump(doc)

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text + "\n", encoding="utf-8")
    n_rings = sum(len(c["polygons"]) for c in countries)
    n_pts = sum(len(r) for c in countries for r in c["polygons"])
    print(
        f"wrote {args.output} ({len(text.encode()) + 1} bytes): "
        f"{len(countries)} countries, {n_rings} rings, {n_pts} vertices",
        file=sys.stderr,
    )
    for c in countries:
        print(f"  {c['name']}: {len(c['polygons'])} rings", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
