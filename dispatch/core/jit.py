"""The numba flags in one place: every kernel is compiled the same way."""

from __future__ import annotations

import numba

# cache=True: a process warms from the on-disk cache instead of compiling (fast start);
# nogil: a server thread may match while another parses JSON; no fastmath: integers only.
JIT_FLAGS = {"cache": True, "nogil": True, "boundscheck": False}


def njit(fn):
    return numba.njit(**JIT_FLAGS)(fn)


def njit_inline(fn):
    """For small helpers (a digit, a date, a status): inlined into their caller's numba IR.

    Not a cure for a big helper called per case: with a dozen array arguments, inlined
    or not, it ran 8x slower than the same lines written out in the loop (see
    kernels._match_batch)."""
    return numba.njit(inline="always", **JIT_FLAGS)(fn)
