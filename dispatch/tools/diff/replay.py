"""Replay: a case history through two rule sets, in their batch kernels — who moves where."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from dispatch.core.decision import Status
from dispatch.core.history import CaseColumns, EncodedCases, encode_cases
from dispatch.core.outcomes import STATUS_CODES
from dispatch.tools.diff.pairing import Pairing

MANUAL = "manual"  # the seat operators' queue: no department
UNKNOWN = "unknown"  # a case the rule set cannot read: a code it does not know (the service answers 422)
EXAMPLES = 3  # case ids kept per move
_NO_DEPT, _UNREADABLE = -1, -2  # department ids of the two pseudo-departments
_MANUAL_STATUS = STATUS_CODES.index(Status.MANUAL)


@dataclass(frozen=True, slots=True)
class Move:
    old: str  # department code, MANUAL or UNKNOWN
    new: str
    cases: int
    examples: list[str]


@dataclass(frozen=True, slots=True)
class Replay:
    """A case history through both sets.

    cases      cases in the file
    replayed   cases at least one set can read
    unknown    side ("old", "new") -> field -> cases that side cannot read, by its first unknown field
    moved      cases whose department changes (MANUAL and UNKNOWN count as departments)
    reworded   cases that keep their department but change status, co-handlers or deadline
    moves      old -> new department, most cases first
    load       department -> (old cases, new cases), for every department that has some
    statuses   (old status, new status) -> cases, for the cases whose status changes
    moved_at   int64[moved]: the positions in the history of the cases that move
    """

    path: str
    cases: int
    replayed: int
    unknown: dict[str, dict[str, int]]
    moved: int
    reworded: int
    moves: list[Move]
    load: dict[str, tuple[int, int]]
    statuses: dict[tuple[str, str], int]
    moved_at: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, dtype=np.int64))


def _departments(
    enc: EncodedCases, rule: np.ndarray, status: np.ndarray, rule_dept: np.ndarray, col_gov: np.ndarray
) -> np.ndarray:
    """int32[n] department ids of decided cases: _NO_DEPT for manual, _UNREADABLE for an unknown code."""
    cols = np.where(enc.known, enc.cols, 0)
    by_rule = np.where(rule >= 0, rule_dept[np.maximum(rule, 0)], -2)
    dept = np.where(by_rule == -2, col_gov[cols], by_rule)
    dept = np.where(status == _MANUAL_STATUS, _NO_DEPT, dept)
    return np.where(enc.known, dept, _UNREADABLE).astype(np.int32)


def replay_cases(pairing: Pairing, history: CaseColumns) -> Replay:
    """Every case of `history` through both sets: who moves from which department to which.

    Raises HistoryError for a malformed report time (file:line).
    """
    old, new = pairing.old, pairing.new
    joined = history.joined_all()
    a, b = encode_cases(history, old.dispatcher, joined), encode_cases(history, new.dispatcher, joined)
    del joined
    n = len(history)
    sides = []
    for side, enc, rule_dept, col_gov in (
        (old, a, pairing.rule_dept_a, pairing.col_gov_a),
        (new, b, pairing.rule_dept_b, pairing.col_gov_b),
    ):
        items, cols, srcs = (np.where(enc.known, x, 0).astype(np.int32) for x in (enc.items, enc.cols, enc.srcs))
        rule = side.dispatcher.match_encoded(items, cols, srcs, enc.days)
        rule[~enc.known] = -1
        status = side.dispatcher.statuses(items, cols, rule).astype(np.int32)
        status[~enc.known] = len(STATUS_CODES)  # UNKNOWN
        dept = _departments(enc, rule, status, rule_dept, col_gov)
        sides.append((items, cols, rule, status, dept))
    (ia, ca, ra, sa, da), (ib, cb, rb, sb, db) = sides
    either = a.known | b.known
    moved = either & (da != db)
    # same department, both readable: did the status, co-handlers or deadline change?
    both = a.known & b.known & ~moved
    maybe = both & ~(
        (pairing.class_a[ra + 1] == pairing.class_b[rb + 1])
        & pairing.item_same_a[ia]
        & (pairing.col_gov_a[ca] == pairing.col_gov_b[cb])
        & (pairing.col_class_a[ca] == pairing.col_class_b[cb])
    )
    j = np.flatnonzero(maybe)
    reworded = 0
    if j.size:

        def area_of(x: int) -> str:
            return history.value("area", int(j[x]))

        oa = pairing.outcomes(old, ra[j], ia[j], ca[j], area_of)
        reworded = int((oa != pairing.outcomes(new, rb[j], ib[j], cb[j], area_of)).sum())
    names = pairing.depts

    def dept_code(x: int) -> str:
        return MANUAL if x == _NO_DEPT else UNKNOWN if x == _UNREADABLE else names[x]

    moves = []
    m = np.flatnonzero(moved)
    if m.size:
        key = (da[m].astype(np.int64) + 2) * (len(names) + 2) + (db[m] + 2)
        order = np.argsort(key, kind="stable")
        keys, starts, counts = np.unique(key[order], return_index=True, return_counts=True)
        for kv, st, ct in zip(keys.tolist(), starts.tolist(), counts.tolist(), strict=True):
            frm, to = divmod(kv, len(names) + 2)
            examples = [history.value("id", x) for x in m[order[st : st + min(ct, EXAMPLES)]].tolist()]
            moves.append(Move(dept_code(frm - 2), dept_code(to - 2), ct, examples))
        moves.sort(key=lambda mv: (-mv.cases, mv.old, mv.new))
    load: dict[str, tuple[int, int]] = {}
    for x in np.unique(np.concatenate([da[either], db[either]])).tolist():
        load[dept_code(x)] = (int((da[either] == x).sum()), int((db[either] == x).sum()))
    status_names = [s.value for s in STATUS_CODES] + [UNKNOWN]
    changed = either & (sa != sb)
    transitions = Counter(zip(sa[changed].tolist(), sb[changed].tolist(), strict=True))
    statuses = {(status_names[x], status_names[y]): c for (x, y), c in sorted(transitions.items(), key=lambda t: -t[1])}
    return Replay(
        path=history.path,
        cases=n,
        replayed=int(either.sum()),
        unknown={"old": a.unknown, "new": b.unknown},
        moved=int(moved.sum()),
        reworded=reworded,
        moves=moves,
        load=dict(sorted(load.items(), key=lambda kv: (-abs(kv[1][1] - kv[1][0]), kv[0]))),
        statuses=statuses,
        moved_at=m,
    )
