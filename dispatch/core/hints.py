"""Hints for a maintainer's mistakes: "did you mean" for unknown names and codes, and codes a spreadsheet damaged.

A spreadsheet that formats a code column as a number turns `01001` into `1001`: the
taxonomy, the rules, the golden cases and the history each lose their leading zeros, in
one file or in all. `restored_code` finds the known code an unknown one was before that;
`code_width_warnings` finds a tree whose codes look damaged although every reference
still resolves (the whole set went through the same spreadsheet).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable

from dispatch.core.errors import Diagnostic, Place, Severity
from dispatch.core.model import Area, EventNode

ZEROS_LOST = 4  # at most this many leading zeros are tried back on an unknown code
NEAR_SEARCHES = 100  # unknown values a Suggester compares with every known one; later ones get case and zeros only
NEAR_KNOWN = 20_000  # more known values than this: no comparison with each (a 100x area tree)
TEXT_HINT = "Formatted as a number somewhere? Keep code columns as Text"
_EXAMPLES = 3


def restored_code(value: str, known: Collection[str]) -> str | None:
    """The known code that `value` is with its leading zeros restored ('1001' -> '01001'), or None."""
    if not value.isdigit():
        return None
    for zeros in range(1, ZEROS_LOST + 1):
        candidate = "0" * zeros + value
        if candidate in known:
            return candidate
    return None


def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Optimal string alignment distance (an adjacent swap counts once: 'raods' -> 'roads' is 1); > limit early."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = ca != cb
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


class Suggester:
    """'did you mean' for the values of one kind (departments, areas, ...), each unknown value looked up once.

    In order: the same value in another case ('Env' -> 'env'), a code with its leading
    zeros restored ('1001' -> '01001'), then the one known value within a small edit
    distance ('raods' -> 'roads'; 1 edit for values under 8 characters, 2 from there).
    """

    def __init__(self, known: Iterable[str]):
        self.known = set(known)
        self._folded: dict[str, list[str]] | None = None
        self._cache: dict[str, str | None] = {}
        self._searches = 0  # a file of a thousand typos must not take minutes to check

    def suggest(self, value: str) -> str | None:
        if value not in self._cache:
            self._cache[value] = self._find(value)
        return self._cache[value]

    def hint(self, value: str) -> str:
        """' (did you mean 'x'?)' or ''; zeros restored also say why they went."""
        found = self.suggest(value)
        if found is None:
            return ""
        if found == restored_code(value, self.known) and found.casefold() != value.casefold():
            return f" (did you mean {found!r}? It lost its leading zeros. {TEXT_HINT})"
        return f" (did you mean {found!r}?)"

    def _find(self, value: str) -> str | None:
        if not value:
            return None
        if self._folded is None:
            self._folded = defaultdict(list)
            for k in self.known:
                self._folded[k.casefold()].append(k)
        same = self._folded.get(value.casefold(), [])
        if len(same) == 1:
            return same[0]
        restored = restored_code(value, self.known)
        if restored is not None:
            return restored
        if len(value) < 3 or len(self.known) > NEAR_KNOWN or self._searches >= NEAR_SEARCHES:
            return None  # too short to guess from; too many to compare one by one
        self._searches += 1
        limit = 1 if len(value) < 8 else 2
        near = [k for k in self.known if edit_distance(value.casefold(), k.casefold(), limit) <= limit]
        return near[0] if len(near) == 1 else None


def plural(n: int, word: str) -> str:
    """'1 rule', '2 rules': a count with its noun."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# -- codes a spreadsheet damaged ---------------------------------------------------------------


def _examples(codes: Iterable[str]) -> str:
    codes = sorted(codes)
    shown = ", ".join(repr(c) for c in codes[:_EXAMPLES])
    return shown + (", ..." if len(codes) > _EXAMPLES else "")


def code_width_warnings(kind: str, nodes: list[EventNode | Area], depth: dict[str, int]) -> list[Diagnostic]:
    """`code.width` warnings for one tree (`kind`: taxonomy or area), `depth` the level of each code (1: a root).

    Two signs of lost leading zeros, on codes of digits only:
    - the codes at one level come in widths a few digits apart ('1001' beside '12001');
    - every root is a single digit while the codes under them number their children with
      zero-padded suffixes ('1' above '1001'): they were most likely '01', '02', ...
    """
    by_code = {n.code: n for n in nodes}
    levels: dict[int, list[str]] = defaultdict(list)
    for node in nodes:
        if node.code.isdigit() and node.code in depth:
            levels[depth[node.code]].append(node.code)
    found: list[Diagnostic] = []
    mixed, firsts = [], []
    for level, codes in sorted(levels.items()):
        widths = Counter(len(c) for c in codes)
        widest = max(widths)
        short = [c for c in codes if widest - ZEROS_LOST <= len(c) < widest]
        if not short:
            continue  # one width, or codes too far apart in width to be one width without zeros
        first = min((by_code[c] for c in short), key=lambda n: n.place)
        firsts.append((first, widest))
        mixed.append(
            f"level {level}: "
            + ", ".join(
                f"{plural(n, 'code')} of {plural(w, 'digit')} ({_examples(c for c in codes if len(c) == w)})"
                for w, n in sorted(widths.items())
            )
        )
    if mixed:
        first, widest = firsts[0]
        found.append(
            Diagnostic(
                "code.width",
                f"{kind} codes of one level differ in width ({'; '.join(mixed)}). Did the shorter ones lose "
                f"leading zeros ({first.code!r} for {first.code.zfill(widest)!r})? {TEXT_HINT}",
                first.place,
                Severity.WARNING,
            )
        )
    roots = levels.get(1, [])
    if roots and all(len(c) == 1 for c in roots) and len(roots) == len([n for n in nodes if depth.get(n.code) == 1]):
        padded = [
            n.code
            for n in nodes
            if n.parent in roots and n.code.isdigit() and n.code.startswith(n.parent) and n.code[1:2] == "0"
        ]
        if padded:
            first = min((by_code[c] for c in roots), key=lambda n: n.place)
            found.append(
                Diagnostic(
                    "code.width",
                    f"{kind} roots are single digits ({_examples(roots)}) while the codes under them are "
                    f"zero-padded ({_examples(padded)}): were they {_examples('0' + c for c in roots)}? " + TEXT_HINT,
                    first.place,
                    Severity.WARNING,
                )
            )
    return found


def lost_zeros_warning(what: str, column: str, unknown: Iterable[tuple[str, Place]], known: Collection[str]):
    """One `code.width` warning for the unknown codes of a column (golden cases, a case history) that are known
    codes without their leading zeros, at the first of them; None when there is none. `unknown`: (code, place)."""
    restored_of: dict[str, str | None] = {}
    found = []
    for code, place in unknown:
        if code not in restored_of:
            restored_of[code] = restored_code(code, known)
        if restored_of[code] is not None:
            found.append((place, code, restored_of[code]))
    if not found:
        return None
    place, code, restored = min(found)
    return Diagnostic(
        "code.width",
        f"{plural(len(found), what)} {'has' if len(found) == 1 else 'have'} an {column} code that is a known code "
        f"without its leading zeros ({code!r} for {restored!r}). {TEXT_HINT}",
        place,
        Severity.WARNING,
    )
