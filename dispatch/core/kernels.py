"""@njit kernels over compiled tables: arrays in, ranks and rule indices out; no objects, no I/O.

Private to the core. The wrappers live in compile.py (painting), dispatcher.py (matching,
statuses, a batch read from bytes) and analysis.py (shadowing, cell counts, two sets
compared): they validate and encode, the kernels only loop, read and compare. The
arrays of one compiled rule set travel as one Lookup (tables.py), not as positional
tuples; numba resolves a NamedTuple's fields at compile time, so this costs nothing.
"""

from __future__ import annotations

import numpy as np

from dispatch.core.clock import STAMP_FORM, STAMP_HAS_OFFSET, STAMP_OFFSET, STAMP_WALL, local_seconds, parse_iso
from dispatch.core.codebook import probe
from dispatch.core.jit import njit, njit_inline
from dispatch.core.tables import BLOCK_SHIFT


@njit
def _paint_rules(base, src_row, src_plane, col_grid_type, rank, item_lo, item_hi, col_lo, col_hi, grid_type, source):
    """Paint window-less rules, in ascending rank, onto their item x column rectangles.

    A later (higher-ranked) rule overwrites an earlier one, so each cell ends holding
    its winner. A rule for any source paints `base` and every source of the item's
    `src_plane` row of the item; a source-specific rule paints only its own source's row.
    """
    n_sources = src_row.shape[1]
    for k in range(rank.shape[0]):
        r, g, s = rank[k], grid_type[k], source[k]
        for i in range(item_lo[k], item_hi[k]):
            for c in range(col_lo[k], col_hi[k]):
                if g >= 0 and col_grid_type[c] != g:
                    continue
                if s < 0:
                    base[i, c] = r
                    for t in range(n_sources):
                        row = src_row[i, t]
                        if row >= 0:
                            src_plane[row, c] = r
                else:
                    src_plane[src_row[i, s], c] = r


@njit_inline
def _blocks(win_ptr, n_items):
    # hoisted out of every loop: an integer division per case halves the kernel's speed
    return (win_ptr.shape[0] - 1) // n_items


@njit
def _index_windows(win_ptr, win_ids, item_lo, item_hi, col_lo, col_hi, n_items):
    """Fill the (item, column block) lists of windowed rules; rules come in descending rank.

    Called twice: with win_ids empty it only counts (win_ptr[k + 1] += entries of cell k),
    then, once win_ptr holds offsets, it fills win_ids.
    """
    blocks = _blocks(win_ptr, n_items)
    counting = win_ids.shape[0] == 0
    fill = win_ptr[:-1].copy()
    for w in range(item_lo.shape[0]):
        if col_hi[w] <= col_lo[w]:
            continue
        for i in range(item_lo[w], item_hi[w]):
            for b in range(col_lo[w] >> BLOCK_SHIFT, ((col_hi[w] - 1) >> BLOCK_SHIFT) + 1):
                k = i * blocks + b
                if counting:
                    win_ptr[k + 1] += 1
                else:
                    win_ids[fill[k]] = w
                    fill[k] += 1
    return win_ptr


@njit
def _match_batch(items, cols, srcs, days, out, lk):
    """out[j] = index (into RuleSet.rules) of the rule that wins case j, or -1; `lk` a Lookup.

    The lookup is written out in the loop: as a function of its own (even inline="always")
    it ran at 10 M cases/s here, written out at 90 M (bench/match.py measures it). Its one
    other copy is Dispatcher.rule_index, in Python for the one-case path; both are held to
    reference.py (tests/core/test_compile.py).
    """
    base, src_row, src_plane, col_grid_type = lk.base, lk.src_row, lk.src_plane, lk.col_grid_type
    win_ptr, win_ids, win_rank, rule_by_rank = lk.win_ptr, lk.win_ids, lk.win_rank, lk.rule_by_rank
    win_from, win_to, win_col_lo, win_col_hi = lk.win_from, lk.win_to, lk.win_col_lo, lk.win_col_hi
    win_source, win_grid_type = lk.win_source, lk.win_grid_type
    blocks = _blocks(win_ptr, base.shape[0])
    for j in range(items.shape[0]):
        item, col, src, day = items[j], cols[j], srcs[j], days[j]
        row = src_row[item, src]
        best = base[item, col] if row < 0 else src_plane[row, col]
        cell = item * blocks + (col >> BLOCK_SHIFT)
        for k in range(win_ptr[cell], win_ptr[cell + 1]):
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
                best = r
                break
        out[j] = rule_by_rank[best] if best >= 0 else -1
    return out


