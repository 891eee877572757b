"""``archlint analyze``: the cost report and roofline prediction of one model."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from archlint.commands.common import flag_values, model_shapes, output, table_console, targets
from archlint.config import load_config
from archlint.errors import UsageError

if TYPE_CHECKING:
    from archlint.analysis.throughput import Batch


def run(args: argparse.Namespace) -> int:
    from archlint.api import analyze_throughput
    from archlint.commands.progress import DelayedProgress

    config = load_config(args.config)
    profiles = targets(args, config)
    inputs, dims = model_shapes(args, config, args.model)
    batches = parse_batches(args.batches) if args.batches else ()
    with DelayedProgress(f"analyzing {args.model}") as progress:
        analysis, throughputs = analyze_throughput(
            args.model, profiles, inputs, dims, progress, flag_values(args), batches
        )
    with output(args.output_file) as out:
        if args.format == "json":
            from archlint.report import analysis_json

            out.write(analysis_json.render(analysis, throughputs))
        elif args.format == "html":
            from archlint.report import html_report

            out.write(html_report.render_analysis(analysis, throughputs))
        else:
            from archlint.report.views import analysis_table

            analysis_table.render(analysis, table_console(out), args.top, throughputs)
    return 0


def parse_batches(text: str) -> list[Batch]:
    """``--batches 1,16,64,max``: positive batch sizes, and ``max`` for the largest that fits."""
    batches: list[Batch] = []
    for item in (part.strip() for part in text.split(",")):
        if item == "max":
            batches.append("max")
        elif item.isdigit() and int(item) > 0:
            batches.append(int(item))
        else:
            raise UsageError(f"bad --batches item {item!r}: expected a positive integer or 'max'")
    return batches
