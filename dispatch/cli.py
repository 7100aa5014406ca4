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
