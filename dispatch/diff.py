"""Diff: the semantic difference of two rule sets, over the compiled cells and replayed over cases.

Two rule sets differ where a caller would see another outcome — status, department,
co-handlers, deadline hours — not where their files differ. Cells are every (item,
area, source, day stretch) that both sets know; cases are a history replayed through
both sets' batch kernels.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import numpy as np

from dispatch import kernels
from dispatch.analyze import _day_points
from dispatch.case import Case
from dispatch.clock import BAD_DAY, local_days
from dispatch.compile import EPOCH
from dispatch.decision import Status, decide
from dispatch.dispatcher import STATUS_CODES, Dispatcher
from dispatch.errors import Diagnostic, HistoryError, Place
from dispatch.history import CaseColumns, read_case_columns
from dispatch.load import read_ruleset
from dispatch.model import LOCAL, Rule, RuleSet
from dispatch.subtrees import CellGroup, group_cells

MANUAL = "manual"  # the seat operators' queue: no department
UNKNOWN = "unknown"  # a case the rule set cannot read: a code it does not know (the service answers 422)
EXAMPLES = 3  # case ids kept per move
_NO_DEPT, _UNREADABLE = -1, -2  # department ids of the two pseudo-departments
_MANUAL_STATUS = STATUS_CODES.index(Status.MANUAL)


class Outcome(NamedTuple):
    """What a caller sees of a decision; two cells differ when their outcomes do."""

    status: str
    department: str | None
    co_handlers: tuple[str, ...]
    deadline_hours: float | None


@dataclass(frozen=True, slots=True)
class Side:
    """One of the two rule sets, loaded and compiled."""

    root: str
    ruleset: RuleSet
    dispatcher: Dispatcher


class CannotDiff(Exception):
    """A rule set or a history that cannot be used: carries its diagnostics."""

    def __init__(self, what: str, diagnostics: list[Diagnostic]):
        self.what = what
        self.diagnostics = diagnostics
        super().__init__(f"{what}: {sum(d.severity.value == 'error' for d in diagnostics)} error(s)")


@dataclass(frozen=True, slots=True)
class CodeChanges:
    """Codes in one set only (they take no part in the cell comparison), and rules by id."""

    added: dict[str, list[str]]  # kind (items, areas, sources, departments) -> codes only in the new set
    removed: dict[str, list[str]]
    rules_added: list[str]
    rules_removed: list[str]
    rules_changed: list[str]  # same id, other content


@dataclass(frozen=True, slots=True)
class CellDiff:
    """The cells that change outcome.

    compared   cells compared: common items x common areas x common sources x day stretches
    changed    cells whose outcome differs
    redecided  cells with the same outcome that another rule now decides
    stretches  (from, to) of each day stretch; None is open
    groups     the changed cells, grouped by subtrees (dispatch.subtrees), most cells first
    """

    compared: int
    changed: int
    redecided: int
    stretches: list[tuple[date | None, date | None]]
    groups: list[CellGroup]


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


@dataclass(frozen=True, slots=True)
class DiffReport:
    old: Side
    new: Side
    codes: CodeChanges
    cells: CellDiff
    replay: Replay | None
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def unchanged(self) -> bool:
        moved = self.replay.moved if self.replay else 0
        return not (self.cells.changed or moved or any(self.codes.added.values()) or any(self.codes.removed.values()))

    def department_name(self, code: str | None) -> str:
        if code is None or code in (MANUAL, UNKNOWN):
            return {UNKNOWN: "unknown code: rejected"}.get(code or MANUAL, "seat operators")
        for side in (self.new, self.old):
            dept = side.ruleset.departments.get(code)
            if dept is not None:
                return dept.name
        return code


# -- the limits CI sets ---------------------------------------------------------------


def limit_breaches(report: DiffReport, max_moved: int | None = None, allow: set[str] | None = None) -> list[str]:
    """Why the change breaks the limits, one sentence each; empty when it does not.

    `allow`: department codes a change may touch; `@local` stands for every local
    government. A changed cell or a moved case whose old or new department is outside
    it breaks the limit (MANUAL and UNKNOWN are no departments).
    """
    found = []
    moved = report.replay.moved if report.replay else 0
    if max_moved is not None and moved > max_moved:
        found.append(f"{moved:,} cases move department, more than --max-moved {max_moved:,}")
    if allow is not None:
        governments = set(report.old.ruleset.governors.values()) | set(report.new.ruleset.governors.values())
        allowed = set(allow) | (governments if LOCAL in allow else set())
        touched = Counter()
        for g in report.cells.groups:
            for o in (g.old, g.new):
                if o.department is not None and o.department not in allowed:
                    touched[o.department] += g.cells
        outside_cases = Counter()
        for m in report.replay.moves if report.replay else ():
            for code in (m.old, m.new):
                if code not in (MANUAL, UNKNOWN) and code not in allowed:
                    outside_cases[code] += m.cases
        for code in sorted(set(touched) | set(outside_cases)):
            found.append(f"department {code} ({report.department_name(code)}) is outside --allow-departments: "
                         f"{touched[code]:,} changed cells, {outside_cases[code]:,} moved cases")  # fmt: skip
    return found


# -- the diff ---------------------------------------------------------------------------


def load_side(root: str | Path, what: str) -> Side:
    """Load, validate and compile a rule set as `dispatch check` does; CannotDiff on any error."""
    ruleset, diagnostics = read_ruleset(root)
    if ruleset is None:
        raise CannotDiff(f"{what} rule set {root}", diagnostics)
    return Side(str(root), ruleset, Dispatcher(ruleset))


def diff_rulesets(old_root: str | Path, new_root: str | Path, cases: str | Path | None = None,
                  at: date | None = None) -> DiffReport:  # fmt: skip
    """The semantic difference of the rule sets in two directories; raises CannotDiff.

    `at`: compare the cells of that day only (default: every day stretch).
    """
    started = time.perf_counter()
    sides, failed = [], []
    for root, what in ((old_root, "old"), (new_root, "new")):
        try:
            sides.append(load_side(root, what))
        except CannotDiff as err:  # read the other one too: a maintainer fixes both in one round
            failed.append(err)
    if failed:
        raise CannotDiff(" and ".join(e.what for e in failed), [d for e in failed for d in e.diagnostics])
    old, new = sides
    timings = {"rulesets": time.perf_counter() - started}
    history = None
    if cases is not None:
        t = time.perf_counter()
        try:
            history = read_case_columns(cases)
        except HistoryError as err:
            raise CannotDiff(f"case history {cases}", err.diagnostics) from None
        timings["history"] = time.perf_counter() - t
    return diff_sides(old, new, history, at, started, timings)


def diff_sides(old: Side, new: Side, history: CaseColumns | None = None, at: date | None = None,
               started: float | None = None, timings: dict[str, float] | None = None) -> DiffReport:  # fmt: skip
    """The diff of two loaded rule sets (and a history read); `timings` gathers seconds by stage."""
    started = time.perf_counter() if started is None else started
    timings = dict(timings or {})
    shared = _Shared(old, new)
    t = time.perf_counter()
    cells = diff_cells(shared, at)
    timings["cells"] = time.perf_counter() - t
    replay = None
    if history is not None:
        t = time.perf_counter()
        replay = replay_cases(shared, history)
        timings["replay"] = time.perf_counter() - t
    return DiffReport(old, new, code_changes(old.ruleset, new.ruleset), cells, replay,
                      time.perf_counter() - started, {k: round(v, 3) for k, v in timings.items()})  # fmt: skip


def code_changes(old: RuleSet, new: RuleSet) -> CodeChanges:
    def kinds(rs: RuleSet) -> dict[str, list[str]]:
        return {"items": rs.events.leaves(), "areas": list(rs.areas.order), "sources": list(rs.manifest.sources),
                "departments": sorted(rs.departments)}  # fmt: skip

    a, b = kinds(old), kinds(new)
    added = {k: [c for c in b[k] if c not in set(a[k])] for k in a}
    removed = {k: [c for c in a[k] if c not in set(b[k])] for k in a}
    rules_a, rules_b = {r.id: r for r in old.rules}, {r.id: r for r in new.rules}
    return CodeChanges(
        added, removed,
        rules_added=sorted(set(rules_b) - set(rules_a)),
        rules_removed=sorted(set(rules_a) - set(rules_b)),
        rules_changed=sorted(i for i in set(rules_a) & set(rules_b) if rules_a[i] != rules_b[i]),
    )  # fmt: skip


class _Shared:
    """What the two sets share, as index maps, and each rule's outcome class in one numbering.

    A rule's class is its outcome as written (department, co-handlers, deadline); two
    winners of one class give the same outcome unless the item's standard or the area's
    local government differs between the sets (item_same, gov_same).
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
            cls = [0] + [classes.setdefault((r.department, r.co_handlers, r.deadline_hours), len(classes) + 1)
                         for r in rs.rules]  # fmt: skip
            rid = [0] + [ids.setdefault(r.id, len(ids) + 1) for r in rs.rules]
            return np.asarray(cls, dtype=np.int32), np.asarray(rid, dtype=np.int32)

        self.class_a, self.rid_a = per_rule(rsa)
        self.class_b, self.rid_b = per_rule(rsb)

        def standard(rs: RuleSet, code: str) -> tuple:
            return rs.item_deadline(code), rs.item_urgent(code)

        self.item_same_a = np.zeros(len(ta.items), dtype=bool)  # by old item index
        for code in self.items:
            self.item_same_a[old.dispatcher.item_codes.index[code]] = standard(rsa, code) == standard(rsb, code)
        # department ids: shared codes, for both sets' departments
        self.depts = sorted(set(rsa.departments) | set(rsb.departments))
        dept_id = {c: i for i, c in enumerate(self.depts)}
        self.dept_id = dept_id
        self.col_gov_a = _col_governments(old, dept_id)
        self.col_gov_b = _col_governments(new, dept_id)
        self.rule_dept_a = _rule_departments(rsa, dept_id)
        self.rule_dept_b = _rule_departments(rsb, dept_id)
        self._outcomes: dict[Outcome, int] = {}

    def outcome_id(self, outcome: Outcome) -> int:
        return self._outcomes.setdefault(outcome, len(self._outcomes))

    def outcomes(self, side: Side, rules: np.ndarray, items: np.ndarray, cols: np.ndarray, area_of) -> np.ndarray:
        """int64[n] outcome ids of (winning rule, item, column) index triples.

        The outcome depends only on the rule, the item and the local government of the
        column's areas: decide() runs once for each distinct triple of those, on the
        area `area_of(j)` of the first record j that has it.
        """
        if not len(rules):
            return np.zeros(0, dtype=np.int64)
        rs, codes = side.ruleset, side.dispatcher.tables.items
        govs = (self.col_gov_a if side is self.old else self.col_gov_b)[cols].astype(np.int64) + 1
        key = ((rules.astype(np.int64) + 1) * len(codes) + items) * (len(self.depts) + 1) + govs
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        ids = np.empty(len(first), dtype=np.int64)
        for u, j in enumerate(first.tolist()):
            r, i = int(rules[j]), int(items[j])
            case = Case("", codes[i], area_of(j), "", datetime(2000, 1, 1))
            ids[u] = self.outcome_id(outcome_of(rs, case, rs.rules[r] if r >= 0 else None))
        return ids[inverse.reshape(-1)]


