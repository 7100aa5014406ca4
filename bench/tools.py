"""The rule maintainers' commands on the Daxing set, timed: the README's "Rule maintainers' tools" table.

    .venv/bin/python bench/tools.py            # 3 runs each, a 1,000,000-case history (about 1 minute)
    .venv/bin/python bench/tools.py --quick    # 1 run each, 100,000 cases

Each command runs as a new process, as a maintainer or CI runs it (so the figures include
Python, numpy and numba starting and the rule set loading and compiling); the table gives
the median wall time and that process's peak RSS. The inputs are made once in
bench/out/tools/: a changed copy of rules/daxing (the README's `dispatch diff` recipe: an
item's rules re-pointed, a town rule removed, a category override in one town) and a
synthetic history (`python -m dispatch.synth cases`).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DAXING = ROOT / "rules" / "daxing"
SAMPLE = DAXING / "cases-sample.csv"
GOLDEN = DAXING / "golden.csv"
OUT = ROOT / "bench" / "out" / "tools"
DISPATCH = [sys.executable, "-m", "dispatch"]
OVERRIDE = ("id,event,area,grid_type,source,department,co_handlers,deadline,valid_from,valid_to,priority,basis,note\n"
            "OVR-000001,05,110115001,,,dx-cgzf,,,,,5,兴丰街道试点：城管执法统一受理,\n")  # fmt: skip


def changed_copy(out: Path) -> Path:
    """rules/daxing with the three edits of the README's diff recipe (made anew each run: cheap)."""
    copy = out / "dx-changed"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(DAXING, copy)
    (copy / "cases-sample.csv").unlink()
    municipal = copy / "rules" / "municipal.csv"
    text = municipal.read_text(encoding="utf-8")
    text = re.sub(r"^(MUN-[0-9]+,09009001,[^,]*,[^,]*,[^,]*,)dx-jgzd,", r"\1dx-cgzf,", text, flags=re.MULTILINE)
    municipal.write_text(text, encoding="utf-8")
    local = copy / "rules" / "local.csv"
    lines = local.read_text(encoding="utf-8").splitlines(keepends=True)
    local.write_text("".join(ln for ln in lines if not ln.startswith("LOC-000731,")), encoding="utf-8")
    (copy / "rules" / "override.csv").write_text(OVERRIDE, encoding="utf-8")
    return copy


def history(out: Path, n: int) -> Path:
    """A synthetic history of n cases, written once and kept (the generator is seeded)."""
    path = out / f"cases-{n}.csv"
    if not path.exists():
        subprocess.run([sys.executable, "-m", "dispatch.synth", "cases", str(DAXING), str(path), "--n", str(n)],
                       cwd=ROOT, check=True)  # fmt: skip
    return path


def timed(argv: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one run of `argv`; its output is dropped, a failure raises."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):  # 1 is a verdict (a diff over a limit, a failed golden case), not a crash
        raise RuntimeError(f"{' '.join(argv)} exited {code}: {proc.stderr.read().decode()[-500:]}")
    proc.stderr.close()
    return seconds, usage.ru_maxrss * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs of each command; the median is shown")
    parser.add_argument("--cases", type=int, default=1_000_000, help="cases in the large history")
    parser.add_argument("--quick", action="store_true", help="1 run each, 100,000 cases")
    args = parser.parse_args(argv)
    runs, n = (1, 100_000) if args.quick else (args.runs, args.cases)
    OUT.mkdir(parents=True, exist_ok=True)
    big, copy = history(OUT, n), changed_copy(OUT)
    png, page = OUT / "coverage.png", OUT / "coverage.html"
    commands = [
        ("check", ["check", DAXING]),
        ("check --cases (20,000)", ["check", DAXING, "--cases", SAMPLE]),
        (f"check --cases ({n:,})", ["check", DAXING, "--cases", big]),
        ("test golden.csv", ["test", DAXING, "--cases", GOLDEN]),
        ("explain (one case)", ["explain", "--rules", DAXING, "--event", "10001002", "--area", "110115103217",
                                "--source", "grid", "--at", "2026-01-27T10:37:37+08:00"]),
        ("coverage --cases (20,000)", ["coverage", DAXING, "--cases", SAMPLE]),
        ("coverage --cases --png --html", ["coverage", DAXING, "--cases", SAMPLE, "--png", png, "--html", page]),
        ("diff, cells only", ["diff", DAXING, copy]),
        ("diff --cases (20,000)", ["diff", DAXING, copy, "--cases", SAMPLE]),
        (f"diff --cases ({n:,})", ["diff", DAXING, copy, "--cases", big]),
    ]  # fmt: skip
    timed([*DISPATCH, "check", str(DAXING)])  # fill the numba cache: no row pays for JIT compilation
    print(f"dispatch commands on rules/daxing; median of {runs} run(s), each a new process\n")
    print("| command | wall s | peak RSS MB |")
    print("| --- | ---: | ---: |")
    for label, args_ in commands:
        results = [timed([*DISPATCH, *map(str, args_)]) for _ in range(runs)]
        wall = statistics.median(r[0] for r in results)
        rss = statistics.median(r[1] for r in results)
        print(f"| {label} | {wall:.2f} | {rss / 1e6:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
