"""What the compiled tables tell about a rule set: shadowed rules and coverage."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

import numpy as np

from dispatch.core import kernels
from dispatch.core.compile import EPOCH
from dispatch.core.dispatcher import STATUS_CODES, Dispatcher
from dispatch.core.history import History
from dispatch.core.model import Rule, RuleSet
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
    kernels.mark_winners(seen, stretch_days(t.win_from, t.win_to), len(t.sources), *dispatcher.kernel_args)
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
    day = (rule.valid_from - EPOCH).days if rule.valid_from else ((rule.valid_to - EPOCH).days - 1 if rule.valid_to else 0)
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


def cell_coverage(dispatcher: Dispatcher, day: date) -> Coverage:
    """Statuses over every (item x basic grid x source) cell on `day`.

    A basic grid is an area with a grid type of its own (community, village, park).
    """
    ruleset, t = dispatcher.ruleset, dispatcher.tables
    grid_cols = np.asarray([t.columns[a.code] for a in ruleset.areas if a.grid_type], dtype=np.int32)
    counts = np.zeros((len(t.items), 1, len(STATUS_CODES)), dtype=np.int64)
    kernels.count_cell_statuses_by_group(counts, grid_cols, np.zeros_like(grid_cols), len(t.sources),
                                         (day - EPOCH).days, *dispatcher.status_args, *dispatcher.kernel_args)  # fmt: skip
    counts = counts.sum(axis=(0, 1))
    return Coverage({s.value: int(n) for s, n in zip(STATUS_CODES, counts, strict=True)}, "cells")


def volume_coverage(dispatcher: Dispatcher, history: History) -> Coverage:
    """Statuses over the cases of a history: the share of real work that dispatches itself."""
    idx = dispatcher.match_encoded(history.items, history.cols, history.srcs, history.days)
    return _count(dispatcher.statuses(history.items, history.cols, idx), "cases")

def ruleset_counts(ruleset: RuleSet) -> dict[str, object]:
    """What a maintainer wants to see at a glance: how big each part of the rule set is."""
    depth_names = {1: "categories", 2: "subcategories"}
    events = Counter(
        "items" if ruleset.events.is_leaf(c) else depth_names.get(ruleset.events.depth(c), f"level{ruleset.events.depth(c)}")
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
            "deadline_overrides": sum(r.deadline_hours is not None for r in rules),
        },
    }