def outcome_of(ruleset: RuleSet, case: Case, rule: Rule | None) -> Outcome:
    d = decide(ruleset, case, rule)
    return Outcome(d.status.value, d.department.code if d.department else None,
                   tuple(u.code for u in d.co_handlers), d.deadline_hours)  # fmt: skip


def _col_governments(side: Side, dept_id: dict[str, int]) -> np.ndarray:
    """int32[cols]: the id of the local government of each column's areas, or -1."""
    out = np.full(side.dispatcher.tables.n_columns, -1, dtype=np.int32)
    for code, col in side.dispatcher.tables.columns.items():
        gov = side.ruleset.local_department(code)
        out[col] = dept_id[gov] if gov is not None else -1
    return out


def _rule_departments(ruleset: RuleSet, dept_id: dict[str, int]) -> np.ndarray:
    """int32[rules]: a rule's department id; -2 for `@local`."""
    return np.asarray([-2 if r.department == LOCAL else dept_id[r.department] for r in ruleset.rules],
                      dtype=np.int32).reshape(-1)  # fmt: skip


# -- cells --------------------------------------------------------------------------------


def diff_cells(shared: _Shared, at: date | None = None) -> CellDiff:
    """Every cell both sets know, compared through the kernel; the changed ones grouped."""
    old, new = shared.old, shared.new
    ta, tb = old.dispatcher.tables, new.dispatcher.tables
    if at is not None:
        day_points = np.asarray([(at - EPOCH).days], dtype=np.int32)
    else:
        day_points = _day_points(np.concatenate([ta.win_from, tb.win_from]), np.concatenate([ta.win_to, tb.win_to]))
    stretches = _stretches(day_points, at)
    # areas both sets know, in classes of the same (old column, new column): they answer alike
    areas_b = new.ruleset.areas
    common = [code for code in areas_b.order if code in ta.columns]
    pair_of: dict[tuple[int, int], int] = {}
    area_pair = np.fromiter((pair_of.setdefault((ta.columns[c], tb.columns[c]), len(pair_of)) for c in common),
                            np.int64, len(common))  # fmt: skip
    pairs = np.asarray(list(pair_of), dtype=np.int32).reshape(-1, 2)
    pair_weight = np.bincount(area_pair, minlength=len(pairs)).astype(np.int64)
    pair_area = [""] * len(pairs)  # one area of each class: its outcome stands for the class
    for code, p in zip(common, area_pair.tolist(), strict=True):
        pair_area[p] = pair_area[p] or code
    pair_same = (shared.col_gov_a[pairs[:, 0]] == shared.col_gov_b[pairs[:, 1]]) if len(pairs) else np.zeros(0, bool)
    items = np.asarray([(old.dispatcher.item_codes.index[c], new.dispatcher.item_codes.index[c]) for c in shared.items],
                       dtype=np.int32).reshape(-1, 2)  # fmt: skip
    srcs = np.asarray([(ta.sources.index(s), tb.sources.index(s)) for s in shared.sources],
                      dtype=np.int32).reshape(-1, 2)  # fmt: skip
    item_same = shared.item_same_a[items[:, 0]] if len(items) else np.zeros(0, bool)
    compared = len(items) * int(pair_weight.sum()) * len(srcs) * len(day_points)
    if not compared:
        return CellDiff(0, 0, 0, stretches, [])
    rec, redecided = _candidates(old, new, shared, items, pairs, srcs, day_points, item_same, pair_same, pair_weight)
    k, p, s, d, ra, rb = (rec[:, j] for j in range(6))
    oa = shared.outcomes(old, ra, items[k, 0], pairs[p, 0], lambda j: pair_area[p[j]])
    ob = shared.outcomes(new, rb, items[k, 1], pairs[p, 1], lambda j: pair_area[p[j]])
    changed = oa != ob
    cells = pair_weight[p] * np.where(s < 0, len(srcs), 1) * np.where(d < 0, len(day_points), 1)
    same_rule = shared.rid_a[ra + 1] == shared.rid_b[rb + 1]
    redecided += int(cells[~changed & ~same_rule].sum())
    pick = np.flatnonzero(changed)
    # the changes themselves: (old rule, new rule, old outcome, new outcome), numbered
    what = np.stack([ra[pick], rb[pick], oa[pick], ob[pick]], axis=1).astype(np.int64)
    kinds, change_of = np.unique(what, axis=0, return_inverse=True)
    outcome_list = list(shared._outcomes)
    changes = [(outcome_list[o_a], outcome_list[o_b], old.ruleset.rules[r_a] if r_a >= 0 else None,
                new.ruleset.rules[r_b] if r_b >= 0 else None) for r_a, r_b, o_a, o_b in kinds.tolist()]  # fmt: skip
    groups = group_cells(new.ruleset, shared.items, common, area_pair, shared.sources, stretches,
                         k[pick], p[pick], s[pick], d[pick], change_of.reshape(-1), changes)  # fmt: skip
    return CellDiff(compared, int(cells[pick].sum()), redecided, stretches, groups)


