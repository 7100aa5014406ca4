"""Render: decisions as wire JSON bytes, from pieces rendered once per outcome.

Everything in an answer but the case id, the due time (and whether it is provisional)
and the area path depends only on the winning rule, the item and the local government
and class of the area: the core's outcome (core/outcomes.py). The members are ordered
so that the per-case values sit together: one answer is

    {"id":ID,"deadline":{"due":DUE,"provisional":P,  REST  PATH}   when the case has a due time
    {"id":ID,                                         REST  PATH}   when not (manual, or no deadline)

where REST (from the deadline's other members to "area_path":) is rendered once per
outcome and kept with it (Outcome.rendered). A batch joins three pieces a case: the
head (written by a kernel, heads.py), REST, and the path with its closing brace (see
Responder.batch_from_body).

`wire_decision` is the plain rendering of a Decision that the pieces are held to (tests).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import orjson

from dispatch.core.clock import EPOCH, fixed_zone
from dispatch.core.decision import Decision, Status, rule_file
from dispatch.core.dispatcher import CHECK_INSIDE, CHECK_NONE, CHECK_OFF_MAP, CHECK_OUTSIDE, LOCATION_CHECKS, Dispatcher

ID_OPEN = b'{"id":'
DUE_OPEN = b',"deadline":{"due":'
PROVISIONAL = (b',"provisional":false', b',"provisional":true')  # after the due time, by provisional
HHMM = tuple(f"{h:02d}:{m:02d}:".encode() for h in range(24) for m in range(60))  # a due time's pieces
SS = tuple(f"{s:02d}".encode() for s in range(60))
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


def wire_decision(d: Decision, root: str = "") -> dict:
    """A Decision as the wire shows it (the reference the fast rendering must equal)."""
    deadline = (
        None
        if d.deadline is None
        else {
            "due": d.due,
            "provisional": d.provisional,
            "value": str(d.deadline),
            "origin": d.deadline_origin,
            "class": d.deadline_class,
        }
    )
    doc = {
        "id": d.case_id,
        "deadline": deadline,  # the due time: orjson writes RFC 3339, the offset in whole minutes
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
    if deadline is None or d.status is Status.MANUAL:  # no due time (decide() may have given an outcome none)
        return b',"deadline":' + orjson.dumps(deadline) + b"," + rest
    return b"," + _members({k: deadline[k] for k in ("value", "origin", "class")}) + b"}," + rest


class Stamps:
    """Due times as JSON strings ("2026-12-07T14:30:00+08:00"), from UTC seconds and an offset,
    out of small tables: a dict read and three list reads instead of a datetime and its format."""

    def __init__(self) -> None:
        self.days: dict[int, bytes] = {}  # day number -> b'"YYYY-MM-DDT'
        self._offsets: dict[int, bytes] = {}

    def json(self, due: int, offset: int) -> bytes:
        if offset % 60:  # a zone's local mean time (before 1901): as orjson writes it, like every other path
            return orjson.dumps(datetime.fromtimestamp(due, fixed_zone(offset)))
        wall = due + offset
        day, sod = divmod(wall, 86400)
        prefix = self.days.get(day) or self.day(day)
        suffix = self._offsets.get(offset) or self.offset(offset)
        return prefix + HHMM[sod // 60] + SS[sod % 60] + suffix

    def day(self, day: int) -> bytes:
        if len(self.days) > 4096:
            self.days.clear()
        text = self.days[day] = f'"{(EPOCH + timedelta(days=day)).isoformat()}T'.encode()
        return text

    def offset(self, offset: int) -> bytes:
        sign, a = ("+" if offset >= 0 else "-"), abs(offset)
        text = self._offsets[offset] = f'{sign}{a // 3600:02d}:{a // 60 % 60:02d}"'.encode()
        return text


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
