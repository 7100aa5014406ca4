"""The one core module that reads rule-set files: ruleset.toml and the CSV tables in, model out."""

from __future__ import annotations

import os
import re
import time
import tomllib
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dispatch.core.csvfile import Row, decode_text, read_bytes, read_csv
from dispatch.core.errors import Diagnostic, Place, RuleSetError, Severity, sorted_diagnostics
from dispatch.core.gridmap import GridMap, read_gridmap
from dispatch.core.model import ANY, Area, Department, EventNode, Manifest, ParsedRuleSet, Rule, RuleSet
from dispatch.core.validate import validate

MANIFEST = "ruleset.toml"

TAXONOMY_COLUMNS = ("code", "name", "parent", "deadline_hours", "urgent", "command_system")
AREA_COLUMNS = ("code", "name", "parent", "level", "grid_type", "region")
DEPARTMENT_COLUMNS = ("code", "name", "command_system", "governs")
RULE_COLUMNS = (
    "id",
    "event",
    "area",
    "grid_type",
    "source",
    "department",
    "co_handlers",
    "deadline_hours",
    "valid_from",
    "valid_to",
    "priority",
    "basis",
    "note",
)

_TRUE = {"true", "yes", "1", "y", "是"}
_FALSE = {"false", "no", "0", "n", "否", ""}
_CODE = re.compile(r"^[^\s,;*@]+$")


class _Fields:
    """Typed reads of one row's fields; every bad value becomes a diagnostic at file:line:col."""

    def __init__(self, row: Row, problems: list[Diagnostic]):
        self.row = row
        self.problems = problems

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

    def number(self, column: str) -> float | None:
        value = self.row.get(column)
        if not value:
            return None
        try:
            number = float(value)
        except ValueError:
            self._bad(column, "value.number", f"{column} {value!r} is not a number")
            return None
        if not (number > 0 and number < float("inf")):
            self._bad(column, "value.number", f"{column} must be a positive number of hours, not {value!r}")
            return None
        return number

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
        self._bad(column, "value.boolean", f"{column} {value!r} is not true or false")
        return None


def _event(row: Row, problems: list[Diagnostic]) -> EventNode | None:
    f = _Fields(row, problems)
    before = len(problems)
    node = EventNode(
        code=f.code("code", required=True) or "",
        name=f.text("name", required=True),
        parent=f.code("parent"),
        deadline_hours=f.number("deadline_hours"),
        urgent=f.boolean("urgent"),
        command_system=f.text("command_system") or None,
        opening_criteria=f.text("opening_criteria"),
        closing_criteria=f.text("closing_criteria"),
        place=row.place(),
    )
    return node if len(problems) == before else None


def _area(row: Row, problems: list[Diagnostic]) -> Area | None:
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
    )
    return area if len(problems) == before else None


def _department(row: Row, problems: list[Diagnostic]) -> Department | None:
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


def _rule(row: Row, problems: list[Diagnostic]) -> Rule | None:
    f = _Fields(row, problems)
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
        deadline_hours=f.number("deadline_hours"),
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
        problems.append(Diagnostic("manifest.missing", f"no {MANIFEST} in {display}: not a rule set", Place(where)))
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
        gridmap=gridmap,
    )


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

    def table(name: str, columns: tuple[str, ...], build) -> tuple:
        rows = read_csv(root / name, f"{display}/{name}", columns, problems, seen)
        return tuple(x for x in (build(row, problems) for row in rows) if x is not None)

    events = table(manifest.taxonomy, TAXONOMY_COLUMNS, _event)
    areas = table(manifest.areas, AREA_COLUMNS, _area)
    departments = table(manifest.departments, DEPARTMENT_COLUMNS, _department)
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
        rules.extend(table(rel, RULE_COLUMNS, _rule))
    gridmap = _gridmap(root, display, manifest, problems, seen) if manifest.gridmap else None
    parsed = ParsedRuleSet(display, manifest, events, areas, departments, tuple(rules), gridmap)
    return parsed, problems


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
        ruleset, more = validate(parsed)
        problems.extend(more)
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
