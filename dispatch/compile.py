"""Validated RuleSet -> Tables, in named stages: intern, rank, fold, paint, windows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from dispatch.kernels import index_windows, paint_rules
from dispatch.model import ANY, Rule, RuleSet
from dispatch.reference import rank_key
from dispatch.tables import BLOCK_SHIFT, DAY_MAX, DAY_MIN, NO_RULE, Tables

EPOCH = date(1970, 1, 1)


def day_number(day: date | None, default: int) -> int:
    return default if day is None else (day - EPOCH).days


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
    type differs from its parent's, or when a department governs it (`@local` changes
    there); any other area answers like its parent in every way, so it shares the
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
    gt_of = {c: ruleset.grid_type_of(c) for c in tree.order}
    for code in tree.order:
        parent = tree[code].parent
        if parent is not None and gt_of[code] != gt_of[parent]:
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


# -- rank: the total order of rules ---------------------------------------------------


def rank_rules(ruleset: RuleSet) -> np.ndarray:
    """int32[rules]: rule indices in ascending precedence; position = rank, the last wins."""
    order = sorted(range(len(ruleset.rules)), key=lambda i: rank_key(ruleset, ruleset.rules[i]))
    return np.asarray(order, dtype=np.int32)


# -- the compiler ---------------------------------------------------------------------


def _selector_arrays(rules: list[Rule], ranks: list[int], ev: _EventRanges, cols: _Columns,
                     sources: dict[str, int], gts: dict[str, int]) -> dict[str, np.ndarray]:  # fmt: skip
    def arr(values) -> np.ndarray:
        return np.asarray(values, dtype=np.int32).reshape(-1)

    return {
        "rank": arr(ranks),
        "item_lo": arr([ev.lo[r.event] for r in rules]),
        "item_hi": arr([ev.hi[r.event] for r in rules]),
        "col_lo": arr([cols.lo[r.area] for r in rules]),
        "col_hi": arr([cols.hi[r.area] for r in rules]),
        "grid_type": arr([gts[r.grid_type] if r.grid_type else -1 for r in rules]),
        "source": arr([sources[r.source] if r.source else -1 for r in rules]),
    }


def compile_tables(ruleset: RuleSet) -> Tables:
    """Resolve every rule set's winner ahead of time into Tables (see Tables for the layout)."""
    sources = {s: i for i, s in enumerate(ruleset.manifest.sources)}
    grid_types = tuple(sorted({a.grid_type for a in ruleset.areas if a.grid_type}))
    gts = {g: i for i, g in enumerate(grid_types)}
    ev = intern_events(ruleset)
    cols = fold_areas(ruleset, grid_types)
    n_items, n_cols = len(ev.items), len(cols.grid_type)

    rule_by_rank = rank_rules(ruleset)
    ordered = [ruleset.rules[i] for i in rule_by_rank]
    plain = [(rank, r) for rank, r in enumerate(ordered) if not r.has_window]
    windowed = [(rank, r) for rank, r in enumerate(ordered) if r.has_window]

    # source planes only for the items a source-specific, window-less rule reaches
    src_row = np.full(n_items, -1, dtype=np.int32)
    reached = np.zeros(n_items, dtype=bool)
    for _, r in plain:
        if r.source is not None:
            reached[ev.lo[r.event] : ev.hi[r.event]] = True
    src_row[reached] = np.arange(int(reached.sum()), dtype=np.int32)

    base = np.full((n_items, n_cols), NO_RULE, dtype=np.int32)
    src_plane = np.full((int(reached.sum()), len(sources), n_cols), NO_RULE, dtype=np.int32)
    sel = _selector_arrays([r for _, r in plain], [k for k, _ in plain], ev, cols, sources, gts)
    paint_rules(base, src_row, src_plane, cols.grid_type, sel["rank"], sel["item_lo"], sel["item_hi"],
                sel["col_lo"], sel["col_hi"], sel["grid_type"], sel["source"])  # fmt: skip

    # windowed rules: lists by (item, column block), highest rank first, checked at match time
    win = _selector_arrays([r for _, r in windowed], [k for k, _ in windowed], ev, cols, sources, gts)
    order = np.arange(len(windowed) - 1, -1, -1)
    by_rank = {k: v[order] for k, v in win.items()}
    blocks = max(1, (n_cols + (1 << BLOCK_SHIFT) - 1) >> BLOCK_SHIFT)
    win_ptr = np.zeros(n_items * blocks + 1, dtype=np.int32)
    spans = (by_rank["item_lo"], by_rank["item_hi"], by_rank["col_lo"], by_rank["col_hi"], n_items)
    index_windows(win_ptr, np.empty(0, dtype=np.int32), *spans)
    np.cumsum(win_ptr, out=win_ptr)
    win_ids = np.empty(int(win_ptr[-1]), dtype=np.int32)
    index_windows(win_ptr, win_ids, *spans)
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
        win_from=np.asarray([day_number(r.valid_from, DAY_MIN) for _, r in windowed], dtype=np.int32).reshape(-1),
        win_to=np.asarray([day_number(r.valid_to, DAY_MAX) for _, r in windowed], dtype=np.int32).reshape(-1),
        rule_by_rank=rule_by_rank,
        urgent=urgent,
    )
