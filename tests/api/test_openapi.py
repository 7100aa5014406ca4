"""The OpenAPI description the real server publishes: every reference resolves, and it says what the intake does."""

from __future__ import annotations

from urllib.parse import unquote

import jsonschema_rs  # comes with schemathesis
import pytest

T = "2025-12-01T08:00:00+08:00"
CASE = {"id": "C1", "event": "06010002", "area": "110115005001", "source": "grid", "reported_at": T}


@pytest.fixture(scope="module")
def description(server) -> dict:
    r = server.client.get("/openapi.json")
    assert r.status == 200
    return r.json


def refs(node, at: str = "#"):
    """(where, $ref) for every reference in a JSON document, at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield at, value
            else:
                yield from refs(value, f"{at}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from refs(value, f"{at}/{i}")


def resolve(document: dict, ref: str):
    """The value a local reference (#/a/b, RFC 6901 pointer) points to; KeyError when there is none."""
    if not ref.startswith("#/"):
        raise KeyError(f"{ref}: not a reference within the document")
    node = document
    for token in ref[2:].split("/"):
        token = unquote(token).replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(token)]
        elif isinstance(node, dict) and token in node:
            node = node[token]
        else:
            raise KeyError(ref)
    return node


def test_every_reference_resolves(description):
    found = list(refs(description))
    assert len(found) > 20
    unresolved = []
    for at, ref in found:
        try:
            target = resolve(description, ref)
        except (KeyError, IndexError, ValueError):
            unresolved.append(f"{at}: {ref}")
        else:
            assert isinstance(target, dict) and target, f"{at}: {ref} points to no schema"
    assert unresolved == []


def test_the_walk_finds_a_reference_that_does_not_resolve():
    # the reload endpoint's 422 schema once carried pydantic's own $defs, inline, with #/$defs/... refs:
    # in the document they point at its root, where there is no $defs
    doc = {"paths": {"/r": {"post": {"responses": {"422": {"schema": {"$defs": {"E": {}}, "$ref": "#/$defs/E"}}}}}}}
    [(_, ref)] = list(refs(doc))
    assert ref == "#/$defs/E"
    with pytest.raises(KeyError):
        resolve(doc, ref)
    assert resolve({"a": {"b/c": [1, {"d": 2}]}}, "#/a/b~1c/1/d") == 2


def test_reload_refusal_is_a_ruleset_problem(description):
    schema = description["paths"]["/v1/admin/reload"]["post"]["responses"]["422"]["content"]
    ref = schema["application/problem+json"]["schema"]["$ref"]
    target = resolve(description, ref)
    assert {"diagnostics", "errors", "code"} <= set(target["properties"])


def case_validator(description: dict):
    """A JSON Schema validator of CaseIn, references resolved within the description."""
    return jsonschema_rs.validator_for({"$ref": "#/components/schemas/CaseIn", "components": description["components"]})


@pytest.mark.parametrize("path", ["/v1/dispatch", "/v1/explain"])
def test_location_null_is_refused_by_the_description_and_the_server_alike(client, description, path):
    # "location": absent means no location; null is not a location, and neither side takes it
    valid = case_validator(description)
    point = {"longitude": 116.3, "latitude": 39.7}
    for body, accepted in [(CASE, True), ({**CASE, "location": point}, True), ({**CASE, "location": None}, False)]:
        assert valid.is_valid(body) is accepted, body
        r = client.post(path, body)
        assert (r.status == 200) is accepted, (body, r.body)
        if not accepted:
            problem = r.json
            assert r.status == 422 and problem["code"] == "request.invalid"
            assert [e["field"] for e in problem["errors"]] == ["/location"]


def test_reported_at_null_is_taken_by_both(client, description):
    body = {**CASE, "reported_at": None}
    assert case_validator(description).is_valid(body)
    assert client.dispatch(body).status == 200


def test_location_is_an_object_or_absent_with_no_null_default(description):
    location = description["components"]["schemas"]["CaseIn"]["properties"]["location"]
    assert set(location) == {"$ref", "description"}  # not anyOf [..., null], no "default": null
    assert "location" not in description["components"]["schemas"]["CaseIn"]["required"]


@pytest.mark.parametrize("path", ["/v1/dispatch", "/v1/explain"])
def test_a_case_with_a_cases_member_is_no_case_for_either(client, description, path):
    # the endpoints read a body with `cases` as a batch: the schema of a case excludes it
    body = {**CASE, "cases": 1}
    assert not case_validator(description).is_valid(body)
    r = client.post(path, body)
    assert r.status == 422 and r.json["errors"][0]["field"] == "/cases"
