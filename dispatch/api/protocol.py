"""Protocol: uvicorn's httptools protocol with the limits and timeouts an edge needs, each with a clear answer.

uvicorn enforces none of these for httptools (it has a keep-alive timeout and a
concurrency limit that answers 503 in plain text): a 233 MiB header was read whole,
a connection that never sent a byte was held forever, and 1,100 idle sockets starved
every health probe. Here, per connection:

- request line and headers: at most `max_header_bytes` bytes (counted as they arrive,
  before the parser buffers them) and `max_headers` fields, else 431;
- the headers within `header_timeout` seconds of the request's first byte, and the body
  within `body_timeout` of the headers, else 408 (a connection that sent nothing of a
  request is closed without an answer after `idle_timeout`, as between requests);
- at most `max_connections` per worker: at the limit, a new connection first evicts the
  connection idle longest (as nginx reuses idle keep-alive connections), so a flood of
  idle sockets cannot lock probes out; when none is idle it gets 503 and is closed.

Every refusal is problem+json (problems.py), with Connection: close.

An answer leaves in one write, its head with its body (OneWrite): uvicorn writes them apart,
and a worker killed between the two writes leaves a proxy holding a head it has already
passed on, which it can no longer retry on another replica (bench/fleet.py saw it once in
19,000 requests under SIGKILL); killed before the one write, the proxy gets nothing and retries.
"""

from __future__ import annotations

from dataclasses import dataclass

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from dispatch.api.problems import MEDIA_TYPE, Problem
from dispatch.api.settings import Settings

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large", 503: b"Service Unavailable"}


@dataclass(frozen=True, slots=True)
class Limits:
    max_header_bytes: int
    max_headers: int
    header_timeout: float
    body_timeout: float
    idle_timeout: float
    max_connections: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            settings.max_header_bytes,
            settings.max_headers,
            settings.header_timeout,
            settings.body_timeout,
            settings.idle_timeout,
            settings.max_connections,
        )


def service_app(config):
    """The service's app under uvicorn's wrappers (the one whose state holds its Settings), or None."""
    app = getattr(config, "loaded_app", None)
    for _ in range(8):
        if isinstance(getattr(getattr(app, "state", None), "settings", None), Settings):
            return app
        app = getattr(app, "app", None)
    return None


def settings_of(config) -> Settings:
    """The Settings of the app a uvicorn config serves (the defaults for another app)."""
    app = service_app(config)
    return app.state.settings if app is not None else Settings()


IDLE, HEADERS, BODY, APP = 0, 1, 2, 3  # a connection's phase; the first three have a deadline
SWEEP_SECONDS = 0.25


def _start_sweeping(server_state, loop) -> None:
    """Once per server: every SWEEP_SECONDS, the connections whose phase is past its deadline are ended."""
    if server_state.__dict__.get("_sweeping"):
        return
    server_state._sweeping = True

    def sweep() -> None:
        now = loop.time()
        for conn in list(server_state.connections):
            if getattr(conn, "_phase", APP) < APP and conn._deadline < now:
                conn._late()
        loop.call_later(SWEEP_SECONDS, sweep)

    loop.call_later(SWEEP_SECONDS, sweep)


def _idle_since(conn: GuardedProtocol) -> float:
    return conn._deadline if conn._phase == IDLE else 0.0  # idle after an answer: longest ago, as far as known


class OneWrite:
    """The transport as a response cycle sees it: the response head is held back and written with the
    first bytes of the body in one write (uvicorn writes them apart); a head without a body that follows
    in the same turn (an empty body) goes when the response completes or the connection closes."""

    __slots__ = ("head", "transport")

    def __init__(self, transport):
        self.transport = transport
        self.head: bytes | None = None

    def write(self, data: bytes) -> None:
        head = self.head
        if head is not None:
            self.head = None
            if len(data) < 65536:
                self.transport.write(head + data)
            else:  # a large batch answer: one writev, not a copy of the body (uvloop; asyncio joins them)
                self.transport.writelines((head, data))
        elif type(data) is bytes and data.startswith(b"HTTP/1.1 ") and not data.startswith(b"HTTP/1.1 100 "):
            self.head = data  # a response's head (a 100 Continue goes at once: the client waits for it)
        else:
            self.transport.write(data)

    def flush(self) -> None:
        if self.head is not None:
            head, self.head = self.head, None
            self.transport.write(head)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def __getattr__(self, name: str):
        return getattr(self.transport, name)


class _Refused(Exception):
    """Raised inside a parser callback after answering: stops the parser on this connection."""


class GuardedProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with limits (see the module's docstring); the server's `http` class."""

    def __init__(self, config, server_state, app_state, _loop=None):
        super().__init__(config, server_state, app_state, _loop)
        limits = config.__dict__.get("_dispatch_limits")
        if limits is None:
            limits = config.__dict__["_dispatch_limits"] = Limits.of(settings_of(config))
        self.limits = limits
        service = service_app(config)
        self._drain = service.state.drain if service is not None and hasattr(service.state, "drain") else None
        self._phase = IDLE  # IDLE -> HEADERS -> BODY -> APP (and back to IDLE after the response)
        self._deadline = 0.0  # loop time by which the phase must end (IDLE, HEADERS, BODY): the sweep checks
        self._header_bytes = 0
        self._tail = b""  # the last bytes of the header phase, to find a \r\n\r\n split across reads
        self._refused = False

    # -- connections ----------------------------------------------------------------------

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._one_write = OneWrite(transport)
        _start_sweeping(self.server_state, self.loop)
        limits = self.limits
        if len(self.connections) > limits.max_connections:
            oldest = min((c for c in self.connections if c is not self and c._idle()), key=_idle_since, default=None)
            if oldest is not None:
                oldest._close_idle()
            else:
                self._refuse(503, "service.busy", "too many connections: retry shortly", retry_after=True)
                return
        self._become_idle(limits.idle_timeout)

    def connection_lost(self, exc) -> None:
        self._phase = APP  # nothing more to time
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        self._one_write.flush()  # a head whose body was empty
        super().on_response_complete()

    def _become_idle(self, timeout: float) -> None:
        self._phase = IDLE
        self._deadline = self.loop.time() + timeout

    def _idle(self) -> bool:
        """Waiting for a request: none begun since the last answer (or since the connection opened)."""
        if self._phase == IDLE:
            return True
        return self._phase != HEADERS and self.cycle is not None and self.cycle.response_complete

    def _close_idle(self) -> None:
        self._phase = APP
        if not self.transport.is_closing():
            self.transport.close()

    # -- reading ---------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._unset_keepalive_if_required()
        if self._phase > HEADERS and self.cycle is not None and self.cycle.response_complete:
            # the last request is answered: these bytes begin the next one, and count towards its headers
            self._phase, self._header_bytes, self._tail = IDLE, 0, b""
            self._deadline = self.loop.time() + self.limits.header_timeout
        if self._phase <= HEADERS and not self._header_room(data):
            self._refuse(
                431,
                "request.header_too_large",
                f"the request line and headers pass {self.limits.max_header_bytes} bytes",
            )
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._unsupported_upgrade_warning()
        except httptools.HttpParserError:
            if not self._refused:
                msg = "Invalid HTTP request received."
                self.logger.warning(msg)
                self.send_400_response(msg)

    def _header_room(self, data: bytes) -> bool:
        """Whether the header phase stays within max_header_bytes with `data` (which may hold the body's start)."""
        limit = self.limits.max_header_bytes
        if self._header_bytes + len(data) <= limit:
            self._header_bytes += len(data)
            self._tail = (self._tail + data)[-3:]
            return True
        end = (self._tail + data).find(b"\r\n\r\n")
        return end >= 0 and self._header_bytes - len(self._tail) + end + 4 <= limit

    def on_message_begin(self) -> None:
        self._phase = HEADERS
        self._deadline = self.loop.time() + self.limits.header_timeout
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        if len(self.headers) > self.limits.max_headers:
            self._refuse(431, "request.header_too_large", f"more than {self.limits.max_headers} header fields")
            raise _Refused  # stops the parser: nothing of this request reaches the app
        self._phase = BODY  # until the body is in (cycle.more_body False): then the app's, then idle
        self._header_bytes, self._tail = 0, b""
        self._deadline = self.loop.time() + self.limits.body_timeout
        super().on_headers_complete()
        if self.cycle is not None:
            self.cycle.transport = self._one_write
        if self._drain is not None and self._drain.on and self.cycle is not None:
            self.cycle.keep_alive = False  # draining: answer, then close, so the client moves to another replica

    # -- timeouts: one sweep a quarter second for all connections, not a timer per request ----------

    def _late(self) -> None:
        """Called by the sweep once the phase's deadline has passed."""
        if self._phase == IDLE:
            self._close_idle()
        elif self._phase == HEADERS:
            self._refuse(408, "request.timeout", f"the headers did not arrive within {self.limits.header_timeout:g} s")
        elif self._phase == BODY:
            if self.cycle is not None and not self.cycle.more_body:
                self._phase = APP  # the body came: the app's now, then uvicorn's keep-alive timer
                return
            if self.cycle is not None and self.cycle.response_started:
                self._phase = APP
                self.transport.close()  # the app answered already (say, a 413 before reading): just go
                return
            self._refuse(408, "request.timeout", f"the body did not arrive within {self.limits.body_timeout:g} s")

    # -- refusing ----------------------------------------------------------------------------

    def _refuse(self, status: int, code: str, detail: str, retry_after: bool = False) -> None:
        """Answer problem+json `status` and close; the connection reads nothing more."""
        self._refused = True
        self._phase = APP
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True  # the app must not answer on this connection any more
            self.cycle.message_event.set()
        if self.transport.is_closing():
            return
        body = Problem(code, detail).body()
        head = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status])]
        head += [b"content-type: ", MEDIA_TYPE.encode(), b"\r\n", b"content-length: %d\r\n" % len(body)]
        head += [b"x-content-type-options: nosniff\r\n", b"connection: close\r\n"]
        if retry_after:
            head.append(b"retry-after: 1\r\n")
        self.transport.write(b"".join(head) + b"\r\n" + body)
        self.transport.close()
