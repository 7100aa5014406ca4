"""@njit kernels only: arrays in, ranks and rule indices out; no objects, no I/O.

Public wrappers live in compile.py (painting) and dispatcher.py (matching): they validate
and encode, the kernels only loop, read and compare.
"""

from __future__ import annotations

import numpy as np

from dispatch.core.jit import njit, njit_inline
from dispatch.core.tables import BLOCK_SHIFT


@njit
def paint_rules(base, src_row, src_plane, col_grid_type,
                rank, item_lo, item_hi, col_lo, col_hi, grid_type, source):  # fmt: skip
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
def index_windows(win_ptr, win_ids, item_lo, item_hi, col_lo, col_hi, n_items):
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
def match_batch(items, cols, srcs, days, out, base, src_row, src_plane, col_grid_type, win_ptr, win_ids,
                win_rank, win_col_lo, win_col_hi, win_grid_type, win_source, win_from, win_to, rule_by_rank):  # fmt: skip
    """out[j] = index (into RuleSet.rules) of the rule that wins case j, or -1.

    The lookup is written out in the loop: as a function of its own (even inline="always")
    it ran at 10 M cases/s here, written out at 90 M (bench/match.py measures it).
    """
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
def mark_winners(seen, day_points, n_sources, base, src_row, src_plane, col_grid_type, win_ptr, win_ids,
                 win_rank, win_col_lo, win_col_hi, win_grid_type, win_source, win_from, win_to, rule_by_rank):  # fmt: skip
    """seen[rule] = True for every rule that wins some (item, column, source, day).

    `day_points` holds one day of every stretch between window bounds, so every distinct
    answer over time is met. A cell with no source planes and no windowed rules answers
    alike for every source and day: one look suffices. The cells of one item go through
    match_batch together (a call per item, not per cell: calls cost more than lookups).
    """
    n_items, n_cols = base.shape
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
        match_batch(items[:n], cols[:n], srcs[:n], days[:n], out[:n], base, src_row, src_plane, col_grid_type,
                    win_ptr, win_ids, win_rank, win_col_lo, win_col_hi, win_grid_type, win_source, win_from, win_to,
                    rule_by_rank)  # fmt: skip
        for j in range(n):
            if out[j] >= 0:
                seen[out[j]] = True
    return seen


# -- strings in: codes and timestamps parsed straight from a joined byte buffer --------

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3


@njit
def fnv1a(buf, start, stop):
    h = np.uint64(FNV_OFFSET)
    for k in range(start, stop):
        h = (h ^ np.uint64(buf[k])) * np.uint64(FNV_PRIME)
    return h


@njit_inline
def _token_end(buf, start, sep):
    """The index of the separator (or the end) that closes the token starting at `start`."""
    stop = start
    while stop < buf.shape[0] and buf[stop] != sep:
        stop += 1
    return stop


@njit
def lookup_tokens(buf, sep, out, slots, key_blob, key_off):
    """out[j] = the code index of the j-th `sep`-separated token of `buf`, or -1 if unknown.

    `slots` is an open-addressing table (size a power of two, -1 empty) of indices into
    `key_off`, whose keys are the byte ranges key_blob[key_off[i]:key_off[i + 1]].
    Returns the number of tokens read.
    """
    mask = np.uint64(slots.shape[0] - 1)
    j = 0
    start = 0
    n = buf.shape[0]
    while start <= n and j < out.shape[0]:
        stop = _token_end(buf, start, sep)
        length = stop - start
        slot = fnv1a(buf, start, stop) & mask
        found = -1
        while True:
            idx = slots[slot]
            if idx < 0:
                break
            lo = key_off[idx]
            if key_off[idx + 1] - lo == length:
                same = True
                for k in range(length):
                    if key_blob[lo + k] != buf[start + k]:
                        same = False
                        break
                if same:
                    found = idx
                    break
            slot = (slot + np.uint64(1)) & mask
        out[j] = found
        j += 1
        start = stop + 1
    return j


