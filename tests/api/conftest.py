"""Fixtures of the HTTP tests: the real server (uvicorn on a free port, in a thread) and a small HTTP client."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Self

import pytest
import uvicorn

from dispatch.api import create_app
from dispatch.api.responder import build_responder
from dispatch.api.server import edge_options
from dispatch.api.settings import Settings
from tests.conftest import MINI

# An urgent item and an ordinary one that no rule covers: the provisional and manual answers.
EXTRA_TAXONOMY = """\
12,应急类,,,,safety,,
12001,突发险情,12,2h,true,,,
12001001,路面塌陷,12001,,,,,
13,其他类,,,,municipal,,
13001,其他事项,13,24h,false,,,
13001001,无主设施,13001,,,,,
14,道路类,,,,municipal,,
14001,路面破损,14,4wh,false,,,
14001001,车行道坑洼,14001,,,,,
14002,道路保洁,14,A=2wh;B=4wh;C=1wd,false,,,
14002001,道路不洁,14002,,,,,
"""
# Beijing office hours, and the days of 2025 and 2026 the State Council moved (part of them)
CALENDAR = """
[calendar]
workweek = [1, 2, 3, 4, 5]
work_hours = ["09:00-12:00", "13:30-17:30"]
days = "calendar.csv"
"""
DAYS = """date,kind,name
2025-10-01,holiday,国庆节、中秋节
2025-10-02,holiday,国庆节、中秋节
2025-10-03,holiday,国庆节、中秋节
2025-10-06,holiday,国庆节、中秋节
2025-10-07,holiday,国庆节、中秋节
2025-10-08,holiday,国庆节、中秋节
2025-10-11,workday,国庆节、中秋节
2026-01-01,holiday,元旦
2026-01-02,holiday,元旦
2026-01-04,workday,元旦
"""
AREA_CLASSES = {"110115": "B", "110115005": "A", "110115103": "C"}  # the district B, 黄村 A, 青云店 C


def api_ruleset(target: Path) -> Path:
    """tests/data/mini plus items no rule covers (urgent, ordinary, in working time, per area
    class), a working calendar and area classes, copied to `target`."""
    shutil.copytree(MINI, target)
    with open(target / "taxonomy.csv", "a", encoding="utf-8") as f:
        f.write(EXTRA_TAXONOMY)
    with open(target / "ruleset.toml", "a", encoding="utf-8") as f:
        f.write(CALENDAR)
    (target / "calendar.csv").write_text(DAYS, encoding="utf-8")
    header = (MINI / "rules" / "municipal.csv").read_text(encoding="utf-8").splitlines()[0]
    (target / "rules" / "roads.csv").write_text(f"{header}\nROAD-1,14,*,,,dx-cgw,,,,,,区城管委三定方案,\n", encoding="utf-8")
    lines = (target / "areas.csv").read_text(encoding="utf-8").splitlines()
    rows = [lines[0] + ",class"] + [line + "," + AREA_CLASSES.get(line.split(",")[0], "") for line in lines[1:]]
    (target / "areas.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


class Client:
    """HTTP/1.1 to 127.0.0.1:port: one fresh connection per call, so every call stands alone."""

    def __init__(self, port: int):
        self.port = port

    def call(self, method: str, path: str, body: bytes | str | dict | list | None = None,
             headers: dict[str, str] | None = None) -> Answer:  # fmt: skip
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body, ensure_ascii=False)
            headers = {"content-type": "application/json", **(headers or {})}
        if isinstance(body, str):
            body = body.encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return Answer(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()

    def get(self, path: str) -> Answer:
        return self.call("GET", path)

    def post(self, path: str, body=None, headers: dict[str, str] | None = None) -> Answer:
        return self.call("POST", path, body, headers)

    def dispatch(self, body) -> Answer:
        return self.post("/v1/dispatch", body)


class Server:
    """uvicorn serving create_app(settings) in a thread, on a free port of the loopback."""

    def __init__(self, settings: Settings, build=build_responder):
        self.settings = replace(settings, port=free_port())
        self.app = create_app(self.settings, build=build)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.settings.port, log_level="warning",
                                access_log=False, lifespan="on", **edge_options(self.settings))  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.client = Client(self.settings.port)

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.client.get("/readyz").status != 200:
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not get ready")
            time.sleep(0.02)

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="session")
def api_rules(tmp_path_factory) -> Path:
    return api_ruleset(tmp_path_factory.mktemp("api") / "rules")


@pytest.fixture(scope="session")
def responder(api_rules: Path):
    """The api rule set's Responder, built and warm, for the tests that call it without HTTP."""
    return build_responder(str(api_rules))


SMALL_LIMITS = {"max_body_bytes": 64 * 1024, "max_batch": 50}


@pytest.fixture(scope="session")
def server(api_rules: Path):
    """One server for the read-only tests: the api rule set, small limits, bench routes on."""
    with Server(Settings(rules=str(api_rules), bench_routes=True, **SMALL_LIMITS)) as s:
        s.wait_ready()
        yield s


@pytest.fixture
def client(server: Server) -> Client:
    return server.client
