"""Matching benchmark: the reference matcher, our compiled matcher and GoRules ZEN, side by side.

"ours" is what the service runs: one case is the endpoint's single-case path (the
caller's strings in, the answer's JSON bytes out: Responder.answer); a batch is the
endpoint's batch path (a raw JSON body of 1,000 cases in, the answer document out:
Responder.batch_from_body). The kernel on encoded cases and the batch from Python strings
(Dispatcher.match_strings, what the CLI tools run) are shown beside them.

    .venv/bin/python bench/match.py                 # Daxing, 10x, 100x; prints a table, writes bench/out/match.json
    .venv/bin/python bench/match.py --scales 1 --quick

At scale 1 it also weighs the due times: the same cases on Daxing as it is (deadlines in
working time) and on a copy whose every deadline is in natural hours (what the service
computed before working time), single and batch, with the due-time kernel timed alone.

Every figure is the median of --runs runs; ratios are taken within one run of this
script, so a noisy neighbour slows all contenders alike. The machine is shared:
quote medians, never a best run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# run as a script, bench/ comes first on sys.path, where bench/http.py would shadow the
# standard library's `http` (the service's imports need it): the project root takes its place
if sys.path and Path(sys.path[0] or ".").resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)
else:
    sys.path.insert(0, str(ROOT))

import orjson

from dispatch.api.intake import IncomingCase
from dispatch.api.responder import Tally, build_responder
from dispatch.core.case import Case
from dispatch.core.clock import local_days
from dispatch.core.codebook import SEP_STR
from dispatch.core.dispatcher import Dispatcher
from dispatch.core.reference import dispatch_case, winning_rule
from dispatch.core.worktime import due_times

OUT = ROOT / "bench" / "out"
PY = sys.executable

try:
    from bench.zen_baseline import ZenMatcher
except ImportError:  # zen-engine is a bench extra: pip install -e '.[bench]'
    ZenMatcher = None


# -- data -------------------------------------------------------------------------------


def ruleset_dir(scale: int, base: Path) -> Path:
    if scale == 1:
        return base
    target = OUT / f"scale{scale}"
    if not (target / "ruleset.toml").exists():
        subprocess.run([PY, "-m", "dispatch.synth", "ruleset", str(target), "--scale", str(scale)], check=True, cwd=ROOT)
    return target


def history_file(rules: Path, n: int, tag: str) -> Path:
    target = OUT / f"cases-{tag}-{n}.csv"
    if not target.exists():
        subprocess.run([PY, "-m", "dispatch.synth", "cases", str(rules), str(target), "--n", str(n)], check=True, cwd=ROOT)
    return target


def read_cases(path: Path, limit: int | None = None) -> list[tuple[str, str, str, str, str]]:
    import csv

    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = [(r["id"], r["event"], r["area"], r["source"], r["reported_at"]) for r in reader]
    return rows[:limit] if limit else rows


# -- measurements in a fresh process -------------------------------------------------------

_STARTUP = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from dispatch.core.load import load_ruleset
from dispatch.core.compile import compile_tables
from dispatch.core.dispatcher import Dispatcher
t_import = time.perf_counter()
ruleset = load_ruleset(sys.argv[1])
t_load = time.perf_counter()
rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tables = compile_tables(ruleset)          # the first call also loads (or JIT-compiles) the painter
t_first = time.perf_counter()
del tables
tables = compile_tables(ruleset)          # JIT excluded
t_compile = time.perf_counter()
dispatcher = Dispatcher(ruleset, tables)
dispatcher.warm()
t_ready = time.perf_counter()
print(json.dumps({
    "import_s": t_import - t0, "load_s": t_load - t_import, "first_compile_s": t_first - t_load,
    "compile_s": t_compile - t_first, "ready_s": t_ready - t0,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "compile_peak_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_loaded) / 1024,
    "rss_after_load_mb": rss_loaded / 1024, "table_mb": tables.nbytes / 2**20, "rules": len(ruleset.rules),
    "columns": tables.n_columns, "items": len(tables.items)}))
"""

