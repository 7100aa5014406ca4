"""Slot: the one reference to the Responder being served, and the reload that swaps it.

A reload builds a new Responder in a thread, to the side, and swaps the reference only
once it is built and warm: requests in flight keep the responder they started with, new
ones get the new one. A rule set that fails to load is refused and the old one stays.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from dispatch.api.responder import Responder, build_responder
from dispatch.api.source import source_for
from dispatch.core.errors import RuleSetError

log = logging.getLogger("dispatch.api")


class Slot:
    """Holds the served Responder (None until the first load succeeds)."""

    def __init__(self, root: str, build: Callable[[str], Responder] = build_responder, verification_key: str = ""):
        self.root = root  # where the rule set comes from: a directory, a bundle file or URL (source.py)
        self.source = source_for(root, verification_key)
        self.responder: Responder | None = None
        self.failure: RuleSetError | None = None  # why the first load failed, for /readyz
        self.refused: tuple[str, RuleSetError] | None = None  # when and why the latest load was refused
        self._build = build
        self._lock = asyncio.Lock()

    @property
    def ready(self) -> bool:
        return self.responder is not None

    async def load(self) -> Responder:
        """Build an responder from the rule-set directory and serve it; raises RuleSetError and keeps the old one.

        Loads one at a time: a second reload waits for the first and then loads again,
        so the files as they are when it was asked for are the ones served.
        """
        async with self._lock:
            try:
                directory = await asyncio.to_thread(self.source.fetch)
                responder = await asyncio.to_thread(self._build, directory)
            except RuleSetError as err:
                self.refused = (datetime.now(UTC).isoformat(timespec="seconds"), err)
                if self.responder is None:
                    self.failure = err
                for d in err.diagnostics:
                    log.error("%s", d)
                log.error("rule set %s refused: %s", self.root, err)
                raise
            gc.unfreeze()  # the old responder's objects may be collected once requests let go of them
            previous, self.responder, self.failure, self.refused = self.responder, responder, None, None
            _freeze()
            log.info(
                "serving rule set %s version %s (was %s) in %.2f s",
                self.root,
                responder.version,
                previous.version if previous else "none",
                responder.info.get("load_seconds", 0.0),
            )
            return responder


def _freeze() -> None:
    """Move every object alive now out of the cyclic collector's sight.

    A rule set is some 160,000 long-lived objects: a full collection walks them all
    (about 90 ms on Daxing), and one comes whenever enough young objects survive, which
    shows as a p99 spike. Frozen, they are never walked; reference counting still frees
    them, and a reload unfreezes first so that a replaced responder can go.
    """
    gc.collect()
    gc.freeze()
