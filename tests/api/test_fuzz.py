"""Fuzz the running service from its own OpenAPI description: no input answers 500 or breaks the schema.

schemathesis generates requests from the description, valid ones and (negative mode)
invalid ones, and checks every answer against it: no server error, and status codes,
content types, headers and bodies as the description declares them. Its pytest plugin
does not load under this pytest, so hypothesis drives its strategies here directly.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

# A schema-valid case may still name codes the rule set does not know: 422 is the right answer,
# so "valid data must be accepted" does not hold here (the codes are data, not schema).
EXCLUDED = [positive_data_acceptance]
# reload is fuzzed by hand in test_http.py: here it would only reload the same files, slowly
SKIP = {("POST", "/v1/admin/reload")}


@pytest.fixture(scope="module")
def operations(server) -> dict:
    schema = schemathesis.openapi.from_url(f"http://127.0.0.1:{server.settings.port}/openapi.json")
    found = {}
    for result in schema.get_all_operations():
        op = result.ok()
        if (op.method.upper(), op.path) not in SKIP:
            found[f"{op.method.upper()} {op.path}"] = op
    assert "POST /v1/dispatch" in found
    return found


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_input_breaks_the_service(operations, mode):
    ops = sorted(operations)
    strategies = {name: operations[name].as_strategy(generation_mode=mode) for name in ops}

    @given(st.data())
    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(data):
        name = data.draw(st.sampled_from(ops))
        case = data.draw(strategies[name])
        case.call_and_validate(excluded_checks=EXCLUDED)

    check()
