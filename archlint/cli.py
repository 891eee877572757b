"""The ``archlint`` command line.

Exit codes follow ruff: 0 clean, 1 findings, 2 usage or input error.

Heavy modules (onnx, rich tables) are imported inside the commands so that ``archlint --version``
and argument errors stay instant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from archlint import __version__
from archlint.errors import ArchlintError, UsageError

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
DEFAULT_TARGET = "cpu"


def _key_value(text: str, what: str) -> tuple[str, str]:
    name, sep, value = text.rpartition("=")
    if not sep or not name or not value:
        raise UsageError(f"bad {what} {text!r}: expected NAME=VALUE")
    return name, value


def _model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="path to an .onnx file")
    parser.add_argument(
        "--target",
        help="hardware profile name, alias or .yaml path; several joined by ',' "
        "(default: the config's target, else cpu)",
    )
    parser.add_argument(
        "--config", metavar="F", help="archlint.yaml or pyproject.toml to read settings from"
    )
    parser.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="NAME=1x3x224x224",
        help="static shape of a model input (repeatable)",
    )
    parser.add_argument(
        "--dim",
        action="append",
        default=[],
        metavar="SYMBOL=N",
        help="value of a symbolic dimension (repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="archlint",
        description="Lint neural-network architectures for the hardware they run on.",
    )
    parser.add_argument("--version", action="version", version=f"archlint {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    analyze = commands.add_parser(
        "analyze", help="per-operator cost report and roofline prediction"
    )
    _model_options(analyze)
    analyze.add_argument("--format", choices=("table", "json"), default="table")
    analyze.add_argument(
        "--output-file", metavar="F", help="write the report to F instead of stdout"
    )
    analyze.add_argument(
        "--top", type=int, default=15, help="operators listed in the table (default: 15)"
    )
    hardware = commands.add_parser("hardware", help="list hardware profiles, or show one")
    hardware.add_argument("name", nargs="?", help="profile name, alias or .yaml path")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_ERROR
    try:
        if args.command == "analyze":
            return _analyze(args)
        return _hardware(args)
    except ArchlintError as exc:
        print(f"archlint: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


def _shapes(args: argparse.Namespace) -> tuple[dict[str, tuple[int, ...]], dict[str, int]]:
    from archlint.shapes import parse_shape

    inputs = {
        name: parse_shape(value) for name, value in (_key_value(t, "--input") for t in args.input)
    }
    dims: dict[str, int] = {}
    for name, value in (_key_value(t, "--dim") for t in args.dim):
        if not value.isdigit():
            raise UsageError(f"bad --dim {name}={value}: the value must be a non-negative integer")
        dims[name] = int(value)
    return inputs, dims


def _analyze(args: argparse.Namespace) -> int:
    from archlint.api import analyze
    from archlint.config import load_config
    from archlint.hardware_registry import resolve_many
    from archlint.progress import DelayedProgress

    config = load_config(args.config)
    profiles = resolve_many(args.target or ",".join(config.target) or DEFAULT_TARGET)
    inputs, dims = config.shapes_for(args.model)
    given_inputs, given_dims = _shapes(args)  # the command line wins over the config
    inputs, dims = inputs | given_inputs, dims | given_dims
    with DelayedProgress(f"analyzing {args.model}") as progress:
        analysis = analyze(args.model, profiles, inputs, dims, progress)
    out = Path(args.output_file).open("w", encoding="utf-8") if args.output_file else sys.stdout  # noqa: SIM115
    try:
        if args.format == "json":
            from archlint.report import analysis_json

            out.write(analysis_json.render(analysis))
        else:
            from rich.console import Console

            from archlint.report import analysis_table

            analysis_table.render(
                analysis, Console(file=out, width=None if out is sys.stdout else 140), args.top
            )
    finally:
        if out is not sys.stdout:
            out.close()
    return EXIT_OK


def _hardware(args: argparse.Namespace) -> int:
    from rich.console import Console

    from archlint.hardware_registry import registered_profiles, resolve
    from archlint.report import hardware_table

    console = Console()
    if args.name:
        hardware_table.render_one(resolve(args.name), console)
    else:
        hardware_table.render_all(list(registered_profiles().values()), console)
    return EXIT_OK
