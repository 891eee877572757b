"""``archlint plugins``: what is loaded, from which package, and what each one registered."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from rich import box
    from rich.table import Table

    from archlint.commands.common import table_console
    from archlint.lint.registry import registered_rules
    from archlint.plugins.manager import plugin_label, plugin_manager
    from archlint.report.registry import registered_reporters
    from archlint.targets.registry import registered_profiles

    manager = plugin_manager()
    rules_by_plugin: dict[str, list[str]] = {}
    for code, registered in registered_rules().items():
        rules_by_plugin.setdefault(registered.plugin, []).append(code)
    registered_profiles()
    registered_reporters()
    table = Table(box=box.SIMPLE, title="Plugins", title_justify="left")
    for column in ("plugin", "hooks", "rules"):
        table.add_column(column)
    for plugin in manager.get_plugins():
        label = plugin_label(manager, plugin)
        hooks = sorted(
            caller.name.removeprefix("archlint_register_") for caller in manager.get_hookcallers(plugin) or []
        )
        table.add_row(label, ", ".join(hooks), " ".join(rules_by_plugin.get(label, [])))
    table_console().print(table)
    return 0