@njit
def join_fields(buf, starts, stops, sep, out):
    """out = the byte ranges buf[starts[j]:stops[j]] joined by `sep`; out has exactly the room."""
    p = 0
    for j in range(starts.shape[0]):
        if j:
            out[p] = sep
            p += 1
        for k in range(starts[j], stops[j]):
            out[p] = buf[k]
            p += 1
    return out


@njit_inline
def _digits(buf, start, count):
    value = 0
    for k in range(start, start + count):
        d = buf[k] - 48
        if d < 0 or d > 9:
            return -1
        value = value * 10 + d
    return value


@njit_inline
def _days_from_civil(y, m, d):
    # Howard Hinnant's days_from_civil: proleptic Gregorian date -> days since 1970-01-01
    y = y - 1 if m <= 2 else y
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@njit_inline
def _month_days(y, m):
    if m == 2:
        return 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    return 30 if m == 4 or m == 6 or m == 9 or m == 11 else 31


@njit_inline
def _parse_local_day(buf, start, stop, zone_from, zone_offset):
    """The rule-set-zone day of one ISO 8601 timestamp, or -2**31 when it is not one.

    Accepts YYYY-MM-DD, then optionally T or space and HH:MM[:SS[.fraction]], then
    optionally Z or +HH:MM / +HHMM / +HH. No offset: the time is already local.
    `zone_from`/`zone_offset`: the zone's UTC offsets (seconds) from each instant on.
    """
    bad = -(2**31)
    if stop - start < 10 or buf[start + 4] != 45 or buf[start + 7] != 45:
        return bad
    y, m, d = _digits(buf, start, 4), _digits(buf, start + 5, 2), _digits(buf, start + 8, 2)
    if y < 1 or m < 1 or m > 12 or d < 1 or d > _month_days(y, m):
        return bad
    day = _days_from_civil(y, m, d)
    p = start + 10
    if p == stop:
        return day
    if buf[p] != 84 and buf[p] != 32 and buf[p] != 116:  # 'T', ' ', 't'
        return bad
    p += 1
    if stop - p < 5 or buf[p + 2] != 58:
        return bad
    hh, mm = _digits(buf, p, 2), _digits(buf, p + 3, 2)
    if hh < 0 or hh > 23 or mm < 0 or mm > 59:
        return bad
    ss = 0
    p += 5
    if p < stop and buf[p] == 58:
        if stop - p < 3:
            return bad
        ss = _digits(buf, p + 1, 2)
        if ss < 0 or ss > 59:
            return bad
        p += 3
        if p < stop and (buf[p] == 46 or buf[p] == 44):  # fraction: digits, ignored
            p += 1
            q = p
            while p < stop and 48 <= buf[p] <= 57:
                p += 1
            if p == q:
                return bad
    if p == stop:
        return day
    if buf[p] == 90:  # 'Z' (datetime.fromisoformat refuses a lowercase 'z': so do we)
        if p + 1 != stop:
            return bad
        offset = 0
    elif buf[p] == 43 or buf[p] == 45:  # '+', '-'
        sign = 1 if buf[p] == 43 else -1
        rest = stop - p - 1
        if rest == 2:
            oh, om = _digits(buf, p + 1, 2), 0
        elif rest == 4:
            oh, om = _digits(buf, p + 1, 2), _digits(buf, p + 3, 2)
        elif rest == 5 and buf[p + 3] == 58:
            oh, om = _digits(buf, p + 1, 2), _digits(buf, p + 4, 2)
        else:
            return bad
        if oh < 0 or om < 0 or oh > 23 or om > 59:
            return bad
        offset = sign * (oh * 3600 + om * 60)
    else:
        return bad
    utc = day * 86400 + hh * 3600 + mm * 60 + ss - offset
    if utc >= zone_from[-1] and offset == zone_offset[-1]:
        return day  # after the zone's last change, in the zone's own offset: already local
    k = np.searchsorted(zone_from, utc, side="right") - 1
    local = utc + zone_offset[max(k, 0)]
    return local // 86400


