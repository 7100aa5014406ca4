"""The coverage map as a PNG heatmap: matplotlib, imported here only and only when drawing.

No pyplot: a Figure on the Agg canvas draws headless and leaves the process's backend alone.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np

from dispatch.core.coverage import AUTO, CoverageMap, Label
from dispatch.tools.coverage.scale import EMPTY, STOPS, ink_of, percent_label, share_of

# families that carry Chinese glyphs, most wanted first; matplotlib's own DejaVu has none
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Heiti SC",
    "Noto Serif CJK SC",
    "AR PL UMing CN",
    "Droid Sans Fallback",
)
CELL_INCHES = (0.36, 0.27)  # width, height of one cell
DPI = 110


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed: the picture needs the `plot` extra."""


def require_matplotlib() -> None:
    """Raise PlotUnavailable, saying what to install, when matplotlib is missing."""
    if importlib.util.find_spec("matplotlib") is None:
        raise PlotUnavailable("--png needs matplotlib, which is not installed: pip install 'dispatch[plot]'")


def cjk_font() -> str | None:
    """The name of an installed font family with Chinese glyphs, or None."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((family for family in CJK_FAMILIES if family in names), None)


def axis_labels(labels: tuple[Label, ...], with_names: bool) -> list[str]:
    """Tick labels: codes, and names too when a font can draw them."""
    return [f"{x.short} {x.name}" if with_names else x.short for x in labels]


def with_totals(counts: np.ndarray) -> np.ndarray:
    """categories x towns x statuses, plus a total column and a total row."""
    rows = np.concatenate([counts, counts.sum(axis=1, keepdims=True)], axis=1)
    return np.concatenate([rows, rows.sum(axis=0, keepdims=True)], axis=0)


def _panel(ax, cmap: CoverageMap, counts: np.ndarray, title: str, colours, font: str | None) -> object:
    full = with_totals(counts)
    auto, total = full[:, :, AUTO], full.sum(axis=2)
    shares = np.ma.masked_array(np.where(total > 0, 100 * auto / np.maximum(total, 1), 0.0), mask=total == 0)
    image = ax.imshow(shares, cmap=colours, vmin=0, vmax=100, aspect="auto", interpolation="nearest")
    n_rows, n_cols = shares.shape
    for r in range(n_rows):
        for c in range(n_cols):
            text = percent_label(int(auto[r, c]), int(total[r, c]))
            if text:
                # in_layout=False: inside the axes anyway, and measuring 1,300 labels doubles the time
                ax.text(
                    c,
                    r,
                    text,
                    ha="center",
                    va="center",
                    fontsize=6.5,
                    in_layout=False,
                    color=ink_of(share_of(int(auto[r, c]), int(total[r, c]))),
                )
    # the totals stand apart from the map behind a white rule
    ax.axvline(n_cols - 1.5, color="white", linewidth=2.5)
    ax.axhline(n_rows - 1.5, color="white", linewidth=2.5)
    with_names = font is not None
    upright = with_names or max((len(t.short) for t in cmap.towns), default=0) > 3
    town_labels = [*axis_labels(cmap.towns, with_names), "all"]
    ax.set_xticks(range(n_cols), town_labels, rotation=90 if upright else 0, fontsize=7)
    ax.set_yticks(range(n_rows), [*axis_labels(cmap.categories, with_names), "all"], fontsize=7)
    ax.tick_params(length=0)
    ax.set_xlabel(cmap.level + (" (code)" if not with_names else ""), fontsize=8)
    ax.set_ylabel("event category" + (" (code)" if not with_names else ""), fontsize=8)
    ax.set_title(title, fontsize=9)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return image


def heatmap_figure(cmap: CoverageMap):
    """A matplotlib Figure: the map by cells, and beside it by case volume when there is a history."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LinearSegmentedColormap
    from matplotlib.figure import Figure

    font = cjk_font()
    colours = LinearSegmentedColormap.from_list("auto_share", list(STOPS)).with_extremes(bad=EMPTY)
    views = [("cells", cmap.by_category(cmap.cells))]
    if cmap.cases is not None:
        views.append(("cases", cmap.by_category(cmap.cases)))
    n_rows, n_cols = len(cmap.categories) + 1, len(cmap.towns) + 1
    label_inches = 3.2 if font else 0.9
    # at least as wide as the titles and the caption, however few the towns
    width = len(views) * max(n_cols * CELL_INCHES[0] + label_inches, 5.6) + 1.2
    height = n_rows * CELL_INCHES[1] + (3.0 if font else 2.2)
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(views), squeeze=False)[0]
    image = None
    for ax, (unit, counts) in zip(axes, views, strict=True):
        total = counts.sum(axis=(0, 1))
        share = percent_label(int(total[AUTO]), int(total.sum()), 1)
        if unit == "cells":
            title = f"by cells: item x basic grid x source on {cmap.day.isoformat()} ({share}% auto)"
        else:
            title = f"by case volume: {int(total.sum())} cases ({share}% auto; grey: no case)"
        image = _panel(ax, cmap, counts, title, colours, font)
    bar = fig.colorbar(image, ax=list(axes), shrink=0.6, pad=0.01, aspect=30)
    bar.set_ticks([0, 20, 40, 60, 80, 90, 100])
    bar.set_label("auto-dispatch share (%)", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    fig.suptitle(f"dispatch coverage: rule set {cmap.name} {cmap.version}", fontsize=11)
    caption = (
        "categories and towns by code: names in the text and HTML output (no CJK font installed)\n" if not font else ""
    )
    fig.supxlabel(
        caption + "a cell reads 100 only when all of it dispatches automatically, 0 only when none does",
        fontsize=7,
        color="#444444",
    )
    if font:
        for text in fig.findobj(lambda a: hasattr(a, "set_fontfamily")):
            text.set_fontfamily([font, "DejaVu Sans"])
    return fig


def save_png(fig, path: str | Path) -> None:
    """Write `fig` as a PNG of 256 colours: a third of the full-colour file, alike to the eye."""
    from PIL import Image  # matplotlib's own dependency

    with warnings.catch_warnings():
        # a name the font cannot draw becomes a box, not a warning per glyph
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from")
        fig.canvas.draw()
    rgb = Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[:, :, :3])
    rgb.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
        path, format="PNG", optimize=True
    )


def write_png(cmap: CoverageMap, path: str | Path) -> None:
    """Draw the heatmap to `path`; raises PlotUnavailable without matplotlib, OSError if unwritable."""
    require_matplotlib()
    save_png(heatmap_figure(cmap), path)
