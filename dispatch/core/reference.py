"""The plain matcher that states the semantics; every fast path is tested against it.

It scans every rule for every case. Slow on purpose: it has to be obviously right.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

from dispatch.core.case import Case, check_case, local_day
from dispatch.core.decision import Decision, decide
from dispatch.core.model import ANY, Rule, RuleSet


def rule_matches(ruleset: RuleSet, rule: Rule, case: Case) -> bool:
    """True when every selector of `rule` matches `case` (DESIGN.md, rule semantics)."""
    if rule.event != ANY and not ruleset.events.covers(rule.event, case.event):
        return False
    if rule.area != ANY and not ruleset.areas.covers(rule.area, case.area):
        return False
    if rule.grid_type is not None and rule.grid_type != ruleset.grid_type_of(case.area):
        return False
    if rule.source is not None and rule.source != case.source:
        return False
    return rule.active_on(local_day(ruleset, case.reported_at))


def rank_key(ruleset: RuleSet, rule: Rule) -> tuple:
    """Higher wins: the precedence key, then (for tied duplicates) the smaller rule id."""
    return (ruleset.precedence(rule), _Reversed(rule.id))


def matching_rules(ruleset: RuleSet, case: Case) -> list[Rule]:
    """Every rule that matches `case`, the winner first."""
    found = [r for r in candidate_rules(ruleset, case.event) if rule_matches(ruleset, r, case)]
    return sorted(found, key=lambda r: rank_key(ruleset, r), reverse=True)


def candidate_rules(ruleset: RuleSet, event: str) -> list[Rule]:
    """The rules whose event selector is `*` or on the item's path: the only ones that can match.

    A partition of the rules by event code, so that checking 100,000 cases against
    8,000 rules takes seconds; rule_matches still checks every selector.
    """
    table = _BY_EVENT.get(ruleset)
    if table is None:
        table = _BY_EVENT[ruleset] = {}
        for rule in ruleset.rules:
            table.setdefault(rule.event, []).append(rule)
    found = list(table.get(ANY, ()))
    for node in ruleset.events.path(event):
        found.extend(table.get(node.code, ()))
    return found


_BY_EVENT: WeakKeyDictionary[RuleSet, dict[str, list[Rule]]] = WeakKeyDictionary()


def winning_rule(ruleset: RuleSet, case: Case) -> Rule | None:
    found = matching_rules(ruleset, case)
    return found[0] if found else None


def dispatch_case(ruleset: RuleSet, case: Case) -> Decision:
    """The decision for one case; raises CaseError for a code the rule set does not know."""
    check_case(ruleset, case)
    return decide(ruleset, case, winning_rule(ruleset, case))


class _Reversed:
    """Orders strings backwards, so that in a max() the smaller id wins a tie."""

    __slots__ = ("value",)

    def __init__(self, value: str):
        self.value = value

    def __lt__(self, other: _Reversed) -> bool:
        return self.value > other.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and self.value == other.value
