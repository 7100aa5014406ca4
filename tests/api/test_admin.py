"""The admin token of POST /v1/admin/reload on the real server: RFC 9110's Bearer scheme, compared in constant time."""

from __future__ import annotations

import pytest

from dispatch.api import app as app_module
from dispatch.api.app import bearer_matches
from dispatch.api.settings import Settings
from tests.api.conftest import Server

TOKEN = "s3cret-Tok.en_~+/="


@pytest.fixture(scope="module")
def guarded(api_rules):
    with Server(Settings(rules=str(api_rules), admin_token=TOKEN)) as s:
        s.wait_ready()
        yield s


@pytest.mark.parametrize(
    "authorization",
    [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"BEARER {TOKEN}", f"bEaReR {TOKEN}", f"Bearer   {TOKEN}"],
)
def test_the_scheme_is_case_insensitive(guarded, authorization):
    r = guarded.client.post("/v1/admin/reload", headers={"authorization": authorization})
    assert r.status == 200, r.body
    assert r.json["version"] == r.json["previous"]


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        TOKEN,
        f"Basic {TOKEN}",
        f"Bearer{TOKEN}",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN.upper()}",  # the token itself is case-sensitive
        "Bearer s3cr\u00e9t",  # not ASCII: refused, not a crash
    ],
)
def test_anything_else_is_refused_as_problem_json(guarded, authorization):
    headers = {} if authorization is None else {"authorization": authorization}
    r = guarded.client.call("POST", "/v1/admin/reload", headers={k: v.encode() for k, v in headers.items()})
    assert r.status == 401, r.body
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json["code"] == "request.unauthorized"


def test_the_token_is_compared_in_constant_time(guarded, monkeypatch):
    calls = []

    def compare_digest(a, b):
        calls.append((a, b))
        return real(a, b)

    real = app_module.hmac.compare_digest
    monkeypatch.setattr(app_module.hmac, "compare_digest", compare_digest)
    assert guarded.client.post("/v1/admin/reload", headers={"authorization": "Bearer nope"}).status == 401
    assert guarded.client.post("/v1/admin/reload", headers={"authorization": f"Bearer {TOKEN}"}).status == 200
    assert calls == [(b"nope", TOKEN.encode()), (TOKEN.encode(), TOKEN.encode())]


def test_bearer_matches():
    assert bearer_matches(f"Bearer {TOKEN}", TOKEN)
    assert bearer_matches(f"bearer {TOKEN} ", TOKEN)  # trailing space: not part of a token68
    assert not bearer_matches(None, TOKEN)
    assert not bearer_matches(f"Bearer {TOKEN}", TOKEN + "x")
    assert bearer_matches("Bearer jeton-é".encode().decode("latin-1"), "jeton-é")  # bytes as starlette reads them
