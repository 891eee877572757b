"""``archlint check MODEL...``: run the rules on every model for every target and report.

Exit code 1 when any finding is at or above the fail level, 0 otherwise (2 is for bad input and
is raised as an ArchlintError before anything is reported).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from archlint.commands.common import output, output_width
from archlint.config import Config, load_config
from archlint.errors import UsageError
from archlint.lint.checker import CheckOptions, NodeIgnore
from archlint.lint.diagnostics import Severity
from archlint.lint.registry import find_rule, registered_rules
from archlint.lint.rule import RegisteredRule, RuleOptions
from archlint.lint.selection import DEFAULT_SELECT, Selection, normalize

if TYPE_CHECKING:
    from archlint.report.base import CheckReport


def _codes(text: str | None) -> list[str]:
    return [part for part in (text or "").split(",") if part.strip()]


@dataclass(frozen=True)
class SelectionFlags:
    """``--select``, ``--extend-select`` and ``--ignore`` as given (None: not given)."""

    select: str | None = None
    extend_select: str | None = None
    ignore: str | None = None


def selection(flags: SelectionFlags, config: Config, rules: Mapping[str, RegisteredRule]) -> Selection:
    from archlint.lint.suppressions import UNUSED_CODE, UNUSED_NAME

    # AL001 unused-noqa is reported by the checker, not by a rule, and is selected like one.
    names = {r.rule.name: code for code, r in rules.items()} | {UNUSED_NAME: UNUSED_CODE}
    codes = [*rules, UNUSED_CODE]
    select = _codes(flags.select) or config.select or list(DEFAULT_SELECT)
    extend = [*config.extend_select, *_codes(flags.extend_select)]
    ignore = [*config.ignore, *_codes(flags.ignore)]
    return Selection(
        select=normalize([*select, *extend], names, codes),
        ignore=normalize(ignore, names, codes),
    )


def rule_options(config: Config) -> dict[str, RuleOptions]:
    from pydantic import ValidationError

    from archlint import validation

    options: dict[str, RuleOptions] = {}
    for key, values in config.rules.items():
        registered = find_rule(key)
        if registered is None:
            raise UsageError(f"configuration rules.{key}: unknown rule (see `archlint rules`)")
        model = registered.rule.options_type
        try:
            options[registered.rule.code] = model.model_validate(_snake(values))
        except ValidationError as exc:
            raise UsageError(
                f"configuration rules.{key}: {validation.describe(exc, validation.schema_keys(model))}"
            ) from None
    return options


def _snake(values: Mapping[str, object]) -> dict[str, object]:
    """Option keys may be written kebab-case in configuration files, as in ruff."""
    return {key.replace("-", "_"): value for key, value in values.items()}


def selection_flags(args: argparse.Namespace) -> SelectionFlags:
    return SelectionFlags(args.select, args.extend_select, args.ignore)


def check_options(flags: SelectionFlags, config: Config, show_exempt: bool = False) -> CheckOptions:
    rules = registered_rules()
    names = {r.rule.name: code for code, r in rules.items()}
    file_ignores = {glob: normalize(codes, names, rules) for glob, codes in config.per_file_ignores.items()}
    node_ignores = tuple(NodeIgnore(i.nodes, normalize(i.codes, names, rules)) for i in config.ignore_nodes)
    return CheckOptions(
        selection(flags, config, rules),
        rule_options(config),
        file_ignores,
        node_ignores,
        min_saving_share=config.min_saving_share,
        show_exempt=show_exempt,
    )


def run(args: argparse.Namespace) -> int:
    from archlint.commands.check_models import jobs, target_names
    from archlint.commands.check_pool import check_models
    from archlint.lint import baseline
    from archlint.report.base import CheckReport
    from archlint.report.registry import reporter_for

    config = load_config(args.config)
    reporter_type = reporter_for(args.format or "full")
    options = check_options(selection_flags(args), config, getattr(args, "show_exempt", False))
    fail_level = Severity(args.fail_level) if args.fail_level else config.fail_level
    checked = jobs(args, config)
    if not checked:  # --changed touched no configured model: a pre-commit hook stays silent
        return 0
    done = check_models(checked, options, args.jobs)
    diagnostics = baseline.apply(done.diagnostics, args.baseline, args.write_baseline)
    report = CheckReport(
        done.analyses, tuple(diagnostics), registered_rules(), target_names(checked), fail_level
    )
    with output(args.output_file) as out:
        if args.statistics:
            out.write(statistics(report))
        else:
            terminal = out is sys.stdout and sys.stdout.isatty()
            # Reporters render into a buffer, which has no width: give them the terminal's.
            width = output_width(out) or shutil.get_terminal_size().columns
            out.write(reporter_type(color=terminal, width=width).render(report))
    return max(done.error_code, 1 if report.failing else 0)


def statistics(report: CheckReport) -> str:
    """``--statistics``: one line per rule with its count, most frequent first (as ruff does)."""
    counts = Counter((d.code, d.name) for d in report.diagnostics)
    fixable = {code: r.rule.fix_applicability for code, r in report.rules.items()}
    lines = [
        f"{n:>5}  {code}  {name}{'  [' + str(fixable[code]) + ' fix]' if fixable.get(code) else ''}"
        for (code, name), n in counts.most_common()
    ]
    lines.append(f"Found {sum(counts.values())} finding{'s' if sum(counts.values()) != 1 else ''}.")
    return "\n".join(lines) + "\n"
