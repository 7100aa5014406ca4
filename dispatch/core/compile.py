"""Validated RuleSet -> Tables, in named stages: intern, rank, fold, paint, windows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from dispatch.core.clock import day_number as _day_number
from dispatch.core.kernels import _index_windows, _paint_rules
from dispatch.core.model import ANY, RuleSet
from dispatch.core.tables import BLOCK_SHIFT, DAY_MAX, DAY_MIN, NO_RULE, Tables


def day_number(day: date | None, default: int) -> int:
    return default if day is None else _day_number(day)


# -- intern: codes -> dense indices ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class _EventRanges:
    """Items are the taxonomy's leaves in pre-order, so every node's items are one range."""

    items: tuple[str, ...]
    lo: dict[str, int]
    hi: dict[str, int]


def intern_events(ruleset: RuleSet) -> _EventRanges:
    tree = ruleset.events
    leaves_before = np.zeros(len(tree.order) + 1, dtype=np.int64)
    leaves_before[1:] = np.cumsum([tree.is_leaf(c) for c in tree.order])
    lo = {c: int(leaves_before[tree.pos(c)]) for c in tree.order}
    hi = {c: int(leaves_before[tree.end(c)]) for c in tree.order}
    lo[ANY], hi[ANY] = 0, int(leaves_before[-1])
    return _EventRanges(tuple(tree.leaves()), lo, hi)


# -- fold: which areas need a column of their own -------------------------------------


@dataclass(frozen=True, slots=True)
class _Columns:
    """An area gets a column when some rule names it, when its grid
    type or its class differs from its parent's, or when a department governs it (`@local`
    changes there); any other area answers like its parent in every way, so it shares the
    parent's column. Columns follow pre-order, so every named area's subtree is one
    column range. This keeps 15-digit unit grids, which rules rarely name, out of the tables.
    """

    of_area: dict[str, int]
    lo: dict[str, int]
    hi: dict[str, int]
    grid_type: np.ndarray  # int8[cols]


def fold_areas(ruleset: RuleSet, grid_types: tuple[str, ...]) -> _Columns:
    tree = ruleset.areas
    own: set[str] = set(tree.roots()) | set(ruleset.governors)
    own.update(rule.area for rule in ruleset.rules if rule.area != ANY)
    gt_of: dict[str, str | None] = {}
    class_of: dict[str, str | None] = {}
    for code in tree.order:  # pre-order: a parent before its children
        area = tree[code]
        inherited = gt_of[area.parent] if area.parent is not None else None
        gt_of[code] = area.grid_type or inherited  # RuleSet.grid_type_of, in one pass
        inherited_class = class_of[area.parent] if area.parent is not None else None
        class_of[code] = area.area_class or inherited_class  # RuleSet.area_class, in one pass
        if area.parent is not None and (gt_of[code] != inherited or class_of[code] != inherited_class):
            own.add(code)
    owned_before = np.zeros(len(tree.order) + 1, dtype=np.int64)
    owned_before[1:] = np.cumsum([c in own for c in tree.order])
    of_area: dict[str, int] = {}
    for code in tree.order:  # pre-order: a parent is placed before its children
        of_area[code] = int(owned_before[tree.pos(code)]) if code in own else of_area[tree[code].parent]
    lo = {c: int(owned_before[tree.pos(c)]) for c in own}
    hi = {c: int(owned_before[tree.end(c)]) for c in own}
    lo[ANY], hi[ANY] = 0, int(owned_before[-1])
    gt_index = {g: i for i, g in enumerate(grid_types)}
    column_gt = np.full(int(owned_before[-1]), -1, dtype=np.int8)
    for code in own:
        g = gt_of[code]
        column_gt[of_area[code]] = gt_index[g] if g is not None else -1
    return _Columns(of_area, lo, hi, column_gt)


# -- select: every rule's selectors as arrays --------------------------------------------


class _Factor:
    """A column of values as (distinct values, int64 index of each row's value): map once per value."""

    def __init__(self, values: list):
        self.distinct = list(dict.fromkeys(values))
        lookup = {v: i for i, v in enumerate(self.distinct)}
        self.codes = np.fromiter(map(lookup.__getitem__, values), np.int64, len(values))

    def mapped(self, mapping) -> np.ndarray:
        """int64[n]: mapping(value) of each row's value."""
        return np.asarray([mapping(v) for v in self.distinct], dtype=np.int64).reshape(-1)[self.codes]


@dataclass(frozen=True, slots=True)
class _Selectors:
    """Struct of arrays over RuleSet.rules (rule order): what rank and paint read."""

    priority: np.ndarray
    event_depth: np.ndarray
    area_depth: np.ndarray
    item_lo: np.ndarray
    item_hi: np.ndarray
    col_lo: np.ndarray
    col_hi: np.ndarray
    grid_type: np.ndarray
    source: np.ndarray
    windowed: np.ndarray
    day_from: np.ndarray
    day_to: np.ndarray
    id_order: np.ndarray  # int64[n]: position of each rule's id in sorted id order


def select(
    ruleset: RuleSet, ev: _EventRanges, cols: _Columns, sources: dict[str, int], gts: dict[str, int]
) -> _Selectors:
    rules = ruleset.rules
    n = len(rules)
    events, areas = _Factor([r.event for r in rules]), _Factor([r.area for r in rules])
    ids = np.asarray([r.id for r in rules], dtype=str)
    id_order = np.empty(n, dtype=np.int64)
    id_order[np.argsort(ids, kind="stable")] = np.arange(n)
    return _Selectors(
        priority=np.fromiter((r.priority for r in rules), np.int64, n),
        event_depth=events.mapped(ruleset.event_depth),
        area_depth=areas.mapped(ruleset.area_depth),
        item_lo=events.mapped(ev.lo.__getitem__),
        item_hi=events.mapped(ev.hi.__getitem__),
        col_lo=areas.mapped(cols.lo.__getitem__),
        col_hi=areas.mapped(cols.hi.__getitem__),
        grid_type=_Factor([r.grid_type for r in rules]).mapped(lambda g: gts[g] if g else -1),
        source=_Factor([r.source for r in rules]).mapped(lambda s: sources[s] if s else -1),
        windowed=np.fromiter((r.has_window for r in rules), bool, n),
        day_from=np.fromiter((day_number(r.valid_from, DAY_MIN) for r in rules), np.int64, n),
        day_to=np.fromiter((day_number(r.valid_to, DAY_MAX) for r in rules), np.int64, n),
        id_order=id_order,
    )


# -- rank: the total order of rules ---------------------------------------------------


def rank_rules(sel: _Selectors) -> np.ndarray:
    """int32[rules]: rule indices in ascending precedence; position = rank, the last wins.

    The key is reference.rank_key's: the precedence key, then the smaller id.
    np.lexsort sorts by its last key first.
    """
    keys = (
        -sel.id_order,
        sel.windowed,
        sel.source >= 0,
        sel.grid_type >= 0,
        sel.area_depth,
        sel.event_depth,
        sel.priority,
    )
    return np.lexsort(keys).astype(np.int32)


# -- the compiler ---------------------------------------------------------------------


def compile_tables(ruleset: RuleSet) -> Tables:
    """Resolve every rule set's winner ahead of time into Tables (see Tables for the layout)."""
    sources = {s: i for i, s in enumerate(ruleset.manifest.sources)}
    grid_types = tuple(sorted({a.grid_type for a in ruleset.areas if a.grid_type}))
    gts = {g: i for i, g in enumerate(grid_types)}
    ev = intern_events(ruleset)
    cols = fold_areas(ruleset, grid_types)
    n_items, n_cols = len(ev.items), len(cols.grid_type)

    sel = select(ruleset, ev, cols, sources, gts)
    rule_by_rank = rank_rules(sel)
    rank = np.arange(len(rule_by_rank), dtype=np.int32)

    def in_rank_order(mask: np.ndarray) -> dict[str, np.ndarray]:
        """Selector arrays of the rules under `mask` (by rank), ascending rank, int32."""
        picked = rule_by_rank[mask]
        arrays = {
            name: getattr(sel, name)[picked]
            for name in ("item_lo", "item_hi", "col_lo", "col_hi", "grid_type", "source", "day_from", "day_to")
        }
        arrays["rank"] = rank[mask]
        return {k: np.ascontiguousarray(v, dtype=np.int32) for k, v in arrays.items()}

    windowed_by_rank = sel.windowed[rule_by_rank]
    plain = in_rank_order(~windowed_by_rank)
    win = in_rank_order(windowed_by_rank)

    # a plane row only for each (item, source) that a source-specific, window-less rule reaches
    reached = np.zeros((n_items + 1, len(sources)), dtype=np.int64)
    specific = plain["source"] >= 0
    np.add.at(reached, (plain["item_lo"][specific], plain["source"][specific]), 1)
    np.add.at(reached, (plain["item_hi"][specific], plain["source"][specific]), -1)
    reached = np.cumsum(reached[:-1], axis=0) > 0
    src_row = np.full((n_items, len(sources)), -1, dtype=np.int32)
    src_row[reached] = np.arange(int(reached.sum()), dtype=np.int32)

    base = np.full((n_items, n_cols), NO_RULE, dtype=np.int32)
    src_plane = np.full((int(reached.sum()), n_cols), NO_RULE, dtype=np.int32)
    _paint_rules(
        base,
        src_row,
        src_plane,
        cols.grid_type,
        plain["rank"],
        plain["item_lo"],
        plain["item_hi"],
        plain["col_lo"],
        plain["col_hi"],
        plain["grid_type"],
        plain["source"],
    )

    # windowed rules: lists by (item, column block), highest rank first, checked at match time
    order = np.arange(len(win["rank"]) - 1, -1, -1)
    blocks = max(1, (n_cols + (1 << BLOCK_SHIFT) - 1) >> BLOCK_SHIFT)
    win_ptr = np.zeros(n_items * blocks + 1, dtype=np.int32)
    spans = (win["item_lo"][order], win["item_hi"][order], win["col_lo"][order], win["col_hi"][order], n_items)
    _index_windows(win_ptr, np.empty(0, dtype=np.int32), *spans)
    np.cumsum(win_ptr, out=win_ptr)
    win_ids = np.empty(int(win_ptr[-1]), dtype=np.int32)
    _index_windows(win_ptr, win_ids, *spans)
    win_ids = order[win_ids].astype(np.int32) if win_ids.size else win_ids

    urgent = np.asarray([ruleset.item_urgent(c) for c in ev.items], dtype=bool)
    return Tables(
        version=ruleset.version,
        items=ev.items,
        columns=cols.of_area,
        sources=tuple(sources),
        grid_types=grid_types,
        base=base,
        src_row=src_row,
        src_plane=src_plane,
        col_grid_type=cols.grid_type,
        win_ptr=win_ptr,
        win_ids=win_ids,
        win_rank=win["rank"],
        win_col_lo=win["col_lo"],
        win_col_hi=win["col_hi"],
        win_grid_type=win["grid_type"],
        win_source=win["source"],
        win_from=win["day_from"],
        win_to=win["day_to"],
        rule_by_rank=rule_by_rank,
        urgent=urgent,
    )
