"""CsvFile: one CSV table read as a spreadsheet writes it, every row tied to its file:line."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dispatch.errors import Diagnostic, Place


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: values by column name, and where each value stands."""

    path: str
    line: int
    values: dict[str, str]
    columns: dict[str, int]

    def place(self, column: str | None = None) -> Place:
        """file:line:col, where col is the 1-based field number of `column`."""
        return Place(self.path, self.line, self.columns.get(column, 0) if column else 0)

    def get(self, column: str) -> str:
        return self.values.get(column, "")


def _decode(data: bytes, path: str, problems: list[Diagnostic]) -> str | None:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        col = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        guess = ""
        try:
            data.decode("gb18030")
            guess = " (it decodes as GBK/GB18030: save it as UTF-8)"
        except UnicodeDecodeError:
            pass
        problems.append(
            Diagnostic(
                "file.encoding",
                f"file is not UTF-8{guess}: byte 0x{data[err.start]:02x} at offset {err.start}",
                Place(path, line, col),
            )
        )
        return None


def read_csv(
    file: Path, display: str, required: tuple[str, ...], problems: list[Diagnostic]
) -> Iterator[Row]:
    """Yield the data rows of `file`; append every problem to `problems`.

    A UTF-8 BOM, CRLF line ends and quoted fields (with commas or line breaks) load.
    Columns may come in any order; extra columns are ignored. Blank rows are skipped.
    A file that cannot be read or lacks a required column yields nothing.
    """
    try:
        data = file.read_bytes()
    except OSError as err:
        problems.append(Diagnostic("file.unreadable", f"cannot read file: {err.strerror or err}", Place(display)))
        return
    text = _decode(data, display, problems)
    if text is None:
        return
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        problems.append(Diagnostic("file.binary", "file contains a NUL byte: not a CSV text file", Place(display, line)))
        return
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as err:
        problems.append(Diagnostic("csv.malformed", f"malformed header: {err}", Place(display, 1)))
        return
    if header is None:
        problems.append(Diagnostic("csv.empty", "file is empty: expected a header row", Place(display, 1)))
        return
    names = [h.strip() for h in header]
    columns: dict[str, int] = {}
    ok = True
    for i, name in enumerate(names, start=1):
        if name in columns and name:
            problems.append(Diagnostic("csv.duplicate_column", f"column {name!r} appears twice", Place(display, 1, i)))
            ok = False
        columns.setdefault(name, i)
    missing = [c for c in required if c not in columns]
    if missing:
        problems.append(
            Diagnostic(
                "csv.missing_column",
                f"missing required column(s): {', '.join(missing)} (header has: {', '.join(n for n in names if n)})",
                Place(display, 1),
            )
        )
        ok = False
    if not ok:
        return
    line = reader.line_num + 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            problems.append(Diagnostic("csv.malformed", f"malformed row: {err}", Place(display, line)))
            return
        start, line = line, reader.line_num + 1
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(names):
            problems.append(
                Diagnostic(
                    "csv.field_count",
                    f"row has {len(fields)} field(s), the header has {len(names)}",
                    Place(display, start),
                )
            )
            continue
        values = {name: fields[i - 1].strip() for name, i in columns.items()}
        yield Row(display, start, values, columns)
