"""Heads: the first piece of each answer in a batch, in numba: the case's id and due time.

See render.py for the layout of an answer and Responder.batch_from_body for how the pieces join.
"""

from __future__ import annotations

import numpy as np

from dispatch.core.clock import civil_from_days
from dispatch.core.jit import njit, njit_inline
from dispatch.core.worktime import NO_DUE


@njit_inline
def _put_two(out, j, p, v):
    out[j, p] = 48 + v // 10
    out[j, p + 1] = 48 + v % 10


_ID_OPEN = np.frombuffer(b'{"id":"', dtype=np.uint8)
_DUE_OPEN = np.frombuffer(b'","deadline":{"due":"', dtype=np.uint8)
_NOT_PROVISIONAL = np.frombuffer(b'","provisional":false', dtype=np.uint8)
_PROVISIONAL = np.frombuffer(b'","provisional":true', dtype=np.uint8)


@njit
def write_heads(body, id_lo, id_hi, due, offset, provisional, flags, out):
    """out[j] = the head of case j's answer: {"id":"ID" then, when it has a due time,
    ,"deadline":{"due":"YYYY-MM-DDTHH:MM:SS+HH:MM","provisional":false (see render.py);
    zero-padded rows. due[j] == NO_DUE: no due time; a due time is UTC seconds, written
    in offset[j] (whole minutes: the kernel's span lies after 1970)."""
    for j in range(id_lo.shape[0]):
        if flags[j] != 0:
            continue
        for k in range(7):
            out[j, k] = _ID_OPEN[k]
        p = 7
        for k in range(id_lo[j], id_hi[j]):
            out[j, p] = body[k]
            p += 1
        if due[j] == NO_DUE:
            out[j, p] = 34
            continue
        off = offset[j]
        wall = due[j] + off
        days = wall // 86400
        secs = wall - days * 86400
        y, m, d = civil_from_days(days)
        for k in range(21):
            out[j, p + k] = _DUE_OPEN[k]
        p += 21
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
        p += 25
        if provisional[j]:
            for k in range(_PROVISIONAL.shape[0]):
                out[j, p + k] = _PROVISIONAL[k]
        else:
            for k in range(_NOT_PROVISIONAL.shape[0]):
                out[j, p + k] = _NOT_PROVISIONAL[k]


HEAD_EXTRA = 7 + 21 + 25 + 21  # a head's bytes besides the id
