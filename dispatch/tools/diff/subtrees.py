"""Subtrees: changed cells grouped into the fewest event x area subtrees a maintainer can read.

The grouping, coarsest first:
1. by the change itself: old rule, new rule, old outcome, new outcome;
2. by source and day stretch, where a cell changes for every source (or day) alike it
   counts once for all of them (the kernel already says so);
3. within that, for each item, its changed areas become the fewest area subtrees that
   hold them (a subtree is taken whole when every area in it changed, the area itself
   included); items with the same area subtrees become the fewest event subtrees (a
   category or subcategory is taken whole when all of its items changed);
4. lines with the same subtrees merge over stretches, then over sources.
So a district-wide change is one line, and a change in one town's villages a line per
subtree that holds them, never one per cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dispatch.core.model import Rule, RuleSet


@dataclass(frozen=True, slots=True)
class CellGroup:
    """Changed cells that change alike: every item under `events` x every area under `areas`
    x `sources` x `stretches` (indices into CellDiff.stretches) went from `old` to `new`.
    `events` and `areas` are subtree roots in the new set's trees; a subtree counts only
    the codes both sets know.
    """

    events: tuple[str, ...]
    areas: tuple[str, ...]
    lone_areas: tuple[str, ...]  # areas whose own cells changed, but not all of their subtree's
    sources: tuple[str, ...]
    stretches: tuple[int, ...]
    old: tuple  # diff.VisibleOutcome
    new: tuple
    old_rule: Rule | None
    new_rule: Rule | None
    items: int  # items under `events` that both sets know
    area_count: int  # areas under `areas`

    @property
    def cells(self) -> int:
        return self.items * self.area_count * len(self.sources) * len(self.stretches)


class _Forest:
    """A tree's pre-order as arrays: subtree ranges, parents, and which positions count."""

    def __init__(self, order: Sequence[str], tree, counted: np.ndarray):
        pos = {c: i for i, c in enumerate(order)}
        self.codes = list(order)
        self.end = np.asarray([tree.end(c) for c in order], dtype=np.int64)
        self.parent = np.asarray(
            [pos[tree[c].parent] if tree[c].parent is not None else -1 for c in order], dtype=np.int64
        )
        counted_before = np.zeros(len(order) + 1, dtype=np.int64)
        counted_before[1:] = np.cumsum(counted)
        self.size = counted_before[self.end] - counted_before[: len(order)]  # counted positions in each subtree

    def roots(self, members: np.ndarray) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """For each row of bool[rows, positions]: (the largest subtrees whose counted positions are
        all members, the members outside them: nodes that changed while some node below did not)."""
        n = members.shape[1]
        before = np.zeros((members.shape[0], n + 1), dtype=np.int32)
        np.cumsum(members, axis=1, out=before[:, 1:])
        inside = before[:, self.end] - before[:, :n]
        full = (inside == self.size) & (self.size > 0)
        has_parent = self.parent >= 0
        top = full.copy()
        top[:, has_parent] &= ~full[:, self.parent[has_parent]]
        # covered: inside some root's subtree; +1 at each root, -1 at its end, summed along the row
        rows, cols = np.nonzero(top)
        edges = np.zeros((members.shape[0], n + 1), dtype=np.int32)
        edges[rows, cols] += 1
        np.add.at(edges, (rows, self.end[cols]), -1)
        lone = members & (np.cumsum(edges[:, :n], axis=1) == 0)
        return [
            (tuple(np.flatnonzero(r).tolist()), tuple(np.flatnonzero(x).tolist()))
            for r, x in zip(top, lone, strict=True)
        ]


