"""Settings of the HTTP service: built from arguments or DISPATCH_* variables, passed in, never global."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

PREFIX = "DISPATCH_"
SUPERVISOR_PID = "DISPATCH_SUPERVISOR"  # set by `dispatch serve --workers N` for its workers: the supervisor's pid
METRICS_DIR = "DISPATCH_METRICS_DIR"  # set by `dispatch serve --workers N`: where workers share their counts
DEFAULT_RULES = "rules/daxing"
# 4 MiB: a full batch of 10,000 cases is about 1.2 MiB of JSON (about 120 bytes a case),
# so the limit leaves room for long ids and extra fields while bounding what one request
# can make a worker parse (orjson holds the whole body and its objects in memory at once).
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_BATCH = 10_000
# the edge (protocol.py), after nginx's and Envoy's defaults: nginx reads 4 x 8 KiB of headers and
# Envoy 60 KiB, Envoy at most 100 fields; timeouts far above what a 1 ms service needs from an
# honest client; connections: the usual limit of 1,024 file descriptors less room for files,
# the reload and the workers' pipes
DEFAULT_MAX_HEADER_BYTES = 32 * 1024
DEFAULT_MAX_HEADERS = 100
DEFAULT_MAX_CONNECTIONS = 900


class SettingsError(ValueError):
    """A DISPATCH_* variable that cannot be read: names the variable and the bad value."""


@dataclass(frozen=True, slots=True)
class Settings:
    """What the service needs to know; every field is also DISPATCH_<NAME> in the environment."""

    rules: str = DEFAULT_RULES  # the rule set served: a directory, a bundle file, or an http(s):// bundle URL
    verification_key: str = ""  # an Ed25519 public key (PEM): bundles must be signed by its private key
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_batch: int = DEFAULT_MAX_BATCH
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES  # request line and headers; more: 431
    max_headers: int = DEFAULT_MAX_HEADERS  # header fields; more: 431
    header_timeout: float = 10.0  # seconds from a request's first byte to its last header; later: 408
    body_timeout: float = 30.0  # seconds from the headers to the body's last byte; later: 408
    idle_timeout: float = 75.0  # seconds a connection may wait for a request (nginx's keepalive_timeout)
    max_connections: int = DEFAULT_MAX_CONNECTIONS  # per worker; past it the longest idle is closed, or 503
    # on SIGTERM: /readyz answers 503 at once and every answer says Connection: close, while requests
    # are still answered for this long; then the server closes (a Kubernetes preStop of a few seconds)
    drain_seconds: float = 5.0
    # every worker looks at the rule directory this often (seconds, with jitter) and loads it when a
    # file changed: all workers reach the same version within one interval, without a signal; 0: never
    rules_poll: float = 10.0
    # one JSON line per decision (decisionlog.py): "stdout", a file, or an http(s):// URL; "" for none
    decision_log: str = ""
    decision_log_caller_header: str = ""  # a request header naming the caller, copied to each line
    cases: str = ""  # a case history (CSV): GET /v1/coverage and the console weigh the map by its volume
    # background: the server answers /healthz (and 503 on /readyz) while the rule set
    # loads; off, the server opens its socket only once warm, which is what uvicorn's
    # rolling restart of N workers (SIGHUP) needs to retire an old worker only after
    # its replacement can answer
    load_in_background: bool = True
    access_log: bool = False  # uvicorn's access log costs about 10% of single-case throughput
    log_level: str = "info"
    admin_token: str = ""  # admin endpoints answer 404 without one; with one, "Authorization: Bearer <token>"
    bench_routes: bool = False  # the constant and pydantic endpoints that bench/http.py compares against

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from DISPATCH_* variables (default: os.environ), then `overrides` on top."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = _parse(f.name, f.type, raw)
        settings = cls(**values)
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})

    def to_env(self) -> dict[str, str]:
        """The DISPATCH_* variables that rebuild these settings in another process (a worker)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[PREFIX + f.name.upper()] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        return out

    def __post_init__(self) -> None:
        if not isinstance(self.rules_poll, (int, float)) or not 0 <= self.rules_poll <= 86400:
            raise SettingsError(f"rules_poll must be a number of seconds in [0, 86400], not {self.rules_poll!r}")
        if not isinstance(self.drain_seconds, (int, float)) or not 0 <= self.drain_seconds <= 3600:
            raise SettingsError(f"drain_seconds must be a number of seconds in [0, 3600], not {self.drain_seconds!r}")
        for name in ("header_timeout", "body_timeout", "idle_timeout"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 < value < 86400:
                raise SettingsError(f"{name} must be a number of seconds in (0, 86400), not {value!r}")
        for name in (
            "port",
            "workers",
            "max_body_bytes",
            "max_batch",
            "max_header_bytes",
            "max_headers",
            "max_connections",
        ):
            value = getattr(self, name)
            low = 0 if name == "port" else 1
            if not isinstance(value, int) or value < low:
                raise SettingsError(f"{name} must be an integer >= {low}, not {value!r}")
        if self.port > 65535:
            raise SettingsError(f"port must be at most 65535, not {self.port}")


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _parse(name: str, kind: str, raw: str) -> Any:
    var = PREFIX + name.upper()
    if kind == "bool":
        if raw.strip().lower() in _TRUE:
            return True
        if raw.strip().lower() in _FALSE:
            return False
        raise SettingsError(f"{var}={raw!r}: not a boolean: write 1/0, true/false, yes/no or on/off")
    if kind == "int":
        try:
            return int(raw.replace("_", ""))
        except ValueError:
            raise SettingsError(f"{var}={raw!r}: not an integer") from None
    if kind == "float":
        try:
            return float(raw)
        except ValueError:
            raise SettingsError(f"{var}={raw!r}: not a number") from None
    return raw
