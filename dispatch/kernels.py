"""@njit kernels only: arrays in, ranks and rule indices out; no objects, no I/O.

Public wrappers live in compile.py (painting) and matcher.py (matching): they validate
and encode, the kernels only loop, read and compare.
"""

from __future__ import annotations

from dispatch.jit import njit


@njit
def paint_rules(base, src_row, src_plane, col_grid_type,
                rank, item_lo, item_hi, col_lo, col_hi, grid_type, source):  # fmt: skip
    """Paint window-less rules, in ascending rank, onto their item x column rectangles.

    A later (higher-ranked) rule overwrites an earlier one, so each cell ends holding
    its winner. A rule for any source paints `base` and every source of the item's
    `src_plane` row; a source-specific rule paints only its own source there.
    """
    n_sources = src_plane.shape[1]
    for k in range(rank.shape[0]):
        r, g, s = rank[k], grid_type[k], source[k]
        for i in range(item_lo[k], item_hi[k]):
            row = src_row[i]
            for c in range(col_lo[k], col_hi[k]):
                if g >= 0 and col_grid_type[c] != g:
                    continue
                if s < 0:
                    base[i, c] = r
                    if row >= 0:
                        for t in range(n_sources):
                            src_plane[row, t, c] = r
                else:
                    src_plane[row, s, c] = r


@njit
def _rank_of(item, col, src, day, base, src_row, src_plane, col_grid_type, win_ptr, win_ids,
             win_rank, win_col_lo, win_col_hi, win_grid_type, win_source, win_from, win_to):  # fmt: skip
    row = src_row[item]
    best = base[item, col] if row < 0 else src_plane[row, src, col]
    # an item's windowed rules come highest rank first: stop at the first that matches,
    # or at the first that could not beat what the tables already hold
    for k in range(win_ptr[item], win_ptr[item + 1]):
        w = win_ids[k]
        r = win_rank[w]
        if r <= best:
            break
        if (
            win_from[w] <= day < win_to[w]
            and win_col_lo[w] <= col < win_col_hi[w]
            and (win_source[w] < 0 or win_source[w] == src)
            and (win_grid_type[w] < 0 or win_grid_type[w] == col_grid_type[col])
        ):
            return r
    return best


@njit
def match_batch(items, cols, srcs, days, out, base, src_row, src_plane, col_grid_type, win_ptr, win_ids,
                win_rank, win_col_lo, win_col_hi, win_grid_type, win_source, win_from, win_to, rule_by_rank):  # fmt: skip
    """out[j] = index (into RuleSet.rules) of the rule that wins case j, or -1."""
    for j in range(items.shape[0]):
        best = _rank_of(items[j], cols[j], srcs[j], days[j], base, src_row, src_plane, col_grid_type, win_ptr,
                        win_ids, win_rank, win_col_lo, win_col_hi, win_grid_type, win_source, win_from, win_to)  # fmt: skip
        out[j] = rule_by_rank[best] if best >= 0 else -1
    return out



@njit
def mark_winners(seen, day_points, n_sources, base, src_row, src_plane, col_grid_type, win_ptr, win_ids,
                 win_rank, win_col_lo, win_col_hi, win_grid_type, win_source, win_from, win_to):  # fmt: skip
    """seen[rank] = True for every rank that wins some (item, column, source, day).

    `day_points` holds one day of every stretch between window bounds, so every distinct
    answer over time is met. An item with no source planes and no windowed rules answers
    alike for every source and day: one look suffices.
    """
    n_items, n_cols = base.shape
    for item in range(n_items):
        varies_by_source = src_row[item] >= 0 or win_ptr[item + 1] > win_ptr[item]
        n_src = n_sources if varies_by_source else 1
        n_days = day_points.shape[0] if win_ptr[item + 1] > win_ptr[item] else 1
        for col in range(n_cols):
            for src in range(n_src):
                for d in range(n_days):
                    r = _rank_of(item, col, src, day_points[d], base, src_row, src_plane, col_grid_type, win_ptr,
                                 win_ids, win_rank, win_col_lo, win_col_hi, win_grid_type, win_source, win_from,
                                 win_to)  # fmt: skip
                    if r >= 0:
                        seen[r] = True
    return seen
