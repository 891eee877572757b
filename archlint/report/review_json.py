"""``--format review-json``: the body of GitHub's "create a review for a pull request" request.

    archlint check models.py::net --format review-json --output-file review.json
    gh api repos/{owner}/{repo}/pulls/123/reviews --input review.json

The document is the JSON body of ``POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews``
(https://docs.github.com/en/rest/pulls/reviews#create-a-review-for-a-pull-request): ``event``
``COMMENT`` (archlint informs; the exit code, not the review, is what blocks a merge), a ``body``
and ``comments`` [{``path``, ``line``, ``side``, ``body``}]. archlint makes no network call.

Only findings with a source location (a model definition) become line comments: a binary ONNX
file has no line a reviewer can comment on. Findings on the same line (one layer on several
targets, or several rules on one layer) are merged into one comment, so a line carries one thread.
Findings without a location are listed in the review's body, under the summary. GitHub refuses the
whole review when a comment's line is not part of the pull request's diff: run it on the lines the
pull request changes, or use ``--format github`` (annotations are never refused).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from archlint import units
from archlint.lint.diagnostics import Diagnostic
from archlint.report.base import CheckReport, Reporter
from archlint.report.markdown import code, findings_section, headline, per_target, text


def comment_text(d: Diagnostic) -> str:
    node = f" · node {code(d.node)}" if d.node else ""
    saving = f" Saves {units.seconds(d.saving_s)} on {code(d.target)}." if d.saving_s > 0 else ""
    return (
        f"**{d.code} {text(d.name)}** · {d.severity.value} on {code(d.target)}{node}\n\n"
        f"{text(d.message)}\n\nFix: {text(d.fix)}{saving}"
    )


def line_comments(findings: Iterable[Diagnostic]) -> list[dict[str, Any]]:
    """One comment per (path, line), findings in report order, comments in file order."""
    by_line: dict[tuple[str, int], list[Diagnostic]] = {}
    for d in (each for found in findings for each in found.at_each_place()):
        if d.location is not None:
            by_line.setdefault((d.location.path, d.location.line), []).append(d)
    return [
        {"path": path, "line": line, "side": "RIGHT", "body": "\n\n---\n\n".join(map(comment_text, found))}
        for (path, line), found in sorted(by_line.items())
    ]


def body(report: CheckReport, commented: int) -> str:
    parts = [headline(report), per_target(report)]
    unplaced = [d for d in report.diagnostics if d.location is None]
    if unplaced:
        parts.append(findings_section(unplaced, several_models=len({d.path for d in unplaced}) > 1))
    if commented:
        parts.append(f"{commented} finding{'s' if commented != 1 else ''} commented on the lines below.")
    return "\n\n".join(parts) + "\n"


class ReviewJsonReporter(Reporter):
    name = "review-json"
    description = "the body of GitHub's create-a-review request: line comments and a summary"

    def render(self, report: CheckReport) -> str:
        comments = line_comments(report.diagnostics)
        commented = sum(d.location is not None for d in report.diagnostics)
        document = {"event": "COMMENT", "body": body(report, commented), "comments": comments}
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
