"""`dispatch check` as a plain function: the start-up path run on a rule set, and its report."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from dispatch.core.analysis import cell_coverage, ruleset_counts, shadow_example, shadowed_rules, volume_coverage
from dispatch.core.dispatcher import Dispatcher
from dispatch.core.errors import Diagnostic, HistoryError, Severity, sorted_diagnostics
from dispatch.core.history import read_history
from dispatch.core.load import read_ruleset
from dispatch.core.locality import unresolved_areas
from dispatch.core.model import RuleSet


@dataclass(frozen=True, slots=True)
class CheckReport:
    root: str
    diagnostics: list[Diagnostic]
    ruleset: RuleSet | None
    seconds: float
    counts: dict[str, object] = field(default_factory=dict)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.WARNING]

    def passed(self, strict: bool = False) -> bool:
        return not self.errors and not (strict and self.warnings)


def check_ruleset(root: str | Path, cases: str | Path | None = None, at: date | None = None) -> CheckReport:
    """Load, validate and compile `root` exactly as the service does at start; report everything.

    With a valid rule set it adds the compiled view: shadowed rules (warnings), the share
    of item x basic grid x source cells that dispatch automatically on day `at` (default
    today in the rule set's zone), and, given a case history, the share of case volume.
    """
    started = time.perf_counter()
    ruleset, diagnostics = read_ruleset(root)
    if ruleset is None:
        return CheckReport(str(root), diagnostics, None, time.perf_counter() - started)
    counts = ruleset_counts(ruleset)
    compiled = time.perf_counter()
    dispatcher = Dispatcher(ruleset)
    counts["compile_seconds"] = round(time.perf_counter() - compiled, 4)
    counts["table_bytes"] = dispatcher.tables.nbytes
    diagnostics = sorted_diagnostics(diagnostics + shadow_warnings(dispatcher))
    day = at or datetime.now(ZoneInfo(ruleset.manifest.timezone)).date()
    cells = cell_coverage(dispatcher, day)
    counts["coverage"] = {
        "day": day.isoformat(),
        "cells": cells.counts,
        "cells_auto_share": round(cells.share(), 4),
        "cells_unresolved_local_areas": len(unresolved_areas(ruleset)),  # areas above the grids counted too
    }
    if cases is not None:
        try:
            history = read_history(cases, dispatcher)
        except HistoryError as err:
            diagnostics = sorted_diagnostics(diagnostics + err.diagnostics)
        else:
            diagnostics = sorted_diagnostics(diagnostics + list(history.warnings))
            volume = volume_coverage(dispatcher, history)
            counts["coverage"].update(
                cases=volume.counts, cases_auto_share=round(volume.share(), 4), cases_unknown=history.unknown
            )
    return CheckReport(str(root), diagnostics, ruleset, time.perf_counter() - started, counts)


def shadow_warnings(dispatcher: Dispatcher) -> list[Diagnostic]:
    found = []
    for rule in shadowed_rules(dispatcher):
        beaten_by = shadow_example(dispatcher, rule)
        if beaten_by is None:
            continue  # matches no case at all: rule.never_matches says why
        found.append(
            Diagnostic(
                "rule.shadowed",
                f"rule {rule.id!r} wins no case: a higher rule takes every case it matches "
                f"(e.g. {beaten_by.id!r} at {beaten_by.place})",
                rule.place,
                Severity.WARNING,
            )
        )
    return found
