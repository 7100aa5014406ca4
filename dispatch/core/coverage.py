"""The coverage map: dispatch statuses counted by work item x town, by cells and by case volume, and its JSON document."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from dispatch.core.analysis import cell_statuses_by_group, coverage_areas
from dispatch.core.decision import Status
from dispatch.core.dispatcher import Dispatcher
from dispatch.core.errors import Diagnostic
from dispatch.core.history import History, read_history
from dispatch.core.load import read_ruleset
from dispatch.core.model import RuleSet
from dispatch.core.outcomes import STATUS_CODES

STATUSES = tuple(s.value for s in STATUS_CODES)  # the last axis of every count array
AUTO = STATUSES.index(Status.AUTO.value)
GAP_STATUSES = tuple(i for i, s in enumerate(STATUSES) if s != Status.AUTO.value)


@dataclass(frozen=True, slots=True)
class Label:
    """A row or column of the map: its code, its name, and a short label for narrow columns."""

    code: str
    name: str
    short: str
    level: str = ""


@dataclass(frozen=True, slots=True)
class Gap:
    """One work item in one town that does not dispatch itself: how much of it falls to `status`."""

    item: Label
    category: Label
    town: Label
    status: str
    cells: int  # item x grid x source cells of the item in the town with this status
    cells_total: int
    cases: int | None  # cases with this status; None without a history
    cases_total: int | None


@dataclass(frozen=True, slots=True, eq=False)
class CoverageMap:
    """Status counts of every work item in every town, by cells and (given a history) by cases.

    Rows of the map are the taxonomy's roots (categories); columns are the areas one
    level below an area root (towns and streets in Daxing: the level's name comes from
    the data), then any root that holds cells or cases of its own.

      cells  int64[items, towns, 3]  item x basic grid x source cells on `day`, by status (STATUSES)
      cases  int64[items, towns, 3]  the history's cases by status, or None without a history
      item_category  int32[items]    the row of each item
    """

    name: str
    version: str
    day: date
    level: str
    categories: tuple[Label, ...]
    towns: tuple[Label, ...]
    items: tuple[Label, ...]
    item_category: np.ndarray
    cells: np.ndarray
    cases: np.ndarray | None
    unknown_cases: dict[str, int] | None = None
    cases_file: str | None = None

    def by_category(self, counts: np.ndarray) -> np.ndarray:
        """int64[categories, towns, 3]: `cells` or `cases` summed over the items of each category."""
        out = np.zeros((len(self.categories),) + counts.shape[1:], dtype=np.int64)
        np.add.at(out, self.item_category, counts)
        return out

    def gaps(self, top: int) -> list[Gap]:
        """The `top` (item, town, status) that most fall to manual or provisional dispatch.

        Ranked by case volume, then by cells; by cells alone without a history.
        """
        rows = []
        for status in GAP_STATUSES:
            by_cases = self.cases[:, :, status] if self.cases is not None else np.zeros_like(self.cells[:, :, 0])
            for i, t in zip(*np.nonzero((self.cells[:, :, status] > 0) | (by_cases > 0)), strict=True):
                rows.append((-int(by_cases[i, t]), -int(self.cells[i, t, status]), int(i), int(t), status))
        rows.sort()
        return [self._gap(i, t, status) for _, _, i, t, status in rows[:top]]

    def _gap(self, i: int, t: int, status: int) -> Gap:
        cases = self.cases
        return Gap(
            item=self.items[i],
            category=self.categories[self.item_category[i]],
            town=self.towns[t],
            status=STATUSES[status],
            cells=int(self.cells[i, t, status]),
            cells_total=int(self.cells[i, t].sum()),
            cases=int(cases[i, t, status]) if cases is not None else None,
            cases_total=int(cases[i, t].sum()) if cases is not None else None,
        )


def coverage_map(
    dispatcher: Dispatcher, day: date, history: History | None = None, cases_file: str | None = None
) -> CoverageMap:
    """Count the statuses of every cell on `day` (and of every case of `history`) by item and town.

    A cell is an (item, basic grid, source), as in analysis.cell_coverage (with the areas above
    the grids where `@local` cannot resolve, in their town or root column): summed over the
    map, the counts are exactly those of cell_coverage and volume_coverage.
    """
    ruleset, t = dispatcher.ruleset, dispatcher.tables
    columns, group_of_pos = town_columns(ruleset)
    grids = coverage_areas(ruleset)
    grid_cols = np.asarray([t.columns[g] for g in grids], dtype=np.int32).reshape(-1)
    grid_group = np.asarray([group_of_pos[ruleset.areas.pos(g)] for g in grids], dtype=np.int32).reshape(-1)
    cells = cell_statuses_by_group(dispatcher, grid_cols, grid_group, len(columns), day)
    cases = None
    if history is not None:
        idx = dispatcher.match_encoded(history.items, history.cols, history.srcs, history.days)
        status = dispatcher.statuses(history.items, history.cols, idx).astype(np.int64)
        flat = (history.items.astype(np.int64) * len(columns) + group_of_pos[history.areas]) * len(STATUSES) + status
        cases = np.bincount(flat, minlength=cells.size).reshape(cells.shape)
    # an area root is a column only when cells or cases lie in it above the town level
    keep = [
        k
        for k, code in enumerate(columns)
        if ruleset.areas.depth(code) > 1 or cells[:, k].any() or (cases is not None and cases[:, k].any())
    ]
    towns = column_labels(ruleset, [columns[k] for k in keep])
    categories, item_category = _categories(ruleset, t.items)
    return CoverageMap(
        name=ruleset.manifest.name,
        version=ruleset.version,
        day=day,
        level=_level_name(ruleset),
        categories=categories,
        towns=towns,
        items=tuple(Label(code, ruleset.events[code].name, code) for code in t.items),
        item_category=item_category,
        cells=np.ascontiguousarray(cells[:, keep]),
        cases=np.ascontiguousarray(cases[:, keep]) if cases is not None else None,
        unknown_cases=dict(history.unknown) if history is not None else None,
        cases_file=cases_file,
    )


def town_columns(ruleset: RuleSet) -> tuple[list[str], np.ndarray]:
    """Candidate columns (every area at depth 2, then every root) and int64[areas]: each area's column.

    An area at depth 2 or below counts in the town above it; a root's own cases in the root.
    """
    tree = ruleset.areas
    columns = [c for c in tree.order if tree.depth(c) == 2] + list(tree.roots())
    column = {code: k for k, code in enumerate(columns)}
    group_of_pos = np.zeros(len(tree), dtype=np.int64)
    for code in tree.order:  # pre-order: a parent before its children
        parent = tree[code].parent
        group_of_pos[tree.pos(code)] = column[code] if tree.depth(code) <= 2 else group_of_pos[tree.pos(parent)]
    return columns, group_of_pos


def column_labels(ruleset: RuleSet, codes: list[str]) -> tuple[Label, ...]:
    """Short labels: a town's code less its parent's (Daxing 110115001 -> 001), if they stay unique."""
    tree = ruleset.areas

    def short(code: str) -> str:
        parent = tree[code].parent
        return code[len(parent) :] if parent and code.startswith(parent) and code != parent else code

    shorts = [short(c) for c in codes]
    if len(set(shorts)) < len(shorts):
        shorts = list(codes)
    return tuple(Label(c, tree[c].name, s, tree[c].level) for c, s in zip(codes, shorts, strict=True))


def _categories(ruleset: RuleSet, items: tuple[str, ...]) -> tuple[tuple[Label, ...], np.ndarray]:
    tree = ruleset.events
    roots = list(tree.roots())
    row = {code: k for k, code in enumerate(roots)}
    item_category = np.asarray([row[list(tree.path(code))[-1].code] for code in items], dtype=np.int32).reshape(-1)
    return tuple(Label(c, tree[c].name, c) for c in roots), item_category


def _level_name(ruleset: RuleSet) -> str:
    """The data's name of the level below the roots ("town" in Daxing); the most common one if mixed."""
    levels = [ruleset.areas[c].level for c in ruleset.areas.order if ruleset.areas.depth(c) == 2]
    return max(set(levels), key=lambda v: (levels.count(v), v)) if levels else "area"


