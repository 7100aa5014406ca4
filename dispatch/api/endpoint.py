"""Endpoint: the bare ASGI POST endpoints, POST /v1/dispatch (the hot path) and the request intake they share.

FastAPI with a pydantic body answers a single case at about a third of this speed
(bench/http.py measures both): here the body is read straight from ASGI, parsed once
by orjson, checked by intake.py and answered from pre-rendered JSON, with no request
object, no dependency injection and no response model. `Endpoint` is the intake
(method, readiness, media type, a body read no further than the limit) and the
problem+json answer; a subclass says what a good body gets (`answer`). The OpenAPI
entries are in app.py.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from dispatch.api.decisionlog import DecisionLog
from dispatch.api.intake import IncomingCase, batch_cases, is_batch, not_an_object, parse_body, read_case
from dispatch.api.metrics import Metrics
from dispatch.api.problems import MEDIA_TYPE, Problem, case_problem, field_error, internal_problem
from dispatch.api.responder import Responder, Tally
from dispatch.api.settings import Settings
from dispatch.api.slot import Slot
from dispatch.core.errors import CaseError

log = logging.getLogger("dispatch.api")

Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]

# on every answer: no MIME sniffing, no framing (clickjacking of /docs); app.py adds them to FastAPI's
SECURITY_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"))
JSON = b"application/json"
PROBLEM = MEDIA_TYPE.encode()
RULESET_HEADER = b"dispatch-ruleset"
_BATCH = re.compile(rb'\s*\{\s*"cases"\s*:')  # a batch body, as the scan kernel wants it to begin


class Disconnected(Exception):
    """The client went away before it sent its whole body: nobody to answer."""


def request_content(headers: list[tuple[bytes, bytes]]) -> tuple[bool, int | None]:
    """(whether the body is JSON, the declared length or None) from the request's headers, in one pass."""
    json_body, length = False, None
    for name, value in headers:
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            json_body = media == JSON or (media.startswith(b"application/") and media.endswith(b"+json"))
        elif name == b"content-length":
            length = int(value) if value.isdigit() else None
    return json_body, length


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body; Problem 413 as soon as it passes `limit` bytes."""
    message = await receive()
    if message["type"] == "http.disconnect":
        raise Disconnected
    body = message.get("body", b"")
    if len(body) > limit:  # the first message alone may pass it: do not wait for more
        raise _too_large(limit)
    if not message.get("more_body", False):
        return body
    chunks = [body]
    size = len(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _too_large(limit: int) -> Problem:
    # one wording for every endpoint: a batch too long has its own 413, which says to split it
    return Problem("request.too_large", f"the body is larger than {limit} bytes")


class Endpoint:
    """A bare ASGI endpoint for a JSON POST: the intake every such route shares, then `answer`.

    The intake answers 405, 503, 415 and 413 (a declared length over the limit before
    reading, a body read no further than the limit) as problem+json; `answer` turns a
    body within the limit into JSON bytes or raises Problem. Field errors count in the
    metrics' case errors when `counts_case_errors`.
    """

    counts_case_errors = False
    decision_log: DecisionLog | None = None  # set by the app's lifespan when DISPATCH_DECISION_LOG is

    def __init__(self, slot: Slot, settings: Settings, metrics: Metrics, name: str):
        self.slot = slot
        self.max_body = settings.max_body_bytes
        self.metrics = metrics
        self.name = name
        self.caller_header = settings.decision_log_caller_header.lower().encode()

    def answer(self, responder: Responder, body: bytes) -> bytes:
        """The JSON answer to a body within the limit; raises Problem for a bad one."""
        raise NotImplementedError

    async def answer_async(self, responder: Responder, body: bytes) -> bytes:
        """answer(), where the event loop should run it (an endpoint may move large work off the loop)."""
        return self.answer(responder, body)

    async def __call__(self, scope: dict, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        responder = self.slot.responder
        headers: list[tuple[bytes, bytes]] = []
        body = b""
        try:
            if scope["method"] != "POST":
                raise Problem(
                    "request.method_not_allowed",
                    f"{scope['method']} {self.name}: use POST",
                    headers=[(b"allow", b"POST")],
                )
            if responder is None:
                raise Problem(
                    "service.not_ready",
                    "the rule set is still loading: retry shortly",
                    headers=[(b"retry-after", b"1")],
                )
            headers.append((RULESET_HEADER, responder.version_bytes))
            json_body, declared = request_content(scope["headers"])
            if not json_body:
                raise Problem(
                    "request.unsupported_media_type", "send the case as JSON, with Content-Type: application/json"
                )
            if declared is not None and declared > self.max_body:
                raise _too_large(self.max_body)
            body = await read_body(receive, self.max_body)
            if b'"cases"' in body:  # maybe a batch: answered where answer_async says (not on the loop)
                answer = await self.answer_async(responder, body)
            else:
                answer = self.answer(responder, body)
            status, media = 200, JSON
        except Problem as problem:
            status, answer, media = problem.status, problem.body(), PROBLEM
            headers.extend(problem.headers)
            if problem.errors and self.counts_case_errors:
                for e in problem.errors:
                    self.metrics.case_error(e.code)
        except Disconnected:
            self.metrics.request(self.name, 499, time.perf_counter() - started)
            return
        except Exception:  # a bug: log it, answer problem+json, keep serving
            log.exception("POST %s failed", self.name)
            problem = internal_problem()
            status, answer, media = problem.status, problem.body(), PROBLEM
        headers += SECURITY_HEADERS
        headers.append((b"content-type", media))
        headers.append((b"content-length", str(len(answer)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": answer})
        seconds = time.perf_counter() - started
        self.metrics.request(self.name, status, seconds)
        if self.decision_log is not None and status == 200:
            self._log(scope, body, answer, responder, seconds)

    def _log(self, scope: dict, body: bytes, answer: bytes, responder: Responder, seconds: float) -> None:
        request_id = caller = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")
            elif name == self.caller_header:
                caller = value.decode("latin-1")
        batch = answer.startswith(b'{"results":')
        self.decision_log.record(body, answer, batch, responder.version, seconds, request_id, caller)


class DispatchEndpoint(Endpoint):
    """Answers POST /v1/dispatch: one case, or {"cases": [...]}.

    `constant`: answer a constant after the same checks, without dispatching: the
    framework's ceiling that bench/http.py holds the real endpoint against. The constant
    is a real answer (Responder.sample_answer), so that both write as many bytes.
    """

    counts_case_errors = True

    def __init__(
        self, slot: Slot, settings: Settings, metrics: Metrics, name: str = "/v1/dispatch", constant: bool = False
    ):
        super().__init__(slot, settings, metrics, name)
        self.max_batch = settings.max_batch
        self.constant = constant

    def answer(self, responder: Responder, body: bytes) -> bytes:
        """The JSON answer to a well-sent request body; raises Problem for a bad one."""
        if not self.constant and b'"cases"' not in body:  # the one-case path, without a Tally
            doc = parse_body(body)
            if type(doc) is dict and "cases" not in doc:
                case = read_case(doc)
                if type(case) is not IncomingCase:
                    raise case_problem(case)
                try:
                    answer, status = responder.answer(case)
                except CaseError as err:
                    raise case_problem([field_error(err)]) from None
                self.metrics.decisions[status] += 1
                return answer
        document, tally = self.answer_counted(responder, body)
        self.metrics.tally(tally.statuses, tally.errors)
        return document

    async def answer_async(self, responder: Responder, body: bytes) -> bytes:
        """A body that may be a batch (the caller looks for "cases") is answered in the batch thread, so that
        it cannot hold up the small requests the loop serves meanwhile (its kernels release the GIL); the
        counts go to the metrics back on the loop."""
        if self.constant:
            return self.answer(responder, body)
        loop = asyncio.get_running_loop()
        document, tally = await loop.run_in_executor(_batch_thread(), self.answer_counted, responder, body)
        self.metrics.tally(tally.statuses, tally.errors)
        return document

    def answer_counted(self, responder: Responder, body: bytes) -> tuple[bytes, Tally]:
        """The JSON answer and what it decided; raises Problem for a bad request. Any thread."""
        tally = Tally.empty()
        if not self.constant and b'"cases"' in body and _BATCH.match(body):  # `in` first: a single case skips the regex
            document = responder.batch_from_body(body, self.max_batch, tally)
            if document is not None:
                return document, tally
        doc = parse_body(body)
        if is_batch(doc):
            cases = batch_cases(doc, self.max_batch)
            if self.constant:
                return b'{"results":[' + b",".join([responder.sample_answer] * len(cases)) + b"]}", tally
            return responder.batch_from_cases(cases, tally), tally
        if type(doc) is not dict:
            raise not_an_object(doc)
        case = read_case(doc)
        if type(case) is not IncomingCase:
            raise case_problem(case)
        if self.constant:
            return responder.sample_answer, tally
        try:
            answer, status = responder.answer(case)
        except CaseError as err:
            raise case_problem([field_error(err)]) from None
        tally.statuses[status] += 1
        return answer, tally


_BATCHES: list[ThreadPoolExecutor] = []


def _batch_thread() -> ThreadPoolExecutor:
    """The worker's one batch thread: batches queue for it in arrival order, one at a time, as they
    did on the loop; the loop stays free for single cases and probes."""
    if not _BATCHES:
        _BATCHES.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="dispatch-batch"))
    return _BATCHES[0]
