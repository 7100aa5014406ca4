"""`python -m dispatch.synth`: write a synthetic rule set or a case history."""

from __future__ import annotations

import argparse
import sys
import time

from dispatch.synth.ruleset import DEFAULT_SEED, SAMPLE_CASES


def _ruleset(args: argparse.Namespace) -> int:
    from dispatch.synth.ruleset import write_ruleset

    started = time.perf_counter()
    counts = write_ruleset(args.out_dir, scale=args.scale, seed=args.seed, sample=args.sample)
    summary = ", ".join(f"{v} {k}" for k, v in counts.items())
    print(f"wrote {args.out_dir}: {summary} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


def _cases(args: argparse.Namespace) -> int:
    from dispatch.synth.cases import write_cases

    started = time.perf_counter()
    n = write_cases(args.ruleset_dir, args.out_csv, n=args.n, seed=args.seed)
    print(f"wrote {args.out_csv}: {n} cases in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


def _golden(args: argparse.Namespace) -> int:
    from dispatch.synth.golden import write_golden

    started = time.perf_counter()
    n = write_golden(args.ruleset_dir, args.out_csv, seed=args.seed, per_kind=args.per_kind)
    print(f"wrote {args.out_csv}: {n} golden cases in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dispatch.synth", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ruleset = commands.add_parser("ruleset", help="write a rule-set directory (Daxing, cloned --scale times)")
    ruleset.add_argument("out_dir", help="directory to write (created if missing)")
    ruleset.add_argument("--scale", type=_positive, default=1, help="number of district clones (default 1)")
    ruleset.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    ruleset.add_argument(
        "--sample",
        type=int,
        default=SAMPLE_CASES,
        help=f"cases in cases-sample.csv, 0 for none (default {SAMPLE_CASES})",
    )
    ruleset.set_defaults(run=_ruleset)

    cases = commands.add_parser("cases", help="write a case history CSV for a rule-set directory")
    cases.add_argument("ruleset_dir", help="rule-set directory (with ruleset.toml)")
    cases.add_argument("out_csv", help="CSV file to write")
    cases.add_argument("--n", type=_positive, default=SAMPLE_CASES, help=f"number of cases (default {SAMPLE_CASES})")
    cases.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    cases.set_defaults(run=_cases)

    golden = commands.add_parser("golden", help="write golden cases approved from a rule set (for dispatch test)")
    golden.add_argument("ruleset_dir", help="rule-set directory (with ruleset.toml)")
    golden.add_argument("out_csv", help="CSV file to write")
    golden.add_argument("--per-kind", type=_positive, default=100, help="cases per kind of rule (default 100)")
    golden.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    golden.set_defaults(run=_golden)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
