"""What a rule repository's CI uses: the pre-commit hooks name real commands, the docs' workflow runs them."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from dispatch.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
HOOKS = ROOT / ".pre-commit-hooks.yaml"
DOC = ROOT / "docs" / "rule-repo-ci.md"


def parse_hooks(text: str) -> list[dict[str, object]]:
    """The subset of YAML a hooks file uses: a top-level list of flat mappings, scalars and [flow, lists].

    Fails on anything else (nesting, anchors, multi-line scalars), so that the file stays plain.
    """
    hooks: list[dict[str, object]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = re.fullmatch(r"(- |  )([a-z_]+): (.+)", line)
        assert m, f"line {number}: not a 'key: value' of a list item: {line!r}"
        if m.group(1) == "- ":
            hooks.append({})
        assert hooks, f"line {number}: a key before the first '- '"
        key, raw = m.group(2), m.group(3).strip()
        assert key not in hooks[-1], f"line {number}: {key} twice"
        assert not raw.startswith(("&", "*", "|", ">", "{", "'", '"')), f"line {number}: keep values plain"
        if raw.startswith("["):
            assert raw.endswith("]"), f"line {number}: unclosed list"
            value: object = [v.strip() for v in raw[1:-1].split(",") if v.strip()]
        elif raw in ("true", "false"):
            value = raw == "true"
        else:
            value = raw
        hooks[-1][key] = value
    return hooks


def commands() -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return set(sub.choices)


def test_hooks_file_names_commands_that_exist():
    hooks = parse_hooks(HOOKS.read_text(encoding="utf-8"))
    assert [h["id"] for h in hooks] == ["dispatch-check", "dispatch-test"]
    for hook in hooks:
        assert {"id", "name", "entry", "language", "pass_filenames", "files"} <= set(hook)
        assert hook["language"] == "python" and hook["pass_filenames"] is False
        program, command = str(hook["entry"]).split()
        assert program == "dispatch" and command in commands() and hook["id"] == f"dispatch-{command}"
        files = re.compile(str(hook["files"]))
        assert files.search("rules/daxing/rules/local.csv") and files.search("ruleset.toml")
        assert not files.search("README.md")
        # the default args parse as the command's own arguments
        build_parser().parse_args([command, *hook.get("args", [])])


def test_parser_refuses_what_it_does_not_read():
    for bad in ("- id: x\n    nested: y\n", "- id: &anchor x\n", "  id: x\n"):
        try:
            parse_hooks(bad)
        except AssertionError:
            continue
        raise AssertionError(f"accepted {bad!r}")


def test_ci_doc_workflow_runs_check_test_and_diff():
    text = DOC.read_text(encoding="utf-8")
    workflow = re.search(r"```yaml\nname: rules\n(.*?)```", text, re.DOTALL).group(1)
    assert "fetch-depth: 0" in workflow and "git worktree add" in workflow
    assert re.search(r"dispatch check \S+ --format github", workflow)
    assert re.search(r"dispatch test \S+ --cases \S+ --junit golden.xml", workflow)
    assert re.search(r"dispatch diff \S+ \S+ --cases \S+ \\\n\s+--format markdown --max-moved \d+", workflow)
    assert "gh pr comment" in workflow and "GITHUB_STEP_SUMMARY" in workflow
    # every dispatch command the workflow runs parses as `dispatch` itself reads its arguments
    runs = [m.replace("\\\n", " ") for m in re.findall(r"^\s+(?:run: )?(dispatch (?:.*\\\n)*.*)$", workflow, re.MULTILINE)]
    assert [shlex.split(r)[1] for r in runs] == ["check", "test", "diff"]
    for run in runs:
        argv = shlex.split(run.split(" > ")[0])[1:]
        build_parser().parse_args(argv)  # exits (SystemExit) on an option the command does not have
