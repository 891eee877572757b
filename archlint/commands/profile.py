"""``archlint profile MODEL``: run the model with onnxruntime and set what each operator measures
beside what the roofline predicts for it, and beside the rules' findings on it.

Exit code 0 after a report, 2 for bad input or a model onnxruntime cannot run (raised as an
ArchlintError before anything is reported).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from archlint.commands.common import add_model_options

if TYPE_CHECKING:
    from archlint.analysis.analysis import Analysis
    from archlint.config import Config
    from archlint.lint.diagnostics import Diagnostic


def _count(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.isdigit() or int(text) < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return int(text)

    return parse


def _optimization(text: str) -> str:
    # archlint.measure.runtime imports numpy and onnx: read its levels only when the flag is given.
    from archlint.measure.runtime import OPTIMIZATIONS

    if text not in OPTIMIZATIONS:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(OPTIMIZATIONS)}, got {text!r}")
    return text


def add_arguments(profile: argparse.ArgumentParser) -> None:
    profile.add_argument("model", metavar="MODEL", help="an ONNX file or a model definition (never modified)")
    add_model_options(profile)
    profile.add_argument("--threads", type=_count(1), default=1, help="intra-op threads (default: 1)")
    profile.add_argument("--runs", type=_count(1), default=10, help="measured runs (default: 10)")
    profile.add_argument("--warmup", type=_count(0), default=2, help="untimed runs first (default: 2)")
    profile.add_argument(
        "--optimization",
        type=_optimization,
        default="all",
        metavar="LEVEL",
        help="onnxruntime graph optimizations: disabled, basic, extended, all "
        "(default: all, what a deployment runs)",
    )
    profile.add_argument("--format", choices=("table", "json"), default="table")
    profile.add_argument(
        "--top", type=_count(1), default=15, help="operators listed in the table (default: 15)"
    )


def run(args: argparse.Namespace) -> int:
    from archlint.api import analyze_model, resolve_model
    from archlint.commands.common import flag_values, model_shapes, output, table_console, targets
    from archlint.commands.progress import DelayedProgress
    from archlint.config import load_config
    from archlint.errors import UsageError
    from archlint.measure import profiling
    from archlint.measure.profile_result import build
    from archlint.measure.runtime import require_onnxruntime
    from archlint.model.loader import ModelRequest
    from archlint.model.loaders import load_proto

    require_onnxruntime("archlint profile")  # before minutes of analysis, not after
    config = load_config(args.config)
    profiles = targets(args, config)
    if len(profiles) != 1:
        raise UsageError("--target: profile compares with one target at a time")
    inputs, dims = model_shapes(args, config, args.model)
    request = ModelRequest(args.model, inputs, values=flag_values(args))
    proto = load_proto(args.model, request)  # read once: analyzed, then run with its weights
    with DelayedProgress(f"analyzing {args.model}") as progress:
        model = resolve_model(proto, args.model, inputs, dims, request.values)
        analysis = analyze_model(model, profiles, progress)
    profiling.prepare_to_run(proto, args.model, analysis.model)
    settings = profiling.RunSettings(args.threads, args.runs, args.warmup, args.optimization)
    measurement = profiling.measure(proto, profiling.input_shapes(analysis.model), settings)
    result = build(analysis, analysis.predictions[0], measurement, _findings(analysis, config))
    with output(args.output_file) as out:
        if args.format == "json":
            from archlint.report import profile_json

            out.write(profile_json.render(result))
        else:
            from archlint.report.views import profile_table

            profile_table.render(result, table_console(out), args.top)
    return 0


def _findings(analysis: Analysis, config: Config) -> list[Diagnostic]:
    """The rules as ``check`` runs them with this configuration (profile has no selection flags)."""
    from archlint.commands.check import SelectionFlags, check_options
    from archlint.lint.checker import check
    from archlint.lint.registry import registered_rules

    return check(analysis, registered_rules(), check_options(SelectionFlags(), config))
