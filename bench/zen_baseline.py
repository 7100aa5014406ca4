"""GoRules ZEN (`zen-engine`) as a baseline: the same rules as one decision table, hit policy `first`.

The rule set becomes a JDM graph, input node -> decision table -> output node, whose rows are
the rules in precedence order (`dispatch.core.reference.rank_key`, highest first), so that ZEN's
first matching row is `dispatch.core.reference.winning_rule`'s winner. The columns:

- `event<d>` for every depth d that some rule's event selector has: the case item's ancestor
  at depth d (depth 1 at a root, as `dispatch.core.tree` counts), "" when the item is shallower.
  A rule's event code at depth d is the cell `== "<code>"` in column `event<d>`; `*` leaves
  every event cell empty (an empty cell matches anything).
- `area<d>` likewise, from the case's area and its ancestors.
- `grid_type`: the case area's grid type (its own or its basic grid's), "" when it has none.
- `source`: the case's source.
- `day`: the case's local calendar day in the rule set's timezone as the integer YYYYMMDD. A
  window is `[from..to)`, `>= from` or `< to`. ZEN 2.1 cannot order strings (`"a" < "b"` is
  "Opcode Compare: Unsupported type"), so ISO-string compares are out; `>= d("2026-06-01")`
  against an ISO string input gives the same answers at the same speed (within noise, on
  Daxing), but the integer compare is exact by construction and needs no date parsing.

Cells are written `== "code"`: measured the fastest form (a bare `"code"` is about 10% slower
and `$ == "code"` some 60 times slower, as ZEN then runs a general expression per cell).

Columns that no rule uses are left out (and so are their input fields): a cheaper table for
ZEN, never a different answer. The output column `rule` is the winning rule's id; no match
gives an empty result.

`ZenMatcher` compiles the graph once and answers from strings, as our matcher must: it turns a
case's codes into the input fields with per-code dictionaries built ahead (that preparation
is part of its measured cost), then evaluates.

    .venv/bin/python bench/zen_baseline.py rules/daxing                 # uniform random cases
    .venv/bin/python bench/zen_baseline.py rules/daxing --cases rules/daxing/cases-sample.csv

ZEN is an optional dependency: `pip install zen-engine` (import name `zen`).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

if __package__ in (None, ""):  # run as a script: make `dispatch` importable from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dispatch.core.case import Case, check_case
from dispatch.core.model import ANY, Rule, RuleSet
from dispatch.core.reference import rank_key

DECISION_KEY = "dispatch"
OUTPUT_FIELD = "rule"

__all__ = [
    "ZenMatcher",
    "day_number",
    "measure",
    "ordered_rules",
    "random_cases",
    "read_cases",
    "zen_decision_content",
    "zen_literal",
]


# -- the decision table ---------------------------------------------------------------------


def zen_literal(text: str) -> str:
    """`text` as a ZEN string literal.

    ZEN string literals have no escapes: a literal runs from its quote to the next same quote
    (checked on zen-engine 2.1.3: `"a\\b"` is the three characters a, \\, b). So a text with a
    double quote goes in single quotes, and one with both cannot be written at all.
    """
    if '"' not in text:
        return f'"{text}"'
    if "'" not in text:
        return f"'{text}'"
    raise ValueError(f"{text!r} holds both quote characters: ZEN has no string literal for it")


def day_number(day: date) -> int:
    """A calendar day as the integer YYYYMMDD: ordered as the days are."""
    return day.year * 10000 + day.month * 100 + day.day


def ordered_rules(ruleset: RuleSet) -> list[Rule]:
    """The rules in precedence order, the winner of any tie first: the table's row order."""
    return sorted(ruleset.rules, key=lambda r: rank_key(ruleset, r), reverse=True)


