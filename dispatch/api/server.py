"""Server: run the app under uvicorn with the settings given; what `dispatch serve` calls."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import tempfile
from dataclasses import replace

import uvicorn
from uvicorn.supervisors import Multiprocess

from dispatch.api.protocol import GuardedProtocol
from dispatch.api.settings import METRICS_DIR, PREFIX, SUPERVISOR_PID, Settings

logger = logging.getLogger("dispatch.api")

APP_FACTORY = "dispatch.api.app:app_from_env"


def warm(settings: Settings) -> int:
    """Build the responder exactly as a worker's start does, so that every kernel lands in the
    numba cache (NUMBA_CACHE_DIR); 1 and every diagnostic when the rule set is invalid."""
    import sys

    from dispatch.api.responder import build_responder
    from dispatch.api.source import source_for
    from dispatch.core.errors import RuleSetError

    try:
        responder = build_responder(source_for(settings.rules, settings.verification_key).fetch())
    except RuleSetError as err:
        for d in err.diagnostics:
            print(d, file=sys.stderr)
        return 1
    print(f"{settings.rules}: version {responder.version} compiled and warm in {responder.info['load_seconds']:.2f} s")
    return 0


def serve(settings: Settings) -> int:
    """Serve until stopped (SIGINT, SIGTERM); returns the exit status.

    Every worker builds its app from DISPATCH_* variables (APP_FACTORY), so the settings
    travel through the environment. With several workers the rule set is loaded before
    a worker opens its socket, unless DISPATCH_LOAD_IN_BACKGROUND says otherwise: a worker
    the supervisor starts again after a crash must not answer 503 while it loads.
    """
    if settings.workers > 1 and PREFIX + "LOAD_IN_BACKGROUND" not in os.environ:
        settings = replace(settings, load_in_background=False)
    os.environ.update(settings.to_env())
    os.environ[SUPERVISOR_PID] = str(os.getpid())
    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s:     %(name)s: %(message)s")
    config = uvicorn.Config(
        APP_FACTORY,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        lifespan="on",
        access_log=settings.access_log,
        proxy_headers=False,  # no X-Forwarded-* rewriting: nothing here reads the client's address, and it costs a layer
        server_header=False,
        log_level=settings.log_level,
        timeout_graceful_shutdown=10,
        **edge_options(settings),
    )
    if config.workers == 1:
        server = uvicorn.Server(config)
        server.run()
        return 0 if server.started else 3  # uvicorn's status for a server that could not start
    with tempfile.TemporaryDirectory(prefix="dispatch-metrics-") as shared:
        os.environ[METRICS_DIR] = shared  # the workers' counts, summed by each /metrics
        Supervisor(config, sockets=[config.bind_socket()]).run()
    return 0


class Supervisor(Multiprocess):
    """uvicorn's supervisor of N workers, but SIGHUP reloads every worker in place (each worker's
    lifespan reloads on SIGHUP) instead of restarting them: a worker keeps serving its rule set
    when the new one is bad, and a swap drops nothing. POST /v1/admin/reload in any worker sends
    the supervisor a SIGHUP, so it reaches all."""

    def handle_hup(self) -> None:
        logger.info("SIGHUP: every worker reloads the rule set")
        for process in self.processes:
            if process.pid is not None:
                with contextlib.suppress(OSError):
                    os.kill(process.pid, signal.SIGHUP)


def edge_options(settings: Settings) -> dict:
    """uvicorn's options for the edge: the guarded httptools protocol (measured faster than h11 for
    small requests, bench/http.py) and the idle timeout between requests; the protocol reads the
    other limits from the app's settings."""
    return {"http": GuardedProtocol, "timeout_keep_alive": settings.idle_timeout}
