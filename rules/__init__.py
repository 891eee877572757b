"""archlint's built-in rules: one module per rule, registered through the plugin hook.

Every public module here that defines a ``Rule`` subclass contributes it; modules whose names
start with an underscore hold shared helpers. Third-party rules register through the same hook
(``archlint_register_rules``) from their own packages.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable

from archlint import hookimpl
from archlint.lint.rule import Rule


def builtin_rules() -> list[type[Rule]]:
    found: list[type[Rule]] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.extend(
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj)
            and issubclass(obj, Rule)
            and obj.__module__ == module.__name__
            and not inspect.isabstract(obj)
        )
    return sorted(found, key=lambda rule: rule.code)


@hookimpl
def archlint_register_rules(register: Callable[[type[Rule]], None]) -> None:
    for rule in builtin_rules():
        register(rule)
