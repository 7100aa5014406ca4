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
from dispatch.core.dispatcher import Dispatcher

ID_OPEN = b'{"id":'
DUE_OPEN = b',"deadline":{"due":'
PROVISIONAL = (b',"provisional":false', b',"provisional":true')  # after the due time, by provisional
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

    _HHMM = tuple(f"{h:02d}:{m:02d}:".encode() for h in range(24) for m in range(60))
    _SS = tuple(f"{s:02d}".encode() for s in range(60))

    def __init__(self) -> None:
        self._days: dict[int, bytes] = {}
        self._offsets: dict[int, bytes] = {}

    def json(self, due: int, offset: int) -> bytes:
        if offset % 60:  # a zone's local mean time (before 1901): as orjson writes it, like every other path
            return orjson.dumps(datetime.fromtimestamp(due, fixed_zone(offset)))
        wall = due + offset
        day, sod = divmod(wall, 86400)
        prefix = self._days.get(day) or self._day(day)
        suffix = self._offsets.get(offset) or self._offset(offset)
        return prefix + self._HHMM[sod // 60] + self._SS[sod % 60] + suffix

    def _day(self, day: int) -> bytes:
        if len(self._days) > 4096:
            self._days.clear()
        text = self._days[day] = f'"{(EPOCH + timedelta(days=day)).isoformat()}T'.encode()
        return text

    def _offset(self, offset: int) -> bytes:
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

    def rest(self, d: Decision) -> bytes:
        """REST of a Decision (rest_of), in this rule set's root: what Outcomes.render is set to."""
        return rest_of(d, self._root)
