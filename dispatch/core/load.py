"""The one core module that reads rule-set files: ruleset.toml and the CSV tables in, model out."""

from __future__ import annotations

import os
import re
import time
import tomllib
from dataclasses import replace
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dispatch.core.csvfile import Row, decode_text, read_bytes, read_csv
from dispatch.core.errors import Diagnostic, Place, RuleSetError, Severity, sorted_diagnostics
from dispatch.core.gridmap import GridMap, read_gridmap
from dispatch.core.model import ANY, Area, Department, EventNode, Manifest, ParsedRuleSet, Rule, RuleSet
from dispatch.core.validate import validate
from dispatch.core.worktime import KINDS, Calendar, Deadline, clock_text, parse_class_deadlines, parse_deadline

MANIFEST = "ruleset.toml"

# required columns; a deadline column (`deadline`, or the old `deadline_hours`) is required too
TAXONOMY_COLUMNS = ("code", "name", "parent", "urgent", "command_system")
AREA_COLUMNS = ("code", "name", "parent", "level", "grid_type", "region")  # and optionally `class`
DEPARTMENT_COLUMNS = ("code", "name", "command_system", "governs")
DAYS_COLUMNS = ("date", "kind")  # and optionally `name`
_DEADLINE_RENAMED = (
    "deadline",
    "deadline_hours",
    "give units: 4h natural hours, 4wh working hours, 2wd working days; its values still read as natural hours",
)
RULE_COLUMNS = (
    "id",
    "event",
    "area",
    "grid_type",
    "source",
    "department",
    "co_handlers",
    "valid_from",
    "valid_to",
    "priority",
    "basis",
    "note",
)

_TRUE = {"true", "yes", "1", "y", "是"}
_FALSE = {"false", "no", "0", "n", "否", ""}
_BOOLEAN_SPELLINGS = "true or false (also yes/no, y/n, 1/0, 是/否; empty: inherit)"
_CODE = re.compile(r"^[^\s,;*@]+$")


class _Fields:
    """Typed reads of one row's fields; every bad value becomes a diagnostic at file:line:col.

    `calendar`: whether the rule set has one (a working-time deadline needs it)."""

    def __init__(self, row: Row, problems: list[Diagnostic], calendar: bool = False):
        self.row = row
        self.problems = problems
        self.calendar = calendar

    def _bad(self, column: str, code: str, message: str) -> None:
        self.problems.append(Diagnostic(code, message, self.row.place(column)))

    def text(self, column: str, required: bool = False) -> str:
        value = self.row.get(column)
        if required and not value:
            self._bad(column, "value.required", f"{column} is required")
        return value

    def code(self, column: str, required: bool = False, wildcard: bool = False) -> str | None:
        value = self.text(column, required)
        if not value:
            return None
        if wildcard and value == ANY:
            return ANY
        if not _CODE.match(value):
            self._bad(column, "value.code", f"{column} {value!r} is not a code (no spaces, ',', ';', '*' or '@')")
        return value

    def deadline(self, per_class: bool = False):
        """The row's deadline: from `deadline` (4h, 4wh, 2wd; with per_class also A=2wh;B=4wh),
        or from the old `deadline_hours` as natural hours. None when empty."""
        column = "deadline" if "deadline" in self.row.columns else "deadline_hours"
        value = self.row.get(column)
        if not value:
            return None
        try:
            if column == "deadline_hours":
                if not re.fullmatch(r"\d+(\.\d+)?", value):
                    raise ValueError(f"{value!r} is not a number of hours")
                spec = parse_deadline(value + "h")
            elif "=" in value and per_class:
                spec = parse_class_deadlines(value)
            elif "=" in value:
                raise ValueError(
                    f"{value!r}: a rule's deadline is one value; values per area class belong in taxonomy.csv"
                )
            else:
                spec = parse_deadline(value)
        except ValueError as err:
            self._bad(column, "value.deadline", f"{column} {err}")
            return None
        values = [spec] if isinstance(spec, Deadline) else [v for _, v in spec]
        if not self.calendar and any(v.working for v in values):
            self._bad(
                column,
                "value.deadline_unit",
                f"{column} {value!r} counts working time, but ruleset.toml has no [calendar] "
                "(work_hours, workweek, days): add one, or give natural hours (h)",
            )
            return None
        return spec

    def integer(self, column: str, default: int = 0) -> int:
        value = self.row.get(column)
        if not value:
            return default
        try:
            return int(value)
        except ValueError:
            self._bad(column, "value.integer", f"{column} {value!r} is not an integer")
            return default

    def day(self, column: str) -> date | None:
        value = self.row.get(column)
        if not value:
            return None
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise ValueError
            return date.fromisoformat(value)
        except ValueError:
            self._bad(column, "value.date", f"{column} {value!r} is not an ISO date (YYYY-MM-DD)")
            return None

    def boolean(self, column: str) -> bool | None:
        value = self.row.get(column)
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False if value else None
        self._bad(column, "value.boolean", f"{column} {value!r} is not a boolean: write {_BOOLEAN_SPELLINGS}")
        return None


