"""The real server over HTTP: every status, every error class, batches, readiness, metrics, reload."""

from __future__ import annotations

import threading

import pytest

from dispatch.api.responder import build_responder
from dispatch.api.settings import Settings
from tests.api.conftest import SMALL_LIMITS, Server, api_ruleset

T = "2025-12-01T08:00:00+08:00"


def case(**over) -> dict:
    base = {"id": "C1", "event": "06010002", "area": "110115005001", "source": "grid", "reported_at": T}
    base.update(over)
    return {k: v for k, v in base.items() if v is not ...}


def problem_of(answer, status: int, code: str) -> dict:
    assert answer.status == status, answer.body
    assert answer.headers["content-type"] == "application/problem+json"
    doc = answer.json
    assert doc["status"] == status and doc["code"] == code
    assert doc["type"] == f"urn:dispatch:problem:{code}"
    assert doc["title"] and doc["detail"]
    return doc


# -- single cases: every status ------------------------------------------------------------


def test_auto_names_department_deadline_rule_and_path(client):
    r = client.dispatch(case())
    assert r.status == 200 and r.headers["content-type"] == "application/json"
    d = r.json
    assert r.headers["dispatch-ruleset"] == d["ruleset"]
    assert d == {
        "id": "C1",
        "status": "auto",
        "department": {"code": "dx-cgw", "name": "区城市管理委员会"},
        "co_handlers": [],
        "command_system": "municipal",
        "deadline": {
            "value": "8h",
            "due": "2025-12-01T16:00:00+08:00",
            "origin": "item",
            "class": None,
            "provisional": False,
        },
        "rule": {"id": "MUN-1", "file": "rules/municipal.csv", "line": 2, "basis": "区城管委三定方案"},
        "difficult": False,
        "area_path": ["110115", "110115005", "11011500501", "110115005001"],
        "ruleset": d["ruleset"],
        "reason": "rule MUN-1",
    }


def test_local_rule_resolves_the_town_government(client):
    d = client.dispatch(case(area="110115005201")).json  # a village: MUN-2 says @local
    assert d["department"] == {"code": "gov-110115005", "name": "黄村地区办事处"}
    assert d["rule"]["id"] == "MUN-2"


def test_rule_deadline_and_co_handlers(client):
    d = client.dispatch(case(event="06010001", area="110115103201")).json
    assert d["rule"]["id"] == "MUN-3"
    assert d["co_handlers"] == [{"code": "dx-cgw", "name": "区城市管理委员会"}]
    assert d["deadline"] == {
        "value": "2h",
        "due": "2025-12-01T10:00:00+08:00",
        "origin": "rule",
        "class": None,
        "provisional": False,
    }


def test_provisional_when_urgent_and_no_rule(client):
    d = client.dispatch(case(event="12001001")).json
    assert d["status"] == "provisional" and d["difficult"] is True and d["rule"] is None
    assert d["department"]["code"] == "gov-110115005"


def test_manual_when_no_rule(client):
    d = client.dispatch(case(event="13001001")).json
    assert d["status"] == "manual" and d["department"] is None and d["rule"] is None
    assert d["deadline"] == {"value": "24h", "due": None, "origin": "item", "class": None, "provisional": False}


def test_seasonal_rule_by_date_and_source(client):
    summer = client.dispatch(case(event="06042001", source="12345", reported_at="2026-07-01T09:00:00+08:00")).json
    autumn = client.dispatch(case(event="06042001", source="12345", reported_at="2026-10-01T09:00:00+08:00")).json
    assert summer["rule"]["id"] == "MUN-4" and autumn["status"] == "manual"


def test_naive_time_is_in_the_rule_sets_zone_and_absent_time_is_now(client):
    assert (
        client.dispatch(case(reported_at="2025-12-01T08:00:00")).json["deadline"]["due"] == "2025-12-01T16:00:00+08:00"
    )
    assert (
        client.dispatch(case(reported_at="2025-12-01T00:00:00Z")).json["deadline"]["due"] == "2025-12-01T16:00:00+08:00"
    )  # due times are written in the rule set's offset
    now = client.dispatch(case(reported_at=...)).json
    assert now["status"] == "auto" and now["deadline"]["due"].endswith("+08:00")
    assert client.dispatch(case(reported_at=None)).json["status"] == "auto"


