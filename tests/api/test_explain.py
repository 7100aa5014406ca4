"""POST /v1/explain over real HTTP: the CLI's JSON for a good case, /v1/dispatch's problem codes for a bad one."""

from __future__ import annotations

import json
import socket
from datetime import datetime

import pytest

from dispatch.core.case import Case
from dispatch.core.dispatcher import Dispatcher
from dispatch.core.explain import explain_case, explanation_dict
from dispatch.core.load import load_ruleset

T = "2025-12-01T08:00:00+08:00"


def case(**over) -> dict:
    base = {"id": "C1", "event": "06010002", "area": "110115005201", "source": "grid", "reported_at": T}
    base.update(over)
    return {k: v for k, v in base.items() if v is not ...}


@pytest.fixture(scope="module")
def local(server) -> Dispatcher:
    return Dispatcher(load_ruleset(server.settings.rules))


def test_good_case_answers_the_explanation_the_cli_prints(client, server, local):
    r = client.post("/v1/explain", case())
    assert r.status == 200 and r.headers["content-type"] == "application/json"
    doc = r.json
    x = explain_case(local, Case("C1", "06010002", "110115005201", "grid", datetime.fromisoformat(T)))
    want = explanation_dict(x, server.settings.rules)
    assert doc == json.loads(json.dumps(want, ensure_ascii=False))
    assert r.headers["dispatch-ruleset"] == doc["ruleset"]["version"]
    assert doc["decision"]["rule"]["id"] == "MUN-2" and doc["agree"] is True
    assert [m["id"] for m in doc["matching"]] == ["MUN-2", "MUN-1"]
    # the decision is the one /v1/dispatch gives, its rule named alike: the file relative to the rule set
    d = client.dispatch(case()).json
    assert (d["status"], d["department"], d["rule"]) == (
        doc["decision"]["status"], doc["decision"]["department"], doc["decision"]["rule"])  # fmt: skip
    assert doc["decision"]["rule"]["file"] == "rules/municipal.csv"
    assert {m["file"] for m in doc["matching"]} == {"rules/municipal.csv"}


@pytest.mark.parametrize("event", ["06010001", "06010002", "12001001", "13001001"])
def test_the_decisions_rule_is_the_one_dispatch_gives(client, event):
    for body in (case(event=event), case(event=event, area="110115005", source="12345")):
        doc, d = client.post("/v1/explain", body).json, client.dispatch(body).json
        assert doc["decision"]["rule"] == d["rule"]


def test_no_rule_and_no_time(client):
    doc = client.post("/v1/explain", case(event="12001001", reported_at=...)).json
    assert doc["decision"]["status"] == "provisional" and doc["matching"] == []
    assert doc["no_match"].startswith("no rule matches and the item is urgent")
    assert doc["decision"]["local"]["department"] == "gov-110115005"


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (case(area="nowhere"), 422, "request.unknown_area", "/area"),
        (case(event="99"), 422, "request.unknown_event", "/event"),
        (case(source="fax"), 422, "request.unknown_source", "/source"),
        (case(reported_at="yesterday"), 422, "request.bad_time", "/reported_at"),
        (case(id=...), 422, "request.invalid", "/id"),
        (case(area=7), 422, "request.invalid", "/area"),
    ],
)
def test_bad_case_answers_the_dispatch_problem(client, body, status, code, field):
    r = client.post("/v1/explain", body)
    assert r.status == status and r.headers["content-type"] == "application/problem+json"
    doc = r.json
    assert doc["code"] == code and doc["type"] == f"urn:dispatch:problem:{code}"
    assert doc["errors"][0]["field"] == field
    if isinstance(body, dict) and code != "request.invalid":
        same = client.dispatch(body).json
        assert (same["code"], same["errors"][0]["field"]) == (code, field)


@pytest.mark.parametrize(("body", "field"), [({"cases": [case(), case(id="C2")]}, "/cases"), ({"cases": []}, "/cases"),
                                             ([case()], "")])  # fmt: skip
