"""Golden cases: a file of cases with the department and status they must get, run on a rule set (`dispatch test`).

A golden file is CSV (columns below, any order, extra columns ignored) or JSON lines with
the same keys. A malformed file is refused whole, every problem at file:line:col; a case
whose codes the rule set does not know is a failure of that case, not of the run. Cases
run on the compiled Dispatcher, the path the service answers with; a failure carries
the explanation (dispatch.core.explain) of what the rule set does instead.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from dispatch.core.case import Case
from dispatch.core.csvfile import Row, decode_text, read_bytes, read_csv
from dispatch.core.decision import Status
from dispatch.core.dispatcher import Dispatcher
from dispatch.core.errors import CaseError, Diagnostic, FileError, Place
from dispatch.core.explain import explain_case
from dispatch.core.hints import lost_zeros_warning
from dispatch.core.model import LOCAL
from dispatch.tools.explain.report import render_text as explanation_text

GOLDEN_COLUMNS = ("id", "event", "area", "source", "reported_at", "expected_department", "expected_status")
OPTIONAL_COLUMNS = ("expected_rule", "note")
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
STATUSES = tuple(s.value for s in Status)


class GoldenError(FileError):
    """A golden file that cannot be run: every problem in it, at file:line:col."""

    code = "golden.invalid"
    what = "golden file"


@dataclass(frozen=True, slots=True)
class GoldenCase:
    """One golden case: a case and what it must get. `expected_rule` empty: any rule."""

    id: str
    event: str
    area: str
    source: str
    reported_at: datetime
    expected_department: str  # empty when the case must go to the seat operators (manual); may be @local
    expected_status: str
    expected_rule: str
    note: str
    place: Place

    def case(self) -> Case:
        return Case(self.id, self.event, self.area, self.source, self.reported_at)


# -- reading --------------------------------------------------------------------------------


def read_golden(path: str | Path) -> list[GoldenCase]:
    """Every case of a golden file (CSV, or JSON lines by suffix); raises GoldenError naming every bad place."""
    problems: list[Diagnostic] = []
    display = str(path)
    if Path(path).suffix.lower() in JSON_SUFFIXES:
        cases = list(_json_lines(Path(path), display, problems))
    else:
        cases = [
            c
            for c in (_from_row(row, problems) for row in read_csv(Path(path), display, GOLDEN_COLUMNS, problems))
            if c is not None
        ]
    seen: dict[str, Place] = {}
    for c in cases:
        if c.id in seen:
            problems.append(Diagnostic("golden.duplicate_id", f"case id {c.id!r} is also at {seen[c.id]}", c.place))
        seen.setdefault(c.id, c.place)
    if not cases and not problems:
        problems.append(Diagnostic("golden.empty", "the golden file holds no case", Place(display, 1)))
    if problems:
        raise GoldenError(problems)
    return cases


def _from_row(row: Row, problems: list[Diagnostic]) -> GoldenCase | None:
    return _golden(row.get, row.place, problems)


def _golden(get, place, problems: list[Diagnostic]) -> GoldenCase | None:
    """A GoldenCase from a field getter and a place-of-field function; None (and problems) when malformed."""
    before = len(problems)

    def bad(column: str, code: str, message: str) -> None:
        problems.append(Diagnostic(code, message, place(column)))

    for column in ("id", "event", "area", "source", "reported_at", "expected_status"):
        if not get(column):
            bad(column, "value.required", f"{column} is required")
    stamp, status, department = get("reported_at"), get("expected_status"), get("expected_department")
    moment = None
    if stamp:
        try:
            moment = datetime.fromisoformat(stamp)
        except ValueError:
            bad("reported_at", "value.datetime", f"reported_at {stamp!r} is not an ISO 8601 timestamp")
    if status and status not in STATUSES:
        bad("expected_status", "value.status", f"expected_status {status!r} is not one of {', '.join(STATUSES)}")
    elif status == Status.MANUAL.value and department:
        bad("expected_department", "golden.inconsistent", "a manual case goes to no department: leave it empty")
    elif status and status != Status.MANUAL.value and not department:
        bad("expected_department", "value.required", f"a {status} case needs an expected_department")
    if len(problems) != before:
        return None
    return GoldenCase(
        get("id"),
        get("event"),
        get("area"),
        get("source"),
        moment,
        department,
        status,
        get("expected_rule"),
        get("note"),
        place(None),
    )


def _json_lines(path: Path, display: str, problems: list[Diagnostic]):
    data = read_bytes(path, display, problems)
    text = decode_text(data, display, problems) if data is not None else None
    if text is None:
        return
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as err:
            problems.append(Diagnostic("json.malformed", f"not JSON: {err.msg}", Place(display, number, err.colno)))
            continue
        if not isinstance(doc, dict):
            problems.append(
                Diagnostic("json.malformed", "a golden case must be a JSON object", Place(display, number, 1))
            )
            continue
        missing = [k for k in GOLDEN_COLUMNS if k not in doc and k != "expected_department"]  # none: manual
        odd = [
            k for k in (*GOLDEN_COLUMNS, *OPTIONAL_COLUMNS) if k in doc and not isinstance(doc[k], (str, type(None)))
        ]
        if missing or odd:
            why = (
                (f"missing key(s): {', '.join(missing)}" if missing else "")
                + ("; " if missing and odd else "")
                + (f"not a string: {', '.join(odd)}" if odd else "")
            )
            problems.append(Diagnostic("golden.bad_case", why, Place(display, number)))
            continue
        yield _golden(lambda k, doc=doc: (doc.get(k) or "").strip(), lambda _c, n=number: Place(display, n), problems)


# -- running --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GoldenResult:
    """What one golden case got. `error` is set when the case could not be dispatched at all."""

    case: GoldenCase
    status: str | None
    department: str | None
    rule: str | None
    error: CaseError | None
    mismatches: tuple[str, ...]  # status, department, rule; or error
    explanation: str | None  # for a failure: what the rule set does instead, as text

    @property
    def passed(self) -> bool:
        return not self.mismatches

    def diff(self) -> list[str]:
        """Expected against got, two aligned lines."""
        c = self.case
        want = [c.expected_status, c.expected_department or "-", f"rule {c.expected_rule}" if c.expected_rule else ""]
        if self.error is not None:
            got = [f"error {self.error.code}: {self.error}"]
        else:
            got = [self.status or "", self.department or "-", f"rule {self.rule}" if c.expected_rule else ""]
        width = [max(len(a), len(b)) for a, b in zip(want, got + [""] * (len(want) - len(got)))]
        return [
            ("expected  " + "  ".join(v.ljust(w) for v, w in zip(want, width))).rstrip(),
            ("got       " + "  ".join(v.ljust(w) for v, w in zip(got, width))).rstrip(),
        ]


@dataclass(frozen=True, slots=True)
class GoldenReport:
    path: str
    root: str
    name: str
    version: str
    outcomes: list[GoldenResult]
    rules_by_file: dict[str, int]  # rule file -> rules in it
    exercised_by_file: dict[str, int]  # rule file -> rules that decided at least one golden case
    seconds: float
    min_coverage: float | None = None  # percent
    warnings: tuple[Diagnostic, ...] = ()  # code.width: cases whose codes lost their leading zeros

    @property
    def failures(self) -> list[GoldenResult]:
        return [o for o in self.outcomes if not o.passed]

    @property
    def coverage(self) -> float:
        """Share of the rules that decided at least one golden case."""
        total = sum(self.rules_by_file.values())
        return sum(self.exercised_by_file.values()) / total if total else 0.0

    @property
    def coverage_met(self) -> bool:
        return self.min_coverage is None or self.coverage * 100 >= self.min_coverage - 1e-9

    @property
    def passed(self) -> bool:
        return not self.failures and self.coverage_met


def _expected_department(ruleset, c: GoldenCase) -> str:
    """The department code a case expects: `@local` is the local government of the case's area, as a rule's is."""
    if c.expected_department == LOCAL:
        return ruleset.local_department(c.area) or LOCAL
    return c.expected_department


def run_golden(
    dispatcher: Dispatcher, cases: list[GoldenCase], path: str = "", root: str = "", min_coverage: float | None = None
) -> GoldenReport:
    """Dispatch every golden case on the compiled tables and compare with what it expects."""
    started = time.perf_counter()
    ruleset = dispatcher.ruleset
    outcomes = []
    decided: set[str] = set()  # ids of the rules that decided a case
    for c in cases:
        case = c.case()
        try:
            d = dispatcher.dispatch(case)
        except CaseError as err:
            outcomes.append(GoldenResult(c, None, None, None, err, ("error",), None))
            continue
        got_rule = d.rule.id if d.rule else None
        if got_rule is not None:
            decided.add(got_rule)
        got_dept = d.department.code if d.department else ""
        want_dept = _expected_department(ruleset, c)
        mismatches = tuple(
            name
            for name, want, got in (
                ("status", c.expected_status, d.status.value),
                ("department", want_dept, got_dept),
                ("rule", c.expected_rule or got_rule, got_rule),
            )
            if want != got
        )
        text = explanation_text(explain_case(dispatcher, case), max_ranked=5, max_near=3) if mismatches else None
        outcomes.append(GoldenResult(c, d.status.value, got_dept, got_rule, None, mismatches, text))
    warnings = tuple(
        w
        for column, known in (("event", ruleset.events), ("area", ruleset.areas))
        if (
            w := lost_zeros_warning(
                "golden case",
                column,
                ((getattr(c, column), c.place) for c in cases if getattr(c, column) not in known),
                known,
            )
        )
    )
    rules_by_file = Counter(r.place.path for r in ruleset.rules)
    exercised = Counter(r.place.path for r in ruleset.rules if r.id in decided)
    return GoldenReport(
        path,
        root,
        ruleset.manifest.name,
        ruleset.version,
        outcomes,
        dict(sorted(rules_by_file.items())),
        {f: exercised.get(f, 0) for f in sorted(rules_by_file)},
        time.perf_counter() - started,
        min_coverage,
        warnings,
    )
