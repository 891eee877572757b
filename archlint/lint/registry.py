"""Every rule the built-ins and plugins register, by code, with the plugin that brought it."""

from __future__ import annotations

import re

from archlint.errors import ArchlintError
from archlint.lint.rule import RegisteredRule, Rule
from archlint.plugins.registry import Registry

_CODE = re.compile(r"^[A-Z]{1,4}[0-9]{3}$")
_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def _validate(rule: type[Rule], plugin: str) -> None:
    code, name = getattr(rule, "code", ""), getattr(rule, "name", "")
    if not _CODE.match(code) or not _NAME.match(name):
        raise ArchlintError(
            f"plugin {plugin!r}: rule {rule.__name__} needs a code like AL101 and a kebab-case name"
        )


RULES: Registry[type[Rule]] = Registry(
    "archlint_register_rules", "rule", keys=lambda rule: (rule.code, rule.name), validate=_validate
)


def registered_rules() -> dict[str, RegisteredRule]:
    """Every rule by code, in code order."""
    rules = {entry.item.code: RegisteredRule(entry.item, entry.plugin) for entry in RULES.entries()}
    return dict(sorted(rules.items()))


def find_rule(code_or_name: str) -> RegisteredRule | None:
    entry = RULES.get(code_or_name.upper()) or RULES.get(code_or_name)
    return None if entry is None else RegisteredRule(entry.item, entry.plugin)
