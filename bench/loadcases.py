"""Load cases: the request bodies the load kit sends, built before the run, and the checks of every answer.

Needs no locust (the tests import it). Good cases come from the synthetic case history
(dispatch.synth.cases), so that items, areas and sources mix as in real traffic; each
calling system gets the cases of its own sources. The deliberate bad requests carry the
answer they must get: status, problem `code`, and the JSON pointer of the bad field.

A check returns None when the answer is right, else a short message that names what is
wrong; the messages carry no ids or values, so that failures group by kind.
"""

from __future__ import annotations

import csv
import random
import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from dispatch.synth.cases import generate_cases, read_reference

FIELDS = ("id", "event", "area", "source", "reported_at")
STATUSES = ("auto", "provisional", "manual")
JSON = "application/json"
PROBLEM = "application/problem+json"
# each calling system and the sources of the cases it sends
SYSTEM_SOURCES = {"grid": ("grid", "supervisor"), "hotline": ("12345",), "safety": ("safety",)}
HOTLINE_TOWN_SHARE = 0.6  # 12345 callers often know only the town: at least this share is sent at town level
NO_SUCH_EVENT = "99999999"
NO_SUCH_AREA = "999999999999"
NO_SUCH_SOURCE = "fax"
PAUSE_EVERY = 100  # batch members checked between two pauses


@dataclass(frozen=True, slots=True)
class Single:
    """One good case and its request body."""

    case: dict
    body: bytes


@dataclass(frozen=True, slots=True)
class Bad:
    """A deliberate bad request and the answer it must get (field None: the problem names no field)."""

    kind: str
    body: bytes
    status: int
    code: str
    field: str | None


@dataclass(frozen=True, slots=True)
class Batch:
    """A batch body, its cases, and the members that are bad on purpose: index -> expected problem code."""

    cases: list
    body: bytes
    bad: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Areas:
    """The area tree, enough to lift an area to its town (the level below the root)."""

    parent: dict[str, str]

    def town_of(self, code: str) -> str:
        chain = [code]
        while self.parent.get(chain[-1]):
            chain.append(self.parent[chain[-1]])
        return chain[-2] if len(chain) >= 2 else code

    def is_town(self, code: str) -> bool:
        return self.town_of(code) == code and bool(self.parent.get(code))


def read_areas(rules_dir: str | Path) -> Areas:
    root = Path(rules_dir)
    manifest = tomllib.loads((root / "ruleset.toml").read_text(encoding="utf-8-sig"))
    with (root / manifest["areas"]).open(encoding="utf-8-sig", newline="") as f:
        return Areas({r["code"].strip(): (r.get("parent") or "").strip() for r in csv.DictReader(f)})


def case_history(rules_dir: str | Path, n: int, seed: int = 5) -> list[dict]:
    """`n` cases of the synthetic history of the rule set in `rules_dir`, as dicts in wire order."""
    columns = generate_cases(read_reference(rules_dir), n, seed)
    return [dict(zip(FIELDS, row)) for row in zip(*(columns[f].tolist() for f in FIELDS))]


def by_system(cases: Sequence[dict]) -> dict[str, list[dict]]:
    """The cases each calling system sends, by its sources (SYSTEM_SOURCES); "all" holds every case."""
    pools = {name: [c for c in cases if c["source"] in sources] for name, sources in SYSTEM_SOURCES.items()}
    pools["all"] = list(cases)
    return pools


def lift_to_town(cases: Sequence[dict], areas: Areas, share: float, rng: random.Random) -> list[dict]:
    """The cases with enough of them moved up to their town that at least `share` are at town level."""
    out = [dict(c) for c in cases]
    below = [c for c in out if not areas.is_town(c["area"])]
    missing = round(share * len(out)) - (len(out) - len(below))
    for c in rng.sample(below, max(0, min(missing, len(below)))):
        c["area"] = areas.town_of(c["area"])
    return out


def town_share(cases: Sequence[dict], areas: Areas) -> float:
    return sum(areas.is_town(c["area"]) for c in cases) / max(1, len(cases))


def body_of(doc: object) -> bytes:
    return orjson.dumps(doc)