@njit
def parse_days(buf, sep, out, zone_from, zone_offset):
    """out[j] = local day of the j-th `sep`-separated timestamp in `buf`; -2**31 if malformed."""
    j = 0
    start = 0
    n = buf.shape[0]
    while start <= n and j < out.shape[0]:
        stop = _token_end(buf, start, sep)
        out[j] = _parse_local_day(buf, start, stop, zone_from, zone_offset)
        j += 1
        start = stop + 1
    return j


@njit_inline
def _status(item, col, rule, rule_is_local, col_has_local, urgent):
    """0 auto, 1 provisional, 2 manual: decide()'s status rules on encoded values."""
    if rule >= 0:
        return 2 if rule_is_local[rule] and not col_has_local[col] else 0
    return 1 if urgent[item] and col_has_local[col] else 2


@njit
def statuses(items, cols, rules, out, rule_is_local, col_has_local, urgent):
    for j in range(items.shape[0]):
        out[j] = _status(items[j], cols[j], rules[j], rule_is_local, col_has_local, urgent)
    return out


@njit
def count_cell_statuses_by_group(counts, grid_cols, grid_group, n_sources, day, rule_is_local, col_has_local, urgent,
                                 base, src_row, src_plane, col_grid_type, win_ptr, win_ids, win_rank, win_col_lo,
                                 win_col_hi, win_grid_type, win_source, win_from, win_to, rule_by_rank):  # fmt: skip
    """counts[item, grid_group[g], status] += 1 for every (item, grid_cols[g], source) cell on `day`, an item at a time.

    One group for all grids gives the coverage of `dispatch check`; a group per town, the coverage map.
    """
    n_items = base.shape[0]
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
        match_batch(items, cols, srcs, days, out, base, src_row, src_plane, col_grid_type, win_ptr, win_ids,
                    win_rank, win_col_lo, win_col_hi, win_grid_type, win_source, win_from, win_to, rule_by_rank)  # fmt: skip
        for j in range(n):
            counts[item, groups[j], _status(item, cols[j], out[j], rule_is_local, col_has_local, urgent)] += 1
    return counts
# -- the difference of two compiled rule sets, cell by cell -----------------------------


