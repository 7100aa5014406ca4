"""Scan: JSON tokenising of a batch body, straight from its raw bytes; no Python objects.

At 1,000 cases a request, orjson's objects and a Python loop over them cost more than
the whole dispatch (bench/http.py). scan_batch reads the common, plain form of a batch
and gives the byte span of each case's members; the core encodes them
(Dispatcher.read_spans: its code tables and timestamp parser) and matches; heads.py
writes each answer's id and due time. Anything outside the plain form makes scan_batch
give up on the whole body (SCAN_GIVE_UP): the general path (orjson, intake,
Responder.answer) then answers, so the kernels only ever have to be right about what they
accept.

The plain form: {"cases": [ {...}, ... ]} with JSON whitespace anywhere; a case in it is
an object whose members are exactly some of id, event, area, source, reported_at, location
(no other member, none twice, id/event/source and area or location present), every value a
string of printable ASCII without escapes, reported_at also null, and location an object
{"longitude": number, "latitude": number, "crs": string} (crs optional; the core reads
the numbers, and leaves to Python those it cannot read exactly). A member not in that form (a
missing field, another type, another member, escapes, not an object at all) is skipped
over and flagged with its bytes, and so is a case the kernels can read but not decide
by themselves (an unknown code, an id of the wrong length, a time in a form they do not
read whole): Python answers such a case alone, as a single request would, so one bad
case never sends the whole batch down the general path. Only a body that is not a
{"cases": [...]} document (or not JSON where the scan must read it) gives up whole.
"""

from __future__ import annotations

from dispatch.core.codebook import bytes_equal
from dispatch.core.dispatcher import LOCATION_FIELDS, SPAN_FIELDS
from dispatch.core.jit import njit, njit_inline

SCAN_GIVE_UP = -1  # the body is not in the plain form: use the general path
SCAN_TOO_MANY = -2  # more cases than the capacity given: the general path answers 413
FLAG_ID = 2  # flags[j]: an id of 0 or more than ID_MAX_CHARS characters (the core's FLAG_* use bits 1 and 4)
FLAG_SHAPE = 8  # flags[j]: the member is not a case in the plain form: Python reads its bytes

# the bytes the tokeniser compares, as tuples of ints (what numba reads fastest as constants)
_CASES, _NULL = tuple(b"cases"), tuple(b"null")
_ID, _EVENT, _AREA, _SOURCE, _REPORTED_AT = (tuple(name.encode()) for name in SPAN_FIELDS)
_LOCATION = tuple(b"location")
_LONGITUDE, _LATITUDE, _CRS = (tuple(name.encode()) for name in LOCATION_FIELDS)
_LOC = len(SPAN_FIELDS)  # the member index of `location`; its members' spans go to columns _LOC, _LOC + 1, _LOC + 2
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
def _member(buf, lo, hi):
    """The SPAN_FIELDS index of the member name buf[lo:hi], or -1."""
    if bytes_equal(buf, lo, hi, _ID):
        return 0
    if bytes_equal(buf, lo, hi, _EVENT):
        return 1
    if bytes_equal(buf, lo, hi, _AREA):
        return 2
    if bytes_equal(buf, lo, hi, _SOURCE):
        return 3
    if bytes_equal(buf, lo, hi, _REPORTED_AT):
        return 4
    if bytes_equal(buf, lo, hi, _LOCATION):
        return _LOC
    return -1


@njit_inline
def _location_member(buf, lo, hi):
    """0, 1, 2 for the `location` members longitude, latitude, crs; else -1."""
    if bytes_equal(buf, lo, hi, _LONGITUDE):
        return 0
    if bytes_equal(buf, lo, hi, _LATITUDE):
        return 1
    if bytes_equal(buf, lo, hi, _CRS):
        return 2
    return -1


@njit_inline
def _skip_string(buf, p, n):
    """Index of the closing quote of the JSON string whose content starts at p (escapes allowed), or -1."""
    while p < n:
        c = buf[p]
        if c == 34:
            return p
        if c == 92:
            p += 1
        elif c < 32:
            return -1
        p += 1
    return -1


@njit
def _skip_value(buf, p, n):
    """The index just past the JSON value starting at p, or -1 where it cannot be one (orjson decides later)."""
    if p >= n:
        return -1
    c = buf[p]
    if c == _QUOTE:
        end = _skip_string(buf, p + 1, n)
        return end + 1 if end >= 0 else -1
    if c == _LBRACE or c == _LBRACKET:
        depth = 0
        while p < n:
            c = buf[p]
            if c == _QUOTE:
                end = _skip_string(buf, p + 1, n)
                if end < 0:
                    return -1
                p = end
            elif c == _LBRACE or c == _LBRACKET:
                depth += 1
            elif c == _RBRACE or c == _RBRACKET:
                depth -= 1
                if depth == 0:
                    return p + 1
            p += 1
        return -1
    q = p  # a number or a literal: up to the next delimiter
    while q < n and buf[q] != _COMMA and buf[q] != _RBRACE and buf[q] != _RBRACKET and buf[q] > 32:
        q += 1
    return q if q > p else -1


