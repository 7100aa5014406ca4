"""Read-only views of the served rule set for people and their tools: the trees, the departments, one rule,
the outcome matrix of an event, the coverage map; and /console, the web console built on them.

Each view is computed from the Responder that answers it (so a reload shows the new set at once),
once per Responder and argument where it is costly (the coverage map), in a worker thread so that
POST /v1/dispatch never waits behind it. The core computes (coverage.py, matrix.py); this module
only shapes JSON.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from dataclasses import fields
from datetime import date, datetime
from pathlib import Path

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.staticfiles import StaticFiles

from dispatch.api import wire
from dispatch.api.problems import FieldError, Problem
from dispatch.api.responder import Responder
from dispatch.api.settings import Settings
from dispatch.api.slot import Slot
from dispatch.core.coverage import coverage_map, map_document
from dispatch.core.decision import rule_file
from dispatch.core.history import HistoryError, read_history
from dispatch.core.matrix import MANUAL, outcome_matrix

CONSOLE_DIR = Path(__file__).parent / "console"
RULES_PER_ENTRY = 20  # an entry of the matrix names at most this many rules (most cells first)
GAPS = 20
# the console's page: its own scripts and styles only, no inline script, nothing from elsewhere
CONSOLE_CSP = (
    b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


class _Cache:
    """What was computed for one Responder; dropped with it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: dict[tuple, object] = {}

    def get(self, key: tuple, compute):
        with self.lock:  # one computation of each view at a time: a burst of requests waits for the first
            if key not in self.values:
                if len(self.values) > 64:
                    self.values.clear()
                self.values[key] = compute()
            return self.values[key]


_caches: weakref.WeakKeyDictionary[Responder, _Cache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def _cache(responder: Responder) -> _Cache:
    with _caches_lock:
        cache = _caches.get(responder)
        if cache is None:
            cache = _caches[responder] = _Cache()
        return cache


def _ruleset_ref(responder: Responder) -> dict:
    return {"name": responder.ruleset.manifest.name, "version": responder.version}


def taxonomy_document(responder: Responder) -> dict:
    ruleset = responder.ruleset
    tree = ruleset.events
    nodes = []
    for code in tree.order:
        node = tree[code]
        leaf = tree.is_leaf(code)
        nodes.append(
            {
                "code": code,
                "name": node.name,
                "parent": node.parent,
                "depth": tree.depth(code),
                "item": leaf,
                "urgent": ruleset.item_urgent(code) if leaf else None,
            }
        )
    return {"ruleset": _ruleset_ref(responder), "nodes": nodes}


def areas_document(responder: Responder) -> dict:
    tree = responder.ruleset.areas
    nodes = [
        {
            "code": a.code,
            "name": a.name,
            "parent": a.parent,
            "level": a.level,
            "depth": tree.depth(a.code),
            "grid_type": a.grid_type,
        }
        for a in (tree[c] for c in tree.order)
    ]
    return {"ruleset": _ruleset_ref(responder), "nodes": nodes}


def departments_document(responder: Responder) -> dict:
    ruleset = responder.ruleset
    return {
        "ruleset": _ruleset_ref(responder),
        "sources": list(ruleset.manifest.sources),
        "command_systems": dict(ruleset.manifest.command_systems),
        "departments": [
            {"code": d.code, "name": d.name, "command_system": d.command_system, "governs": d.governs}
            for d in ruleset.departments.values()
        ],
    }


def _plain(value: object) -> object:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def rule_document(responder: Responder, rule_id: str) -> dict:
    """Every field of the rule as the core holds it (whatever columns the format has), and where it stands."""
    by_id = _cache(responder).get(("rules",), lambda: {r.id: k for k, r in enumerate(responder.ruleset.rules)})
    index = by_id.get(rule_id)
    if index is None:
        raise Problem("request.not_found", f"no rule {rule_id!r} in rule set {responder.version}")
    rule = responder.ruleset.rules[index]
    doc = {"id": rule.id, "file": rule_file(rule.place.path, responder.root), "line": rule.place.line}
    for f in fields(rule):
        if f.name not in ("id", "place", "columns"):
            doc[f.name] = _plain(getattr(rule, f.name))
    doc["columns"] = dict(rule.columns)
    return {"ruleset": _ruleset_ref(responder), "rule": doc}


def _day(responder: Responder, at: str | None) -> date:
    if at is None:
        return datetime.now(responder.zone).date()
    try:
        return date.fromisoformat(at)
    except ValueError:
        detail = f"at {at!r} is not an ISO date (YYYY-MM-DD)"
        raise Problem("request.invalid", detail, [FieldError("at", "request.invalid", detail, at)]) from None


def _at(description: str):
    """The `at` query parameter: a calendar day, strictly YYYY-MM-DD (no timestamps, no numbers)."""
    return Query(
        default=None, pattern=r"^\d{4}-\d{2}-\d{2}$", description=description, json_schema_extra={"format": "date"}
    )


def matrix_document(responder: Responder, event: str, at: str | None) -> dict:
    ruleset = responder.ruleset
    if event not in ruleset.events:
        detail = f"unknown event code {event!r}"
        raise Problem("request.unknown_event", detail, [FieldError("event", "request.unknown_event", detail, event)])
    day = _day(responder, at)
    m = _cache(responder).get(("matrix", event, day), lambda: outcome_matrix(responder.dispatcher, event, day))
    rules = ruleset.rules
    departments = ruleset.departments

    def outcome(code: str, status: str) -> dict:
        dept = None if code == MANUAL else {"code": code, "name": getattr(departments.get(code), "name", code)}
        return {"key": code, "status": status, "department": dept}

    def rule_ref(index: int, cells: int) -> dict:
        if index < 0:
            return {"id": None, "file": None, "line": None, "cells": cells}
        r = rules[index]
        return {"id": r.id, "file": rule_file(r.place.path, responder.root), "line": r.place.line, "cells": cells}

    return {
        "ruleset": _ruleset_ref(responder),
        "event": {"code": event, "name": ruleset.events[event].name, "items": len(m.items)},
        "day": day.isoformat(),
        "cells": m.cells,
        "unit": "item x basic grid x source",
        "towns": [{"code": t.code, "name": t.name, "label": t.short, "level": t.level} for t in m.towns],
        "outcomes": [outcome(code, status) for code, status in m.outcomes],
        "entries": [
            {
                "town": e.town,
                "outcome": e.outcome,
                "cells": e.cells,
                "rules": [rule_ref(i, n) for i, n in e.rules[:RULES_PER_ENTRY]],
                "rules_total": len(e.rules),
            }
            for e in m.entries
        ],
    }


def coverage_document(responder: Responder, settings: Settings, at: str | None) -> dict:
    """The coverage map's document (what `dispatch coverage --format json` prints), with the history loaded at start."""
    day = _day(responder, at)

    def compute() -> dict:
        history, error = None, None
        if settings.cases:
            try:
                history = read_history(settings.cases, responder.dispatcher)
            except (HistoryError, OSError) as err:
                error = str(err)
        cmap = coverage_map(responder.dispatcher, day, history, settings.cases or None)
        return {**map_document(cmap, GAPS), "history_error": error}

    return _cache(responder).get(("coverage", day), compute)


def _ready(slot: Slot) -> Responder:
    responder = slot.responder
    if responder is None:
        raise Problem("service.not_ready", "the rule set is still loading", headers=[(b"retry-after", b"1")])
    return responder


def _json(doc: dict, responder: Responder) -> JSONResponse:
    return JSONResponse(doc, headers={"dispatch-ruleset": responder.version})


class ConsoleFiles(StaticFiles):
    """The console's static files, with a Content-Security-Policy of its own and no caching across versions."""

    async def __call__(self, scope, receive, send) -> None:
        async def with_csp(message: dict) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"content-security-policy", CONSOLE_CSP), (b"cache-control", b"no-cache")]
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await super().__call__(scope, receive, with_csp)