# -- due times in working time ----------------------------------------------------------------


def test_friday_evening_4wh_is_due_monday_afternoon_single_and_batch(client):
    # Friday 2026-12-04 18:00, after office hours: 4 working hours = Monday 09:00-12:00 and 13:30-14:30
    body = case(event="14001001", reported_at="2026-12-04T18:00:00+08:00")
    d = client.dispatch(body).json
    assert d["deadline"] == {
        "value": "4wh",
        "due": "2026-12-07T14:30:00+08:00",
        "origin": "item",
        "class": None,
        "provisional": False,
    }
    other = case(id="C2", event="14001001", reported_at="2026-12-04T16:00:00+08:00")
    batch = client.dispatch({"cases": [body, other]}).json
    assert [r["deadline"]["due"] for r in batch["results"]] == ["2026-12-07T14:30:00+08:00", "2026-12-07T11:30:00+08:00"]


def test_holidays_make_up_days_unlisted_years_and_classes(client):
    def due(event: str, at: str, area: str = "110115005001") -> dict:
        return client.dispatch(case(event=event, area=area, reported_at=at)).json["deadline"]

    # 2025-09-30 (Tuesday) 16:00: 1.5 h that day, then the 国庆 holidays to 10-08: Thursday 10-09
    assert due("14001001", "2025-09-30T16:00:00+08:00")["due"] == "2025-10-09T11:30:00+08:00"
    # Friday 10-10 evening: Saturday 10-11 is a make-up workday (调休)
    assert due("14001001", "2025-10-10T20:00:00+08:00")["due"] == "2025-10-11T14:30:00+08:00"
    # New Year 2026: 0.5 h on Wednesday, Thursday 01-01 and Friday 01-02 off, Sunday 01-04 worked
    assert due("14001001", "2025-12-31T17:00:00+08:00")["due"] == "2026-01-04T14:00:00+08:00"
    # 2027 is not in the calendar: the plain workweek (New Year's Day a working day), provisional
    late = due("14001001", "2027-01-01T10:00:00+08:00")
    assert (late["due"], late["provisional"]) == ("2027-01-01T15:30:00+08:00", True)
    # per area class: 黄村 (A) 2wh, 青云店 (C) 1wd, the district (B) 4wh
    a = due("14002001", "2026-12-07T09:00:00+08:00")
    c = due("14002001", "2026-12-07T09:00:00+08:00", area="110115103201")
    b = due("14002001", "2026-12-07T09:00:00+08:00", area="110115")
    assert (a["value"], a["class"], a["due"]) == ("2wh", "A", "2026-12-07T11:00:00+08:00")
    assert (c["value"], c["class"], c["due"]) == ("1wd", "C", "2026-12-08T17:30:00+08:00")
    assert (b["value"], b["class"], b["due"]) == ("4wh", "B", "2026-12-07T14:30:00+08:00")


def test_extra_members_are_ignored_and_location_beside_area_is_checked(client):
    assert client.dispatch(case(note="free text", priority=3)).status == 200
    assert client.dispatch(case(location={"longitude": 116.3, "latitude": 39.7})).status == 200
    problem_of(client.dispatch(case(location={"longitude": 500, "latitude": 39.7})), 422, "request.invalid")


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        (case(event="99999999"), "/event", "request.unknown_event"),
        (case(event="06010"), "/event", "request.not_an_item"),
        (case(area="999"), "/area", "request.unknown_area"),
        (case(source="fax"), "/source", "request.unknown_source"),
        (case(reported_at="yesterday"), "/reported_at", "request.bad_time"),
        (case(reported_at="2025-13-01T08:00:00"), "/reported_at", "request.bad_time"),
        (case(reported_at="9999-12-31T23:00:00+08:00"), "/reported_at", "request.bad_time"),  # due past 9999
        (case(area=..., location={"longitude": 116.3, "latitude": 39.7}), "/location", "request.location_unsupported"),
        (case(area=...), "/area", "request.invalid"),
        (case(id=""), "/id", "request.invalid"),
        (case(id="x" * 257), "/id", "request.invalid"),
        (case(id=7), "/id", "request.invalid"),
        (case(event=["06010002"]), "/event", "request.invalid"),
        (case(reported_at=20251201), "/reported_at", "request.invalid"),
        (case(location="here"), "/location", "request.invalid"),
    ],
)
def test_a_bad_case_is_422_naming_field_and_value(client, body, field, code):
    doc = problem_of(client.dispatch(body), 422, code)
    assert doc["errors"][0]["field"] == field and doc["errors"][0]["code"] == code
    sent = body
    for part in field.strip("/").split("/"):
        sent = sent.get(part) if isinstance(sent, dict) else None
    if isinstance(sent, (str, int)) and len(str(sent)) <= 200:
        assert doc["errors"][0]["value"] == sent