def _candidates(old: Side, new: Side, shared: _Shared, items, pairs, srcs, day_points, item_same, pair_same,
                pair_weight) -> tuple[np.ndarray, int]:  # fmt: skip
    """int32[n, 6] candidate records from the kernel (see kernels.diff_cells), and the re-decided count."""
    cap = 1 << 16
    while True:
        rec = np.empty((cap, 6), dtype=np.int32)
        counts = np.zeros(2, dtype=np.int64)
        kernels.diff_cells(rec, counts, items, pairs, srcs, day_points, shared.class_a, shared.class_b, shared.rid_a,
                           shared.rid_b, item_same, pair_same, pair_weight, *old.dispatcher.kernel_args,
                           *new.dispatcher.kernel_args)  # fmt: skip
        if counts[0] <= cap:
            return rec[: counts[0]], int(counts[1])
        cap = int(counts[0])


def _stretches(day_points: np.ndarray, at: date | None) -> list[tuple[date | None, date | None]]:
    """(from, to) of the day stretch of each day point: point d lies in [bound d-1, bound d)."""
    if at is not None:
        return [(at, at + timedelta(days=1))]
    if len(day_points) == 1:
        return [(None, None)]
    bounds = [EPOCH + timedelta(days=int(x)) for x in day_points[1:]]
    return [(None, bounds[0])] + [(bounds[j], bounds[j + 1]) for j in range(len(bounds) - 1)] + [(bounds[-1], None)]


