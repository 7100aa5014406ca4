"""The generated grid map of the sample district: the real outline, cut into a synthetic nested partition.

Every area's polygon is cut out of its parent's by recursive bisection: the children (in
code order, so that neighbouring codes are neighbours on the map) are split into two runs
of about equal weight, and the parent is cut by a line (across its longer side, tilted by
a seeded angle) placed, by bisection search, where the two sides' areas have the runs'
weight ratio. So every level is an exact partition of the one above, and an area's size
follows its weight: a unit grid of a community weighs 1, of a park 3, of a village 4, so
urban grids come out smaller than rural ones. Only the finest level (unit grids) is
written: the map's parents are the unions of their children.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable
from pathlib import Path

import shapely

from dispatch.core.geo import metres_per_degree
from dispatch.synth.areas import COMMUNITY, PARK, Area
from dispatch.synth.outline import DAXING_OUTLINE

UNIT_WEIGHT = {COMMUNITY: 1.0, PARK: 3.0}  # any other grid type (village): VILLAGE_WEIGHT
VILLAGE_WEIGHT = 4.0
MAX_TILT_DEGREES = 25.0
_SEARCH_ROUNDS = 60
_SHARE_TOLERANCE = 1e-7  # a part's area within a ten-millionth of its parent's of the share asked
_FAR = 5.0  # degrees: a half-plane reaches this far past the cut


def _half_planes(cx: float, cy: float, dx: float, dy: float) -> tuple[shapely.Polygon, shapely.Polygon]:
    """The two sides of the line through (cx, cy) along (dx, dy), as large polygons sharing the line."""
    nx, ny = -dy, dx
    a = (cx - _FAR * dx, cy - _FAR * dy)
    b = (cx + _FAR * dx, cy + _FAR * dy)
    left = shapely.Polygon([a, b, (b[0] + _FAR * nx, b[1] + _FAR * ny), (a[0] + _FAR * nx, a[1] + _FAR * ny)])
    right = shapely.Polygon([a, b, (b[0] - _FAR * nx, b[1] - _FAR * ny), (a[0] - _FAR * nx, a[1] - _FAR * ny)])
    return left, right


def _cut(polygon, share: float, rng: random.Random):
    """(A, B): `polygon` cut by a straight line so that A holds `share` of its area."""
    x0, y0, x1, y1 = polygon.bounds
    mx, my = metres_per_degree((y0 + y1) / 2)
    across_x = (x1 - x0) * mx >= (y1 - y0) * my  # cut across the longer side
    tilt = math.radians(rng.uniform(-MAX_TILT_DEGREES, MAX_TILT_DEGREES))
    base = 0.5 * math.pi if across_x else 0.0  # the cut line's direction (on the ground)
    gx, gy = math.cos(base + tilt), math.sin(base + tilt)
    dx, dy = gx / mx, gy / my  # in degrees
    norm = math.hypot(dx, dy)
    dx, dy = dx / norm, dy / norm
    nx, ny = -dy, dx
    centre = shapely.centroid(polygon)
    corners = [(x0, y0), (x0, y1), (x1, y0), (x1, y1)]
    offsets = [(x - centre.x) * nx + (y - centre.y) * ny for x, y in corners]
    total = polygon.area

    def side(t: float):
        left, right = _half_planes(centre.x + t * nx, centre.y + t * ny, dx, dy)
        a = shapely.intersection(polygon, right)
        return a, left, a.area / total - share

    # the share grows with t: regula falsi (Illinois), a handful of cuts where bisection takes forty
    lo, hi = min(offsets), max(offsets)
    f_lo, f_hi = -share, 1.0 - share
    best = None
    last = 0
    for _ in range(_SEARCH_ROUNDS):
        t = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        a, left, f = side(t)
        best = (a, left)
        if abs(f) < _SHARE_TOLERANCE:
            break
        if f < 0:
            lo, f_lo = t, f
            if last < 0:
                f_hi /= 2
            last = -1
        else:
            hi, f_hi = t, f
            if last > 0:
                f_lo /= 2
            last = 1
    a, left = best
    return a, shapely.intersection(polygon, left)


def _partition(polygon, weights: list[float], rng: random.Random) -> list:
    """`polygon` cut into len(weights) parts of areas proportional to `weights`, in order."""
    if len(weights) == 1:
        return [polygon]
    total = sum(weights)
    run, split = 0.0, 1
    for k in range(1, len(weights)):
        if abs(run + weights[k - 1] - total / 2) <= abs(run - total / 2) or k == 1:
            run += weights[k - 1]
            split = k
        else:
            break
    a, b = _cut(polygon, run / total, rng)
    return _partition(a, weights[:split], rng) + _partition(b, weights[split:], rng)


def _weights(areas: list[Area]) -> dict[str, float]:
    """Each area's weight: the sum of its unit grids' weights (a unit grid weighs by its basic grid's type)."""
    children: dict[str | None, list[Area]] = {}
    for a in areas:
        children.setdefault(a.parent, []).append(a)
    weight: dict[str, float] = {}

    def visit(area: Area, grid_type: str | None) -> float:
        grid_type = area.grid_type or grid_type
        kids = children.get(area.code, [])
        if not kids:
            w = UNIT_WEIGHT.get(grid_type, VILLAGE_WEIGHT)
        else:
            w = sum(visit(k, grid_type) for k in kids)
        weight[area.code] = w
        return w

    for root in children.get(None, []):
        visit(root, None)
    return weight


def leaf_polygons(areas: list[Area], seed: int) -> dict[str, object]:
    """The polygon of every leaf area of the district, nested in the real outline."""
    rng = random.Random(seed)
    children: dict[str | None, list[Area]] = {}
    for a in areas:
        children.setdefault(a.parent, []).append(a)
    weight = _weights(areas)
    leaves: dict[str, object] = {}
    stack = [(root, shapely.Polygon(DAXING_OUTLINE)) for root in children.get(None, [])]
    while stack:
        area, polygon = stack.pop()
        kids = sorted(children.get(area.code, []), key=lambda a: a.code)
        if not kids:
            leaves[area.code] = polygon
            continue
        parts = _partition(polygon, [weight[k.code] for k in kids], rng)
        stack.extend(zip(kids, parts, strict=True))
    return leaves


def _geometry_json(geometry) -> dict:
    def ring(r) -> list:
        # full precision: a corner rounded off its neighbour's edge leaves a hairline gap of square metres
        return [[x, y] for x, y in r.coords]

    polygons = [[ring(p.exterior), *(ring(h) for h in p.interiors)] for p in shapely.get_parts(geometry)]
    if len(polygons) == 1:
        return {"type": "Polygon", "coordinates": polygons[0]}
    return {"type": "MultiPolygon", "coordinates": polygons}


def gridmap_bytes(areas: Iterable[Area], seed: int) -> bytes:
    """The GeoJSON of the district's unit grids: one feature a line, so that a diff in git reads by area."""
    areas = list(areas)
    names = {a.code: a.name for a in areas}
    leaves = leaf_polygons(areas, seed)
    lines = []
    for code in sorted(leaves):
        geometry = shapely.normalize(leaves[code])
        feature = {
            "type": "Feature",
            "properties": {"code": code, "name": names[code]},
            "geometry": _geometry_json(geometry),
        }
        lines.append(json.dumps(feature, ensure_ascii=False, separators=(",", ":")))
    head = '{"type":"FeatureCollection","features":[\n'
    return (head + ",\n".join(lines) + "\n]}\n").encode("utf-8")


def write_gridmap(path: str | Path, areas: Iterable[Area], seed: int) -> int:
    data = gridmap_bytes(areas, seed)
    Path(path).write_bytes(data)
    return len(data)
