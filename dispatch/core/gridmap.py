"""GridMap: the rule set's electronic grid map (GeoJSON), read feature by feature and checked with shapely.

The map is a GeoJSON FeatureCollection (RFC 7946: WGS 84 longitude, latitude), one feature
per area: `properties.code` an area code of the areas table, the geometry a Polygon or
MultiPolygon (holes allowed). Usually only the finest level is drawn (unit grids); an area
without a polygon is the union of its children. Every problem names the feature (its index
in `features` and its code) at its file:line:col, and where it applies a point inside the
problem, so that a maintainer can find it on a map.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import shapely

from dispatch.core.errors import Diagnostic, Place, Severity
from dispatch.core.geo import square_metres
from dispatch.core.model import Area
from dispatch.core.tree import Tree

OVERLAP_M2 = 1.0  # siblings may overlap by this much (floating-point noise of a drawing tool), no more
OUTSIDE_M2 = 1.0  # a child may stick out of its parent by this much
GAP_M2 = 1.0  # holes in the map (inside its outline) up to this size are noise, larger ones errors
SLIVER_M2 = 10.0  # a polygon part smaller than this is a sliver (a warning)
SLIVER_THINNESS = 0.01  # 4*pi*area / perimeter**2 (1 for a disc): a part thinner than this is a sliver
_KINDS = ("Polygon", "MultiPolygon")


@dataclass(frozen=True, slots=True, eq=False)
class GridMap:
    """The features of a grid map that parsed, in file order.

    codes       area code of each feature
    geometries  object[n]: the shapely Polygon or MultiPolygon of each feature
    indices     the feature's index in the file's `features` array (features that did not parse are left out)
    places      file:line:col where each feature starts
    """

    path: str
    codes: tuple[str, ...]
    geometries: np.ndarray
    indices: tuple[int, ...]
    places: tuple[Place, ...]

    def __len__(self) -> int:
        return len(self.codes)

    def name(self, k: int) -> str:
        """How a message names feature k: its index in the file and its code."""
        return f"feature {self.indices[k]} ({self.codes[k]})"

    def canonical_rows(self) -> list[list]:
        """What the rule-set version hashes: each feature's code and coordinates, blind to file layout and order."""
        return [[code, shapely.to_wkb(g, hex=True)] for code, g in zip(self.codes, self.geometries, strict=True)]


def _point(x: float, y: float) -> str:
    return f"({x:.6f}, {y:.6f})"


def _feature_offsets(text: str, count: int) -> list[int] | None:
    """The character offset of each element of the top-level `features` array, or None when not found."""
    decoder = json.JSONDecoder()
    at = text.find('"features"')
    if at < 0:
        return None
    p = text.find("[", at)
    offsets: list[int] = []
    try:
        p += 1
        while len(offsets) < count:
            while text[p] in " \t\r\n,":
                p += 1
            offsets.append(p)
            _, p = decoder.raw_decode(text, p)
    except (ValueError, IndexError):
        return None
    return offsets


def _places(path: str, text: str, count: int) -> list[Place]:
    offsets = _feature_offsets(text, count)
    if offsets is None:
        return [Place(path)] * count
    places = []
    line, last = 1, 0
    for off in offsets:
        line += text.count("\n", last, off)
        last = off
        places.append(Place(path, line, off - (text.rfind("\n", 0, off) + 1) + 1))
    return places


def _ring(raw: object, what: str) -> tuple[list | None, str | None]:
    """The positions of a linear ring as [x, y] lists, or (None, why not)."""
    if type(raw) is not list:
        return None, f"{what} is not an array of positions"
    ring = []
    for pos in raw:
        if type(pos) is not list or len(pos) < 2 or not all(type(v) in (int, float) for v in pos[:2]):
            return None, f"{what} has a position that is not [longitude, latitude]"
        x, y = float(pos[0]), float(pos[1])
        if not (math.isfinite(x) and math.isfinite(y) and -180 <= x <= 180 and -90 <= y <= 90):
            return None, f"{what} has a position outside [-180, 180] x [-90, 90]: {_point(x, y)}"
        ring.append([x, y])
    if len(ring) < 4:
        return None, f"{what} has {len(ring)} positions; a ring needs at least 4"
    if ring[0] != ring[-1]:
        return None, f"{what} is not closed: it starts at {_point(*ring[0])} and ends at {_point(*ring[-1])}"
    return ring, None


