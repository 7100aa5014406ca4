"""Diff: the semantic difference of two rule sets, over the compiled cells and replayed over cases.

Two rule sets differ where a caller would see another outcome — status, department,
co-handlers, deadline — not where their files differ. Cells are every (item,
area, source, day stretch) that both sets know; cases are a history replayed through
both sets' batch kernels.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from dispatch.core.analysis import CellClasses, changed_cells, stretch_days
from dispatch.core.clock import day_number, day_of_number
from dispatch.core.dispatcher import Dispatcher
from dispatch.core.errors import Diagnostic, HistoryError
from dispatch.core.history import CaseColumns, read_case_columns
from dispatch.core.load import read_ruleset
from dispatch.core.model import LOCAL, RuleSet
from dispatch.tools.diff.pairing import Pairing, Side
from dispatch.tools.diff.replay import MANUAL, UNKNOWN, Replay, replay_cases
from dispatch.tools.diff.subtrees import CellGroup, group_cells


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
    groups     the changed cells, grouped by subtrees (dispatch.tools.diff.subtrees), most cells first
    """

    compared: int
    changed: int
    redecided: int
    stretches: list[tuple[date | None, date | None]]
    groups: list[CellGroup]


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
        """The department's name in the new set (else the old); the pseudo-departments' meaning."""
        if code == UNKNOWN:
            return "unknown code: rejected"
        if code is None or code == MANUAL:
            return "seat operators"
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
            found.append(
                f"department {code} ({report.department_name(code)}) is outside --allow-departments: "
                f"{touched[code]:,} changed cells, {outside_cases[code]:,} moved cases"
            )
    return found


def unknown_departments(report: DiffReport, allow: set[str]) -> list[str]:
    """Codes of an allow-list that neither rule set defines: a typo would fail every change."""
    known = set(report.old.ruleset.departments) | set(report.new.ruleset.departments) | {LOCAL}
    return sorted(set(allow) - known)


# -- the diff ---------------------------------------------------------------------------


def load_side(root: str | Path, what: str) -> Side:
    """Load, validate and compile a rule set as `dispatch check` does; CannotDiff on any error."""
    ruleset, diagnostics = read_ruleset(root)
    if ruleset is None:
        raise CannotDiff(f"{what} rule set {root}", diagnostics)
    return Side(str(root), ruleset, Dispatcher(ruleset))


def diff_rulesets(
    old_root: str | Path, new_root: str | Path, cases: str | Path | None = None, at: date | None = None
) -> DiffReport:
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


def diff_sides(
    old: Side,
    new: Side,
    history: CaseColumns | None = None,
    at: date | None = None,
    started: float | None = None,
    timings: dict[str, float] | None = None,
) -> DiffReport:
    """The diff of two loaded rule sets (and a history read); `timings` gathers seconds by stage."""
    started = time.perf_counter() if started is None else started
    timings = dict(timings or {})
    pairing = Pairing(old, new)
    t = time.perf_counter()
    cells = diff_cells(pairing, at)
    timings["cells"] = time.perf_counter() - t
    replay = None
    if history is not None:
        t = time.perf_counter()
        try:
            replay = replay_cases(pairing, history)
        except HistoryError as err:
            raise CannotDiff(f"case history {history.path}", err.diagnostics) from None
        timings["replay"] = time.perf_counter() - t
    return DiffReport(
        old,
        new,
        code_changes(old.ruleset, new.ruleset),
        cells,
        replay,
        time.perf_counter() - started,
        {k: round(v, 3) for k, v in timings.items()},
    )


def code_changes(old: RuleSet, new: RuleSet) -> CodeChanges:
    def kinds(rs: RuleSet) -> dict[str, list[str]]:
        return {
            "items": rs.events.leaves(),
            "areas": list(rs.areas.order),
            "sources": list(rs.manifest.sources),
            "departments": sorted(rs.departments),
        }

    a, b = kinds(old), kinds(new)
    added = {k: [c for c in b[k] if c not in set(a[k])] for k in a}
    removed = {k: [c for c in a[k] if c not in set(b[k])] for k in a}
    rules_a, rules_b = {r.id: r for r in old.rules}, {r.id: r for r in new.rules}
    return CodeChanges(
        added,
        removed,
        rules_added=sorted(set(rules_b) - set(rules_a)),
        rules_removed=sorted(set(rules_a) - set(rules_b)),
        rules_changed=sorted(i for i in set(rules_a) & set(rules_b) if rules_a[i] != rules_b[i]),
    )


# -- cells --------------------------------------------------------------------------------


