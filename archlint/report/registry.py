"""Every output format the built-ins and plugins register, by name."""

from __future__ import annotations

from archlint.errors import UsageError
from archlint.plugins.registry import Registry
from archlint.report.base import Reporter

REPORTERS: Registry[type[Reporter]] = Registry(
    "archlint_register_reporters", "output format", keys=lambda reporter: (reporter.name,)
)


def registered_reporters() -> dict[str, type[Reporter]]:
    return {entry.item.name: entry.item for entry in REPORTERS.entries()}


def reporter_for(name: str) -> type[Reporter]:
    entry = REPORTERS.get(name)
    if entry is None:
        choices = ", ".join(sorted(registered_reporters()))
        raise UsageError(f"unknown --format {name!r}; choose from {choices}")
    return entry.item
