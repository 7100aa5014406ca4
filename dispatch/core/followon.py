"""Follow-on errors: a reference that fails only because its target's row or file failed is reported at the cause.

One cause, one error. A rule naming event '02003' whose taxonomy row has a bad `urgent`
cell is not "unknown event '02003'": the row's own error says what to fix, and gains a
note of the references that wait for it. A table refused whole (not UTF-8, separated by
';') explains every reference into it the same way, and says how many it held back.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from dispatch.core.errors import Diagnostic, Place, Severity
from dispatch.core.hints import plural
from dispatch.core.model import Area, EventNode, ParsedRuleSet
from dispatch.core.tree import Tree


class FollowOn:
    """Which unknown references follow from an earlier error, and how many each cause held back."""

    def __init__(self, parsed: ParsedRuleSet, events: Tree[EventNode], areas: Tree[Area]):
        self.invalid: dict[tuple[str, str], Place] = dict(parsed.invalid)
        self.refused: dict[str, Place] = dict(parsed.refused)
        for kind, nodes, tree in (("event", parsed.events, events), ("area", parsed.areas, areas)):
            self._dropped_nodes(kind, nodes, tree)
        self.held: Counter[tuple[Place, str]] = Counter()  # (cause, kind) -> references held back
        self.first: dict[tuple[Place, str], Place] = {}
        self.code: dict[tuple[Place, str], str] = {}

    def _dropped_nodes(self, kind: str, nodes, tree: Tree) -> None:
        """Nodes the tree dropped (an unknown parent, a cycle, under such a node): caused by the highest dropped row."""
        by_code: dict[str, EventNode | Area] = {}
        for node in nodes:
            by_code.setdefault(node.code, node)
        for node in nodes:
            if node.code in tree:
                continue
            cause, seen = node, {node.code}
            while cause.parent in by_code and cause.parent not in tree and cause.parent not in seen:
                cause = by_code[cause.parent]
                seen.add(cause.code)
            self.invalid.setdefault((kind, node.code), cause.place)

    def excused(self, kind: str, code: str | None, at: Place) -> bool:
        """Whether an unknown `code` of `kind` (None: a value read from the table, e.g. a grid type) has a cause."""
        cause = self.invalid.get((kind, code)) if code is not None else None
        key = (cause, "row") if cause is not None else (self.refused.get(kind), kind)
        if key[0] is None:
            return False
        self.held[key] += 1
        self.first.setdefault(key, at)
        if code is not None:
            self.code.setdefault(key, code)
        return True

    def annotate(self, problems: list[Diagnostic]) -> list[Diagnostic]:
        """`problems` with each cause's error noting the references it held back."""
        problems = list(problems)
        for key, n in sorted(self.held.items(), key=lambda kv: kv[0][0]):
            cause, kind = key
            if kind == "row":
                note = (
                    f" [{self.code[key]!r} is defined on this row, which is invalid: {plural(n, 'reference')} to it "
                    f"(e.g. at {self.first[key]}) {'is' if n == 1 else 'are'} checked once the row is fixed]"
                )
            else:
                note = (
                    f" [{plural(n, 'reference')} to {kind}s (e.g. at {self.first[key]}) "
                    f"{'was' if n == 1 else 'were'} not checked: checked once this file loads]"
                )
            i = _cause_index(problems, cause)
            if i is not None:
                problems[i] = replace(problems[i], message=problems[i].message + note)
        return problems


def _cause_index(problems: list[Diagnostic], cause: Place) -> int | None:
    """The error at the cause's row (the first of them), else the first error in its file."""
    errors = [(i, p) for i, p in enumerate(problems) if p.severity is Severity.ERROR and p.place.path == cause.path]
    at_row = [(p.place, i) for i, p in errors if p.place.line == cause.line]
    if at_row:
        return min(at_row)[1]
    return min(((p.place, i) for i, p in errors), default=(None, None))[1]