def _event(row: Row, problems: list[Diagnostic], calendar: bool = False) -> EventNode | None:
    f = _Fields(row, problems, calendar)
    before = len(problems)
    node = EventNode(
        code=f.code("code", required=True) or "",
        name=f.text("name", required=True),
        parent=f.code("parent"),
        deadline=f.deadline(per_class=True),
        urgent=f.boolean("urgent"),
        command_system=f.text("command_system") or None,
        opening_criteria=f.text("opening_criteria"),
        closing_criteria=f.text("closing_criteria"),
        place=row.place(),
    )
    return node if len(problems) == before else None


def _area(row: Row, problems: list[Diagnostic], calendar: bool = False) -> Area | None:
    f = _Fields(row, problems)
    before = len(problems)
    area = Area(
        code=f.code("code", required=True) or "",
        name=f.text("name", required=True),
        parent=f.code("parent"),
        level=f.text("level", required=True),
        grid_type=f.text("grid_type") or None,
        region=f.text("region") or None,
        place=row.place(),
        area_class=f.code("class"),
    )
    return area if len(problems) == before else None


def _department(row: Row, problems: list[Diagnostic], calendar: bool = False) -> Department | None:
    f = _Fields(row, problems)
    before = len(problems)
    dept = Department(
        code=f.code("code", required=True) or "",
        name=f.text("name", required=True),
        command_system=f.text("command_system") or None,
        governs=f.code("governs"),
        place=row.place(),
    )
    return dept if len(problems) == before else None


def _rule(row: Row, problems: list[Diagnostic], calendar: bool = False) -> Rule | None:
    f = _Fields(row, problems, calendar)
    before = len(problems)
    source = f.text("source")
    grid_type = f.text("grid_type")
    department = f.text("department", required=True)
    co_handlers = tuple(c.strip() for c in f.text("co_handlers").split(";") if c.strip())
    rule = Rule(
        id=f.code("id", required=True) or "",
        event=f.code("event", required=True, wildcard=True) or ANY,
        area=f.code("area", required=True, wildcard=True) or ANY,
        grid_type=None if grid_type in ("", ANY) else grid_type,
        source=None if source in ("", ANY) else source,
        department=department,
        co_handlers=co_handlers,
        deadline=f.deadline(),
        valid_from=f.day("valid_from"),
        valid_to=f.day("valid_to"),
        priority=f.integer("priority"),
        basis=f.text("basis"),
        note=f.text("note"),
        place=row.place(),
        columns=row.columns,
    )
    return rule if len(problems) == before else None


