"""The `dispatch` command: parse arguments, call the core, print, exit with a status."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_CANNOT_RUN = 0, 1, 2
DEFAULT_RULES = "rules/daxing"


def _check(args: argparse.Namespace) -> int:
    from dispatch.check import check_ruleset, render_github, render_json, render_text

    if not Path(args.rules).is_dir():
        print(f"dispatch check: {args.rules}: not a directory", file=sys.stderr)
        return EXIT_CANNOT_RUN
    if args.cases and not Path(args.cases).is_file():
        print(f"dispatch check: {args.cases}: no such file", file=sys.stderr)
        return EXIT_CANNOT_RUN
    report = check_ruleset(args.rules, cases=args.cases, at=args.at)
    render = {"text": render_text, "json": render_json, "github": render_github}[args.format]
    print(render(report))
    return EXIT_OK if report.passed(strict=args.strict) else EXIT_FAILED


def _diff(args: argparse.Namespace) -> int:
    from dispatch.diff import CannotDiff, diff_rulesets, limit_breaches, unknown_departments
    from dispatch.diffreport import render_cannot, render_json, render_markdown, render_text

    for path in (args.old, args.new):
        if not Path(path).is_dir():
            print(f"dispatch diff: {path}: not a directory", file=sys.stderr)
            return EXIT_CANNOT_RUN
    if args.cases and not Path(args.cases).is_file():
        print(f"dispatch diff: {args.cases}: no such file", file=sys.stderr)
        return EXIT_CANNOT_RUN
    try:
        report = diff_rulesets(args.old, args.new, cases=args.cases, at=args.at)
    except CannotDiff as err:
        print(render_cannot(err, args.format))
        return EXIT_CANNOT_RUN
    allow = set(args.allow_departments) if args.allow_departments is not None else None
    if allow and unknown_departments(report, allow):
        print(f"dispatch diff: --allow-departments: no such department: {', '.join(unknown_departments(report, allow))}",
              file=sys.stderr)  # fmt: skip
        return EXIT_CANNOT_RUN
    breaches = limit_breaches(report, args.max_moved, allow)
    if args.format == "json":
        limits = {"max_moved": args.max_moved, "allow_departments": sorted(allow) if allow is not None else None}
        print(render_json(report, breaches, limits))
    else:
        print((render_markdown if args.format == "markdown" else render_text)(report, breaches))
    return EXIT_FAILED if breaches else EXIT_OK


def _codes(text: str) -> list[str]:
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
    diff.add_argument("--at", metavar="DATE", type=date.fromisoformat,
                      help="compare the cells of this day only (default: every stretch between window bounds)")
    diff.add_argument("--format", choices=("text", "json", "markdown"), default="text",
                      help="text for people, json for machines, markdown for a pull-request comment")
    diff.add_argument("--max-moved", metavar="N", type=_count,
                      help="exit 1 when more than N cases move department")
    diff.add_argument("--allow-departments", metavar="CODE[,CODE...]", type=_codes,
                      help="exit 1 when a changed cell or moved case has an old or new department outside these "
                           "(@local: every local government)")  # fmt: skip
    diff.set_defaults(run=_diff)


def _serve(args: argparse.Namespace) -> int:
    from dispatch.api.server import serve, warm
    from dispatch.settings import Settings, SettingsError

    try:
        settings = Settings.from_env(rules=args.rules, host=args.host, port=args.port, workers=args.workers)
    except SettingsError as err:
        print(f"dispatch serve: {err}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    if not Path(settings.rules).is_dir():
        print(f"dispatch serve: {settings.rules}: not a directory", file=sys.stderr)
        return EXIT_CANNOT_RUN
    if args.warm_only:
        return warm(settings)
    return serve(settings)


def _add_serve(commands) -> None:
    serve = commands.add_parser("serve", help="serve POST /v1/dispatch over HTTP (settings also from DISPATCH_*)")
    serve.add_argument("--rules", metavar="DIR", help=f"rule-set directory (DISPATCH_RULES, default {DEFAULT_RULES})")
    serve.add_argument("--host", help="address to listen on (DISPATCH_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (DISPATCH_PORT, default 8000)")
    serve.add_argument("--workers", type=int, help="worker processes, each with its own rule set (DISPATCH_WORKERS, default 1)")
    serve.add_argument("--warm-only", action="store_true",
                       help="load, compile and warm every kernel (filling the numba cache), then exit: for image builds")
    serve.set_defaults(run=_serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dispatch", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser("check", help="validate a rule set: every error at file:line:col, and a summary")
    check.add_argument("rules", nargs="?", default=DEFAULT_RULES, help=f"rule-set directory (default {DEFAULT_RULES})")
    check.add_argument("--format", choices=("text", "json", "github"), default="text",
                       help="text for people, json for machines, github for workflow annotations")  # fmt: skip
    check.add_argument("--strict", action="store_true", help="fail on warnings too")
    check.add_argument("--cases", metavar="FILE", help="case history CSV: add the share of case volume dispatched")
    check.add_argument("--at", metavar="DATE", type=date.fromisoformat, help="day of the cell coverage (default today)")
    check.set_defaults(run=_check)
    _add_diff(commands)
    _add_serve(commands)
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