def add_catalogue(app: FastAPI, slot: Slot, settings: Settings, problems: dict) -> None:
    """Register the read-only /v1 views and mount /console."""
    tags = ["rule set"]

    @app.get("/v1/taxonomy", response_model=wire.Taxonomy, tags=tags, summary="The event taxonomy", responses=problems)
    async def taxonomy() -> JSONResponse:
        r = _ready(slot)
        return _json(await asyncio.to_thread(_cache(r).get, ("taxonomy",), lambda: taxonomy_document(r)), r)

    @app.get("/v1/areas", response_model=wire.Areas, tags=tags, summary="The area tree", responses=problems)
    async def areas() -> JSONResponse:
        r = _ready(slot)
        return _json(await asyncio.to_thread(_cache(r).get, ("areas",), lambda: areas_document(r)), r)

    @app.get(
        "/v1/departments",
        response_model=wire.Departments,
        tags=tags,
        summary="Departments, sources and command systems",
        responses=problems,
    )
    async def departments() -> JSONResponse:
        r = _ready(slot)
        return _json(departments_document(r), r)

    @app.get(
        "/v1/rules/{rule_id}",
        response_model=wire.RuleOut,
        tags=tags,
        summary="One rule: every field, its file and line",
        responses={**problems, 404: {"description": "no rule with this id", **problems[503]}},
    )
    async def rule(rule_id: str) -> JSONResponse:
        r = _ready(slot)
        return _json(rule_document(r, rule_id), r)

    @app.get(
        "/v1/matrix",
        response_model=wire.Matrix,
        tags=tags,
        summary="Where an event's cells go, town by town: departments or manual, and the deciding rules",
        responses={
            **problems,
            422: {
                "description": "an event code the rule set does not know (codes are data), or no ISO day",
                **problems[503],
            },
        },
    )
    async def matrix(
        event: str = Query(description="a taxonomy code: a work item, a subcategory or a category"),
        at: str | None = _at("the day (YYYY-MM-DD, default today in the rule set's zone)"),
    ) -> JSONResponse:
        r = _ready(slot)
        return _json(await asyncio.to_thread(matrix_document, r, event, at), r)

    @app.get(
        "/v1/coverage",
        response_model=wire.CoverageMap,
        tags=tags,
        summary="The coverage map by category x town, by cells and (with a history loaded at start) by cases",
        responses={**problems, 422: {"description": "not an ISO day", **problems[503]}},
    )
    async def coverage(
        at: str | None = _at("the day of the cell counts (YYYY-MM-DD, default today)"),
    ) -> JSONResponse:
        r = _ready(slot)
        return _json(await asyncio.to_thread(coverage_document, r, settings, at), r)

    @app.get("/console", include_in_schema=False)
    async def console_root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=308)

    app.mount("/console", ConsoleFiles(directory=CONSOLE_DIR, html=True), name="console")