def _polygon(raw: object, what: str) -> tuple[shapely.Polygon | None, str | None]:
    if type(raw) is not list or not raw:
        return None, f"{what} is not an array of rings"
    rings = []
    for i, r in enumerate(raw):
        ring, why = _ring(r, f"{what} ring {i}" if len(raw) > 1 or what != "the polygon" else "its ring")
        if ring is None:
            return None, why
        rings.append(ring)
    return shapely.Polygon(rings[0], rings[1:]), None


def _geometry(raw: object) -> tuple[shapely.Geometry | None, str | None]:
    if type(raw) is not dict:
        return None, "geometry is not an object"
    kind = raw.get("type")
    if kind not in _KINDS:
        return None, f"geometry type {kind!r} is not Polygon or MultiPolygon"
    coords = raw.get("coordinates")
    if kind == "Polygon":
        return _polygon(coords, "the polygon")
    if type(coords) is not list or not coords:
        return None, "MultiPolygon coordinates are not an array of polygons"
    parts = []
    for i, c in enumerate(coords):
        part, why = _polygon(c, f"polygon {i}")
        if part is None:
            return None, why
        parts.append(part)
    return shapely.MultiPolygon(parts), None


def read_gridmap(text: str, path: str, problems: list[Diagnostic]) -> GridMap | None:
    """The features of the GeoJSON `text` (file `path`) that parse; every problem appended.

    None when the file is not a FeatureCollection at all.
    """
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        problems.append(Diagnostic("gridmap.syntax", f"invalid JSON: {err.msg}", Place(path, err.lineno, err.colno)))
        return None
    except RecursionError:
        problems.append(Diagnostic("gridmap.syntax", "invalid JSON: nested too deep", Place(path)))
        return None
    if type(doc) is not dict or doc.get("type") != "FeatureCollection" or type(doc.get("features")) is not list:
        problems.append(
            Diagnostic(
                "gridmap.not_features",
                'the grid map must be a GeoJSON {"type": "FeatureCollection", "features": [...]}',
                Place(path),
            )
        )
        return None
    features = doc["features"]
    places = _places(path, text, len(features))
    codes, geometries, indices, kept_places = [], [], [], []
    for i, feature in enumerate(features):
        place = places[i]
        props = feature.get("properties") if type(feature) is dict else None
        code = props.get("code") if type(props) is dict else None
        name = f"feature {i}" + (f" ({code})" if type(code) is str else "")
        if type(feature) is not dict or feature.get("type") != "Feature":
            problems.append(Diagnostic("gridmap.bad_feature", f"{name} is not a GeoJSON Feature", place))
            continue
        if type(code) is not str or not code:
            problems.append(Diagnostic("gridmap.missing_code", f"{name} has no properties.code (an area code)", place))
            continue
        geometry, why = _geometry(feature.get("geometry"))
        if geometry is None:
            problems.append(Diagnostic("gridmap.invalid_geometry", f"{name}: {why}", place))
            continue
        codes.append(code)
        geometries.append(geometry)
        indices.append(i)
        kept_places.append(place)
    array = np.empty(len(geometries), dtype=object)
    array[:] = geometries
    return GridMap(path, tuple(codes), array, tuple(indices), tuple(kept_places))


# -- the checks ------------------------------------------------------------------------


def check_gridmap(gm: GridMap, areas: Tree[Area], problems: list[Diagnostic]) -> bool:
    """Append every problem of the map against the area tree; True when it has no error.

    Errors: invalid geometries, codes not in the areas table or drawn twice, areas of the
    finest drawn level (and leaves above it) without a polygon, overlaps between areas of
    which neither holds the other, a child outside its parent's polygon, gaps inside the
    map's outline or inside a drawn parent. Warnings: slivers.
    """
    before = sum(p.severity is Severity.ERROR for p in problems)
    good = _valid_features(gm, areas, problems)
    if good:
        _check_coverage(gm, areas, [k for k in range(len(gm)) if gm.codes[k] in areas], problems)
        _check_overlaps(gm, areas, good, problems)
        _check_nesting(gm, areas, good, problems)
        _check_gaps(gm, areas, good, problems)
        _check_slivers(gm, good, problems)
    return sum(p.severity is Severity.ERROR for p in problems) == before


