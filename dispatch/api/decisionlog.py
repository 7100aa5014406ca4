"""Decision log: one JSON line per decision, written off the hot path, so that a case's answer can be found and re-run.

A request hands its body and its answer to a bounded queue (a few hundred nanoseconds);
a writer thread splits batches into their cases, writes the lines in batches, rotates
files and posts to HTTP with retries. When the queue is full the request's decisions
are dropped and counted (`dispatch_decision_log_dropped_total`): logging never blocks a
dispatch. A line:

    {"decision_id":"d-5f0c2a1e-17","time":"2026-12-07T08:00:00.123+00:00","request_id":"...",
     "caller":"12345-hotline","ruleset":"1a007c43447b78d4","latency_ms":0.41,"index":null,
     "case":{...as received...},"answer":{...as answered: a decision or {"id","error"}...}}

`index` is the case's place in its batch (null for a single case). Single cases go to
the file as they came, without being parsed again; a body written over several lines is
made one line first.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import os
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson

log = logging.getLogger("dispatch.api")

QUEUE_REQUESTS = 10_000  # requests waiting for the writer; more are dropped (and counted)
BATCH_LINES = 5_000  # lines written (or posted) together
WRITE_PAUSE = 0.05  # seconds the writer waits between drains of the queue
ROTATE_BYTES = 100 * 2**20  # a file is rotated past this size, keeping ROTATE_KEEP old ones
ROTATE_KEEP = 5


class DecisionLog:
    """The queue and its writer thread, for one worker; `record` is what a request calls."""

    def __init__(self, target: str, sink: Callable[[list[bytes]], None] | None = None):
        self.target = target
        self.dropped = 0  # decisions dropped because the queue was full (or the sink failed for good)
        self.written = 0
        # a deque, not a queue.Queue: an append is one atomic operation under the GIL, no lock and no
        # wake-up on the hot path; the writer drains it every WRITE_PAUSE seconds
        self._queue: collections.deque = collections.deque()
        self._stop = threading.Event()
        self._second, self._second_text = -1, b""
        self._prefix = f"d-{uuid.uuid4().hex[:8]}-"
        self._ids = itertools.count()
        self._sink = sink or _sink_for(target)
        self._thread = threading.Thread(target=self._run, name="dispatch-decision-log", daemon=True)
        self._thread.start()

    def record(
        self,
        body: bytes,
        answer: bytes,
        batch: bool,
        version: str,
        seconds: float,
        request_id: str | None,
        caller: str | None,
    ) -> None:
        """Queue one answered request: its body and answer as sent. Never blocks."""
        if len(self._queue) >= QUEUE_REQUESTS:
            self.dropped += _count(answer, batch)
            return
        self._queue.append((body, answer, batch, version, seconds, request_id, caller, time.time()))

    def close(self, timeout: float = 10) -> None:
        """Write what is queued, then stop the writer."""
        self._stop.set()
        self._thread.join(timeout)

    # -- the writer thread ------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(WRITE_PAUSE)
            pending: list[bytes] = []
            while self._queue and len(pending) < BATCH_LINES:
                pending.extend(self._lines(*self._queue.popleft()))
            if pending:
                try:
                    self._sink(pending)
                    self.written += len(pending)
                except Exception:  # the sink retried already: count the loss and go on
                    log.exception("decision log %s: %d decisions lost", self.target, len(pending))
                    self.dropped += len(pending)
                if self._queue:
                    continue  # more than a batch waiting: no pause
            if stopping and not self._queue:
                return

    def _time(self, at: float) -> bytes:
        """The ISO 8601 time of `at` to the millisecond, in UTC: formatted once a second, then filled in."""
        second = int(at)
        if second != self._second:
            self._second = second
            self._second_text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S").encode()
        return b'"%s.%03d+00:00"' % (self._second_text, int((at - second) * 1000))

    def _lines(self, body, answer, batch, version, seconds, request_id, caller, at) -> list[bytes]:
        head = (
            b',"time":'
            + orjson.dumps(datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds"))
            + b',"request_id":'
            + orjson.dumps(request_id)
            + b',"caller":'
            + orjson.dumps(caller)
            + b',"ruleset":'
            + orjson.dumps(version)
            + b',"latency_ms":'
            + orjson.dumps(round(seconds * 1000, 3))
        )
        if not batch:
            if b"\n" in body or b"\r" in body:
                body = orjson.dumps(orjson.loads(body))
            return [self._line(head, b"null", body, answer)]
        cases = orjson.loads(body)["cases"]
        results = orjson.loads(answer)["results"]
        return [
            self._line(head, str(j).encode(), orjson.dumps(case), orjson.dumps(result))
            for j, (case, result) in enumerate(zip(cases, results, strict=True))
        ]

    def _line(self, head: bytes, index: bytes, case: bytes, answer: bytes) -> bytes:
        decision_id = orjson.dumps(self._prefix + str(next(self._ids)))
        return (
            b'{"decision_id":'
            + decision_id
            + head
            + b',"index":'
            + index
            + b',"case":'
            + case
            + b',"answer":'
            + answer
            + b"}\n"
        )


def _count(answer: bytes, batch: bool) -> int:
    return answer.count(b'{"id":') if batch else 1


def _sink_for(target: str) -> Callable[[list[bytes]], None]:
    if target == "stdout":
        return _write_stdout
    if target.startswith(("http://", "https://")):
        return _Poster(target)
    return _FileSink(Path(target))


def _write_stdout(lines: list[bytes]) -> None:
    sys.stdout.buffer.write(b"".join(lines))
    sys.stdout.buffer.flush()


class _FileSink:
    """Appends to a file; past ROTATE_BYTES it becomes FILE.1 (FILE.1 becomes FILE.2, ...)."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "ab")  # noqa: SIM115 (the writer thread owns it for the process's life)

    def __call__(self, lines: list[bytes]) -> None:
        self._file.write(b"".join(lines))
        self._file.flush()
        if self._file.tell() > ROTATE_BYTES:
            self._rotate()

    def _rotate(self) -> None:
        self._file.close()
        for k in range(ROTATE_KEEP - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{k}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{k + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        self._file = open(self.path, "ab")  # noqa: SIM115


class _Poster:
    """POSTs lines as application/x-ndjson; retries with jittered exponential backoff, then gives up."""

    def __init__(self, url: str, tries: int = 5):
        self.url = url
        self.tries = tries

    def __call__(self, lines: list[bytes]) -> None:
        data = b"".join(lines)
        for attempt in range(self.tries):
            request = urllib.request.Request(self.url, data=data, headers={"content-type": "application/x-ndjson"})
            try:
                with urllib.request.urlopen(request, timeout=10) as r:
                    if r.status < 300:
                        return
            except OSError as err:
                log.warning("decision log %s: %s (try %d of %d)", self.url, err, attempt + 1, self.tries)
            time.sleep(min(30.0, 0.5 * 2**attempt) * (0.5 + _jitter()))
        raise OSError(f"{self.url}: {self.tries} tries failed")


def _jitter() -> float:
    with contextlib.suppress(Exception):
        return int.from_bytes(os.urandom(2), "big") / 65535
    return 0.5