def test_every_missing_field_is_listed(client):
    doc = problem_of(client.dispatch({"note": "nothing useful"}), 422, "request.invalid")
    assert sorted(e["field"] for e in doc["errors"]) == ["/area", "/event", "/id", "/source"]


@pytest.mark.parametrize("body", [b"{", b'{"id": }', b"\xff\xfe{}", b"", b"NaN", b'{"id":"a",}'])
def test_malformed_json_is_400(client, body):
    problem_of(client.post("/v1/dispatch", body, {"content-type": "application/json"}), 400, "request.malformed_json")


@pytest.mark.parametrize("body", [[], [case()], "a case", 5, None, True])
def test_a_body_that_is_not_an_object_is_422(client, body):
    raw = __import__("json").dumps(body).encode()
    doc = problem_of(client.post("/v1/dispatch", raw, {"content-type": "application/json"}), 422, "request.invalid")
    assert doc["errors"][0]["field"] == ""


@pytest.mark.parametrize("media", [None, "text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_wrong_content_type_is_415(client, media):
    headers = {"content-type": media} if media else {}
    problem_of(client.post("/v1/dispatch", b'{"id":"a"}', headers), 415, "request.unsupported_media_type")


def test_json_media_types_with_parameters_are_accepted(client):
    body = __import__("json").dumps(case()).encode()
    for media in ("application/json; charset=utf-8", "Application/JSON", "application/vnd.dispatch+json"):
        assert client.post("/v1/dispatch", body, {"content-type": media}).status == 200


def test_body_over_the_limit_is_413(client):
    big = {"cases": [case(id=f"C{i}", note="x" * 2000) for i in range(40)]}
    doc = problem_of(client.dispatch(big), 413, "request.too_large")
    assert str(SMALL_LIMITS["max_body_bytes"]) in doc["detail"]


def test_batch_over_the_limit_is_413(client):
    doc = problem_of(client.dispatch({"cases": [case(id=f"C{i}") for i in range(51)]}), 413, "request.too_large")
    assert doc["errors"][0]["field"] == "/cases" and doc["errors"][0]["value"] == 51


def test_cases_must_be_an_array(client):
    doc = problem_of(client.dispatch({"cases": {"0": case()}}), 422, "request.invalid")
    assert doc["errors"][0]["field"] == "/cases"


def test_other_methods_and_paths_answer_problems(client):
    r = client.get("/v1/dispatch")
    problem_of(r, 405, "request.method_not_allowed")
    assert r.headers["allow"] == "POST"
    problem_of(client.get("/v1/nothing-here"), 404, "request.not_found")
    problem_of(client.call("DELETE", "/healthz"), 405, "request.method_not_allowed")


# -- batches ---------------------------------------------------------------------------------


def test_batch_answers_in_order_and_a_bad_case_costs_no_other_its_answer(client):
    cases = [
        case(id="a"),
        case(id="b", area="nowhere"),
        7,
        case(id="d", event="13001001"),
        {"id": "e"},
        case(id="f", reported_at="not a time"),
        case(id="g", event="12001001"),
    ]
    r = client.dispatch({"cases": cases})
    assert r.status == 200 and r.headers["dispatch-ruleset"]
    results = r.json["results"]
    assert [x.get("id") for x in results] == ["a", "b", None, "d", "e", "f", "g"]
    assert [x.get("status") for x in results] == ["auto", None, None, "manual", None, None, "provisional"]
    errors = {x["id"]: x["error"] for x in results if "error" in x}
    assert errors["b"]["code"] == "request.unknown_area" and errors["b"]["errors"][0]["field"] == "/cases/1/area"
    assert results[2]["error"]["errors"][0]["field"] == "/cases/2"
    assert sorted(e["field"] for e in errors["e"]["errors"]) == ["/cases/4/area", "/cases/4/event", "/cases/4/source"]
    assert errors["f"]["code"] == "request.bad_time" and errors["f"]["status"] == 422


def test_batch_results_equal_single_answers(client):
    cases = [case(id=f"C{i}", event=e, area=a, source=s, reported_at=t)
             for i, (e, a, s, t) in enumerate([
                 ("06010002", "110115005001", "grid", T), ("06010001", "110115103201", "12345", T),
                 ("06042001", "110115005001", "12345", "2026-07-01T09:00:00+08:00"),
                 ("12001001", "110115", "grid", "2025-12-01T08:00:00"), ("11001001", "110115103401", "safety", T),
                 ("06010002", "110115005001001", "grid", "2025-12-01T08:00:00Z"),
             ])]  # fmt: skip
    batch = client.dispatch({"cases": cases}).json["results"]
    assert batch == [client.dispatch(c).json for c in cases]


def test_empty_batch(client):
    assert client.dispatch({"cases": []}).json == {"results": []}


# -- side endpoints -------------------------------------------------------------------------------


def test_health_ruleset_info_and_openapi(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz").json
    info = client.get("/v1/ruleset").json
    assert ready == {"ready": True, "version": info["version"]}
    assert info["name"] == "mini" and info["counts"]["rules"] == 7
    assert (
        set(info["coverage"]["counts"]) == {"auto", "provisional", "manual"} and 0 < info["coverage"]["auto_share"] <= 1
    )
    assert info["loaded_at"].endswith("+00:00")
    spec = client.get("/openapi.json").json
    op = spec["paths"]["/v1/dispatch"]["post"]
    refs = {x["$ref"].rsplit("/", 1)[1] for x in op["requestBody"]["content"]["application/json"]["schema"]["anyOf"]}
    assert refs == {"CaseIn", "BatchIn"} and refs <= set(spec["components"]["schemas"])
    assert {"200", "400", "413", "415", "422"} <= set(op["responses"])
    assert "/v1/_bench/constant" not in spec["paths"]
    assert client.get("/docs").status == 200


def test_metrics_move(client):
    def scrape() -> dict[str, float]:
        text = client.get("/metrics").body.decode()
        return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                if line and not line.startswith("#")}  # fmt: skip

    before = scrape()
    client.dispatch(case())
    client.dispatch(case(event="13001001"))
    client.dispatch(case(area="nowhere"))
    client.dispatch({"cases": [case(), case(source="fax")]})
    after = scrape()

    def moved(key: str) -> float:
        return after.get(key, 0) - before.get(key, 0)

    assert moved('dispatch_http_requests_total{endpoint="/v1/dispatch",status="200"}') == 3
    assert moved('dispatch_http_requests_total{endpoint="/v1/dispatch",status="422"}') == 1
    assert moved('dispatch_decisions_total{status="auto"}') == 2
    assert moved('dispatch_decisions_total{status="manual"}') == 1
    assert moved('dispatch_case_errors_total{code="request.unknown_area"}') == 1
    assert moved('dispatch_case_errors_total{code="request.unknown_source"}') == 1
    assert moved('dispatch_http_request_duration_seconds_count{endpoint="/v1/dispatch"}') == 4
    assert after["dispatch_ready"] == 1
    assert any(k.startswith("dispatch_ruleset_info{") for k in after)


def test_constant_bench_route_checks_the_body_as_dispatch_does(client):
    assert client.post("/v1/_bench/constant", case()).status == 200
    problem_of(client.post("/v1/_bench/constant", {"id": 5}), 422, "request.invalid")


# -- readiness, reload ----------------------------------------------------------------------------


def test_not_ready_until_the_rule_set_is_loaded_and_warm(api_rules):
    gate = threading.Event()

    def slow_build(root: str):
        gate.wait(30)
        return build_responder(root)

    with Server(Settings(rules=str(api_rules)), build=slow_build) as s:
        c = s.client
        assert c.get("/healthz").status == 200
        problem_of(c.get("/readyz"), 503, "service.not_ready")
        r = c.dispatch(case())
        problem_of(r, 503, "service.not_ready")
        assert r.headers["retry-after"] == "1"
        problem_of(c.get("/v1/ruleset"), 503, "service.not_ready")
        gate.set()
        s.wait_ready(30)
        assert c.dispatch(case()).status == 200


def test_a_rule_set_that_fails_at_start_says_why_on_readyz(tmp_path):
    rules = api_ruleset(tmp_path / "rules")
    (rules / "rules" / "municipal.csv").write_text("id,event\nX,06\n", encoding="utf-8")
    with Server(Settings(rules=str(rules))) as s:
        for _ in range(200):
            r = s.client.get("/readyz")
            if r.json.get("diagnostics"):
                break
            __import__("time").sleep(0.02)
        doc = problem_of(r, 503, "service.not_ready")
        assert [d["code"] for d in doc["diagnostics"]] == ["csv.missing_column"]
        assert doc["diagnostics"][0]["at"] == "rules/municipal.csv:1"  # relative to the rule directory


def test_reload_swaps_a_good_rule_set_and_refuses_a_bad_one(tmp_path):
    rules = api_ruleset(tmp_path / "rules")
    municipal = rules / "rules" / "municipal.csv"
    with Server(Settings(rules=str(rules), admin_token="t")) as s:
        s.wait_ready()
        c = s.client
        admin = {"authorization": "Bearer t"}
        first = c.dispatch(case())
        assert first.json["department"]["code"] == "dx-cgw"
        municipal.write_text(municipal.read_text(encoding="utf-8").replace("MUN-1,06010,110115,,,dx-cgw",
                                                                          "MUN-1,06010,110115,,,dx-cgzf"), encoding="utf-8")  # fmt: skip
        r = c.post("/v1/admin/reload", headers=admin)
        assert r.status == 200 and r.json["previous"] == first.json["ruleset"] != r.json["version"]
        second = c.dispatch(case())
        assert second.json["department"]["code"] == "dx-cgzf"
        assert second.headers["dispatch-ruleset"] == r.json["version"]

        municipal.write_text(municipal.read_text(encoding="utf-8") + "MUN-9,06010,nowhere,,,dx-cgw,,,,,,x,\n",
                             encoding="utf-8")  # fmt: skip
        bad = problem_of(c.post("/v1/admin/reload", headers=admin), 422, "ruleset.invalid")
        where = [d["at"] for d in bad["diagnostics"]]
        assert any(w.startswith("rules/municipal.csv:6:") for w in where), where
        assert str(rules) not in str(bad)  # no path of the server's disk
        assert all(d["code"] for d in bad["diagnostics"])
        third = c.dispatch(case())
        assert third.headers["dispatch-ruleset"] == r.json["version"]  # the old one keeps serving
        info = c.get("/v1/ruleset").json
        assert info["version"] == r.json["version"] and info["refused"]["diagnostics"] == bad["diagnostics"]
        assert "dispatch_ruleset_refused 1" in c.get("/metrics").body.decode()
        assert third.json["department"]["code"] == "dx-cgzf"
        metrics = c.get("/metrics").body.decode()
        assert 'dispatch_reloads_total{outcome="ok"} 1' in metrics
        assert 'dispatch_reloads_total{outcome="refused"} 1' in metrics


def test_admin_is_closed_without_a_token(client):
    problem_of(client.post("/v1/admin/reload"), 404, "request.not_found")
    problem_of(client.post("/v1/admin/reload", headers={"authorization": "Bearer "}), 404, "request.not_found")


def test_reload_needs_the_admin_token_when_one_is_set(api_rules):
    with Server(Settings(rules=str(api_rules), admin_token="s3cret")) as s:
        s.wait_ready()
        problem_of(s.client.post("/v1/admin/reload"), 401, "request.unauthorized")
        assert s.client.post("/v1/admin/reload", headers={"authorization": "Bearer s3cret"}).status == 200
