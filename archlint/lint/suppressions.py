"""``# archlint: noqa`` comments on model source lines, and the ones that silence nothing.

A finding placed on a source line (see source_locations) is silenced by a comment on that line:
``# archlint: noqa: AL101`` (codes or rule names, comma-joined) silences those rules, a bare
``# archlint: noqa`` every rule. As ruff's RUF100, a comment (or a code in it) that silences
nothing on any target is itself reported, as AL001 unused-noqa, so stale suppressions do not
outlive the layer they were written for. Only lines that some node of the checked model comes
from are examined: a file shared by several models is not blamed for the others' lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from archlint.lint.diagnostics import Diagnostic, Location, Severity

UNUSED_CODE = "AL001"
UNUSED_NAME = "unused-noqa"
_NOQA = re.compile(r"#\s*archlint:\s*noqa(?::\s*(?P<codes>[\w-]+(?:\s*,\s*[\w-]+)*))?", re.IGNORECASE)


@dataclass(frozen=True)
class Noqa:
    location: Location
    codes: tuple[str, ...]  # empty: every rule

    def silences(self, diagnostic: Diagnostic) -> bool:
        return not self.codes or diagnostic.code in self.codes or diagnostic.name in self.codes


def parse(line: str) -> tuple[str, ...] | None:
    """The codes of the noqa comment on ``line`` (empty: every rule), or None without one."""
    match = _NOQA.search(line)
    if match is None:
        return None
    codes = match["codes"]
    return tuple(c.strip() for c in codes.split(",")) if codes else ()


def find(locations: Iterable[Location], root: Path) -> dict[Location, Noqa]:
    """The noqa comments on ``locations`` (paths relative to ``root``), reading each file once."""
    lines_of: dict[str, list[str]] = {}
    found: dict[Location, Noqa] = {}
    for location in set(locations):
        if location.path not in lines_of:
            lines_of[location.path] = _read_lines(root / location.path)
        lines = lines_of[location.path]
        if 0 < location.line <= len(lines):
            codes = parse(lines[location.line - 1])
            if codes is not None:
                found[location] = Noqa(location, codes)
    return found


def _read_lines(file: Path) -> list[str]:
    try:
        return file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:  # deleted since the export: nothing can be silenced there
        return []


def apply(
    diagnostics: Sequence[Diagnostic], comments: dict[Location, Noqa]
) -> tuple[list[Diagnostic], set[str]]:
    """The diagnostics no comment silences, and "path:line:code" for every code that silenced one."""
    kept: list[Diagnostic] = []
    used: set[str] = set()
    for diagnostic in diagnostics:
        comment = comments.get(diagnostic.location) if diagnostic.location else None
        if comment is not None and comment.silences(diagnostic):
            used.add(_use(comment.location, diagnostic.code))
            used.add(_use(comment.location, diagnostic.name))
            used.add(_use(comment.location, "*"))
            continue
        kept.append(diagnostic)
    return kept, used


def _use(location: Location, code: str) -> str:
    return f"{location.path}:{location.line}:{code}"


def unused(
    comments: dict[Location, Noqa], used: set[str], model: str, targets: Sequence[str]
) -> list[Diagnostic]:
    """One AL001 per comment that silenced nothing, or that lists codes that silenced nothing."""
    found = []
    for location, comment in sorted(comments.items(), key=lambda item: (item[0].path, item[0].line)):
        if not comment.codes:
            idle = [] if _use(location, "*") in used else ["(every rule)"]
        else:
            idle = [code for code in comment.codes if _use(location, code) not in used]
        if idle:
            found.append(_unused_diagnostic(location, idle, model, targets))
    return found


def _unused_diagnostic(location: Location, idle: list[str], model: str, targets: Sequence[str]) -> Diagnostic:
    what = (
        "`# archlint: noqa`"
        if idle == ["(every rule)"]
        else f"noqa code{'s' * (len(idle) > 1)} {', '.join(idle)}"
    )
    return Diagnostic(
        code=UNUSED_CODE,
        name=UNUSED_NAME,
        severity=Severity.WARNING,
        target=targets[0] if targets else "",
        path=model,
        node=None,
        message=f"unused {what}: nothing is reported on this line on {', '.join(targets) or 'any target'}",
        fix="remove the comment, or the codes in it that silence nothing",
        saving_s=0.0,
        location=location,
    )
