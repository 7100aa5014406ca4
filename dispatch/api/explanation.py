"""POST /v1/explain: a wire case, read as /v1/dispatch reads it, explained by the core's explain.

The request intake (readiness, media type, the bounded body read, problem+json) is
endpoint.Endpoint's, the one /v1/dispatch runs; only the answer differs.
"""

from __future__ import annotations

import orjson

from dispatch.api.endpoint import Endpoint
from dispatch.api.intake import IncomingCase, is_batch, not_an_object, parse_body, read_case
from dispatch.api.problems import FieldError, Problem, case_problem, field_error
from dispatch.api.responder import Responder
from dispatch.core.case import Case, read_reported_at
from dispatch.core.errors import CaseError
from dispatch.core.explain import explain_case, explanation_dict, locate_case
from dispatch.core.geo import CRS_NAMES


def explain_body(responder: Responder, body: bytes) -> dict:
    """The explanation (explain.explanation_dict) of the one case in `body`.

    Raises Problem for a body that is not a case, and CaseError for a case whose codes or
    time the rule set cannot read: the same codes /v1/dispatch answers with.
    """
    doc = parse_body(body)
    if is_batch(doc) or type(doc) is list:
        raise batch_unsupported(doc)
    if type(doc) is not dict:
        raise not_an_object(doc, "one case")
    case = read_case(doc)
    if type(case) is not IncomingCase:
        raise case_problem(case)
    ruleset = responder.ruleset
    area, location = case.area, None
    if case.location is not None:
        loc = case.location
        crs = next(name for name, code in CRS_NAMES.items() if code == loc.crs)
        area, location = locate_case(responder.dispatcher, case.area, loc.longitude, loc.latitude, crs)
    moment = read_reported_at(ruleset, case.reported_at)
    explanation = explain_case(
        responder.dispatcher, Case(case.id, case.event, area, case.source, moment), location=location
    )
    return explanation_dict(explanation, responder.root)


def batch_unsupported(doc: dict | list) -> Problem:
    """A batch, {"cases": [...]} or an array: explain takes one case, and says so rather than list what it lacks."""
    at = "" if type(doc) is list else "/cases"
    detail = (
        "explain takes one case, not a batch: send each case as its own JSON object (POST /v1/dispatch answers batches)"
    )
    return Problem("request.batch_unsupported", detail, [FieldError(at, "request.batch_unsupported", detail)])


class ExplainEndpoint(Endpoint):
    """Answers POST /v1/explain: one case, explained. Its refusals do not count as dispatch case errors."""

    def answer(self, responder: Responder, body: bytes) -> bytes:
        try:
            return orjson.dumps(explain_body(responder, body))
        except CaseError as err:
            raise case_problem([field_error(err)]) from None
