"""The outcome matrix: for an event (a work item or any node above), where each town's cells go, and which rules send them.

A cell is (work item, basic grid, source) on a day, as in the coverage map. Each cell has an
outcome: the department it goes to (`@local` resolved to the grid's local government), or
`manual` (the seat operators). Rows are the towns (coverage.town_columns), columns the outcomes;
every entry counts its cells and names the rules that decide them, most cells first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from dispatch.core.coverage import Label, column_labels, town_columns
from dispatch.core.decision import LOCAL
from dispatch.core.dispatcher import Dispatcher, day_of
from dispatch.core.outcomes import STATUS_CODES

MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class Entry:
    """The cells of one town that end in one outcome, and the rules that decide them (index, cells)."""

    town: int
    outcome: int
    cells: int
    rules: tuple[tuple[int, int], ...]  # (index into RuleSet.rules or -1: no rule, cells), most cells first


@dataclass(frozen=True, slots=True)
class OutcomeMatrix:
    event: str
    items: tuple[str, ...]
    day: date
    towns: tuple[Label, ...]
    outcomes: tuple[tuple[str, str], ...]  # (department code or "manual", status)
    entries: tuple[Entry, ...]
    cells: int


def outcome_matrix(dispatcher: Dispatcher, event: str, day: date) -> OutcomeMatrix:
    """The matrix of `event` (a taxonomy code) on `day`; KeyError when the taxonomy has no such code."""
    ruleset, t = dispatcher.ruleset, dispatcher.tables
    ruleset.events[event]  # KeyError for an unknown code
    items = [i for i, code in enumerate(t.items) if ruleset.events.covers(event, code)]
    columns, group_of_pos = town_columns(ruleset)
    grids = [a.code for a in ruleset.areas if a.grid_type]
    n_src = len(t.sources)
    # every (item, grid, source), flattened in that order
    item_idx = np.repeat(np.asarray(items, dtype=np.int32), len(grids) * n_src)
    grid_k = np.tile(np.repeat(np.arange(len(grids), dtype=np.int32), n_src), len(items))
    src_idx = np.tile(np.arange(n_src, dtype=np.int32), len(items) * len(grids))
    grid_cols = np.asarray([t.columns[g] for g in grids], dtype=np.int32).reshape(-1)
    cols = grid_cols[grid_k] if grids else np.zeros(0, np.int32)
    days = np.full(item_idx.shape[0], day_of(ruleset, day), dtype=np.int32)
    rules = dispatcher.match_encoded(item_idx, cols, src_idx, days)
    statuses = dispatcher.statuses(item_idx, cols, rules)
    town_of_grid = np.asarray([group_of_pos[ruleset.areas.pos(g)] for g in grids], dtype=np.int64).reshape(-1)
    locals_ = sorted({ruleset.local_department(g) or "" for g in grids})
    local_of_grid = np.asarray([locals_.index(ruleset.local_department(g) or "") for g in grids], dtype=np.int64)
    # each distinct (rule, local government, status) decides one outcome; keys packed in one int64
    n_status, n_rules = len(STATUS_CODES), len(ruleset.rules) + 1
    triple = ((rules.astype(np.int64) + 1) * len(locals_) + local_of_grid[grid_k]) * n_status + statuses
    distinct, which = np.unique(triple, return_inverse=True)
    outcomes: list[tuple[str, str]] = []
    outcome_of = np.zeros(len(distinct), dtype=np.int64)
    for k, packed in enumerate(distinct.tolist()):
        rest, status = divmod(packed, n_status)
        rule, local = divmod(rest, len(locals_))
        rule -= 1
        name = STATUS_CODES[status].value
        if name == MANUAL:
            dept = MANUAL
        else:
            dept = ruleset.rules[rule].department if rule >= 0 else LOCAL
            dept = locals_[local] if dept == LOCAL else dept
        key = (dept or LOCAL, name)
        if key not in outcomes:
            outcomes.append(key)
        outcome_of[k] = outcomes.index(key)
    cell_outcome = outcome_of[which.reshape(-1)]
    cell_town = town_of_grid[grid_k]
    packed = (cell_town * len(outcomes) + cell_outcome) * n_rules + rules + 1
    groups, counts = np.unique(packed, return_counts=True)
    by_entry: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for key, n in zip(groups.tolist(), counts.tolist(), strict=True):
        rest, rule = divmod(key, n_rules)
        town, outcome = divmod(rest, len(outcomes))
        by_entry.setdefault((town, outcome), []).append((rule - 1, n))
    keep = sorted({town for town, _ in by_entry})
    row = {town: r for r, town in enumerate(keep)}
    # outcomes by cells, most first; manual last
    total = {o: sum(n for (_, oo), rs in by_entry.items() if oo == o for _, n in rs) for o in range(len(outcomes))}
    order = sorted(range(len(outcomes)), key=lambda o: (outcomes[o][0] == MANUAL, -total[o], outcomes[o][0]))
    new_index = {o: k for k, o in enumerate(order)}
    entries = tuple(
        Entry(row[town], new_index[o], sum(n for _, n in rs), tuple(sorted(rs, key=lambda x: (-x[1], x[0]))))
        for (town, o), rs in sorted(by_entry.items(), key=lambda kv: (row[kv[0][0]], new_index[kv[0][1]]))
    )
    return OutcomeMatrix(
        event=event,
        items=tuple(t.items[i] for i in items),
        day=day,
        towns=column_labels(ruleset, [columns[k] for k in keep]),
        outcomes=tuple(outcomes[o] for o in order),
        entries=entries,
        cells=int(item_idx.shape[0]),
    )
