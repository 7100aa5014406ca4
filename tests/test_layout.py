"""The layout's one rule: core imports neither tools nor api nor a web framework; tools and api never each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dispatch"
WEB = ("fastapi", "starlette", "uvicorn", "pydantic", "httptools", "uvloop")
# room -> module prefixes it must never import
FORBIDDEN = {
    "dispatch.core": ("dispatch.tools", "dispatch.api", "dispatch.cli", "dispatch.synth", *WEB),
    "dispatch.tools": ("dispatch.api", "dispatch.cli", *WEB),
    "dispatch.api": ("dispatch.tools", "dispatch.cli"),
}


def imported_modules(source: str, module: str) -> set[str]:
    """Every module `source` imports, at any depth (function-level imports too), relative ones resolved."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")[: -node.level]
                base = ".".join(parent + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from dispatch import api`
    return found


def violations(source: str, module: str) -> list[str]:
    room = next((r for r in FORBIDDEN if module == r or module.startswith(r + ".")), None)
    if room is None:
        return []
    return sorted(
        f"{module} imports {name}"
        for name in imported_modules(source, module)
        for bad in FORBIDDEN[room]
        if name == bad or name.startswith(bad + ".")
    )


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_every_room_imports_only_what_it_may():
    files = sorted(PACKAGE.rglob("*.py"))
    assert any(module_name(f).startswith("dispatch.core.") for f in files)
    found = [v for f in files for v in violations(f.read_text(encoding="utf-8"), module_name(f))]
    assert found == []


@pytest.mark.parametrize(
    ("source", "module"),
    [
        ("from dispatch.api.responder import Responder", "dispatch.core.dispatcher"),
        ("def f():\n    from dispatch.tools.check.check import check_ruleset", "dispatch.core.analysis"),
        ("import fastapi", "dispatch.core.model"),
        ("from ...api import render", "dispatch.tools.coverage.page"),
        ("from dispatch import tools", "dispatch.api.app"),
    ],
)
def test_the_check_sees_each_kind_of_import(source, module):
    assert violations(source, module)


def test_allowed_imports_pass():
    assert violations("from dispatch.core.dispatcher import Dispatcher\nimport numpy", "dispatch.api.responder") == []
