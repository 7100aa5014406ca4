"""Scan: the batch kernels, from a request's raw bytes to the pieces of its answer; no Python objects.

At 1,000 cases a request, orjson's objects and a Python loop over them cost more than
the whole dispatch (bench/http.py). scan_batch reads the common, plain form of a batch
straight from the body, looks the codes up (in tables of their own, code_records, over
the Codebooks' keys) and reads the report times, in one pass; kernels.match_batch then
matches, template_ids finds each case's rendered template, write_heads writes each
answer's id and due time. Anything outside the plain form makes scan_batch give up on
the whole body (SCAN_GIVE_UP): the general path (orjson, intake, Engine.answer) then
answers, so the kernels only ever have to be right about what they accept. Kernels
for the wire format live here, beside the API, not in dispatch/core/kernels.py (the core's).

The plain form: {"cases": [ {...}, ... ]} with JSON whitespace anywhere; each case an
object whose members are exactly some of id, event, area, source, reported_at (no other
member, none twice, id/event/area/source present), every value a string of printable
ASCII without escapes, reported_at also null. A case the kernel can read but not decide
by itself (an unknown code, an id of the wrong length, a time in a form it does not
parse) is flagged, and Python answers that case alone, as a single request would.
"""

from __future__ import annotations

import numpy as np

from dispatch.core import kernels
from dispatch.core.jit import njit, njit_inline

SCAN_GIVE_UP = -1  # the body is not in the plain form: use the general path
SCAN_TOO_MANY = -2  # more cases than the capacity given: the general path answers 413

# flags[j]: why Python must answer case j itself
FLAG_CODE = 1  # an unknown event/area/source, or an event that is not a work item
FLAG_ID = 2  # an id of 0 or more than ID_MAX_CHARS characters
FLAG_TIME = 4  # a report time the kernel does not parse (Python may: fromisoformat reads more forms)

_KEYS = (b"id", b"event", b"area", b"source", b"reported_at")
_MIX = np.uint64(0xFF51AFD7ED558CCD)  # murmur3's finaliser constant
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / phi: Fibonacci hashing
# seconds since 1970 of 0001-01-02 and 9999-12-30: an instant outside is left to Python
_SAFE_LO, _SAFE_HI = -62135510400, 253402128000


@njit_inline
def _ws(buf, p, n):
    while p < n and (buf[p] == 32 or buf[p] == 10 or buf[p] == 13 or buf[p] == 9):
        p += 1
    return p


@njit_inline
def _string_end(buf, p, n):
    """Index of the closing quote of the plain string starting at p, or -1 when it is not plain."""
    while p < n:
        c = buf[p]
        if c == 34:
            return p
        if c < 32 or c >= 127 or c == 92:  # control, non-ASCII, backslash
            return -1
        p += 1
    return -1


CODE_BYTES = 16  # the longest code the kernel's tables hold (Daxing's longest, a unit grid, has 15)
_EMPTY = np.uint64(0xFFFFFFFFFFFFFFFF)


@njit_inline
def _word(buf, lo, hi):
    """buf[lo:hi] (at most 8 bytes) as a little-endian integer."""
    w = np.uint64(0)
    for q in range(hi - lo):
        w |= np.uint64(buf[lo + q]) << np.uint64(8 * q)
    return w


@njit_inline
def _slot(w0, w1, length, bits):
    h = (w0 * _MIX) ^ (w1 * _GOLDEN) ^ np.uint64(length)
    h ^= h >> np.uint64(29)
    h *= _MIX
    return np.int64(h >> np.uint64(64 - bits))


@njit
def code_records(key_blob, key_off, bits):
    """A Codebook's keys as an open-addressing table of 2**bits 32-byte records: the key's
    two 8-byte words, then (length << 32 | key index), empty all ones. One cache line a
    probe, compared a word at a time: the Codebook's own table reads three places a probe.
    Every key must have at most CODE_BYTES bytes (the caller checks)."""
    records = np.full((1 << bits, 4), _EMPTY, dtype=np.uint64)
    mask = (1 << bits) - 1
    for i in range(key_off.shape[0] - 1):
        lo, hi = key_off[i], key_off[i + 1]
        w0 = _word(key_blob, lo, min(lo + 8, hi))
        w1 = _word(key_blob, lo + 8, hi) if hi - lo > 8 else np.uint64(0)
        slot = _slot(w0, w1, hi - lo, bits)
        while records[slot, 2] != _EMPTY:
            slot = (slot + 1) & mask
        records[slot, 0], records[slot, 1] = w0, w1
        records[slot, 2] = (np.uint64(hi - lo) << np.uint64(32)) | np.uint64(i)
    return records