@njit
def diff_cells(rec, counts, items, pairs, srcs, day_points, class_a, class_b, rid_a, rid_b, item_same, pair_same,
               pair_weight,
               base_a, src_row_a, src_plane_a, col_grid_type_a, win_ptr_a, win_ids_a, win_rank_a, win_col_lo_a,
               win_col_hi_a, win_grid_type_a, win_source_a, win_from_a, win_to_a, rule_by_rank_a,
               base_b, src_row_b, src_plane_b, col_grid_type_b, win_ptr_b, win_ids_b, win_rank_b, win_col_lo_b,
               win_col_hi_b, win_grid_type_b, win_source_b, win_from_b, win_to_b, rule_by_rank_b):  # fmt: skip
    """The cells where two compiled rule sets (a: old, b: new) may answer differently.

    A cell is (common item k, class of common areas p, common source s, day point d);
    items, pairs and srcs are int32[n, 2]: the (old, new) index of each. Both winners
    are looked up for every cell; a cell is a candidate unless the two winners have the
    same outcome class (class_a/class_b, by rule index + 1: department, co-handlers and
    deadline as written; 0 for no rule), the item the same urgency and deadline
    (item_same[k]) and the areas the same local government (pair_same[p]): then the
    outcome is the same for sure; the caller compares candidates exactly.

    Candidates go to rec int32[cap, 6] as (k, p, s, d, old rule, new rule), coarsest
    first: s = -1 when every source answers alike, d = -1 when every day does. A cell
    with no windowed rule and no source plane in either set answers alike for every
    source and day, so it is looked up once. counts int64[2]: [records needed (more than
    cap: call again with room), cells re-decided by another rule with the same outcome
    class, weighted by pair_weight].
    """
    n_items, n_srcs, n_days = items.shape[0], srcs.shape[0], day_points.shape[0]
    blocks_a = _blocks(win_ptr_a, base_a.shape[0])
    blocks_b = _blocks(win_ptr_b, base_b.shape[0])
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
        match_batch(ia_arr[:n], ca_arr[:n], sa_arr[:n], d_arr[:n], out_a[:n], base_a, src_row_a, src_plane_a,
                    col_grid_type_a, win_ptr_a, win_ids_a, win_rank_a, win_col_lo_a, win_col_hi_a, win_grid_type_a,
                    win_source_a, win_from_a, win_to_a, rule_by_rank_a)  # fmt: skip
        match_batch(ib_arr[:n], cb_arr[:n], sb_arr[:n], d_arr[:n], out_b[:n], base_b, src_row_b, src_plane_b,
                    col_grid_type_b, win_ptr_b, win_ids_b, win_rank_b, win_col_lo_b, win_col_hi_b, win_grid_type_b,
                    win_source_b, win_from_b, win_to_b, rule_by_rank_b)  # fmt: skip
        for p in range(n_pairs):
            j0, ns, nd = start[p], ns_of[p], nd_of[p]
            uniform = True
            for j in range(j0, j0 + ns * nd):
                if out_a[j] != out_a[j0] or out_b[j] != out_b[j0]:
                    uniform = False
                    break
            if uniform:
                n_rec = _diff_record(rec, cap, n_rec, counts, k, p, -1, -1, out_a[j0], out_b[j0],
                                     n_srcs * n_days * pair_weight[p], class_a, class_b, rid_a, rid_b,
                                     item_same, pair_same)  # fmt: skip
                continue
            days_only = True  # every source answers alike on each day
            for s in range(1, ns):
                for d in range(nd):
                    j, j1 = j0 + s * nd + d, j0 + d
                    if out_a[j] != out_a[j1] or out_b[j] != out_b[j1]:
                        days_only = False
            if days_only:
                for d in range(nd):
                    n_rec = _diff_record(rec, cap, n_rec, counts, k, p, -1, d, out_a[j0 + d], out_b[j0 + d],
                                         n_srcs * pair_weight[p], class_a, class_b, rid_a, rid_b, item_same,
                                         pair_same)  # fmt: skip
                continue
            for s in range(ns):
                js = j0 + s * nd
                same_days = True
                for j in range(js, js + nd):
                    if out_a[j] != out_a[js] or out_b[j] != out_b[js]:
                        same_days = False
                        break
                if same_days:
                    n_rec = _diff_record(rec, cap, n_rec, counts, k, p, s, -1, out_a[js], out_b[js],
                                         n_days * pair_weight[p], class_a, class_b, rid_a, rid_b, item_same,
                                         pair_same)  # fmt: skip
                    continue
                for d in range(nd):
                    n_rec = _diff_record(rec, cap, n_rec, counts, k, p, s, d, out_a[js + d], out_b[js + d],
                                         pair_weight[p], class_a, class_b, rid_a, rid_b, item_same, pair_same)  # fmt: skip
    counts[0] = n_rec
    return counts


@njit_inline
def _diff_record(rec, cap, n_rec, counts, k, p, s, d, ra, rb, cells, class_a, class_b, rid_a, rid_b, item_same,
                 pair_same):  # fmt: skip
    """Write one candidate record (when there is room); count re-decided cells. Returns the new record count."""
    if class_a[ra + 1] == class_b[rb + 1] and item_same[k] and pair_same[p]:
        if rid_a[ra + 1] != rid_b[rb + 1]:
            counts[1] += cells
        return n_rec
    if n_rec < cap:
        rec[n_rec, 0], rec[n_rec, 1], rec[n_rec, 2] = k, p, s
        rec[n_rec, 3], rec[n_rec, 4], rec[n_rec, 5] = d, ra, rb
    return n_rec + 1
