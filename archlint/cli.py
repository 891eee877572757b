"""The ``archlint`` command line: parse, dispatch to archlint.commands, turn errors into exit codes.

Exit codes follow ruff: 0 clean, 1 findings at or above the fail level, 2 usage or input error,
3 internal error (a bug in archlint or in a plugin's rule: one line, the traceback with --debug).
``archlint model.onnx`` is ``archlint check model.onnx``. Commands import what they need when
they run, so ``archlint --version`` and argument errors stay instant.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import os
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from typing import NamedTuple, NoReturn

from archlint import __version__
from archlint.commands.common import add_model_options
from archlint.errors import ArchlintError, InternalError

EXIT_ERROR = 2
EXIT_INTERNAL = 3


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """archlint's parser. With ``command`` (the subcommand about to run), only that subcommand's
    arguments are added: the others are listed with their help, which is all the top-level help
    and argparse's routing read, and adding every subcommand's arguments takes a few
    milliseconds of every run."""
    parser = argparse.ArgumentParser(
        prog="archlint", description="Lint neural-network architectures for the hardware they run on."
    )
    parser.add_argument("--version", action="version", version=f"archlint {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="print the traceback of an internal error (or ARCHLINT_DEBUG=1)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, entry in COMMANDS.items():
        subparser = commands.add_parser(name, help=entry.summary)
        if command is None or command == name:
            entry.add_arguments(subparser)
    return parser


def _check_arguments(check: argparse.ArgumentParser) -> None:
    check.add_argument(
        "models",
        nargs="*",
        metavar="MODEL",
        help="ONNX files, folders of them, or model definitions (models.py::Net, "
        "package.module:factory); default: the configured [[tool.archlint.models]]",
    )
    add_model_options(check)
    check.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="check the models in a pool of N worker processes (default: 1, in this process)",
    )
    check.add_argument("--kwargs", metavar="JSON", help="keyword arguments for a model factory, as JSON")
    check.add_argument(
        "--changed",
        nargs="*",
        metavar="FILE",
        help="lint only the configured models whose source files are among FILE... (pre-commit)",
    )
    check.add_argument(
        "--select", metavar="CODES", help="rules to run: codes, prefixes or names, comma-joined"
    )
    check.add_argument("--extend-select", metavar="CODES", help="rules to run on top of the selection")
    check.add_argument("--ignore", metavar="CODES", help="rules not to run")
    check.add_argument(
        "--format",
        metavar="FORMAT",
        help="full (default), concise, json, sarif, github, markdown, rdjson, review-json, html",
    )
    check.add_argument(
        "--fail-level",
        choices=("info", "warning", "error"),
        help="exit 1 on findings at or above this severity (default: warning)",
    )
    check.add_argument(
        "--show-exempt",
        action="store_true",
        help="also report, as info, findings whose advice the task rules out (a class head's width)",
    )
    check.add_argument("--statistics", action="store_true", help="count findings per rule instead")
    check.add_argument("--baseline", metavar="F", help="do not report the findings recorded in F")
    check.add_argument(
        "--write-baseline", metavar="F", help="record every finding in F (reported: none) and exit 0"
    )


def _analyze_arguments(analyze: argparse.ArgumentParser) -> None:
    analyze.add_argument("model", metavar="MODEL", help="an ONNX file")
    add_model_options(analyze)
    analyze.add_argument("--format", choices=("table", "json", "html"), default="table")
    analyze.add_argument("--top", type=int, default=15, help="operators listed in the table (default: 15)")
    analyze.add_argument("--batches", metavar="B,B,...",
                         help="batches to predict samples/s at, costing the model at each; "
                         "'max' is the largest that fits device memory (e.g. 1,16,64,max)")  # fmt: skip


def _fix_arguments(fix: argparse.ArgumentParser) -> None:
    fix.add_argument("model", metavar="MODEL", help="an ONNX file (never modified)")
    fix.add_argument("-o", "--output", required=True, metavar="OUT", help="the fixed model to write")
    fix.add_argument("--force", action="store_true", help="overwrite OUT when it exists (never the input)")
    fix.add_argument("--select", metavar="CODES", help="fixes to run: names or rule codes, comma-joined")
    fix.add_argument("--unsafe-fixes", action="store_true", help="also run unsafe fixes (pad-channels)")
    fix.add_argument(
        "--target",
        help="profile(s) whose channel block pad-channels rounds to, joined by ',' (default: cpu)",
    )
    fix.add_argument("--input", action="append", default=[], metavar="NAME=1x3x224x224",
                     help="static shape of a model input (repeatable)")  # fmt: skip
    fix.add_argument("--dim", action="append", default=[], metavar="SYMBOL=N",
                     help="value of a symbolic dimension (repeatable)")  # fmt: skip
    fix.add_argument("--config", metavar="F", help="archlint.yaml or pyproject.toml to read settings from")


def _rule_arguments(rule: argparse.ArgumentParser) -> None:
    rule.add_argument("code", metavar="CODE", help="rule code or name, e.g. AL101 or channel-alignment")


def _hardware_arguments(hardware: argparse.ArgumentParser) -> None:
    hardware.add_argument("name", nargs="?", help="profile name, alias or .yaml path")


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def _arguments_of(module: str) -> Callable[[argparse.ArgumentParser], None]:
    """A command module's ``add_arguments``, its module imported only when it is called."""

    def add_arguments(parser: argparse.ArgumentParser) -> None:
        import importlib

        importlib.import_module(f"archlint.commands.{module}").add_arguments(parser)

    return add_arguments