@njit_inline
def _probe(buf, lo, hi, records, bits):
    """The Codebook key index of buf[lo:hi] in a table of code_records, or -1."""
    length = hi - lo
    if length > CODE_BYTES:
        return -1
    w0 = _word(buf, lo, min(lo + 8, hi))
    w1 = _word(buf, lo + 8, hi) if length > 8 else np.uint64(0)
    mask = records.shape[0] - 1
    slot = _slot(w0, w1, length, bits)
    want = np.uint64(length) << np.uint64(32)
    while True:
        meta = records[slot, 2]
        if meta == _EMPTY:
            return -1
        if records[slot, 0] == w0 and records[slot, 1] == w1 and (meta & np.uint64(0xFFFFFFFF00000000)) == want:
            return np.int64(meta & np.uint64(0xFFFFFFFF))
        slot = (slot + 1) & mask


@njit_inline
def _two(buf, p):
    a, b = buf[p] - 48, buf[p + 1] - 48
    if a < 0 or a > 9 or b < 0 or b > 9:
        return -1
    return a * 10 + b


@njit_inline
def _parse_time(buf, lo, hi, out):
    """out = (local wall seconds since 1970, offset seconds, has offset) of the ISO 8601 time buf[lo:hi].

    Returns False for a form it does not read: YYYY-MM-DD, T (or t or space), HH:MM[:SS],
    then Z, +HH:MM, +HHMM, +HH or nothing. No fraction, no date alone: Python
    reads those. Every form read here, datetime.fromisoformat reads to the same moment.
    """
    n = hi - lo
    if n < 16 or buf[lo + 4] != 45 or buf[lo + 7] != 45:
        return False
    y = _two(buf, lo) * 100 + _two(buf, lo + 2)
    if _two(buf, lo) < 0 or _two(buf, lo + 2) < 0:
        return False
    mo, d = _two(buf, lo + 5), _two(buf, lo + 8)
    if y < 1 or mo < 1 or mo > 12 or d < 1 or d > kernels._month_days(y, mo):
        return False
    sep = buf[lo + 10]
    if sep != 84 and sep != 116 and sep != 32:
        return False
    hh, mm = _two(buf, lo + 11), _two(buf, lo + 14)
    if buf[lo + 13] != 58 or hh < 0 or hh > 23 or mm < 0 or mm > 59:
        return False
    p = lo + 16
    ss = 0
    if p < hi and buf[p] == 58:
        if hi - p < 3:
            return False
        ss = _two(buf, p + 1)
        if ss < 0 or ss > 59:
            return False
        p += 3
    offset = 0
    has_offset = 1
    rest = hi - p
    if rest == 0:
        has_offset = 0
    elif rest == 1 and buf[p] == 90:  # "Z"; Python 3.11 refuses a lowercase "z"
        offset = 0
    elif buf[p] == 43 or buf[p] == 45:
        if rest == 3:
            oh, om = _two(buf, p + 1), 0
        elif rest == 5:
            oh, om = _two(buf, p + 1), _two(buf, p + 3)
        elif rest == 6 and buf[p + 3] == 58:
            oh, om = _two(buf, p + 1), _two(buf, p + 4)
        else:
            return False
        if oh < 0 or om < 0 or oh > 23 or om > 59:
            return False
        offset = (oh * 3600 + om * 60) * (1 if buf[p] == 43 else -1)
    else:
        return False
    out[0] = kernels._days_from_civil(y, mo, d) * 86400 + hh * 3600 + mm * 60 + ss
    out[1] = offset
    out[2] = has_offset
    return True


@njit
def template_ids(keys, flags, slot_keys, slot_ids, out):
    """out[j] = the id of template keys[j] (-1: not built yet; flagged cases: -1)."""
    for j in range(keys.shape[0]):
        out[j] = template_id(slot_keys, slot_ids, keys[j]) if flags[j] == 0 else -1
    return out


@njit_inline
def template_id(slot_keys, slot_ids, key):
    """The id stored for template `key` in an open-addressing table (linear probing), or -1.

    The slot of a key is the top bits of key * 2**64/phi (Fibonacci hashing), as slot_of() says.
    """
    mask = slot_keys.shape[0] - 1
    slot = slot_of(key, slot_keys.shape[0])
    while True:
        k = slot_keys[slot]
        if k == key:
            return slot_ids[slot]
        if k < 0:
            return -1
        slot = (slot + 1) & mask


@njit
def slot_of(key, size):
    bits = 0
    while (1 << bits) < size:
        bits += 1
    return np.int64((np.uint64(key) * _GOLDEN) >> np.uint64(64 - bits)) if bits else 0


