"""Render: decisions as wire JSON bytes, from pieces rendered once per (rule, item, local government).

Everything in an answer but the case id, the due time and the area path depends only
on the winning rule, the item and the local government of the area (see decide()).
The members are ordered so that the per-case values sit together: one answer is

    {"id":ID,"deadline":{"due":DUE,  REST  PATH}       when the case has a due time
    {"id":ID,                        REST  PATH}       when not (manual, or no deadline)

where REST is the Template (from the deadline's other members to "area_path":),
rendered once. A batch joins three pieces a case: the head (written by a kernel),
REST, and the path with its closing brace (see Engine.batch_from_body).

`wire_decision` is the plain rendering of a Decision that the templates are held to (tests).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import repeat
from typing import NamedTuple

import numpy as np
import orjson

from dispatch.api.heads import slot_of
from dispatch.core.case import Case
from dispatch.core.decision import Decision, decide, rule_file
from dispatch.core.dispatcher import STATUS_CODES, Dispatcher

_MAX_TEMPLATES = 1 << 16  # a bound: odd traffic must not grow memory without end
_ANY_MOMENT = datetime(2000, 1, 1)  # decide() needs a time; the template keeps no due time
ID_OPEN = b'{"id":'
DUE_OPEN = b',"deadline":{"due":'
NO_DUE, ODD_DUE = -1, -2  # Template.seconds when there is no due time / when it is not whole seconds
# member order on the wire (wire_decision and the templates agree on it)
ORDER = ("id", "deadline", "status", "department", "co_handlers", "command_system", "rule", "difficult", "ruleset",
         "reason", "area_path")  # fmt: skip


class Template(NamedTuple):
    rest: bytes  # from after the due time (or after the id) to "area_path":
    delta: timedelta | None  # the deadline; None: no due time (manual, or the item has no deadline)
    status: int  # index into STATUS_CODES
    seconds: int  # the deadline in whole seconds, for the batch kernel; NO_DUE or ODD_DUE


def hours(value: float) -> int | float:
    """Deadline hours as JSON shows them: 24, not 24.0."""
    return int(value) if float(value).is_integer() else value


def wire_decision(d: Decision, root: str = "") -> dict:
    """A Decision as the wire shows it (the reference the fast rendering must equal)."""
    due = None if d.deadline_hours is None else {"due": d.due, "hours": hours(d.deadline_hours),
                                                  "origin": d.deadline_origin}  # fmt: skip
    doc = {
        "id": d.case_id,
        "deadline": due,  # the due time: orjson writes RFC 3339, the offset in whole minutes
        "status": d.status.value,
        "department": {"code": d.department.code, "name": d.department.name} if d.department else None,
        "co_handlers": [{"code": u.code, "name": u.name} for u in d.co_handlers],
        "command_system": d.command_system,
        "rule": {"id": d.rule.id, "file": rule_file(d.rule.path, root), "line": d.rule.line, "basis": d.rule.basis}
        if d.rule else None,
        "difficult": d.difficult,
        "ruleset": d.ruleset,
        "reason": d.reason,
        "area_path": list(d.area_path),
    }  # fmt: skip
    return doc


def _members(doc: dict) -> bytes:
    """The members of a JSON object without its braces: to splice into a larger object."""
    return orjson.dumps(doc)[1:-1]


def template_of(d: Decision, root: str = "") -> Template:
    """The template of a Decision: its JSON minus id, due time and area path."""
    w = wire_decision(d, root)
    rest = _members({k: w[k] for k in ORDER[2:-1]}) + b',"area_path":'
    deadline = w["deadline"]
    if deadline is None or deadline["due"] is None:
        rest = b',"deadline":' + orjson.dumps(deadline) + b"," + rest
        delta, seconds = None, NO_DUE
    else:
        rest = b',"hours":' + orjson.dumps(deadline["hours"]) + b',"origin":' + orjson.dumps(deadline["origin"]) \
            + b"}," + rest  # fmt: skip
        delta = timedelta(hours=d.deadline_hours)
        seconds = int(delta.total_seconds()) if delta.microseconds == 0 else ODD_DUE
    return Template(rest, delta, STATUS_CODES.index(d.status), seconds)


class Renderer:
    """Templates and area paths of one Dispatcher's rule set; read-only but for its template cache."""

    def __init__(self, dispatcher: Dispatcher, root: str):
        ruleset, tables = dispatcher.ruleset, dispatcher.tables
        self._root = root
        self._ruleset = ruleset
        self._rules = ruleset.rules
        self._items = tables.items
        # the area path of every area code, root first, already JSON
        self.paths: dict[str, bytes] = {
            a.code: orjson.dumps([p.code for p in ruleset.areas.path(a.code)][::-1]) for a in ruleset.areas
        }
        # the same paths in the order of the area Codebook's keys, for the batch kernel's area_key
        by_key = [self.paths[code] for code in dispatcher.area_codes.keys]
        self.closing_paths = {code: path + b"}" for code, path in self.paths.items()}  # the end of one answer
        # with the answer's closing brace and the comma before the next: a batch's third piece a case
        self.closing_path_by_area_key = np.asarray([p + b"}," for p in by_key] + [b""], dtype=object)
        self.area_of_col = [""] * tables.n_columns  # one area code of each column: what templates are built from
        for code, col in tables.columns.items():
            self.area_of_col[col] = self.area_of_col[col] or code
        locals_ = sorted({ruleset.local_department(code) or "" for code in tables.columns})
        local_of_col = np.zeros(tables.n_columns, dtype=np.int64)
        for code, col in tables.columns.items():
            local_of_col[col] = locals_.index(ruleset.local_department(code) or "")
        local_of_col.setflags(write=False)
        self.local_of_col = local_of_col  # int64[columns]: index of the column's local government
        self._local_of_col = local_of_col.tolist()
        self.n_items = len(tables.items)
        self.n_locals = len(locals_)
        self._reset()

    def _reset(self) -> None:
        # templates by id, and their parts as arrays by id, so that a batch takes each part
        # for all its cases in one numpy indexing
        self._id_of: dict[int, int] = {}
        self._templates: list[Template] = []
        self.by_key: dict[int, Template] = {}  # the one-case path's look-up: a dict read, no call
        cap = 1024
        self.rests = np.empty(cap, dtype=object)
        self.seconds = np.empty(cap, dtype=np.int64)
        self.statuses = np.empty(cap, dtype=np.int64)
        # key -> id as an open-addressing table, for the batch kernel (see heads.template_id)
        self.slot_keys = np.full(2 * cap, -1, dtype=np.int64)
        self.slot_ids = np.full(2 * cap, -1, dtype=np.int32)

    @property
    def size(self) -> int:
        return len(self._templates)

    def reset_if_full(self, coming: int) -> None:
        """Drop every template when `coming` more could pass the bound: between batches, never within one."""
        if len(self._templates) + min(coming, _MAX_TEMPLATES // 2) > _MAX_TEMPLATES:
            self._reset()

    def keys(self, rules: np.ndarray, items: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """int64[n] template keys of matched cases: one per (rule or none, item, local government)."""
        return ((rules.astype(np.int64) + 1) * self.n_items + items) * self.n_locals + self.local_of_col[cols]

    def key(self, rule: int, item: int, col: int) -> int:
        return ((rule + 1) * self.n_items + item) * self.n_locals + self._local_of_col[col]

    def template(self, key: int, rule: int, item: int, area: str) -> Template:
        """The template for `key`, built from decide() on first use; `area` is any area of the key's column."""
        i = self._id_of.get(key)
        if i is None:
            if len(self._templates) >= _MAX_TEMPLATES:
                self._reset()
            i = self._add(key, rule, item, area)
        return self._templates[i]

    def template_ids(self, keys: np.ndarray, rules: np.ndarray, items: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """int64[n] template ids (indices into rests, seconds, statuses) of a batch's cases."""
        if len(self._templates) + len(keys) > _MAX_TEMPLATES:
            self._reset()  # here, before any id of this batch is handed out
        listed = keys.tolist()
        ids = np.fromiter(map(self._id_of.get, listed, repeat(-1)), dtype=np.int64, count=len(listed))
        for j in np.flatnonzero(ids < 0).tolist():
            i = self._id_of.get(listed[j])
            if i is None:
                col = int(cols[j])
                i = self._add(listed[j], int(rules[j]), int(items[j]), self.area_of_col[col])
            ids[j] = i
        return ids

    def template_id(self, key: int, rule: int, item: int, col: int) -> int:
        """The id of template `key` (of a case whose winner, item and column are given), built if new."""
        i = self._id_of.get(key)
        return i if i is not None else self._add(key, rule, item, self.area_of_col[col])

    def template_of_id(self, i: int) -> Template:
        return self._templates[i]

    def _add(self, key: int, rule: int, item: int, area: str) -> int:
        case = Case("", self._items[item], area, "", _ANY_MOMENT)
        tpl = template_of(decide(self._ruleset, case, self._rules[rule] if rule >= 0 else None), self._root)
        i = len(self._templates)
        if i == len(self.rests):
            self.rests = np.concatenate([self.rests, np.empty(i, dtype=object)])
            self.seconds = np.concatenate([self.seconds, np.empty(i, dtype=np.int64)])
            self.statuses = np.concatenate([self.statuses, np.empty(i, dtype=np.int64)])
        self._templates.append(tpl)
        self.rests[i] = tpl.rest
        self.by_key[key] = tpl
        self.seconds[i], self.statuses[i] = tpl.seconds, tpl.status
        self._id_of[key] = i
        if 2 * (i + 1) > len(self.slot_keys):  # keep the table at most half full
            self.slot_keys = np.full(4 * len(self.slot_keys), -1, dtype=np.int64)
            self.slot_ids = np.full(len(self.slot_keys), -1, dtype=np.int32)
            for old_key, old_id in self._id_of.items():
                self._insert(old_key, old_id)
        else:
            self._insert(key, i)
        return i

    def _insert(self, key: int, i: int) -> None:
        mask = len(self.slot_keys) - 1
        slot = slot_of(key, len(self.slot_keys))
        while self.slot_keys[slot] >= 0:
            slot = (slot + 1) & mask
        self.slot_keys[slot], self.slot_ids[slot] = key, i
