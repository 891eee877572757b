"""Every output format the built-ins and plugins register, by name."""

from __future__ import annotations

import functools

from archlint.errors import ArchlintError, UsageError
from archlint.report.base import Reporter


@functools.cache
def registered_reporters() -> dict[str, type[Reporter]]:
    from archlint.plugins import plugin_manager

    reporters: dict[str, type[Reporter]] = {}

    def register(reporter: type[Reporter]) -> None:
        if reporter.name in reporters:
            raise ArchlintError(f"output format {reporter.name!r} is registered twice")
        reporters[reporter.name] = reporter

    plugin_manager().hook.archlint_register_reporters(register=register)
    return reporters


def reporter_for(name: str) -> type[Reporter]:
    reporters = registered_reporters()
    if name not in reporters:
        raise UsageError(f"unknown --format {name!r}; choose from {', '.join(sorted(reporters))}")
    return reporters[name]
