"""`dispatch init`: a small, valid, commented rule set written into a new directory, to edit into one's own."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

EXAMPLES = ("minimal", "daxing")  # minimal: an English city from scratch; daxing: two towns of Beijing Daxing


class InitError(Exception):
    """The directory cannot take an example: it holds files, or cannot be written."""


def _files(node: Traversable, prefix: str = ""):
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        name = f"{prefix}{child.name}"
        if child.is_dir():
            yield from _files(child, f"{name}/")
        elif not child.name.startswith((".", "__")) and not child.name.endswith(".pyc"):
            yield name, child


def example_files(example: str) -> dict[str, bytes]:
    """The files of an example rule set, by path relative to its directory."""
    if example not in EXAMPLES:
        raise InitError(f"no example {example!r} (there are: {', '.join(EXAMPLES)})")
    root = resources.files(__package__).joinpath("examples", example)
    return {name: node.read_bytes() for name, node in _files(root)}


def init_ruleset(directory: str | Path, example: str = "minimal") -> list[Path]:
    """Write the example rule set into `directory` (created; it must be empty if it exists); the paths written.

    Nothing is overwritten: a directory that already holds anything is refused whole.
    """
    target = Path(directory)
    files = example_files(example)
    if target.exists() and not target.is_dir():
        raise InitError(f"{target}: exists and is not a directory")
    if target.is_dir() and any(target.iterdir()):
        raise InitError(f"{target}: not empty; give a new or empty directory (nothing was written)")
    written = []
    try:
        for name, data in files.items():
            path = target / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            written.append(path)
    except OSError as err:
        raise InitError(f"{target}: cannot write: {err.strerror or err}") from None
    return written