@njit
def _mark_winners(seen, day_points, n_sources, lk):
    """seen[rule] = True for every rule that wins some (item, column, source, day).

    `day_points` holds one day of every stretch between window bounds, so every distinct
    answer over time is met. A cell with no source planes and no windowed rules answers
    alike for every source and day: one look suffices. The cells of one item go through
    _match_batch together (a call per item, not per cell: calls cost more than lookups).
    """
    n_items, n_cols = lk.base.shape
    src_row, win_ptr = lk.src_row, lk.win_ptr
    blocks = _blocks(win_ptr, n_items)
    n_days = day_points.shape[0]
    most = n_cols * n_sources * n_days
    items = np.empty(most, dtype=np.int32)
    cols = np.empty(most, dtype=np.int32)
    srcs = np.empty(most, dtype=np.int32)
    days = np.empty(most, dtype=np.int32)
    out = np.empty(most, dtype=np.int32)
    for item in range(n_items):
        by_source = src_row[item].max() >= 0
        n = 0
        for col in range(n_cols):
            cell = item * blocks + (col >> BLOCK_SHIFT)
            windowed = win_ptr[cell + 1] > win_ptr[cell]
            for src in range(n_sources if windowed or by_source else 1):
                for d in range(n_days if windowed else 1):
                    items[n], cols[n], srcs[n], days[n] = item, col, src, day_points[d]
                    n += 1
        _match_batch(items[:n], cols[:n], srcs[:n], days[:n], out[:n], lk)
        for j in range(n):
            if out[j] >= 0:
                seen[out[j]] = True
    return seen


@njit_inline
def _status(item, col, rule, st):
    """0 auto, 1 provisional, 2 manual: decide()'s status rules on encoded values; `st` a StatusArrays."""
    if rule >= 0:
        return 2 if st.rule_is_local[rule] and not st.col_has_local[col] else 0
    return 1 if st.urgent[item] and st.col_has_local[col] else 2


@njit
def _statuses(items, cols, rules, out, st):
    for j in range(items.shape[0]):
        out[j] = _status(items[j], cols[j], rules[j], st)
    return out


@njit
def _count_cell_statuses(counts, grid_cols, grid_group, n_sources, day, st, lk):
    """counts[item, grid_group[g], status] += 1 for every (item, grid_cols[g], source) cell on `day`, an item at a time.

    One group for all grids gives the coverage of `dispatch check`; a group per town, the coverage map.
    """
    n_items = lk.base.shape[0]
    n = grid_cols.shape[0] * n_sources
    items = np.empty(n, dtype=np.int32)
    cols = np.empty(n, dtype=np.int32)
    groups = np.empty(n, dtype=np.int32)
    srcs = np.empty(n, dtype=np.int32)
    days = np.full(n, day, dtype=np.int32)
    out = np.empty(n, dtype=np.int32)
    for g in range(grid_cols.shape[0]):
        for src in range(n_sources):
            cols[g * n_sources + src] = grid_cols[g]
            groups[g * n_sources + src] = grid_group[g]
            srcs[g * n_sources + src] = src
    for item in range(n_items):
        items[:] = item
        _match_batch(items, cols, srcs, days, out, lk)
        for j in range(n):
            counts[item, groups[j], _status(item, cols[j], out[j], st)] += 1
    return counts


# -- the difference of two compiled rule sets, cell by cell -----------------------------


