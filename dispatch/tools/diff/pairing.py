"""Pairing: two compiled rule sets side by side — the codes both know, and outcomes in one numbering."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import numpy as np

from dispatch.core.case import Case
from dispatch.core.decision import decide
from dispatch.core.dispatcher import Dispatcher
from dispatch.core.model import LOCAL, Rule, RuleSet
from dispatch.core.worktime import Deadline


class VisibleOutcome(NamedTuple):
    """What a caller sees of a decision; two cells differ when their outcomes do."""

    status: str
    department: str | None
    co_handlers: tuple[str, ...]
    deadline: Deadline | None


@dataclass(frozen=True, slots=True)
class Side:
    """One of the two rule sets, loaded and compiled."""

    root: str
    ruleset: RuleSet
    dispatcher: Dispatcher


class Pairing:
    """What the two sets share, as index maps, and each rule's outcome class in one numbering.

    A rule's class is its outcome as written (department, co-handlers, deadline); two
    winners of one class give the same outcome unless the item's standard (deadline,
    urgency) or the area's local government or class differs between the sets.

    items, sources        codes both sets know, in the old set's order
    class_a, class_b      int32[rules + 1]: outcome class by rule index + 1 (0: no rule)
    rid_a, rid_b          int32[rules + 1]: rule id, numbered across both sets (0: no rule)
    item_same_a           bool[old items]: the item has the same standard in both sets
    depts                 department codes of both sets; a department id indexes it
    col_gov_a, col_gov_b  int32[cols]: the local government of a column's areas, or -1
    col_class_a, _b       int32[cols]: the class of a column's areas (numbered across both sets), or -1
    rule_dept_a, _b       int32[rules]: a rule's department, -2 for `@local`
    """

    def __init__(self, old: Side, new: Side):
        self.old, self.new = old, new
        ta, tb = old.dispatcher.tables, new.dispatcher.tables
        rsa, rsb = old.ruleset, new.ruleset
        self.items = [c for c in ta.items if c in new.dispatcher.item_codes.index]
        self.sources = [s for s in ta.sources if s in tb.sources]
        classes: dict[tuple, int] = {}
        ids: dict[str, int] = {}

        def per_rule(rs: RuleSet) -> tuple[np.ndarray, np.ndarray]:
            cls = [0] + [
                classes.setdefault((r.department, r.co_handlers, r.deadline), len(classes) + 1) for r in rs.rules
            ]
            rid = [0] + [ids.setdefault(r.id, len(ids) + 1) for r in rs.rules]
            return np.asarray(cls, dtype=np.int32), np.asarray(rid, dtype=np.int32)

        self.class_a, self.rid_a = per_rule(rsa)
        self.class_b, self.rid_b = per_rule(rsb)

        def standard(rs: RuleSet, code: str) -> tuple:
            return rs.item_deadline(code), rs.item_urgent(code)

        self.item_same_a = np.zeros(len(ta.items), dtype=bool)  # by old item index
        for code in self.items:
            self.item_same_a[old.dispatcher.item_codes.index[code]] = standard(rsa, code) == standard(rsb, code)
        self.depts = sorted(set(rsa.departments) | set(rsb.departments))
        dept_id = {c: i for i, c in enumerate(self.depts)}
        self.col_gov_a = _col_governments(old, dept_id)
        self.col_gov_b = _col_governments(new, dept_id)
        self.rule_dept_a = _rule_departments(rsa, dept_id)
        self.rule_dept_b = _rule_departments(rsb, dept_id)
        class_id: dict[str, int] = {}
        self.col_class_a = _col_classes(old, class_id)
        self.col_class_b = _col_classes(new, class_id)
        self.n_classes = len(class_id)
        self._outcomes: dict[VisibleOutcome, int] = {}

    def outcome_id(self, outcome: VisibleOutcome) -> int:
        return self._outcomes.setdefault(outcome, len(self._outcomes))

    def outcome_list(self) -> list[VisibleOutcome]:
        """The outcomes met so far, by id."""
        return list(self._outcomes)

    def outcomes(self, side: Side, rules: np.ndarray, items: np.ndarray, cols: np.ndarray, area_of) -> np.ndarray:
        """int64[n] outcome ids of (winning rule, item, column) index triples.

        The outcome depends only on the rule, the item and the local government and class
        of the column's areas: decide() runs once for each distinct key of those, on the
        area `area_of(j)` of the first record j that has it.
        """
        if not len(rules):
            return np.zeros(0, dtype=np.int64)
        rs, codes = side.ruleset, side.dispatcher.tables.items
        govs = (self.col_gov_a if side is self.old else self.col_gov_b)[cols].astype(np.int64) + 1
        klass = (self.col_class_a if side is self.old else self.col_class_b)[cols].astype(np.int64) + 1
        key = ((rules.astype(np.int64) + 1) * len(codes) + items) * (len(self.depts) + 1) + govs
        key = key * (self.n_classes + 1) + klass
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        ids = np.empty(len(first), dtype=np.int64)
        for u, j in enumerate(first.tolist()):
            r, i = int(rules[j]), int(items[j])
            case = Case("", codes[i], area_of(j), "", datetime(2000, 1, 1))
            ids[u] = self.outcome_id(outcome_of(rs, case, rs.rules[r] if r >= 0 else None))
        return ids[inverse.reshape(-1)]


def outcome_of(ruleset: RuleSet, case: Case, rule: Rule | None) -> VisibleOutcome:
    d = decide(ruleset, case, rule)
    return VisibleOutcome(
        d.status.value,
        d.department.code if d.department else None,
        tuple(u.code for u in d.co_handlers),
        d.deadline,
    )


def _col_governments(side: Side, dept_id: dict[str, int]) -> np.ndarray:
    """int32[cols]: the id of the local government of each column's areas, or -1."""
    out = np.full(side.dispatcher.tables.n_columns, -1, dtype=np.int32)
    for code, col in side.dispatcher.tables.columns.items():
        gov = side.ruleset.local_department(code)
        out[col] = dept_id[gov] if gov is not None else -1
    return out


def _col_classes(side: Side, class_id: dict[str, int]) -> np.ndarray:
    """int32[cols]: the id of the class of each column's areas, or -1 (ids shared by both sides)."""
    out = np.full(side.dispatcher.tables.n_columns, -1, dtype=np.int32)
    for code, col in side.dispatcher.tables.columns.items():
        klass = side.ruleset.area_class(code)
        out[col] = class_id.setdefault(klass, len(class_id)) if klass is not None else -1
    return out


def _rule_departments(ruleset: RuleSet, dept_id: dict[str, int]) -> np.ndarray:
    """int32[rules]: a rule's department id; -2 for `@local`."""
    return np.asarray(
        [-2 if r.department == LOCAL else dept_id[r.department] for r in ruleset.rules], dtype=np.int32
    ).reshape(-1)