def _manifest(root: Path, display: str, problems: list[Diagnostic], seen: dict[Path, bytes]) -> Manifest | None:
    path = root / MANIFEST
    where = f"{display}/{MANIFEST}"
    if not path.exists():
        problems.append(
            Diagnostic(
                "manifest.missing",
                f"no {MANIFEST} in {display}: not a rule set (`dispatch init DIR` writes an example to start from)",
                Place(where),
            )
        )
        return None
    data = read_bytes(path, where, problems, seen)
    text = decode_text(data, where, problems) if data is not None else None
    if text is None:
        return None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(err))
        line, col = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
        problems.append(Diagnostic("manifest.syntax", f"invalid TOML: {err}", Place(where, line, col)))
        return None
    except (ValueError, RecursionError) as err:  # an integer too long to read, arrays nested too deep
        problems.append(Diagnostic("manifest.syntax", f"unreadable TOML: {type(err).__name__}", Place(where)))
        return None

    before = len(problems)

    def want(key: str, kind: type, default=None):
        if key not in raw:
            if default is None:
                problems.append(Diagnostic("manifest.missing_key", f"missing key {key!r}", Place(where)))
            return default
        value = raw[key]
        if kind is list:
            ok = isinstance(value, list) and all(isinstance(v, str) and v for v in value) and value
        elif kind is dict:
            ok = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
        else:
            ok = isinstance(value, str) and value
        if not ok:
            problems.append(
                Diagnostic(
                    "manifest.bad_value", f"{key!r} must be a non-empty {kind.__name__} of strings", Place(where)
                )
            )
            return default
        return value

    name = want("name", str)
    timezone = want("timezone", str)
    sources = want("sources", list)
    taxonomy = want("taxonomy", str)
    areas = want("areas", str)
    departments = want("departments", str)
    rules = want("rules", list)
    command_systems = want("command_systems", dict, default={})
    title = raw.get("title", "") if isinstance(raw.get("title", ""), str) else ""
    gridmap = want("gridmap", str, default="") or None  # optional: the grid map of areas, GeoJSON
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory, a name too long
            problems.append(Diagnostic("manifest.bad_value", f"unknown timezone {timezone!r}", Place(where)))
    for key, value in (("taxonomy", taxonomy), ("areas", areas), ("departments", departments), ("gridmap", gridmap)):
        if value and not _inside(root, value):
            problems.append(_outside(key, value, text, where))
    for pattern in rules or ():
        if not _inside(root, pattern, pattern=True):
            problems.append(_outside("rules", pattern, text, where))
    if sources and len(set(sources)) != len(sources):
        problems.append(Diagnostic("manifest.bad_value", "sources lists a source twice", Place(where)))
    calendar = _calendar(raw.get("calendar"), root, text, where, problems)
    if len(problems) != before:
        return None
    return Manifest(
        name=name,
        timezone=timezone,
        sources=tuple(sources),
        command_systems=dict(command_systems),
        taxonomy=taxonomy,
        areas=areas,
        departments=departments,
        rules=tuple(rules),
        title=title,
        calendar=calendar,
        gridmap=gridmap,
    )


_CALENDAR_KEYS = ("workweek", "work_hours", "days")
_HOURS = re.compile(r"(\d\d):(\d\d)-(\d\d):(\d\d)")