# -- cases --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Encoded:
    items: np.ndarray
    cols: np.ndarray
    srcs: np.ndarray
    days: np.ndarray
    known: np.ndarray  # bool[n]: every code known
    unknown: dict[str, int]


def _encode(side: Side, history: CaseColumns) -> _Encoded:
    d = side.dispatcher
    items = d.item_codes.lookup_many(history.events)
    cols = d.area_codes.lookup_many(history.areas)
    srcs = d.source_codes.lookup_many(history.sources)
    days = local_days(history.stamps, side.ruleset.manifest.timezone)
    bad = days == BAD_DAY
    if bad.any():
        raise CannotDiff(f"case history {history.path}", [
            Diagnostic("value.datetime", f"reported_at {history.stamps[j]!r} is not ISO 8601",
                       Place(history.path, int(history.lines[j])))
            for j in np.flatnonzero(bad)[:100].tolist()
        ])  # fmt: skip
    first_bad = np.where(items < 0, 1, np.where(cols < 0, 2, np.where(srcs < 0, 3, 0)))
    unknown = {name: int((first_bad == code).sum()) for code, name in ((1, "event"), (2, "area"), (3, "source"))}
    return _Encoded(items, cols, srcs, days, first_bad == 0, unknown)


def _departments(enc: _Encoded, rule: np.ndarray, status: np.ndarray,
                 rule_dept: np.ndarray, col_gov: np.ndarray) -> np.ndarray:  # fmt: skip
    """int32[n] department ids of decided cases: _NO_DEPT for manual, _UNREADABLE for an unknown code."""
    cols = np.where(enc.known, enc.cols, 0)
    by_rule = np.where(rule >= 0, rule_dept[np.maximum(rule, 0)], -2)
    dept = np.where(by_rule == -2, col_gov[cols], by_rule)
    dept = np.where(status == _MANUAL_STATUS, _NO_DEPT, dept)
    return np.where(enc.known, dept, _UNREADABLE).astype(np.int32)


