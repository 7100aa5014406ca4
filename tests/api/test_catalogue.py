"""The read-only views over real HTTP (taxonomy, areas, departments, a rule, the matrix, coverage) and /console's files."""

from __future__ import annotations

import re
from datetime import date

import pytest

from dispatch.api.catalogue import CONSOLE_DIR
from dispatch.api.settings import Settings
from dispatch.core.coverage import map_document, read_coverage_map
from dispatch.core.load import load_ruleset
from tests.api.conftest import Server


def test_trees_list_every_node_parents_first(client, server):
    ruleset = load_ruleset(server.settings.rules)
    for path, tree in (("/v1/taxonomy", ruleset.events), ("/v1/areas", ruleset.areas)):
        r = client.get(path)
        assert r.status == 200 and r.headers["dispatch-ruleset"] == ruleset.version
        nodes = r.json["nodes"]
        assert [n["code"] for n in nodes] == list(tree.order)
        seen = set()
        for n in nodes:
            assert n["parent"] is None or n["parent"] in seen
            seen.add(n["code"])
    items = {n["code"]: n for n in client.get("/v1/taxonomy").json["nodes"] if n["item"]}
    assert set(items) == set(ruleset.events.leaves())
    assert items["12001001"]["urgent"] is True  # inherited from its subcategory
    grids = {n["code"]: n["grid_type"] for n in client.get("/v1/areas").json["nodes"] if n["grid_type"]}
    assert grids["110115103401"] == "park"


def test_departments_sources_and_command_systems(client, server):
    doc = client.get("/v1/departments").json
    assert doc["sources"] == ["grid", "12345", "safety"]
    assert doc["command_systems"]["safety"] == "安监"
    governs = {d["code"]: d["governs"] for d in doc["departments"]}
    assert any(governs.values())


def test_a_rule_with_every_field_and_its_place(client):
    r = client.get("/v1/rules/MUN-2")
    assert r.status == 200
    rule = r.json["rule"]
    assert rule["id"] == "MUN-2" and rule["file"] == "rules/municipal.csv" and rule["line"] == 3
    assert {"event", "area", "department", "co_handlers", "priority", "basis", "columns"} <= set(rule)
    assert rule["columns"]["department"] == 6
    missing = client.get("/v1/rules/NOPE-1")
    assert missing.status == 404 and missing.json["code"] == "request.not_found"


def test_matrix_counts_every_cell_once_and_names_the_deciding_rules(client, server):
    ruleset = load_ruleset(server.settings.rules)
    doc = client.get("/v1/matrix?event=06&at=2026-07-01").json
    grids = sum(1 for a in ruleset.areas if a.grid_type)
    items = sum(1 for c in ruleset.events.leaves() if c.startswith("06"))
    assert doc["cells"] == items * grids * len(ruleset.manifest.sources) == sum(e["cells"] for e in doc["entries"])
    assert doc["event"] == {"code": "06", "name": ruleset.events["06"].name, "items": items}
    for e in doc["entries"]:
        assert sum(r["cells"] for r in e["rules"]) == e["cells"]
        for r in e["rules"]:
            if r["id"] is not None:
                rule = client.get(f"/v1/rules/{r['id']}").json["rule"]
                assert (rule["file"], rule["line"]) == (r["file"], r["line"])
    # an item no rule covers: manual everywhere
    manual = client.get("/v1/matrix?event=13001001").json
    assert [o["key"] for o in manual["outcomes"]] == ["manual"] and manual["outcomes"][0]["department"] is None


@pytest.mark.parametrize(
    ("query", "code", "field"),
    [("event=99", "request.unknown_event", "event"), ("event=06&at=2026-13-01", "request.invalid", "at")],
)
def test_matrix_refuses_an_unknown_event_or_a_bad_day(client, query, code, field):
    r = client.get("/v1/matrix?" + query)
    assert r.status == 422 and r.json["code"] == code and r.json["errors"][0]["field"] == field
    assert client.get("/v1/matrix").status == 422  # no event at all


def test_coverage_is_the_document_dispatch_coverage_prints(tmp_path, api_rules):
    cases = tmp_path / "cases.csv"
    cases.write_text(
        "id,event,area,source,reported_at\n"
        "c1,06010002,110115005201,grid,2026-07-01T09:00:00+08:00\n"
        "c2,13001001,110115103201,12345,2026-07-01T10:00:00+08:00\n"
        "c3,nope,110115103201,12345,2026-07-01T10:00:00+08:00\n",
        encoding="utf-8",
    )
    with Server(Settings(rules=str(api_rules), cases=str(cases), rules_poll=0)) as s:
        s.wait_ready()
        doc = s.client.get("/v1/coverage?at=2026-07-01").json
    cmap, _ = read_coverage_map(api_rules, cases, date(2026, 7, 1))
    want = map_document(cmap, 20)
    assert {k: v for k, v in doc.items() if k != "history_error"} == want
    assert doc["cases"]["total"]["manual"] >= 1 and doc["unknown_cases"]["event"] == 1


def test_coverage_without_a_history_counts_cells_only(client):
    doc = client.get("/v1/coverage?at=2026-07-01").json
    assert doc["cases"] is None and doc["cells"]["total"]["auto"] > 0


def test_console_is_served_from_the_package_with_its_own_policy(client):
    r = client.get("/console")
    assert r.status == 308 and r.headers["location"] == "/console/"
    page = client.get("/console/")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    html = page.body.decode()
    for testid in ("event", "area", "source", "reported-at", "submit", "ruleset-version"):
        assert f'data-testid="{testid}"' in html
    script = client.get("/console/console.js")
    assert script.status == 200 and "javascript" in script.headers["content-type"]
    for testid in ("department", "due", "rule-id", "candidates"):
        assert f'"data-testid": "{testid}"' in script.body.decode()
    assert client.get("/console/nope.js").status == 404


def test_console_needs_nothing_from_elsewhere():
    """No CDN, no web font, no inline script: every file the page loads is one of its own."""
    for path in CONSOLE_DIR.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"https?://", text), path.name
    html = (CONSOLE_DIR / "index.html").read_text(encoding="utf-8")
    assert re.findall(r'<script[^>]*src="([^"]+)"', html) == ["console.js"]
    assert "<script>" not in html and "style=" not in html


def test_the_views_are_in_the_openapi_description(client):
    paths = client.get("/openapi.json").json["paths"]
    for path in ("/v1/taxonomy", "/v1/areas", "/v1/departments", "/v1/rules/{rule_id}", "/v1/matrix", "/v1/coverage"):
        assert "get" in paths[path], path
    assert "/console" not in paths