_ZEN_COMPILE = r"""
import json, sys, time
from dispatch.core.load import load_ruleset
from bench.zen_baseline import ZenMatcher
ruleset = load_ruleset(sys.argv[1])
t = time.perf_counter(); ZenMatcher(ruleset); print(json.dumps({"zen_compile_s": time.perf_counter() - t}))
"""


def in_fresh_process(code: str, *args: str, env: dict | None = None) -> tuple[dict, float]:
    started = time.perf_counter()
    done = subprocess.run([PY, "-c", code, *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}, check=False)  # fmt: skip
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1]), wall


def median_of(runs: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def startup(rules: Path, runs: int) -> dict:
    """Load, compile and warm in fresh processes: cold numba cache once, then warm cache runs."""
    with tempfile.TemporaryDirectory() as cache:
        env = {"NUMBA_CACHE_DIR": cache}
        cold, cold_wall = in_fresh_process(_STARTUP, str(rules), env=env)
        warm = [in_fresh_process(_STARTUP, str(rules), env=env) for _ in range(runs)]
    figures = median_of([w for w, _ in warm])
    figures["ready_wall_s"] = statistics.median(wall for _, wall in warm)
    figures["cold_ready_wall_s"] = cold_wall
    figures["cold_first_compile_s"] = cold["first_compile_s"]
    return figures


# -- single case ---------------------------------------------------------------------------


def per_call_ns(fn, cases) -> np.ndarray:
    clock = time.perf_counter_ns
    out = np.empty(len(cases), dtype=np.int64)
    for j, case in enumerate(cases):
        t = clock()
        fn(case)
        out[j] = clock() - t
    return out


def single(contenders: dict, cases: list, runs: int) -> dict:
    """Throughput (whole loop) and p50/p99 latency (per call) of each contender, medians over runs."""
    result = {}
    for name, (fn, n) in contenders.items():
        sample = cases[:n]
        throughputs, p50s, p99s = [], [], []
        for _ in range(runs):
            t = time.perf_counter()
            for case in sample:
                fn(case)
            throughputs.append(len(sample) / (time.perf_counter() - t))
            lat = per_call_ns(fn, sample)
            p50s.append(float(np.percentile(lat, 50)) / 1000)
            p99s.append(float(np.percentile(lat, 99)) / 1000)
        result[name] = {"cases_per_s": statistics.median(throughputs), "p50_us": statistics.median(p50s),
                        "p99_us": statistics.median(p99s), "cases": len(sample)}  # fmt: skip
    return result


# -- batch -------------------------------------------------------------------------------


def batch(responder, cases: list, runs: int, zen, per_body: int = 1000) -> dict:
    dispatcher: Dispatcher = responder.dispatcher
    _, events, areas, sources, stamps = (list(col) for col in zip(*cases))
    encoded = dispatcher.match_strings(events, areas, sources, stamps)
    assert not encoded.bad.any(), "the history has codes the rule set does not know"
    items, cols, srcs, days = encoded.items, encoded.cols, encoded.srcs, encoded.days
    out = np.empty(len(cases), dtype=np.int32)
    result: dict[str, float] = {"cases": len(cases)}

    def timed(fn) -> float:
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return len(cases) / statistics.median(times)

    result["kernel_cases_per_s"] = timed(lambda: dispatcher.match_encoded(items, cols, srcs, days, out))

    def from_strings():
        b = dispatcher.match_strings(events, areas, sources, stamps)
        dispatcher.statuses(b.items, b.cols, b.rule)

    result["strings_cases_per_s"] = timed(from_strings)
    # the endpoint's batch path: raw bodies of `per_body` cases, as callers send them
    keys = ("id", "event", "area", "source", "reported_at")
    bodies = [orjson.dumps({"cases": [dict(zip(keys, c)) for c in cases[k : k + per_body]]})
              for k in range(0, len(cases), per_body)]  # fmt: skip

    def service_batches():
        for body in bodies:
            if responder.batch_from_body(body, per_body, Tally.empty()) is None:
                raise RuntimeError("a plain batch body left the scan path")

    result["service_cases_per_s"] = timed(service_batches)
    result["service_body_cases"] = per_body
    # where the time of from_strings goes, in ns a case
    per_case = {
        "event codes": lambda: dispatcher.item_codes.lookup_many(events),
        "area codes": lambda: dispatcher.area_codes.lookup_many(areas),
        "source codes": lambda: dispatcher.source_codes.lookup_many(sources),
        "timestamps": lambda: local_days(stamps, dispatcher.ruleset.manifest.timezone),
        "join only (4 fields)": lambda: [SEP_STR.join(col) for col in (events, areas, sources, stamps)],
    }
    result["ns_per_case"] = {name: 1e9 / timed(fn) for name, fn in per_case.items()}
    if zen is not None:
        n = min(len(cases), 100_000)
        zen_cases = cases[:n]
        times = []
        for _ in range(max(1, runs // 2)):
            t = time.perf_counter()
            zen.winning_rule_ids(_as_case(c) for c in zen_cases)
            times.append(time.perf_counter() - t)
        result["zen_batch_cases_per_s"] = n / statistics.median(times)
        result["zen_batch_cases"] = n
    return result


# -- due times --------------------------------------------------------------------------------


def natural_hours_copy(rules: Path, out: Path) -> Path:
    """A copy of `rules` whose every deadline is in natural hours (wh -> h, wd -> 24 h a day, per-class
    values -> class B's) and without a calendar: due times as the service computed them before."""
    import csv
    import io
    import shutil

    from dispatch.core.worktime import parse_class_deadlines, parse_deadline

    def hours(value: str) -> str:
        if not value:
            return value
        d = dict(parse_class_deadlines(value))["B"] if "=" in value else parse_deadline(value)
        return f"{d.hundredths / 100 * (24 if d.unit == 'wd' else 1):g}h"

    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(rules, out, ignore=shutil.ignore_patterns("cases-sample.csv", "golden.csv"))
    manifest = (out / "ruleset.toml").read_text(encoding="utf-8")
    (out / "ruleset.toml").write_text(manifest.split("[calendar]")[0].rsplit("\n# Working", 1)[0], encoding="utf-8")
    for path in [out / "taxonomy.csv", *(out / "rules").glob("*.csv")]:
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
        k = rows[0].index("deadline")
        for row in rows[1:]:
            row[k] = hours(row[k])
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        path.write_text(buf.getvalue(), encoding="utf-8")
    return out


def due_times_figures(rules: Path, cases: list, runs: int, single_n: int, per_body: int = 1000) -> dict:
    """Working-time dues beside natural-hour dues, on the same cases: one case (p50) and the service batch."""
    natural = build_responder(str(natural_hours_copy(rules, OUT / "daxing-natural-hours")))
    working = build_responder(str(rules))
    keys = ("id", "event", "area", "source", "reported_at")
    bodies = [orjson.dumps({"cases": [dict(zip(keys, c)) for c in cases[k : k + per_body]]})
              for k in range(0, len(cases), per_body)]  # fmt: skip
    sample = [IncomingCase(*c) for c in cases[:single_n]]
    result: dict = {}
    for name, responder in (("natural hours", natural), ("working time", working)):
        batch_s, p50s = [], []
        for _ in range(runs):
            t = time.perf_counter()
            for body in bodies:
                responder.batch_from_body(body, per_body, Tally.empty())
            batch_s.append(time.perf_counter() - t)
            p50s.append(float(np.percentile(per_call_ns(responder.answer, sample), 50)) / 1000)
        result[name] = {"batch_cases_per_s": len(cases) / statistics.median(batch_s), "p50_us": statistics.median(p50s)}
    # the due-time kernel alone, on every case of the batch bodies: what a batch without due times saves
    d = working.dispatcher
    w = d.worktime.arrays
    n = len(cases)
    stamps = [datetime.fromisoformat(c[4]) for c in cases]
    r = np.asarray([int(m.timestamp()) for m in stamps], np.int64)
    rules_idx = d.match_strings(*(list(col) for col in list(zip(*cases))[1:]))
    o = working.outcomes.for_batch(0)
    ids = o.ids(working.outcomes.keys(rules_idx.rule, rules_idx.items, rules_idx.cols), rules_idx.rule,
                rules_idx.items, rules_idx.cols)  # fmt: skip
    units, amounts = o.units[ids], o.amounts[ids]
    due, off, prov = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int8)
    kernel_s = []
    for _ in range(runs):
        flags = np.zeros(n, np.int8)
        t = time.perf_counter()
        due_times(r, units, amounts, flags, w, due, off, prov)
        kernel_s.append(time.perf_counter() - t)
    result["due_kernel_ns_per_case"] = statistics.median(kernel_s) / n * 1e9
    result["units"] = {u: int((units == k).sum()) for k, u in ((1, "h"), (2, "wh"), (3, "wd"), (0, "none"))}
    return result


def print_due_times(f: dict) -> None:
    nat, wt = f["natural hours"], f["working time"]
    without = 1e9 / (1e9 / wt["batch_cases_per_s"] - f["due_kernel_ns_per_case"])
    print("  due times: working time beside natural hours (the same cases; units " +
          ", ".join(f"{k} {v:,}" for k, v in f["units"].items()) + ")")  # fmt: skip
    print(f"    {'':14} {'batch cases/s':>14} {'single p50 µs':>14}")
    for name, r in (("natural hours", nat), ("working time", wt)):
        print(f"    {name:14} {fmt_rate(r['batch_cases_per_s']):>14} {r['p50_us']:14.2f}")
    print(f"    due-time kernel {f['due_kernel_ns_per_case']:.0f} ns a case; the batch without it {fmt_rate(without)}")
    print(f"    working time / natural hours: batch {wt['batch_cases_per_s'] / nat['batch_cases_per_s']:.0%}, "
          f"without due times {wt['batch_cases_per_s'] / without:.0%}; single p50 {wt['p50_us'] - nat['p50_us']:+.2f} µs")


# -- agreement -------------------------------------------------------------------------------


def _as_case(c: tuple[str, str, str, str, str]) -> Case:
    """A case from its strings, as a caller of ZEN's Python binding (or of our reference) builds it."""
    return Case(c[0], c[1], c[2], c[3], datetime.fromisoformat(c[4]))


def agreement(ruleset, dispatcher: Dispatcher, zen, cases: list) -> dict:
    mismatches = {"ours": 0, "zen": 0}
    for c in cases:
        case = _as_case(c)
        want = winning_rule(ruleset, case)
        want_id = want.id if want else None
        got = dispatcher.winning_rule(case)
        if (got.id if got else None) != want_id:
            mismatches["ours"] += 1
        if zen is not None and zen.winning_rule_id(case) != want_id:
            mismatches["zen"] += 1
    return {"sample": len(cases), "mismatches": mismatches}


# -- report ----------------------------------------------------------------------------------


def fmt_rate(x: float) -> str:
    return f"{x / 1e6:,.2f} M/s" if x >= 1e6 else f"{x / 1e3:,.1f} k/s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rules", default=str(ROOT / "rules" / "daxing"))
    parser.add_argument("--scales", default="1,10,100")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--single", type=int, default=20_000, help="cases for the one-case loops")
    parser.add_argument("--batch", type=int, default=1_000_000, help="cases for the batch runs")
    parser.add_argument("--quick", action="store_true", help="fewer cases and runs: a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.single, args.batch = 3, 3_000, 100_000
    OUT.mkdir(parents=True, exist_ok=True)
    base = Path(args.rules)
    report: dict = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "runs": args.runs,
                    "scales": {}}  # fmt: skip
    zen_note = "" if ZenMatcher else " (zen-engine not installed: pip install -e '.[bench]')"
    for scale in [int(s) for s in args.scales.split(",")]:
        rules = ruleset_dir(scale, base)
        print(f"== scale {scale}x: {rules}", flush=True)
        figures: dict = {"startup": startup(rules, args.runs)}
        if ZenMatcher is not None:
            figures["zen_compile_s"] = in_fresh_process(_ZEN_COMPILE, str(rules))[0]["zen_compile_s"]
        responder = build_responder(str(rules))  # the service's start path: load, compile, warm
        ruleset, dispatcher = responder.ruleset, responder.dispatcher
        cases = read_cases(history_file(rules, args.batch, f"scale{scale}"))
        zen = ZenMatcher(ruleset) if ZenMatcher is not None else None
        figures["agreement"] = agreement(ruleset, dispatcher, zen, cases[: min(2000, args.single)])
        contenders = {
            "reference": (partial(_reference_strings, ruleset), max(200, args.single // 20)),
            "ours": (partial(_ours_strings, responder), args.single),
            "ours (rule)": (partial(_ours_rule, dispatcher), args.single),
        }
        if zen is not None:
            contenders["zen"] = (partial(_zen_strings, zen), args.single)
        figures["single"] = single(contenders, cases, args.runs)
        figures["batch"] = batch(responder, cases, args.runs, zen)
        if scale == 1:
            figures["due_times"] = due_times_figures(rules, cases, args.runs, args.single)
        report["scales"][str(scale)] = figures
        print_scale(scale, figures, zen_note)
        if "due_times" in figures:
            print_due_times(figures["due_times"])
    (OUT / "match.json").write_text(json.dumps(report, indent=2))
    print(f"\nfigures written to {OUT / 'match.json'}")
    return 0


# each contender gets the case as the five strings a caller sends, and is called the same way


def _reference_strings(ruleset, c):
    return dispatch_case(ruleset, _as_case(c))


def _ours_strings(responder, c):
    return responder.answer(IncomingCase(*c))


def _ours_rule(dispatcher, c):
    # what ZEN answers: the winning rule of the case, from the same Case it is given
    return dispatcher.winning_rule(_as_case(c))


def _zen_strings(zen, c):
    return zen.winning_rule_id(_as_case(c))


def print_scale(scale: int, f: dict, zen_note: str) -> None:
    s, su, b = f["single"], f["startup"], f["batch"]
    print(f"  rules {su['rules']:,}  items {su['items']}  columns {su['columns']:,}  tables {su['table_mb']:.1f} MiB")
    print(f"  load {su['load_s']:.2f} s  compile {su['compile_s']:.3f} s (JIT excluded), +{su['compile_peak_mb']:.0f} MB"
          f" over the loaded set; process peak {su['peak_rss_mb']:.0f} MB"
          + (f"  | ZEN compile {f['zen_compile_s']:.2f} s" if "zen_compile_s" in f else zen_note))
    print(f"  ready (fresh process, warm numba cache) {su['ready_wall_s']:.2f} s; cold cache {su['cold_ready_wall_s']:.2f} s"
          f" (JIT {su['cold_first_compile_s']:.2f} s)")
    a = f["agreement"]
    print(f"  agreement on {a['sample']} cases: mismatches ours {a['mismatches']['ours']}, zen {a['mismatches']['zen']}")
    print("  one case, strings in -> decision out (ours: the endpoint's path, JSON bytes out)")
    print(f"    {'':12} {'cases/s':>12} {'p50 µs':>8} {'p99 µs':>8}")
    for name, r in s.items():
        print(f"    {name:12} {fmt_rate(r['cases_per_s']):>12} {r['p50_us']:8.2f} {r['p99_us']:8.2f}")
    ours, rule = s["ours"]["cases_per_s"], s["ours (rule)"]["cases_per_s"]
    print(f"    ours / reference {ours / s['reference']['cases_per_s']:,.0f}x"
          + (f"   ours / zen {ours / s['zen']['cases_per_s']:.1f}x (the answer's JSON),"
             f" {rule / s['zen']['cases_per_s']:.1f}x (the rule alone, as ZEN gives it)" if "zen" in s else ""))
    print(f"  batch of {b['cases']:,} cases (one core)")
    print(f"    kernel on encoded cases  {fmt_rate(b['kernel_cases_per_s']):>12}")
    print(f"    from strings (+status)   {fmt_rate(b['strings_cases_per_s']):>12}")
    print(f"    service: JSON bodies of {b['service_body_cases']:,} -> answers {fmt_rate(b['service_cases_per_s']):>12}")
    print("      of which, ns a case: " + ", ".join(f"{k} {v:.0f}" for k, v in b["ns_per_case"].items()))
    if "zen_batch_cases_per_s" in b:
        print(f"    zen batch ({b['zen_batch_cases']:,} cases) {fmt_rate(b['zen_batch_cases_per_s']):>12}"
              f"   ours (service) / zen {b['service_cases_per_s'] / b['zen_batch_cases_per_s']:.0f}x")


if __name__ == "__main__":
    sys.exit(main())
