"""Fuzz checks: what schemathesis checks besides its own, loaded by the run in test_fuzz.py (hooks in schemathesis.toml).

A case of the right shape may name a code the rule set does not know: the codes are data, not
schema, and /v1/dispatch and /v1/explain answer 422 for them, as the description says. So the
built-in positive_data_acceptance allows 422 on those two operations (schemathesis.toml), and
this check takes back what that gives away: a schema-valid request refused with 422 must be
refused for its data (one of DATA_CODES), never for its shape (request.invalid, ...), which
would mean that the description and the intake disagree.
"""

from __future__ import annotations

import schemathesis

DATA_CODES = frozenset(
    {
        "request.unknown_event",
        "request.not_an_item",
        "request.unknown_area",
        "request.unknown_source",
        "request.bad_time",
        "request.location_unsupported",  # a location sent to a rule set without a grid map
        "request.off_map",  # /v1/explain: a point off the map and no area (nothing to explain)
    }
)
DATA_OPERATIONS = frozenset({"/v1/dispatch", "/v1/explain"})


@schemathesis.check
def refused_only_for_its_data(ctx, response, case) -> bool | None:
    """A schema-valid request that gets 422 got it for the codes or time it names, not for its shape."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    if case.operation.path not in DATA_OPERATIONS:
        return None
    problem = response.json()
    errors = problem.get("errors") or [{}]
    shape = [e for e in errors if e.get("code") not in DATA_CODES]
    if problem.get("code") not in DATA_CODES or shape:
        raise AssertionError(
            f"a schema-valid request was refused for its shape, not its data: {problem.get('code')} "
            f"at {[e.get('field') for e in shape]}: {problem.get('detail')}"
        )
    return True
