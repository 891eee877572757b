"""``archlint analyze``: the cost report and roofline prediction of one model."""

from __future__ import annotations

import argparse
import sys

from archlint.commands.common import model_shapes, output, targets
from archlint.config import load_config


def run(args: argparse.Namespace) -> int:
    from archlint.api import analyze
    from archlint.progress import DelayedProgress

    config = load_config(args.config)
    profiles = targets(args, config)
    inputs, dims = model_shapes(args, config, args.model)
    with DelayedProgress(f"analyzing {args.model}") as progress:
        analysis = analyze(args.model, profiles, inputs, dims, progress)
    with output(args.output_file) as out:
        if args.format == "json":
            from archlint.report import analysis_json

            out.write(analysis_json.render(analysis))
        elif args.format == "html":
            from archlint.report import html_report

            out.write(html_report.render_analysis(analysis))
        else:
            from rich.console import Console

            from archlint.report import analysis_table

            width = None if out is sys.stdout else 140
            analysis_table.render(analysis, Console(file=out, width=width), args.top)
    return 0
