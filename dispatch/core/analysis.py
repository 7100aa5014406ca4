"""What the compiled tables tell about a rule set: shadowed rules, coverage, and the cells where two sets differ."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

import numpy as np

from dispatch.core import kernels
from dispatch.core.clock import day_number
from dispatch.core.dispatcher import Dispatcher
from dispatch.core.history import History
from dispatch.core.locality import unresolved_areas
from dispatch.core.model import Rule, RuleSet
from dispatch.core.outcomes import STATUS_CODES
from dispatch.core.tables import DAY_MAX, DAY_MIN


def stretch_days(win_from: np.ndarray, win_to: np.ndarray) -> np.ndarray:
    """One day in every stretch between window bounds (and before the first, after the last)."""
    bounds = np.unique(np.concatenate([win_from, win_to]))
    bounds = bounds[(bounds != DAY_MIN) & (bounds != DAY_MAX)]
    if bounds.size == 0:
        return np.zeros(1, dtype=np.int32)
    return np.concatenate([[bounds[0] - 1], bounds]).astype(np.int32)


def shadowed_rules(dispatcher: Dispatcher) -> list[Rule]:
    """Rules that win no case at all: every (item, area, source, day) they match, a higher rule takes."""
    t = dispatcher.tables
    seen = np.zeros(len(t.rule_by_rank), dtype=bool)
    kernels._mark_winners(seen, stretch_days(t.win_from, t.win_to), len(t.sources), dispatcher.lookup)
    rules = dispatcher.ruleset.rules
    return sorted((rule for rule, won in zip(rules, seen, strict=True) if not won), key=lambda r: r.place)


def shadow_example(dispatcher: Dispatcher, rule: Rule) -> Rule | None:
    """A rule that beats `rule` on one case `rule` matches; None when `rule` matches no case."""
    ruleset, t = dispatcher.ruleset, dispatcher.tables
    items = [i for i, code in enumerate(t.items) if rule.event == "*" or ruleset.events.covers(rule.event, code)]
    areas = [a.code for a in ruleset.areas if rule.area == "*" or ruleset.areas.covers(rule.area, a.code)]
    areas = [a for a in areas if rule.grid_type is None or ruleset.grid_type_of(a) == rule.grid_type]
    if not items or not areas:
        return None
    src = t.sources.index(rule.source) if rule.source else 0
    day = day_number(rule.valid_from) if rule.valid_from else (day_number(rule.valid_to) - 1 if rule.valid_to else 0)
    winner = dispatcher.rule_index(items[0], t.columns[areas[0]], src, day)
    return ruleset.rules[winner] if winner >= 0 else None


@dataclass(frozen=True, slots=True)
class Coverage:
    """How many cells or cases end in each status."""

    counts: dict[str, int]  # status -> count
    unit: str  # "cells" or "cases"

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def share(self, status: str = "auto") -> float:
        return self.counts.get(status, 0) / self.total if self.total else 0.0


def _count(statuses: np.ndarray, unit: str) -> Coverage:
    numbers = np.bincount(statuses, minlength=len(STATUS_CODES))
    return Coverage({s.value: int(n) for s, n in zip(STATUS_CODES, numbers)}, unit)


def coverage_areas(ruleset: RuleSet) -> list[str]:
    """The areas of the coverage cells: every basic grid, then the areas where `@local` cannot resolve."""
    return [a.code for a in ruleset.areas if a.grid_type] + unresolved_areas(ruleset)


def cell_coverage(dispatcher: Dispatcher, day: date) -> Coverage:
    """Statuses over every (item x basic grid x source) cell on `day`.

    A basic grid is an area with a grid type of its own (community, village, park). The
    areas above the grids where an `@local` rule cannot resolve (no local government covers
    them: locality.unresolved_areas) count too, as the service answers them: manual.
    """
    ruleset, t = dispatcher.ruleset, dispatcher.tables
    grid_cols = np.asarray([t.columns[c] for c in coverage_areas(ruleset)], dtype=np.int32)
    counts = cell_statuses_by_group(dispatcher, grid_cols, np.zeros_like(grid_cols), 1, day)
    counts = counts.sum(axis=(0, 1))
    return Coverage({s.value: int(n) for s, n in zip(STATUS_CODES, counts, strict=True)}, "cells")


def cell_statuses_by_group(
    dispatcher: Dispatcher, grid_cols: np.ndarray, grid_group: np.ndarray, n_groups: int, day: date
) -> np.ndarray:
    """int64[items, n_groups, statuses]: how many (item, grid_cols[g], source) cells on `day` end in each status,
    counted in group grid_group[g] (int32[grids]; one group for all gives cell_coverage, a group per town the map)."""
    t = dispatcher.tables
    counts = np.zeros((len(t.items), n_groups, len(STATUS_CODES)), dtype=np.int64)
    grid_cols, grid_group = (np.ascontiguousarray(a, dtype=np.int32) for a in (grid_cols, grid_group))
    if grid_cols.size and (int(grid_cols.min()) < 0 or int(grid_cols.max()) >= t.n_columns):
        raise ValueError(f"column index out of range [0, {t.n_columns})")
    if grid_group.size and (int(grid_group.min()) < 0 or int(grid_group.max()) >= n_groups):
        raise ValueError(f"group index out of range [0, {n_groups})")
    kernels._count_cell_statuses(
        counts, grid_cols, grid_group, len(t.sources), day_number(day), dispatcher.status_arrays, dispatcher.lookup
    )
    return counts


def volume_coverage(dispatcher: Dispatcher, history: History) -> Coverage:
    """Statuses over the cases of a history: the share of real work that dispatches itself."""
    idx = dispatcher.match_encoded(history.items, history.cols, history.srcs, history.days)
    return _count(dispatcher.statuses(history.items, history.cols, idx), "cases")


def ruleset_counts(ruleset: RuleSet) -> dict[str, object]:
    """What a maintainer wants to see at a glance: how big each part of the rule set is."""
    depth_names = {1: "categories", 2: "subcategories"}
    events = Counter(
        "items"
        if ruleset.events.is_leaf(c)
        else depth_names.get(ruleset.events.depth(c), f"level{ruleset.events.depth(c)}")
        for c in ruleset.events.order
    )
    areas = Counter(a.level for a in ruleset.areas)
    grid_types = Counter(a.grid_type for a in ruleset.areas if a.grid_type)
    rules = ruleset.rules
    return {
        "rules": len(rules),
        "rule_files": len({r.place.path for r in rules}),
        "events": dict(events),
        "areas": dict(areas),
        "grid_types": dict(sorted(grid_types.items())),
        "departments": len(ruleset.departments),
        "local_governments": len(ruleset.governors),
        "sources": list(ruleset.manifest.sources),
        "rule_kinds": {
            "local": sum(r.department == "@local" for r in rules),
            "windowed": sum(r.has_window for r in rules),
            "source_specific": sum(r.source is not None for r in rules),
            "grid_type_specific": sum(r.grid_type is not None for r in rules),
            "with_priority": sum(r.priority != 0 for r in rules),
            "with_co_handlers": sum(bool(r.co_handlers) for r in rules),
            "deadline_overrides": sum(r.deadline is not None for r in rules),
        },
    }


class CellClasses(NamedTuple):
    """What decides whether two sets' winners of a cell surely give the same outcome (see changed_cells).

    class_a, class_b int32[rules + 1]  an outcome class per rule index + 1 (0: no rule) of each set
    rid_a, rid_b     int32[rules + 1]  a rule identity per rule index + 1, equal across sets for the same id
    item_same        bool[items]       the common item has the same urgency and deadline in both
    pair_same        bool[pairs]       the area class has the same local government in both
    pair_weight      int64[pairs]      areas in the class
    """

    class_a: np.ndarray
    class_b: np.ndarray
    rid_a: np.ndarray
    rid_b: np.ndarray
    item_same: np.ndarray
    pair_same: np.ndarray
    pair_weight: np.ndarray


def changed_cells(
    old: Dispatcher,
    new: Dispatcher,
    items: np.ndarray,
    pairs: np.ndarray,
    srcs: np.ndarray,
    day_points: np.ndarray,
    classes: CellClasses,
) -> tuple[np.ndarray, int]:
    """The cells where `old` and `new` may answer differently, and the cells re-decided by an equal rule.

    A cell is (common item k, area class p, common source s, day point d); items, pairs and
    srcs are int32[n, 2]: the (old, new) index of each. Returns int32[m, 6] candidate
    records (k, p, s, d, old rule, new rule), coarsest first (s = -1: every source alike,
    d = -1: every day alike), for the caller to compare exactly; and the count of cells
    that another rule decides with the same outcome class, weighted by pair_weight.
    """
    for name, a, n_a, n_b in (
        ("item", items, len(old.tables.items), len(new.tables.items)),
        ("column", pairs, old.tables.n_columns, new.tables.n_columns),
        ("source", srcs, len(old.tables.sources), len(new.tables.sources)),
    ):
        if a.size and (a.min() < 0 or a[:, 0].max() >= n_a or a[:, 1].max() >= n_b):
            raise ValueError(f"{name} index out of range")
    cap = 1 << 16
    while True:
        rec = np.empty((cap, 6), dtype=np.int32)
        counts = np.zeros(2, dtype=np.int64)
        kernels._diff_cells(rec, counts, items, pairs, srcs, day_points, classes, old.lookup, new.lookup)
        if counts[0] <= cap:
            return rec[: counts[0]], int(counts[1])
        cap = int(counts[0])
