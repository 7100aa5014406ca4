"""The error tree: diagnostics with a stable code and a place, and the exceptions that carry them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True, order=True)
class Place:
    """Where a diagnostic points: a file, and a 1-based line and column (0 when unknown)."""

    path: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line and self.col:
            return f"{self.path}:{self.line}:{self.col}"
        if self.line:
            return f"{self.path}:{self.line}"
        return self.path


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in a rule set.

    `code` is stable and dotted (`rule.unknown_area`): CI output and clients depend on it.
    """

    code: str
    message: str
    place: Place
    severity: Severity = Severity.ERROR

    def sort_key(self) -> tuple:
        return (self.place.path, self.place.line, self.place.col, self.code, self.message)

    def __str__(self) -> str:
        tag = "" if self.severity is Severity.ERROR else "warning: "
        return f"{self.place}: {tag}{self.code}: {self.message}"


def sorted_diagnostics(diagnostics) -> list[Diagnostic]:
    return sorted(diagnostics, key=Diagnostic.sort_key)


class DispatchError(Exception):
    """Root of every error the core raises on purpose."""

    code = "dispatch.error"


class FileError(DispatchError):
    """Input files that cannot be used: carries every error found in them, sorted."""

    code = "file.invalid"
    what = "input"

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = sorted_diagnostics(diagnostics)
        errors = [d for d in self.diagnostics if d.severity is Severity.ERROR]
        # a file that cannot be read explains the errors that follow from it: name it first
        first = sorted(errors, key=lambda d: not d.code.startswith(("manifest.", "file.", "csv.")))
        head = "; ".join(str(d) for d in first[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        super().__init__(f"{len(errors)} error(s) in {self.what}: {head}{more}")


class RuleSetError(FileError):
    """A rule set that cannot be used."""

    code = "ruleset.invalid"
    what = "rule set"


class HistoryError(FileError):
    """A case-history file that cannot be read."""

    code = "history.invalid"
    what = "case history"


class CaseError(DispatchError):
    """A case that cannot be dispatched as sent: names the field and the bad value."""

    def __init__(self, code: str, field: str, value: object, message: str):
        self.code = code
        self.field = field
        self.value = value
        super().__init__(message)
