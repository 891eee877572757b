"""``archlint hardware [NAME]``: the profile list, or one profile with its sources."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from archlint.commands.common import table_console
    from archlint.report.views import hardware_table
    from archlint.targets.registry import registered_profiles, resolve

    console = table_console()
    if args.name:
        hardware_table.render_one(resolve(args.name), console)
    else:
        hardware_table.render_all(list(registered_profiles().values()), console)
    return 0
