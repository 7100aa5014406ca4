"""`dispatch import FILE DIR`: a workbook back to the rule set's CSV files, whole or not at all.

The workbook is read whole first; every problem is collected at its `Sheet!Cell` (a number
where a code was expected: "this code lost its leading zeros"). Then the files are staged in
a copy of DIR and loaded and validated as `dispatch check` does, each diagnostic mapped back to
its cell. Only when both pass are the changed files written into DIR (each by an atomic
rename); otherwise nothing is written. Files are written as our generator writes them, so an
export and an import of a generated set give the same bytes.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from dispatch.core.errors import Diagnostic, Severity
from dispatch.core.load import MANIFEST, read_ruleset
from dispatch.tools.sheet.export import FILES_SHEET
from dispatch.tools.sheet.tables import CODE_COLUMNS, DATE_COLUMNS, NUMBER_COLUMNS, csv_bytes


@dataclass(frozen=True, slots=True)
class CellProblem:
    """One thing wrong with the workbook, at its cell (`Sheet!B12`), or at a sheet (`Sheet`)."""

    at: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.at}: {self.code}: {self.message}"


@dataclass(slots=True)
class SheetFile:
    sheet: str
    path: str
    data: bytes
    lines: list[int]  # the file line of each sheet row (row 1: the header), for diagnostics


@dataclass(slots=True)
class Imported:
    root: str
    files: list[str]  # every file of the workbook
    changed: list[str]  # those whose bytes changed
    version: str
    previous: str | None
    warnings: list[str] = field(default_factory=list)


def quote_sheetname(sheet: str) -> str:
    """A sheet's name as a reference writes it: quoted only when it holds more than letters, digits, _ and ."""
    return sheet if re.fullmatch(r"[^\W\d][\w.]*", sheet) else "'" + sheet.replace("'", "''") + "'"


def cell_ref(sheet: str, row: int, col: int) -> str:
    return f"{quote_sheetname(sheet)}!{get_column_letter(col)}{row}"


