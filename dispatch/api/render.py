"""Render: decisions as wire JSON bytes, from pieces rendered once per outcome.

Everything in an answer but the case id, the due time and the area path depends only
on the winning rule, the item and the local government of the area: the core's
outcome (core/outcomes.py). The members are ordered so that the per-case values sit
together: one answer is

    {"id":ID,"deadline":{"due":DUE,  REST  PATH}       when the case has a due time
    {"id":ID,                        REST  PATH}       when not (manual, or no deadline)

where REST (from the deadline's other members to "area_path":) is rendered once per
outcome and kept with it (Outcome.rendered). A batch joins three pieces a case: the
head (written by a kernel, heads.py), REST, and the path with its closing brace (see
Responder.batch_from_body).

`wire_decision` is the plain rendering of a Decision that the pieces are held to (tests).
"""

from __future__ import annotations

import numpy as np
import orjson

from dispatch.core.decision import Decision, rule_file
from dispatch.core.dispatcher import CHECK_INSIDE, CHECK_NONE, CHECK_OFF_MAP, CHECK_OUTSIDE, LOCATION_CHECKS, Dispatcher

ID_OPEN = b'{"id":'
DUE_OPEN = b',"deadline":{"due":'
# member order on the wire (wire_decision and the templates agree on it)
ORDER = (
    "id",
    "deadline",
    "status",
    "department",
    "co_handlers",
    "command_system",
    "rule",
    "difficult",
    "ruleset",
    "reason",
    "area_path",
)


def hours(value: float) -> int | float:
    """Deadline hours as JSON shows them: 24, not 24.0."""
    return int(value) if float(value).is_integer() else value


def wire_decision(d: Decision, root: str = "") -> dict:
    """A Decision as the wire shows it (the reference the fast rendering must equal)."""
    due = (
        None
        if d.deadline_hours is None
        else {"due": d.due, "hours": hours(d.deadline_hours), "origin": d.deadline_origin}
    )
    doc = {
        "id": d.case_id,
        "deadline": due,  # the due time: orjson writes RFC 3339, the offset in whole minutes
        "status": d.status.value,
        "department": {"code": d.department.code, "name": d.department.name} if d.department else None,
        "co_handlers": [{"code": u.code, "name": u.name} for u in d.co_handlers],
        "command_system": d.command_system,
        "rule": {"id": d.rule.id, "file": rule_file(d.rule.path, root), "line": d.rule.line, "basis": d.rule.basis}
        if d.rule
        else None,
        "difficult": d.difficult,
        "ruleset": d.ruleset,
        "reason": d.reason,
        "area_path": list(d.area_path),
    }
    return doc


def _members(doc: dict) -> bytes:
    """The members of a JSON object without its braces: to splice into a larger object."""
    return orjson.dumps(doc)[1:-1]


def rest_of(d: Decision, root: str = "") -> bytes:
    """REST of a Decision's answer: its JSON minus id, due time and area path."""
    w = wire_decision(d, root)
    rest = _members({k: w[k] for k in ORDER[2:-1]}) + b',"area_path":'
    deadline = w["deadline"]
    if deadline is None or deadline["due"] is None:
        return b',"deadline":' + orjson.dumps(deadline) + b"," + rest
    hours, origin = orjson.dumps(deadline["hours"]), orjson.dumps(deadline["origin"])
    return b',"hours":' + hours + b',"origin":' + origin + b"}," + rest


class Renderer:
    """What a rule set's answers share beyond their outcomes: area paths, already JSON."""

    def __init__(self, dispatcher: Dispatcher, root: str):
        ruleset = dispatcher.ruleset
        self._root = root
        # the area path of every area code, root first, already JSON
        self.paths: dict[str, bytes] = {
            a.code: orjson.dumps([p.code for p in ruleset.areas.path(a.code)][::-1]) for a in ruleset.areas
        }
        self.closing_paths = {code: path + b"}" for code, path in self.paths.items()}  # the end of one answer
        # with the answer's closing brace and the comma before the next, by area Codebook key (the
        # batch reader's area_key; -1, the last, for none): a batch's third piece a case
        by_key = [self.paths[code] for code in dispatcher.area_codes.keys]
        self.closing_path_by_area_key = np.asarray([p + b"}," for p in by_key] + [b""], dtype=object)
        self._located: dict[tuple, bytes] = {}
        self._located_by_key: dict[tuple, np.ndarray] = {}
        self._keys = dispatcher.area_codes.keys

    def located(self, area: str | None, method: str, check: str | None = None) -> bytes:
        """The members that say how a case with a location was placed: `located`, and with an area given
        `location_check` (spliced in before an answer's closing brace)."""
        key = (area, method, check)
        found = self._located.get(key)
        if found is None:
            doc = {"located": {"area": area, "method": method}}
            if check is not None:
                doc["location_check"] = check
            found = b"," + _members(doc)
            if len(self._located) < 4 * len(self.paths) + 8:  # areas x (map, three checks): a bound all the same
                self._located[key] = found
        return found

    def _located_pieces(self, method: str, check: str | None) -> np.ndarray:
        """A batch's third piece by area key for cases placed by `method` (with `check`)."""
        key = (method, check)
        found = self._located_by_key.get(key)
        if found is None:
            found = np.asarray(
                [self.paths[c] + self.located(c, method, check) + b"}," for c in self._keys] + [b""], dtype=object
            )
            self._located_by_key[key] = found
        return found

    def closing_pieces(self, enc) -> list:
        """The third piece of each answer of a batch read from bytes (a core SpanCases): the area path and
        the closing brace, with `located` (and `location_check`) for a case that came with a location."""
        pieces = self.closing_path_by_area_key[enc.area_key]
        located = enc.located
        if located.size and int(located.max()) >= 0 or enc.check.any():
            by_map = (located >= 0) & (enc.check == CHECK_NONE)
            pieces[by_map] = self._located_pieces("map", None)[enc.area_key[by_map]]
            for check in (CHECK_INSIDE, CHECK_OUTSIDE, CHECK_OFF_MAP):
                given = enc.check == check
                if given.any():
                    pieces[given] = self._located_pieces("given", LOCATION_CHECKS[check])[enc.area_key[given]]
        return pieces.tolist()

    def rest(self, d: Decision) -> bytes:
        """REST of a Decision (rest_of), in this rule set's root: what Outcomes.render is set to."""
        return rest_of(d, self._root)
