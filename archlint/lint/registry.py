"""Every rule the built-ins and plugins register, by code, with the plugin that brought it."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from archlint.errors import ArchlintError
from archlint.lint.rule import Rule

_CODE = re.compile(r"^[A-Z]{1,4}[0-9]{3}$")
_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class RegisteredRule:
    rule: type[Rule]
    plugin: str  # the distribution (or built-in module) that registered it


@functools.cache
def registered_rules() -> dict[str, RegisteredRule]:
    from archlint.plugins.manager import call_register_hook

    rules: dict[str, RegisteredRule] = {}

    def register_for(label: str) -> Callable[[type[Rule]], None]:
        def register(rule: type[Rule]) -> None:
            _validate(rule, label, rules)
            rules[rule.code] = RegisteredRule(rule, label)

        return register

    call_register_hook("archlint_register_rules", "rules", register_for)
    return dict(sorted(rules.items()))


def _validate(rule: type[Rule], label: str, rules: dict[str, RegisteredRule]) -> None:
    code, name = getattr(rule, "code", ""), getattr(rule, "name", "")
    if not _CODE.match(code) or not _NAME.match(name):
        raise ArchlintError(
            f"plugin {label!r}: rule {rule.__name__} needs a code like AL101 and a kebab-case name"
        )
    for other in rules.values():
        if other.rule.code == code or other.rule.name == name:
            raise ArchlintError(
                f"plugin {label!r}: rule {code} ({name}) clashes with {other.rule.code} "
                f"({other.rule.name}) from {other.plugin!r}"
            )


def find_rule(code_or_name: str) -> RegisteredRule | None:
    rules = registered_rules()
    if code_or_name.upper() in rules:
        return rules[code_or_name.upper()]
    return next((r for r in rules.values() if r.rule.name == code_or_name), None)
