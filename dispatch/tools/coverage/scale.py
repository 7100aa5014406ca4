"""The colour scale and the number labels that the text, the HTML page and the PNG share."""

from __future__ import annotations

from itertools import pairwise

# auto share -> colour, interpolated linearly between stops. Diverging at 90 %, the share
# the design expects of a city: below it reds darken towards 0 %, above it a calm green,
# so that the gaps are what the eye meets first.
STOPS: tuple[tuple[float, str], ...] = (
    (0.0, "#7f0000"),
    (0.6, "#d7301f"),
    (0.8, "#fc8d59"),
    (0.9, "#fff7bc"),
    (1.0, "#74c476"),
)
EMPTY = "#e6e6e6"  # a cell with nothing to count: no grid, or no case


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def colour_of(share: float | None) -> str:
    """#rrggbb for an auto share in [0, 1]; EMPTY for None."""
    if share is None:
        return EMPTY
    share = min(max(share, 0.0), 1.0)
    for (lo, c0), (hi, c1) in pairwise(STOPS):
        if share <= hi:
            f = (share - lo) / (hi - lo)
            mixed = (round(a + (b - a) * f) for a, b in zip(_rgb(c0), _rgb(c1), strict=True))
            return "#{:02x}{:02x}{:02x}".format(*mixed)
    return STOPS[-1][1]


def ink_of(share: float | None) -> str:
    """Black or white, whichever reads better on colour_of(share)."""
    r, g, b = _rgb(colour_of(share))
    return "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#ffffff"


def share_of(auto: int, total: int) -> float | None:
    return auto / total if total else None


def percent_label(auto: int, total: int, digits: int = 0) -> str:
    """The auto share in percent with `digits` decimals; "" when there is nothing to count.

    100 only when every cell is auto and 0 only when none is: a 99.7 % cell shows 99,
    so that a gap never hides behind rounding.
    """
    if not total:
        return ""
    step = 10**digits
    p = round(100 * step * auto / total)
    if p == 100 * step and auto < total:
        p -= 1
    elif p == 0 and auto > 0:
        p = 1
    return f"{p / step:.{digits}f}"
