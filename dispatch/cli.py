"""The `dispatch` command: parse arguments, call the core, print, exit with a status."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import date
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_CANNOT_RUN = 0, 1, 2
DEFAULT_RULES = "rules/daxing"
HERE = "the current directory when it holds a ruleset.toml, else rules/daxing"
GOLDEN = "golden.csv"  # the golden cases `dispatch test` runs when --cases is not given

DESCRIPTION = """\
Rule-based dispatch of city cases: which department handles a case, by when, and which rule decided.
The rules are CSV files in a directory with a ruleset.toml; check, test, explain and serve them."""

EPILOG = """\
start a rule set of your own:
  dispatch init mycity            write a small, valid example rule set (--example minimal|daxing)
  cd mycity
  dispatch check                  every error at file:line:col, then coverage
  dispatch test                   the golden cases in golden.csv
  dispatch serve --rules .        POST /v1/dispatch on http://127.0.0.1:8000

'dispatch COMMAND --help' tells more of each command."""


def default_rules() -> str:
    """The rule set a command uses when none is given: the current directory if it is one, else the embedded set."""
    return "." if Path("ruleset.toml").is_file() else DEFAULT_RULES


def _missing(command: str, dirs: tuple[str, ...] = (), files: tuple[str | None, ...] = ()) -> bool:
    """True, after saying which, when a directory or a (given) file is not there."""
    for path in dirs:
        if not Path(path).is_dir():
            print(f"dispatch {command}: {path}: not a directory", file=sys.stderr)
            return True
    for path in files:
        if path and not Path(path).is_file():
            print(f"dispatch {command}: {path}: no such file", file=sys.stderr)
            return True
    return False


def _check(args: argparse.Namespace) -> int:
    from dispatch.tools.check.check import check_ruleset
    from dispatch.tools.check.report import render_github, render_json, render_text

    args.rules = args.rules or default_rules()
    if _missing("check", (args.rules,), (args.cases,)):
        return EXIT_CANNOT_RUN
    report = check_ruleset(args.rules, cases=args.cases, at=args.at)
    render = {"text": render_text, "json": render_json, "github": render_github}[args.format]
    print(render(report))
    return EXIT_OK if report.passed(strict=args.strict) else EXIT_FAILED


def _dispatcher(command: str, rules: str):
    """The compiled rule set in `rules`, or None after printing why not (as `dispatch check` does)."""
    from dispatch.core.dispatcher import Dispatcher
    from dispatch.core.load import read_ruleset

    if _missing(command, (rules,)):
        return None
    started = time.perf_counter()
    ruleset, diagnostics = read_ruleset(rules)
    if ruleset is None:
        _print_invalid(command, rules, diagnostics, time.perf_counter() - started)
        return None
    for d in diagnostics:
        if d.code == "code.width":  # damaged codes make golden cases and histories fail in puzzling ways: say so
            print(d, file=sys.stderr)
    return Dispatcher(ruleset)


def _print_invalid(command: str, rules: str, diagnostics: list, seconds: float = 0.0) -> None:
    """An invalid rule set's diagnostics as `dispatch check` prints them, and that the command cannot run."""
    from dispatch.tools.check.check import CheckReport
    from dispatch.tools.check.report import render_text

    print(render_text(CheckReport(rules, diagnostics, None, seconds)), file=sys.stderr)
    print(f"dispatch {command}: {rules} is not a valid rule set", file=sys.stderr)


def _case_doc(args: argparse.Namespace) -> dict:
    """The case the arguments give: --case JSON, --case @FILE, or --event/--area/--source/--at/--id."""
    if args.case is None:
        doc = {"id": args.id, "event": args.event, "area": args.area, "source": args.source, "reported_at": args.at}
        if args.lon is not None or args.lat is not None:
            doc["location"] = {"longitude": args.lon, "latitude": args.lat, "crs": args.crs}
        return doc
    text = Path(args.case[1:]).read_text(encoding="utf-8-sig") if args.case.startswith("@") else args.case
    return json.loads(text)


