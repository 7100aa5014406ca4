"""Intake: a request body's bytes to checked cases, by hand, exactly as the wire schema (wire.py) says.

No per-case models: a pydantic model per case costs more than the dispatch itself.
The fast check accepts the common, well-formed case in a handful of type tests; only
a case that fails it goes through the slow check, which names every bad field.
"""

from __future__ import annotations

from typing import NamedTuple

import orjson

from dispatch.api.problems import FieldError, Problem, pointer
from dispatch.core.geo import CRS_NAMES

ID_MAX_CHARS = 256
REQUIRED = ("id", "event", "source")  # area too, unless a location stands in for it
LOCATION_MEMBERS = ("longitude", "latitude", "crs")
_JSON_TYPES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}


class Location(NamedTuple):
    """A case's point as the caller sent it: longitude and latitude in range, crs a geo.CRS_* code."""

    longitude: float
    latitude: float
    crs: int


class IncomingCase(NamedTuple):
    """A case as the caller sent it, with every field of the right type. reported_at None: now.

    area None: the grid map places the case by its location (then present)."""

    id: str
    event: str
    area: str | None
    source: str
    reported_at: str | None
    location: Location | None = None


def parse_body(body: bytes) -> object:
    """The JSON document in `body`; Problem 400 when it is not JSON (or not UTF-8)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise Problem("request.malformed_json", f"the body is not valid JSON: {err}") from None


def batch_cases(doc: dict, max_batch: int) -> list:
    """The raw `cases` array of a batch request; Problem when it is not an array or too long."""
    cases = doc["cases"]
    if type(cases) is not list:
        raise Problem(
            "request.invalid",
            f"cases must be an array, not {_kind(cases)}",
            [FieldError("/cases", "request.invalid", "cases must be an array", cases)],
        )
    if len(cases) > max_batch:
        detail = f"a batch holds at most {max_batch} cases, this one {len(cases)}: split it"
        raise Problem("request.too_large", detail, [FieldError("/cases", "request.too_large", detail, len(cases))])
    return cases


def is_batch(doc: object) -> bool:
    return type(doc) is dict and "cases" in doc


def not_an_object(doc: object, takes: str = 'a case, or {"cases": [...]}') -> Problem:
    """The problem for a body that is not a JSON object; `takes` says what the endpoint takes."""
    detail = f"the body must be a JSON object ({takes}), not {_kind(doc)}"
    return Problem("request.invalid", detail, [FieldError("", "request.invalid", detail, doc)])


def read_case(obj: object, at: str = "") -> IncomingCase | list[FieldError]:
    """The case in `obj` (the JSON value at pointer `at`), or every field error found in it."""
    if type(obj) is dict and "location" not in obj:
        i, e, a, s, r = obj.get("id"), obj.get("event"), obj.get("area"), obj.get("source"), obj.get("reported_at")
        if (
            type(i) is str
            and type(e) is str
            and type(a) is str
            and type(s) is str
            and (r is None or type(r) is str)
            and 0 < len(i) <= ID_MAX_CHARS
        ):
            return IncomingCase(i, e, a, s, r)
    return _checked(obj, at)


def _checked(obj: object, at: str) -> IncomingCase | list[FieldError]:
    if type(obj) is not dict:
        return [FieldError(at, "request.invalid", f"a case must be a JSON object, not {_kind(obj)}", obj)]
    errors: list[FieldError] = []

    def bad(name: str, detail: str, value: object = None) -> None:
        errors.append(FieldError(at + pointer(name), "request.invalid", detail, value))

    for name in REQUIRED:
        if name not in obj:
            bad(name, f"{name} is required")
        elif type(obj[name]) is not str:
            bad(name, f"{name} must be a string, not {_kind(obj[name])}", obj[name])
    case_id = obj.get("id")
    if type(case_id) is str and not 0 < len(case_id) <= ID_MAX_CHARS:
        bad("id", f"id must have 1 to {ID_MAX_CHARS} characters, not {len(case_id)}", case_id)
    stamp = obj.get("reported_at")
    if stamp is not None and type(stamp) is not str:
        bad("reported_at", f"reported_at must be an ISO 8601 string, not {_kind(stamp)}", stamp)
    location = _location(obj["location"], at + pointer("location"), errors) if "location" in obj else None
    if "area" not in obj:
        if "location" not in obj:
            bad("area", "area is required (or a location)")
    elif type(obj["area"]) is not str:
        bad("area", f"area must be a string, not {_kind(obj['area'])}", obj["area"])
    if errors:
        return errors
    return IncomingCase(obj["id"], obj["event"], obj.get("area"), obj["source"], stamp, location)


def _location(loc: object, at: str, errors: list[FieldError]) -> Location | None:
    """`loc` as a Location when it is {"longitude": x, "latitude": y, "crs"?: name} in range; else appends why not."""
    if type(loc) is not dict:
        errors.append(FieldError(at, "request.invalid", f"location must be an object, not {_kind(loc)}", loc))
        return None
    before = len(errors)
    for name in loc:
        if name not in LOCATION_MEMBERS:
            detail = f"location.{name} is not a member of a location (longitude, latitude, crs)"
            errors.append(FieldError(at + pointer(name), "request.invalid", detail, loc[name]))
    values = []
    for name, bound in (("longitude", 180), ("latitude", 90)):
        value = loc.get(name)
        if type(value) not in (int, float):
            detail = f"location.{name} is required" if name not in loc else f"location.{name} must be a number"
            errors.append(FieldError(at + pointer(name), "request.invalid", detail, value))
        elif not -bound <= value <= bound:  # NaN and infinities too
            detail = f"location.{name} must lie in [-{bound}, {bound}]"
            errors.append(FieldError(at + pointer(name), "request.invalid", detail, value))
        else:
            values.append(float(value))
    crs = loc.get("crs", "wgs84")
    if type(crs) is not str or crs not in CRS_NAMES:
        detail = f"location.crs must be one of {', '.join(CRS_NAMES)}"
        errors.append(FieldError(at + pointer("crs"), "request.invalid", detail, crs))
    if len(errors) != before:
        return None
    return Location(values[0], values[1], CRS_NAMES[crs])


def _kind(value: object) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)
