"""docs/archlint-workflow.yml and docs/github-actions.md cannot drift from archlint: the workflow
is a pull-request workflow with the permissions its steps need, and every ``archlint`` command in
it or on the page parses with archlint's own argument parser."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from archlint.cli import _with_default_command, build_parser

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "docs" / "archlint-workflow.yml"
GUIDE = ROOT / "docs" / "github-actions.md"
# Where a shell command line ends and the next begins (pipes, lists, `|| [ $? -eq 1 ]`).
_SEPARATOR = re.compile(r"\s(?:\|\||&&|\||;)\s")


def workflow() -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    return document


def steps() -> list[dict[str, Any]]:
    return [step for job in workflow()["jobs"].values() for step in job["steps"]]


def archlint_commands(shell: str) -> list[str]:
    lines = shell.replace("\\\n", " ").splitlines()
    return [
        part.strip()
        for line in lines
        for part in _SEPARATOR.split(line)
        if part.strip().startswith("archlint ")
    ]


def guide_commands() -> list[str]:
    blocks = re.findall(r"```(?:bash|yaml)\n(.*?)```", GUIDE.read_text(), re.S)
    return [command for block in blocks for command in archlint_commands(block)]


def workflow_commands() -> list[str]:
    return [command for step in steps() if "run" in step for command in archlint_commands(step["run"])]


def test_is_a_pull_request_workflow_with_the_permissions_it_needs() -> None:
    document = workflow()
    on = document.get("on", document.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "pull_request" in on
    assert document["permissions"]["security-events"] == "write"  # upload-sarif
    assert document["permissions"]["pull-requests"] == "write"  # gh pr comment
    for step in steps():
        assert ("uses" in step) != ("run" in step), step
    uses = {step["uses"].split("@")[0] for step in steps() if "uses" in step}
    assert {"actions/checkout", "github/codeql-action/upload-sarif"} <= uses


def test_the_workflow_uses_every_pull_request_output() -> None:
    commands = " ".join(workflow_commands())
    for needed in ("--format sarif", "--format github", "--format rdjson", "archlint diff", "--baseline"):
        assert needed in commands
    runs = " ".join(step.get("run", "") for step in steps())
    assert "gh pr comment" in runs and "--body-file diff.md" in runs
    sarif = next(
        step for step in steps() if step.get("uses", "").startswith("github/codeql-action/upload-sarif")
    )
    assert sarif["with"]["sarif_file"] == "archlint.sarif"


@pytest.mark.parametrize("command", workflow_commands() + guide_commands())
def test_every_archlint_command_parses(command: str) -> None:
    argv = shlex.split(command)[1:]
    try:
        args = build_parser().parse_args(_with_default_command(argv))
    except SystemExit as exc:
        pytest.fail(f"`{command}` does not parse (exit {exc.code})")
    if args.command == "check" and args.format:
        from archlint.report.registry import reporter_for

        reporter_for(args.format)  # a format argparse cannot check: the reporters are plugins


def test_the_commands_were_found() -> None:
    assert len(workflow_commands()) >= 4 and len(guide_commands()) >= 6