class _Layout:
    """Which input columns the table has: the selector depths and kinds some rule uses."""

    def __init__(self, ruleset: RuleSet):
        rules = ruleset.rules
        self.event_depths = sorted({ruleset.event_depth(r.event) for r in rules if r.event != ANY})
        self.area_depths = sorted({ruleset.area_depth(r.area) for r in rules if r.area != ANY})
        self.grid_type = any(r.grid_type is not None for r in rules)
        self.source = any(r.source is not None for r in rules)
        self.day = any(r.has_window for r in rules)

    def columns(self) -> list[tuple[str, str]]:
        """(column id, input field) in table order."""
        cols = [(f"event{d}", f"event{d}") for d in self.event_depths]
        cols += [(f"area{d}", f"area{d}") for d in self.area_depths]
        cols += [
            (name, name)
            for name, used in (("grid_type", self.grid_type), ("source", self.source), ("day", self.day))
            if used
        ]
        return cols


def _window_cell(rule: Rule) -> str:
    lo = day_number(rule.valid_from) if rule.valid_from is not None else None
    hi = day_number(rule.valid_to) if rule.valid_to is not None else None
    if lo is not None and hi is not None:
        return f"[{lo}..{hi})"
    if lo is not None:
        return f">= {lo}"
    if hi is not None:
        return f"< {hi}"
    return ""


def _row(ruleset: RuleSet, rule: Rule, number: int) -> dict[str, str]:
    row = {"_id": f"row{number}"}
    if rule.event != ANY:
        row[f"event{ruleset.event_depth(rule.event)}"] = "== " + zen_literal(rule.event)
    if rule.area != ANY:
        row[f"area{ruleset.area_depth(rule.area)}"] = "== " + zen_literal(rule.area)
    if rule.grid_type is not None:
        row["grid_type"] = "== " + zen_literal(rule.grid_type)
    if rule.source is not None:
        row["source"] = "== " + zen_literal(rule.source)
    if rule.has_window:
        row["day"] = _window_cell(rule)
    row[OUTPUT_FIELD] = zen_literal(rule.id)
    return row


def zen_decision_content(ruleset: RuleSet) -> dict:
    """The rule set as a JDM decision graph: input -> one `first`-hit decision table -> output.

    Cells a rule leaves open are absent from its row (ZEN reads a missing or empty cell as
    "any"); see the module docstring for the columns.
    """
    layout = _Layout(ruleset)
    columns = layout.columns()
    rows = [_row(ruleset, rule, number) for number, rule in enumerate(ordered_rules(ruleset))]
    table = {
        "hitPolicy": "first",
        "inputs": [{"id": cid, "name": cid, "type": "expression", "field": field} for cid, field in columns],
        "outputs": [{"id": OUTPUT_FIELD, "name": OUTPUT_FIELD, "type": "expression", "field": OUTPUT_FIELD}],
        "rules": rows,
    }
    at = {"x": 0, "y": 0}
    return {
        "contentType": "application/vnd.gorules.decision",
        "nodes": [
            {"id": "input", "type": "inputNode", "name": "case", "position": at},
            {"id": "table", "type": "decisionTableNode", "name": "rules", "position": at, "content": table},
            {"id": "output", "type": "outputNode", "name": "decision", "position": at},
        ],
        "edges": [
            {"id": "in-table", "type": "edge", "sourceId": "input", "targetId": "table"},
            {"id": "table-out", "type": "edge", "sourceId": "table", "targetId": "output"},
        ],
    }


# -- the matcher ----------------------------------------------------------------------------


