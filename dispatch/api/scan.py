"""Scan: JSON tokenising of a batch body, straight from its raw bytes; no Python objects.

At 1,000 cases a request, orjson's objects and a Python loop over them cost more than
the whole dispatch (bench/http.py). scan_batch reads the common, plain form of a batch
and gives the byte span of each case's members; the core encodes them
(Dispatcher.read_spans: its code tables and timestamp parser) and matches; heads.py
writes each answer's id and due time. Anything outside the plain form makes scan_batch
give up on the whole body (SCAN_GIVE_UP): the general path (orjson, intake,
Engine.answer) then answers, so the kernels only ever have to be right about what they
accept.

The plain form: {"cases": [ {...}, ... ]} with JSON whitespace anywhere; each case an
object whose members are exactly some of id, event, area, source, reported_at (no other
member, none twice, id/event/area/source present), every value a string of printable
ASCII without escapes, reported_at also null. A case the kernels can read but not decide
by themselves (an unknown code, an id of the wrong length, a time in a form they do not
read whole) is flagged, and Python answers that case alone, as a single request would.
"""

from __future__ import annotations

from dispatch.core.dispatcher import SPAN_FIELDS
from dispatch.core.jit import njit, njit_inline

SCAN_GIVE_UP = -1  # the body is not in the plain form: use the general path
SCAN_TOO_MANY = -2  # more cases than the capacity given: the general path answers 413
FLAG_ID = 2  # flags[j]: an id of 0 or more than ID_MAX_CHARS characters (the core's FLAG_* use bits 1 and 4)

# the bytes the tokeniser compares, as tuples of ints (what numba reads fastest as constants)
_CASES, _NULL = tuple(b"cases"), tuple(b"null")
_ID, _EVENT, _AREA, _SOURCE, _REPORTED_AT = (tuple(name.encode()) for name in SPAN_FIELDS)
_QUOTE, _COLON, _COMMA, _LBRACE, _RBRACE, _LBRACKET, _RBRACKET = b'":,{}[]'


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


@njit_inline
def _is(buf, lo, hi, word):
    """buf[lo:hi] equals the bytes of `word` (a tuple of ints)."""
    if hi - lo != len(word):
        return False
    for q in range(len(word)):
        if buf[lo + q] != word[q]:
            return False
    return True


@njit_inline
def _member(buf, lo, hi):
    """The SPAN_FIELDS index of the member name buf[lo:hi], or -1."""
    if _is(buf, lo, hi, _ID):
        return 0
    if _is(buf, lo, hi, _EVENT):
        return 1
    if _is(buf, lo, hi, _AREA):
        return 2
    if _is(buf, lo, hi, _SOURCE):
        return 3
    if _is(buf, lo, hi, _REPORTED_AT):
        return 4
    return -1


@njit
def scan_batch(body, id_max, field_lo, field_hi, flags):
    """Tokenise a batch body; the number of cases, or SCAN_GIVE_UP / SCAN_TOO_MANY.

    Per case j (arrays of the capacity's length): field_lo/field_hi[j, f] the bytes of
    member f (order of SPAN_FIELDS, the value without its quotes; -1 absent or null);
    flags[j] FLAG_ID for an id of 0 or more than `id_max` bytes, else 0.
    """
    n = body.shape[0]
    cap = flags.shape[0]
    p = _ws(body, 0, n)
    if p >= n or body[p] != _LBRACE:
        return SCAN_GIVE_UP
    p = _ws(body, p + 1, n)
    if p >= n or body[p] != _QUOTE:
        return SCAN_GIVE_UP
    end = _string_end(body, p + 1, n)
    if end < 0 or not _is(body, p + 1, end, _CASES):
        return SCAN_GIVE_UP
    p = _ws(body, end + 1, n)
    if p >= n or body[p] != _COLON:
        return SCAN_GIVE_UP
    p = _ws(body, p + 1, n)
    if p >= n or body[p] != _LBRACKET:
        return SCAN_GIVE_UP
    p = _ws(body, p + 1, n)
    j = 0
    if p < n and body[p] == _RBRACKET:
        p += 1
    else:
        while True:
            if j >= cap:
                return SCAN_TOO_MANY
            if p >= n or body[p] != _LBRACE:
                return SCAN_GIVE_UP
            p = _ws(body, p + 1, n)
            for f in range(5):
                field_lo[j, f] = -1
                field_hi[j, f] = -1
            seen = 0
            while True:
                if p >= n or body[p] != _QUOTE:
                    return SCAN_GIVE_UP
                end = _string_end(body, p + 1, n)
                if end < 0:
                    return SCAN_GIVE_UP
                f = _member(body, p + 1, end)
                if f < 0 or (seen >> f) & 1:
                    return SCAN_GIVE_UP  # another member, or one twice: the general path decides
                seen |= 1 << f
                p = _ws(body, end + 1, n)
                if p >= n or body[p] != _COLON:
                    return SCAN_GIVE_UP
                p = _ws(body, p + 1, n)
                if p < n and body[p] == _QUOTE:
                    vend = _string_end(body, p + 1, n)
                    if vend < 0:
                        return SCAN_GIVE_UP
                    field_lo[j, f] = p + 1
                    field_hi[j, f] = vend
                    p = vend + 1
                elif f == 4 and _is(body, p, min(p + 4, n), _NULL):
                    p += 4
                else:
                    return SCAN_GIVE_UP
                p = _ws(body, p, n)
                if p < n and body[p] == _COMMA:
                    p = _ws(body, p + 1, n)
                    continue
                if p < n and body[p] == _RBRACE:
                    p += 1
                    break
                return SCAN_GIVE_UP
            if seen & 15 != 15:
                return SCAN_GIVE_UP  # id, event, area or source missing: the general path names them
            id_bytes = field_hi[j, 0] - field_lo[j, 0]
            flags[j] = FLAG_ID if id_bytes < 1 or id_bytes > id_max else 0
            j += 1
            p = _ws(body, p, n)
            if p < n and body[p] == _COMMA:
                p = _ws(body, p + 1, n)
                continue
            if p < n and body[p] == _RBRACKET:
                p += 1
                break
            return SCAN_GIVE_UP
    p = _ws(body, p, n)
    if p >= n or body[p] != _RBRACE:
        return SCAN_GIVE_UP
    p = _ws(body, p + 1, n)
    if p != n:
        return SCAN_GIVE_UP
    return j
