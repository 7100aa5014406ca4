"""Cases located by coordinates: the byte path, the parsed path and one case at a time give the same
answers, and the area is the one shapely says covers the point; over HTTP, single and batch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import orjson
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.api.intake import IncomingCase, read_case
from dispatch.api.responder import Tally, build_responder
from dispatch.api.settings import Settings
from dispatch.core.geo import wgs84_to_gcj02
from dispatch.core.locator import OFF_MAP, covering_area
from tests.api.conftest import Server, api_ruleset

# the mini set's leaves on a map: two towns side by side, the community grid's one unit grid,
# a village grid with a hole (a park grid inside it) and a multipolygon village
LEAVES = {
    "110115005001001": shapely.box(116.0, 39.5, 116.1, 39.6),
    "110115005201": shapely.Polygon(
        [(116.1, 39.5), (116.2, 39.5), (116.2, 39.6), (116.1, 39.6)],
        [[(116.12, 39.52), (116.18, 39.52), (116.18, 39.58), (116.12, 39.58)]],
    ),
    "110115103401": shapely.MultiPolygon(
        [shapely.box(116.12, 39.52, 116.18, 39.58), shapely.box(116.0, 39.4, 116.1, 39.5)]
    ),
    "110115103201": shapely.box(116.1, 39.4, 116.2, 39.5),
}
EVENT, ORDINARY_EVENT = "06010001", "13001001"


def _geojson() -> str:
    features = [
        {"type": "Feature", "properties": {"code": c}, "geometry": shapely.geometry.mapping(g)}
        for c, g in LEAVES.items()
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}, indent=1)


def located_ruleset(target: Path) -> Path:
    api_ruleset(target)
    (target / "gridmap.geojson").write_text(_geojson(), encoding="utf-8")
    manifest = (target / "ruleset.toml").read_text(encoding="utf-8")
    (target / "ruleset.toml").write_text(manifest.replace("rules = [", 'gridmap = "gridmap.geojson"\nrules = ['))
    return target


@pytest.fixture(scope="module")
def located_rules(tmp_path_factory) -> Path:
    return located_ruleset(tmp_path_factory.mktemp("located") / "rules")


@pytest.fixture(scope="module")
def responder(located_rules):
    return build_responder(str(located_rules))


def reference(responder, lon: float, lat: float) -> str | None:
    gm = responder.ruleset.gridmap
    depths = [responder.ruleset.areas.depth(c) for c in gm.codes]
    k = covering_area(gm.codes, gm.geometries, depths, lon, lat)
    return gm.codes[k] if k != OFF_MAP else None


_VERTICES = sorted({tuple(xy) for g in LEAVES.values() for xy in shapely.get_coordinates(g).tolist()})
coordinate = st.one_of(
    st.sampled_from([tuple(v) for v in _VERTICES]),
    st.tuples(st.floats(115.95, 116.25), st.floats(39.35, 39.65)),
    st.tuples(st.sampled_from([116.0, 116.1, 116.12, 116.2]), st.floats(39.35, 39.65)),  # on vertical borders
)


@st.composite
def members(draw):
    lon, lat = draw(coordinate)
    location: dict = {"longitude": lon, "latitude": lat}
    crs = draw(st.sampled_from([None, "wgs84", "gcj02", "cgcs2000"]))
    if crs == "gcj02":
        location["longitude"], location["latitude"] = wgs84_to_gcj02(lon, lat)
    if crs is not None:
        location["crs"] = crs
    case = {"id": f"L{draw(st.integers(0, 99))}", "event": draw(st.sampled_from([EVENT, ORDINARY_EVENT, "nope"]))}
    case["source"] = "grid"
    case["reported_at"] = "2026-03-02T09:30:00+08:00"
    kind = draw(st.sampled_from(["location", "location", "both", "area", "bad"]))
    if kind != "area":
        case["location"] = location
    if kind in ("both", "area"):
        case["area"] = draw(st.sampled_from(sorted(LEAVES) + ["110115", "110115103"]))
    if kind == "bad":
        bad = draw(st.sampled_from(["range", "type", "member", "crs", "digits"]))
        if bad == "range":
            location["latitude"] = 91.5
        elif bad == "type":
            location["longitude"] = "116.1"
        elif bad == "member":
            location["lng"] = 1
        elif bad == "crs":
            location["crs"] = "bd09"
        else:
            location["longitude"] = 116.12345678901234  # more digits than the kernel reads: Python does
    return case


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(members(), min_size=1, max_size=12))
def test_byte_path_parsed_path_and_single_cases_agree(responder, batch):
    body = orjson.dumps({"cases": batch})
    fast = responder.batch_from_body(body, 100, Tally.empty())
    parsed = responder.batch_from_cases(orjson.loads(body)["cases"], Tally.empty())
    singles = (
        b'{"results":['
        + b",".join(responder.answer_or_error(c, j, Tally.empty()) for j, c in enumerate(orjson.loads(body)["cases"]))
        + b"]}"
    )
    assert fast is not None
    assert orjson.loads(fast) == orjson.loads(parsed) == orjson.loads(singles)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(coordinate)
def test_the_map_places_a_case_where_shapely_says(responder, point):
    lon, lat = point
    case = read_case({"id": "C", "event": EVENT, "source": "grid", "location": {"longitude": lon, "latitude": lat}})
    assert type(case) is IncomingCase
    answer = orjson.loads(responder.answer(case)[0])
    want = reference(responder, lon, lat)
    assert answer["located"] == {"area": want, "method": "map"}
    if want is None:
        assert answer["status"] == "manual" and answer["reason"] == "location outside the grid map"
        assert answer["department"] is None and answer["area_path"] == []
    else:
        assert answer["area_path"][-1] == want


def test_a_border_point_goes_to_the_smaller_code(responder):
    case = read_case({"id": "C", "event": EVENT, "source": "grid", "location": {"longitude": 116.1, "latitude": 39.55}})
    assert orjson.loads(responder.answer(case)[0])["located"]["area"] == "110115005001001"  # < 110115005201


@pytest.fixture(scope="module")
def server(located_rules):
    with Server(Settings(rules=str(located_rules))) as s:
        s.wait_ready()
        yield s


def test_over_http_single_and_batch(server):
    client = server.client
    case = {"id": "H1", "event": EVENT, "source": "grid", "location": {"longitude": 116.15, "latitude": 39.55}}
    one = client.dispatch(case)
    assert one.status == 200, one.body
    assert one.json["located"] == {"area": "110115103401", "method": "map"}  # the park in the village's hole
    given_area = client.dispatch({**case, "area": "110115005201"}).json
    assert given_area["located"] == {"area": "110115005201", "method": "given"}
    assert given_area["location_check"] == "outside"
    off = client.dispatch({**case, "location": {"longitude": 117.0, "latitude": 39.0}}).json
    assert (off["status"], off["department"], off["located"]) == ("manual", None, {"area": None, "method": "map"})
    rng = np.random.default_rng(3)
    points = rng.uniform((115.98, 39.38), (116.22, 39.62), (200, 2))
    cases = [{**case, "id": f"B{j}", "location": {"longitude": x, "latitude": y}} for j, (x, y) in enumerate(points)]
    batch = client.dispatch({"cases": cases})
    assert batch.status == 200
    for (x, y), got in zip(points, batch.json["results"], strict=True):
        assert got["located"]["area"] == reference_code(x, y)


def reference_code(x: float, y: float) -> str | None:
    hits = sorted(c for c, g in LEAVES.items() if shapely.covers(g, shapely.Point(x, y)))
    return hits[0] if hits else None


def test_bad_coordinates_are_422_naming_the_field(server):
    case = {"id": "H2", "event": EVENT, "source": "grid", "location": {"longitude": 116.1, "latitude": 95}}
    answer = server.client.dispatch(case)
    assert answer.status == 422
    assert [e["field"] for e in answer.json["errors"]] == ["/location/latitude"]
    answer = server.client.dispatch({"cases": [case, {**case, "location": {"longitude": "x", "latitude": 39.5}}]})
    fields = [r["error"]["errors"][0]["field"] for r in answer.json["results"]]
    assert fields == ["/cases/0/location/latitude", "/cases/1/location/longitude"]


def test_explain_shows_the_located_grid_and_its_border_distance(server):
    case = {"id": "H3", "event": EVENT, "source": "grid", "location": {"longitude": 116.05, "latitude": 39.599}}
    doc = server.client.post("/v1/explain", case).json
    assert doc["location"]["located"] == "110115005001001"
    assert doc["location"]["border_distance_m"] == pytest.approx(111.2, abs=0.5)  # 0.001 degree of latitude
    off = server.client.post("/v1/explain", {**case, "location": {"longitude": 117.0, "latitude": 39.0}})
    assert (off.status, off.json["code"]) == (422, "request.off_map")