def singles(cases: Sequence[dict]) -> list[Single]:
    return [Single(c, body_of(c)) for c in cases]


def bad_requests(case: dict) -> list[Bad]:
    """Every kind of deliberate bad request, built from one good case."""
    good = body_of(case)
    no_source = {k: v for k, v in case.items() if k != "source"}
    return [
        Bad("malformed_json", good[: len(good) // 2], 400, "request.malformed_json", None),
        Bad("unknown_event", body_of({**case, "event": NO_SUCH_EVENT}), 422, "request.unknown_event", "/event"),
        Bad("unknown_area", body_of({**case, "area": NO_SUCH_AREA}), 422, "request.unknown_area", "/area"),
        Bad("unknown_source", body_of({**case, "source": NO_SUCH_SOURCE}), 422, "request.unknown_source", "/source"),
        Bad("missing_field", body_of(no_source), 422, "request.invalid", "/source"),
        Bad("wrong_type", body_of({**case, "area": 110115}), 422, "request.invalid", "/area"),
    ]


# the bad members a batch may carry: how to spoil a case, and the code its error must have
_BAD_MEMBERS = (
    (lambda c: {**c, "event": NO_SUCH_EVENT}, "request.unknown_event"),
    (lambda c: {**c, "area": NO_SUCH_AREA}, "request.unknown_area"),
    (lambda c: {k: v for k, v in c.items() if k != "event"}, "request.invalid"),
)


def batches(cases: Sequence[dict], sizes: tuple[int, int], n: int, bad_share: float, rng: random.Random) -> list[Batch]:
    """`n` batches of `sizes` (min, max) cases drawn from `cases`; a batch holds a bad member with
    probability `bad_share` x its size, at most a few."""
    out = []
    for _ in range(n):
        size = rng.randint(*sizes)
        members = [dict(c) for c in rng.choices(cases, k=size)]
        bad: dict[int, str] = {}
        n_bad = min(3, sum(rng.random() < bad_share for _ in range(size)))
        for i in rng.sample(range(size), n_bad):
            spoil, code = rng.choice(_BAD_MEMBERS)
            members[i] = spoil(members[i])
            bad[i] = code
        out.append(Batch(members, body_of({"cases": members}), bad))
    return out


# -- checks ----------------------------------------------------------------------------


def _unit_error(unit: object, what: str) -> str | None:
    if type(unit) is not dict or not unit.get("code") or not isinstance(unit.get("name"), str):
        return f"{what} is not a {{code, name}}"
    return None


def decision_error(doc: object, case: dict) -> str | None:
    """What is wrong with the decision `doc` answered for `case`, or None."""
    if type(doc) is not dict:
        return "a decision is not an object"
    if doc.get("id") != case["id"]:
        return "the answer's id is not the case's"
    status = doc.get("status")
    if status not in STATUSES:
        return "status is not auto, provisional or manual"
    department, rule = doc.get("department"), doc.get("rule")
    if status == "manual":
        if department is not None:
            return "manual answer with a department"
        if rule is not None:
            return "manual answer with a rule"
    else:
        if department is None:
            return f"{status} answer without a department"
        if err := _unit_error(department, "department"):
            return err
    if status == "auto" and (type(rule) is not dict or not rule.get("id") or not rule.get("basis")):
        return "auto answer without a rule id and basis"
    if status == "provisional" and (rule is not None or doc.get("difficult") is not True):
        return "provisional answer with a rule, or without the difficult-case flag"
    if type(doc.get("difficult")) is not bool:
        return "difficult is not a boolean"
    deadline = doc.get("deadline")
    if deadline is not None:
        if type(deadline) is not dict or not _DEADLINE.fullmatch(str(deadline.get("value"))):
            return "deadline without a value such as 4h, 4wh or 2wd"
        if type(deadline.get("provisional")) is not bool:
            return "deadline's provisional is not a boolean"
        if deadline.get("origin") not in ("rule", "item"):
            return "deadline origin is not rule or item"
        due = deadline.get("due")
        if status == "manual" and due is not None:
            return "manual answer with a due time"
        if status != "manual" and case.get("reported_at") and not isinstance(due, str):
            return "dispatched answer without a due time"
    co = doc.get("co_handlers")
    if type(co) is not list or any(_unit_error(u, "co-handler") for u in co):
        return "co_handlers is not a list of {code, name}"
    path = doc.get("area_path")
    if type(path) is not list or not path or path[-1] != case["area"]:
        return "area_path does not end at the case's area"
    if not isinstance(doc.get("ruleset"), str) or not doc["ruleset"]:
        return "no rule-set version"
    return None


_DEADLINE = re.compile(r"[0-9]+(\.[0-9]{1,2})?(h|wh|wd)")


def _media(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _document(status: int, content_type: str | None, body: bytes, want_status: int, want_media: str):
    """(the JSON document, None) when status and media type are as wanted, else (None, what is wrong)."""
    if status != want_status:
        return None, f"HTTP {status}, expected {want_status}" + (" (no answer)" if status == 0 else "")
    if _media(content_type) != want_media:
        return None, f"content type {_media(content_type) or 'missing'}, expected {want_media}"
    try:
        return orjson.loads(body), None
    except orjson.JSONDecodeError:
        return None, "the body is not JSON"


def single_error(status: int, content_type: str | None, body: bytes, case: dict,
                 ruleset_header: str | None = None) -> str | None:  # fmt: skip
    """What is wrong with the answer to a good single case, or None."""
    doc, err = _document(status, content_type, body, 200, JSON)
    if err:
        return err
    if err := decision_error(doc, case):
        return err
    if ruleset_header is not None and ruleset_header != doc["ruleset"]:
        return "the Dispatch-Ruleset header is not the answer's rule set"
    return None


def problem_error(status: int, content_type: str | None, body: bytes, bad: Bad) -> str | None:
    """What is wrong with the answer to a deliberate bad request, or None."""
    doc, err = _document(status, content_type, body, bad.status, PROBLEM)
    if err:
        return f"{bad.kind}: {err}"
    return _problem_doc_error(doc, bad.status, bad.code, bad.field, bad.kind)


def _problem_doc_error(doc: object, status: int, code: str, field: str | None, kind: str) -> str | None:
    if type(doc) is not dict:
        return f"{kind}: the problem is not an object"
    if doc.get("code") != code:
        return f"{kind}: problem code {doc.get('code')!r}, expected {code!r}"
    if doc.get("status") != status or doc.get("type") != "urn:dispatch:problem:" + code:
        return f"{kind}: problem status or type does not match its code"
    errors = doc.get("errors")
    if type(errors) is not list:
        return f"{kind}: problem without an errors list"
    if field is not None and not any(type(e) is dict and e.get("field") == field for e in errors):
        return f"{kind}: the problem does not name the field {field}"
    return None


def batch_error(status: int, content_type: str | None, body: bytes, batch: Batch,
                pause: Callable[[], None] | None = None) -> str | None:  # fmt: skip
    """What is wrong with the answer to a batch, or None: every member checked, bad ones for their code.

    `pause` is called every PAUSE_EVERY members: the locustfile passes gevent's sleep(0), so
    that checking a large batch does not hold up the clocks of the other users' requests."""
    doc, err = _document(status, content_type, body, 200, JSON)
    if err:
        return err
    results = doc.get("results") if type(doc) is dict else None
    if type(results) is not list:
        return "a batch answer without results"
    if len(results) != len(batch.cases):
        return "a batch answer with another number of results than cases"
    wrong: dict[str, int] = {}
    for i, (result, case) in enumerate(zip(results, batch.cases)):
        if pause is not None and i % PAUSE_EVERY == PAUSE_EVERY - 1:
            pause()
        code = batch.bad.get(i)
        if code is None:
            e = decision_error(result, case)
        elif type(result) is not dict or set(result) != {"id", "error"} or result["id"] != case.get("id"):
            e = "a bad member's answer is not {id, error}"
        else:
            e = _problem_doc_error(result["error"], 422, code, None, "bad member")
        if e:
            wrong[e] = wrong.get(e, 0) + 1
    if wrong:
        return f"batch member: {next(iter(wrong))}"
    return None
