"""What every output format receives, and the base class reporters derive from."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from archlint.analysis.analysis import Analysis
from archlint.lint.diagnostics import Diagnostic, Severity
from archlint.lint.rule import RegisteredRule


@dataclass(frozen=True)
class CheckReport:
    analyses: tuple[Analysis, ...]  # one per model, each with a prediction per target
    diagnostics: tuple[Diagnostic, ...]
    rules: Mapping[str, RegisteredRule]  # every registered rule, by code (for rule metadata)
    targets: tuple[str, ...]
    fail_level: Severity

    @property
    def failing(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity.rank >= self.fail_level.rank)


class Reporter(ABC):
    """An output format: ``archlint check --format NAME``."""

    name: ClassVar[str]
    description: ClassVar[str]

    def __init__(self, color: bool = False, width: int | None = None) -> None:
        self.color = color
        self.width = width

    @abstractmethod
    def render(self, report: CheckReport) -> str:
        """The whole output for ``report``, as text."""
