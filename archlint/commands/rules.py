"""``archlint rules`` lists every rule; ``archlint rule CODE`` explains one."""

from __future__ import annotations

import argparse

from archlint.errors import UsageError


def run_list(args: argparse.Namespace) -> int:
    from rich import box
    from rich.table import Table

    from archlint.commands.common import table_console
    from archlint.lint.registry import registered_rules

    table = Table(box=box.SIMPLE, title="Rules (archlint rule CODE explains one)", title_justify="left")
    for column in ("code", "name", "severity by target kind", "fix", "summary"):
        table.add_column(column, no_wrap=column in ("code", "name"))
    for code, registered in registered_rules().items():
        rule = registered.rule
        severities = ", ".join(f"{kind} {sev.value}" for kind, sev in rule.severity.items())
        table.add_row(code, rule.name, severities, rule.fix_applicability or "", rule.summary)
    table_console().print(table)
    return 0


def run_explain(args: argparse.Namespace) -> int:
    from archlint.lint.registry import find_rule

    registered = find_rule(args.code)
    if registered is None:
        raise UsageError(f"unknown rule {args.code!r} (see `archlint rules`)")
    rule = registered.rule
    print(f"# {rule.code} {rule.name}\n")
    print(f"{rule.summary[:1].upper()}{rule.summary[1:]}. From {registered.plugin}.\n")
    print(rule.documentation())
    return 0