def _calendar(table: object, root: Path, text: str, where: str, problems: list[Diagnostic]) -> Calendar | None:
    """`[calendar]` of ruleset.toml (its `days` file is read later, by _read_days); None when absent."""
    if table is None:
        return None
    lines = text.splitlines()
    top = next((n for n, row in enumerate(lines, 1) if row.strip().startswith("[calendar]")), 0)

    def place(key: str, value: str = "") -> Place:
        """The line of `key` in [calendar] (and the column of `value` in it, when given)."""
        for n, row in enumerate(lines[top:], top + 1):
            if row.strip().startswith("["):
                break
            if re.match(rf"\s*{key}\s*=", row):
                col = row.find(value) + 1 if value and value in row else row.find(key) + 1
                return Place(where, n, col)
        return Place(where, top)

    def bad(key: str, message: str, value: str = "") -> None:
        problems.append(Diagnostic("calendar.bad_value", message, place(key, value)))

    if not isinstance(table, dict):
        problems.append(Diagnostic("calendar.bad_value", "calendar must be a table: [calendar]", Place(where, top)))
        return None
    for key in table:
        if key not in _CALENDAR_KEYS:
            bad(key, f"unknown key {key!r} in [calendar] (known: {', '.join(_CALENDAR_KEYS)})")
    workweek = table.get("workweek", [1, 2, 3, 4, 5])
    if not (
        isinstance(workweek, list)
        and all(type(d) is int and 1 <= d <= 7 for d in workweek)
        and len(set(workweek)) == len(workweek)
    ):
        bad("workweek", "workweek must list ISO weekdays, each once: 1 (Monday) to 7 (Sunday), as [1, 2, 3, 4, 5]")
        workweek = []
    elif not workweek:
        bad(
            "workweek",
            "workweek lists no day: after the days file's last workday nothing would fall due; list the weekdays worked",
        )
    hours: list[tuple[int, int]] = []
    raw_hours = table.get("work_hours")
    if raw_hours is None:
        bad("work_hours", 'the calendar needs work_hours, as ["09:00-12:00", "13:30-17:30"]')
    elif not isinstance(raw_hours, list) or not raw_hours or not all(isinstance(h, str) for h in raw_hours):
        bad("work_hours", 'work_hours must be a non-empty list of "HH:MM-HH:MM" strings')
    else:
        for span in raw_hours:
            m = _HOURS.fullmatch(span.strip())
            if m is None:
                padded = re.sub(r"(?<!\d)(\d):", r"0\1:", span.strip())
                hint = f": write {padded!r}" if _HOURS.fullmatch(padded) else ""
                bad("work_hours", f"work_hours {span!r} is not HH:MM-HH:MM{hint}", span)
                continue
            h1, m1, h2, m2 = map(int, m.groups())
            start, end = h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60
            if h1 > 23 or m1 > 59 or m2 > 59 or end > 24 * 3600:
                bad("work_hours", f"work_hours {span!r} lies outside one day (00:00 to 24:00)", span)
            elif start >= end:
                bad("work_hours", f"work_hours {span!r} ends before it starts (past midnight: split it at 24:00)", span)
            elif hours and start < hours[-1][1]:
                bad(
                    "work_hours",
                    f"work_hours {span!r} overlaps or precedes {clock_text(hours[-1][0]) + '-' + clock_text(hours[-1][1])!r} before it: list them ascending, apart",
                    span,
                )
            else:
                hours.append((start, end))
    days = table.get("days")
    if days is not None and not (isinstance(days, str) and days):
        bad("days", "days must name a CSV file (date,kind,name)")
        days = None
    elif days is not None and not _inside(root, days):
        problems.append(_outside("days", days, text, where))
        days = None
    return Calendar(tuple(sorted(workweek)), tuple(hours), {}, days, Place(where, top))


def _read_days(root: Path, display: str, calendar: Calendar, problems: list[Diagnostic], seen: dict) -> Calendar:
    """The calendar with its `days` file read: date,kind,name rows, kind holiday or workday."""
    name = calendar.days_file
    days: dict[date, tuple[str, str]] = {}
    first: dict[date, Place] = {}
    for row in read_csv(root / name, f"{display}/{name}", DAYS_COLUMNS, problems, seen):
        f = _Fields(row, problems)
        day = f.day("date")
        if day is None and row.get("date") == "":
            f.text("date", required=True)
        kind = f.text("kind", required=True)
        if kind and kind not in KINDS:
            f._bad("kind", "value.kind", f"kind {kind!r} is not one of {', '.join(KINDS)}")
            continue
        if day is None or not kind:
            continue
        if day in first:
            f._bad("date", "calendar.duplicate_date", f"date {day} is already listed at {first[day]}")
            continue
        first[day] = row.place("date")
        days[day] = (kind, row.get("name"))
    return replace(calendar, days=days)