@njit
def _location(body, p, n, field_lo, field_hi, j):
    """(end, plain) of the `location` value at p: plain when it is {"longitude": number, "latitude":
    number} with an optional "crs": plain string and nothing else (spans in columns _LOC..); end -1
    where the body cannot be JSON."""
    if p >= n or body[p] != _LBRACE:
        return _skip_value(body, p, n), False
    p = _ws(body, p + 1, n)
    if p < n and body[p] == _RBRACE:
        return p + 1, False
    plain = True
    seen = 0
    while True:
        if p >= n or body[p] != _QUOTE:
            return -1, False
        end = _string_end(body, p + 1, n)
        g = -1
        if end < 0:
            end = _skip_string(body, p + 1, n)
            if end < 0:
                return -1, False
        else:
            g = _location_member(body, p + 1, end)
        if g < 0 or (seen >> g) & 1:
            plain = False
        else:
            seen |= 1 << g
        p = _ws(body, end + 1, n)
        if p >= n or body[p] != _COLON:
            return -1, False
        p = _ws(body, p + 1, n)
        vend = _string_end(body, p + 1, n) if g == 2 and p < n and body[p] == _QUOTE else -1
        if vend >= 0:
            field_lo[j, _LOC + 2] = p + 1
            field_hi[j, _LOC + 2] = vend
            p = vend + 1
        else:
            q = _skip_value(body, p, n)
            if q < 0:
                return -1, False
            if (g == 0 or g == 1) and (body[p] == 45 or 48 <= body[p] <= 57):  # a number (the core reads it)
                field_lo[j, _LOC + g] = p
                field_hi[j, _LOC + g] = q
            else:
                plain = False
            p = q
        p = _ws(body, p, n)
        if p < n and body[p] == _COMMA:
            p = _ws(body, p + 1, n)
            continue
        if p < n and body[p] == _RBRACE:
            return p + 1, plain and seen & 3 == 3
        return -1, False


@njit
def scan_batch(body, id_max, field_lo, field_hi, flags, case_lo, case_hi):
    """Tokenise a batch body; the number of cases, or SCAN_GIVE_UP / SCAN_TOO_MANY.

    Per case j (arrays of the capacity's length): case_lo/case_hi[j] the bytes of the
    whole member; field_lo/field_hi[j, f] the bytes of member f (order of SPAN_FIELDS,
    the value without its quotes; -1 absent or null); flags[j] FLAG_SHAPE for a member
    that is not a case in the plain form (Python reads its bytes and answers it alone),
    FLAG_ID for an id of 0 or more than `id_max` bytes, else 0. A body that is not a
    {"cases": [...]} document gives up whole.
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
    if end < 0 or not bytes_equal(body, p + 1, end, _CASES):
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
            for f in range(field_lo.shape[1]):
                field_lo[j, f] = -1
                field_hi[j, f] = -1
            case_lo[j] = p
            flag = 0
            if p >= n or body[p] != _LBRACE:  # not an object: Python says what it is
                q = _skip_value(body, p, n)
                if q < 0:
                    return SCAN_GIVE_UP
                p = q
                flag = FLAG_SHAPE
            else:
                p = _ws(body, p + 1, n)
                seen = 0
                if p < n and body[p] == _RBRACE:
                    p += 1
                else:
                    while True:
                        if p >= n or body[p] != _QUOTE:
                            return SCAN_GIVE_UP
                        end = _string_end(body, p + 1, n)
                        f = -1
                        if end < 0:
                            end = _skip_string(body, p + 1, n)  # a name with escapes or not ASCII: no member of ours
                            if end < 0:
                                return SCAN_GIVE_UP
                        else:
                            f = _member(body, p + 1, end)
                        if f == _LOC and field_lo.shape[1] <= _LOC:
                            f = -1  # spans without room for a location: Python reads it
                        if f < 0 or (seen >> f) & 1:
                            flag = FLAG_SHAPE  # another member, or one twice
                        else:
                            seen |= 1 << f
                        p = _ws(body, end + 1, n)
                        if p >= n or body[p] != _COLON:
                            return SCAN_GIVE_UP
                        p = _ws(body, p + 1, n)
                        vend = _string_end(body, p + 1, n) if f != _LOC and p < n and body[p] == _QUOTE else -1
                        if f == _LOC:
                            q, plain = _location(body, p, n, field_lo, field_hi, j)
                            if q < 0:
                                return SCAN_GIVE_UP
                            if not plain:
                                flag = FLAG_SHAPE
                            p = q
                        elif vend >= 0:
                            if f >= 0:
                                field_lo[j, f] = p + 1
                                field_hi[j, f] = vend
                            p = vend + 1
                        elif f == 4 and bytes_equal(body, p, min(p + 4, n), _NULL):
                            p += 4
                        else:
                            q = _skip_value(body, p, n)  # another type, or a string not plain
                            if q < 0:
                                return SCAN_GIVE_UP
                            p = q
                            flag = FLAG_SHAPE
                        p = _ws(body, p, n)
                        if p < n and body[p] == _COMMA:
                            p = _ws(body, p + 1, n)
                            continue
                        if p < n and body[p] == _RBRACE:
                            p += 1
                            break
                        return SCAN_GIVE_UP
                if seen & 11 != 11 or seen & (4 | 1 << _LOC) == 0:
                    flag = FLAG_SHAPE  # id, event or source missing, or both area and location
            case_hi[j] = p
            if flag == 0:
                id_bytes = field_hi[j, 0] - field_lo[j, 0]
                if id_bytes < 1 or id_bytes > id_max:
                    flag = FLAG_ID
            flags[j] = flag
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