class ZenMatcher:
    """The rule set compiled once by ZEN; answers a case's winning rule id from its strings.

    ZEN's compiled path is the engine with the static loader: `ZenEngine({"loader": {"type":
    "static", "content": {key: graph}}})` parses and compiles the graph when it is built, and
    `engine.evaluate(key, context)` reuses it. Measured on zen-engine 2.1.3, the other ways are
    not compiled paths: a `ZenDecision` from `ZenEngine().create_decision(graph)` costs time in
    proportion to the table on every `evaluate` (about 2.5 ms a case on Daxing's 8,802 rows,
    against 17 us through the static loader), and a callback loader is called again on every
    `evaluate`. So this class uses the static loader only.

    Batches go through `ZenEngine.evaluate_batch([{"key", "context"}])`, the binding's batch
    call, which answers `[{"success", "data": {"result", "performance"}, "error"}]`; or, with
    `api="evaluate"`, through `engine.evaluate` in a Python loop. Neither wins everywhere:
    `evaluate_batch` spreads over worker threads (1.0-1.7 cores seen on 2) but measures from
    0.6 to 1.4 times the loop's rate.
    """

    def __init__(self, ruleset: RuleSet, content: dict | None = None):
        import zen

        self.ruleset = ruleset
        self.content = zen_decision_content(ruleset) if content is None else content
        self.engine = zen.ZenEngine({"loader": {"type": "static", "content": {DECISION_KEY: self.content}}})
        layout = _Layout(ruleset)
        self._zone = ZoneInfo(ruleset.manifest.timezone)
        self._day = layout.day
        self._source = layout.source
        # per code, the input fields it stands for: a case's codes become a context with a
        # few dict reads, as our own encoding turns codes into indices
        self._event_fields = {
            code: _path_fields("event", ruleset.events, code, layout.event_depths) for code in ruleset.events.order
        }
        self._area_fields = {}
        for code in ruleset.areas.order:
            fields = _path_fields("area", ruleset.areas, code, layout.area_depths)
            if layout.grid_type:
                fields["grid_type"] = ruleset.grid_type_of(code) or ""
            self._area_fields[code] = fields
        self._sources = frozenset(ruleset.manifest.sources)

    def context(self, case: Case) -> dict:
        """The decision's input for `case`; raises CaseError for a code the rule set does not know."""
        try:
            ctx = {**self._event_fields[case.event], **self._area_fields[case.area]}
        except KeyError:
            check_case(self.ruleset, case)  # names the bad field
            raise
        if case.source not in self._sources:
            check_case(self.ruleset, case)
        if self._source:
            ctx["source"] = case.source
        if self._day:
            moment = case.reported_at
            day = moment.date() if moment.tzinfo is None else moment.astimezone(self._zone).date()
            ctx["day"] = day.year * 10000 + day.month * 100 + day.day
        return ctx

    def winning_rule_id(self, case: Case) -> str | None:
        """The id of the rule that wins for `case` (strings in), None when no rule matches."""
        return self.engine.evaluate(DECISION_KEY, self.context(case))["result"].get(OUTPUT_FIELD)

    def evaluate_contexts(self, contexts: Sequence[dict], api: str = "evaluate_batch") -> list[str | None]:
        """Winning rule ids for prepared contexts: one `evaluate_batch` call, or an `evaluate` loop."""
        if api == "evaluate":
            evaluate = self.engine.evaluate
            return [evaluate(DECISION_KEY, c)["result"].get(OUTPUT_FIELD) for c in contexts]
        if api != "evaluate_batch":
            raise ValueError(f"api must be 'evaluate_batch' or 'evaluate', not {api!r}")
        answers = self.engine.evaluate_batch([{"key": DECISION_KEY, "context": c} for c in contexts])
        out: list[str | None] = []
        for answer in answers:
            if not answer.get("success"):
                raise RuntimeError(f"ZEN failed a case: {answer.get('error')}")
            out.append(answer["data"]["result"].get(OUTPUT_FIELD))
        return out

    def winning_rule_ids(self, cases: Iterable[Case], api: str = "evaluate_batch") -> list[str | None]:
        """Winning rule ids for many cases (strings in): their contexts, then `evaluate_contexts`."""
        return self.evaluate_contexts([self.context(c) for c in cases], api)