def _inside(root: Path, name: str, pattern: bool = False) -> bool:
    """Whether the file (or every file a glob) `name` names lies inside `root`: a relative path with no
    `..` part, that resolves (symlinks followed) inside the rule directory."""
    if not name or "\x00" in name or "\\" in name:
        return False
    path = Path(name)
    if path.is_absolute() or ".." in path.parts:
        return False
    if pattern:  # a glob's files are checked one by one as they are found (rule_files)
        return True
    return _resolves_inside(root, root / path)


def _resolves_inside(root: Path, file: Path) -> bool:
    try:
        return file.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a symlink loop
        return False


def _outside(key: str, value: str, text: str, where: str) -> Diagnostic:
    """A manifest path that leaves the rule directory, at the line of the manifest that names it."""
    line = next(
        (n for n, row in enumerate(text.splitlines(), 1) if value in row and not row.lstrip().startswith("#")), 0
    )
    return Diagnostic(
        "manifest.outside",
        f"{key} {value!r} must name a file inside the rule directory: a relative path, no '..', no symlink out",
        Place(where, line),
    )


def rule_files(root: Path, manifest: Manifest, problems: list[Diagnostic] | None = None, where: str = "") -> list[Path]:
    """The rule files the manifest's globs name, each once, sorted; a file that resolves outside the
    rule directory (a symlink out) is left out and reported."""
    found: set[Path] = set()
    for pattern in manifest.rules:
        for p in root.glob(pattern):
            if not p.is_file():
                continue
            if _resolves_inside(root, p):
                found.add(p)
            elif problems is not None:
                rel = Path(os.path.relpath(p, root)).as_posix()
                problems.append(
                    Diagnostic(
                        "manifest.outside",
                        f"rules {pattern!r} matches {rel}, which leads outside the rule directory (a symlink out)",
                        Place(where),
                    )
                )
    return sorted(found)


def parse_ruleset(
    root: str | Path, seen: dict[Path, bytes] | None = None
) -> tuple[ParsedRuleSet | None, list[Diagnostic]]:
    """Read every file of the rule set in `root`; return what parsed and every problem met.

    Rows with a bad value are dropped (and reported); whole-set checks are validate's job.
    `seen`, when given, gets the bytes of every file read, by path (see read_ruleset).
    """
    display = str(root).rstrip("/") or "."
    root = Path(root)
    problems: list[Diagnostic] = []
    seen = {} if seen is None else seen
    manifest = _manifest(root, display, problems, seen)
    if manifest is None:
        return None, problems

    has_calendar = manifest.calendar is not None
    if has_calendar and manifest.calendar.days_file:
        manifest = replace(manifest, calendar=_read_days(root, display, manifest.calendar, problems, seen))
    invalid: dict[tuple[str, str], Place] = {}
    refused: dict[str, Place] = {}

    def table(name: str, columns: tuple[str, ...], build, kind: str = "", renamed: tuple | None = None) -> tuple:
        start = len(problems)
        rows = read_csv(root / name, f"{display}/{name}", columns, problems, seen, renamed)
        built = []
        for row in rows:
            x = build(row, problems, has_calendar)
            if x is not None:
                built.append(x)
            elif kind and row.get("code"):
                invalid.setdefault((kind, row.get("code")), row.place())
        if kind:
            _note_refused(kind, problems[start:], refused)
        return tuple(built)

    events = table(manifest.taxonomy, TAXONOMY_COLUMNS, _event, "event", _DEADLINE_RENAMED)
    areas = table(manifest.areas, AREA_COLUMNS, _area, "area")
    departments = table(manifest.departments, DEPARTMENT_COLUMNS, _department, "department")
    where = f"{display}/{MANIFEST}"
    outside = len(problems)
    files = rule_files(root, manifest, problems, where)
    if len(problems) > outside:
        return None, problems  # a rule file out of bounds: nothing of it is read
    if not files:
        problems.append(
            Diagnostic(
                "manifest.no_rule_files", f"rules {list(manifest.rules)} match no file", Place(f"{display}/{MANIFEST}")
            )
        )
    rules: list[Rule] = []
    for file in files:
        rel = Path(os.path.relpath(file, root)).as_posix()
        rules.extend(table(rel, RULE_COLUMNS, _rule, renamed=_DEADLINE_RENAMED))
    gridmap = _gridmap(root, display, manifest, problems, seen) if manifest.gridmap else None
    parsed = ParsedRuleSet(display, manifest, events, areas, departments, tuple(rules), invalid, refused, gridmap)
    return parsed, problems