def group_cells(
    ruleset: RuleSet,
    items: Sequence[str],
    areas: Sequence[str],
    area_pair: np.ndarray,
    sources: Sequence[str],
    stretches: Sequence,
    k: np.ndarray,
    p: np.ndarray,
    s: np.ndarray,
    d: np.ndarray,
    change_of: np.ndarray,
    changes: list[tuple],
) -> list[CellGroup]:
    """Changed-cell records (see analysis.changed_cells) as CellGroups, most cells first.

    items: common item codes (by k); areas: common area codes in the new tree's pre-order,
    area_pair[j] the class of areas[j] (by p); s, d: source and stretch, -1 for all;
    change_of[j]: the record's change, an index into `changes`, each (old outcome, new
    outcome, old rule, new rule).
    """
    if not len(k):
        return []
    events_tree, areas_tree = ruleset.events, ruleset.areas
    ev_order, ar_order = events_tree.order, areas_tree.order
    ev_pos = {c: i for i, c in enumerate(ev_order)}
    ar_pos = {c: i for i, c in enumerate(ar_order)}
    item_pos = np.asarray([ev_pos[c] for c in items], dtype=np.int64)
    common_items = np.zeros(len(ev_order), dtype=bool)
    common_items[item_pos] = True
    common_areas = np.zeros(len(ar_order), dtype=bool)
    area_positions = np.asarray([ar_pos[c] for c in areas], dtype=np.int64)
    common_areas[area_positions] = True
    ev_forest = _Forest(ev_order, events_tree, common_items)
    ar_forest = _Forest(ar_order, areas_tree, common_areas)
    # the areas of each class p, as CSR over area positions
    by_pair = np.argsort(area_pair, kind="stable")
    pair_ptr = np.zeros(int(area_pair.max()) + 2, dtype=np.int64)
    np.add.at(pair_ptr, area_pair + 1, 1)
    np.cumsum(pair_ptr, out=pair_ptr)
    pair_areas = area_positions[by_pair]

    all_sources, all_stretches = tuple(range(len(sources))), tuple(range(len(stretches)))
    lines: dict[tuple, list] = {}  # (change, event roots, (area roots, lone areas)) -> [(sources, stretches, ...)]
    key = (change_of * (len(sources) + 1) + (s + 1)) * (len(stretches) + 1) + (d + 1)
    order = np.argsort(key, kind="stable")
    _, starts = np.unique(key[order], return_index=True)
    for lo, hi in zip(starts.tolist(), [*starts[1:].tolist(), len(order)], strict=True):
        rows = order[lo:hi]
        j0 = int(rows[0])
        change = int(change_of[j0])
        src = all_sources if s[j0] < 0 else (int(s[j0]),)
        day = all_stretches if d[j0] < 0 else (int(d[j0]),)
        for ev_roots, ar_roots, n_items, n_areas in _collapse(
            k[rows], p[rows], item_pos, pair_ptr, pair_areas, ev_forest, ar_forest, len(ev_order), len(ar_order)
        ):
            lines.setdefault((change, ev_roots, ar_roots), []).append([src, day, n_items, n_areas])
    groups = []
    for (change, ev_roots, ar_roots), parts in lines.items():
        old, new, old_rule, new_rule = changes[change]
        for src, day, n_items, n_areas in _merge(parts):
            groups.append(
                CellGroup(
                    tuple(ev_forest.codes[x] for x in ev_roots),
                    tuple(ar_forest.codes[x] for x in ar_roots[0]),
                    tuple(ar_forest.codes[x] for x in ar_roots[1]),
                    tuple(sources[x] for x in src),
                    day,
                    old,
                    new,
                    old_rule,
                    new_rule,
                    n_items,
                    n_areas,
                )
            )
    groups.sort(key=lambda g: (-g.cells, g.events, g.areas, g.sources, g.stretches))
    return groups


def _collapse(k, p, item_pos, pair_ptr, pair_areas, ev_forest, ar_forest, n_events, n_areas):
    """Yield (event roots, area roots, items, areas) for one set of (item, area class) records."""
    ks, row_of = np.unique(k, return_inverse=True)
    lens = pair_ptr[p + 1] - pair_ptr[p]
    rows = np.repeat(row_of, lens)
    # positions: for each record, its class's areas
    offsets = np.repeat(pair_ptr[p] - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
    cols = pair_areas[np.arange(int(lens.sum())) + offsets]
    members = np.zeros((len(ks), n_areas), dtype=bool)
    members[rows, cols] = True
    by_cover: dict[tuple, list[int]] = {}
    area_counts: dict[tuple, int] = {}
    for u, cover in enumerate(ar_forest.roots(members)):
        by_cover.setdefault(cover, []).append(int(ks[u]))
        area_counts.setdefault(cover, int(members[u].sum()))
    picked = np.zeros((len(by_cover), n_events), dtype=bool)
    for row, item_ks in enumerate(by_cover.values()):
        picked[row, item_pos[item_ks]] = True
    for (cover, item_ks), (ev_roots, _) in zip(by_cover.items(), ev_forest.roots(picked), strict=True):
        yield ev_roots, cover, len(item_ks), area_counts[cover]


def _merge(parts: list[list]) -> list[tuple]:
    """Lines of one change and subtrees: merge stretches where the sources agree, then sources."""
    by_sources: dict[tuple, list] = {}
    for src, day, n_items, n_areas in parts:
        by_sources.setdefault((src, n_items, n_areas), []).append(day)
    by_days: dict[tuple, list] = {}
    for (src, n_items, n_areas), days in by_sources.items():
        merged = tuple(sorted({x for day in days for x in day}))
        by_days.setdefault((merged, n_items, n_areas), []).append(src)
    out = []
    for (day, n_items, n_areas), srcs in by_days.items():
        out.append((tuple(sorted({x for src in srcs for x in src})), day, n_items, n_areas))
    return out
