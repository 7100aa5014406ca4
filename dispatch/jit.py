"""The numba flags in one place: every kernel is compiled the same way."""

from __future__ import annotations

import numba

# cache=True: a process warms from the on-disk cache instead of compiling (fast start);
# nogil: a server thread may match while another parses JSON; no fastmath: integers only.
JIT_FLAGS = {"cache": True, "nogil": True, "boundscheck": False}


def njit(fn):
    return numba.njit(**JIT_FLAGS)(fn)
