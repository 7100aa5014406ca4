"""The point locator held to shapely: generated maps (holes, multipolygons, nested levels, shared borders)
and points on vertices, on edges, near them and anywhere; the JSON number reader held to Python's float()."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.core.jit import njit
from dispatch.core.locator import OFF_MAP, Locator, _exact_orientation, _orientation, _read_number, covering_area

# a map is a grid of cells (the leaves), some merged into multipolygons, some with holes, a parent
# level drawn over them, in a box of Beijing-like coordinates
X0, Y0 = 116.2, 39.4


@st.composite
def maps(draw):
    nx, ny = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    w, h = draw(st.sampled_from([0.01, 0.0137, 0.1, 1 / 1024])), draw(st.sampled_from([0.01, 0.021, 1 / 3]))
    xs = sorted({X0 + i * w + (draw(st.floats(-0.3, 0.3)) * w if 0 < i < nx else 0) for i in range(nx + 1)})
    ys = sorted({Y0 + j * h for j in range(ny + 1)})
    cells = {}
    for i in range(len(xs) - 1):
        for j in range(len(ys) - 1):
            cells[(i, j)] = shapely.box(xs[i], ys[j], xs[i + 1], ys[j + 1])
    geoms, codes, depths = [], [], []
    keys = sorted(cells)
    merged = set()
    for k, (i, j) in enumerate(keys):
        if (i, j) in merged:
            continue
        g = cells[(i, j)]
        if draw(st.booleans()) and (i + 2, j) in cells and (i + 2, j) not in merged and (i + 1, j) not in merged:
            g = shapely.MultiPolygon([g, cells[(i + 2, j)]])  # two cells with one between: a multipolygon
            merged.add((i + 2, j))
        if draw(st.integers(0, 3)) == 0:  # a hole, with an island of its own inside
            c = g.geoms[0] if g.geom_type == "MultiPolygon" else g
            x0, y0, x1, y1 = c.bounds
            hole = shapely.box(x0 + (x1 - x0) / 4, y0 + (y1 - y0) / 4, x1 - (x1 - x0) / 4, y1 - (y1 - y0) / 4)
            g = shapely.difference(g, hole)
            geoms.append(hole)
            codes.append(f"1{k:03d}9")
            depths.append(3)
        geoms.append(g)
        codes.append(f"1{k:03d}")
        depths.append(3)
    if draw(st.booleans()):  # a parent level over everything: only a point in no leaf finds it
        geoms.append(shapely.box(xs[0], ys[0], xs[-1], ys[-1]))
        codes.append("1")
        depths.append(1)
    if draw(st.booleans()):  # a triangle over part of the map, at the leaves' depth: shared borders and overlaps
        geoms.append(shapely.Polygon([(xs[0], ys[0]), (xs[-1], ys[0]), (xs[0], ys[-1])]))
        codes.append("10000")
        depths.append(3)
    array = np.empty(len(geoms), dtype=object)
    array[:] = geoms
    return tuple(codes), array, depths


def _special_points(geoms, draw) -> list[tuple[float, float]]:
    """Vertices, points on edges (interpolated), and points a hair off them."""
    coords = np.vstack([shapely.get_coordinates(g) for g in geoms])
    points = [tuple(coords[draw(st.integers(0, len(coords) - 1))]) for _ in range(6)]
    for _ in range(6):
        g = geoms[draw(st.integers(0, len(geoms) - 1))]
        ring = shapely.get_exterior_ring(shapely.get_parts(g)[0])
        t = draw(st.floats(0, 1))
        p = shapely.line_interpolate_point(ring, t, normalized=True)
        points.append((p.x, p.y))
        points.append((float(np.nextafter(p.x, np.inf)), p.y))
        points.append((p.x, float(np.nextafter(p.y, -np.inf))))
    return points


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_the_kernel_answers_what_shapely_covers_says(data):
    codes, geoms, depths = data.draw(maps())
    locator = Locator(codes, geoms, depths)
    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    points = _special_points(geoms, data.draw)
    points += [
        (data.draw(st.floats(x0 - 0.01, x1 + 0.01)), data.draw(st.floats(y0 - 0.01, y1 + 0.01))) for _ in range(20)
    ]
    points += [(x0, y0), (x1, y1), (x0 - 1, y0), (float("nan"), y0)]
    xs, ys = np.asarray([p[0] for p in points]), np.asarray([p[1] for p in points])
    many = locator.locate_many(xs, ys)
    for (x, y), got in zip(points, many.tolist(), strict=True):
        want = OFF_MAP if np.isnan(x) else covering_area(codes, geoms, depths, x, y)
        assert got == want == locator.locate(x, y), (x, y, codes[got] if got >= 0 else None)


def test_a_shared_border_goes_to_the_smaller_code_and_a_finer_area_wins():
    geoms = np.empty(3, dtype=object)
    geoms[:] = [shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(0, 0, 2, 1)]
    locator = Locator(("b", "a", "p"), geoms, [2, 2, 1])
    assert locator.codes[locator.locate(1.0, 0.5)] == "a"  # on the border of b and a
    assert locator.codes[locator.locate(0.5, 0.5)] == "b"  # inside b, and in its parent p
    assert locator.codes[locator.locate(2.0, 1.0)] == "a"  # a corner of a and p: the finer
    assert locator.locate(2.5, 0.5) == OFF_MAP


@settings(max_examples=300, deadline=None)
@given(
    # map coordinates: longitudes and latitudes of China (a difference of subnormal size is no map's)
    st.tuples(st.floats(73, 136), st.floats(3, 54), st.floats(73, 136), st.floats(3, 54)),
    st.floats(0, 1),
    st.integers(-3, 3),
)
def test_the_orientation_is_exact(ab, t, nudge):
    ax, ay, bx, by = ab
    cx, cy = ax + t * (bx - ax), ay + t * (by - ay)  # on the line, up to rounding: the filter cannot tell
    for _ in range(abs(nudge)):
        cy = float(np.nextafter(cy, np.inf if nudge > 0 else -np.inf))
    exact = (Fraction(ax) - Fraction(cx)) * (Fraction(by) - Fraction(cy)) - (Fraction(ay) - Fraction(cy)) * (
        Fraction(bx) - Fraction(cx)
    )
    want = (exact > 0) - (exact < 0)
    assert _exact_orientation(ax, ay, bx, by, cx, cy) == want
    assert _orientation(ax, ay, bx, by, cx, cy) == want


@njit
def _read(buf, lo, hi):
    return _read_number(buf, lo, hi)


def _number(text: str) -> tuple[bool, float]:
    buf = np.frombuffer(text.encode(), dtype=np.uint8)
    return _read(buf, 0, len(buf))


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.floats(-180, 180, allow_nan=False).map(repr),
        st.integers(0, 12).flatmap(
            lambda p: st.decimals(-180, 180, places=p, allow_nan=False, allow_infinity=False).map(str)
        ),
        st.from_regex(r"\A-?(0|[1-9][0-9]{0,3})(\.[0-9]{1,14})?([eE][+-]?[0-9]{1,2})?\Z"),
    )
)
def test_the_number_reader_is_floats_reading_or_declines(text):
    ok, value = _number(text)
    if ok:
        assert value == float(text) and np.signbit(value) == np.signbit(float(text)), text


@pytest.mark.parametrize(
    "text", ["", "-", "01", "1.", ".5", "1e", "1e+", "+1", "1x", "0x10", "1.2.3", "1234567890123456"]
)
def test_the_number_reader_declines_what_it_does_not_read_exactly(text):
    assert _number(text) == (False, 0.0)
