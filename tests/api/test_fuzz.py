"""Fuzz the running service from its own OpenAPI description, with every check schemathesis has.

`schemathesis run --checks all` against the session's server, as a hostile client would run
it: the examples, coverage and fuzzing phases, valid and invalid requests, every answer
checked against the description (no server error, status codes, media types, headers and
bodies as declared; invalid data refused, valid data accepted; undeclared methods 405 with
Allow). The run is configured by schemathesis.toml beside this file (bounded: 150 cases per
operation and phase, about 5 s) and adds one check of ours (fuzz_checks.py): a schema-valid
case may be refused with 422 only for the codes it names, which are data, not schema.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")


def schemathesis_run(port: int, *args: str, schema: str | None = None) -> subprocess.CompletedProcess:
    """`schemathesis run --checks all` on the server at `port`, from its /openapi.json or from `schema` (a file)."""
    base = f"http://127.0.0.1:{port}"
    where = [schema, "--url", base] if schema else [base + "/openapi.json"]
    # from the repository's root: the config's hooks name the module tests.api.fuzz_checks
    argv = [sys.executable, "-m", "schemathesis.cli", "--no-color", "--config-file", str(CONFIG), "run"]
    return subprocess.run(
        [*argv, "--checks", "all", *args, *where], check=False, cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_every_check_passes_on_every_operation(server):
    run = schemathesis_run(server.settings.port)
    assert run.returncode == 0, run.stdout + run.stderr
    generated, passed = map(int, re.search(r"(\d+) generated, (\d+) passed", run.stdout).groups())
    assert generated == passed > 500, run.stdout


def test_a_schema_valid_case_refused_for_its_shape_fails_the_run(server, tmp_path):
    # the finding of issue 16: the description allowed "location": null and the intake refuses it.
    # With 422 allowed on /v1/dispatch, only the check of ours (loaded by the config's hooks) sees it
    doc = json.loads(server.client.get("/openapi.json").body)
    location = doc["components"]["schemas"]["CaseIn"]["properties"]["location"]
    location["anyOf"] = [{"$ref": location.pop("$ref")}, {"type": "null"}]
    schema = tmp_path / "openapi.json"
    schema.write_text(json.dumps(doc))
    run = schemathesis_run(
        server.settings.port,
        "--phases",
        "coverage",
        "--include-path",
        "/v1/dispatch",
        schema=str(schema),
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "refused_only_for_its_data" in run.stdout
    assert '"location": null' in run.stdout