def _valid_features(gm: GridMap, areas: Tree[Area], problems: list[Diagnostic]) -> list[int]:
    good: list[int] = []
    first: dict[str, int] = {}
    reasons = shapely.is_valid_reason(gm.geometries) if len(gm) else []
    for k, (code, reason) in enumerate(zip(gm.codes, reasons, strict=True)):
        bad = Diagnostic
        if code not in areas:
            problems.append(
                bad("gridmap.unknown_area", f"{gm.name(k)}: area code {code!r} is not in the areas table", gm.places[k])
            )
            continue
        if code in first:
            other = first[code]
            problems.append(
                bad(
                    "gridmap.duplicate_area",
                    f"{gm.name(k)}: area {code!r} is drawn already by {gm.name(other)} at {gm.places[other]}",
                    gm.places[k],
                )
            )
            continue
        first[code] = k
        if reason != "Valid Geometry":
            problems.append(bad("gridmap.invalid_geometry", f"{gm.name(k)}: {_reason(reason)}", gm.places[k]))
            continue
        good.append(k)
    return good


def _reason(reason: str) -> str:
    """GEOS's 'Self-intersection[116.3 39.7]' as 'self-intersection at (116.300000, 39.700000)'."""
    what, _, rest = reason.partition("[")
    coords = rest.rstrip("]").split()
    if len(coords) >= 2:
        try:
            return f"{what.lower()} at {_point(float(coords[0]), float(coords[1]))}"
        except ValueError:
            pass
    return reason


def _check_coverage(gm: GridMap, areas: Tree[Area], known: list[int], problems: list[Diagnostic]) -> None:
    """Every area of the finest drawn level, and every leaf above it, must have a polygon (an invalid
    one is reported as such, not as missing too)."""
    drawn = {gm.codes[k] for k in known}
    levels = {areas[c].level: areas.depth(c) for c in drawn}
    finest = max(levels, key=lambda lv: (levels[lv], lv))
    depth = levels[finest]
    for area in areas:
        if area.code in drawn:
            continue
        d = areas.depth(area.code)
        if area.level == finest or (d < depth and areas.is_leaf(area.code)):
            what = f"level {finest!r}, the finest the map draws" if area.level == finest else "a leaf area"
            problems.append(
                Diagnostic(
                    "gridmap.missing_area", f"area {area.code!r} ({what}) has no polygon in {gm.path}", area.place
                )
            )


def _area_m2(geometry, lat: float) -> float:
    return square_metres(float(shapely.area(geometry)), lat)


def _lat(geometry) -> float:
    return float(shapely.get_y(shapely.centroid(geometry))) if not geometry.is_empty else 0.0


def _check_overlaps(gm: GridMap, areas: Tree[Area], good: list[int], problems: list[Diagnostic]) -> None:
    geoms = gm.geometries[good]
    tree = shapely.STRtree(geoms)
    # interiors that meet: overlapping, or one holding the other (neighbours that only touch are neither)
    found = {(int(a), int(b)) for a, b in tree.query(geoms, predicate="overlaps").T if a < b}
    found.update(
        (min(int(a), int(b)), max(int(a), int(b))) for a, b in tree.query(geoms, predicate="contains").T if a != b
    )
    pairs = [
        (a, b)
        for a, b in sorted(found)
        if not (
            areas.covers(gm.codes[good[a]], gm.codes[good[b]]) or areas.covers(gm.codes[good[b]], gm.codes[good[a]])
        )
    ]  # a parent holds its child: checked by _check_nesting
    if not pairs:
        return
    left, right = np.asarray(pairs).T
    shared = shapely.intersection(geoms[left], geoms[right])  # mostly hairlines of floating-point noise
    lat = float(shapely.get_y(shapely.centroid(shapely.union_all(geoms[left[:1]]))))
    for a, b, piece, deg2 in zip(left.tolist(), right.tolist(), shared, shapely.area(shared).tolist(), strict=True):
        if square_metres(deg2, lat) * 0.5 <= OVERLAP_M2:  # (half: a rough latitude must not hide one)
            continue
        m2 = _area_m2(piece, _lat(piece))
        if m2 > OVERLAP_M2:
            ka, kb = good[a], good[b]
            p = shapely.point_on_surface(piece)
            problems.append(
                Diagnostic(
                    "gridmap.overlap",
                    f"{gm.name(ka)} and {gm.name(kb)} overlap by {m2:.1f} m2 (more than {OVERLAP_M2:g}), for one at {_point(p.x, p.y)}",
                    gm.places[max(ka, kb)],
                )
            )


