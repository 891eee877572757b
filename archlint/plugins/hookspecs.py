"""The plugin contract: every hook archlint calls, typed and documented.

Plugins are modules or packages advertised under the ``archlint`` entry-point group; they
implement hooks with ``@archlint.hookimpl``. Each hook receives a ``register`` callback so one
plugin can add many things; the core rejects duplicates with an error naming both plugins.
Built-ins (the profiles in hardware/) register through exactly the same hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from archlint.lint.rule import Rule
    from archlint.model.loader import Loader
    from archlint.report.base import Reporter
    from archlint.targets.profile import HardwareProfile

hookspec = pluggy.HookspecMarker("archlint")


@hookspec
def archlint_register_hardware(register: Callable[[HardwareProfile], None]) -> None:
    """Register hardware profiles: call ``register(profile)`` once per profile.

    Profiles are usually loaded from YAML with ``archlint.targets.profile.load_profile``; names and
    aliases must be unique across all plugins.
    """


@hookspec
def archlint_register_rules(register: Callable[[type[Rule]], None]) -> None:
    """Register rule classes: call ``register(RuleClass)`` once per rule.

    Codes and names must be unique across all plugins; plugin rules use their own code prefix
    (not ``AL``).
    """


@hookspec
def archlint_register_reporters(register: Callable[[type[Reporter]], None]) -> None:
    """Register output formats: call ``register(ReporterClass)``; ``--format NAME`` selects one."""


@hookspec
def archlint_register_loaders(register: Callable[[Loader], None]) -> None:
    """Register model loaders: call ``register(loader)`` with an ``archlint.model.loader.Loader``.

    A loader claims the model references it can read (a file suffix, a ``file.py::factory``)
    and turns one into an ONNX ModelProto; archlint does the rest.
    """