def _path_fields(prefix: str, tree, code: str, depths: Sequence[int]) -> dict[str, str]:
    path = [n.code for n in tree.path(code)][::-1]  # root first: path[d - 1] is at depth d
    return {f"{prefix}{d}": path[d - 1] if d <= len(path) else "" for d in depths}


# -- measurement ----------------------------------------------------------------------------


def random_cases(
    ruleset: RuleSet, n: int, seed: int = 0, year: int = 2026, pool: Sequence[Case] | None = None
) -> list[Case]:
    """`n` cases: drawn from `pool` (with replacement) when given, else made up: a uniform leaf
    item, a uniform area, a uniform source and a uniform time in `year`."""
    rng = random.Random(seed)
    if pool:
        return rng.choices(pool, k=n)
    items = ruleset.events.leaves()
    areas = list(ruleset.areas.order)
    sources = list(ruleset.manifest.sources)
    zone = ZoneInfo(ruleset.manifest.timezone)
    start = datetime(year, 1, 1, tzinfo=zone)
    seconds = int((datetime(year + 1, 1, 1, tzinfo=zone) - start).total_seconds())
    return [
        Case(
            f"c{i}",
            rng.choice(items),
            rng.choice(areas),
            rng.choice(sources),
            start + timedelta(seconds=rng.randrange(seconds)),
        )
        for i in range(n)
    ]


def read_cases(path: str | Path) -> list[Case]:
    """A case history file (CSV `id,event,area,source,reported_at`, ISO times) as cases."""
    import csv

    with open(path, encoding="utf-8-sig", newline="") as f:
        return [
            Case(row["id"], row["event"], row["area"], row["source"], datetime.fromisoformat(row["reported_at"]))
            for row in csv.DictReader(f)
        ]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _median_runs(fn, runs: int) -> tuple[float, list[float], float]:
    """(median wall seconds, all runs, median CPU seconds / wall seconds) of `fn()`."""
    walls, ratios = [], []
    for _ in range(runs):
        c0, t0 = _cpu(), time.perf_counter()
        fn()
        wall = time.perf_counter() - t0
        walls.append(wall)
        ratios.append((_cpu() - c0) / wall if wall else 0.0)
    return statistics.median(walls), walls, statistics.median(ratios)