def _drawn_parent(code: str, areas: Tree[Area], index: dict[str, int]) -> int | None:
    for node in areas.path(code):
        if node.code != code and node.code in index:
            return index[node.code]
    return None


def _check_nesting(gm: GridMap, areas: Tree[Area], good: list[int], problems: list[Diagnostic]) -> None:
    index = {gm.codes[k]: k for k in good}
    for k in good:
        parent = _drawn_parent(gm.codes[k], areas, index)
        if parent is None:
            continue
        outside = shapely.difference(gm.geometries[k], gm.geometries[parent])
        if outside.is_empty:
            continue
        m2 = _area_m2(outside, _lat(outside))
        if m2 > OUTSIDE_M2:
            p = shapely.point_on_surface(outside)
            problems.append(
                Diagnostic(
                    "gridmap.outside_parent",
                    f"{gm.name(k)} reaches {m2:.1f} m2 outside its parent {gm.name(parent)}, for one at {_point(p.x, p.y)}",
                    gm.places[k],
                )
            )


def _gap_diagnostics(gm: GridMap, holes, where: str, next_to, problems: list[Diagnostic]) -> None:
    for hole in holes:
        if hole.is_empty or shapely.get_type_id(hole) not in (3, 6):  # a polygon (or multi): lines have no area
            continue
        m2 = _area_m2(hole, _lat(hole))
        if m2 > GAP_M2:
            k = next_to(hole)
            p = shapely.point_on_surface(hole)
            problems.append(
                Diagnostic(
                    "gridmap.gap",
                    f"a gap of {m2:.1f} m2 {where} at {_point(p.x, p.y)}: no polygon covers it (next to {gm.name(k)})",
                    gm.places[k],
                )
            )


def _check_gaps(gm: GridMap, areas: Tree[Area], good: list[int], problems: list[Diagnostic]) -> None:
    """Holes inside the map's outline, and parts of a drawn parent that none of its drawn children covers."""
    index = {gm.codes[k]: k for k in good}
    children: dict[int, list[int]] = {}
    leaves = []
    for k in good:
        parent = _drawn_parent(gm.codes[k], areas, index)
        if parent is not None:
            children.setdefault(parent, []).append(k)
    for k in good:
        if k not in children:
            leaves.append(k)
    tree = shapely.STRtree(gm.geometries[leaves])

    def nearest(geom) -> int:
        return leaves[int(tree.nearest(shapely.point_on_surface(geom)))]

    union = shapely.union_all(gm.geometries[leaves])
    parts = shapely.get_parts(union)
    # a hole of one part may hold another part (a cluster cut off by a hairline): what is missing is
    # the holes less the union
    holes = [shapely.Polygon(ring) for part in parts for ring in part.interiors]
    missing = shapely.difference(shapely.union_all(holes), union) if holes else shapely.Polygon()
    found: list[Diagnostic] = []
    for hole in shapely.get_parts(missing):
        _gap_diagnostics(gm, [hole], "inside the map", nearest, found)
    for parent, kids in children.items():
        missing = shapely.difference(gm.geometries[parent], shapely.union_all(gm.geometries[kids]))
        if not missing.is_empty:
            _gap_diagnostics(gm, shapely.get_parts(missing), f"in {gm.name(parent)}", lambda _, k=parent: k, found)
    problems.extend(found)


def _check_slivers(gm: GridMap, good: list[int], problems: list[Diagnostic]) -> None:
    for k in good:
        for part in shapely.get_parts(gm.geometries[k]):
            lat = _lat(part)
            m2 = _area_m2(part, lat)
            length = float(shapely.length(part))
            thinness = 4 * math.pi * float(shapely.area(part)) / (length * length) if length else 0.0
            if m2 < SLIVER_M2 or thinness < SLIVER_THINNESS:
                p = shapely.point_on_surface(part)
                problems.append(
                    Diagnostic(
                        "gridmap.sliver",
                        f"{gm.name(k)} has a sliver of {m2:.1f} m2 (thinness {thinness:.3f}) at {_point(p.x, p.y)}",
                        gm.places[k],
                        Severity.WARNING,
                    )
                )
