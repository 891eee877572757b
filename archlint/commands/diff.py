"""``archlint diff BASE HEAD``: what a model change costs, layer by layer, and which findings it
brings or fixes. Informational: exit 0, unless ``--fail-on-new`` and a new finding is at or above
the fail level (exit 1); 2 for bad input, as everywhere.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from archlint.commands.common import add_model_options

if TYPE_CHECKING:
    from archlint.analysis.analysis import Analysis
    from archlint.config import Config
    from archlint.diff.model_diff import ModelDiff
    from archlint.lint.checker import CheckOptions
    from archlint.lint.diagnostics import Diagnostic
    from archlint.targets.profile import HardwareProfile

FORMATS = ("markdown", "json")


def add_arguments(diff: argparse.ArgumentParser) -> None:
    diff.add_argument(
        "base",
        metavar="BASE",
        help="the model before the change (an ONNX file), or a git revision with --model",
    )
    diff.add_argument(
        "head",
        metavar="HEAD",
        help="the model after the change (an ONNX file), or a git revision with --model",
    )
    diff.add_argument(
        "--model",
        metavar="FILE.py::NAME",
        help="a model definition, compared at the git revisions BASE and HEAD",
    )
    diff.add_argument(
        "--kwargs", metavar="JSON", help="keyword arguments for the model's factory (with --model)"
    )
    add_model_options(diff)
    diff.add_argument(
        "--select", metavar="CODES", help="rules to run: codes, prefixes or names, comma-joined"
    )
    diff.add_argument("--extend-select", metavar="CODES", help="rules to run on top of the selection")
    diff.add_argument("--ignore", metavar="CODES", help="rules not to run")
    diff.add_argument("--format", choices=FORMATS, default="markdown", help="markdown (default) or json")
    diff.add_argument(
        "--fail-on-new", action="store_true", help="exit 1 when a new finding is at or above the fail level"
    )
    diff.add_argument(
        "--fail-level", choices=("info", "warning", "error"), help="default: the config's, else warning"
    )


def run(args: argparse.Namespace) -> int:
    from archlint.commands.check import check_options, selection_flags
    from archlint.commands.common import output, targets
    from archlint.config import load_config
    from archlint.diff.model_diff import compare
    from archlint.lint.diagnostics import Severity
    from archlint.report import diff_json, diff_markdown

    config = load_config(args.config)
    profiles = targets(args, config)
    options = check_options(selection_flags(args), config)
    if args.model:
        diff = _compare_revisions(args, config, profiles, options)
    else:
        base, base_findings = _checked(args, config, args.base, profiles, options)
        head, head_findings = _checked(args, config, args.head, profiles, options)
        diff = compare(base, head, base_findings, head_findings)
    with output(args.output_file) as out:
        out.write(diff_json.render(diff) if args.format == "json" else diff_markdown.render(diff))
    fail_level = Severity(args.fail_level) if args.fail_level else config.fail_level
    return 1 if args.fail_on_new and diff.new_at_or_above(fail_level) else 0


def _checked(
    args: argparse.Namespace,
    config: Config,
    model: str,
    profiles: list[HardwareProfile],
    options: CheckOptions,
) -> tuple[Analysis, list[Diagnostic]]:
    from archlint.api import analyze
    from archlint.commands.common import flag_values, model_shapes
    from archlint.commands.progress import DelayedProgress
    from archlint.lint.checker import check
    from archlint.lint.registry import registered_rules

    with DelayedProgress(f"analyzing {model}") as progress:
        if args.model:  # a model definition: its inputs may carry dtypes, its factory kwargs
            from archlint.commands.check_models import model_request

            request, dims = model_request(args, config, model)
            analysis = analyze(model, profiles, request.inputs, dims, progress, request, request.values)
        else:
            inputs, dims = model_shapes(args, config, model)
            analysis = analyze(model, profiles, inputs, dims, progress, values=flag_values(args))
    return analysis, check(analysis, registered_rules(), options)


def _compare_revisions(
    args: argparse.Namespace, config: Config, profiles: list[HardwareProfile], options: CheckOptions
) -> ModelDiff:
    """The definition ``--model`` at git revisions BASE and HEAD, each loaded from a snapshot."""
    from dataclasses import replace
    from pathlib import Path

    from archlint.diff.git_snapshot import reference_in, repository_root, snapshot
    from archlint.diff.model_diff import compare

    root = repository_root(Path.cwd())
    checked = []
    for revision in (args.base, args.head):
        with snapshot(root, revision) as folder:
            checked.append(_checked(args, config, reference_in(folder, root, args.model), profiles, options))
    (base, base_findings), (head, head_findings) = checked
    diff = compare(base, head, base_findings, head_findings)
    return replace(diff, base_path=f"{args.model} @ {args.base}", head_path=f"{args.model} @ {args.head}")
