"""What several commands share: shapes from flags and config, targets, output files."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from archlint.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from archlint.config import Config
    from archlint.targets.profile import HardwareProfile

DEFAULT_TARGET = "cpu"


def add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        help="hardware profile name, alias or .yaml path; several joined by ',' "
        "(default: the config's target, else cpu)",
    )
    parser.add_argument("--input", action="append", default=[], metavar="NAME=1x3x224x224",
                        help="static shape of a model input; NAME=scalar: rank 0 (repeatable)")  # fmt: skip
    parser.add_argument("--value", action="append", default=[], metavar="NAME=16000",
                        help="value of a small integer input that steers control flow, "
                        "such as a sample rate; 1,2,3 for a vector (repeatable)")  # fmt: skip
    parser.add_argument("--dim", action="append", default=[], metavar="SYMBOL=N",
                        help="value of a symbolic dimension (repeatable)")  # fmt: skip
    parser.add_argument("--config", metavar="F", help="archlint.yaml or pyproject.toml to read settings from")
    parser.add_argument("--output-file", metavar="F", help="write the report to F instead of stdout")


def _key_value(text: str, what: str, empty: bool = False) -> tuple[str, str]:
    name, sep, value = text.rpartition("=")
    if not sep or not name or not (value or empty):
        raise UsageError(f"bad {what} {text!r}: expected NAME=VALUE")
    return name, value


def flag_values(args: argparse.Namespace) -> dict[str, int | float | list[int | float]]:
    """``--value NAME=V``: input values, for inputs that steer control flow."""
    from archlint.model.shape_text import parse_value

    return {name: parse_value(text) for name, text in (_key_value(t, "--value") for t in args.value)}


def flag_inputs(texts: list[str]) -> dict[str, tuple[int, ...]]:
    """``--input NAME=1x3x224x224`` texts: input shapes."""
    from archlint.model.shape_text import parse_shape

    pairs = (_key_value(t, "--input", empty=True) for t in texts)
    return {name: parse_shape(value) for name, value in pairs}


def flag_dims(texts: list[str]) -> dict[str, int]:
    """``--dim SYMBOL=N`` texts: symbol values."""
    dims: dict[str, int] = {}
    for name, value in (_key_value(t, "--dim") for t in texts):
        if not value.isdigit():
            raise UsageError(f"bad --dim {name}={value}: the value must be a non-negative integer")
        dims[name] = int(value)
    return dims


def model_shapes(
    args: argparse.Namespace, config: Config, model: str
) -> tuple[dict[str, tuple[int, ...]], dict[str, int]]:
    """The config's shapes for this model, overridden by the command line's."""
    inputs, dims = config.shapes_for(model)
    given_inputs, given_dims = flag_inputs(args.input), flag_dims(args.dim)
    return inputs | given_inputs, dims | given_dims


def targets(args: argparse.Namespace, config: Config) -> list[HardwareProfile]:
    from archlint.targets.registry import resolve_many

    return resolve_many(args.target or ",".join(config.target) or DEFAULT_TARGET)


@contextmanager
def output(path: str | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    try:
        with Path(path).open("w", encoding="utf-8") as handle:
            yield handle
    except OSError as exc:
        raise UsageError(f"--output-file {path}: {exc.strerror}") from None


#: Width for output that is not a terminal (a pipe, a CI log, a file): wide enough that tables
#: take the width their cells need instead of cutting them to 80 columns ("overhe…").
UNBOUNDED_WIDTH = 10_000


def output_width(out: TextIO) -> int | None:
    """None (the terminal's own width) on a terminal, else UNBOUNDED_WIDTH."""
    isatty = getattr(out, "isatty", None)
    return None if isatty is not None and isatty() else UNBOUNDED_WIDTH


def table_console(out: TextIO | None = None) -> Console:
    """A rich console on ``out`` (default stdout; rich is imported here: it is slow to load and
    only tables need it)."""
    from rich.console import Console

    stream = out or sys.stdout
    return Console(file=stream, width=output_width(stream))