_REFUSING = ("file.", "csv.empty", "csv.missing_column", "csv.duplicate_column", "csv.malformed", "csv.separator")


def _note_refused(kind: str, problems: list[Diagnostic], refused: dict[str, Place]) -> None:
    """Record that the table of `kind` was not read whole (its rows past a problem among `problems` are unknown)."""
    for p in problems:
        if p.code.startswith(_REFUSING):
            refused.setdefault(kind, p.place)
            return


def _gridmap(
    root: Path, display: str, manifest: Manifest, problems: list[Diagnostic], seen: dict[Path, bytes]
) -> GridMap | None:
    where = f"{display}/{manifest.gridmap}"
    data = read_bytes(root / manifest.gridmap, where, problems, seen)
    text = decode_text(data, where, problems) if data is not None else None
    return read_gridmap(text, where, problems) if text is not None else None


SNAPSHOT_ATTEMPTS = 8  # reads of a rule set whose files keep changing, before it is refused
SNAPSHOT_PAUSE = 0.25  # seconds between them: a deploy tool or an editor finishes writing meanwhile
SERVICE_SETTLE = 0.5  # the service's `settle`: seconds a file must have kept still to be activated


def read_ruleset(root: str | Path, settle: float = 0.0) -> tuple[RuleSet | None, list[Diagnostic]]:
    """Parse and validate the rule set in `root`: the RuleSet (None on any error) and every diagnostic, sorted.

    The files are read as a snapshot: after parsing, each file read is read again and must
    hold the same bytes, and the rule globs must name the same files; otherwise the set
    was changing while it was read (a file half written, a file added) and it is read
    again, up to SNAPSHOT_ATTEMPTS times, then refused (ruleset.changing). `settle` > 0
    (the service's loads) also counts a file modified less than `settle` seconds ago as
    changing: a writer paused between two rows looks finished to a second read, not to
    the clock. Replace files by atomic rename (write to a temporary name, then mv) and a
    reader sees old or new, whole.
    """
    for attempt in range(SNAPSHOT_ATTEMPTS):
        if attempt:
            time.sleep(SNAPSHOT_PAUSE)
        seen: dict[Path, bytes] = {}
        parsed, problems = parse_ruleset(root, seen)
        if _still(Path(root), parsed, seen, settle):
            break
    else:
        where = f"{str(root).rstrip('/') or '.'}/{MANIFEST}"
        message = f"the rule set's files kept changing while they were read ({SNAPSHOT_ATTEMPTS} reads): not activated"
        return None, [Diagnostic("ruleset.changing", message, Place(where))]
    ruleset = None
    if parsed is not None:
        ruleset, problems = validate(parsed, problems)
        if any(p.severity is Severity.ERROR for p in problems):
            ruleset = None
    return ruleset, sorted_diagnostics(problems)


def _still(root: Path, parsed: ParsedRuleSet | None, seen: dict[Path, bytes], settle: float) -> bool:
    """Whether every file read still holds what was read (and has for `settle` seconds), and the rule
    globs still name the same files."""
    now = time.time()
    for path, data in seen.items():
        try:
            if path.read_bytes() != data or (settle and now - path.stat().st_mtime < settle):
                return False
        except OSError:
            return False
    if parsed is not None:  # no rule file added (a deleted one fails its read above)
        return set(rule_files(root, parsed.manifest)) <= seen.keys()
    return True


def load_ruleset(root: str | Path, settle: float = 0.0) -> RuleSet:
    """The validated RuleSet in `root`; raises RuleSetError with every error when there is one."""
    ruleset, problems = read_ruleset(root, settle)
    if ruleset is None:
        raise RuleSetError(problems)
    return ruleset
