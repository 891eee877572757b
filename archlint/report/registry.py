"""Every output format the built-ins and plugins register, by name."""

from __future__ import annotations

import functools

from archlint.errors import ArchlintError, UsageError
from archlint.report.base import Reporter


@functools.cache
def registered_reporters() -> dict[str, type[Reporter]]:
    from archlint.plugins.manager import call_register_hook

    reporters: dict[str, type[Reporter]] = {}

    def register(reporter: type[Reporter]) -> None:
        if reporter.name in reporters:
            raise ArchlintError(f"output format {reporter.name!r} is registered twice")
        reporters[reporter.name] = reporter

    call_register_hook("archlint_register_reporters", "output formats", lambda _label: register)
    return reporters


def reporter_for(name: str) -> type[Reporter]:
    reporters = registered_reporters()
    if name not in reporters:
        raise UsageError(f"unknown --format {name!r}; choose from {', '.join(sorted(reporters))}")
    return reporters[name]