@njit
def _diff_cells(rec, counts, items, pairs, srcs, day_points, same, lk_a, lk_b):
    """The cells where two compiled rule sets (a: old, b: new) may answer differently.

    A cell is (common item k, class of common areas p, common source s, day point d);
    items, pairs and srcs are int32[n, 2]: the (old, new) index of each. Both winners
    are looked up for every cell; a cell is a candidate unless the two winners have the
    same outcome class (same.class_a/class_b, by rule index + 1: department, co-handlers
    and deadline as written; 0 for no rule), the item the same urgency and deadline
    (same.item_same[k]) and the areas the same local government (same.pair_same[p]): then the
    outcome is the same for sure; the caller compares candidates exactly.

    Candidates go to rec int32[cap, 6] as (k, p, s, d, old rule, new rule), coarsest
    first: s = -1 when every source answers alike, d = -1 when every day does. A cell
    with no windowed rule and no source plane in either set answers alike for every
    source and day, so it is looked up once. counts int64[2]: [records needed (more than
    cap: call again with room), cells re-decided by another rule with the same outcome
    class, weighted by same.pair_weight]. `same` is a CellClasses (analysis.py).
    """
    n_items, n_srcs, n_days = items.shape[0], srcs.shape[0], day_points.shape[0]
    src_row_a, win_ptr_a, src_row_b, win_ptr_b = lk_a.src_row, lk_a.win_ptr, lk_b.src_row, lk_b.win_ptr
    blocks_a = _blocks(win_ptr_a, lk_a.base.shape[0])
    blocks_b = _blocks(win_ptr_b, lk_b.base.shape[0])
    pair_weight = same.pair_weight
    n_pairs = pairs.shape[0]
    most = n_pairs * n_srcs * n_days
    ia_arr = np.empty(most, dtype=np.int32)
    ib_arr = np.empty(most, dtype=np.int32)
    ca_arr = np.empty(most, dtype=np.int32)
    cb_arr = np.empty(most, dtype=np.int32)
    sa_arr = np.empty(most, dtype=np.int32)
    sb_arr = np.empty(most, dtype=np.int32)
    d_arr = np.empty(most, dtype=np.int32)
    out_a = np.empty(most, dtype=np.int32)
    out_b = np.empty(most, dtype=np.int32)
    start = np.empty(n_pairs, dtype=np.int64)
    ns_of = np.empty(n_pairs, dtype=np.int64)
    nd_of = np.empty(n_pairs, dtype=np.int64)
    n_rec = counts[0]
    cap = rec.shape[0]
    for k in range(n_items):
        ia, ib = items[k, 0], items[k, 1]
        by_source = src_row_a[ia].max() >= 0 or src_row_b[ib].max() >= 0
        n = 0
        for p in range(n_pairs):
            ca, cb = pairs[p, 0], pairs[p, 1]
            cell_a = ia * blocks_a + (ca >> BLOCK_SHIFT)
            cell_b = ib * blocks_b + (cb >> BLOCK_SHIFT)
            windowed = win_ptr_a[cell_a + 1] > win_ptr_a[cell_a] or win_ptr_b[cell_b + 1] > win_ptr_b[cell_b]
            ns = n_srcs if windowed or by_source else 1
            nd = n_days if windowed else 1
            start[p], ns_of[p], nd_of[p] = n, ns, nd
            for s in range(ns):
                for d in range(nd):
                    ia_arr[n], ib_arr[n], ca_arr[n], cb_arr[n] = ia, ib, ca, cb
                    sa_arr[n], sb_arr[n], d_arr[n] = srcs[s, 0], srcs[s, 1], day_points[d]
                    n += 1
        _match_batch(ia_arr[:n], ca_arr[:n], sa_arr[:n], d_arr[:n], out_a[:n], lk_a)
        _match_batch(ib_arr[:n], cb_arr[:n], sb_arr[:n], d_arr[:n], out_b[:n], lk_b)
        for p in range(n_pairs):
            j0, ns, nd = start[p], ns_of[p], nd_of[p]
            uniform = True
            for j in range(j0, j0 + ns * nd):
                if out_a[j] != out_a[j0] or out_b[j] != out_b[j0]:
                    uniform = False
                    break
            if uniform:
                n_rec = _diff_record(
                    rec, cap, n_rec, counts, k, p, -1, -1, out_a[j0], out_b[j0], n_srcs * n_days * pair_weight[p], same
                )
                continue
            days_only = True  # every source answers alike on each day
            for s in range(1, ns):
                for d in range(nd):
                    j, j1 = j0 + s * nd + d, j0 + d
                    if out_a[j] != out_a[j1] or out_b[j] != out_b[j1]:
                        days_only = False
            if days_only:
                for d in range(nd):
                    n_rec = _diff_record(
                        rec,
                        cap,
                        n_rec,
                        counts,
                        k,
                        p,
                        -1,
                        d,
                        out_a[j0 + d],
                        out_b[j0 + d],
                        n_srcs * pair_weight[p],
                        same,
                    )
                continue
            for s in range(ns):
                js = j0 + s * nd
                same_days = True
                for j in range(js, js + nd):
                    if out_a[j] != out_a[js] or out_b[j] != out_b[js]:
                        same_days = False
                        break
                if same_days:
                    n_rec = _diff_record(
                        rec, cap, n_rec, counts, k, p, s, -1, out_a[js], out_b[js], n_days * pair_weight[p], same
                    )
                    continue
                for d in range(nd):
                    n_rec = _diff_record(
                        rec, cap, n_rec, counts, k, p, s, d, out_a[js + d], out_b[js + d], pair_weight[p], same
                    )
    counts[0] = n_rec
    return counts