@njit
def scan_batch(body, now_wall, zone_from, zone_offset, steady_from, steady_offset,
               ev_records, ev_bits, ev_value, ar_records, ar_bits, ar_value, src_records, src_bits, src_value, id_max,
               id_lo, id_hi, area_key, items, cols, srcs, days, wall, offset, naive, flags, field_lo, field_hi):  # fmt: skip
    """Scan a batch body; the number of cases, or SCAN_GIVE_UP / SCAN_TOO_MANY.

    Per case j (arrays of the capacity's length): id_lo/id_hi the id's bytes; area_key
    the area's Codebook key (for its path); items/cols/srcs/days the case encoded for
    kernels.match_batch (all 0 when flagged); wall/offset/naive the report time (naive:
    read in the rule set's zone, offset then the zone's); flags why Python must answer
    it (0: the kernel read it all); field_lo/field_hi[j, f] the bytes of member f (order
    of _KEYS; -1 absent or null).
    """
    n = body.shape[0]
    cap = id_lo.shape[0]
    t = np.empty(3, dtype=np.int64)
    p = _ws(body, 0, n)
    if p >= n or body[p] != 123:
        return -1
    p = _ws(body, p + 1, n)
    # "cases"
    if p + 7 > n or body[p] != 34 or body[p + 6] != 34:
        return -1
    if not (body[p + 1] == 99 and body[p + 2] == 97 and body[p + 3] == 115 and body[p + 4] == 101
            and body[p + 5] == 115):  # fmt: skip
        return -1
    p = _ws(body, p + 7, n)
    if p >= n or body[p] != 58:
        return -1
    p = _ws(body, p + 1, n)
    if p >= n or body[p] != 91:
        return -1
    p = _ws(body, p + 1, n)
    j = 0
    if p < n and body[p] == 93:
        p += 1
    else:
        while True:
            if j >= cap:
                return -2
            if p >= n or body[p] != 123:
                return -1
            p = _ws(body, p + 1, n)
            for f in range(5):
                field_lo[j, f] = -1
                field_hi[j, f] = -1
            seen = 0
            while True:
                if p >= n or body[p] != 34:
                    return -1
                end = _string_end(body, p + 1, n)
                if end < 0:
                    return -1
                klen = end - p - 1
                k = p + 1
                f = -1
                if klen == 2 and body[k] == 105 and body[k + 1] == 100:
                    f = 0
                elif klen == 5 and body[k] == 101 and body[k + 1] == 118 and body[k + 4] == 116:
                    if body[k + 2] == 101 and body[k + 3] == 110:
                        f = 1
                elif klen == 4 and body[k] == 97 and body[k + 1] == 114 and body[k + 2] == 101 and body[k + 3] == 97:
                    f = 2
                elif klen == 6 and body[k] == 115 and body[k + 1] == 111 and body[k + 2] == 117:
                    if body[k + 3] == 114 and body[k + 4] == 99 and body[k + 5] == 101:
                        f = 3
                elif klen == 11 and body[k] == 114 and body[k + 8] == 95 and body[k + 10] == 116:
                    ok = True
                    word = (114, 101, 112, 111, 114, 116, 101, 100, 95, 97, 116)  # reported_at
                    for q in range(11):
                        if body[k + q] != word[q]:
                            ok = False
                    if ok:
                        f = 4
                if f < 0 or (seen >> f) & 1:
                    return -1  # another member, or one twice: the general path decides
                seen |= 1 << f
                p = _ws(body, end + 1, n)
                if p >= n or body[p] != 58:
                    return -1
                p = _ws(body, p + 1, n)
                if p < n and body[p] == 34:
                    vend = _string_end(body, p + 1, n)
                    if vend < 0:
                        return -1
                    field_lo[j, f] = p + 1
                    field_hi[j, f] = vend
                    p = vend + 1
                elif f == 4 and p + 4 <= n and body[p] == 110 and body[p + 1] == 117 and body[p + 2] == 108 \
                        and body[p + 3] == 108:  # fmt: skip
                    p += 4
                else:
                    return -1
                p = _ws(body, p, n)
                if p < n and body[p] == 44:
                    p = _ws(body, p + 1, n)
                    continue
                if p < n and body[p] == 125:
                    p += 1
                    break
                return -1
            if seen & 15 != 15:
                return -1  # id, event, area or source missing: the general path names them
            # -- the case: codes, time, rule ------------------------------------------
            flag = 0
            lo, hi = field_lo[j, 0], field_hi[j, 0]
            id_lo[j], id_hi[j] = lo, hi
            if hi - lo < 1 or hi - lo > id_max:
                flag |= 2
            ek = _probe(body, field_lo[j, 1], field_hi[j, 1], ev_records, ev_bits)
            ak = _probe(body, field_lo[j, 2], field_hi[j, 2], ar_records, ar_bits)
            sk = _probe(body, field_lo[j, 3], field_hi[j, 3], src_records, src_bits)
            if ek < 0 or ak < 0 or sk < 0:
                flag |= 1
            area_key[j] = ak
            if field_lo[j, 4] < 0:
                t[0], t[1], t[2] = now_wall, 0, 0
            elif not _parse_time(body, field_lo[j, 4], field_hi[j, 4], t):
                flag |= 4
            if flag == 0:
                if t[2] == 0:
                    local = t[0]
                    offset[j] = steady_offset
                    naive[j] = 1
                    if local - steady_offset < steady_from:
                        flag |= 4  # before the zone's last change of offset: Python works it out
                else:
                    utc = t[0] - t[1]
                    k = np.searchsorted(zone_from, utc, side="right") - 1
                    local = utc + zone_offset[max(k, 0)]
                    offset[j] = t[1]
                    naive[j] = 0
                    if not (_SAFE_LO <= utc < _SAFE_HI and _SAFE_LO <= local < _SAFE_HI):
                        flag |= 4  # the instant near year 1 or 9999: Python's reading (or refusal) decides
                wall[j] = t[0]
                items[j], cols[j], srcs[j], days[j] = ev_value[ek], ar_value[ak], src_value[sk], local // 86400
            else:
                items[j], cols[j], srcs[j], days[j] = 0, 0, 0, 0
            flags[j] = flag
            j += 1
            p = _ws(body, p, n)
            if p < n and body[p] == 44:
                p = _ws(body, p + 1, n)
                continue
            if p < n and body[p] == 93:
                p += 1
                break
            return -1
    p = _ws(body, p, n)
    if p >= n or body[p] != 125:
        return -1
    p = _ws(body, p + 1, n)
    if p != n:
        return -1
    return j


