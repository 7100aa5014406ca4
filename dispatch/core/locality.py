"""Where `@local` cannot resolve: areas no local government covers, and the `@local` rules that reach them.

`@local` is the department governing the nearest governed ancestor of a case's area. An
area with no governed ancestor (a city or district above the governed towns) has none,
and a case there that an `@local` rule decides goes to the seat operators (manual). The
service answers so; `dispatch check` warns of it and counts those cells as manual.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict

from dispatch.core.errors import Diagnostic, Severity
from dispatch.core.hints import plural
from dispatch.core.model import ANY, LOCAL, Rule, RuleSet


def ungoverned_areas(ruleset: RuleSet) -> list[str]:
    """Codes of the areas without a local government, in pre-order."""
    return [a.code for a in ruleset.areas if ruleset.local_department(a.code) is None]


def unresolved_example(ruleset: RuleSet, rule: Rule, ungoverned: list[str], positions: list[int]) -> str | None:
    """An area the `@local` rule matches where `@local` cannot resolve, or None; `positions` of `ungoverned`."""
    areas = ruleset.areas
    if rule.area == ANY:
        lo, hi = 0, len(areas)
    elif ruleset.local_department(rule.area) is not None:
        return None  # everything under a governed area resolves
    else:
        lo, hi = areas.pos(rule.area), areas.end(rule.area)
    for i in range(bisect_left(positions, lo), len(positions)):
        if positions[i] >= hi:
            break
        code = ungoverned[i]
        if rule.grid_type is None or ruleset.grid_type_of(code) == rule.grid_type:
            return code
    return None


def local_warnings(ruleset: RuleSet) -> list[Diagnostic]:
    """`rule.local_unresolved`: one warning per area where `@local` rules cannot resolve, naming a rule and the count."""
    ungoverned = ungoverned_areas(ruleset)
    if not ungoverned:
        return []
    positions = [ruleset.areas.pos(c) for c in ungoverned]
    by_area: dict[str, list[Rule]] = defaultdict(list)
    for rule in ruleset.rules:
        if rule.department == LOCAL:
            example = unresolved_example(ruleset, rule, ungoverned, positions)
            if example is not None:
                by_area[example].append(rule)
    found = []
    for code, rules in by_area.items():
        first = min(rules, key=lambda r: r.place)
        area = ruleset.areas[code]
        more = f" (and {plural(len(rules) - 1, 'more @local rule')} there)" if len(rules) > 1 else ""
        found.append(
            Diagnostic(
                "rule.local_unresolved",
                f"rule {first.id!r} names @local, but no department governs area {code!r} ({area.name}, "
                f"a {area.level}) or any area above it{more}: its cases there go to the seat operators (manual). "
                f"Give that area or one above it a local government (departments.csv `governs`), "
                f"or narrow the rule's area to governed areas",
                first.place_of("department"),
                Severity.WARNING,
            )
        )
    return found


def unresolved_areas(ruleset: RuleSet) -> list[str]:
    """Areas outside the basic grids (a city, a district) where an `@local` rule without a grid type cannot resolve.

    Coverage counts their cells beside the basic grids': a case reported there is real work
    (a hotline case known only by its district), and the service sends it to the seat operators.
    """
    ungoverned = [c for c in ungoverned_areas(ruleset) if ruleset.grid_type_of(c) is None]
    if not ungoverned:
        return []
    areas = ruleset.areas
    spans = sorted(
        {
            (0, len(areas)) if r.area == ANY else (areas.pos(r.area), areas.end(r.area))
            for r in ruleset.rules
            if r.department == LOCAL and r.grid_type is None and (r.area == ANY or r.area in areas)
        }
    )
    starts, ends = [], []  # the spans merged: sorted, disjoint
    for lo, hi in spans:
        if ends and lo <= ends[-1]:
            ends[-1] = max(ends[-1], hi)
        else:
            starts.append(lo)
            ends.append(hi)
    found = []
    for code in ungoverned:
        i = bisect_right(starts, areas.pos(code)) - 1
        if i >= 0 and areas.pos(code) < ends[i]:
            found.append(code)
    return found
