"""CsvFile: one CSV table read as a spreadsheet writes it, every row tied to its file:line."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from sys import intern

from dispatch.core.errors import Diagnostic, Place, Severity


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


def decode_text(data: bytes, path: str, problems: list[Diagnostic]) -> str | None:
    """UTF-8 text of a file (a BOM dropped, CRLF made LF), or None with a `file.encoding` problem.

    The problem's place is the line and byte column of the first bad byte, and says
    when the file reads as GBK, the usual other encoding of a Chinese spreadsheet.
    """
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        text = data[bom:].decode("utf-8")
    except UnicodeDecodeError as err:
        at = err.start + bom
        line = data.count(b"\n", 0, at) + 1
        col = at - (data.rfind(b"\n", 0, at) + 1) + 1
        guess = ""
        try:
            data[bom:].decode("gb18030")
            guess = " (it decodes as GBK/GB18030: save it as UTF-8)"
        except UnicodeDecodeError:
            pass
        problems.append(
            Diagnostic(
                "file.encoding",
                f"file is not UTF-8{guess}: byte 0x{data[at]:02x} at line {line}, byte {col}",
                Place(path, line, col),
            )
        )
        return None
    # line ends inside quoted fields too: a checkout with CRLF must read the same values
    return text.replace("\r\n", "\n")


def read_bytes(
    file: Path, display: str, problems: list[Diagnostic], seen: dict[Path, bytes] | None = None
) -> bytes | None:
    """The file's bytes, or None after a problem; `seen` (when given) records what was read, by path."""
    try:
        data = file.read_bytes()
        if seen is not None:
            seen[file] = data
        return data
    except FileNotFoundError:
        problems.append(Diagnostic("file.unreadable", "no such file", Place(display)))
    except (OSError, ValueError) as err:  # ValueError: a NUL in the name
        problems.append(
            Diagnostic("file.unreadable", f"cannot read file: {getattr(err, 'strerror', None) or err}", Place(display))
        )
    return None


_SEPARATORS = {";": "semicolons (';')", "\t": "tabs", "|": "bars ('|')"}


def _other_separator(header: list[str], required: tuple[str, ...]) -> str | None:
    """The separator a header uses instead of ',' (a European spreadsheet's ';', a tab), when it names the columns."""
    line = ",".join(header)
    for sep, name in _SEPARATORS.items():
        names = {h.strip() for h in line.split(sep)}
        if sep in line and sum(c in names for c in required) >= max(1, len(required) // 2):
            return name
    return None


def read_csv(
    file: Path,
    display: str,
    required: tuple[str, ...],
    problems: list[Diagnostic],
    seen: dict[Path, bytes] | None = None,
    renamed: tuple[str, str, str] | None = None,
) -> Iterator[Row]:
    """Yield the data rows of `file`; append every problem to `problems`.

    A UTF-8 BOM, CRLF line ends and quoted fields (with commas or line breaks) load.
    Columns may come in any order; extra columns are ignored. Blank rows are skipped.
    A file that cannot be read or lacks a required column yields nothing.
    `renamed` = (column, its old name, how the old one reads): one of the two is
    required; the old one still reads, with a warning that names the new.
    """
    data = read_bytes(file, display, problems, seen)
    if data is None:
        return
    text = decode_text(data, display, problems)
    if text is None:
        return
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        problems.append(
            Diagnostic("file.binary", "file contains a NUL byte: not a CSV text file", Place(display, line))
        )
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
    separator = _other_separator(header, required) if missing else None
    if separator is not None:
        problems.append(
            Diagnostic(
                "csv.separator",
                f"the file is separated by {separator}, not commas: save it as CSV with ',' between fields "
                "(in a spreadsheet: CSV UTF-8, comma-delimited)",
                Place(display, 1),
            )
        )
        return
    if renamed is not None:
        new, old, hint = renamed
        if new in columns and old in columns:
            problems.append(
                Diagnostic(
                    "csv.duplicate_column",
                    f"columns {new!r} and {old!r} (its old name) both appear: keep {new!r}",
                    Place(display, 1, columns[old]),
                )
            )
            ok = False
        elif old in columns:
            problems.append(
                Diagnostic(
                    "csv.old_column",
                    f"column {old!r} is the old name of {new!r}: rename it ({hint})",
                    Place(display, 1, columns[old]),
                    Severity.WARNING,
                )
            )
        elif new not in columns:
            missing.append(new)
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
        # interned: 880,000 rules repeat a few thousand codes and citations, once each in memory
        values = {name: intern(fields[i - 1].strip()) for name, i in columns.items()}
        yield Row(display, start, values, columns)
