"""The numba flags in one place: every kernel is compiled the same way."""

from __future__ import annotations

import numba

# cache=True: a process warms from the on-disk cache instead of compiling (fast start);
# nogil: a server thread may match while another parses JSON; no fastmath: integers only.
JIT_FLAGS = {"cache": True, "nogil": True, "boundscheck": False}


def njit(fn):
    return numba.njit(**JIT_FLAGS)(fn)


def njit_inline(fn):
    """For helpers called per case: inlined at numba-IR level, so that the dozen arrays they
    read are not passed as structs on every call (that cost 10x the lookup itself)."""
    return numba.njit(inline="always", **JIT_FLAGS)(fn)
