"""What a check reports: immutable diagnostics with their severity and source location."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return ("info", "warning", "error").index(self.value)


@dataclass(frozen=True, slots=True)
class Location:
    """A line in a source file (a model definition); ONNX nodes have none."""

    path: str
    line: int


@dataclass(frozen=True, slots=True)
class Finding:
    """What a rule yields: the engine adds the code, name, severity, target and model path."""

    node: str | None  # the node the finding is about; None for whole-model findings
    message: str  # what is wrong, with the numbers that make it true
    fix: str  # a concrete change
    saving_s: float = 0.0  # predicted time the fix saves on the target, from re-costing
    severity: Severity | None = None  # overrides the rule's severity for this target class


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    name: str
    severity: Severity
    target: str
    path: str
    node: str | None
    message: str
    fix: str
    saving_s: float
    location: Location | None = None
