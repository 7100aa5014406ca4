"""The coverage map as one self-contained HTML page: inline CSS, no script, no external resource."""

from __future__ import annotations

from html import escape
from pathlib import Path

import numpy as np

from dispatch.core.coverage import AUTO, STATUSES, CoverageMap, Gap, Label
from dispatch.tools.coverage.scale import STOPS, colour_of, ink_of, percent_label, share_of

ALL = "all"  # data-category / data-town of a total

CSS = """
body { font-family: system-ui, "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif;
       margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; margin-bottom: 0.2em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
p.meta { color: #555; margin-top: 0; }
table.map { border-collapse: collapse; font-size: 12px; }
table.map th, table.map td { border: 1px solid #fff; padding: 2px 4px; }
table.map thead th { writing-mode: vertical-rl; vertical-align: bottom; font-weight: normal; white-space: nowrap; }
table.map thead th.corner { writing-mode: horizontal-tb; text-align: left; vertical-align: bottom; }
table.map tbody th { text-align: left; font-weight: normal; white-space: nowrap; }
table.map td { text-align: center; min-width: 2.4em; font-variant-numeric: tabular-nums; }
table.map td small { display: block; font-size: 9px; opacity: 0.8; }
table.map .total { border-left: 3px solid #fff; font-weight: bold; }
table.map tr.total td, table.map tr.total th { border-top: 3px solid #fff; font-weight: bold; }
.code { color: #666; font-size: 0.9em; }
.scale { display: inline-block; width: 320px; height: 12px; vertical-align: middle; border: 1px solid #ccc; }
table.gaps { border-collapse: collapse; font-size: 13px; }
table.gaps th, table.gaps td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: left; }
table.gaps td.n { text-align: right; font-variant-numeric: tabular-nums; }
"""


def _label(x: Label) -> str:
    return f'<span class="code">{escape(x.short)}</span> {escape(x.name)}'


def _cell(view: str, category: str, town: str, counts: np.ndarray, tip: str, show_count: bool, css: str = "") -> str:
    auto, total = int(counts[AUTO]), int(counts.sum())
    share = share_of(auto, total)
    data = " ".join(f'data-{s}="{int(n)}"' for s, n in zip(STATUSES, counts, strict=True))
    what = "cases" if view == "cases" else "cells"
    detail = ", ".join(f"{int(n)} {s}" for s, n in zip(STATUSES, counts, strict=True))
    title = f"{tip}: {percent_label(auto, total, 1) or 'no'}{'% auto' if total else ' ' + what} ({detail})"
    text = percent_label(auto, total)
    if show_count and total:
        text += f"<small>{total}</small>"
    cls = f' class="{css}"' if css else ""
    return (
        f'<td{cls} data-view="{view}" data-category="{escape(category)}" data-town="{escape(town)}" {data}'
        f' style="background:{colour_of(share)};color:{ink_of(share)}" title="{escape(title)}">{text}</td>'
    )


def _map_table(cmap: CoverageMap, view: str, counts: np.ndarray) -> str:
    """categories x towns x statuses as a coloured table, with the totals of rows and columns."""
    show_count = view == "cases"
    head = "".join(
        f'<th title="{escape(t.code)}">{escape(t.name)} <span class="code">{escape(t.short)}</span></th>'
        for t in cmap.towns
    )
    corner = f'<th class="corner">category \\ {escape(cmap.level)}</th>'
    total_head = f'<th class="total">{ALL}</th>'
    rows = [f'<table class="map" data-view="{view}"><thead><tr>{corner}{head}{total_head}</tr></thead><tbody>']
    for c, row in zip(cmap.categories, counts, strict=True):
        cells = "".join(
            _cell(view, c.code, t.code, n, f"{c.code} {c.name} x {t.name}", show_count)
            for t, n in zip(cmap.towns, row, strict=True)
        )
        total = _cell(view, c.code, ALL, row.sum(axis=0), f"{c.code} {c.name}", show_count, "total")
        rows.append(f"<tr><th>{_label(c)}</th>{cells}{total}</tr>")
    column = counts.sum(axis=0)
    cells = "".join(_cell(view, ALL, t.code, n, t.name, show_count) for t, n in zip(cmap.towns, column, strict=True))
    total = _cell(view, ALL, ALL, column.sum(axis=0), ALL, show_count, "total")
    rows.append(f'<tr class="total"><th>{ALL}</th>{cells}{total}</tr></tbody></table>')
    return "\n".join(rows)


def _gaps_table(gaps: list[Gap], with_cases: bool) -> str:
    head = (
        "<tr>"
        + ("<th>cases</th>" if with_cases else "")
        + "<th>cells</th><th>status</th><th>item</th><th>category</th><th>town</th></tr>"
    )
    rows = []
    for g in gaps:
        cases = f'<td class="n" data-cases="{g.cases}">{g.cases} / {g.cases_total}</td>' if with_cases else ""
        rows.append(
            f'<tr data-item="{escape(g.item.code)}" data-town="{escape(g.town.code)}" data-status="{g.status}">'
            f'{cases}<td class="n" data-cells="{g.cells}">{g.cells} / {g.cells_total}</td><td>{g.status}</td>'
            f"<td>{_label(g.item)}</td><td>{_label(g.category)}</td><td>{_label(g.town)}</td></tr>"
        )
    return f'<table class="gaps">{head}{"".join(rows)}</table>'


def _scale() -> str:
    stops = ", ".join(f"{colour} {100 * at:g}%" for at, colour in STOPS)
    return (
        f'0 % <span class="scale" style="background:linear-gradient(to right, {stops})"></span> 100 %'
        f' auto-dispatch share; <span style="background:{colour_of(None)}">&nbsp;grey&nbsp;</span>'
        " nothing to count"
    )


def render_html(cmap: CoverageMap, top: int = 20) -> str:
    cells = cmap.by_category(cmap.cells)
    level = escape(cmap.level)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh"><head><meta charset="utf-8">',
        f"<title>dispatch coverage: {escape(cmap.name)} {escape(cmap.version)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>dispatch coverage: rule set {escape(cmap.name)}</h1>",
        f'<p class="meta">version <code>{escape(cmap.version)}</code>; cells on {cmap.day.isoformat()}'
        + (f"; cases from <code>{escape(cmap.cases_file or '')}</code>" if cmap.cases is not None else "")
        + "</p>",
        f"<p>{_scale()}. A cell reads 100 only when all of it dispatches automatically, 0 only when none does.</p>",
        f"<h2>By cells: work item x basic grid x source, by event category and {level}</h2>",
        _map_table(cmap, "cells", cells),
    ]
    if cmap.cases is not None:
        unknown = sum((cmap.unknown_cases or {}).values())
        parts += [
            f"<h2>By case volume: the history's cases, by event category and {level} (small: cases)</h2>",
            (f"<p>{unknown} cases with unknown codes skipped.</p>" if unknown else ""),
            _map_table(cmap, "cases", cmap.by_category(cmap.cases)),
        ]
    gaps = cmap.gaps(top)
    by = "case volume" if cmap.cases is not None else "cells (no case history given)"
    if top:
        parts += [
            f"<h2>Worst gaps: items x {level}s that do not dispatch automatically, by {by}</h2>",
            _gaps_table(gaps, cmap.cases is not None) if gaps else "<p>none</p>",
        ]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_html(cmap: CoverageMap, path: str | Path, top: int = 20) -> None:
    Path(path).write_text(render_html(cmap, top), encoding="utf-8")
