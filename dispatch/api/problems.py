"""Problems: every answer that is not a decision, as RFC 9457 problem+json; the one place errors meet HTTP.

Core code raises its own errors (CaseError, RuleSetError); request checks raise Problem.
Here each becomes a status, a stable dotted code, a `type` URI derived from the code,
and a list of field errors that name the field by JSON pointer and echo the bad value.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import orjson

from dispatch.core.errors import CaseError, Diagnostic, RuleSetError

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:dispatch:problem:"
_VALUE_CHARS = 200  # an echoed value is cut here: a 4 MiB id must not come back 4 MiB long

# code -> (HTTP status, title). Codes are stable: clients and dashboards key on them.
CODES: dict[str, tuple[int, str]] = {
    "request.malformed_json": (400, "The body is not valid JSON"),
    "request.invalid": (422, "The request does not have the expected shape"),
    "request.unknown_event": (422, "Unknown event code"),
    "request.not_an_item": (422, "The event is a category, not a work item"),
    "request.unknown_area": (422, "Unknown area code"),
    "request.unknown_source": (422, "Unknown source"),
    "request.bad_time": (422, "reported_at is not an ISO 8601 timestamp"),
    "request.location_unsupported": (422, "This rule set has no grid map to place a location"),
    "request.off_map": (422, "The location lies outside the grid map"),
    "request.batch_unsupported": (422, "This endpoint takes one case, not a batch"),
    "request.too_large": (413, "The request is too large"),
    "request.header_too_large": (431, "The request line and headers are too large"),
    "request.timeout": (408, "The request did not arrive in time"),
    "request.unsupported_media_type": (415, "The body must be application/json"),
    "request.method_not_allowed": (405, "Method not allowed"),
    "request.not_found": (404, "No such resource"),
    "request.unauthorized": (401, "A valid admin token is required"),
    "service.not_ready": (503, "The rule set is still loading"),
    "service.busy": (503, "Too many connections"),
    "service.draining": (503, "Shutting down"),
    "ruleset.invalid": (422, "The rule set is invalid: the old one keeps serving"),
    "server.error": (500, "Internal error"),
}


@dataclass(frozen=True, slots=True)
class FieldError:
    """One bad field: where (a JSON pointer), what (a stable code), why, and the value sent."""

    field: str
    code: str
    detail: str
    value: object = None

    def wire(self) -> dict:
        return {"field": self.field, "code": self.code, "detail": self.detail, "value": echo(self.value)}


class Problem(Exception):
    """An error answer. `code` picks status and title; `errors` name the bad fields."""

    def __init__(
        self,
        code: str,
        detail: str,
        errors: Sequence[FieldError] = (),
        headers: Iterable[tuple[bytes, bytes]] = (),
        extra: dict | None = None,
    ):
        super().__init__(detail)
        self.code = code
        self.status, self.title = CODES[code]
        self.detail = detail
        self.errors = tuple(errors)
        self.headers = tuple(headers)
        self.extra = extra or {}

    def wire(self) -> dict:
        doc = {
            "type": TYPE_PREFIX + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            "errors": [e.wire() for e in self.errors],
        }
        doc.update(self.extra)
        return doc

    def body(self) -> bytes:
        return orjson.dumps(self.wire())


def echo(value: object) -> object:
    """The bad value as it goes back to the caller: scalars as sent (long strings cut), containers not at all."""
    if isinstance(value, str):
        return value if len(value) <= _VALUE_CHARS else value[:_VALUE_CHARS] + "…"
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return None


def pointer(*parts: str | int) -> str:
    """A JSON pointer (RFC 6901) to a member of the request body."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


# -- the mapping ------------------------------------------------------------------------


def field_error(err: CaseError, at: str = "") -> FieldError:
    """A core CaseError as the field error of the case at JSON pointer `at`."""
    return FieldError(at + pointer(err.field), err.code, str(err), err.value)


def case_problem(errors: Sequence[FieldError]) -> Problem:
    """The problem for one case: its first field error decides code and title, all are listed."""
    first = errors[0]
    detail = first.detail if len(errors) == 1 else f"{first.detail} (and {len(errors) - 1} more)"
    return Problem(first.code, detail, errors)


def ruleset_problem(err: RuleSetError, root: str) -> Problem:
    """A rule set that failed to load: every diagnostic at file:line:col, as `dispatch check` prints it,
    with files named relative to the rule directory (a caller learns nothing of the server's disk)."""
    diagnostics = [diagnostic_wire(d, root) for d in err.diagnostics]
    n = sum(1 for d in err.diagnostics if d.severity.value == "error")
    return Problem(
        "ruleset.invalid",
        f"{ruleset_name(root)}: {n} error(s); the old rule set keeps serving",
        extra={"diagnostics": diagnostics},
    )


def ruleset_name(root: str) -> str:
    """How answers name a rule set's source: a directory or bundle file by its own name, never its place
    on the server's disk; a bundle URL as it is."""
    return root if "://" in root else (Path(root).name or ".")


def diagnostic_wire(d: Diagnostic, root: str = "") -> dict:
    prefix = root.rstrip("/") + "/"
    path = d.place.path[len(prefix) :] if root and d.place.path.startswith(prefix) else d.place.path
    place = replace(d.place, path=path)
    return {
        "at": str(place),
        "code": d.code,
        "severity": d.severity.value,
        "message": d.message,
        "path": path,
        "line": d.place.line,
        "col": d.place.col,
    }


def internal_problem() -> Problem:
    # the detail says nothing of the cause: tracebacks go to the log, not to callers
    return Problem("server.error", "the server failed to answer; the error is logged")