def _explain(args: argparse.Namespace) -> int:
    from dispatch.core.case import case_from_mapping
    from dispatch.core.errors import CaseError
    from dispatch.core.explain import explain_case, explanation_dict, locate_case
    from dispatch.core.geo import CRS_NAMES
    from dispatch.tools.explain.report import render_text

    located = args.lon is not None and args.lat is not None
    if args.case is None and not (args.event and (args.area or located) and args.source):
        print(
            "dispatch explain: give --event, --area and --source (--lon and --lat for the area), or --case",
            file=sys.stderr,
        )
        return EXIT_CANNOT_RUN
    try:
        doc = _case_doc(args)
    except (OSError, ValueError) as err:
        print(f"dispatch explain: --case: {err}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    args.rules = args.rules or default_rules()
    dispatcher = _dispatcher("explain", args.rules)
    if dispatcher is None:
        return EXIT_CANNOT_RUN
    try:
        location = None
        if type(doc) is dict and doc.get("location") is not None:
            loc = doc["location"]
            if type(loc) is not dict or not all(type(loc.get(k)) in (int, float) for k in ("longitude", "latitude")):
                raise CaseError("request.invalid", "location", loc, "location must be {longitude, latitude[, crs]}")
            crs = loc.get("crs") or "wgs84"
            if crs not in CRS_NAMES:
                raise CaseError("request.invalid", "location.crs", crs, f"crs must be one of {', '.join(CRS_NAMES)}")
            area, location = locate_case(
                dispatcher, doc.get("area"), float(loc["longitude"]), float(loc["latitude"]), crs
            )
            doc = {**doc, "area": area}
        explanation = explain_case(dispatcher, case_from_mapping(dispatcher.ruleset, doc), location=location)
    except CaseError as err:
        print(f"dispatch explain: {err.code}: {err.field}: {err}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    if args.format == "json":
        print(json.dumps(explanation_dict(explanation, args.rules), ensure_ascii=False, indent=2))
    else:
        print(render_text(explanation))
    return EXIT_OK


def _test(args: argparse.Namespace) -> int:
    from dispatch.tools.golden.golden import GoldenError, read_golden, run_golden
    from dispatch.tools.golden.report import junit_xml, render_json, render_text

    args.rules = args.rules or default_rules()
    if args.cases is None:
        args.cases = str(Path(args.rules) / GOLDEN)
        if not Path(args.cases).is_file():
            print(
                f"dispatch test: no {GOLDEN} in {args.rules}: give the golden cases with --cases FILE", file=sys.stderr
            )
            return EXIT_CANNOT_RUN
    if _missing("test", (), (args.cases,)):
        return EXIT_CANNOT_RUN
    dispatcher = _dispatcher("test", args.rules)
    if dispatcher is None:
        return EXIT_CANNOT_RUN
    try:
        cases = read_golden(args.cases)
    except GoldenError as err:
        for d in err.diagnostics:
            print(d, file=sys.stderr)
        print(f"dispatch test: {args.cases}: {len(err.diagnostics)} problem(s): not run", file=sys.stderr)
        return EXIT_CANNOT_RUN
    report = run_golden(dispatcher, cases, path=args.cases, root=args.rules, min_coverage=args.min_coverage)
    if args.junit:
        try:
            Path(args.junit).write_bytes(junit_xml(report))
        except OSError as err:
            print(f"dispatch test: --junit: cannot write: {err}", file=sys.stderr)
            return EXIT_CANNOT_RUN
    print(render_json(report) if args.format == "json" else render_text(report))
    return EXIT_OK if report.passed else EXIT_FAILED


def _percent(text: str) -> float:
    value = float(text.rstrip("%"))
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must lie in [0, 100], not {text}")
    return value


def _add_explain_and_test(commands) -> None:
    explain = commands.add_parser("explain", help="every rule that matches a case, ranked, and why the winner won")
    explain.add_argument("--rules", metavar="DIR", help=f"rule-set directory (default: {HERE})")
    explain.add_argument("--event", metavar="E", help="work item code")
    explain.add_argument("--area", metavar="A", help="area code at any level")
    explain.add_argument("--source", metavar="S", help="grid, 12345, safety, supervisor, ...")
    explain.add_argument("--at", metavar="TIME", help="report time, ISO 8601 (a date: its midnight; default now)")
    explain.add_argument("--id", default="case", help="case id to show (default 'case')")
    explain.add_argument("--lon", type=float, metavar="X", help="longitude of the case: the grid map places it")
    explain.add_argument("--lat", type=float, metavar="Y", help="latitude of the case")
    explain.add_argument("--crs", choices=("wgs84", "gcj02", "cgcs2000"), default="wgs84", help="of --lon/--lat")
    explain.add_argument(
        "--case", metavar="JSON", help="the case as JSON, as POST /v1/dispatch takes it; @FILE reads a file"
    )
    explain.add_argument("--format", choices=("text", "json"), default="text")
    explain.set_defaults(run=_explain)

    test = commands.add_parser("test", help="run golden cases against a rule set (JUnit XML, rule coverage)")
    test.add_argument("rules", metavar="DIR", nargs="?", help=f"rule-set directory (default: {HERE})")
    test.add_argument(
        "--cases", metavar="FILE", help=f"golden cases: CSV, or JSON lines (.jsonl) (default: DIR/{GOLDEN})"
    )
    test.add_argument("--junit", metavar="FILE", help="write JUnit XML here")
    test.add_argument(
        "--min-coverage",
        metavar="PERCENT",
        type=_percent,
        help="fail unless this share of the rules decides at least one golden case",
    )
    test.add_argument("--format", choices=("text", "json"), default="text")
    test.set_defaults(run=_test)


def _coverage(args: argparse.Namespace) -> int:
    from dispatch.core.coverage import read_coverage_map
    from dispatch.core.errors import HistoryError
    from dispatch.tools.coverage.report import render_json, render_text

    args.rules = args.rules or default_rules()
    if _missing("coverage", (args.rules,), (args.cases,)):
        return EXIT_CANNOT_RUN
    if args.png:
        from dispatch.tools.coverage.heatmap import PlotUnavailable, require_matplotlib

        try:
            require_matplotlib()
        except PlotUnavailable as err:
            print(f"dispatch coverage: {err}", file=sys.stderr)
            return EXIT_CANNOT_RUN
    try:
        cmap, diagnostics = read_coverage_map(args.rules, cases=args.cases, at=args.at)
    except HistoryError as err:
        for d in err.diagnostics:
            print(d, file=sys.stderr)
        print(f"dispatch coverage: {args.cases}: {len(err.diagnostics)} problem(s): not run", file=sys.stderr)
        return EXIT_CANNOT_RUN
    if cmap is None:
        _print_invalid("coverage", args.rules, diagnostics)
        return EXIT_CANNOT_RUN
    render = {"text": render_text, "json": render_json}[args.format]
    print(render(cmap, args.top))
    try:
        if args.png:
            from dispatch.tools.coverage.heatmap import write_png

            write_png(cmap, args.png)
            print(f"wrote {args.png}", file=sys.stderr)
        if args.html:
            from dispatch.tools.coverage.page import write_html

            write_html(cmap, args.html, args.top)
            print(f"wrote {args.html}", file=sys.stderr)
    except OSError as err:
        print(f"dispatch coverage: cannot write: {err}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    return EXIT_OK


def _add_coverage(commands) -> None:
    coverage = commands.add_parser(
        "coverage", help="the event category x town map of what dispatches automatically: table, PNG, HTML"
    )
    add = coverage.add_argument
    add("rules", nargs="?", help=f"rule-set directory (default: {HERE})")
    add("--cases", metavar="FILE", help="case history CSV: add the map by case volume")
    add("--at", metavar="DATE", type=date.fromisoformat, help="day of the cell counts (default today)")
    add("--png", metavar="FILE", help="draw the heatmap as a PNG picture (needs dispatch[plot])")
    add("--html", metavar="FILE", help="write the map as one self-contained HTML page")
    add("--format", choices=("text", "json"), default="text", help="text for people, json for machines")
    add("--top", metavar="N", type=_count, default=20, help="how many gaps to list (default 20)")
    coverage.set_defaults(run=_coverage)


def _diff(args: argparse.Namespace) -> int:
    from dispatch.tools.diff.diff import CannotDiff, diff_rulesets, limit_breaches, unknown_departments
    from dispatch.tools.diff.report import render_cannot, render_json, render_markdown, render_text

    if _missing("diff", (args.old, args.new), (args.cases,)):
        return EXIT_CANNOT_RUN
    try:
        report = diff_rulesets(args.old, args.new, cases=args.cases, at=args.at)
    except CannotDiff as err:
        print(render_cannot(err, args.format))
        return EXIT_CANNOT_RUN
    allow = set(args.allow_departments) if args.allow_departments is not None else None
    if allow and unknown_departments(report, allow):
        print(
            f"dispatch diff: --allow-departments: no such department: {', '.join(unknown_departments(report, allow))}",
            file=sys.stderr,
        )
        return EXIT_CANNOT_RUN
    breaches = limit_breaches(report, args.max_moved, allow)
    if args.format == "json":
        limits = {"max_moved": args.max_moved, "allow_departments": sorted(allow) if allow is not None else None}
        print(render_json(report, breaches, limits))
    else:
        print((render_markdown if args.format == "markdown" else render_text)(report, breaches))
    return EXIT_FAILED if breaches else EXIT_OK


def _codes(text: str) -> list[str]:
    """CODE,CODE...; an empty list is an allow-list that allows no department (a change fails closed)."""
    return [c.strip() for c in text.split(",") if c.strip()]


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _add_diff(commands) -> None:
    diff = commands.add_parser("diff", help="which cells and historic cases two rule sets dispatch differently")
    diff.add_argument("old", metavar="OLD_DIR", help="the rule set as it is")
    diff.add_argument("new", metavar="NEW_DIR", help="the rule set as it would be")
    diff.add_argument("--cases", metavar="FILE", help="case history CSV to replay through both sets")
    diff.add_argument(
        "--at",
        metavar="DATE",
        type=date.fromisoformat,
        help="compare the cells of this day only (default: every stretch between window bounds)",
    )
    diff.add_argument(
        "--format",
        choices=("text", "json", "markdown"),
        default="text",
        help="text for people, json for machines, markdown for a pull-request comment",
    )
    diff.add_argument("--max-moved", metavar="N", type=_count, help="exit 1 when more than N cases move department")
    diff.add_argument(
        "--allow-departments",
        metavar="CODE[,CODE...]",
        type=_codes,
        help="exit 1 when a changed cell or moved case has an old or new department outside these "
        "(@local: every local government)",
    )
    diff.set_defaults(run=_diff)


def _serve(args: argparse.Namespace) -> int:
    from dispatch.api.server import serve, warm
    from dispatch.api.settings import Settings, SettingsError

    try:
        settings = Settings.from_env(
            rules=args.rules,
            host=args.host,
            port=args.port,
            workers=args.workers,
            rules_poll=args.rules_poll,
            verification_key=args.verification_key,
            cases=args.cases,
        )
    except SettingsError as err:
        print(f"dispatch serve: {err}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    remote = settings.rules.startswith(("http://", "https://"))
    if not remote and not Path(settings.rules).is_file() and _missing("serve", (settings.rules,)):
        return EXIT_CANNOT_RUN
    if _missing("serve", files=(settings.verification_key, settings.cases)):
        return EXIT_CANNOT_RUN
    if args.warm_only:
        return warm(settings)
    return serve(settings)


def _add_serve(commands) -> None:
    serve = commands.add_parser("serve", help="serve POST /v1/dispatch over HTTP (settings also from DISPATCH_*)")
    serve.add_argument(
        "--rules",
        metavar="DIR|BUNDLE|URL",
        help=f"a rule-set directory, a bundle file or an http(s) bundle URL (DISPATCH_RULES, default {DEFAULT_RULES})",
    )
    serve.add_argument(
        "--rules-poll",
        type=float,
        metavar="SECONDS",
        help="look for a changed rule set this often; 0: never (DISPATCH_RULES_POLL, default 10)",
    )
    serve.add_argument(
        "--verification-key",
        metavar="PEM",
        help="an Ed25519 public key: serve only bundles it verifies (DISPATCH_VERIFICATION_KEY)",
    )
    serve.add_argument(
        "--cases", metavar="FILE", help="a case history (CSV): the console's coverage by case volume (DISPATCH_CASES)"
    )
    serve.add_argument("--host", help="address to listen on (DISPATCH_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (DISPATCH_PORT, default 8000)")
    serve.add_argument(
        "--workers", type=int, help="worker processes, each with its own rule set (DISPATCH_WORKERS, default 1)"
    )
    serve.add_argument(
        "--warm-only",
        action="store_true",
        help="load, compile and warm every kernel (filling the numba cache), then exit: for image builds",
    )
    serve.set_defaults(run=_serve)


def _audit(args: argparse.Namespace) -> int:
    from dispatch.tools.audit.audit import AuditError, find_decisions, rerun
    from dispatch.tools.audit.report import render_found, render_rerun

    if _missing("audit", (args.rules,) if args.rules else (), tuple(args.log)):
        return EXIT_CANNOT_RUN
    dispatcher = _dispatcher("audit", args.rules) if args.rules else None
    if args.rules and dispatcher is None:
        return EXIT_CANNOT_RUN
    try:
        found = list(find_decisions([Path(p) for p in args.log], args.id))
    except AuditError as err:
        print(f"dispatch audit: {err}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    if not found:
        print(f"dispatch audit: no decision for {args.id!r} in {', '.join(args.log)}", file=sys.stderr)
        return EXIT_FAILED
    differs = False
    for logged in found:
        print(render_found(logged))
        if dispatcher is not None:
            r = rerun(logged, dispatcher)
            differs = differs or bool(r.differences)
            print(render_rerun(r))
    return EXIT_FAILED if differs else EXIT_OK


def _bundle(args: argparse.Namespace) -> int:
    from dispatch.core.bundle import BundleError, build_bundle, generate_key

    if args.action == "keygen":
        generate_key(args.private, args.public)
        print(f"wrote {args.private} (keep it secret: it signs bundles) and {args.public} (serve --verification-key)")
        return EXIT_OK
    if _missing("bundle build", (args.rules,), (args.signing_key,)):
        return EXIT_CANNOT_RUN
    try:
        index = build_bundle(args.rules, args.output, args.signing_key)
    except BundleError as err:
        print(f"dispatch bundle build: {err}", file=sys.stderr)
        return EXIT_FAILED
    signed = "signed" if args.signing_key else "unsigned"
    print(
        f"wrote {args.output}: rule set {index['name']!r} version {index['version']}, {len(index['files'])} files, {signed}"
    )
    return EXIT_OK


def _add_bundle(commands) -> None:
    bundle = commands.add_parser("bundle", help="a rule set as one versioned, optionally signed artifact")
    actions = bundle.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = actions.add_parser("build", help="write the valid rule set in DIR as a bundle (tar.gz)")
    build.add_argument("rules", metavar="DIR", help="the rule-set directory")
    build.add_argument("-o", "--output", required=True, metavar="FILE", help="the bundle to write, e.g. daxing.tar.gz")
    build.add_argument("--signing-key", metavar="PEM", help="an Ed25519 private key: sign the bundle")
    keygen = actions.add_parser("keygen", help="a new Ed25519 key pair (PEM) to sign and verify bundles")
    keygen.add_argument("private", help="where to write the private key")
    keygen.add_argument("public", help="where to write the public key")
    bundle.set_defaults(run=_bundle)


def _export(args: argparse.Namespace) -> int:
    from dispatch.tools.sheet.export import write_workbook

    if _missing("export", (args.rules,)):
        return EXIT_CANNOT_RUN
    exported, problems = write_workbook(args.rules, args.xlsx)
    if exported is None:
        for p in problems:
            print(p, file=sys.stderr)
        print(f"dispatch export: {args.rules} cannot be read whole: no workbook written", file=sys.stderr)
        return EXIT_CANNOT_RUN
    print(f"wrote {exported.path}: {len(exported.sheets)} sheets, {exported.rows} rows, codes kept as text")
    return EXIT_OK


def _import(args: argparse.Namespace) -> int:
    from dispatch.tools.sheet.workbook_import import import_workbook

    if _missing("import", files=(args.xlsx,)):
        return EXIT_CANNOT_RUN
    imported, problems = import_workbook(args.xlsx, args.rules)
    if imported is None:
        for p in problems:
            print(p)
        print(f"REFUSED: {len(problems)} problem(s) in {args.xlsx}; nothing in {args.rules} was changed")
        return EXIT_FAILED
    for w in imported.warnings:
        print(f"warning: {w}")
    was = "unchanged" if imported.previous == imported.version else f"was {imported.previous or 'none'}"
    changed = ", ".join(imported.changed) or "none"
    print(
        f"imported {args.xlsx} into {args.rules}: rule set version {imported.version} ({was}); files changed: {changed}"
    )
    return EXIT_OK


def _add_sheets(commands) -> None:
    export = commands.add_parser(
        "export", help="the rule set's CSV files as one spreadsheet workbook that keeps codes as text"
    )
    export.add_argument("rules", metavar="DIR", help="the rule-set directory")
    export.add_argument("--xlsx", required=True, metavar="FILE", help="the workbook to write (.xlsx)")
    export.set_defaults(run=_export)
    imp = commands.add_parser(
        "import", help="a workbook from `dispatch export` back to CSV files: whole and valid, or nothing written"
    )
    imp.add_argument("xlsx", metavar="FILE", help="the workbook (.xlsx)")
    imp.add_argument("rules", metavar="DIR", help="the rule-set directory to write (made if missing)")
    imp.set_defaults(run=_import)


def _add_audit(commands) -> None:
    audit = commands.add_parser(
        "audit", help="find a case's decisions in decision-log files; with --rules, re-run them and say what differs"
    )
    audit.add_argument("log", nargs="+", help="decision-log files (JSON lines, DISPATCH_DECISION_LOG)")
    audit.add_argument("--id", required=True, help="the case id (or a decision id) to find")
    audit.add_argument(
        "--rules",
        metavar="DIR",
        help="a rule-set directory to re-run the decisions on (e.g. a git checkout of that version)",
    )
    audit.set_defaults(run=_audit)


def _calendar(args: argparse.Namespace) -> int:
    from dispatch.tools.calendar.days import CalendarUnknown, calendar_days, days_csv

    m = re.fullmatch(r"(\d{4})(?:-(\d{4}))?", args.years)
    try:
        if m is None:
            raise ValueError
        years = (int(m.group(1)), int(m.group(2) or m.group(1)))
    except ValueError:
        print(f"dispatch calendar: --years {args.years!r} is not YEAR or FIRST-LAST (as 2025-2027)", file=sys.stderr)
        return EXIT_CANNOT_RUN
    try:
        days = calendar_days(args.country, *years)
    except CalendarUnknown as err:
        print(f"dispatch calendar: {err}", file=sys.stderr)
        return EXIT_FAILED
    text = days_csv(days)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {len(days)} days of {args.country.upper()} {args.years} to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _add_calendar(commands) -> None:
    calendar = commands.add_parser(
        "calendar", help="write a [calendar] days file: holidays and make-up workdays of a country's years"
    )
    calendar.add_argument("--country", required=True, help="ISO 3166-1 code: CN (with 调休 make-up days), DE, US, ...")
    calendar.add_argument("--years", required=True, help="a year or FIRST-LAST, as 2025-2027")
    calendar.add_argument("--format", choices=("csv",), default="csv", help="csv: date,kind,name (the days file)")
    calendar.add_argument("-o", "--output", metavar="FILE", help="write here instead of to standard output")
    calendar.set_defaults(run=_calendar)


def _init(args: argparse.Namespace) -> int:
    from dispatch.tools.init.init import InitError, init_ruleset

    try:
        written = init_ruleset(args.dir, args.example)
    except InitError as err:
        print(f"dispatch init: {err}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    print(f"wrote the {args.example} example rule set to {args.dir} ({len(written)} files); next:")
    print(f"  cd {args.dir}")
    print("  dispatch check                 # every error at file:line:col, then coverage")
    print("  dispatch test                  # the golden cases in golden.csv")
    print("  dispatch serve --rules .       # POST /v1/dispatch on http://127.0.0.1:8000")
    print(f"{Path(args.dir) / 'README.md'} says what each file holds.")
    return EXIT_OK


def _add_init(commands) -> None:
    from dispatch.tools.init.init import EXAMPLES

    init = commands.add_parser("init", help="write a small, valid example rule set into a new directory, to edit")
    init.add_argument("dir", metavar="DIR", help="the directory to create (it must be new or empty)")
    init.add_argument(
        "--example",
        choices=EXAMPLES,
        default=EXAMPLES[0],
        help="minimal: an English city from scratch (default); daxing: two towns of Beijing Daxing, in Chinese",
    )
    init.set_defaults(run=_init)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dispatch", description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_init(commands)

    check = commands.add_parser("check", help="validate a rule set: every error at file:line:col, and a summary")
    check.add_argument("rules", nargs="?", help=f"rule-set directory (default: {HERE})")
    check.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default="text",
        help="text for people, json for machines, github for workflow annotations",
    )
    check.add_argument("--strict", action="store_true", help="fail on warnings too")
    check.add_argument("--cases", metavar="FILE", help="case history CSV: add the share of case volume dispatched")
    check.add_argument("--at", metavar="DATE", type=date.fromisoformat, help="day of the cell coverage (default today)")
    check.set_defaults(run=_check)
    _add_explain_and_test(commands)
    _add_coverage(commands)
    _add_diff(commands)
    _add_serve(commands)
    _add_audit(commands)
    _add_bundle(commands)
    _add_calendar(commands)
    _add_sheets(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors: "cannot run"
        return int(exc.code or 0)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