@njit_inline
def _put_two(out, j, p, v):
    out[j, p] = 48 + v // 10
    out[j, p + 1] = 48 + v % 10


_ID_OPEN = np.frombuffer(b'{"id":"', dtype=np.uint8)
_DUE_OPEN = np.frombuffer(b'","deadline":{"due":"', dtype=np.uint8)


@njit
def write_heads(body, id_lo, id_hi, wall, offset, delta, steady_from, steady_offset, naive, flags, out):
    """out[j] = the head of case j's answer: {"id":"ID" then, when it has a due time,
    ,"deadline":{"due":"YYYY-MM-DDTHH:MM:SS+HH:MM" (see render.py); zero-padded rows.

    delta[j] < 0: no due time. The due time keeps the report time's offset (a naive time:
    the zone's steady offset). A due time that Python alone works out (past the year
    9999, or before the zone's last change of offset) sets flags[j] |= FLAG_TIME.
    """
    for j in range(id_lo.shape[0]):
        if flags[j] != 0:
            continue
        for k in range(7):
            out[j, k] = _ID_OPEN[k]
        p = 7
        for k in range(id_lo[j], id_hi[j]):
            out[j, p] = body[k]
            p += 1
        if delta[j] < 0:
            out[j, p] = 34
            continue
        due = wall[j] + delta[j]
        days = due // 86400
        secs = due - days * 86400
        # Howard Hinnant's civil_from_days
        z = days + 719468
        era = (z if z >= 0 else z - 146096) // 146097
        doe = z - era * 146097
        yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
        y = yoe + era * 400
        doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
        mp = (5 * doy + 2) // 153
        d = doy - (153 * mp + 2) // 5 + 1
        m = mp + 3 if mp < 10 else mp - 9
        if m <= 2:
            y += 1
        if y > 9999 or (naive[j] == 1 and due - steady_offset < steady_from):
            flags[j] |= FLAG_TIME
            continue
        for k in range(21):
            out[j, p + k] = _DUE_OPEN[k]
        p += 21
        off = offset[j]
        _put_two(out, j, p, y // 100)
        _put_two(out, j, p + 2, y % 100)
        out[j, p + 4] = 45
        _put_two(out, j, p + 5, m)
        out[j, p + 7] = 45
        _put_two(out, j, p + 8, d)
        out[j, p + 10] = 84
        _put_two(out, j, p + 11, secs // 3600)
        out[j, p + 13] = 58
        _put_two(out, j, p + 14, (secs // 60) % 60)
        out[j, p + 16] = 58
        _put_two(out, j, p + 17, secs % 60)
        out[j, p + 19] = 43 if off >= 0 else 45
        a = off if off >= 0 else -off
        _put_two(out, j, p + 20, a // 3600)
        out[j, p + 22] = 58
        _put_two(out, j, p + 23, (a // 60) % 60)
        out[j, p + 25] = 34


HEAD_EXTRA = 7 + 21 + 26  # a head's bytes besides the id
