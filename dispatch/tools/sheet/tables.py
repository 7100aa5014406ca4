"""The CSV tables of a rule set, as the workbook carries them: which files, their rows, their closed lists.

Generic over the rule set's files: every CSV file the manifest names (a path or a glob, at
any depth of the TOML: taxonomy, areas, departments, the rule globs, a calendar, whatever
a later format adds) is a table, in the order the manifest names them.
"""

from __future__ import annotations

import csv
import io
import tomllib
from dataclasses import dataclass
from pathlib import Path

from dispatch.core.csvfile import decode_text
from dispatch.core.errors import Diagnostic, Place
from dispatch.core.load import MANIFEST

# codes: a spreadsheet that reads one as a number drops its leading zeros (01001001 -> 1001001)
# or its last digits (110115109401002 -> 1.10115E+14)
CODE_COLUMNS = frozenset({"code", "parent", "event", "area", "department", "co_handlers", "governs", "id", "source"})
NUMBER_COLUMNS = frozenset({"deadline_hours", "priority"})  # a number typed here is fine: written back as text
DATE_COLUMNS = frozenset({"valid_from", "valid_to", "date"})  # a date typed here is written back as YYYY-MM-DD
_GLOB = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class Table:
    """One CSV file of the rule set: its path (relative, POSIX) and its rows, the header first."""

    path: str
    rows: list[list[str]]

    @property
    def header(self) -> list[str]:
        return self.rows[0] if self.rows else []


def manifest_csv_names(manifest: object) -> list[str]:
    """Every string in the manifest's TOML (nested tables and arrays too) that names CSV files, in order."""
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            if value.lower().endswith(".csv") and value not in found:
                found.append(value)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)

    walk(manifest)
    return found


def ruleset_csv_files(root: Path) -> tuple[list[str], list[Diagnostic]]:
    """The CSV files of the rule set in `root`, relative POSIX paths in manifest order (a glob's sorted).

    Only files inside the rule directory: a name with `..` or an absolute one is a problem, as
    `dispatch check` says (manifest.outside).
    """
    where = f"{root}/{MANIFEST}"
    problems: list[Diagnostic] = []
    try:
        raw = tomllib.loads((root / MANIFEST).read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        return [], [Diagnostic("manifest.missing", f"no {MANIFEST} in {root}: not a rule set", Place(where))]
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        return [], [Diagnostic("manifest.syntax", f"cannot read the manifest: {err}", Place(where))]
    files: list[str] = []
    base = root.resolve()
    for name in manifest_csv_names(raw):
        path = Path(name)
        if path.is_absolute() or ".." in path.parts or "\\" in name:
            problems.append(Diagnostic("manifest.outside", f"{name!r} is not inside the rule directory", Place(where)))
            continue
        matches = sorted(root.glob(name)) if _GLOB & set(name) else [root / name]
        for p in matches:
            if not p.is_file() or not p.resolve().is_relative_to(base):
                continue
            rel = p.relative_to(root).as_posix()
            if rel not in files:
                files.append(rel)
    return files, problems


def read_table(root: Path, rel: str, problems: list[Diagnostic]) -> Table | None:
    """The rows of one CSV file as text (a BOM and CRLF as a spreadsheet writes them); blank rows left out."""
    display = f"{root}/{rel}"
    try:
        data = (root / rel).read_bytes()
    except OSError as err:
        problems.append(Diagnostic("file.unreadable", f"cannot read: {err.strerror}", Place(display)))
        return None
    text = decode_text(data, display, problems)
    if text is None:
        return None
    try:
        rows = [row for row in csv.reader(io.StringIO(text, newline=""), strict=True) if any(row)]
    except csv.Error as err:
        problems.append(Diagnostic("csv.malformed", f"malformed CSV: {err}", Place(display)))
        return None
    width = len(rows[0]) if rows else 0
    return Table(rel, [row + [""] * (width - len(row)) for row in rows])


def csv_bytes(rows: list[list[str]]) -> tuple[bytes, list[int]]:
    """The file our generator writes for `rows` (UTF-8, no BOM, LF, minimal quoting), and each row's line."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    lines, line = [], 1
    for row in rows:
        lines.append(line)
        before = buf.tell()
        writer.writerow(row)
        line += buf.getvalue().count("\n", before)
    return buf.getvalue().encode("utf-8"), lines


def closed_lists(manifest: dict, tables: list[Table], names: dict[str, str]) -> dict[str, list[str]]:
    """The values a column may take, by column name, where the rule set closes the list.

    department: the departments' codes and @local; source: the manifest's sources (and *);
    grid_type, level: those the areas use; command_system: the manifest's; urgent: true/false;
    unit: the deadline units. `names` maps the manifest's keys (departments, areas) to paths.
    """
    by_path = {t.path: t for t in tables}

    def column(key: str, name: str) -> list[str]:
        table = by_path.get(names.get(key, ""))
        if table is None or name not in table.header:
            return []
        k = table.header.index(name)
        return list(dict.fromkeys(row[k] for row in table.rows[1:] if row[k]))

    lists = {
        "department": [*column("departments", "code"), "@local"],
        "source": [*(s for s in manifest.get("sources", ()) if isinstance(s, str)), "*"],
        "grid_type": [*sorted(column("areas", "grid_type")), "*"],
        "level": column("areas", "level"),
        "command_system": [k for k in manifest.get("command_systems", {}) if isinstance(k, str)],
        "urgent": ["true", "false"],
        "unit": ["h", "wh", "wd"],
    }
    return {name: values for name, values in lists.items() if values and values != ["*"]}
