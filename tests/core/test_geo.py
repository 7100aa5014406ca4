"""GCJ-02: the published forward transform, and its inversion to far better than the 0.5 m asked."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.core.geo import distance_m, gcj02_to_wgs84, wgs84_to_gcj02


@settings(max_examples=200, deadline=None)
@given(st.floats(73.0, 135.0), st.floats(18.0, 53.0))
def test_the_inversion_returns_the_wgs84_point(lon, lat):
    glon, glat = wgs84_to_gcj02(lon, lat)
    back = gcj02_to_wgs84(glon, glat)
    assert distance_m(lon, lat, *back) < 0.001  # a millimetre: the issue asks for 0.5 m


def test_the_offset_in_beijing_is_hundreds_of_metres_and_none_outside_china():
    glon, glat = wgs84_to_gcj02(116.3912, 39.9073)  # Tiananmen
    assert 100 < distance_m(116.3912, 39.9073, glon, glat) < 1000
    assert wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)  # Paris: the transform applies to China only
    assert gcj02_to_wgs84(2.35, 48.85) == (2.35, 48.85)