@njit_inline
def _diff_record(rec, cap, n_rec, counts, k, p, s, d, ra, rb, cells, same):
    """Write one candidate record (when there is room); count re-decided cells. Returns the new record count."""
    if same.class_a[ra + 1] == same.class_b[rb + 1] and same.item_same[k] and same.pair_same[p]:
        if same.rid_a[ra + 1] != same.rid_b[rb + 1]:
            counts[1] += cells
        return n_rec
    if n_rec < cap:
        rec[n_rec, 0], rec[n_rec, 1], rec[n_rec, 2] = k, p, s
        rec[n_rec, 3], rec[n_rec, 4], rec[n_rec, 5] = d, ra, rb
    return n_rec + 1


# -- a batch read from bytes: members' spans -> encoded cases ------------------------------

# seconds since 1970 of 0001-01-02 and 9999-12-30: an instant outside is left to Python
_SAFE_LO, _SAFE_HI = -62135510400, 253402128000
_FLAG_CODE, _FLAG_TIME = 1, 4  # dispatcher.FLAG_CODE, FLAG_TIME


@njit
def _encode_spans(body, field_lo, field_hi, now_wall, events, areas, sources, zone_from, zone_offset, flags, out):
    """Encode each unflagged case from its members' byte spans (see Dispatcher.read_spans); `out` a SpanCases.

    A naive time reads in the zone's steady offset; one before the zone's last change of
    offset, an instant near year 1 or 9999, or a form whose Python reading keeps more
    than whole seconds (a fraction, a date alone) is flagged: Python settles those.
    """
    steady_from, steady_offset = zone_from[-1], zone_offset[-1]
    t = np.empty(4, dtype=np.int64)
    for j in range(flags.shape[0]):
        flag = flags[j]
        ek = probe(body, field_lo[j, 1], field_hi[j, 1], events)
        # no area: the one the grid map gave the location (Dispatcher._read_locations), or none
        ak = probe(body, field_lo[j, 2], field_hi[j, 2], areas) if field_lo[j, 2] >= 0 else out.located[j]
        sk = probe(body, field_lo[j, 3], field_hi[j, 3], sources)
        if ek < 0 or ak < 0 or sk < 0:
            flag |= _FLAG_CODE
            out.unknown[j] = 1 if ek < 0 else (2 if ak < 0 else 3)
        out.area_key[j] = ak
        if field_lo[j, 4] < 0:
            t[STAMP_WALL], t[STAMP_OFFSET], t[STAMP_HAS_OFFSET], t[STAMP_FORM] = now_wall, 0, 0, 0
        elif not parse_iso(body, field_lo[j, 4], field_hi[j, 4], t) or t[STAMP_FORM] != 0:
            flag |= _FLAG_TIME
        if flag == 0:
            wall = t[STAMP_WALL]
            local = local_seconds(wall, t[STAMP_OFFSET], t[STAMP_HAS_OFFSET], zone_from, zone_offset)
            if t[STAMP_HAS_OFFSET] == 0:
                out.offset[j] = steady_offset
                out.naive[j] = 1
                if wall - steady_offset < steady_from:
                    flag |= _FLAG_TIME  # before the zone's last change of offset: Python works it out
            else:
                utc = wall - t[STAMP_OFFSET]
                out.offset[j] = t[STAMP_OFFSET]
                out.naive[j] = 0
                if not (_SAFE_LO <= utc < _SAFE_HI and _SAFE_LO <= local < _SAFE_HI):
                    flag |= _FLAG_TIME  # the instant near year 1 or 9999: Python's reading (or refusal) decides
            out.wall[j] = wall
            out.items[j] = events.value_of_key[ek]
            out.cols[j] = areas.value_of_key[ak]
            out.srcs[j] = sources.value_of_key[sk]
            out.days[j] = local // 86400
        else:
            out.items[j], out.cols[j], out.srcs[j], out.days[j] = 0, 0, 0, 0
        flags[j] = flag
    return out
