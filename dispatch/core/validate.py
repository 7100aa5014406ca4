"""Whole-set checks: trees, references, conflicts and duplicates; every problem, then the RuleSet."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from dispatch.core.errors import Diagnostic, Place, Severity
from dispatch.core.followon import FollowOn
from dispatch.core.gridmap import check_gridmap
from dispatch.core.hints import Suggester, code_width_warnings
from dispatch.core.locality import local_warnings
from dispatch.core.model import ANY, LOCAL, Area, EventNode, ParsedRuleSet, Rule, RuleSet
from dispatch.core.tree import Tree
from dispatch.core.version import ruleset_version
from dispatch.core.worktime import Deadline


def _valid_tree_nodes(nodes: Sequence[EventNode | Area], kind: str, problems: list[Diagnostic]) -> list:
    """The nodes that reach a root through known parents without a cycle.

    Reports duplicate codes, unknown parents and cycles (each cycle once, at its first row).
    The descendants of a bad node are dropped without a further error: one cause, one error.
    """
    by_code: dict[str, EventNode | Area] = {}
    for node in nodes:
        first = by_code.get(node.code)
        if first is not None:
            problems.append(
                Diagnostic(f"{kind}.duplicate_code", f"code {node.code!r} already defined at {first.place}", node.place)
            )
            continue
        by_code[node.code] = node
    state: dict[str, bool] = {}  # code -> reaches a root cleanly
    for code in by_code:
        trail: list[str] = []
        on_trail: set[str] = set()
        current: str | None = code
        ok = True
        while current is not None and current not in state:
            if current in on_trail:
                cycle = trail[trail.index(current) :]
                first = min((by_code[c] for c in cycle), key=lambda n: n.place)
                problems.append(
                    Diagnostic(f"{kind}.cycle", f"parent cycle: {' -> '.join(cycle + [current])}", first.place)
                )
                ok = False
                break
            node = by_code[current]
            trail.append(current)
            on_trail.add(current)
            if node.parent is not None and node.parent not in by_code:
                problems.append(
                    Diagnostic(
                        f"{kind}.unknown_parent", f"parent {node.parent!r} of {current!r} is not defined", node.place
                    )
                )
                ok = False
                break
            current = node.parent
        else:
            ok = current is None or state[current]
        for c in trail:
            state[c] = ok
    return [n for c, n in by_code.items() if state[c]]


def _check_events(parsed: ParsedRuleSet, events: Tree[EventNode], problems: list[Diagnostic]) -> None:
    systems = parsed.manifest.command_systems
    for node in events:
        if systems and node.command_system and node.command_system not in systems:
            problems.append(
                Diagnostic(
                    "taxonomy.unknown_command_system",
                    f"command system {node.command_system!r} is not one of {sorted(systems)}",
                    node.place,
                )
            )
        if events.is_leaf(node.code) and all(n.deadline is None for n in events.path(node.code)):
            problems.append(
                Diagnostic(
                    "taxonomy.missing_deadline",
                    f"item {node.code!r} has no deadline (nor has any ancestor)",
                    node.place,
                )
            )


def _check_classes(events: Tree[EventNode], areas: Tree[Area], problems: list[Diagnostic]) -> None:
    """Deadlines per area class: every class an area has is in each such item's values, and
    every area has a class (its own or an ancestor's) once any item gives values per class."""
    per_class = [n for n in events if n.deadline is not None and not isinstance(n.deadline, Deadline)]
    if not per_class:
        return
    classes: dict[str, Area] = {}
    classless: list[Area] = []
    for area in areas:
        klass = next((a.area_class for a in areas.path(area.code) if a.area_class), None)
        if klass is None:
            classless.append(area)
        else:
            classes.setdefault(klass, area)
    for node in per_class:
        given = {name for name, _ in node.deadline}
        missing = sorted(set(classes) - given)
        if missing:
            examples = ", ".join(f"{k!r} (as area {classes[k].code} {classes[k].name})" for k in missing)
            problems.append(
                Diagnostic(
                    "taxonomy.missing_class",
                    f"{node.code!r} gives deadlines per area class ({', '.join(sorted(given))}) but none for class "
                    f"{examples}: add it (class names are compared exactly, case too)",
                    node.place,
                )
            )
    if classless:
        first = min(classless, key=lambda a: a.place)
        problems.append(
            Diagnostic(
                "area.missing_class",
                f"area {first.code!r} {first.name} has no class (nor has any ancestor), but item {per_class[0].code!r} "
                f"gives deadlines per area class: give it or an ancestor a class ({len(classless)} area(s) lack one)",
                first.place,
            )
        )


def _calendar_warnings(parsed: ParsedRuleSet, rules: Sequence[Rule], problems: list[Diagnostic]) -> None:
    """A days file that ends before the rules do: due times in later years assume the plain workweek."""
    calendar = parsed.manifest.calendar
    if calendar is None or not calendar.days_file or not calendar.days:
        return
    last = max(calendar.listed_years)
    newest = max((d for r in rules for d in (r.valid_from, r.valid_to) if d is not None), default=None)
    if newest is not None and newest.year > last:
        problems.append(
            Diagnostic(
                "calendar.ends_early",
                f"{calendar.days_file} lists days up to {last}, but rules run into {newest.year}: due times there "
                "assume the plain workweek (answers say provisional); add the year's holidays (dispatch calendar)",
                Place(f"{parsed.root}/{calendar.days_file}"),
                Severity.WARNING,
            )
        )


def _check_departments(
    parsed: ParsedRuleSet, areas: Tree[Area], problems: list[Diagnostic], follow: FollowOn, area_hint: Suggester
) -> dict:
    systems = parsed.manifest.command_systems
    departments = {}
    governed: dict[str, str] = {}
    for dept in parsed.departments:
        if dept.code in departments:
            problems.append(
                Diagnostic(
                    "department.duplicate_code",
                    f"code {dept.code!r} already defined at {departments[dept.code].place}",
                    dept.place,
                )
            )
            continue
        departments[dept.code] = dept
        if systems and dept.command_system and dept.command_system not in systems:
            problems.append(
                Diagnostic(
                    "department.unknown_command_system",
                    f"command system {dept.command_system!r} is not one of {sorted(systems)}",
                    dept.place,
                )
            )
        if dept.governs is not None:
            if dept.governs not in areas:
                if not follow.excused("area", dept.governs, dept.place):
                    problems.append(
                        Diagnostic(
                            "department.unknown_area",
                            f"governs unknown area {dept.governs!r}{area_hint.hint(dept.governs)}",
                            dept.place,
                        )
                    )
            elif dept.governs in governed:
                problems.append(
                    Diagnostic(
                        "department.duplicate_governs",
                        f"area {dept.governs!r} is already governed by {governed[dept.governs]!r}: @local would be ambiguous",
                        dept.place,
                    )
                )
            else:
                governed[dept.governs] = dept.code
    return departments


def _co_handler_hint(co: str, departments: dict, dept_hint: Suggester) -> str:
    """'roads,env' is two co-handlers separated the wrong way; anything else gets a 'did you mean'."""
    parts = [p.strip() for p in co.replace("，", ",").split(",")]
    if len(parts) > 1 and all(p in departments or p == LOCAL for p in parts):
        return f" (co-handlers are separated by ';', not ',': write {';'.join(parts)!r})"
    return dept_hint.hint(co)


def _check_rules(
    parsed: ParsedRuleSet,
    events: Tree,
    areas: Tree,
    departments: dict,
    problems: list[Diagnostic],
    follow: FollowOn,
    area_hint: Suggester,
) -> list[Rule]:
    sources = set(parsed.manifest.sources)
    grid_types = {a.grid_type for a in areas if a.grid_type}
    event_hint, dept_hint = Suggester(events.order), Suggester([*departments, LOCAL])
    grid_hint, source_hint = Suggester(grid_types), Suggester(sources)
    seen: dict[str, Rule] = {}
    good: list[Rule] = []
    for rule in parsed.rules:
        before = len(problems)
        held = False  # a reference that fails because its target's row or file failed: reported there

        def bad(code: str, message: str, column: str, rule: Rule = rule) -> None:
            problems.append(Diagnostic(code, message, rule.place_of(column)))

        def excused(kind: str, code: str | None, column: str, rule: Rule = rule) -> bool:
            nonlocal held
            found = follow.excused(kind, code, rule.place_of(column))
            held = held or found
            return found

        if rule.id in seen:
            bad("rule.duplicate_id", f"rule id {rule.id!r} already used at {seen[rule.id].place}", "id")
        else:
            seen[rule.id] = rule
        if rule.event != ANY and rule.event not in events and not excused("event", rule.event, "event"):
            bad("rule.unknown_event", f"unknown event code {rule.event!r}{event_hint.hint(rule.event)}", "event")
        if rule.area != ANY and rule.area not in areas and not excused("area", rule.area, "area"):
            bad("rule.unknown_area", f"unknown area code {rule.area!r}{area_hint.hint(rule.area)}", "area")
        if rule.grid_type is not None and rule.grid_type not in grid_types and not excused("area", None, "grid_type"):
            bad(
                "rule.unknown_grid_type",
                f"unknown grid type {rule.grid_type!r}{grid_hint.hint(rule.grid_type)}"
                f" (known: {', '.join(sorted(grid_types))})",
                "grid_type",
            )
        if rule.source is not None and rule.source not in sources:
            bad(
                "rule.unknown_source",
                f"unknown source {rule.source!r}{source_hint.hint(rule.source)}"
                f" (known: {', '.join(parsed.manifest.sources)})",
                "source",
            )
        if (
            rule.department != LOCAL
            and rule.department not in departments
            and not excused("department", rule.department, "department")
        ):
            bad(
                "rule.unknown_department",
                f"unknown department {rule.department!r}{dept_hint.hint(rule.department)}",
                "department",
            )
        for co in rule.co_handlers:
            if co != LOCAL and co not in departments and not excused("department", co, "co_handlers"):
                bad(
                    "rule.unknown_co_handler",
                    f"unknown co-handler {co!r}{_co_handler_hint(co, departments, dept_hint)}",
                    "co_handlers",
                )
        if rule.valid_from and rule.valid_to and rule.valid_from >= rule.valid_to:
            bad(
                "rule.empty_window",
                f"valid_from {rule.valid_from} is not before valid_to {rule.valid_to} (valid_to is exclusive)",
                "valid_from",
            )
        if len(problems) == before and not held:
            good.append(rule)
    return good


def _rule_warnings(ruleset: RuleSet, problems: list[Diagnostic]) -> None:
    """Rules that can never match: no area under the rule's area has its grid type."""
    types_within: dict[str, set[str]] = defaultdict(set)
    for area in ruleset.areas:
        grid_type = ruleset.grid_type_of(area.code)
        if grid_type is not None:
            for up in ruleset.areas.path(area.code):
                if grid_type in types_within[up.code]:
                    break
                types_within[up.code].add(grid_type)
    for rule in ruleset.rules:
        if rule.grid_type is None or rule.area == ANY or rule.grid_type in types_within[rule.area]:
            continue
        found = sorted(types_within[rule.area])
        problems.append(
            Diagnostic(
                "rule.never_matches",
                f"grid_type {rule.grid_type!r}: no area in {rule.area!r} is a {rule.grid_type} grid"
                + (f" (it has {', '.join(found)} grids)" if found else " (it has no typed grid)"),
                rule.place_of("grid_type"),
                Severity.WARNING,
            )
        )


def _normal_outcome(ruleset: RuleSet, rule: Rule, split: set[str]) -> tuple:
    """The outcome with `@local` resolved where the rule's area alone decides it.

    `split`: areas with a governed area strictly inside, where `@local` depends on where
    in the area the case lies; there (and for `*`) it stays as written.
    """

    def resolve(dept: str) -> str:
        if dept == LOCAL and rule.area != ANY and rule.area not in split:
            return ruleset.local_department(rule.area) or LOCAL
        return dept

    return (resolve(rule.department), tuple(resolve(c) for c in rule.co_handlers), rule.deadline)


def _split_areas(ruleset: RuleSet) -> set[str]:
    split: set[str] = set()
    for governed in ruleset.governors:
        if governed not in ruleset.areas:
            continue  # department.unknown_area says so
        for area in list(ruleset.areas.path(governed))[1:]:
            if area.code in split:
                break
            split.add(area.code)
    return split


def _describe(rule: Rule) -> str:
    return (
        f"{rule.department}"
        + (f" with {';'.join(rule.co_handlers)}" if rule.co_handlers else "")
        + (f" in {rule.deadline}" if rule.deadline else "")
    )


def _named(tree: Tree, code: str, every: str) -> str:
    if code == ANY:
        return f"* ({every})"
    return f"{code!r} ({tree[code].name})" if code in tree else repr(code)


def _collision(ruleset: RuleSet, a: Rule, b: Rule) -> str:
    """The cells two tied rules both decide: item, area (with names), grid type, source, and the shared dates."""
    parts = [
        f"the cases of event {_named(ruleset.events, a.event, 'every event')}",
        f"area {_named(ruleset.areas, a.area, 'every area')}",
    ]
    if a.grid_type:
        parts.append(f"{a.grid_type} grids")
    parts.append(f"source {a.source}" if a.source else "every source")
    if a.has_window:
        lo = max(a.valid_from or date.min, b.valid_from or date.min)
        hi = min(a.valid_to or date.max, b.valid_to or date.max)
        parts.append(
            f"from {lo if lo != date.min else 'the start'} to "
            + (f"{date.fromordinal(hi.toordinal() - 1)}" if hi != date.max else "the end")
        )
    return " × ".join(parts[:2]) + (", " + ", ".join(parts[2:]) if parts[2:] else "")


def _overlap(a: Rule, b: Rule) -> bool:
    lo = max(a.valid_from or date.min, b.valid_from or date.min)
    hi = min(a.valid_to or date.max, b.valid_to or date.max)
    return lo < hi


def find_conflicts(ruleset: RuleSet) -> list[Diagnostic]:
    """Ties on the precedence key between rules that can match one case.

    At equal depth two different tree nodes never overlap, so tied rules that can meet
    share priority, event, area, grid type and source, and both have a window or neither
    does; windowed ones must also overlap in time. A tie with another outcome is an error
    (`rule.conflict`), with the same outcome a warning (`rule.duplicate`). Each rule is
    reported once: against the first earlier row it conflicts with, else the first it repeats.
    """
    split = _split_areas(ruleset)
    groups: dict[tuple, list[Rule]] = defaultdict(list)
    for rule in ruleset.rules:
        key = (rule.priority, rule.event, rule.area, rule.grid_type, rule.source, rule.has_window)
        groups[key].append(rule)
    found: list[Diagnostic] = []
    for members in groups.values():
        if len(members) < 2:
            continue
        members.sort(key=lambda r: r.place)
        outcomes = [_normal_outcome(ruleset, r, split) for r in members]
        for j in range(1, len(members)):
            later = members[j]
            tied = [i for i in range(j) if not later.has_window or _overlap(members[i], later)]
            clash = next((i for i in tied if outcomes[i] != outcomes[j]), None)
            if clash is not None:
                earlier = members[clash]
                found.append(
                    Diagnostic(
                        "rule.conflict",
                        f"rule {later.id!r} ties with rule {earlier.id!r} at {earlier.place}: both decide "
                        f"{_collision(ruleset, later, earlier)} with priority {later.priority} and the same "
                        f"specificity, but send them to {_describe(later)} instead of {_describe(earlier)}. "
                        f"Two ways out: give one rule a higher priority, or narrow one rule's area "
                        f"(or its event, source, grid type or dates) so that they no longer meet",
                        later.place,
                    )
                )
            elif tied:
                earlier = members[tied[0]]
                found.append(
                    Diagnostic(
                        "rule.duplicate",
                        f"rule {later.id!r} repeats rule {earlier.id!r} at {earlier.place}: same selectors, same outcome",
                        later.place,
                        Severity.WARNING,
                    )
                )
    return found


def validate(parsed: ParsedRuleSet, earlier: list[Diagnostic] = ()) -> tuple[RuleSet | None, list[Diagnostic]]:
    """Every whole-set problem of `parsed`, after `earlier` (the problems met reading it); the RuleSet when
    there is no error. A reference that fails only because of an earlier error is noted at that error."""
    problems: list[Diagnostic] = []
    events = Tree(_valid_tree_nodes(parsed.events, "taxonomy", problems))
    areas = Tree(_valid_tree_nodes(parsed.areas, "area", problems))
    for kind, tree in (("taxonomy", events), ("area", areas)):
        problems.extend(code_width_warnings(kind, list(tree), {c: tree.depth(c) for c in tree.order}))
    follow = FollowOn(parsed, events, areas)
    area_hint = Suggester(areas.order)
    _check_events(parsed, events, problems)
    _check_classes(events, areas, problems)
    departments = _check_departments(parsed, areas, problems, follow, area_hint)
    rules = _check_rules(parsed, events, areas, departments, problems, follow, area_hint)
    if parsed.gridmap is not None:
        check_gridmap(parsed.gridmap, areas, problems)
    ruleset = RuleSet(
        manifest=parsed.manifest,
        events=events,
        areas=areas,
        departments=departments,
        rules=tuple(rules),
        version=ruleset_version(parsed),
        gridmap=parsed.gridmap,
    )
    _rule_warnings(ruleset, problems)
    _calendar_warnings(parsed, rules, problems)
    if "department" not in follow.refused and "area" not in follow.refused:  # else every @local looks unresolved
        problems.extend(local_warnings(ruleset))
    problems.extend(find_conflicts(ruleset))
    problems = follow.annotate([*earlier, *problems])
    if any(p.severity is Severity.ERROR for p in problems):
        return None, problems
    return ruleset, problems