def read_coverage_map(
    root: str | Path, cases: str | Path | None = None, at: date | None = None
) -> tuple[CoverageMap | None, list[Diagnostic]]:
    """Load, validate and compile `root` as the service does, read the history, count the map.

    (None, diagnostics) when the rule set is not valid; HistoryError (file:line:col) for a
    malformed history. `at` is the day of the cell counts, default today in the rule set's
    zone (as in `dispatch check`).
    """
    ruleset, diagnostics = read_ruleset(root)
    if ruleset is None:
        return None, diagnostics
    dispatcher = Dispatcher(ruleset)
    history = None
    if cases is not None:
        history = read_history(cases, dispatcher)
    day = at or datetime.now(ZoneInfo(ruleset.manifest.timezone)).date()
    return coverage_map(dispatcher, day, history, str(cases) if cases is not None else None), diagnostics


def _share(auto: int, total: int) -> float | None:
    return round(auto / total, 4) if total else None


def _view(counts: np.ndarray) -> dict:
    """One view (cells or cases) of a categories x towns x statuses count array, with its totals."""

    def totals(c: np.ndarray) -> dict:  # c: [..., statuses]
        doc = {s: c[..., k].tolist() for k, s in enumerate(STATUSES)}
        auto, total = c[..., AUTO], c.sum(axis=-1)
        doc["auto_share"] = (
            np.vectorize(_share, otypes=[object])(auto, total).tolist() if c.ndim > 1 else _share(int(auto), int(total))
        )
        return doc

    return {
        "counts": totals(counts),
        "categories": totals(counts.sum(axis=1)),
        "towns": totals(counts.sum(axis=0)),
        "total": totals(counts.sum(axis=(0, 1))),
    }


def _gap_doc(gap: Gap) -> dict:
    return {
        "item": {"code": gap.item.code, "name": gap.item.name},
        "category": {"code": gap.category.code, "name": gap.category.name},
        "town": {"code": gap.town.code, "name": gap.town.name},
        "status": gap.status,
        "cases": gap.cases,
        "cases_total": gap.cases_total,
        "cells": gap.cells,
        "cells_total": gap.cells_total,
    }


def map_document(cmap: CoverageMap, top: int) -> dict:
    """Everything the map shows, with stable keys: what --format json prints and the HTML carries."""
    return {
        "ruleset": {"name": cmap.name, "version": cmap.version},
        "day": cmap.day.isoformat(),
        "cases_file": cmap.cases_file,
        "statuses": list(STATUSES),
        "level": cmap.level,
        "categories": [{"code": c.code, "name": c.name} for c in cmap.categories],
        "towns": [{"code": t.code, "name": t.name, "label": t.short, "level": t.level} for t in cmap.towns],
        "cells": _view(cmap.by_category(cmap.cells)),
        "cases": _view(cmap.by_category(cmap.cases)) if cmap.cases is not None else None,
        "unknown_cases": cmap.unknown_cases,
        "gaps": [_gap_doc(g) for g in cmap.gaps(top)],
    }
