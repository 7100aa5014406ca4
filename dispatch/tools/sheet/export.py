"""`dispatch export DIR --xlsx FILE`: the rule set's CSV files as one workbook that keeps codes as text.

One sheet per CSV file; every cell is text and every column formatted as text (`@`), so
that neither Excel nor WPS nor LibreOffice reads 01001001 as the number 1001001; the header
row frozen and filtered; column widths that fit Chinese text; drop-down lists where the rule
set closes a column (tables.closed_lists). Two hidden sheets: `_files` (which sheet is which
file, and the manifest, so an import into an empty directory rebuilds the set) and `_lists`
(the drop-downs' values).
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation

from dispatch.core.errors import Diagnostic
from dispatch.core.load import MANIFEST
from dispatch.tools.sheet.tables import Table, closed_lists, read_table, ruleset_csv_files

FILES_SHEET = "_files"  # sheet | file, then the manifest's text
LISTS_SHEET = "_lists"
TEXT = "@"  # the number format "text": what a person types there stays as typed
MAX_ROWS = 1_048_576  # a sheet's rows (Excel, LibreOffice): the drop-downs reach to the end
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_WIDTH_SAMPLE = 2000  # rows looked at for a column's width
_HEADER_FILL = PatternFill("solid", fgColor="DDE4EE")


@dataclass(frozen=True, slots=True)
class Exported:
    path: str
    sheets: dict[str, str]  # sheet -> file
    rows: int


def display_width(text: str) -> int:
    """Columns a text takes in a fixed-width font: a CJK character two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def sheet_names(paths: list[str]) -> dict[str, str]:
    """A sheet name for each file: its stem when that is unique, else its path; at most 31 characters."""
    stems = [Path(p).stem for p in paths]
    names: dict[str, str] = {}
    for path, stem in zip(paths, stems, strict=True):
        base = stem if stems.count(stem) == 1 else path.removesuffix(".csv").replace("/", ".")
        base = _BAD_SHEET_CHARS.sub("_", base).strip("'")[:31] or "sheet"
        if base.startswith("_") or base.lower() == "history":  # ours, and a name Excel reserves
            base = ("t" + base)[:31]
        name, n = base, 2
        while name.lower() in {k.lower() for k in names}:
            name = f"{base[: 31 - len(str(n)) - 1]}~{n}"
            n += 1
        names[name] = path
    return names


def write_workbook(root: str | Path, out: str | Path) -> tuple[Exported | None, list[Diagnostic]]:
    """Write the workbook of the rule set in `root` to `out`; (None, problems) when a file cannot be read."""
    root = Path(root)
    paths, problems = ruleset_csv_files(root)
    if problems:
        return None, problems
    tables = [t for t in (read_table(root, p, problems) for p in paths) if t is not None]
    if problems:
        return None, problems
    manifest_text = (root / MANIFEST).read_text(encoding="utf-8-sig")
    manifest = tomllib.loads(manifest_text)
    keys = {k: v for k, v in manifest.items() if isinstance(v, str)}
    lists = closed_lists(manifest, tables, keys)
    names = sheet_names([t.path for t in tables])
    wb = Workbook()
    wb.remove(wb.active)
    list_ranges = _write_lists(wb, lists)
    for (name, _), table in zip(names.items(), tables, strict=True):
        _write_sheet(wb.create_sheet(name), table, list_ranges)
    index = wb.create_sheet(FILES_SHEET)
    index.append(["sheet", "file"])
    for name, path in names.items():
        index.append([name, path])
    index.append([])
    index.append([MANIFEST, manifest_text])
    index.sheet_state = "hidden"
    wb.move_sheet(LISTS_SHEET, offset=len(wb.sheetnames))
    wb.active = 0
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return Exported(str(out), names, sum(len(t.rows) - 1 for t in tables)), []


def _write_lists(wb: Workbook, lists: dict[str, list[str]]) -> dict[str, str]:
    """The hidden sheet of drop-down values, a column per list; the range formula of each."""
    ws = wb.create_sheet(LISTS_SHEET)
    ws.sheet_state = "hidden"
    ranges = {}
    for k, (name, values) in enumerate(lists.items(), start=1):
        letter = get_column_letter(k)
        ws.cell(1, k, name)
        for r, value in enumerate(values, start=2):
            ws.cell(r, k, value).number_format = TEXT
        ranges[name] = f"{quote_sheetname(LISTS_SHEET)}!${letter}$2:${letter}${len(values) + 1}"
    return ranges


def _write_sheet(ws, table: Table, list_ranges: dict[str, str]) -> None:
    header = table.header
    for row in table.rows:
        ws.append(row)  # str values: written as strings, whatever they look like
    bold = Font(bold=True)
    for k, name in enumerate(header, start=1):
        cell = ws.cell(1, k)
        cell.font, cell.fill = bold, _HEADER_FILL
        letter = get_column_letter(k)
        for (cell,) in ws.iter_rows(min_row=2, min_col=k, max_col=k):
            cell.number_format = TEXT
        dim = ws.column_dimensions[letter]
        dim.number_format = TEXT  # the column's own format: rows typed below the data are text too
        sample = [r[k - 1] for r in table.rows[:_WIDTH_SAMPLE]]
        dim.width = min(60, max(6, *(display_width(v) for v in sample)) + 2)
        if name in list_ranges:
            dv = DataValidation(
                type="list",
                formula1=list_ranges[name],
                allow_blank=True,
                showErrorMessage=True,
                errorTitle=f"{name}: not in the list",
                error=f"{name} must be one of the rule set's values (the drop-down lists them)",
            )
            dv.add(f"{letter}2:{letter}{MAX_ROWS}")
            ws.add_data_validation(dv)
    ws.freeze_panes = "A2"
    if header:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(header))}{max(1, len(table.rows))}"
    ws.sheet_view.zoomScale = 100
    for cell in ws[1]:
        cell.alignment = Alignment(vertical="center")