def measure(
    ruleset: RuleSet,
    *,
    runs: int = 3,
    single: int = 20_000,
    batch: int = 100_000,
    check: int = 5_000,
    seed: int = 0,
    pool: Sequence[Case] | None = None,
) -> dict:
    """The ZEN figures for `ruleset`; every time is the median of `runs` runs.

    Cases are drawn from `pool` (a case history) when given, else made up uniformly (see
    `random_cases`): ZEN scans rows until the first match, so the mix of cases matters.

    - compile: building the JDM graph (Python), `ZenEngine().create_decision(json)`, and the
      engine with the static loader (which parses and compiles: the path the matcher uses);
    - single: `ZenMatcher.winning_rule_id` over `single` cases, strings in -> rule id: the
      throughput of the loop, and p50/p99 of each call timed alone; also the preparation and
      `engine.evaluate` parts apart, and `ZenDecision.evaluate` on a few cases for the record;
    - batch: `winning_rule_ids` over `batch` cases by `evaluate_batch`, and by an `evaluate`
      loop; `evaluate_batch` alone on prepared contexts; CPU time over wall time for each.
    """
    import zen

    from dispatch.core.reference import winning_rule

    out: dict = {"rules": len(ruleset.rules), "zen_engine": _zen_version(), "runs": runs, "cores": os.cpu_count()}
    out["cases_from"] = f"history of {len(pool)} cases" if pool else "uniform random"

    build_s, _, _ = _median_runs(lambda: zen_decision_content(ruleset), runs)
    content = zen_decision_content(ruleset)
    text = json.dumps(content)
    table = content["nodes"][1]["content"]
    out["table"] = {
        "rows": len(table["rules"]),
        "columns": [c["field"] for c in table["inputs"]],
        "json_bytes": len(text),
    }
    cd_s, _, _ = _median_runs(lambda: zen.ZenEngine().create_decision(text), runs)
    static_s, static_runs, _ = _median_runs(lambda: ZenMatcher(ruleset, content), runs)
    matcher = ZenMatcher(ruleset, content)
    out["compile"] = {
        "build_jdm_s": build_s,
        "create_decision_s": cd_s,
        "static_loader_engine_s": static_s,
        "static_loader_runs_s": static_runs,
    }

    # correctness on a sample, before any timing
    sample = random_cases(ruleset, check, seed + 1, pool=pool)
    want = [(w.id if (w := winning_rule(ruleset, c)) else None) for c in sample]
    out["check"] = {
        "cases": check,
        "no_match": sum(w is None for w in want),
        "distinct_winners": len(set(want)),
        "single_mismatches": sum(w != matcher.winning_rule_id(c) for w, c in zip(want, sample)),
        "batch_mismatches": sum(w != g for w, g in zip(want, matcher.winning_rule_ids(sample))),
        "loop_mismatches": sum(w != g for w, g in zip(want, matcher.winning_rule_ids(sample, api="evaluate"))),
    }

    # single case, strings in -> rule id
    cases = random_cases(ruleset, single, seed + 2, pool=pool)
    one = matcher.winning_rule_id
    for c in cases[:1000]:
        one(c)
    loop_s, loop_runs, loop_cpu = _median_runs(lambda: [one(c) for c in cases], runs)
    lat: list[int] = []
    clock = time.perf_counter_ns
    for _ in range(runs):
        for c in cases:
            t = clock()
            one(c)
            lat.append(clock() - t)
    lat.sort()
    prep_s, _, _ = _median_runs(lambda: [matcher.context(c) for c in cases], runs)
    ctxs = [matcher.context(c) for c in cases]
    evaluate = matcher.engine.evaluate
    eval_s, _, _ = _median_runs(lambda: [evaluate(DECISION_KEY, x) for x in ctxs], runs)
    few = ctxs[:50]
    decision = zen.ZenEngine().create_decision(text)
    zd_s, _, _ = _median_runs(lambda: [decision.evaluate(x) for x in few], runs)
    out["single"] = {
        "cases": single,
        "throughput_per_s": single / loop_s,
        "mean_us": loop_s / single * 1e6,
        "cpu_per_wall": loop_cpu,
        "cpu_us": loop_s * loop_cpu / single * 1e6,
        "p50_us": lat[len(lat) // 2] / 1000,
        "p99_us": lat[int(len(lat) * 0.99)] / 1000,
        "prepare_us": prep_s / single * 1e6,
        "engine_evaluate_us": eval_s / single * 1e6,
        "zen_decision_evaluate_us": zd_s / len(few) * 1e6,
        "runs_s": loop_runs,
    }

    # batch: strings in -> ids
    bcases = random_cases(ruleset, batch, seed + 3, pool=pool)
    eb_s, eb_runs, eb_cpu = _median_runs(lambda: matcher.winning_rule_ids(bcases), runs)
    lp_s, lp_runs, lp_cpu = _median_runs(lambda: matcher.winning_rule_ids(bcases, api="evaluate"), runs)
    req = [{"key": DECISION_KEY, "context": matcher.context(c)} for c in bcases]
    ebo_s, _, ebo_cpu = _median_runs(lambda: matcher.engine.evaluate_batch(req), runs)
    out["batch"] = {
        "cases": batch,
        "evaluate_batch_per_s": batch / eb_s,
        "evaluate_batch_cpu_per_wall": eb_cpu,
        "evaluate_batch_runs_s": eb_runs,
        "evaluate_loop_per_s": batch / lp_s,
        "evaluate_loop_cpu_per_wall": lp_cpu,
        "evaluate_loop_runs_s": lp_runs,
        "evaluate_batch_only_per_s": batch / ebo_s,
        "evaluate_batch_only_cpu_per_wall": ebo_cpu,
    }
    out["load_average"] = os.getloadavg()
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _zen_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("zen-engine")
    except PackageNotFoundError:
        return "?"


def _print(figures: dict) -> None:
    t, k, s, b, c = figures["table"], figures["compile"], figures["single"], figures["batch"], figures["check"]
    print(f"zen-engine {figures['zen_engine']}: {figures['rules']} rules -> table {t['rows']} rows x {len(t['columns'])} "
          f"input columns {t['columns']}, {t['json_bytes'] / 1e6:.2f} MB of JSON")  # fmt: skip
    print(f"  cases: {figures['cases_from']}")
    print(f"  check vs reference: {c['cases']} cases ({c['no_match']} without a match, {c['distinct_winners']} distinct winners); "
          f"mismatches: evaluate {c['single_mismatches']}, evaluate_batch {c['batch_mismatches']}, loop {c['loop_mismatches']}")  # fmt: skip
    print(f"  compile: JDM graph {k['build_jdm_s'] * 1e3:.1f} ms (Python); create_decision {k['create_decision_s'] * 1e3:.1f} ms; "
          f"engine with static loader (parse + compile, used) {k['static_loader_engine_s'] * 1e3:.1f} ms")  # fmt: skip
    print(f"  single, strings in -> rule id (engine.evaluate): {s['throughput_per_s']:,.0f}/s, mean {s['mean_us']:.2f} us "
          f"(CPU {s['cpu_us']:.2f} us, cpu/wall {s['cpu_per_wall']:.2f}), p50 {s['p50_us']:.2f} us, p99 {s['p99_us']:.2f} us")  # fmt: skip
    print(f"    parts: prepare {s['prepare_us']:.2f} us + engine.evaluate {s['engine_evaluate_us']:.2f} us; "
          f"(ZenDecision.evaluate from create_decision: {s['zen_decision_evaluate_us']:,.0f} us)")  # fmt: skip
    print(f"  batch {b['cases']:,}, strings in -> ids: evaluate_batch {b['evaluate_batch_per_s']:,.0f}/s (cpu/wall {b['evaluate_batch_cpu_per_wall']:.2f}); "
          f"evaluate loop {b['evaluate_loop_per_s']:,.0f}/s (cpu/wall {b['evaluate_loop_cpu_per_wall']:.2f}); "
          f"evaluate_batch on prepared contexts {b['evaluate_batch_only_per_s']:,.0f}/s (cpu/wall {b['evaluate_batch_only_cpu_per_wall']:.2f})")  # fmt: skip
    la = figures["load_average"]
    print(f"  medians of {figures['runs']} runs; {figures['cores']} cores, load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}; "
          f"peak RSS {figures['peak_rss_mb']:.0f} MB")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    from dispatch.core.load import load_ruleset

    p = argparse.ArgumentParser(description="GoRules ZEN baseline figures for a rule set")
    p.add_argument("ruleset", help="rule-set directory (with ruleset.toml)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--single", type=int, default=20_000, help="cases for the single-case loop")
    p.add_argument("--batch", type=int, default=100_000, help="cases for the batch")
    p.add_argument("--check", type=int, default=5_000, help="cases compared with the reference matcher")
    p.add_argument(
        "--cases", metavar="FILE", help="draw cases from this history (CSV id,event,area,source,reported_at)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    a = p.parse_args(argv)
    pool = read_cases(a.cases) if a.cases else None
    figures = measure(
        load_ruleset(a.ruleset), runs=a.runs, single=a.single, batch=a.batch, check=a.check, seed=a.seed, pool=pool
    )
    if a.json:
        print(json.dumps(figures, indent=2))
    else:
        _print(figures)
    c = figures["check"]
    return 1 if c["single_mismatches"] or c["batch_mismatches"] or c["loop_mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