def diff_cells(pairing: Pairing, at: date | None = None) -> CellDiff:
    """Every cell both sets know, compared through the kernel; the changed ones grouped."""
    old, new = pairing.old, pairing.new
    ta, tb = old.dispatcher.tables, new.dispatcher.tables
    if at is not None:
        day_points = np.asarray([day_number(at)], dtype=np.int32)
    else:
        day_points = stretch_days(np.concatenate([ta.win_from, tb.win_from]), np.concatenate([ta.win_to, tb.win_to]))
    stretches = _stretches(day_points, at)
    # areas both sets know, in classes of the same (old column, new column): they answer alike
    areas_b = new.ruleset.areas
    common = [code for code in areas_b.order if code in ta.columns]
    pair_of: dict[tuple[int, int], int] = {}
    area_pair = np.fromiter(
        (pair_of.setdefault((ta.columns[c], tb.columns[c]), len(pair_of)) for c in common), np.int64, len(common)
    )
    pairs = np.asarray(list(pair_of), dtype=np.int32).reshape(-1, 2)
    pair_weight = np.bincount(area_pair, minlength=len(pairs)).astype(np.int64)
    pair_area = [""] * len(pairs)  # one area of each class: its outcome stands for the class
    for code, p in zip(common, area_pair.tolist(), strict=True):
        pair_area[p] = pair_area[p] or code
    pair_same = (
        (pairing.col_gov_a[pairs[:, 0]] == pairing.col_gov_b[pairs[:, 1]])
        & (pairing.col_class_a[pairs[:, 0]] == pairing.col_class_b[pairs[:, 1]])
        if len(pairs)
        else np.zeros(0, bool)
    )
    items = np.asarray(
        [(old.dispatcher.item_codes.index[c], new.dispatcher.item_codes.index[c]) for c in pairing.items],
        dtype=np.int32,
    ).reshape(-1, 2)
    srcs = np.asarray([(ta.sources.index(s), tb.sources.index(s)) for s in pairing.sources], dtype=np.int32).reshape(
        -1, 2
    )
    item_same = pairing.item_same_a[items[:, 0]] if len(items) else np.zeros(0, bool)
    compared = len(items) * int(pair_weight.sum()) * len(srcs) * len(day_points)
    if not compared:
        return CellDiff(0, 0, 0, stretches, [])
    classes = CellClasses(
        pairing.class_a, pairing.class_b, pairing.rid_a, pairing.rid_b, item_same, pair_same, pair_weight
    )
    rec, redecided = changed_cells(old.dispatcher, new.dispatcher, items, pairs, srcs, day_points, classes)
    k, p, s, d, ra, rb = (rec[:, j] for j in range(6))
    oa = pairing.outcomes(old, ra, items[k, 0], pairs[p, 0], lambda j: pair_area[p[j]])
    ob = pairing.outcomes(new, rb, items[k, 1], pairs[p, 1], lambda j: pair_area[p[j]])
    changed = oa != ob
    cells = pair_weight[p] * np.where(s < 0, len(srcs), 1) * np.where(d < 0, len(day_points), 1)
    same_rule = pairing.rid_a[ra + 1] == pairing.rid_b[rb + 1]
    redecided += int(cells[~changed & ~same_rule].sum())
    pick = np.flatnonzero(changed)
    # the changes themselves: (old rule, new rule, old outcome, new outcome), numbered
    what = np.stack([ra[pick], rb[pick], oa[pick], ob[pick]], axis=1).astype(np.int64)
    kinds, change_of = np.unique(what, axis=0, return_inverse=True)
    outcome_list = pairing.outcome_list()
    changes = [
        (
            outcome_list[o_a],
            outcome_list[o_b],
            old.ruleset.rules[r_a] if r_a >= 0 else None,
            new.ruleset.rules[r_b] if r_b >= 0 else None,
        )
        for r_a, r_b, o_a, o_b in kinds.tolist()
    ]
    groups = group_cells(
        new.ruleset,
        pairing.items,
        common,
        area_pair,
        pairing.sources,
        stretches,
        k[pick],
        p[pick],
        s[pick],
        d[pick],
        change_of.reshape(-1),
        changes,
    )
    return CellDiff(compared, int(cells[pick].sum()), redecided, stretches, groups)


def _stretches(day_points: np.ndarray, at: date | None) -> list[tuple[date | None, date | None]]:
    """(from, to) of the day stretch of each day point: point d lies in [bound d-1, bound d)."""
    if at is not None:
        return [(at, at + timedelta(days=1))]
    if len(day_points) == 1:
        return [(None, None)]
    bounds = [day_of_number(int(x)) for x in day_points[1:]]
    return [(None, bounds[0])] + [(bounds[j], bounds[j + 1]) for j in range(len(bounds) - 1)] + [(bounds[-1], None)]
