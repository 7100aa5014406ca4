"""Geo: coordinate systems and lengths on the ground: GCJ-02 to WGS 84, degrees to metres.

GCJ-02 is the offset system of Chinese web maps (Amap/Gaode, Tencent): a published,
deterministic transform of WGS 84 that moves points by a few hundred metres. Only its
forward direction has a formula; `gcj02_to_wgs84` inverts it by fixed-point iteration
to far better than 0.5 m (the iteration stops at 1e-9 degrees, about 0.1 mm). CGCS2000,
China's geodetic datum, differs from WGS 84 by centimetres: it is treated as WGS 84.

The transforms are @njit so that the batch kernel and the one-case path run the very
same floating-point operations (a point must locate alike on both paths).
"""

from __future__ import annotations

import math

from dispatch.core.jit import njit, njit_inline

CRS_WGS84, CRS_GCJ02 = 0, 1
CRS_NAMES = {"wgs84": CRS_WGS84, "cgcs2000": CRS_WGS84, "gcj02": CRS_GCJ02}  # what `crs` may say
EARTH_RADIUS_M = 6371008.8  # the mean radius (IUGG): lengths and areas on a local tangent plane
_KRASOVSKY_A = 6378245.0  # the ellipsoid the GCJ-02 formula is written for
_KRASOVSKY_EE = 0.00669342162296594323
_GCJ_TOLERANCE = 1e-9  # degrees: the inversion's stopping rule
_GCJ_ROUNDS = 30


@njit_inline
def _offset_lat(x, y):
    r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    r += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return r


@njit_inline
def _offset_lon(x, y):
    r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    r += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return r


@njit_inline
def _in_china(lon, lat):
    """The box the published transform applies to; outside it GCJ-02 equals WGS 84."""
    return 72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271


@njit_inline
def _wgs84_to_gcj02(lon, lat):
    if not _in_china(lon, lat):
        return lon, lat
    d_lat = _offset_lat(lon - 105.0, lat - 35.0)
    d_lon = _offset_lon(lon - 105.0, lat - 35.0)
    rad = lat / 180.0 * math.pi
    magic = math.sin(rad)
    magic = 1.0 - _KRASOVSKY_EE * magic * magic
    root = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE)) / (magic * root) * math.pi)
    d_lon = (d_lon * 180.0) / (_KRASOVSKY_A / root * math.cos(rad) * math.pi)
    return lon + d_lon, lat + d_lat


@njit_inline
def _gcj02_to_wgs84(lon, lat):
    """The WGS 84 point whose GCJ-02 image is (lon, lat): fixed-point iteration on the forward transform."""
    x, y = lon, lat
    for _ in range(_GCJ_ROUNDS):
        gx, gy = _wgs84_to_gcj02(x, y)
        dx, dy = gx - lon, gy - lat
        x -= dx
        y -= dy
        if abs(dx) < _GCJ_TOLERANCE and abs(dy) < _GCJ_TOLERANCE:
            break
    return x, y


@njit
def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """The GCJ-02 coordinates of a WGS 84 point (unchanged outside China)."""
    return _wgs84_to_gcj02(lon, lat)


@njit
def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """The WGS 84 coordinates of a GCJ-02 point, to about 0.1 mm (unchanged outside China)."""
    return _gcj02_to_wgs84(lon, lat)


@njit_inline
def to_wgs84(lon, lat, crs):
    """(lon, lat) in WGS 84 of a point given in `crs` (CRS_WGS84 or CRS_GCJ02): for kernels."""
    if crs == CRS_GCJ02:
        return _gcj02_to_wgs84(lon, lat)
    return lon, lat


def metres_per_degree(lat: float) -> tuple[float, float]:
    """(metres per degree of longitude, of latitude) at latitude `lat`, on the mean sphere."""
    m = EARTH_RADIUS_M * math.pi / 180.0
    return m * math.cos(math.radians(lat)), m


def square_metres(area_deg2: float, lat: float) -> float:
    """An area in square degrees near latitude `lat`, in square metres."""
    mx, my = metres_per_degree(lat)
    return area_deg2 * mx * my


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """The great-circle distance between two points in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
