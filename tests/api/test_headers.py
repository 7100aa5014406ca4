"""Security headers on every answer of the real server: the bare endpoints', FastAPI's, errors and pages alike."""

from __future__ import annotations

import http.client
import json

import pytest

from dispatch.api.settings import Settings
from tests.api.conftest import SMALL_LIMITS, Server

T = "2025-12-01T08:00:00+08:00"
CASE = {"id": "C1", "event": "06010002", "area": "110115005001", "source": "grid", "reported_at": T}
JSON = {"content-type": "application/json"}

# (method, path, body, headers, status): one request for each kind of answer the service gives
ANSWERS = [
    ("POST", "/v1/dispatch", CASE, None, 200),  # the bare hot path
    ("POST", "/v1/dispatch", {"cases": [CASE, {"id": "C2"}]}, None, 200),  # a batch, through the scan
    ("POST", "/v1/dispatch", {**CASE, "area": "nowhere"}, None, 422),  # a problem from the bare endpoint
    ("POST", "/v1/dispatch", b"{", JSON, 400),
    ("POST", "/v1/dispatch", b"{}", {"content-type": "text/plain"}, 415),
    ("POST", "/v1/dispatch", b" " * (SMALL_LIMITS["max_body_bytes"] + 1), JSON, 413),
    ("GET", "/v1/dispatch", None, None, 405),
    ("POST", "/v1/explain", CASE, None, 200),  # the other bare endpoint
    ("POST", "/v1/explain", {"cases": []}, None, 422),
    ("POST", "/v1/_bench/constant", CASE, None, 200),
    ("POST", "/v1/_bench/pydantic", CASE, None, 200),  # FastAPI with a body model
    ("GET", "/healthz", None, None, 200),
    ("GET", "/readyz", None, None, 200),
    ("GET", "/metrics", None, None, 200),
    ("GET", "/v1/ruleset", None, None, 200),
    ("GET", "/openapi.json", None, None, 200),
    ("GET", "/docs", None, None, 200),
    ("GET", "/docs/swagger-ui-bundle.js", None, None, 200),
    ("GET", "/nowhere", None, None, 404),  # Starlette's refusal, as problem+json
    ("DELETE", "/healthz", None, None, 405),
]


@pytest.mark.parametrize(("method", "path", "body", "headers", "status"), ANSWERS)
def test_every_answer_forbids_sniffing_and_framing(client, method, path, body, headers, status):
    r = client.call(method, path, body, headers)
    assert r.status == status, r.body
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"


def test_not_ready_and_refused_reload_answers_carry_them_too(tmp_path):
    # a 503 from the bare endpoint before the rule set loads, and problems raised in FastAPI routes
    with Server(Settings(rules=str(tmp_path / "missing"), admin_token="t")) as s:
        for r in (s.client.dispatch(CASE), s.client.get("/readyz"), s.client.post("/v1/admin/reload")):
            assert r.status in (401, 503), r.body
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(("method", "path", "body"), [("POST", "/v1/dispatch", CASE), ("GET", "/healthz", None)])
def test_the_headers_are_added_once(client, method, path, body):
    # Client.call keeps one value per name: count the names as they came
    conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=30)
    try:
        conn.request(method, path, body=json.dumps(body) if body else None, headers=JSON)
        names = [k.lower() for k, _ in conn.getresponse().getheaders()]
    finally:
        conn.close()
    assert names.count("x-content-type-options") == 1 and names.count("x-frame-options") == 1