def replay_cases(shared: _Shared, history: CaseColumns) -> Replay:
    """Every case of `history` through both sets: who moves from which department to which."""
    old, new = shared.old, shared.new
    a, b = _encode(old, history), _encode(new, history)
    n = len(history)
    sides = []
    for side, enc, rule_dept, col_gov in ((old, a, shared.rule_dept_a, shared.col_gov_a),
                                          (new, b, shared.rule_dept_b, shared.col_gov_b)):  # fmt: skip
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
    maybe = both & ~((shared.class_a[ra + 1] == shared.class_b[rb + 1]) & shared.item_same_a[ia]
                     & (shared.col_gov_a[ca] == shared.col_gov_b[cb]))  # fmt: skip
    j = np.flatnonzero(maybe)
    reworded = 0
    if j.size:
        oa = shared.outcomes(old, ra[j], ia[j], ca[j], lambda x: history.areas[j[x]])
        reworded = int((oa != shared.outcomes(new, rb[j], ib[j], cb[j], lambda x: history.areas[j[x]])).sum())
    names = shared.depts

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
            examples = [history.ids[x] for x in m[order[st : st + min(ct, EXAMPLES)]].tolist()]
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
        path=history.path, cases=n, replayed=int(either.sum()), unknown={"old": a.unknown, "new": b.unknown},
        moved=int(moved.sum()), reworded=reworded, moves=moves,
        load=dict(sorted(load.items(), key=lambda kv: (-abs(kv[1][1] - kv[1][0]), kv[0]))), statuses=statuses,
        moved_at=m,
    )  # fmt: skip
