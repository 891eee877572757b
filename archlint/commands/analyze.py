"""``archlint analyze``: the cost report and roofline prediction of one model."""

from __future__ import annotations

import argparse

from archlint.commands.common import flag_values, model_shapes, output, table_console, targets
from archlint.config import load_config


def run(args: argparse.Namespace) -> int:
    from archlint.api import analyze
    from archlint.commands.progress import DelayedProgress

    config = load_config(args.config)
    profiles = targets(args, config)
    inputs, dims = model_shapes(args, config, args.model)
    with DelayedProgress(f"analyzing {args.model}") as progress:
        analysis = analyze(args.model, profiles, inputs, dims, progress, values=flag_values(args))
    with output(args.output_file) as out:
        if args.format == "json":
            from archlint.report import analysis_json

            out.write(analysis_json.render(analysis))
        elif args.format == "html":
            from archlint.report import html_report

            out.write(html_report.render_analysis(analysis))
        else:
            from archlint.report.views import analysis_table

            analysis_table.render(analysis, table_console(out), args.top)
    return 0
