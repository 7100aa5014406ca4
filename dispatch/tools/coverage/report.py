"""The coverage map as text for a terminal and as a JSON document for machines."""

from __future__ import annotations

import json
import unicodedata

import numpy as np

from dispatch.core.coverage import AUTO, STATUSES, CoverageMap, map_document
from dispatch.tools.coverage.scale import percent_label

NO_DATA = "-"  # a cell with nothing to count: shown empty, never as 0 %
NAME_WIDTH = 24  # display columns; longer names are cut with an ellipsis


def render_json(cmap: CoverageMap, top: int = 20) -> str:
    return json.dumps(map_document(cmap, top), ensure_ascii=False, indent=2)


# -- text: padded by display width, so that Chinese names line up --------------------------------


def display_width(text: str) -> int:
    """Terminal columns of `text`: East Asian wide and full-width characters take two."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cut(text: str, width: int) -> str:
    if display_width(text) <= width:
        return text
    while display_width(text) > width - 1:
        text = text[:-1]
    return text + "…"


def _ljust(text: str, width: int) -> str:
    return text + " " * max(width - display_width(text), 0)


def _rjust(text: str, width: int) -> str:
    return " " * max(width - display_width(text), 0) + text


def _table(cmap: CoverageMap, rows: list[list[str]], totals_row: list[str], corner: str) -> list[str]:
    """Rows of cells (one per category, the total last), aligned under the towns' short labels."""
    labels = [_cut(f"{c.code} {c.name}", NAME_WIDTH) for c in cmap.categories] + ["all"]
    head = [t.short for t in cmap.towns] + ["all"]
    body = rows + [totals_row]
    widths = [max(display_width(r[k]) for r in [head, *body]) for k in range(len(head))]
    first = max(display_width(x) for x in [corner, *labels])
    lines = [_ljust(corner, first) + "".join(" " + _rjust(h, w) for h, w in zip(head, widths, strict=True))]
    for label, row in zip(labels, body, strict=True):
        lines.append(_ljust(label, first) + "".join(" " + _rjust(x, w) for x, w in zip(row, widths, strict=True)))
    return lines


def _share_rows(counts: np.ndarray) -> tuple[list[list[str]], list[str]]:
    """Percent labels of every category x town, with a total column (one decimal), and the total row."""

    def cell(c: np.ndarray, digits: int = 0) -> str:
        return percent_label(int(c[AUTO]), int(c.sum()), digits) or NO_DATA

    rows = [[cell(c) for c in row] + [cell(row.sum(axis=0), 1)] for row in counts]
    total = [cell(c) for c in counts.sum(axis=0)] + [cell(counts.sum(axis=(0, 1)), 1)]
    return rows, total


def _statuses(c: np.ndarray) -> str:
    return ", ".join(f"{int(n)} {s}" for s, n in zip(STATUSES, c, strict=True))


def render_text(cmap: CoverageMap, top: int = 20) -> str:
    cells = cmap.by_category(cmap.cells)
    level = cmap.level
    title = f"rule set {cmap.name!r} version {cmap.version}: share of work that dispatches automatically (%)"
    lines = [f"{title}, by event category and {level}", ""]
    total = cells.sum(axis=(0, 1))
    lines.append(
        f"by cells: item x basic grid x source on {cmap.day.isoformat()}"
        f" ({percent_label(int(total[AUTO]), int(total.sum()), 1)}% auto; {_statuses(total)})"
    )
    lines += _table(cmap, *_share_rows(cells), "category")
    if cmap.cases is not None:
        cases = cmap.by_category(cmap.cases)
        total = cases.sum(axis=(0, 1))
        unknown = sum((cmap.unknown_cases or {}).values())
        share = percent_label(int(total[AUTO]), int(total.sum()), 1)
        lines += [
            "",
            f"by case volume: {cmap.cases_file}"
            f" ({f'{share}% auto' if share else 'no case the rule set knows'}; {_statuses(total)})"
            + (f"; {unknown} cases with unknown codes skipped" if unknown else ""),
        ]
        lines += _table(cmap, *_share_rows(cases), "category")
        counts = cases.sum(axis=2)
        lines += ["", "cases"]
        lines += _table(
            cmap,
            [[str(n) for n in row] + [str(row.sum())] for row in counts],
            [str(n) for n in counts.sum(axis=0)] + [str(counts.sum())],
            "category",
        )
    lines += ["", *_legend(f"{level}s:", [f"{t.short} {t.name}" for t in cmap.towns])]
    if top:
        lines += ["", *render_gaps(cmap, top)]
    return "\n".join(lines)


def _legend(head: str, entries: list[str], width: int = 100) -> list[str]:
    """`head` and the entries, two spaces apart, wrapped at `width` display columns."""
    lines, current = [], head
    for entry in entries:
        if display_width(current) + 2 + display_width(entry) > width:
            lines.append(current)
            current = " " * display_width(head)
        current += "  " + entry
    return [*lines, current]


def render_gaps(cmap: CoverageMap, top: int) -> list[str]:
    gaps = cmap.gaps(top)
    by = "case volume" if cmap.cases is not None else "cells (no case history given)"
    head = f"worst gaps: items x {cmap.level}s that do not dispatch automatically, by {by}"
    if not gaps:
        return [head + ": none"]
    rows = [
        (
            f"{g.cases}/{g.cases_total}" if g.cases is not None else "",
            f"{g.cells}/{g.cells_total}",
            g.status,
            _cut(f"{g.item.code} {g.item.name}", 2 * NAME_WIDTH),
            f"{g.town.short} {g.town.name}",
        )
        for g in gaps
    ]
    header = ("cases", "cells", "status", "item", cmap.level)
    if cmap.cases is None:
        rows = [r[1:] for r in rows]
        header = header[1:]
    widths = [max(display_width(r[k]) for r in [header, *rows]) for k in range(len(header))]
    numeric = len(header) - 3  # the count columns align right, the words left

    def line(r: tuple[str, ...]) -> str:
        parts = [_rjust(x, w) if k < numeric else _ljust(x, w) for k, (x, w) in enumerate(zip(r, widths, strict=True))]
        return "  " + "  ".join(parts).rstrip()

    return [f"{head} (top {len(gaps)})", line(header), *(line(r) for r in rows)]