class Command(NamedTuple):
    """A subcommand: its help line, what adds its arguments, and what runs it (a function of a
    module under archlint.commands: only the command that runs is imported)."""

    summary: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    module: str
    function: str = "run"


COMMANDS: dict[str, Command] = {
    "check": Command("run the rules (the default command)", _check_arguments, "check"),
    "analyze": Command("per-operator cost report and roofline prediction", _analyze_arguments, "analyze"),
    "diff": Command(
        "compare two versions of a model: cost per layer and target, new and fixed findings",
        _arguments_of("diff"),
        "diff",
    ),
    "calibrate": Command(
        "measure this machine with onnxruntime and write a hardware profile",
        _arguments_of("calibrate"),
        "calibrate",
    ),
    "profile": Command(
        "measure every operator with onnxruntime and compare with the roofline",
        _arguments_of("profile"),
        "profile",
    ),
    "fix": Command("write a copy of a model with fixes applied and verified", _fix_arguments, "fix"),
    "rule": Command("explain a rule", _rule_arguments, "rules", "run_explain"),
    "rules": Command("list every rule", _no_arguments, "rules", "run_list"),
    "hardware": Command("list hardware profiles, or show one", _hardware_arguments, "hardware"),
    "plugins": Command("list loaded plugins and what they register", _no_arguments, "plugins"),
}


def _command_in(argv: list[str]) -> str | None:
    """The subcommand ``argv`` (after ``_with_default_command``) runs: its first word that is not
    an option (the top-level options take no value); None when that is no command."""
    word = next((item for item in argv if not item.startswith("-")), None)
    return word if word in COMMANDS else None


def _with_default_command(argv: list[str]) -> list[str]:
    if argv and argv[0] not in COMMANDS and not argv[0].startswith("-"):
        return ["check", *argv]
    return argv


def run() -> NoReturn:
    """The ``archlint`` command (and ``python -m archlint``): ``main``, then a quick exit."""
    collect_cycles_rarely()
    exit_without_teardown(main())


def collect_cycles_rarely() -> None:
    """Raise the cyclic garbage collector's thresholds for a one-shot command. What archlint
    builds (protos, arrays, records) is freed by reference counting; the collector, at its
    default of a pass per 700 new objects, walks them thousands of times while onnx and numpy
    are imported and a graph is read: 77 M instructions of an 8.3 G ``analyze`` of a BERT
    export, counted with callgrind. mypy runs with the same thresholds for the same reason."""
    gc.set_threshold(200_000, 30, 30)


def exit_without_teardown(code: int) -> NoReturn:
    """End the process without tearing the interpreter down: freeing every module and object
    (numpy's and onnx's included) takes about 30 ms, 4% of a small model's whole run, and a
    finished command has no use for it (mypy ends the same way). What an exit must still do is
    done: atexit handlers run (temporary directories, plugins' own), the output streams are
    flushed, and with another thread still running the normal exit waits for it."""
    if threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing left to tell
            stream.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    argv = _with_default_command(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser(_command_in(argv))
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_ERROR
    _read_model_ahead(args)
    try:
        return _dispatch(args)
    except ArchlintError as exc:
        print(f"archlint: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: said in one line, told apart from findings and bad input
        return _internal_error(exc, args.debug or os.environ.get("ARCHLINT_DEBUG", "") not in ("", "0"))


def _read_model_ahead(args: argparse.Namespace) -> None:
    """Start reading the one model file the command names while it imports what it runs
    (archlint/model/prefetch.py); several models are read by whoever checks each."""
    models = getattr(args, "models", None) or [getattr(args, "model", None)]
    if len(models) == 1 and isinstance(models[0], str):
        from archlint.model import prefetch

        prefetch.start(models[0])


def _internal_error(exc: Exception, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    what = str(exc) if isinstance(exc, InternalError) else f"{type(exc).__name__}: {exc}"
    attach = "" if debug else " and the traceback --debug prints"
    print(
        f"archlint: internal error: {what} (archlint {__version__}; this is a bug, not your input: "
        f"please report it with the command that hit it{attach})",
        file=sys.stderr,
    )
    return EXIT_INTERNAL


def _dispatch(args: argparse.Namespace) -> int:
    import importlib

    command = COMMANDS[args.command]
    runner = getattr(importlib.import_module(f"archlint.commands.{command.module}"), command.function)
    result: int = runner(args)
    return result
