"""Locator: point -> area on the grid map, as flat read-only arrays and a numba kernel.

The index (built once per rule set) cuts the map's bounding box into rows and columns of
buckets. For every feature and row it keeps the feature's edges that reach the row (a
record), and every bucket lists the records whose edges' x-extent reaches it, the finest
areas first and, among equals, the smaller code first. A point reads its bucket and
tests the listed records in that order: the first polygon that covers the point (its
interior or its border) is the answer. So:

  * the answer is the finest drawn area whose polygon covers the point;
  * a point on a border shared by two such areas goes to the smaller code;
  * a point that no polygon covers is off the map (-1).

Exactness: a point that lies in a polygon lies in the row its y falls in, and every edge
that the point's horizontal ray can cross reaches that row (rows and columns come from
one monotone function of the coordinate, at build and at query time alike). The ray test
is GEOS's RayCrossingCounter (half-open edges, a point on an edge or a vertex is on the
border), with an exact orientation predicate: a floating-point filter and, when the
filter cannot decide, an exact sum of the products' expansions (exact for map coordinates; a
difference of subnormal size, some 1e-308 degrees, would underflow). So the kernel answers
what shapely's `covers` answers, which tests/core/test_locator.py holds it to on
generated maps and points on vertices and edges (`covering_area` below is the shapely
reference).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import shapely

from dispatch.core.codebook import bytes_equal
from dispatch.core.geo import CRS_WGS84, gcj02_to_wgs84
from dispatch.core.jit import njit, njit_inline

OFF_MAP = -1  # a point no polygon covers
NO_LOCATION = -2  # read_spans: the case gave no location
CELLS_PER_FEATURE = 8  # buckets per drawn area: a handful of candidates a bucket, a few MB for Daxing
MAX_CELLS = 1 << 22
_FILTER_EPSILON = 1e-15  # GEOS's DP_SAFE_EPSILON: the orientation filter's relative error bound
_SPLITTER = 134217729.0  # 2**27 + 1: Dekker's split of a double into two halves


class LocatorIndex(NamedTuple):
    """The arrays a location kernel reads (read-only, C-contiguous).

    frame       float64[4]       x0, y0 (the map's lower left corner), columns per degree, rows per degree
    shape       int64[2]         rows, columns
    bounds      float64[4]       x0, y0, x1, y1: a point outside is off the map
    bucket_ptr  int32[cells + 1] CSR: bucket b = row * columns + column lists bucket_rec[bucket_ptr[b]:bucket_ptr[b+1]]
    bucket_rec  int32[entries]   record ids, finest area first, then the smaller code
    rec_x       float64[recs, 2] a record's x-extent (its edges' smallest and largest x)
    rec_ptr     int32[recs + 1]  CSR: record r's edges are edges[rec_ptr[r]:rec_ptr[r+1]]
    rec_feature int32[recs]      the feature (index into Locator.codes) a record belongs to
    edges       float64[m, 4]    x1, y1, x2, y2 of each edge, in ring order
    """

    frame: np.ndarray
    shape: np.ndarray
    bounds: np.ndarray
    bucket_ptr: np.ndarray
    bucket_rec: np.ndarray
    rec_x: np.ndarray
    rec_ptr: np.ndarray
    rec_feature: np.ndarray
    edges: np.ndarray


# -- the exact orientation predicate ----------------------------------------------------


@njit_inline
def _two_sum(a, b):
    s = a + b
    v = s - a
    return s, (a - (s - v)) + (b - v)


@njit_inline
def _two_diff(a, b):
    s = a - b
    v = a - s
    return s, (a - (s + v)) + (v - b)


@njit_inline
def _two_product(a, b):
    p = a * b
    c = _SPLITTER * a
    a_hi = c - (c - a)
    a_lo = a - a_hi
    c = _SPLITTER * b
    b_hi = c - (c - b)
    b_lo = b - b_hi
    return p, a_lo * b_lo - (((p - a_hi * b_hi) - a_lo * b_hi) - a_hi * b_lo)


@njit
def _exact_orientation(ax, ay, bx, by, cx, cy):
    """The exact sign of (ax-cx)(by-cy) - (ay-cy)(bx-cx): every term an exact expansion, summed exactly."""
    terms = np.empty(16)
    a1, a0 = _two_diff(ax, cx)
    b1, b0 = _two_diff(by, cy)
    c1, c0 = _two_diff(ay, cy)
    d1, d0 = _two_diff(bx, cx)
    k = 0
    for u in (a1, a0):
        for v in (b1, b0):
            p, e = _two_product(u, v)
            terms[k], terms[k + 1] = p, e
            k += 2
    for u in (c1, c0):
        for v in (d1, d0):
            p, e = _two_product(u, v)
            terms[k], terms[k + 1] = -p, -e
            k += 2
    # grow an expansion (Shewchuk's grow-expansion, zeros eliminated): nonoverlapping, increasing magnitude
    expansion = np.empty(34)
    n = 0
    for t in range(16):
        q = terms[t]
        m = 0
        for i in range(n):
            q, h = _two_sum(q, expansion[i])
            if h != 0.0:
                expansion[m] = h
                m += 1
        if q != 0.0 or m == 0:
            expansion[m] = q
            m += 1
        n = m
    top = expansion[n - 1]
    return 1 if top > 0.0 else (-1 if top < 0.0 else 0)


@njit_inline
def _orientation(ax, ay, bx, by, cx, cy):
    """1 when c lies left of a->b (counter-clockwise), -1 right, 0 on the line; exact."""
    left = (ax - cx) * (by - cy)
    right = (ay - cy) * (bx - cx)
    det = left - right
    if left > 0.0:
        if right <= 0.0:
            return 1 if det > 0.0 else (-1 if det < 0.0 else 0)
        total = left + right
    elif left < 0.0:
        if right >= 0.0:
            return 1 if det > 0.0 else (-1 if det < 0.0 else 0)
        total = -left - right
    else:
        return 1 if det > 0.0 else (-1 if det < 0.0 else 0)
    bound = _FILTER_EPSILON * total
    if det >= bound or -det >= bound:
        return 1 if det > 0.0 else -1
    return _exact_orientation(ax, ay, bx, by, cx, cy)


# -- the kernels ---------------------------------------------------------------------


@njit
def _covers(x, y, edges, lo, hi):
    """Whether the rings whose edges are edges[lo:hi] (all that reach the point's row) cover (x, y):
    GEOS's ray-crossing count to the right, the border included."""
    crossings = 0
    for k in range(lo, hi):
        x1, y1, x2, y2 = edges[k, 0], edges[k, 1], edges[k, 2], edges[k, 3]
        if x1 < x and x2 < x:
            continue
        if x == x2 and y == y2:
            return True
        if y1 == y and y2 == y:
            if min(x1, x2) <= x <= max(x1, x2):
                return True
            continue
        if (y1 > y and y2 <= y) or (y2 > y and y1 <= y):
            o = _orientation(x1, y1, x2, y2, x, y)
            if o == 0:
                return True
            if y2 < y1:
                o = -o
            if o > 0:
                crossings += 1
    return crossings & 1 == 1


@njit_inline
def _cell(v, origin, per_unit, n):
    """The row or column of coordinate v: one monotone function, the same at build and at query time."""
    c = math.floor((v - origin) * per_unit)
    return 0 if c < 0 else (n - 1 if c > n - 1 else np.int64(c))


@njit_inline
def _locate(x, y, ix):
    """The feature covering (x, y) (WGS 84), or OFF_MAP. Inlined into each kernel's loop, with _covers
    a call of its own: a version taking the nine arrays one by one, or with _covers inlined too, ran at
    half the speed (bench/locate.py)."""
    if not (ix.bounds[0] <= x <= ix.bounds[2] and ix.bounds[1] <= y <= ix.bounds[3]):  # NaN is off the map too
        return OFF_MAP
    b = _cell(y, ix.frame[1], ix.frame[3], ix.shape[0]) * ix.shape[1] + _cell(x, ix.frame[0], ix.frame[2], ix.shape[1])
    for k in range(ix.bucket_ptr[b], ix.bucket_ptr[b + 1]):
        r = ix.bucket_rec[k]
        if x < ix.rec_x[r, 0] or x > ix.rec_x[r, 1]:
            continue
        if _covers(x, y, ix.edges, ix.rec_ptr[r], ix.rec_ptr[r + 1]):
            return ix.rec_feature[r]
    return OFF_MAP


@njit
def _locate_one(lon, lat, crs, floats, ints):
    """The feature covering one point given in `crs`, or OFF_MAP, from the index packed in two arrays
    (_pack): a numba call costs about 0.1 us an array argument, more than the look-up itself."""
    n_ptr, n_rec, n_edges = ints[0], ints[1], ints[3]
    at = 6
    bucket_ptr = ints[at : at + n_ptr]
    at += n_ptr
    bucket_rec = ints[at : at + n_rec]
    at += n_rec
    n_records = ints[2] - 1
    rec_ptr = ints[at : at + n_records + 1]
    at += n_records + 1
    rec_feature = ints[at : at + n_records]
    rec_x = floats[8 : 8 + 2 * n_records].reshape((n_records, 2))
    edges = floats[8 + 2 * n_records : 8 + 2 * n_records + 4 * n_edges].reshape((n_edges, 4))
    ix = LocatorIndex(floats[0:4], ints[4:6], floats[4:8], bucket_ptr, bucket_rec, rec_x, rec_ptr, rec_feature, edges)
    x, y = (lon, lat) if crs == CRS_WGS84 else gcj02_to_wgs84(lon, lat)
    return _locate(x, y, ix)


def _pack(ix: LocatorIndex) -> tuple[np.ndarray, np.ndarray]:
    """(float64[...], int64[...]): the index in two arrays, for _locate_one."""
    floats = np.concatenate([ix.frame, ix.bounds, ix.rec_x.ravel(), ix.edges.ravel()])
    head = [len(ix.bucket_ptr), len(ix.bucket_rec), len(ix.rec_ptr), len(ix.edges)]
    ints = np.concatenate([head, ix.shape, ix.bucket_ptr, ix.bucket_rec, ix.rec_ptr, ix.rec_feature]).astype(np.int64)
    for a in (floats, ints):
        a.setflags(write=False)
    return floats, ints


@njit
def _locate_many(lon, lat, crs, out, ix):
    for j in range(lon.shape[0]):
        x, y = lon[j], lat[j]
        if crs[j] != CRS_WGS84:  # a call, not inlined: the transform's code in the loop halves its speed
            x, y = gcj02_to_wgs84(x, y)
        out[j] = _locate(x, y, ix)
    return out


@njit
def _bucket_records(rec_row, rec_xlo, rec_xhi, frame, shape):
    """(bucket, record) pairs: every bucket of a record's row that its x-extent reaches."""
    n = 0
    for r in range(rec_row.shape[0]):
        n += _cell(rec_xhi[r], frame[0], frame[2], shape[1]) - _cell(rec_xlo[r], frame[0], frame[2], shape[1]) + 1
    buckets = np.empty(n, np.int64)
    recs = np.empty(n, np.int32)
    k = 0
    for r in range(rec_row.shape[0]):
        c0 = _cell(rec_xlo[r], frame[0], frame[2], shape[1])
        c1 = _cell(rec_xhi[r], frame[0], frame[2], shape[1])
        for c in range(c0, c1 + 1):
            buckets[k] = rec_row[r] * shape[1] + c
            recs[k] = r
            k += 1
    return buckets, recs


@njit
def _edge_rows(y1, y2, frame, shape):
    """The first and last row each edge reaches."""
    lo = np.empty(y1.shape[0], np.int64)
    hi = np.empty(y1.shape[0], np.int64)
    for k in range(y1.shape[0]):
        lo[k] = _cell(min(y1[k], y2[k]), frame[1], frame[3], shape[0])
        hi[k] = _cell(max(y1[k], y2[k]), frame[1], frame[3], shape[0])
    return lo, hi


# -- locations read from JSON bytes -----------------------------------------------------

_POW10 = np.asarray([10.0**k for k in range(23)])  # exact doubles
_WGS84, _CGCS2000, _GCJ02 = tuple(b"wgs84"), tuple(b"cgcs2000"), tuple(b"gcj02")
_MAX_DIGITS = 15  # a mantissa of at most 15 digits is exact in a double


@njit_inline
def _read_number(buf, lo, hi):
    """(True, value) of the JSON number buf[lo:hi] when one IEEE operation gives it exactly rounded
    (at most 15 significant digits, a power of ten up to 22: Clinger's fast path); else (False, 0)."""
    p = lo
    negative = p < hi and buf[p] == 45
    if negative:
        p += 1
    if p >= hi or not (48 <= buf[p] <= 57):
        return False, 0.0
    if buf[p] == 48 and p + 1 < hi and 48 <= buf[p + 1] <= 57:
        return False, 0.0  # a leading zero: not JSON
    mantissa = np.int64(0)
    digits = 0
    scale = 0
    while p < hi and 48 <= buf[p] <= 57:
        if mantissa or buf[p] != 48:
            digits += 1
        mantissa = mantissa * 10 + (buf[p] - 48)
        p += 1
    if p < hi and buf[p] == 46:
        p += 1
        if p >= hi or not (48 <= buf[p] <= 57):
            return False, 0.0
        while p < hi and 48 <= buf[p] <= 57:
            if mantissa or buf[p] != 48:
                digits += 1
            mantissa = mantissa * 10 + (buf[p] - 48)
            scale += 1
            p += 1
            if digits > _MAX_DIGITS:
                return False, 0.0
    if digits > _MAX_DIGITS:
        return False, 0.0
    exponent = 0
    if p < hi and (buf[p] == 101 or buf[p] == 69):
        p += 1
        sign = 1
        if p < hi and (buf[p] == 43 or buf[p] == 45):
            sign = -1 if buf[p] == 45 else 1
            p += 1
        if p >= hi or not (48 <= buf[p] <= 57):
            return False, 0.0
        while p < hi and 48 <= buf[p] <= 57:
            exponent = exponent * 10 + (buf[p] - 48)
            if exponent > 400:
                return False, 0.0
            p += 1
        exponent *= sign
    if p != hi:
        return False, 0.0
    e = exponent - scale
    value = float(mantissa)
    if mantissa == 0:
        value = 0.0
    elif 0 <= e <= 22:
        value = value * _POW10[e]
    elif -22 <= e < 0:
        value = value / _POW10[-e]
    else:
        return False, 0.0
    return True, -value if negative else value


@njit
def _locate_spans(body, field_lo, field_hi, flags, located, ix, area_key_of_feature, flag_location):
    """located[j] = the area key of case j's location (spans in columns 5, 6, 7: longitude, latitude,
    crs), or OFF_MAP; flags[j] |= flag_location where Python must settle it: a number or crs this
    kernel does not read whole, a coordinate out of range, or off the map without an area."""
    for j in range(flags.shape[0]):
        if flags[j] != 0 or field_lo[j, 5] < 0:
            continue
        ok_x, x = _read_number(body, field_lo[j, 5], field_hi[j, 5])
        ok_y, y = _read_number(body, field_lo[j, 6], field_hi[j, 6])
        crs = 0
        lo, hi = field_lo[j, 7], field_hi[j, 7]
        if lo >= 0:
            if bytes_equal(body, lo, hi, _GCJ02):
                crs = 1
            elif not (bytes_equal(body, lo, hi, _WGS84) or bytes_equal(body, lo, hi, _CGCS2000)):
                crs = -1
        if not (ok_x and ok_y and crs >= 0 and -180.0 <= x <= 180.0 and -90.0 <= y <= 90.0):
            flags[j] |= flag_location
            continue
        if crs != CRS_WGS84:
            x, y = gcj02_to_wgs84(x, y)
        f = _locate(x, y, ix)
        located[j] = area_key_of_feature[f] if f >= 0 else OFF_MAP
        if f < 0 and field_lo[j, 2] < 0:
            flags[j] |= flag_location  # off the map and no area: a manual case, answered by Python
    return located


# -- the index -------------------------------------------------------------------------


def _edges_of(geometry) -> np.ndarray:
    """float64[m, 4]: every edge of every ring of a Polygon or MultiPolygon, in ring order."""
    rings = shapely.get_rings(shapely.get_parts(geometry))
    out = []
    for ring in rings:
        xy = shapely.get_coordinates(ring)
        out.append(np.hstack([xy[:-1], xy[1:]]))
    return np.vstack(out) if out else np.empty((0, 4))


def build_index(geometries, priority: np.ndarray) -> LocatorIndex:
    """The index of `geometries` (shapely polygons, valid); `priority[k]` orders features in a
    bucket (smaller first: the finest area, then the smaller code)."""
    edges_by_feature = [_edges_of(g) for g in geometries]
    counts = np.asarray([len(e) for e in edges_by_feature], dtype=np.int64)
    edges = np.vstack(edges_by_feature) if len(edges_by_feature) else np.empty((0, 4))
    feature_of_edge = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    if len(edges):
        x0, x1 = float(min(edges[:, 0].min(), edges[:, 2].min())), float(max(edges[:, 0].max(), edges[:, 2].max()))
        y0, y1 = float(min(edges[:, 1].min(), edges[:, 3].min())), float(max(edges[:, 1].max(), edges[:, 3].max()))
    else:
        x0 = y0 = 0.0
        x1 = y1 = -1.0  # nothing lies in an empty box
    width, height = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
    cells = min(MAX_CELLS, max(1, CELLS_PER_FEATURE * len(counts)))
    side = math.sqrt(width * height / cells)
    n_cols, n_rows = max(1, math.ceil(width / side)), max(1, math.ceil(height / side))
    frame = np.asarray([x0, y0, n_cols / width, n_rows / height], dtype=np.float64)
    shape = np.asarray([n_rows, n_cols], dtype=np.int64)
    # records: (feature, row) with every edge of the feature that reaches the row
    row_lo, row_hi = _edge_rows(edges[:, 1].copy(), edges[:, 3].copy(), frame, shape)
    spans = row_hi - row_lo + 1
    edge_ids = np.repeat(np.arange(len(edges), dtype=np.int64), spans)
    rows = np.repeat(row_lo, spans) + (np.arange(len(edge_ids)) - np.repeat(np.cumsum(spans) - spans, spans))
    rec_key = feature_of_edge[edge_ids] * n_rows + rows
    order = np.lexsort((edge_ids, rec_key))
    rec_key, edge_ids = rec_key[order], edge_ids[order]
    starts = np.flatnonzero(np.r_[True, rec_key[1:] != rec_key[:-1]]) if len(rec_key) else np.empty(0, np.int64)
    rec_ptr = np.r_[starts, len(rec_key)].astype(np.int32)
    rec_feature = (rec_key[starts] // n_rows).astype(np.int32)
    rec_row = rec_key[starts] % n_rows
    rec_edges = edges[edge_ids]
    xs_lo = np.minimum(rec_edges[:, 0], rec_edges[:, 2])
    xs_hi = np.maximum(rec_edges[:, 0], rec_edges[:, 2])
    rec_x = (
        np.stack([np.minimum.reduceat(xs_lo, starts), np.maximum.reduceat(xs_hi, starts)], axis=1)
        if len(starts)
        else np.empty((0, 2))
    )
    buckets, recs = _bucket_records(rec_row, rec_x[:, 0].copy(), rec_x[:, 1].copy(), frame, shape)
    order = np.lexsort((recs, priority[rec_feature[recs]], buckets))
    buckets, recs = buckets[order], recs[order]
    bucket_ptr = np.zeros(n_rows * n_cols + 1, dtype=np.int64)
    np.add.at(bucket_ptr, buckets + 1, 1)
    bucket_ptr = np.cumsum(bucket_ptr).astype(np.int32)
    index = LocatorIndex(
        frame,
        shape,
        np.asarray([x0, y0, x1, y1], dtype=np.float64),
        bucket_ptr,
        recs.astype(np.int32),
        np.ascontiguousarray(rec_x, dtype=np.float64),
        rec_ptr,
        rec_feature,
        np.ascontiguousarray(rec_edges, dtype=np.float64),
    )
    for a in index:
        a.setflags(write=False)
    return index


class Locator:
    """A grid map compiled for point look-ups: which area covers a longitude and latitude.

    codes[k] is the area of feature k (the map's features, in file order). `locate` and
    `locate_many` give feature indices (OFF_MAP: none); `area_of_feature` maps them to
    whatever index the caller keeps areas by (the Dispatcher: its area Codebook's keys).
    """

    def __init__(self, codes: tuple[str, ...], geometries, depths: list[int]):
        self.codes = codes
        self.geometries = geometries
        # the finest area first, then the smaller code: the order of the border rule
        ranked = sorted(range(len(codes)), key=lambda k: (-depths[k], codes[k]))
        priority = np.empty(len(codes), dtype=np.int64)
        priority[ranked] = np.arange(len(codes))
        self.index = build_index(geometries, priority)
        self._floats, self._ints = _pack(self.index)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.index)

    def locate(self, lon: float, lat: float, crs: int = 0) -> int:
        """The feature covering one point (given in `crs`, see geo.CRS_*), or OFF_MAP."""
        return _locate_one(lon, lat, crs, self._floats, self._ints)

    def locate_many(self, lon: np.ndarray, lat: np.ndarray, crs: np.ndarray | None = None) -> np.ndarray:
        """int32[n] features covering n points (OFF_MAP where none does)."""
        lon = np.ascontiguousarray(lon, dtype=np.float64)
        lat = np.ascontiguousarray(lat, dtype=np.float64)
        if lon.shape != lat.shape:
            raise ValueError("lon and lat must have the same length")
        crs = np.zeros(lon.shape[0], np.int8) if crs is None else np.ascontiguousarray(crs, dtype=np.int8)
        out = np.empty(lon.shape[0], dtype=np.int32)
        return _locate_many(lon, lat, crs, out, self.index)


def covering_area(codes, geometries, depths, x: float, y: float) -> int:
    """The reference: the feature shapely says covers (x, y) under the border rule (the finest
    area, then the smaller code), or OFF_MAP. Slow and plain: what the kernel is held to."""
    point = shapely.Point(x, y)
    hits = [k for k in range(len(codes)) if shapely.covers(geometries[k], point)]
    if not hits:
        return OFF_MAP
    return min(hits, key=lambda k: (-depths[k], codes[k]))
