"""The app: create_app(settings) wires the slot, the endpoints, the problem mapping and the lifespan.

FastAPI serves the OpenAPI description, /docs (docs.py) and the side endpoints. POST /v1/dispatch
and POST /v1/explain are declared to FastAPI (so /docs and the description show their
true schemas) but served by bare ASGI callables (endpoint.py), which `ServiceApp.__call__`
reaches before FastAPI's middleware and router: bench/http.py measures what that saves,
and both share one request intake, its limits and its problem codes. Every answer, bare or
not, leaves through `ServiceApp.__call__` too, which adds the security headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import random
import signal
import threading
import time
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from dispatch.api import wire
from dispatch.api.catalogue import add_catalogue
from dispatch.api.decisionlog import DecisionLog
from dispatch.api.docs import add_docs
from dispatch.api.endpoint import SECURITY_HEADERS, DispatchEndpoint
from dispatch.api.explanation import ExplainEndpoint
from dispatch.api.metrics import Metrics
from dispatch.api.problems import (
    MEDIA_TYPE,
    FieldError,
    Problem,
    case_problem,
    field_error,
    internal_problem,
    ruleset_name,
    ruleset_problem,
)
from dispatch.api.responder import Responder, build_responder
from dispatch.api.settings import METRICS_DIR, SUPERVISOR_PID, Settings
from dispatch.api.slot import Slot
from dispatch.core.errors import CaseError, RuleSetError

log = logging.getLogger("dispatch.api")

DISPATCH_PATH = "/v1/dispatch"
EXPLAIN_PATH = "/v1/explain"
CONSTANT_PATH = "/v1/_bench/constant"
PYDANTIC_PATH = "/v1/_bench/pydantic"
_PROBLEM_STATUSES = {
    400: "malformed JSON",
    413: "body or batch over the limit",
    415: "not application/json",
    # a valid-shaped case is refused when its codes are not the rule set's: codes are data, not schema
    # (tests/api/fuzz_checks.py holds the service to this: a schema-valid case gets 422 only for them)
    422: (
        "the request does not have the expected shape (request.invalid;"
        " a batch sent to /v1/explain: request.batch_unsupported), or a case of the right shape names a code"
        " the rule set does not know or a time it cannot read (request.unknown_event, request.not_an_item,"
        " request.unknown_area, request.unknown_source, request.bad_time), or a location the rule set cannot place"
        " (request.location_unsupported: no grid map; /v1/explain: request.off_map)"
    ),
    503: "the rule set is still loading",
}
# on every answer, the bare endpoints' too: no MIME sniffing, no framing (clickjacking of /docs)


def with_security_headers(send: Callable) -> Callable:
    """`send` that adds SECURITY_HEADERS to the start of the answer: the one place every answer passes.

    The message is copied, not changed: a sender may keep it. Cost, measured in-process on the
    bare POST /v1/dispatch path: about 1 us a request (of about 10 us), some 2 % of a request
    over HTTP at bench/http.py's rate; a sync variant or changing the message in place saved
    nothing measurable.
    """

    async def secured_send(message: dict) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), *SECURITY_HEADERS]}
        await send(message)

    return secured_send


class ServiceApp(FastAPI):
    """FastAPI, with bare ASGI routes answered before FastAPI's own stack, every request counted,
    and the security headers on every answer."""

    fast_routes: dict[str, Callable]
    metrics: Metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        fast = self.fast_routes.get(scope["path"])
        if fast is not None:
            await fast(scope, receive, send)  # counts itself, and writes SECURITY_HEADERS itself (endpoint.py)
            return
        send = with_security_headers(send)
        started = time.perf_counter()
        status = [500]

        async def counting_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await super().__call__(scope, receive, counting_send)
        finally:
            path = scope["path"]
            endpoint = path if path in self.known_paths else "other"
            self.metrics.request(endpoint, status[0], time.perf_counter() - started)

    @property
    def known_paths(self) -> set[str]:
        paths = self.__dict__.get("_known_paths")
        if paths is None:
            paths = self.__dict__["_known_paths"] = {getattr(r, "path", "") for r in self.routes}
        return paths


def problem_response(problem: Problem) -> Response:
    headers = {k.decode(): v.decode() for k, v in problem.headers}
    return Response(problem.body(), status_code=problem.status, media_type=MEDIA_TYPE, headers=headers)


def _problem_responses(*statuses: int) -> dict:
    return {
        s: {
            "description": _PROBLEM_STATUSES.get(s, "problem"),
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for s in statuses
    }


def _dispatch_openapi(settings: Settings) -> dict:
    """The OpenAPI operation of POST /v1/dispatch: the contract intake.py and render.py keep."""
    ref = "#/components/schemas/"
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"anyOf": [{"$ref": ref + "CaseIn"}, {"$ref": ref + "BatchIn"}]}}
            },
        },
        "responses": {
            "200": {
                "description": "A decision for one case; for a batch, one result per case, in order",
                "headers": {
                    "Dispatch-Ruleset": {
                        "description": "version of the rule set that answered",
                        "schema": {"type": "string"},
                    }
                },
                "content": {
                    "application/json": {"schema": {"anyOf": [{"$ref": ref + "Decision"}, {"$ref": ref + "BatchOut"}]}}
                },
            },
            **{str(k): v for k, v in _problem_responses(400, 405, 413, 415, 422, 503).items()},
        },
    }


class Drain:
    """Whether this worker is draining (SIGTERM): /readyz answers 503 and the protocol closes each
    connection after its answer. An object of its own: the protocol reads one attribute a request."""

    on = False


def _drain_on_sigterm(app: FastAPI, seconds: float):
    """Drain on SIGTERM: the app turns unready (/readyz 503) and every answer closes its connection
    (protocol.py), requests go on being answered for `seconds`, and only then does uvicorn's own
    SIGTERM handling begin its graceful shutdown (stop accepting, finish what is in flight). A
    second SIGTERM goes to uvicorn at once. Installed over uvicorn's handler, which is in place
    by the time the lifespan starts; returns that handler (None where signals cannot be set:
    not the main thread, or no draining)."""
    if seconds <= 0:
        return None
    try:
        uvicorns = signal.getsignal(signal.SIGTERM)
    except ValueError:
        return None
    if not callable(uvicorns):
        return None

    def on_term(sig, frame) -> None:
        if app.state.drain.on:
            uvicorns(sig, frame)
            return
        app.state.drain.on = True
        log.info("SIGTERM: unready, answering for %g s more, then closing", seconds)
        timer = threading.Timer(seconds, uvicorns, args=(sig, None))
        timer.daemon = True
        timer.start()

    try:
        signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread (a test's server in a thread)
        return None
    return uvicorns


def _reload_the_other_workers() -> None:
    """Under `dispatch serve --workers N`, ask the supervisor to have every worker reload (SIGHUP,
    forwarded to each worker: server.Supervisor), so one POST reaches them all."""
    supervisor = os.environ.get(SUPERVISOR_PID)
    if supervisor and supervisor.isdigit() and os.getppid() == int(supervisor):
        with contextlib.suppress(OSError):
            os.kill(int(supervisor), signal.SIGHUP)


def create_app(settings: Settings, build: Callable[[str], Responder] = build_responder) -> ServiceApp:
    """The service for `settings`. Nothing is loaded here: the lifespan loads the rule set.

    `build` turns a rule-set directory into an Responder (tests slow it down to watch readiness).
    """
    slot = Slot(settings.rules, build, settings.verification_key)
    metrics = Metrics()

    async def first_load() -> None:
        try:
            await slot.load()
        except RuleSetError:
            pass  # logged by the slot; /readyz says why; a reload may fix it
        except Exception:
            log.exception("loading %s failed", settings.rules)

    async def reload_quietly() -> None:  # SIGHUP: no one to answer, the log and the metrics tell
        try:
            await slot.load()
            metrics.reload("ok")
        except RuleSetError:
            metrics.reload("refused")
        except Exception:
            log.exception("reloading %s failed", settings.rules)
            metrics.reload("failed")

    async def poll() -> None:
        """Load the rule set whenever its source changed: every worker does, so all converge."""
        while True:
            await asyncio.sleep(slot.source.backoff(settings.rules_poll) * random.uniform(0.9, 1.1))
            if await asyncio.to_thread(slot.source.changed):
                log.info("rule set %s changed: loading it", settings.rules)
                await reload_quietly()

    async def share_metrics() -> None:
        """Every second, this worker's counts for the other workers' /metrics."""
        while True:
            with contextlib.suppress(OSError):
                metrics.write_snapshot(os.environ[METRICS_DIR], slot.responder.version if slot.responder else None)
            await asyncio.sleep(1)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        loading = asyncio.create_task(first_load())
        if not settings.load_in_background:
            await loading
        polling = asyncio.create_task(poll()) if settings.rules_poll > 0 else None
        sharing = asyncio.create_task(share_metrics()) if os.environ.get(METRICS_DIR) else None
        if settings.decision_log:
            bare[DISPATCH_PATH].decision_log = metrics.decision_log = DecisionLog(settings.decision_log)
        loop = asyncio.get_running_loop()
        hup = False
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread
            loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(reload_quietly()))
            hup = True
        term = _drain_on_sigterm(app, settings.drain_seconds)
        try:
            yield
        finally:
            if polling is not None:
                polling.cancel()
            if sharing is not None:
                sharing.cancel()
                with contextlib.suppress(OSError):
                    metrics.write_snapshot(os.environ[METRICS_DIR], slot.responder.version if slot.responder else None)
            if metrics.decision_log is not None:
                bare[DISPATCH_PATH].decision_log = None
                await asyncio.to_thread(metrics.decision_log.close)
            if term is not None:
                with contextlib.suppress(ValueError):
                    signal.signal(signal.SIGTERM, term)
            if hup:
                loop.remove_signal_handler(signal.SIGHUP)
            if not loading.done():
                await asyncio.wait([loading], timeout=10)

    app = ServiceApp(
        title="dispatch",
        version="1",
        summary="Which department handles a city grid case, by when, and which rule decided",
        lifespan=lifespan,
        docs_url=None,  # docs.py serves /docs without a CDN; no ReDoc
        redoc_url=None,
    )
    app.state.slot = slot
    app.state.drain = Drain()
    app.state.settings = settings
    app.metrics = metrics
    bare = {
        DISPATCH_PATH: DispatchEndpoint(slot, settings, metrics),
        EXPLAIN_PATH: ExplainEndpoint(slot, settings, metrics, EXPLAIN_PATH),
    }
    app.fast_routes = dict(bare)
    _exception_handlers(app)

    # -- POST /v1/dispatch and /v1/explain: declared here, answered by the bare endpoints --
    # never called: ServiceApp routes the paths to the bare endpoints (the names make the operation ids)
    async def dispatch_declared() -> None:
        raise RuntimeError("POST /v1/dispatch must be answered by DispatchEndpoint")

    async def explain() -> None:
        raise RuntimeError("POST /v1/explain must be answered by ExplainEndpoint")

    app.post(
        DISPATCH_PATH,
        summary="Dispatch one case or a batch",
        tags=["dispatch"],
        response_model=None,
        openapi_extra=_dispatch_openapi(settings),
        responses={},
    )(dispatch_declared)
    app.post(
        EXPLAIN_PATH,
        response_model=wire.Explanation,
        tags=["dispatch"],
        summary="Every rule that matches a case, ranked, and why the winner won (what `dispatch explain` prints)",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CaseIn"}}},
            }
        },
        responses=_problem_responses(400, 405, 413, 415, 422, 503),
    )(explain)
    for route in app.router.routes:
        endpoint = bare.get(getattr(route, "path", None))
        if endpoint is not None:
            route.app = endpoint  # served through the router too (a mounted sub-app, a test client)

    # -- side endpoints: thin ----------------------------------------------------------
    @app.get("/healthz", response_model=wire.Health, tags=["operations"], summary="Alive")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        response_model=wire.Readiness,
        tags=["operations"],
        summary="Ready to dispatch",
        responses=_problem_responses(503),
    )
    async def readyz() -> dict:
        responder = slot.responder
        if app.state.drain.on:
            raise Problem(
                "service.draining",
                "shutting down: requests are still answered for a few seconds, send new ones elsewhere",
            )
        if responder is None:
            detail = "the rule set is still loading"
            extra = {}
            if slot.failure is not None:
                detail = f"the rule set in {ruleset_name(settings.rules)} failed to load; fix it and reload"
                extra = ruleset_problem(slot.failure, settings.rules).extra
            raise Problem("service.not_ready", detail, headers=[(b"retry-after", b"1")], extra=extra)
        return {"ready": True, "version": responder.version}

    @app.get("/metrics", response_class=PlainTextResponse, tags=["operations"], summary="Prometheus metrics")
    async def prometheus() -> PlainTextResponse:
        responder = slot.responder
        directory = os.environ.get(METRICS_DIR)
        if directory:  # several workers: the sum of all
            total, versions = metrics.summed(directory, responder.version if responder else None)
            total.refused = slot.refused is not None
            text = total.exposition(responder.info if responder else None, responder is not None, versions)
        else:
            metrics.refused = slot.refused is not None
            text = metrics.exposition(responder.info if responder else None, responder is not None)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get(
        "/v1/ruleset",
        response_model=wire.RulesetInfo,
        tags=["rule set"],
        summary="The rule set served",
        responses=_problem_responses(503),
    )
    async def ruleset_info() -> JSONResponse:
        responder = slot.responder
        if responder is None:
            raise Problem("service.not_ready", "the rule set is still loading", headers=[(b"retry-after", b"1")])
        info = responder.info
        if slot.refused is not None:
            at, err = slot.refused
            info = {
                **info,
                "refused": {"at": at, "diagnostics": ruleset_problem(err, settings.rules).extra["diagnostics"]},
            }
        return JSONResponse(info, headers={"dispatch-ruleset": responder.version})

    @app.post(
        "/v1/admin/reload",
        response_model=wire.Reloaded,
        tags=["rule set"],
        summary="Reload the rule set from its directory; a bad one is refused and the old one keeps serving",
        responses={
            422: {
                "description": "the rule set on disk is invalid; the old one keeps serving",
                "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/RulesetProblem"}}},
            },
            **_problem_responses(401, 404),
        },
    )
    async def reload(request: Request) -> dict:
        if not settings.admin_token:  # closed by default: no token, no admin endpoint
            raise Problem(
                "request.not_found", "POST /v1/admin/reload: no such resource (set DISPATCH_ADMIN_TOKEN to open it)"
            )
        if not bearer_matches(request.headers.get("authorization"), settings.admin_token):
            raise Problem(
                "request.unauthorized",
                "POST /v1/admin/reload needs Authorization: Bearer <token>",
                headers=[(b"www-authenticate", b"Bearer")],
            )
        previous = slot.responder.version if slot.responder else None
        try:
            responder = await slot.load()
        except RuleSetError as err:
            metrics.reload("refused")
            raise ruleset_problem(err, settings.rules) from None
        metrics.reload("ok")
        _reload_the_other_workers()
        return {
            "version": responder.version,
            "previous": previous,
            "loaded_at": responder.info["loaded_at"],
            "load_seconds": responder.info["load_seconds"],
        }

    add_catalogue(app, slot, settings, _problem_responses(503))
    if settings.bench_routes:
        _bench_routes(app, slot, settings, metrics)
    add_docs(app)
    _openapi_components(app, settings)
    return app


def bearer_matches(authorization: str | None, token: str) -> bool:
    """Whether an Authorization header carries `token` as a Bearer credential.

    The scheme is case-insensitive (RFC 9110 11.1), spaces may follow it (1*SP), and the token is
    compared in constant time, so that the time of a refusal does not tell how much of it was right.
    """
    scheme, _, credential = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    # starlette reads header bytes as latin-1: back to the bytes the client sent
    return hmac.compare_digest(credential.strip(" ").encode("latin-1"), token.encode())


def _exception_handlers(app: FastAPI) -> None:
    """Every error FastAPI or Starlette meets, as problem+json: the rest of the mapping in problems.py."""

    @app.exception_handler(Problem)
    async def on_problem(request: Request, problem: Problem) -> Response:
        return problem_response(problem)

    @app.exception_handler(CaseError)
    async def on_case(request: Request, err: CaseError) -> Response:
        return problem_response(case_problem([field_error(err)]))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            problem = Problem("request.not_found", f"no resource at {request.url.path}")
        elif exc.status_code == 405:
            problem = Problem(
                "request.method_not_allowed",
                f"{request.method} is not allowed on {request.url.path}",
                headers=[(k.lower().encode(), v.encode()) for k, v in (exc.headers or {}).items()],
            )
        else:
            problem = Problem("request.invalid", str(exc.detail))
            problem.status = exc.status_code
        return problem_response(problem)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            FieldError(
                "/" + "/".join(str(p) for p in e.get("loc", ())[1:]),
                "request.invalid",
                e.get("msg", "invalid"),
                e.get("input"),
            )
            for e in exc.errors()
        ]
        return problem_response(Problem("request.invalid", "the request does not have the expected shape", errors))

    @app.exception_handler(Exception)
    async def on_bug(request: Request, exc: Exception) -> Response:
        log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
        return problem_response(internal_problem())


def _openapi_components(app: FastAPI, settings: Settings) -> None:
    """Add the bare endpoint's schemas to the generated description."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = generate()
            schema.setdefault("components", {}).setdefault("schemas", {}).update(
                wire.component_schemas(settings.max_batch)
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi


class _PydanticCase(BaseModel):
    id: str
    event: str
    area: str
    source: str
    reported_at: str | None = None


def _bench_routes(app: ServiceApp, slot: Slot, settings: Settings, metrics: Metrics) -> None:
    """What bench/http.py compares the real endpoint with: a constant after the same checks, and
    the textbook FastAPI route (a pydantic body) doing the same dispatch."""
    app.fast_routes[CONSTANT_PATH] = DispatchEndpoint(slot, settings, metrics, name=CONSTANT_PATH, constant=True)

    @app.post(PYDANTIC_PATH, include_in_schema=False)
    async def pydantic_dispatch(case: _PydanticCase) -> Response:
        from dispatch.api.intake import IncomingCase

        responder = slot.responder
        if responder is None:
            raise Problem("service.not_ready", "the rule set is still loading")
        body, _ = responder.answer(IncomingCase(case.id, case.event, case.area, case.source, case.reported_at))
        return Response(body, media_type="application/json")


def app_from_env() -> ServiceApp:
    """The factory uvicorn calls in each worker: settings from DISPATCH_* variables."""
    return create_app(Settings.from_env())
