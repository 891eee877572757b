"""``--format github``: GitHub Actions workflow commands, one annotation per finding.

    ::warning file=models/net.onnx,line=1,title=AL101 channel-alignment [a100]::models/net.onnx:conv_2: ...

A step that runs ``archlint check --format github`` turns every finding into an annotation on the
pull request's files. Findings on an ONNX node have no source line, so they are put on line 1 of
the model file (the node is named in the message); findings with a source location (a model
definition) are put on their line.
"""

from __future__ import annotations

from archlint import units
from archlint.lint.diagnostics import Diagnostic, Severity
from archlint.report.base import CheckReport, Reporter
from archlint.report.concise import where

# GitHub has three annotation levels; "notice" is its name for information.
COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    """The message after ``::``: as the Actions toolkit escapes it (``%`` first, or it escapes twice)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A ``key=value`` before ``::``: ``:`` and ``,`` would end the value, so they are escaped too."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(d: Diagnostic) -> str:
    location = d.location
    properties = {
        "file": location.path if location else d.path,
        "line": str(location.line if location else 1),
        "title": f"{d.code} {d.name} [{d.target}]",
    }
    joined = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    saving = f" (saves {units.seconds(d.saving_s)} on {d.target})" if d.saving_s > 0 else ""
    message = f"{where(d)}: {d.message} Fix: {d.fix}{saving}"
    return f"::{COMMAND[d.severity]} {joined}::{escape_data(message)}"


class GithubReporter(Reporter):
    name = "github"
    description = "GitHub Actions annotations (workflow commands)"

    def render(self, report: CheckReport) -> str:
        return "".join(annotation(each) + "\n" for d in report.diagnostics for each in d.at_each_place())