def cell_text(value: object, column: str, at: str, problems: list[CellProblem]) -> str:
    """The text a cell stands for; a number, date or time where the column wants text is a problem."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if column in NUMBER_COLUMNS:
            return str(int(value)) if float(value).is_integer() else repr(float(value))
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        if column in CODE_COLUMNS:
            long = " (a spreadsheet shows a long one as 1.10115E+14 and keeps 15 digits)" if abs(value) >= 1e11 else ""
            problems.append(
                CellProblem(
                    at,
                    "sheet.code_as_number",
                    f"the {column} is the number {shown}, not text: this code lost its leading zeros{long};"
                    " format the cell as text and type the code again",
                )
            )
        else:
            problems.append(
                CellProblem(at, "sheet.number", f"the {column} is the number {shown} where text was expected")
            )
        return ""
    if isinstance(value, datetime | date):
        moment = value if isinstance(value, datetime) else datetime.combine(value, time())
        if column in DATE_COLUMNS and moment.time() == time():
            return moment.date().isoformat()
        problems.append(
            CellProblem(at, "sheet.date", f"the {column} was read as the date {value.isoformat()}: type it as text")
        )
        return ""
    if isinstance(value, time | timedelta):
        problems.append(CellProblem(at, "sheet.date", f"the {column} was read as the time {value}: type it as text"))
        return ""
    problems.append(CellProblem(at, "sheet.value", f"the {column} holds a {type(value).__name__}, not text"))
    return ""


def read_workbook(file: str | Path) -> tuple[list[SheetFile], str | None, list[CellProblem]]:
    """Every file of the workbook as CSV bytes, the manifest's text it carries, and every problem."""
    problems: list[CellProblem] = []
    try:
        wb = load_workbook(file, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as err:
        return [], None, [CellProblem(str(file), "sheet.unreadable", f"not a workbook this tool can read: {err}")]
    try:
        return _read(wb, problems)
    finally:
        wb.close()


def _read(wb, problems: list[CellProblem]) -> tuple[list[SheetFile], str | None, list[CellProblem]]:
    if FILES_SHEET not in wb.sheetnames:
        return [], None, [CellProblem(FILES_SHEET, "sheet.no_index", _no_index())]
    index, manifest = {}, None
    for r, row in enumerate(wb[FILES_SHEET].iter_rows(min_row=2, values_only=True), start=2):
        sheet, path = (list(row) + [None, None])[:2]
        if sheet == MANIFEST:
            manifest = path if isinstance(path, str) else None
        elif isinstance(sheet, str) and isinstance(path, str) and sheet:
            index[sheet] = path
        elif sheet or path:
            problems.append(CellProblem(cell_ref(FILES_SHEET, r, 1), "sheet.bad_index", "expected a sheet and a file"))
    files = []
    for sheet, path in index.items():
        if sheet not in wb.sheetnames:
            problems.append(CellProblem(quote_sheetname(sheet), "sheet.missing", f"the sheet of {path} is missing"))
            continue
        rows = _sheet_rows(wb[sheet], sheet, problems)
        if rows is not None:
            data, lines = csv_bytes(rows)
            files.append(SheetFile(sheet, path, data, lines))
    unknown = [s for s in wb.sheetnames if s not in index and not s.startswith("_")]
    for sheet in unknown:
        problems.append(
            CellProblem(
                quote_sheetname(sheet),
                "sheet.unknown",
                "this sheet is no file of the rule set (the hidden sheet _files lists them): move its rows to one",
            )
        )
    return files, manifest, problems


def _no_index() -> str:
    return f"the workbook has no {FILES_SHEET} sheet: only a workbook from `dispatch export` can be imported"


def _sheet_rows(ws, sheet: str, problems: list[CellProblem]) -> list[list[str]] | None:
    raw = list(ws.iter_rows(values_only=True))
    while raw and all(v is None or v == "" for v in raw[-1]):
        raw.pop()
    if not raw:
        problems.append(CellProblem(quote_sheetname(sheet), "sheet.empty", "the sheet is empty: expected a header row"))
        return None
    header = list(raw[0])
    while header and header[-1] in (None, ""):
        header.pop()
    before = len(problems)
    for k, name in enumerate(header, start=1):
        if not isinstance(name, str) or not name.strip():
            problems.append(CellProblem(cell_ref(sheet, 1, k), "sheet.header", "a column without a name"))
    if len(problems) > before:
        return None
    width = len(header)
    rows = [header]
    for r, values in enumerate(raw[1:], start=2):
        values = list(values)
        if all(v is None or v == "" for v in values):
            continue  # a blank row: the loader skips them too
        for k, extra in enumerate(values[width:], start=width + 1):
            if extra not in (None, ""):
                problems.append(
                    CellProblem(cell_ref(sheet, r, k), "sheet.outside", "a value right of the last named column")
                )
        values = (values + [None] * width)[:width]
        rows.append([cell_text(v, header[k], cell_ref(sheet, r, k + 1), problems) for k, v in enumerate(values)])
    return rows


def _map_diagnostic(d: Diagnostic, stage: Path, files: list[SheetFile]) -> str:
    """A diagnostic of the staged set, at the sheet cell it comes from where it comes from one."""
    text = str(d).replace(str(stage) + "/", "")
    for f in files:
        if d.place.path == f"{stage}/{f.path}":
            if d.place.line in f.lines:
                row = f.lines.index(d.place.line) + 1
                at = cell_ref(f.sheet, row, d.place.col) if d.place.col else f"{quote_sheetname(f.sheet)}!{row}:{row}"
                return f"{at}: {text}"
            return f"{quote_sheetname(f.sheet)}: {text}"
    return text


def import_workbook(file: str | Path, root: str | Path) -> tuple[Imported | None, list[str]]:
    """Write the workbook's files into `root` when it reads whole and gives a valid rule set.

    (Imported, []) on success; (None, problems) otherwise, and then nothing in `root` changed.
    """
    root = Path(root)
    files, manifest, problems = read_workbook(file)
    if problems:
        return None, [str(p) for p in problems]
    for f in files:
        p = Path(f.path)
        if p.is_absolute() or ".." in p.parts or not f.path.lower().endswith(".csv"):
            problems.append(CellProblem(FILES_SHEET, "sheet.bad_index", f"{f.path!r} is no CSV file inside a rule set"))
    if not (root / MANIFEST).is_file() and manifest is None:
        problems.append(
            CellProblem(FILES_SHEET, "sheet.no_manifest", f"{root} has no {MANIFEST} and the workbook none")
        )
    if problems:
        return None, [str(p) for p in problems]
    previous = None
    if (root / MANIFEST).is_file():
        old, _ = read_ruleset(root)
        previous = old.version if old is not None else None
    with tempfile.TemporaryDirectory(prefix="dispatch-import-") as tmp:
        stage = Path(tmp) / "ruleset"
        if root.is_dir():
            shutil.copytree(root, stage, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        else:
            stage.mkdir()
        if not (stage / MANIFEST).is_file():
            (stage / MANIFEST).write_text(manifest or "", encoding="utf-8")
        for f in files:
            (stage / f.path).parent.mkdir(parents=True, exist_ok=True)
            (stage / f.path).write_bytes(f.data)
        ruleset, diagnostics = read_ruleset(stage)
        if ruleset is None:
            errors = [d for d in diagnostics if d.severity is Severity.ERROR]
            return None, [_map_diagnostic(d, stage, files) for d in errors]
        warnings = [_map_diagnostic(d, stage, files) for d in diagnostics if d.severity is not Severity.ERROR]
    changed = _write_files(root, files, manifest)
    return Imported(str(root), [f.path for f in files], changed, ruleset.version, previous, warnings), []


def _write_files(root: Path, files: list[SheetFile], manifest: str | None) -> list[str]:
    """Write the files whose bytes differ, each to a temporary name and renamed over the old one."""
    root.mkdir(parents=True, exist_ok=True)
    writes = [(f.path, f.data) for f in files]
    if not (root / MANIFEST).is_file():
        writes.append((MANIFEST, (manifest or "").encode("utf-8")))
    changed = []
    for rel, data in writes:
        target = root / rel
        with contextlib.suppress(OSError):
            if target.read_bytes() == data:
                continue
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        changed.append(rel)
    return changed