def test_a_batch_is_refused_saying_explain_takes_one_case(client, body, field):
    r = client.post("/v1/explain", body)
    assert r.status == 422 and r.headers["content-type"] == "application/problem+json"
    doc = r.json
    assert doc["code"] == "request.batch_unsupported" and doc["type"] == "urn:dispatch:problem:request.batch_unsupported"
    assert [(e["field"], e["code"]) for e in doc["errors"]] == [(field, "request.batch_unsupported")]
    assert "one case" in doc["detail"] and "/v1/dispatch" in doc["detail"]


@pytest.mark.parametrize("body", ['"C1"', "7", "null"])
def test_a_body_that_is_not_an_object_is_422_without_offering_a_batch(client, body):
    r = client.post("/v1/explain", body, headers={"content-type": "application/json"})
    doc = r.json
    assert (r.status, doc["code"], doc["errors"][0]["field"]) == (422, "request.invalid", "")
    assert "one case" in doc["detail"] and "cases" not in doc["detail"]


def test_malformed_json_is_400_and_other_media_415(client):
    r = client.post("/v1/explain", '{"id": "C1", ', headers={"content-type": "application/json"})
    assert r.status == 400 and r.json["code"] == "request.malformed_json"
    r = client.post("/v1/explain", json.dumps(case()), headers={"content-type": "text/plain"})
    assert r.status == 415 and r.json["code"] == "request.unsupported_media_type"
    r = client.get("/v1/explain")
    assert (r.status, r.json["code"], r.headers["allow"]) == (405, "request.method_not_allowed", "POST")


def test_explain_is_in_the_openapi_description(client):
    spec = client.get("/openapi.json").json
    op = spec["paths"]["/v1/explain"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/CaseIn")
    assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Explanation")
    assert {"400", "415", "422"} <= set(op["responses"])
    assert "Explanation" in spec["components"]["schemas"]


def early_answer(port: int, path: str, head: str, body: bytes) -> tuple[int, dict]:
    """Send `head` and part of a body, never its end, and read the answer: it must come before the body ends."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"POST {path} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n{head}\r\n".encode())
        s.sendall(body)
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(65536)  # a server that waits for the rest of the body times out here
        top, _, rest = data.partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in top.decode().split("\r\n")[1:])
        length = int(headers["content-length"])
        while len(rest) < length:
            rest += s.recv(65536)
    return int(top.split()[1]), json.loads(rest[:length])


@pytest.mark.parametrize("path", ["/v1/explain", "/v1/dispatch"])
def test_a_body_over_the_limit_is_refused_as_it_passes_the_limit(server, path):
    limit = server.settings.max_body_bytes
    chunk = b" " * (limit + 1)
    # chunked, no length: 413 once the limit is passed, without waiting for the end that never comes
    status, doc = early_answer(server.settings.port, path, "transfer-encoding: chunked\r\n",
                               f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")  # fmt: skip
    assert (status, doc["code"]) == (413, "request.too_large")
    # a declared length over the limit: 413 before any of the body is read
    status, doc = early_answer(server.settings.port, path, f"content-length: {20 * limit}\r\n", b"{")
    assert (status, doc["code"]) == (413, "request.too_large")


def test_explain_says_which_dates_a_working_time_deadline_skipped(client):
    # New Year 2026: reported Wednesday 17:00 with 4wh; Thursday and Friday are 元旦, Sunday 01-04 is worked
    doc = client.post("/v1/explain", case(event="14001001", reported_at="2025-12-31T17:00:00+08:00")).json
    deadline = doc["decision"]["deadline"]
    assert (deadline["value"], deadline["origin"], deadline["due"]) == ("4wh", "item", "2026-01-04T14:00:00+08:00")
    assert deadline["skipped"] == [
        {"date": "2026-01-01", "why": "元旦"},
        {"date": "2026-01-02", "why": "元旦"},
        {"date": "2026-01-03", "why": "weekend"},
    ]
    assert deadline["made_up"] == [{"date": "2026-01-04", "name": "元旦"}]
    assert doc["item"]["deadline"] == "4wh"
    per_class = client.post("/v1/explain", case(event="14002001", area="110115103201")).json["decision"]["deadline"]
    assert (per_class["value"], per_class["class"], per_class["item"]) == ("1wd", "C", "A=2wh;B=4wh;C=1wd")
